use std::fmt;
use std::path::{Path, PathBuf};

/// How a [`ContentDigest`] is spelled on disk.
///
/// Only case-insensitive-safe alphabets are allowed by default ([`Hex`](Self::Hex),
/// [`Base32`](Self::Base32)); [`Base64Url`](Self::Base64Url) is shorter but relies on a
/// case-sensitive filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestEncoding {
    /// Lowercase hexadecimal (`0-9a-f`).
    Hex,
    /// Lowercase RFC 4648 base32 without padding (`a-z2-7`).
    Base32,
    /// RFC 4648 base64url without padding (`A-Za-z0-9-_`).
    Base64Url,
}

impl DigestEncoding {
    fn accepts(self, byte: u8) -> bool {
        match self {
            Self::Hex => matches!(byte, b'0'..=b'9' | b'a'..=b'f'),
            Self::Base32 => matches!(byte, b'a'..=b'z' | b'2'..=b'7'),
            Self::Base64Url => byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Hex => "lowercase hex",
            Self::Base32 => "lowercase base32",
            Self::Base64Url => "base64url",
        }
    }
}

/// A validated content digest, the name of an entry in a content-addressed store.
///
/// Validation guarantees the digest is safe to join onto a path: it has only characters of its
/// alphabet (so no `/`, `\`, `.` or `..`), and is long enough to shard.
///
/// ```
/// use std::path::Path;
/// use cairn_fs::{ContentDigest, DigestEncoding};
///
/// let digest = ContentDigest::parse("ab12cd34ef567890", DigestEncoding::Hex).unwrap();
/// let path = digest.sharded_path(Path::new("/cache/archive-v0"));
/// assert_eq!(path, Path::new("/cache/archive-v0/ab/12cd34ef567890"));
/// let back = ContentDigest::from_sharded_path(Path::new("/cache/archive-v0"), &path, DigestEncoding::Hex);
/// assert_eq!(back.unwrap(), digest);
/// assert!(ContentDigest::parse("../etc/passwd", DigestEncoding::Hex).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentDigest {
    text: String,
}

/// Why a string or path is not a well-formed [`ContentDigest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// Too short or too long.
    #[error(
        "invalid digest `{digest}`: expected {min} to {max} characters, got {len}",
        len = digest.len(),
        min = ContentDigest::MIN_LEN,
        max = ContentDigest::MAX_LEN
    )]
    Length {
        /// The rejected text.
        digest: String,
    },
    /// A character outside the encoding's alphabet.
    #[error("invalid digest `{digest}`: `{character}` is not {encoding}")]
    Character {
        /// The rejected text.
        digest: String,
        /// The offending character.
        character: char,
        /// The expected alphabet.
        encoding: &'static str,
    },
    /// A path that is not `<root>/<shard>/<rest>`.
    #[error("`{}` is not a sharded content path under `{}`", path.display(), root.display())]
    NotShardedPath {
        /// The rejected path.
        path: PathBuf,
        /// The store root it was expected under.
        root: PathBuf,
    },
}

impl ContentDigest {
    /// Length of the shard directory name.
    pub const SHARD_LEN: usize = 2;
    /// Shortest accepted digest (64 bits of hex).
    pub const MIN_LEN: usize = 16;
    /// Longest accepted digest (512 bits of hex).
    pub const MAX_LEN: usize = 128;

    /// Validates `text` as a digest in `encoding`.
    pub fn parse(text: &str, encoding: DigestEncoding) -> Result<Self, DigestError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&text.len()) {
            return Err(DigestError::Length {
                digest: text.to_owned(),
            });
        }
        // Byte by byte (maintenance parses 100,000 digests): every byte before the first
        // refused one is ASCII, so that byte starts the offending character.
        if let Some(position) = text.bytes().position(|byte| !encoding.accepts(byte)) {
            return Err(DigestError::Character {
                digest: text.to_owned(),
                character: text[position..].chars().next().unwrap_or('\u{fffd}'),
                encoding: encoding.name(),
            });
        }
        Ok(Self {
            text: text.to_owned(),
        })
    }

    /// Validates a lowercase hex digest, the common case.
    pub fn hex(text: &str) -> Result<Self, DigestError> {
        Self::parse(text, DigestEncoding::Hex)
    }

    /// The digest text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The shard directory name: the first [`Self::SHARD_LEN`] characters.
    pub fn shard(&self) -> &str {
        &self.text[..Self::SHARD_LEN]
    }

    /// The entry name inside the shard: everything after the shard prefix.
    pub fn rest(&self) -> &str {
        &self.text[Self::SHARD_LEN..]
    }

    /// `root/<shard>/<rest>`: two-level sharding keeps directories small (at most 256 shards for
    /// hex) without making prune walk deep trees.
    pub fn sharded_path(&self, root: &Path) -> PathBuf {
        root.join(self.shard()).join(self.rest())
    }

    /// Parses a digest back from a path produced by [`Self::sharded_path`] under `root`.
    pub fn from_sharded_path(
        root: &Path,
        path: &Path,
        encoding: DigestEncoding,
    ) -> Result<Self, DigestError> {
        let not_sharded = || DigestError::NotShardedPath {
            path: path.to_owned(),
            root: root.to_owned(),
        };
        let relative = path.strip_prefix(root).map_err(|_| not_sharded())?;
        let mut components = relative.components();
        let (Some(shard), Some(rest), None) =
            (components.next(), components.next(), components.next())
        else {
            return Err(not_sharded());
        };
        let (Some(shard), Some(rest)) = (shard.as_os_str().to_str(), rest.as_os_str().to_str())
        else {
            return Err(not_sharded());
        };
        if shard.len() != Self::SHARD_LEN {
            return Err(not_sharded());
        }
        Self::parse(&format!("{shard}{rest}"), encoding)
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
