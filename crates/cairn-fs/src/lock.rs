use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs4::{FileExt, TryLockError};

/// Whether a lock excludes other readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Many holders at once; excludes exclusive holders.
    Shared,
    /// One holder; excludes everyone else.
    Exclusive,
}

impl LockMode {
    fn describe(self) -> &'static str {
        match self {
            Self::Shared => "a shared",
            Self::Exclusive => "an exclusive",
        }
    }
}

/// Failure to take a [`LockedFile`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The lock file could not be opened or locked.
    #[error("failed to take {mode} lock on `{}`", path.display(), mode = mode.describe())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The requested mode.
        mode: LockMode,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another process held the lock for longer than the timeout.
    #[error(
        "timed out after {:.1}s waiting for a {mode} lock on `{}`: another process holds it; \
         wait for that process to finish and retry, or allow a longer wait",
        timeout.as_secs_f64(),
        path.display(),
        mode = mode.describe()
    )]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// The requested mode.
        mode: LockMode,
        /// How long we waited.
        timeout: Duration,
    },
}

impl LockError {
    /// The lock file that could not be locked.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::Io { path, .. } | Self::Timeout { path, .. } => path,
        }
    }
}

/// An advisory lock on a file, held until this value is dropped.
///
/// Locks are `flock`-style (via `fs4`): they belong to the open file, so they are released when
/// the process exits or crashes, and are never left stale on disk. They are advisory and do not
/// work reliably on network filesystems; see `docs/architecture.md`.
///
/// ```
/// use cairn_fs::{LockMode, LockedFile};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join(".lock");
/// let shared = LockedFile::try_acquire(&path, LockMode::Shared).unwrap();
/// assert!(shared.is_some());
/// ```
#[derive(Debug)]
pub struct LockedFile {
    file: File,
    path: PathBuf,
    mode: LockMode,
}

impl LockedFile {
    /// Takes the lock, waiting at most `timeout` (forever with `None`).
    ///
    /// The lock file is created if missing. Waiting polls with a backoff capped at 10 ms, so a
    /// released lock is picked up quickly without spinning.
    pub fn acquire(
        path: &Path,
        mode: LockMode,
        timeout: Option<Duration>,
    ) -> Result<Self, LockError> {
        let file = open_lock_file(path, mode)?;
        let Some(timeout) = timeout else {
            let result = match mode {
                LockMode::Shared => FileExt::lock_shared(&file),
                LockMode::Exclusive => FileExt::lock(&file),
            };
            result.map_err(|source| LockError::Io {
                path: path.to_owned(),
                mode,
                source,
            })?;
            return Ok(Self::new(file, path, mode));
        };
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            if try_lock(&file, path, mode)? {
                return Ok(Self::new(file, path, mode));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(LockError::Timeout {
                    path: path.to_owned(),
                    mode,
                    timeout,
                });
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Takes the lock if nobody conflicting holds it, without waiting.
    pub fn try_acquire(path: &Path, mode: LockMode) -> Result<Option<Self>, LockError> {
        let file = open_lock_file(path, mode)?;
        Ok(try_lock(&file, path, mode)?.then(|| Self::new(file, path, mode)))
    }

    fn new(file: File, path: &Path, mode: LockMode) -> Self {
        tracing::trace!(path = %path.display(), ?mode, "lock acquired");
        Self {
            file,
            path: path.to_owned(),
            mode,
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mode held.
    pub fn mode(&self) -> LockMode {
        self.mode
    }
}

impl Drop for LockedFile {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlocking first makes it prompt even if
        // the descriptor was duplicated into a child process.
        let _ = FileExt::unlock(&self.file);
    }
}

fn open_lock_file(path: &Path, mode: LockMode) -> Result<File, LockError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| LockError::Io {
            path: path.to_owned(),
            mode,
            source,
        })
}

fn try_lock(file: &File, path: &Path, mode: LockMode) -> Result<bool, LockError> {
    let result = match mode {
        LockMode::Shared => FileExt::try_lock_shared(file),
        LockMode::Exclusive => FileExt::try_lock(file),
    };
    match result {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(source)) => Err(LockError::Io {
            path: path.to_owned(),
            mode,
            source,
        }),
    }
}
