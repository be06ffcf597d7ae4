//! The published-digest index (`hashes-v1`): from a digest an index publishes for a wheel file
//! (its SHA-256, say) to the archive unpacked from that file, so that a hash-pinned request finds
//! its archive without the network.
//!
//! One file per digest, `hashes-v1/<algorithm>/<ab>/<rest>`, holding one line:
//! `<archive digest> <wheel size> <wheel file name>\n` (see `docs/layout.md`). This module owns both the writing and
//! the reading of that line, so the fetch code and maintenance cannot disagree about it. It takes
//! algorithm names and digests as validated text: it never computes a digest.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use cairn_fs::{ContentDigest, DigestError};

use crate::{ArchivePath, Cache, CacheBucket, CacheEntry, CacheError};

/// The name of one entry of the index: an algorithm name and the digest it published.
///
/// ```
/// use cairn_cache::IndexKey;
///
/// let key = IndexKey::parse("sha256", &"86".repeat(32)).unwrap();
/// assert_eq!(
///     key.relative_path(),
///     std::path::Path::new("hashes-v1/sha256/86").join("86".repeat(31)),
/// );
/// assert!(IndexKey::parse("../x", &"86".repeat(32)).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexKey {
    algorithm: String,
    digest: ContentDigest,
}

/// Why an algorithm name or a digest cannot name an index entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexKeyError {
    /// The algorithm name is not a safe, lowercase directory name.
    #[error(
        "invalid hash algorithm name `{name}`: expected 1 to {max} lowercase ASCII letters and \
         digits, starting with a letter",
        max = IndexKey::MAX_ALGORITHM_LEN
    )]
    Algorithm {
        /// The rejected name.
        name: String,
    },
    /// The digest is not lowercase hex of an accepted length.
    #[error(transparent)]
    Digest(#[from] DigestError),
}

impl IndexKey {
    /// The longest accepted algorithm name.
    pub const MAX_ALGORITHM_LEN: usize = 16;

    /// The entry for the digest `digest` of algorithm `algorithm` (`"sha256"`). The name must be
    /// lowercase ASCII letters and digits, starting with a letter, so that it is one safe path
    /// component. BLAKE3 digests are archive names already: callers index other algorithms.
    pub fn new(algorithm: &str, digest: ContentDigest) -> Result<Self, IndexKeyError> {
        let valid = algorithm.len() <= Self::MAX_ALGORITHM_LEN
            && algorithm
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase())
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(IndexKeyError::Algorithm {
                name: algorithm.to_owned(),
            });
        }
        Ok(Self {
            algorithm: algorithm.to_owned(),
            digest,
        })
    }

    /// [`IndexKey::new`] for a digest given as lowercase hex.
    pub fn parse(algorithm: &str, hex: &str) -> Result<Self, IndexKeyError> {
        Self::new(algorithm, ContentDigest::hex(hex)?)
    }

    /// The algorithm name.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The published digest.
    pub fn digest(&self) -> &ContentDigest {
        &self.digest
    }

    /// The entry's path relative to the cache root: `hashes-v1/<algorithm>/<ab>/<rest>`.
    pub fn relative_path(&self) -> PathBuf {
        self.digest
            .sharded_path(&Path::new(CacheBucket::Hashes.dir_name()).join(&self.algorithm))
    }
}

/// What an index entry holds: the archive unpacked from the wheel file, that file's size and
/// its name (which tells, without opening the archive, which project, version and tags the
/// digest answers for).
///
/// The entry is the single line `<archive digest> <wheel size> <wheel file name>\n`, and a line
/// reads as a record only when it is exactly the line [`IndexRecord::to_line`] writes for it:
/// the archive digest 16 to 128 lowercase hex characters, one space, the size in decimal
/// without sign or leading zeros, one space, the file name (see
/// [`IndexRecord::is_valid_filename`]), one `\n`, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexRecord {
    /// The archive's name: the lowercase hex BLAKE3 of the wheel file.
    pub archive: ContentDigest,
    /// The wheel file's size in bytes.
    pub wheel_size: u64,
    /// The wheel's file name (`tomli-2.5.0-py3-none-any.whl`).
    pub filename: String,
}

impl IndexRecord {
    /// The longest file name a record holds.
    pub const MAX_FILENAME_LEN: usize = 255;

    /// The longest line a record takes: the longest digest, a space, `u64::MAX`, a space, the
    /// longest file name and `\n`.
    pub const MAX_LEN: usize = ContentDigest::MAX_LEN + 1 + 20 + 1 + Self::MAX_FILENAME_LEN + 1;

