//! One-pass hashing of wheel bytes with several algorithms at once.
//!
//! Every byte cairn stores is hashed with BLAKE3, its content address, and at the same time with
//! whatever SHA-2 digests the index publishes or the user pinned, so the bytes are read once:
//!
//! - [`HasherSet`] holds the hashers and is fed slices (a download's chunks, say);
//! - [`HashingReader`] hashes what passes through a [`std::io::Read`]; with the `tokio` feature,
//!   `HashingAsyncReader` does the same for a Tokio `AsyncRead`, and with the `stream` feature
//!   `HashingStream` for the chunks passing through a stream;
//! - [`hash_file`] hashes a file on disk, memory-mapped and on rayon's threads when it is large;
//! - [`ExpectedHashes::verify`] checks the resulting [`Hashes`] against expected [`Digest`]s,
//!   which parse from `sha256:HEX` (pip's `--hash`) and `sha256=HEX` (index URL fragments).
//!
//! ```
//! use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm, hash_file};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let wheel = dir.path().join("demo-1.0-py3-none-any.whl");
//! std::fs::write(&wheel, b"hello")?;
//!
//! // BLAKE3 always, plus the algorithms asked for, in one read of the file.
//! let hashes = hash_file(&wheel, &[HashAlgorithm::Sha256])?;
//! assert_eq!(hashes.bytes, 5);
//!
//! // A pin as pip writes it (`--hash=sha256:...`).
//! let pin: Digest =
//!     "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".parse()?;
//! let expected: ExpectedHashes = [pin].into_iter().collect();
//! expected.verify(&hashes, "demo-1.0-py3-none-any.whl")?;
//!
//! // Other bytes fail the same pin, and the error names the file.
//! std::fs::write(&wheel, b"hello!")?;
//! let changed = hash_file(&wheel, &[HashAlgorithm::Sha256])?;
//! let error = expected.verify(&changed, "demo-1.0-py3-none-any.whl").unwrap_err();
//! assert!(error.to_string().contains("demo-1.0-py3-none-any.whl"));
//! # Ok(())
//! # }
//! ```
//!
//! SHA-256 uses the CPU's SHA extensions when present (`sha2` detects them at run time), and
//! BLAKE3 its widest SIMD, which needs slices of 16 KiB or more to pay off: nothing here splits
//! a caller's slice into smaller ones. This crate does no network I/O, and needs no async
//! runtime unless the `tokio` feature is on.

mod algorithm;
#[cfg(feature = "tokio")]
mod async_reader;
mod digest;
mod error;
mod expected;
mod file;
mod hasher_set;
mod hashes;
mod reader;
#[cfg(feature = "stream")]
mod stream;

pub use algorithm::HashAlgorithm;
#[cfg(feature = "tokio")]
pub use async_reader::HashingAsyncReader;
pub use digest::Digest;
pub use error::{HashError, HashMismatch, ParseAlgorithmError, ParseDigestError};
pub use expected::ExpectedHashes;
pub use file::{MMAP_THRESHOLD, digest_file, hash_file};
pub use hasher_set::HasherSet;
pub use hashes::Hashes;
pub use reader::HashingReader;
#[cfg(feature = "stream")]
pub use stream::HashingStream;
