//! The hash algorithms cairn computes and the names they go by in pins and URLs.

use std::fmt;
use std::str::FromStr;

use super::error::ParseAlgorithmError;

/// A cryptographic hash algorithm cairn can compute over a wheel's bytes.
///
/// BLAKE3 is cairn's content address and is always computed; the SHA-2 family covers the hashes
/// that indexes publish and that users pin (`--hash=sha256:…`, `#sha256=…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlgorithm {
    /// BLAKE3 with 256-bit output: the content address of everything in the cache.
    Blake3,
    /// SHA-256, the hash PyPI publishes for every file.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Every algorithm, in the order digests are reported.
    pub const ALL: [Self; 4] = [Self::Blake3, Self::Sha256, Self::Sha384, Self::Sha512];

    /// The lowercase name used in pins, URL fragments and [`Display`](fmt::Display).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Blake3 => "blake3",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// The length of this algorithm's digest in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Blake3 | Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlgorithm {
    type Err = ParseAlgorithmError;

    /// Parses a name such as `sha256`, ignoring ASCII case (hash pins are written by hand).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| ParseAlgorithmError {
                name: name.to_owned(),
            })
    }
}
