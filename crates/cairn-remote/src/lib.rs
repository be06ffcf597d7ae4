//! A shared remote tier for the cairn cache, on an S3-compatible object store.
//!
//! A cache miss on one machine becomes a hit for every other: a wheel one machine unpacked is
//! published as a *pack* (a deterministic, zstd-compressed tar of its unpacked archive, named by
//! its own BLAKE3) with one *record* per digest the wheel is pinned by (its SHA-256), naming the
//! pack and signed by the writer's Ed25519 key. A reader that finds a record it trusts streams
//! the pack straight into its cache's temp directory, checking the pack's digest as it goes, so
//! it skips both the download from the index and the inflate. Packs are named by their content,
//! so racing writers write the same bytes; records are written if absent where the store honours
//! `If-None-Match` (Garage 2.5 does not: there the last of two valid records wins).
//!
//! Trust: anyone who can write to the bucket can write objects, but not sign them. A record is
//! used only when a key listed in the reader's trusted keys signed it, for the digest it is
//! stored under; the pack must have the digest the record names; the unpacked tree is refused if
//! its `.dist-info` is not the wheel's. `docs/remote.md` has the threat model and the layout.
//!
//! [`Remote`] implements [`cairn_distribution::RemoteTier`]: give it to a
//! [`WheelStore`](cairn_distribution::WheelStore) with `with_remote_tier`.
//!
//! ```
//! use std::sync::Arc;
//!
//! use cairn_distribution::{Cache, StoreSettings, WheelSource, WheelStore};
//! use cairn_remote::{Remote, RemoteSettings, SigningKey};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use std::io::Write as _;
//! # let work = tempfile::tempdir()?;
//! # let wheel = work.path().join("demo-1.0-py3-none-any.whl");
//! # let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel)?);
//! # zip.start_file("demo/__init__.py", zip::write::SimpleFileOptions::default())?;
//! # zip.write_all(b"VALUE = 1\n")?;
//! # zip.start_file("demo-1.0.dist-info/METADATA", zip::write::SimpleFileOptions::default())?;
//! # zip.write_all(b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")?;
//! # zip.finish()?;
//! let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! let _guard = runtime.enter();
//! // A remote in a directory (a shared mount, say); `s3://bucket/prefix` on an object store.
//! let url = format!("file://{}", work.path().join("remote").display());
//! let key = SigningKey::generate("ci-1")?;
//! let settings = |key| RemoteSettings { signing_key: Some(key), ..RemoteSettings::default() };
//! let remote = Remote::open(&url, settings(SigningKey::parse(&key.to_secret_text())?))?;
//!
//! // Machine A unpacks a wheel pinned by SHA-256 and publishes it in the background.
//! let sha256 = cairn_hash::digest_file(&wheel, &[cairn_hash::HashAlgorithm::Sha256])?;
//! let (source, expected) = WheelSource::parse_pinned(&wheel.display().to_string(), &sha256)?;
//! let a = WheelStore::new(Cache::at(work.path().join("a"))?, StoreSettings::default())
//!     .with_remote_tier(Arc::new(remote.clone()));
//! runtime.block_on(a.fetch(&source, &expected))?;
//! assert_eq!(runtime.block_on(remote.finish()).packs_uploaded, 1);
//!
//! // Machine B, trusting A's key, finds it on the remote by the pinned digest alone.
//! let b_remote = Remote::open(&url, settings(key))?;
//! let b = WheelStore::new(Cache::at(work.path().join("b"))?, StoreSettings::default())
//!     .with_remote_tier(Arc::new(b_remote));
//! let name = cairn_types::PackageName::new("demo");
//! let found = runtime.block_on(b.find_pinned_remote(&name, "1.0", &expected, |_| Some(0)))?;
//! assert!(found.unwrap().archive.path().join("demo/__init__.py").is_file());
//! # Ok(())
//! # }
//! ```

mod error;
pub mod keys;
mod maintenance;
pub mod pack;
pub mod profile;
pub mod record;
mod remote;

pub use error::RemoteError;
pub use keys::{KeyError, PublicKey, SigningKey, TrustedKeys};
pub use maintenance::{PruneReport, PushReport, VerifyReport};
/// The object store crate, for callers that build a store of their own for
/// [`Remote::with_store`] or read objects directly.
pub use object_store;
pub use remote::{
    MULTIPART_PART, PushOutcome, REMOTE_FORMAT, Remote, RemoteSettings, RemoteStats, RemoteWrite,
    error_chain,
};
