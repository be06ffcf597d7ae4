use std::fs::{File, OpenOptions};
use std::io;
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

/// Opens (creating it if needed) the lock file at `path`. A lock file this user cannot write (a
/// cache on a read-only mount, or another user's) is opened read-only: `flock` locks work on
/// any open descriptor, so readers of such a cache still exclude its maintenance.
fn open_lock_file(path: &Path, mode: LockMode) -> Result<File, LockError> {
    let io_error = |source| LockError::Io {
        path: path.to_owned(),
        mode,
        source,
    };
    // The usual case, one syscall: the lock file exists.
    match open_existing(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        opened => return opened.map_err(io_error),
    }
    let mut create = OpenOptions::new();
    create.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        create.mode(crate::permissions::lock_file_mode(
            crate::atomic::parent_of(path),
        ));
    }
    match create.open(path) {
        Ok(file) => {
            share_lock_file(&file, path);
            Ok(file)
        }
        // Another process created it meanwhile.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            open_existing(path).map_err(io_error)
        }
        Err(error) => Err(io_error(error)),
    }
}

/// Opens the existing lock file at `path` for writing, or for reading only when this user may
/// not write it.
fn open_existing(path: &Path) -> io::Result<File> {
    match OpenOptions::new().read(true).write(true).open(path) {
        Err(error) if is_not_writable(&error) => open_read_only(path),
        opened => opened,
    }
}

/// Opens an existing lock file for reading only, saying so in the log.
fn open_read_only(path: &Path) -> io::Result<File> {
    let file = File::open(path)?;
    tracing::debug!(path = %path.display(), "the lock file is not writable; locking it read-only");
    Ok(file)
}

/// Whether `error` says this user may not write there (as opposed to a missing file or an I/O
/// failure).
pub(crate) fn is_not_writable(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// Makes a lock file just created in a shared directory writable by the group, which the
/// umask may have prevented. Only logged on failure: the group can still lock it read-only.
fn share_lock_file(file: &File, path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::atomic::parent_of(path);
        if crate::permissions::is_shared_dir(dir) {
            let mode = crate::permissions::lock_file_mode(dir);
            if let Err(error) = file.set_permissions(std::fs::Permissions::from_mode(mode)) {
                tracing::debug!(path = %path.display(), %error, "cannot share the lock file");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (file, path);
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
