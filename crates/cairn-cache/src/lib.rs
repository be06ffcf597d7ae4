//! The cairn cache: a directory of versioned buckets holding unpacked wheels by content digest,
//! pointers from sources to those digests, and the metadata around them.
//!
//! ```
//! use cairn_cache::{Cache, CacheBucket};
//!
//! let cache = Cache::temporary().unwrap();
//! let entry = cache.entry(CacheBucket::Wheels, "url/0123456789abcdef", "numpy.json");
//! assert!(entry.path().starts_with(cache.root().join("wheels-v0")));
//! ```
//!
//! The layout on disk is a public format, documented in `docs/layout.md`; the locking model is
//! in `docs/architecture.md`. This crate knows nothing of wheels, zips or HTTP: it stores
//! directories and small records.

mod archive;
mod bucket;
mod entry;
mod error;
mod hash_index;
pub mod maintenance;
mod manifest;
mod pointer;
mod refresh;
mod root;

pub use archive::ArchivePath;
pub use bucket::CacheBucket;
pub use entry::{CacheEntry, CacheShard};
pub use error::CacheError;
pub use hash_index::{IndexKey, IndexKeyError, IndexRecord};
pub use manifest::{
    ArchiveManifest, MANIFEST_EXTENSION, MANIFEST_HEADER, MANIFEST_HEADER_V1,
    MANIFEST_USAGE_PREFIX_LEN, ManifestEntry, ManifestError,
};
pub use pointer::{POINTER_FORMAT, Pointer, PointerKey, SourceIdentity, SourceKind};
pub use refresh::{Refresh, RefreshState};
pub use root::{Cache, CacheSettings, LOCK_FILE, MAINTENANCE_LOCK_FILE};
