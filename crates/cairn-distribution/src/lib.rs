//! Fetch Python wheels into the cairn cache: download, stream-hash, unzip and persist.
//!
//! `cairn-distribution` turns a wheel, given as a local path or an http(s)/file URL, into an
//! unpacked, content-addressed archive in a [`cairn_cache::Cache`], exactly once, composed from
//! the focused crates below it:
//!
//! - `cairn-hash`: one pass computes BLAKE3 (the content address) and any SHA-2 digests;
//! - `cairn-zip`: validated extraction, parallel for files on disk, streaming for downloads;
//! - `cairn-http`: HTTP with timeouts, bounded retries and cache revalidation;
//! - [`fetch`]: [`WheelStore::fetch`] puts the pieces together.
//!
//! Hashes are checked before anything is published, and so is the wheel's `.dist-info`, which
//! must name the project and version its file name does; an archive appears in the cache with one
//! rename, under the BLAKE3 digest of the wheel file, and a pointer from the source (a path or
//! a canonical URL) lets the next request skip hashing and unpacking. Processes racing for one
//! wheel leave one archive, and all of them succeed.
//!
//! ```
//! use std::io::Write;
//!
//! use cairn_cache::Cache;
//! use cairn_distribution::{FetchOutcome, StoreSettings, WheelSource, WheelStore};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let work = tempfile::tempdir()?;
//! let wheel = work.path().join("demo-1.0-py3-none-any.whl");
//! let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel)?);
//! zip.start_file("demo/__init__.py", zip::write::SimpleFileOptions::default())?;
//! zip.write_all(b"VALUE = 1\n")?;
//! zip.start_file("demo-1.0.dist-info/METADATA", zip::write::SimpleFileOptions::default())?;
//! zip.write_all(b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")?;
//! zip.finish()?;
//!
//! let store = WheelStore::new(Cache::at(&work.path().join("cache"))?, StoreSettings::default());
//! let (source, expected) = WheelSource::parse(wheel.to_str().unwrap())?;
//!
//! let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! let first = runtime.block_on(store.fetch(&source, &expected))?;
//! assert_eq!(first.outcome, FetchOutcome::Unpacked);
//! assert!(first.archive.path().join("demo/__init__.py").is_file());
//!
//! // The second time, the pointer answers: no hashing, no unpacking.
//! let second = runtime.block_on(store.fetch(&source, &expected))?;
//! assert_eq!(second.outcome, FetchOutcome::PointerHit);
//! assert_eq!(second.archive.path(), first.archive.path());
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/architecture.md` for how the layers meet.

pub mod fetch;

pub use cairn_types::{SourceError, WheelSource};
pub use fetch::{
    DEFAULT_CONCURRENT_DOWNLOADS, FetchError, FetchOutcome, FetchedWheel, RemoteTier, Reporter,
    StoreSettings, TierEntry, TierUnpacked, WheelStore,
};

// The types a caller of `WheelStore` needs, so it can name them without depending on the
// crates below.
pub use cairn_cache::{ArchivePath, Cache, CacheSettings};
pub use cairn_hash::{Digest, ExpectedHashes};
pub use cairn_http::{ClientSettings, HttpClient, RetryBudget, SettingsError};
pub use cairn_types::WheelFilename;
pub use url::Url;
