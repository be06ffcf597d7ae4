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
//! See `docs/architecture.md` for how the layers meet.

pub mod fetch;

pub use cairn_types::{SourceError, WheelSource};
pub use fetch::{FetchError, FetchOutcome, FetchedWheel, Reporter, StoreSettings, WheelStore};