    /// Whether `name` can be stored: 1 to [`Self::MAX_FILENAME_LEN`] bytes ending in `.whl`,
    /// with no whitespace, control character or path separator.
    pub fn is_valid_filename(name: &str) -> bool {
        name.len() <= Self::MAX_FILENAME_LEN
            && name.len() > ".whl".len()
            && name.ends_with(".whl")
            && !name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '\\')
    }

    /// The entry's bytes: `<archive digest> <wheel size> <wheel file name>\n`.
    pub fn to_line(&self) -> String {
        let mut line = String::with_capacity(Self::MAX_LEN);
        line.push_str(self.archive.as_str());
        // Writing to a String cannot fail.
        let _ = writeln!(line, " {} {}", self.wheel_size, self.filename);
        line
    }

    /// Parses an entry's bytes. Anything but a line as [`IndexRecord::to_line`] writes it is
    /// `None`: a damaged entry is a miss, never an error.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > Self::MAX_LEN {
            return None;
        }
        let line = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?;
        let (archive, rest) = line.split_once(' ')?;
        let (size, filename) = rest.split_once(' ')?;
        let canonical_number = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        if !canonical_number || !Self::is_valid_filename(filename) {
            return None;
        }
        Some(Self {
            wheel_size: size.parse().ok()?,
            archive: ContentDigest::hex(archive).ok()?,
            filename: filename.to_owned(),
        })
    }
}

impl Cache {
    /// The index entry of `key`: `<root>/hashes-v1/<algorithm>/<ab>/<rest>`.
    pub fn index_entry(&self, key: &IndexKey) -> CacheEntry {
        CacheEntry::new(self.root().join(key.relative_path()))
    }

    /// The record of `key`, whether or not its archive is in the store. A missing, unreadable
    /// or damaged entry is `None`.
    pub fn read_index(&self, key: &IndexKey) -> Option<IndexRecord> {
        let entry = self.index_entry(key);
        let bytes = read_capped(entry.path(), IndexRecord::MAX_LEN)?;
        let record = IndexRecord::parse(&bytes);
        if record.is_none() {
            tracing::warn!(path = %entry.path().display(), "ignoring unreadable index entry");
        }
        record
    }

    /// The archive `key` names and the size of the wheel it came from, when the entry reads and
    /// the archive is in the store; anything else is a miss.
    pub fn find_indexed(&self, key: &IndexKey) -> Option<(ArchivePath, u64)> {
        let record = self.read_index(key)?;
        let archive = self.find_archive(&record.archive)?;
        Some((archive, record.wheel_size))
    }

    /// Records that `key` names `record`, atomically. An entry that already holds exactly this
    /// line is left alone, so that repeat fetches write nothing. A record whose file name
    /// cannot be stored (see [`IndexRecord::is_valid_filename`]) is not written.
    pub fn write_index(&self, key: &IndexKey, record: &IndexRecord) -> Result<(), CacheError> {
        if !IndexRecord::is_valid_filename(&record.filename) {
            tracing::debug!(
                filename = record.filename,
                "not indexing a wheel of this file name"
            );
            return Ok(());
        }
        let entry = self.index_entry(key);
        let line = record.to_line();
        if read_capped(entry.path(), IndexRecord::MAX_LEN).as_deref() == Some(line.as_bytes()) {
            return Ok(());
        }
        cairn_fs::write_atomic(entry.path(), line.as_bytes())?;
        Ok(())
    }
}

impl Cache {
    /// Every readable entry of the index for `algorithm` (`"sha256"`), with its key, in no
    /// particular order; entries that do not read as records are skipped. Reads one small file
    /// per entry: for commands that walk the whole index (`cairn cache push`), not for fetches.
    pub fn index_records(&self, algorithm: &str) -> Vec<(IndexKey, IndexRecord)> {
        let dir = self.bucket(CacheBucket::Hashes).join(algorithm);
        let mut found = Vec::new();
        let Ok(shards) = std::fs::read_dir(&dir) else {
            return found;
        };
        for shard in shards.flatten() {
            let Ok(entries) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            let prefix = shard.file_name();
            for entry in entries.flatten() {
                let hex = format!(
                    "{}{}",
                    prefix.to_string_lossy(),
                    entry.file_name().to_string_lossy()
                );
                let Ok(key) = IndexKey::parse(algorithm, &hex) else {
                    continue;
                };
                if let Some(record) = read_capped(&entry.path(), IndexRecord::MAX_LEN)
                    .and_then(|bytes| IndexRecord::parse(&bytes))
                {
                    found.push((key, record));
                }
            }
        }
        found
    }
}

