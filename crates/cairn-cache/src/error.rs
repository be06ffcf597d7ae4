use std::path::PathBuf;

use cairn_fs::{DigestError, FsError, LockError};

/// A failure of a cache operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// No cache directory was given and none could be found for this platform.
    #[error(
        "could not determine a cache directory: set CAIRN_CACHE_DIR or pass --cache-dir, \
         or use --no-cache"
    )]
    NoCacheDir,
    /// A filesystem operation failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The cache lock could not be taken.
    #[error("cannot lock the cache at `{}`{}", source.path().display(), lock_hint(source))]
    Lock {
        /// The lock failure.
        #[from]
        source: LockError,
    },
    /// This user may not write in the cache (a read-only mount, another user's cache): it
    /// serves the entries it holds, but cannot take a new one.
    #[error(
        "cannot {action} `{}`: the cache at `{}` is not writable by this user (it can serve the \
         wheels it holds, nothing more); choose a writable cache with --cache-dir or \
         CAIRN_CACHE_DIR, or run as a user who may write it",
        path.display(),
        root.display()
    )]
    NotWritable {
        /// The cache root.
        root: PathBuf,
        /// What was being done, e.g. "create directory".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// Permission denied or read-only file system.
        #[source]
        source: std::io::Error,
    },
    /// A digest or a path inside a content-addressed bucket was malformed.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// An archive's file list cannot be its manifest (an unsafe or repeated path).
    #[error("cannot record the manifest of the archive `{digest}`")]
    Manifest {
        /// The archive's digest.
        digest: String,
        /// What is wrong with the list.
        #[source]
        source: crate::ManifestError,
    },
    /// A record could not be encoded.
    #[error("failed to encode the cache record for `{}`", path.display())]
    Encode {
        /// The record's file.
        path: PathBuf,
        /// The encoding error.
        #[source]
        source: serde_json::Error,
    },
}

/// What a lock failure's message adds: who holds the cache, when it is held.
fn lock_hint(error: &LockError) -> &'static str {
    match error {
        LockError::Timeout { .. } => {
            " (cache maintenance, cleaning or pruning, holds it exclusively while it runs)"
        }
        _ => "",
    }
}
