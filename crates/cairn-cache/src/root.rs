use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_cache_key::{CacheKey, cache_digest};
use cairn_fs::{FsError, LockError, LockMode, LockedFile, TEMP_PREFIX};
use tempfile::TempDir;

use crate::{CacheBucket, CacheEntry, CacheError, CacheShard};

/// Name of the lock file at the cache root.
pub const LOCK_FILE: &str = ".lock";

/// Name of the lock file that gives waiting maintenance precedence over newcomers.
///
/// flock has no queue: while users overlap, an exclusive waiter would never find `.lock` free.
/// So a maintainer takes this file exclusively *before* it waits for `.lock`, and every opener
/// passes through it (shared, for an instant) before taking `.lock`. Once maintenance is
/// waiting, newcomers wait behind it; the users already in finish, and maintenance runs.
pub const MAINTENANCE_LOCK_FILE: &str = ".maintenance.lock";

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by cairn.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// How to find and open the cache.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// An explicit root (`--cache-dir`); wins over `CAIRN_CACHE_DIR` and the platform default.
    pub dir: Option<PathBuf>,
    /// Use a temporary cache removed when the last handle is dropped (`--no-cache`).
    pub no_cache: bool,
    /// How long to wait for the root lock when maintenance holds the cache; `None` waits forever.
    pub lock_timeout: Option<Duration>,
}

impl CacheSettings {
    /// The root a persistent cache would use under these settings (`no_cache` aside), made
    /// absolute, without creating or locking anything.
    pub fn persistent_root(&self) -> Result<PathBuf, CacheError> {
        resolve_root(self.dir.as_deref())
    }
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            dir: None,
            no_cache: false,
            lock_timeout: Some(Duration::from_secs(300)),
        }
    }
}

/// A handle on an open cache: cheap to clone, `Send + Sync`.
///
/// Every handle holds a lock on the root's `.lock` file for as long as it lives: shared for
/// ordinary use (installs run side by side, because adding entries never changes existing
/// ones), exclusive for maintenance that deletes (see [`Cache::open_exclusive`]).
#[derive(Debug, Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    /// The mode this handle was opened in.
    mode: LockMode,
    // Field order matters: the lock is released before a temporary root is deleted. `None`
    // when the cache cannot be locked because this user cannot create its lock files (see
    // `lock_root`).
    _lock: Option<LockedFile>,
    _temporary: Option<TempDir>,
}

impl Cache {
    /// Opens the cache chosen by `settings` with a shared lock.
    pub fn open(settings: &CacheSettings) -> Result<Self, CacheError> {
        Self::open_with(settings, LockMode::Shared)
    }

    /// Opens the cache chosen by `settings` with the exclusive lock that maintenance needs,
    /// waiting for other processes to finish (at most `settings.lock_timeout`).
    pub fn open_exclusive(settings: &CacheSettings) -> Result<Self, CacheError> {
        Self::open_with(settings, LockMode::Exclusive)
    }

    /// Opens the cache at `root` with a shared lock, waiting as long as the default settings do.
    pub fn at(root: impl Into<PathBuf>) -> Result<Self, CacheError> {
        Self::open(&CacheSettings {
            dir: Some(root.into()),
            ..CacheSettings::default()
        })
    }

    /// A cache in a new temporary directory, deleted when the last handle is dropped.
    pub fn temporary() -> Result<Self, CacheError> {
        Self::open(&CacheSettings {
            no_cache: true,
            ..CacheSettings::default()
        })
    }

