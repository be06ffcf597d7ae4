use std::path::PathBuf;
use std::time::Duration;

use cairn_fs::FsError;

use crate::CacheError;

/// A failure of a maintenance command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaintenanceError {
    /// Opening the cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// Reading or removing something in the cache failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// Another process holds the cache and we were told not to wait.
    #[error(
        "the cache `{}` is in use by another cairn process; try again when it has finished, \
         or allow waiting for it",
        root.display()
    )]
    Busy {
        /// The cache root.
        root: PathBuf,
    },
    /// Another process held the cache longer than we were allowed to wait.
    #[error(
        "timed out after {} s waiting for other cairn processes to finish with the cache `{}`; \
         try again when they have finished, or allow a longer wait",
        timeout.as_secs(),
        root.display()
    )]
    LockTimeout {
        /// The cache root.
        root: PathBuf,
        /// How long we waited.
        timeout: Duration,
    },
    /// A bucket is a symbolic link: following it could read or delete outside the cache.
    #[error(
        "`{}` is a symbolic link; cairn maintains only buckets that are real directories \
         inside the cache root (point --cache-dir at the real location instead)",
        path.display()
    )]
    SymlinkedBucket {
        /// The bucket.
        path: PathBuf,
    },
    /// Removal was asked of a handle that does not hold the cache exclusively.
    #[error(
        "refusing to remove entries from `{}` without its exclusive lock \
         (open it with Cache::open_exclusive)",
        root.display()
    )]
    NotExclusive {
        /// The cache root.
        root: PathBuf,
    },
    /// A path to remove is not strictly inside the cache root.
    #[error("refusing to remove `{}`: it is not inside the cache `{}`", path.display(), root.display())]
    OutsideRoot {
        /// The path.
        path: PathBuf,
        /// The cache root.
        root: PathBuf,
    },
    /// Some removals failed; the others were done.
    #[error(
        "{failed} of {planned} removals failed; the rest were done, and running the command \
         again retries the failed ones"
    )]
    Removal {
        /// How many removals failed.
        failed: usize,
        /// How many were planned.
        planned: usize,
        /// The first failure.
        #[source]
        first: Box<MaintenanceError>,
    },
}
