//! Deterministic cache keys for the cairn package cache.
//!
//! Cache keys name directories and files on disk, so the same input must produce the same key
//! on every run, platform and version of cairn. [`std::hash::Hash`] promises none of that (its
//! output may change between Rust releases and it writes `usize` at native width), so keys go
//! through the separate [`CacheKey`] trait and the [`CacheKeyHasher`], whose encoding is fixed:
//!
//! - integers are written little-endian at a fixed width (`usize` as 8 bytes);
//! - strings, byte strings and sequences are prefixed with their length;
//! - `Option` writes a tag byte before its value;
//! - maps and sets are written in sorted order ([`BTreeMap`](std::collections::BTreeMap),
//!   [`BTreeSet`](std::collections::BTreeSet)); `HashMap` is deliberately not supported.
//!
//! The digest is SeaHash, a fast, stable, non-cryptographic 64-bit hash. It names cache entries;
//! it never guards integrity (the content digests of `cairn-hash` do that).
//!
//! ```
//! use cairn_cache_key::{cache_digest, CanonicalUrl};
//!
//! let a = CanonicalUrl::parse("https://user:pw@example.org/simple/numpy/").unwrap();
//! let b = CanonicalUrl::parse("https://EXAMPLE.org/simple/numpy").unwrap();
//! assert_eq!(cache_digest(&a), cache_digest(&b));
//! assert_eq!(cache_digest(&a).len(), 16);
//! ```

mod digest;
mod hasher;
mod key;
mod name;
mod url;

pub use digest::{cache_digest, hex_lower};
pub use hasher::CacheKeyHasher;
pub use key::CacheKey;
pub use name::normalize_package_name;
pub use url::{CanonicalUrl, UrlError};
