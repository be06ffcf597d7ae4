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
    /// The wheel's `.dist-info` names another project or version than its file name.
    #[error(
        "`{wheel}` is not the wheel its file name says: {found_in} says {inside}, the file name \
         says {named}; it was refused and nothing was cached. Check where the file came from, \
         or name it after what it holds"
    )]
    NotTheNamedWheel {
        /// The wheel, as shown (a path, a URL or a file name).
        wheel: String,
        /// The project and version inside, e.g. `tomli 2.5.0`.
        inside: String,
        /// Where inside they were read, e.g. `` `tomli-2.5.0.dist-info/METADATA` ``.
        found_in: String,
        /// The project and version of the file name, e.g. `tomli 9.9.9`.
        named: String,
    },
    /// The archive is a valid zip but not a wheel (no single `.dist-info` directory).
    #[error(
        "`{wheel}` is not a valid wheel: {problem}; it was refused and nothing was cached. \
         Rebuild the wheel or check where it came from"
    )]
    InvalidWheel {
        /// The wheel, as shown.
        wheel: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A server answered a wheel's URL with something else, such as an HTML error or login
    /// page served with status 200.
    #[error(
        "{url} sent {what}, not a wheel (Content-Type {content_type}, starting with `{start}`); \
         check the URL, or the index or proxy that answered it, which may have served an error \
         or login page"
    )]
    NotAWheel {
        /// The URL, credentials removed.
        url: String,
        /// What the server sent: "an HTML page", "a JSON document", "text".
        what: &'static str,
        /// The response's `Content-Type`, or "unknown".
        content_type: String,
        /// The first bytes of the body, as text, cut short.
        start: String,
    },
    /// A background task failed.
    #[error("internal error while fetching `{source_name}`: {message}")]
    Task {
        /// The wheel.
        source_name: String,
        /// What happened.
        message: String,
    },
}