/// The first `limit + 1` bytes of the file at `path` (more than `limit` means too long), or
/// `None` when it cannot be read.
fn read_capped(path: &Path, limit: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(limit + 1);
    std::fs::File::open(path)
        .ok()?
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{IndexKey, IndexKeyError, IndexRecord};
    use crate::Cache;
    use cairn_fs::ContentDigest;

    // The example of `docs/layout.md`.
    const ARCHIVE: &str = "b2141bee1a43bb7c99df33af9cfb6950dfed5028c50bcb3c98ebe6148a10544c";
    const SHA256: &str = "86085d431d2bfd67e50a4e25882380a9c19b371a8510d2c98ab0d4afdd0daa48";

    const WHEEL: &str = "demo-1.0-py3-none-any.whl";

    fn record(wheel_size: u64) -> IndexRecord {
        IndexRecord {
            archive: ContentDigest::hex(ARCHIVE).unwrap(),
            wheel_size,
            filename: WHEEL.to_owned(),
        }
    }

    /// A cache holding the archive [`ARCHIVE`].
    fn cache_with_archive() -> Cache {
        let cache = Cache::temporary().unwrap();
        let temp = cache.temp_dir().unwrap();
        cache
            .persist(temp, &ContentDigest::hex(ARCHIVE).unwrap())
            .unwrap();
        cache
    }

    #[test]
    fn writes_the_documented_path_and_bytes() {
        let cache = Cache::temporary().unwrap();
        let key = IndexKey::parse("sha256", SHA256).unwrap();
        cache.write_index(&key, &record(849)).unwrap();
        let path = cache.root().join("hashes-v1/sha256/86").join(&SHA256[2..]);
        assert_eq!(cache.index_entry(&key).path(), path);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            format!("{ARCHIVE} 849 {WHEEL}\n").as_bytes()
        );
        assert_eq!(record(0).to_line(), format!("{ARCHIVE} 0 {WHEEL}\n"));
        assert_eq!(
            record(u64::MAX).to_line(),
            format!("{ARCHIVE} 18446744073709551615 {WHEEL}\n")
        );
        // A file name that cannot be stored is not indexed.
        let other = IndexKey::parse("sha256", &"ab".repeat(32)).unwrap();
        let bad = IndexRecord {
            filename: "a b.whl".to_owned(),
            ..record(1)
        };
        cache.write_index(&other, &bad).unwrap();
        assert!(!cache.index_entry(&other).path().exists());
    }

    #[test]
    fn round_trips() {
        let cache = cache_with_archive();
        let key = IndexKey::parse("sha512", &"0f".repeat(64)).unwrap();
        assert_eq!(cache.read_index(&key), None);
        assert!(cache.find_indexed(&key).is_none());
        for size in [0, 849, u64::MAX] {
            cache.write_index(&key, &record(size)).unwrap();
            assert_eq!(cache.read_index(&key), Some(record(size)));
            let (archive, wheel_size) = cache.find_indexed(&key).unwrap();
            assert_eq!((archive.digest().as_str(), wheel_size), (ARCHIVE, size));
            assert_eq!(
                IndexRecord::parse(record(size).to_line().as_bytes()),
                Some(record(size))
            );
        }
    }

    #[test]
    fn an_unchanged_entry_is_not_rewritten() {
        let cache = Cache::temporary().unwrap();
        let key = IndexKey::parse("sha256", SHA256).unwrap();
        cache.write_index(&key, &record(849)).unwrap();
        let path = cache.index_entry(&key).path().to_owned();
        let inode = |path: &std::path::Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(path).unwrap().ino()
        };
        let before = inode(&path);
        cache.write_index(&key, &record(849)).unwrap();
        assert_eq!(inode(&path), before, "rewritten although unchanged");
        cache.write_index(&key, &record(850)).unwrap();
        assert_ne!(inode(&path), before, "a changed record replaces the file");
        assert_eq!(cache.read_index(&key), Some(record(850)));
    }

    #[test]
    fn a_damaged_entry_is_a_miss() {
        let cache = cache_with_archive();
        let key = IndexKey::parse("sha256", SHA256).unwrap();
        let path = cache.index_entry(&key).path().to_owned();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let long_size = "9".repeat(IndexRecord::MAX_LEN);
        let damaged: Vec<Vec<u8>> = [
            "",
            "\n",
            "garbage",
            &format!("{ARCHIVE} 849 {WHEEL}"),
            &format!("{ARCHIVE} 849\n"),
            &format!("{ARCHIVE} 849 \n"),
            &format!("{ARCHIVE} 849 demo.zip\n"),
            &format!("{ARCHIVE} 849 a b.whl\n"),
            &format!("{ARCHIVE} 849 ../x.whl\n"),
            &format!(
                "{ARCHIVE} 849 {}.whl\n",
                "a".repeat(IndexRecord::MAX_FILENAME_LEN)
            ),
            &format!("{ARCHIVE} 849 {WHEEL}\n\n"),
            &format!("{ARCHIVE} 849 {WHEEL}\r\n"),
            &format!("{ARCHIVE}  849 {WHEEL}\n"),
            &format!(" {ARCHIVE} 849 {WHEEL}\n"),
            &format!("{ARCHIVE}\t849 {WHEEL}\n"),
            &format!("{ARCHIVE} 849 1\n"),
            &format!("{ARCHIVE} +849 {WHEEL}\n"),
            &format!("{ARCHIVE} -849 {WHEEL}\n"),
            &format!("{ARCHIVE} 0849 {WHEEL}\n"),
            &format!("{ARCHIVE} 00 {WHEEL}\n"),
            &format!("{ARCHIVE}  {WHEEL}\n"),
            &format!("{ARCHIVE} 18446744073709551616 {WHEEL}\n"),
            &format!("{ARCHIVE} {long_size} {WHEEL}\n"),
            &format!("{} 849 {WHEEL}\n", ARCHIVE.to_uppercase()),
            &format!("{} 849 {WHEEL}\n", &ARCHIVE[..15]),
            &format!("{} 849 {WHEEL}\n", "a".repeat(129)),
            &format!("../{} 849 {WHEEL}\n", &ARCHIVE[3..]),
            &format!(" 849 {WHEEL}\n"),
        ]
        .iter()
        .map(|text| text.as_bytes().to_vec())
        .chain([
            format!("{ARCHIVE} 84\u{fffd} {WHEEL}\n").into_bytes(),
            [ARCHIVE.as_bytes(), b" 8\xff9 ", WHEEL.as_bytes(), b"\n"].concat(),
        ])
        .collect();
        for bytes in &damaged {
            std::fs::write(&path, bytes).unwrap();
            let shown = String::from_utf8_lossy(bytes);
            assert_eq!(IndexRecord::parse(bytes), None, "{shown:?}");
            assert_eq!(cache.read_index(&key), None, "{shown:?}");
            assert!(cache.find_indexed(&key).is_none(), "{shown:?}");
        }
        // A directory where the entry should be is a miss as well.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(cache.read_index(&key), None);
    }

    #[test]
    fn an_entry_whose_archive_is_gone_is_a_miss() {
        let cache = Cache::temporary().unwrap();
        let key = IndexKey::parse("sha256", SHA256).unwrap();
        cache.write_index(&key, &record(849)).unwrap();
        assert_eq!(cache.read_index(&key), Some(record(849)));
        assert!(cache.find_indexed(&key).is_none());
    }

    #[test]
    fn keys_are_safe_path_components() {
        for name in ["sha256", "sha3x512", "a", "md5"] {
            assert!(IndexKey::parse(name, SHA256).is_ok(), "{name}");
        }
        for name in [
            "",
            "SHA256",
            "256",
            ".",
            "..",
            "sha-256",
            "sha_256",
            "a/b",
            ".tmp-x",
            "sha256 ",
            "abcdefghijklmnopq",
        ] {
            assert_eq!(
                IndexKey::parse(name, SHA256),
                Err(IndexKeyError::Algorithm {
                    name: name.to_owned()
                }),
                "{name}"
            );
        }
        for hex in ["", "abc", &SHA256.to_uppercase(), &format!("{SHA256}/..")] {
            assert!(
                matches!(
                    IndexKey::parse("sha256", hex),
                    Err(IndexKeyError::Digest(_))
                ),
                "{hex}"
            );
        }
        let key = IndexKey::parse("sha256", SHA256).unwrap();
        assert_eq!((key.algorithm(), key.digest().as_str()), ("sha256", SHA256));
    }
}