    fn open_with(settings: &CacheSettings, mode: LockMode) -> Result<Self, CacheError> {
        let (root, temporary) = if settings.no_cache {
            let temp = tempfile::Builder::new()
                .prefix("cairn-cache-")
                .tempdir()
                .map_err(|e| {
                    FsError::new("create a temporary cache in", std::env::temp_dir(), e)
                })?;
            (temp.path().to_owned(), Some(temp))
        } else {
            (resolve_root(settings.dir.as_deref())?, None)
        };
        initialize(&root)?;
        let lock = match lock_root(&root, mode, settings.lock_timeout) {
            Ok(lock) => Some(lock),
            // Nothing in a cache this user cannot write can change under a reader but by
            // maintenance, which another user runs: entries are immutable and replaced whole.
            Err(LockError::Io { path, source, .. })
                if mode == LockMode::Shared && cannot_create(&source) =>
            {
                tracing::debug!(
                    lock = %path.display(),
                    %source,
                    "the cache is not writable and its lock file cannot be created; reading it without a lock"
                );
                None
            }
            Err(LockError::Io { path, source, .. }) if cannot_create(&source) => {
                return Err(CacheError::NotWritable {
                    root,
                    action: "lock",
                    path,
                    source,
                });
            }
            Err(error) => return Err(error.into()),
        };
        if mode == LockMode::Exclusive {
            // Maintenance removes entries: say at once when this user cannot, rather than
            // after trying every removal.
            let probe = cairn_fs::temp_dir_in(&root, TEMP_PREFIX);
            if let Err(source) = probe.and_then(tempfile::TempDir::close) {
                return Err(not_writable_or(&root, "change", &root, source));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                mode,
                _lock: lock,
                _temporary: temporary,
            }),
        })
    }

    /// The absolute cache root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Whether this handle holds the root lock exclusively, as removing entries requires.
    pub fn is_exclusive(&self) -> bool {
        self.inner.mode == LockMode::Exclusive
    }

    /// The directory of `bucket`.
    pub fn bucket(&self, bucket: CacheBucket) -> PathBuf {
        self.inner.root.join(bucket.dir_name())
    }

    /// A shard (directory) inside `bucket`.
    pub fn shard(&self, bucket: CacheBucket, dir: impl AsRef<Path>) -> CacheShard {
        CacheShard::new(self.bucket(bucket).join(dir))
    }

    /// An entry (file) `file` in directory `dir` of `bucket`.
    pub fn entry(
        &self,
        bucket: CacheBucket,
        dir: impl AsRef<Path>,
        file: impl AsRef<Path>,
    ) -> CacheEntry {
        CacheEntry::new(self.bucket(bucket).join(dir).join(file))
    }

    /// A new temporary directory inside the cache root, on the same filesystem as every bucket,
    /// so it can be persisted with a rename. Its name starts with [`TEMP_PREFIX`]; leftovers
    /// from crashed processes are removed by `cairn cache prune`.
    ///
    /// In a cache this user cannot write, this is where a miss fails: the error says so
    /// ([`CacheError::NotWritable`]).
    pub fn temp_dir(&self) -> Result<TempDir, CacheError> {
        cairn_fs::temp_dir_in(self.root(), TEMP_PREFIX)
            .map_err(|e| self.write_error("create a temporary directory in", self.root(), e))
    }

    /// The error for a failed write at `path`: [`CacheError::NotWritable`] when this user may
    /// not write there, else the filesystem's error.
    pub fn write_error(
        &self,
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> CacheError {
        not_writable_or(self.root(), action, path, source)
    }

    /// Takes a per-key lock so that two processes do not do the same expensive work (a download
    /// and unpack of one wheel) at once. The lock file lives in the locks bucket under the
    /// key's digest; waiting is bounded by `timeout` (`None`: forever).
    pub fn lock<K: CacheKey + ?Sized>(
        &self,
        key: &K,
        timeout: Option<Duration>,
    ) -> Result<LockedFile, CacheError> {
        let dir = self.bucket(CacheBucket::Locks);
        cairn_fs::create_dir_all(&dir)
            .map_err(|e| self.write_error("create directory", &dir, e))?;
        let path = dir.join(format!("{}.lock", cache_digest(key)));
        LockedFile::acquire(&path, LockMode::Exclusive, timeout).map_err(|error| match error {
            LockError::Io { path, source, .. } => {
                self.write_error("create the lock file", path, source)
            }
            error => error.into(),
        })
    }
}

