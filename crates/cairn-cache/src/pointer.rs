use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_fs::ContentDigest;
use serde::{Deserialize, Serialize};

use crate::{ArchivePath, Cache, CacheEntry, CacheError};

/// The version of the pointer record format, written into every record.
pub const POINTER_FORMAT: u32 = 1;

/// How stale a pointer's `last_used` may get before a hit rewrites it: last use is tracked
/// at this granularity so that hits stay read-only almost always.
const LAST_USED_GRANULARITY: Duration = Duration::from_secs(60 * 60);

/// A small record mapping a logical key to an archive in the content-addressed store.
///
/// Stored as JSON (documented in `docs/layout.md`) and always written atomically. The logical
/// key is the entry's location (derived from the source) plus `name`, `version` and `tags`
/// inside; `source_size` and `source_modified` let a local file be recognised with a `stat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// Always [`POINTER_FORMAT`] when written by this version.
    pub format: u32,
    /// Where the distribution came from: a canonical URL or an absolute path.
    pub source: String,
    /// The distribution's file name, e.g. `numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl`.
    pub filename: String,
    /// The project name as written in the file name.
    pub name: String,
    /// The version as written in the file name.
    pub version: String,
    /// The compatibility tags (`cp311-cp311-manylinux_2_28_x86_64`).
    pub tags: String,
    /// The content digest of the archive (lowercase hex BLAKE3 of the wheel file).
    pub archive: String,
    /// Every digest known for the distribution, as `algorithm:hex`.
    pub hashes: Vec<String>,
    /// Size of the distribution file in bytes.
    pub size: u64,
    /// Modification time of a local source file in nanoseconds since the Unix epoch, so a
    /// changed file is never mistaken for the cached one.
    pub source_modified: Option<i128>,
    /// Last time the pointer was used, in seconds since the Unix epoch.
    pub last_used: u64,
}

impl Pointer {
    /// The archive digest, validated.
    pub fn archive_digest(&self) -> Result<ContentDigest, CacheError> {
        Ok(ContentDigest::hex(&self.archive)?)
    }

    /// The digest of `algorithm` (`"sha256"`) among the known hashes, as hex.
    pub fn hash(&self, algorithm: &str) -> Option<&str> {
        self.hashes.iter().find_map(|digest| {
            let (name, hex) = digest.split_once(':')?;
            (name == algorithm).then_some(hex)
        })
    }
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl Cache {
    /// Reads the pointer at `entry` and the archive it points to.
    ///
    /// Anything that is not a usable pointer is a miss (`None`), never an error: a missing or
    /// unreadable file, a record of another format version, or a pointer whose archive is gone
    /// (e.g. removed by `cairn cache prune`). A hit more than an hour after the last recorded use
    /// refreshes `last_used`.
    pub fn read_pointer(&self, entry: &CacheEntry) -> Option<(Pointer, ArchivePath)> {
        let bytes = std::fs::read(entry.path()).ok()?;
        let mut pointer: Pointer = match serde_json::from_slice(&bytes) {
            Ok(pointer) => pointer,
            Err(error) => {
                tracing::warn!(path = %entry.path().display(), %error, "ignoring unreadable cache pointer");
                return None;
            }
        };
        if pointer.format != POINTER_FORMAT {
            return None;
        }
        let digest = pointer.archive_digest().ok()?;
        let archive = self.find_archive(&digest)?;
        let now = unix_now();
        if now.saturating_sub(pointer.last_used) >= LAST_USED_GRANULARITY.as_secs() {
            pointer.last_used = now;
            // Best effort: a read-only cache still serves hits.
            if let Err(error) = self.write_pointer(entry, &pointer) {
                tracing::debug!(%error, "could not record last use");
            }
        }
        Some((pointer, archive))
    }

    /// Writes `pointer` at `entry` atomically (readers see the old or the new record).
    pub fn write_pointer(&self, entry: &CacheEntry, pointer: &Pointer) -> Result<(), CacheError> {
        let bytes = serde_json::to_vec_pretty(pointer).map_err(|source| CacheError::Encode {
            path: entry.path().to_owned(),
            source,
        })?;
        cairn_fs::write_atomic(entry.path(), &bytes)?;
        Ok(())
    }
}
