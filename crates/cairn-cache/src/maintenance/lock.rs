//! Opening the cache for maintenance: say so when another process is in the way, then wait a
//! bounded time, or not at all.

use std::path::Path;
use std::time::Duration;

use cairn_fs::{LockError, LockMode};

use super::MaintenanceError;
use crate::{Cache, CacheError, CacheSettings};

/// How long to wait when another process holds the cache in a conflicting mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockWait {
    /// Fail at once.
    NoWait,
    /// Wait at most this long.
    Timeout(Duration),
    /// Wait as long as it takes.
    Forever,
}

/// Opens the cache `settings` choose with the root lock in `mode`: shared to read beside other
/// processes, exclusive to remove entries.
///
/// The lock is first tried without waiting. If another process holds it, `on_wait` is called
/// once with the cache root (to tell the user why nothing happens), and then the lock is waited
/// for as `wait` allows; with [`LockWait::NoWait`] the result is [`MaintenanceError::Busy`].
pub fn open_cache(
    settings: &CacheSettings,
    mode: LockMode,
    wait: LockWait,
    on_wait: impl FnOnce(&Path),
) -> Result<Cache, MaintenanceError> {
    let open = |timeout: Option<Duration>| {
        let settings = CacheSettings {
            lock_timeout: timeout,
            ..settings.clone()
        };
        match mode {
            LockMode::Shared => Cache::open(&settings),
            LockMode::Exclusive => Cache::open_exclusive(&settings),
        }
    };
    match open(Some(Duration::ZERO)) {
        Err(error) if is_timeout(&error) => {}
        result => return Ok(result?),
    }
    let root = settings.persistent_root()?;
    let timeout = match wait {
        LockWait::NoWait => return Err(MaintenanceError::Busy { root }),
        LockWait::Timeout(timeout) => Some(timeout),
        LockWait::Forever => None,
    };
    on_wait(&root);
    match open(timeout) {
        Err(error) if is_timeout(&error) => Err(MaintenanceError::LockTimeout {
            root,
            timeout: timeout.unwrap_or_default(),
        }),
        result => Ok(result?),
    }
}

fn is_timeout(error: &CacheError) -> bool {
    matches!(
        error,
        CacheError::Lock {
            source: LockError::Timeout { .. }
        }
    )
}
