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

use tempfile::TempDir;

use cairn_fs::{ContentDigest, PersistOutcome};

use crate::maintenance::Usage;
use crate::{ArchivePath, Cache, CacheError};

/// The first line of a manifest that records the archive's usage on disk (the format cairn
/// writes); another first line is another format.
pub const MANIFEST_HEADER: &str = "cairn-manifest-2";

/// The first line of the older manifest format, without a usage line. Still read.
pub const MANIFEST_HEADER_V1: &str = "cairn-manifest-1";

/// How many bytes at the start of a manifest always hold its header and usage lines: the header,
/// `usage `, two 20-digit numbers, a space and two line breaks.
pub const MANIFEST_USAGE_PREFIX_LEN: usize = 80;

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
    usage: Option<Usage>,
}

/// Why a manifest is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
        Ok(Self {
            entries,
            usage: None,
        })
    }

    /// The same manifest, recording that the unpacked archive directory (itself and everything
    /// in it) takes `usage` on disk, as measured when it was unpacked. `cairn cache size` and
    /// `list` read this instead of walking every archive.
    pub fn with_usage(self, usage: Usage) -> Self {
        Self {
            usage: Some(usage),
            ..self
        }
    }

    /// The files, sorted by path.
    pub fn entries(&self) -> &[ManifestEntry] {
        &self.entries
    }

    /// The files, sorted by path, owned.
    pub fn into_entries(self) -> Vec<ManifestEntry> {
        self.entries
    }

    /// The archive's usage on disk as recorded when it was unpacked; `None` in a manifest of
    /// the first format, which did not record it.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The text form: the header line, then (when the usage is known) `usage <bytes> <files>`,
    /// then `<crc32 as 8 hex digits> <size> <x|-> <path>` per file, each line ending in `\n`.
    /// Without a usage it is the first format, `cairn-manifest-1`.
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(80 + self.entries.len() * 64);
        match self.usage {
            Some(usage) => {
                let _ = writeln!(
                    text,
                    "{MANIFEST_HEADER}\nusage {} {}",
                    usage.bytes, usage.files
                );
            }
            None => {
                text.push_str(MANIFEST_HEADER_V1);
                text.push('\n');
            }
        }
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
        let (usage, first_entry_line) = match lines.next() {
            Some(MANIFEST_HEADER_V1) => (None, 2),
            Some(MANIFEST_HEADER) => {
                let usage = lines
                    .next()
                    .and_then(parse_usage_line)
                    .ok_or_else(|| malformed(2, "expected `usage <bytes> <files>`"))?;
                (Some(usage), 3)
            }
            _ => return Err(malformed(1, "not a cairn manifest of a known format")),
        };
        let mut entries = Vec::new();
        for (index, line) in lines.enumerate() {
            let number = index + first_entry_line;
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
        Ok(Self { usage, ..manifest })
    }

    /// The usage recorded at the start of a manifest, from its first bytes alone (at least
    /// [`MANIFEST_USAGE_PREFIX_LEN`] of them, or the whole file if shorter): what `cairn cache
    /// size` reads instead of the whole manifest. `None` for the first format, or anything
    /// that does not start like a manifest of the current one.
    pub fn usage_from_prefix(prefix: &[u8]) -> Option<Usage> {
        let text = prefix.strip_prefix(MANIFEST_HEADER.as_bytes())?;
        let text = text.strip_prefix(b"\n")?;
        let end = text.iter().position(|&byte| byte == b'\n')?;
        parse_usage_line(std::str::from_utf8(&text[..end]).ok()?)
    }
}

/// `usage <bytes> <files>`, both whole numbers in plain decimal.
fn parse_usage_line(line: &str) -> Option<Usage> {
    let rest = line.strip_prefix("usage ")?;
    let (bytes, files) = rest.split_once(' ')?;
    let number = |text: &str| {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u64>().ok())
            .flatten()
    };
    Some(Usage {
        bytes: number(bytes)?,
        files: number(files)?,
    })
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

    /// Publishes `temp`, the unpacked archive `digest` whose files `entries` lists (as the
    /// extractor reported them), after writing its manifest with those entries and the space
    /// `temp` takes: the one order in which every archive has its manifest from the moment it
    /// appears, which `cairn cache verify`, `size` and `list` rely on.
    ///
    /// # Errors
    ///
    /// [`CacheError::Manifest`] for an unsafe or repeated path in `entries`; an I/O failure
    /// measuring `temp`, writing the manifest or renaming `temp` into place.
    pub fn persist_unpacked(
        &self,
        temp: TempDir,
        digest: &ContentDigest,
        entries: Vec<ManifestEntry>,
    ) -> Result<(ArchivePath, PersistOutcome), CacheError> {
        let usage = crate::maintenance::measure_tree(temp.path())?;
        let manifest = ArchiveManifest::new(entries)
            .map_err(|source| CacheError::Manifest {
                digest: digest.as_str().to_owned(),
                source,
            })?
            .with_usage(usage);
        self.write_manifest(digest, &manifest)?;
        self.persist(temp, digest)
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