/// Takes the root lock in `mode` within `timeout`, passing through the maintenance lock first
/// (see [`MAINTENANCE_LOCK_FILE`]). Lock order: the maintenance lock, then `.lock`; neither is
/// ever taken while the other is held the other way round, so they cannot deadlock.
fn lock_root(
    root: &Path,
    mode: LockMode,
    timeout: Option<Duration>,
) -> Result<LockedFile, LockError> {
    let deadline = timeout.map(|timeout| (Instant::now() + timeout, timeout));
    let gate = LockedFile::acquire(&root.join(MAINTENANCE_LOCK_FILE), mode, timeout)?;
    let remaining =
        deadline.map(|(deadline, _)| deadline.saturating_duration_since(Instant::now()));
    let lock = LockedFile::acquire(&root.join(LOCK_FILE), mode, remaining).map_err(|error| {
        // Report the whole wait, not what was left of it.
        match (error, deadline) {
            (LockError::Timeout { path, mode, .. }, Some((_, timeout))) => LockError::Timeout {
                path,
                mode,
                timeout,
            },
            (error, _) => error,
        }
    })?;
    // Held no longer than needed: a user passing through releases it at once; maintenance,
    // once it holds `.lock`, lets the next newcomer queue up behind it.
    drop(gate);
    Ok(lock)
}

/// [`CacheError::NotWritable`] when `source` says this user may not write in the cache at
/// `root`, else the filesystem's error.
fn not_writable_or(
    root: &Path,
    action: &'static str,
    path: impl Into<PathBuf>,
    source: std::io::Error,
) -> CacheError {
    let path = path.into();
    if cannot_create(&source) {
        CacheError::NotWritable {
            root: root.to_owned(),
            action,
            path,
            source,
        }
    } else {
        FsError::new(action, path, source).into()
    }
}

/// Whether a lock file failed to open because this user may not create it.
fn cannot_create(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

/// The root chosen by an explicit path, then `CAIRN_CACHE_DIR`, then the platform's cache
/// directory (`$XDG_CACHE_HOME/cairn` or `~/.cache/cairn` on Linux), made absolute.
fn resolve_root(explicit: Option<&Path>) -> Result<PathBuf, CacheError> {
    let chosen = match explicit {
        Some(dir) => dir.to_owned(),
        None => match std::env::var_os("CAIRN_CACHE_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => dirs::cache_dir()
                .ok_or(CacheError::NoCacheDir)?
                .join("cairn"),
        },
    };
    std::path::absolute(&chosen)
        .map_err(|e| CacheError::from(FsError::new("resolve the cache directory", chosen, e)))
}

/// Creates the root with its `CACHEDIR.TAG` (so backup tools skip it) and a `.gitignore` of
/// `*` (so a cache inside a repository is never committed). Idempotent and race-free: each
/// file is written atomically only when missing.
fn initialize(root: &Path) -> Result<(), CacheError> {
    // A symlink to nothing would make `create_dir_all` fail with a bare "File exists".
    if std::fs::symlink_metadata(root).is_ok_and(|meta| meta.file_type().is_symlink())
        && !root.exists()
    {
        let target = std::fs::read_link(root).unwrap_or_default();
        return Err(FsError::new(
            "use the cache directory",
            root,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "it is a symlink to {}, which does not exist: create that directory, or \
                     remove the link",
                    target.display()
                ),
            ),
        )
        .into());
    }
    cairn_fs::create_dir_all(root)
        .map_err(|e| FsError::new("create the cache directory", root, e))?;
    // Each unpack starts as a temporary directory in the root: let ext4 place each in its own
    // block group. Only a hint, so failing to give it is no error.
    if let Err(error) = cairn_fs::mark_top_of_hierarchies(root) {
        tracing::debug!(root = %root.display(), %error, "cannot mark the cache root as a top directory");
    }
    for (name, content) in [("CACHEDIR.TAG", CACHEDIR_TAG), (".gitignore", "*\n")] {
        let path = root.join(name);
        if !path.exists() {
            match cairn_fs::write_atomic(&path, content.as_bytes()) {
                Ok(()) => {}
                // A cache this user cannot write still serves what it holds.
                Err(error)
                    if error.kind() == std::io::ErrorKind::PermissionDenied
                        || error.kind() == std::io::ErrorKind::ReadOnlyFilesystem =>
                {
                    tracing::debug!(%error, "cannot mark the cache directory");
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(())
}
