//! Finding wheels on a package index: the Simple API (PEP 503 HTML, PEP 691 JSON) and
//! find-links directories.
//!
//! [`IndexClient::files`] lists a project's files, caching each project page in the simple
//! bucket with its HTTP cache policy, parsed once and stored in a compact form that is read in
//! place (see `page_cache.rs` and `compact.rs` for the layout);
//! [`IndexClient::find_wheel`] picks the best wheel of a pinned version for a set of
//! [`Tags`](cairn_python::tags::Tags), reading only that version's files from the page, or
//! says precisely why there is none.
//!
//! Each [`IndexFile`] carries what its name says (its [`FileKind`] and PEP 440 [`Version`]),
//! read once with the page, and whether the index serves its core metadata on its own
//! ([`MetadataLink`], PEP 658); [`IndexClient::fetch_metadata`] fetches, verifies and parses it.
//!
//! [`locate`] turns a pinned requirement into the wheel to fetch and the digests it must match.
//!
//! A wheel of the pinned version in a find-links directory wins without asking the index:
//!
//! ```
//! use cairn_cache::Cache;
//! use cairn_http::{ClientSettings, HttpClient};
//! use cairn_index::{FoundWheel, IndexClient};
//! use cairn_python::tags::Tags;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let wheels = tempfile::tempdir()?;
//! for name in [
//!     "demo-1.0-py3-none-any.whl",
//!     "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
//!     "demo-1.0-cp312-cp312-win_amd64.whl",
//!     "demo-0.9-py3-none-any.whl",
//! ] {
//!     std::fs::write(wheels.path().join(name), b"")?;
//! }
//!
//! // Offline: the index is never asked, only the find-links directory.
//! let http = HttpClient::new(ClientSettings { offline: true, ..ClientSettings::default() })?;
//! let index = IndexClient::new(http, Cache::temporary()?, IndexClient::DEFAULT_INDEX.parse()?)
//!     .with_find_links(vec![wheels.path().to_path_buf()]);
//! let tags = Tags::for_target((3, 12), "manylinux_2_28_x86_64")?;
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let found = runtime.block_on(index.find_wheel("demo", "1.0", &tags))?;
//! // The most specific compatible tag wins: the manylinux wheel, not the pure one.
//! assert!(matches!(found, FoundWheel::Path { .. }));
//! assert_eq!(found.filename().platform, "manylinux_2_17_x86_64.manylinux2014_x86_64");
//! # Ok(())
//! # }
//! ```

#[doc(hidden)]
pub mod bench;
mod client;
mod compact;
mod error;
mod file;
mod find_links;
mod html;
mod json;
mod link;
pub mod locate;
mod metadata;
mod page_cache;
mod project;
mod select;

pub use client::{DEFAULT_CONCURRENT_REQUESTS, IndexClient, MAX_PAGE_BYTES};
pub use error::IndexError;
pub use file::{FileKind, IndexFile, MetadataLink};
pub use metadata::MetadataFetchError;
pub use select::FoundWheel;

pub use cairn_python::metadata::CoreMetadata;
pub use pep440_rs::{Version, VersionSpecifiers};
