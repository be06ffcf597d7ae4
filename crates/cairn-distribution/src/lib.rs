//! Download, stream-hash, validate, unzip, persist and install Python wheels.
//!
//! `cairn-distribution` turns a wheel, given as a local path or an http(s)/file URL, into an
//! unpacked, content-addressed archive in a [`cairn_cache::Cache`], exactly once:
//!
//! - [`hash`]: one pass computes BLAKE3 (the content address) and any SHA-2 digests;
//! - [`unzip`]: validated extraction, parallel for files on disk, streaming for downloads;
//! - [`download`]: HTTP with timeouts, bounded retries and cache revalidation;
//! - [`fetch`]: [`WheelStore::fetch`] puts the pieces together;
//! - [`tags`], [`index`], [`requirements`]: which wheel a pinned requirement means;
//! - [`install`]: link unpacked wheels from the cache into a target directory.
//!
//! See `docs/architecture.md` for how the layers meet.

pub mod download;
pub mod fetch;
mod filename;
pub mod hash;
pub mod index;
pub mod install;
pub mod locate;
pub mod requirements;
mod source;
pub mod tags;
pub mod unzip;

pub use fetch::{FetchError, FetchOutcome, FetchedWheel, Reporter, StoreSettings, WheelStore};
pub use filename::{FilenameError, WheelFilename, normalize_name};
pub use install::{InstallError, InstallReport, InstallRequest, InstallSettings, Installer};
pub use source::{SourceError, WheelSource};
