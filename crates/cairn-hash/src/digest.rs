//! A digest tagged with its algorithm, and its textual forms (`sha256:HEX`, `sha256=HEX`).

use std::fmt;
use std::str::FromStr;

use super::algorithm::HashAlgorithm;
use super::error::ParseDigestError;

/// The longest digest of any [`HashAlgorithm`] (SHA-512), in bytes.
const MAX_LEN: usize = 64;

/// A digest produced by one [`HashAlgorithm`].
///
/// Stored inline (no allocation) so that digests are cheap to copy and compare. Displays as
/// `algorithm:lowercase-hex`, e.g. `sha256:ba7816bf…`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: HashAlgorithm,
    /// The digest in its first `algorithm.output_len()` bytes; the rest stays zero so that the
    /// derived equality and hashing are exact.
    bytes: [u8; MAX_LEN],
}

impl Digest {
    /// Wraps raw digest bytes, checking that their length fits `algorithm`.
    pub fn from_bytes(algorithm: HashAlgorithm, digest: &[u8]) -> Result<Self, ParseDigestError> {
        if digest.len() != algorithm.output_len() {
            return Err(ParseDigestError::WrongLength {
                algorithm,
                expected_hex_digits: 2 * algorithm.output_len(),
                actual_hex_digits: 2 * digest.len(),
            });
        }
        let mut bytes = [0; MAX_LEN];
        bytes[..digest.len()].copy_from_slice(digest);
        Ok(Self { algorithm, bytes })
    }

    /// Wraps the output of a hasher whose type fixes the length, so no check can fail.
    pub(super) fn from_computed(algorithm: HashAlgorithm, digest: &[u8]) -> Self {
        debug_assert_eq!(
            digest.len(),
            algorithm.output_len(),
            "{algorithm} output length"
        );
        let len = digest.len().min(MAX_LEN);
        let mut bytes = [0; MAX_LEN];
        bytes[..len].copy_from_slice(&digest[..len]);
        Self { algorithm, bytes }
    }

    /// Parses a bare hex digest of `algorithm`, ignoring ASCII case.
    pub fn from_hex(algorithm: HashAlgorithm, hex: &str) -> Result<Self, ParseDigestError> {
        let expected_hex_digits = 2 * algorithm.output_len();
        if hex.len() != expected_hex_digits {
            return Err(ParseDigestError::WrongLength {
                algorithm,
                expected_hex_digits,
                actual_hex_digits: hex.len(),
            });
        }
        let mut bytes = [0; MAX_LEN];
        for (index, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
            let (Some(high), Some(low)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                return Err(ParseDigestError::NotHex {
                    algorithm,
                    hex: hex.to_owned(),
                });
            };
            bytes[index] = high << 4 | low;
        }
        Ok(Self { algorithm, bytes })
    }

    /// The algorithm that produced this digest.
    pub const fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The raw digest bytes (`algorithm().output_len()` of them).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.output_len()]
    }

    /// The digest as lowercase hex, without the algorithm prefix.
    pub fn to_hex(&self) -> String {
        let mut hex = String::with_capacity(2 * self.as_bytes().len());
        for &byte in self.as_bytes() {
            hex.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        hex
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = ParseDigestError;

    /// Parses `algorithm:hex` (pip's `--hash`, lock files) or `algorithm=hex` (the `#sha256=`
    /// fragment of index URLs). The algorithm name and the hex digits ignore ASCII case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((name, hex)) = text.split_once([':', '=']) else {
            return Err(ParseDigestError::MissingAlgorithm {
                text: text.to_owned(),
            });
        };
        let algorithm = name.parse().map_err(ParseDigestError::UnknownAlgorithm)?;
        Self::from_hex(algorithm, hex)
    }
}
