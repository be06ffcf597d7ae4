//! Archive manifests: the list of files an archive was unpacked with, so that the unpacked tree
//! can be checked later without the wheel file it came from.
//!
//! An archive is named by the BLAKE3 digest of the wheel *file*, which cannot be recomputed from
//! the unpacked tree. The extractor already knows each file's path, size and CRC-32 (it checks
//! them while inflating), so the fetch code records them beside the archive as
//! `archive-v0/<ab>/<rest>.manifest` before the archive is persisted. The format is in
//! `docs/layout.md`.

use std::fmt::Write as _;
use std::path::PathBuf;

use cairn_fs::ContentDigest;

use crate::{Cache, CacheError};

/// The first line of every manifest; another first line is another format.
pub const MANIFEST_HEADER: &str = "cairn-manifest-1";

/// The extension of a manifest file beside its archive directory.
pub const MANIFEST_EXTENSION: &str = "manifest";

/// One regular file of an unpacked archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The path relative to the archive directory, `/`-separated.
    pub path: String,
    /// The size in bytes.
    pub size: u64,
    /// The CRC-32 (IEEE) of the content.
    pub crc32: u32,
    /// Whether the file has execute permission.
    pub executable: bool,
}

/// The files of an unpacked archive, sorted by path, each path once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveManifest {
    entries: Vec<ManifestEntry>,
}

/// Why a manifest is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// A line does not follow the format.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A path cannot be recorded: empty, absolute, with `.`, `..` or empty components, or with
    /// a line break.
    #[error("unsafe or unrepresentable path `{path}` in a manifest")]
    BadPath {
        /// The path (with control characters escaped).
        path: String,
    },
    /// A path is listed twice.
    #[error("the path `{path}` is listed twice in a manifest")]
    Duplicate {
        /// The path.
        path: String,
    },
}

impl ArchiveManifest {
    /// A manifest of `entries`, sorted by path. Fails on a path that could escape the archive
    /// directory or break the line format, and on a path listed twice.
    pub fn new(mut entries: Vec<ManifestEntry>) -> Result<Self, ManifestError> {
        for entry in &entries {
            check_path(&entry.path)?;
        }
        entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        if let Some(pair) = entries.windows(2).find(|pair| pair[0].path == pair[1].path) {
            return Err(ManifestError::Duplicate {
                path: pair[0].path.clone(),
            });
        }
        Ok(Self { entries })
    }

    /// The files, sorted by path.
    pub fn entries(&self) -> &[ManifestEntry] {
        &self.entries
    }

    /// The text form: the header line, then `<crc32 as 8 hex digits> <size> <x|-> <path>` per
    /// file, each line ending in `\n`.
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(32 + self.entries.len() * 64);
        text.push_str(MANIFEST_HEADER);
        text.push('\n');
        for entry in &self.entries {
            let mode = if entry.executable { 'x' } else { '-' };
            // Writing to a String cannot fail.
            let _ = writeln!(
                text,
                "{:08x} {} {mode} {}",
                entry.crc32, entry.size, entry.path
            );
        }
        text
    }

    /// Parses the text form written by [`Self::to_text`].
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let malformed = |line: usize, reason: &str| ManifestError::Malformed {
            line,
            reason: reason.to_owned(),
        };
        let Some(body) = text.strip_suffix('\n') else {
            return Err(malformed(
                text.lines().count().max(1),
                "the manifest does not end with a line break (truncated?)",
            ));
        };
        let mut lines = body.split('\n');
        if lines.next() != Some(MANIFEST_HEADER) {
            return Err(malformed(1, "not a cairn manifest of a known format"));
        }
        let mut entries = Vec::new();
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            let mut fields = line.splitn(4, ' ');
            let (Some(crc), Some(size), Some(mode), Some(path)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(malformed(number, "expected `<crc32> <size> <x|-> <path>`"));
            };
            if crc.len() != 8 {
                return Err(malformed(number, "the CRC-32 is not 8 hex digits"));
            }
            let crc32 = u32::from_str_radix(crc, 16)
                .map_err(|_| malformed(number, "the CRC-32 is not 8 hex digits"))?;
            let size = size
                .parse()
                .map_err(|_| malformed(number, "the size is not a whole number"))?;
            let executable = match mode {
                "x" => true,
                "-" => false,
                _ => return Err(malformed(number, "the mode is neither `x` nor `-`")),
            };
            entries.push(ManifestEntry {
                path: path.to_owned(),
                size,
                crc32,
                executable,
            });
        }
        let sorted = entries.windows(2).all(|pair| pair[0].path < pair[1].path);
        let manifest = Self::new(entries)?;
        if !sorted {
            return Err(malformed(1, "the paths are not sorted"));
        }
        Ok(manifest)
    }
}

/// Accepts relative `/`-separated paths whose components are all ordinary names.
fn check_path(path: &str) -> Result<(), ManifestError> {
    let ordinary = !path.is_empty()
        && !path.contains(['\n', '\r', '\0', '\\'])
        && path
            .split('/')
            .all(|component| !matches!(component, "" | "." | ".."));
    if ordinary {
        Ok(())
    } else {
        Err(ManifestError::BadPath {
            path: path.escape_debug().to_string(),
        })
    }
}

impl Cache {
    /// Where the manifest of the archive `digest` lives: `archive-v0/<ab>/<rest>.manifest`,
    /// beside the archive directory (whether or not either exists).
    pub fn manifest_path(&self, digest: &ContentDigest) -> PathBuf {
        let archive = self.archive(digest);
        let mut name = archive.path().as_os_str().to_owned();
        name.push(".");
        name.push(MANIFEST_EXTENSION);
        PathBuf::from(name)
    }

    /// Writes the manifest of the archive `digest` atomically. Called before the archive is
    /// persisted, so every archive published with a manifest has it from the start; a manifest
    /// without its archive is harmless and removed by `cairn cache prune`.
    pub fn write_manifest(
        &self,
        digest: &ContentDigest,
        manifest: &ArchiveManifest,
    ) -> Result<(), CacheError> {
        cairn_fs::write_atomic(&self.manifest_path(digest), manifest.to_text().as_bytes())?;
        Ok(())
    }
}
