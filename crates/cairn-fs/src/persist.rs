use std::io;
use std::path::Path;

use tempfile::TempDir;

use crate::FsError;
use crate::atomic::{parent_of, sync_dir};

/// What [`persist_dir`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistOutcome {
    /// The temp directory now lives at the destination.
    Persisted,
    /// Another writer got there first; the temp directory was discarded. Content-addressed
    /// entries are identical by construction, so this is success.
    AlreadyPresent,
}

/// Publishes a fully written temp directory at `dest` with one atomic rename.
///
/// `temp` must be on the same filesystem as `dest` (create it inside the cache). If `dest`
/// already exists, the rename fails without touching it, `temp` is deleted and the outcome is
/// [`PersistOutcome::AlreadyPresent`]: racing writers of the same content all succeed and exactly
/// one copy remains. The parent directory is fsynced after a successful rename; the files inside
/// `temp` are not (see `docs/layout.md` for what that guarantees).
///
/// ```
/// use cairn_fs::{persist_dir, PersistOutcome};
///
/// let root = tempfile::tempdir().unwrap();
/// let dest = root.path().join("ab").join("cdef");
/// for expected in [PersistOutcome::Persisted, PersistOutcome::AlreadyPresent] {
///     let temp = tempfile::tempdir_in(root.path()).unwrap();
///     std::fs::write(temp.path().join("file"), b"same content").unwrap();
///     assert_eq!(persist_dir(temp, &dest).unwrap(), expected);
/// }
/// ```
pub fn persist_dir(temp: TempDir, dest: &Path) -> Result<PersistOutcome, FsError> {
    let parent = parent_of(dest);
    crate::create_dir_all(parent).map_err(|e| FsError::new("create directory", parent, e))?;
    match std::fs::rename(temp.path(), dest) {
        Ok(()) => {
            // The directory now belongs to `dest`; keep `TempDir` from deleting it.
            let _ = temp.keep();
            sync_dir(parent)?;
            Ok(PersistOutcome::Persisted)
        }
        Err(error) if is_already_present(&error) || dest.is_dir() => {
            let temp_path = temp.path().to_owned();
            temp.close()
                .map_err(|e| FsError::new("remove temporary directory", temp_path, e))?;
            Ok(PersistOutcome::AlreadyPresent)
        }
        Err(error) => Err(FsError::new("rename a temporary directory to", dest, error)),
    }
}

/// Renaming a directory onto a non-empty one fails with ENOTEMPTY or EEXIST (POSIX allows both).
fn is_already_present(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists
    )
}
