use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_cache_key::{CanonicalUrl, cache_digest};
use cairn_fs::ContentDigest;
use serde::{Deserialize, Serialize};

use crate::{ArchivePath, Cache, CacheBucket, CacheEntry, CacheError};

/// The version of the pointer record format, written into every record.
pub const POINTER_FORMAT: u32 = 1;

/// How stale a pointer's `last_used` may get before a hit rewrites it: last use is tracked
/// at this granularity so that hits stay read-only almost always.
const LAST_USED_GRANULARITY: Duration = Duration::from_secs(60 * 60);

/// Where a pointer's source is: its directory under `wheels-v0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A local file (`wheels-v0/path/`).
    Path,
    /// An http(s) URL (`wheels-v0/url/`).
    Url,
}

impl SourceKind {
    /// Every kind, in the order of their directory names.
    pub const ALL: [Self; 2] = [Self::Path, Self::Url];

    /// The kind's directory under `wheels-v0`: `path` or `url`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Url => "url",
        }
    }
}

/// The name of the pointer of one source: `wheels-v0/<kind>/<cache_digest(source)>.json`.
///
/// A local file is keyed by its canonical path (absolute, links resolved, made so by the
/// caller), an http(s) URL by its canonical form, so the key cannot be built from the wrong
/// text: the same relative path in two working directories names two pointers.
///
/// ```
/// use cairn_cache::{PointerKey, SourceKind};
/// use cairn_cache_key::CanonicalUrl;
///
/// let url = CanonicalUrl::parse("https://files.pythonhosted.org/packages/py3/d/demo/demo-1.0-py3-none-any.whl").unwrap();
/// let key = PointerKey::url(&url);
/// assert_eq!(key.kind(), SourceKind::Url);
/// assert_eq!(key.relative_path(), std::path::Path::new("wheels-v0/url/014f61effa6134e7.json"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PointerKey {
    kind: SourceKind,
    digest: String,
}

impl PointerKey {
    /// The extension of a pointer file.
    pub const EXTENSION: &'static str = "json";

    /// The pointer of the local wheel file at `path`.
    pub fn path(path: &Path) -> Self {
        Self {
            kind: SourceKind::Path,
            digest: cache_digest(path),
        }
    }

    /// The pointer of the wheel at `url`.
    pub fn url(url: &CanonicalUrl) -> Self {
        Self {
            kind: SourceKind::Url,
            digest: cache_digest(url),
        }
    }

    /// Where the source is.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The source's key digest: 16 lowercase hex characters.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The pointer's file name: `<digest>.json`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.digest, Self::EXTENSION)
    }

    /// The pointer's path relative to the cache root: `wheels-v0/<kind>/<digest>.json`.
    pub fn relative_path(&self) -> PathBuf {
        Path::new(CacheBucket::Wheels.dir_name())
            .join(self.kind.dir_name())
            .join(self.file_name())
    }
}

/// A small record mapping a logical key to an archive in the content-addressed store.
///
/// Stored as JSON (documented in `docs/layout.md`) and always written atomically. The logical
/// key is the entry's location (derived from the source) plus `name`, `version` and `tags`
/// inside; `source_size` and `source_modified` let a local file be recognised with a `stat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// Always [`POINTER_FORMAT`] when written by this version.
    pub format: u32,
    /// Where the distribution came from: a canonical URL or a canonical absolute path.
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

/// Which file a local source was when its pointer was written: its device and inode. With the
/// pointer's `size` and `source_modified` it tells a file from another one put at the same path
/// with the same size and mtime (a copy, a checkout, a file renamed over it).
///
/// Stored in the pointer as `source_device` and `source_inode` beside the [`Pointer`] fields,
/// and absent from URL pointers and from platforms that have no inode numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceIdentity {
    /// The device holding the file (`st_dev`).
    #[serde(rename = "source_device")]
    pub device: u64,
    /// The file's inode number on that device (`st_ino`).
    #[serde(rename = "source_inode")]
    pub inode: u64,
}

