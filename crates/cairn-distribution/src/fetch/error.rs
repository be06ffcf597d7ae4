use std::path::PathBuf;

use cairn_hash::{HashError, HashMismatch};
use cairn_types::SourceError;
use cairn_zip::UnzipError;

/// Why a wheel could not be fetched into the cache. The cache is unchanged by a failed fetch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The input names no usable wheel.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The local wheel file could not be read.
    #[error("cannot read the wheel `{}`; check that the file exists and is readable", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Hashing a file failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// The wheel's bytes do not match an expected hash.
    #[error(transparent)]
    HashMismatch(#[from] HashMismatch),
    /// The archive is invalid or unsafe.
    #[error(transparent)]
    Unzip(#[from] UnzipError),
    /// The download failed.
    #[error(transparent)]
    Download(#[from] cairn_http::DownloadError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] cairn_cache::CacheError),
    /// A background task failed.
    #[error("internal error while fetching `{source_name}`: {message}")]
    Task {
        /// The wheel.
        source_name: String,
        /// What happened.
        message: String,
    },
}
