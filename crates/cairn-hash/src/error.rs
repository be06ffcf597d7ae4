//! Errors of the hash module: parsing names and digests, reading files, failed verification.

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::algorithm::HashAlgorithm;
use super::digest::Digest;

/// A hash algorithm name that cairn does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown hash algorithm `{name}`: use one of blake3, sha256, sha384, sha512")]
pub struct ParseAlgorithmError {
    /// The name as given.
    pub name: String,
}

/// A digest string that is not `algorithm:hex` or `algorithm=hex` with the right length.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseDigestError {
    /// Neither `:` nor `=` separates an algorithm name from the hex digits.
    #[error(
        "`{text}` is not a digest: write it as `sha256:HEX` or `sha256=HEX` \
         (blake3, sha256, sha384 and sha512 are accepted)"
    )]
    MissingAlgorithm {
        /// The text as given.
        text: String,
    },
    /// The algorithm name is not known.
    #[error(transparent)]
    UnknownAlgorithm(ParseAlgorithmError),
    /// The digest has the wrong number of hex digits (or bytes) for its algorithm.
    #[error(
        "a {algorithm} digest has {expected_hex_digits} hex digits, this one has \
         {actual_hex_digits}: check that the digest was copied whole and names the right algorithm"
    )]
    WrongLength {
        /// The algorithm the digest claims.
        algorithm: HashAlgorithm,
        /// The number of hex digits `algorithm` produces.
        expected_hex_digits: usize,
        /// The number of hex digits given.
        actual_hex_digits: usize,
    },
    /// The digest contains a character that is not a hex digit.
    #[error("the {algorithm} digest `{hex}` contains a character that is not a hex digit")]
    NotHex {
        /// The algorithm the digest claims.
        algorithm: HashAlgorithm,
        /// The digits as given.
        hex: String,
    },
}

/// Hashing a file on disk failed.
#[derive(Debug, Error)]
pub enum HashError {
    /// The file could not be opened or its size read.
    #[error("cannot open {} to hash it", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file could not be memory-mapped.
    #[error("cannot memory-map {} to hash it", path.display())]
    Map {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading the file failed part-way.
    #[error("cannot read {} to hash it", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// A file's bytes do not match any of the digests expected for one algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct HashMismatch {
    /// What was hashed, as the user knows it (a file name, path or URL).
    pub file: String,
    /// The algorithm whose check failed.
    pub algorithm: HashAlgorithm,
    /// The digests that would have been accepted (any one of them).
    pub expected: Vec<Digest>,
    /// The digest of the bytes, or `None` if `algorithm` was not computed at all, which means
    /// the caller did not hash with [`ExpectedHashes::algorithms`](super::ExpectedHashes).
    pub actual: Option<Digest>,
}

impl fmt::Display for HashMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hash mismatch for {}: expected ", self.file)?;
        match self.expected.as_slice() {
            [single] => write!(f, "{single}")?,
            several => {
                f.write_str("one of ")?;
                for (index, digest) in several.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{digest}")?;
                }
            }
        }
        match &self.actual {
            Some(actual) => write!(
                f,
                ", got {actual}; the file may be corrupt or truncated, or the pinned hash \
                 outdated: download it again, and if the mismatch persists, check where the \
                 pinned hash came from"
            ),
            None => write!(
                f,
                ", but no {} digest was computed; this is a bug in cairn, please report it",
                self.algorithm
            ),
        }
    }
}