impl SourceIdentity {
    /// The identity of the file `metadata` describes, where the platform has one.
    #[cfg(unix)]
    pub fn of(metadata: &std::fs::Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        Some(Self {
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    /// The identity of the file `metadata` describes, where the platform has one.
    #[cfg(not(unix))]
    pub fn of(_metadata: &std::fs::Metadata) -> Option<Self> {
        None
    }
}

/// A pointer as written: its fields, plus the source file's identity when there is one.
#[derive(Serialize)]
struct PointerRecord<'a> {
    #[serde(flatten)]
    pointer: &'a Pointer,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    identity: Option<SourceIdentity>,
}

/// The identity fields of a pointer, read on their own (a second, small parse keeps
/// [`Pointer`] free of flattening, which would buffer its `i128`).
#[derive(Deserialize)]
struct IdentityFields {
    #[serde(default)]
    source_device: Option<u64>,
    #[serde(default)]
    source_inode: Option<u64>,
}

impl Pointer {
    /// The record's bytes as `Cache::write_pointer` writes them: pretty-printed JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        self.to_json_with_identity(None)
    }

    /// The record's bytes with the source file's identity, as
    /// `Cache::write_pointer_with_identity` writes them.
    pub fn to_json_with_identity(
        &self,
        identity: Option<SourceIdentity>,
    ) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec_pretty(&PointerRecord {
            pointer: self,
            identity,
        })
    }

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
    /// The pointer entry of `key`: `<root>/wheels-v0/<kind>/<digest>.json`. Its HTTP policy, for
    /// a URL, is the entry `with_extension("http")`.
    pub fn pointer_entry(&self, key: &PointerKey) -> CacheEntry {
        CacheEntry::new(self.root().join(key.relative_path()))
    }

    /// Reads the pointer at `entry` and the archive it points to.
    ///
    /// Anything that is not a usable pointer is a miss (`None`), never an error: a missing or
    /// unreadable file, a record of another format version, or a pointer whose archive is gone
    /// (e.g. removed by `cairn cache prune`). A hit more than an hour after the last recorded use
    /// refreshes `last_used`.
    pub fn read_pointer(&self, entry: &CacheEntry) -> Option<(Pointer, ArchivePath)> {
        self.read_pointer_with_identity(entry)
            .map(|(pointer, _, archive)| (pointer, archive))
    }

    /// [`read_pointer`](Self::read_pointer), with the identity of the source file the pointer
    /// recorded (`None` for URLs and for pointers written without one).
    pub fn read_pointer_with_identity(
        &self,
        entry: &CacheEntry,
    ) -> Option<(Pointer, Option<SourceIdentity>, ArchivePath)> {
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
        let identity = match serde_json::from_slice::<IdentityFields>(&bytes) {
            Ok(IdentityFields {
                source_device: Some(device),
                source_inode: Some(inode),
            }) => Some(SourceIdentity { device, inode }),
            _ => None,
        };
        let digest = pointer.archive_digest().ok()?;
        let archive = self.find_archive(&digest)?;
        let now = unix_now();
        if now.saturating_sub(pointer.last_used) >= LAST_USED_GRANULARITY.as_secs() {
            pointer.last_used = now;
            // Best effort: a read-only cache still serves hits.
            if let Err(error) = self.write_pointer_with_identity(entry, &pointer, identity) {
                tracing::debug!(%error, "could not record last use");
            }
        }
        Some((pointer, identity, archive))
    }

    /// Writes `pointer` at `entry` atomically (readers see the old or the new record).
    pub fn write_pointer(&self, entry: &CacheEntry, pointer: &Pointer) -> Result<(), CacheError> {
        self.write_pointer_with_identity(entry, pointer, None)
    }

    /// [`write_pointer`](Self::write_pointer) for a local file, recording its `identity` so a
    /// different file at the same path is never taken for it.
    pub fn write_pointer_with_identity(
        &self,
        entry: &CacheEntry,
        pointer: &Pointer,
        identity: Option<SourceIdentity>,
    ) -> Result<(), CacheError> {
        let bytes =
            pointer
                .to_json_with_identity(identity)
                .map_err(|source| CacheError::Encode {
                    path: entry.path().to_owned(),
                    source,
                })?;
        cairn_fs::write_atomic(entry.path(), &bytes)?;
        Ok(())
    }
}
