//! Modes of what the cache creates: never writable by other users, whatever the umask, and
//! writable by a group when the directory it is created in is shared with that group.
//!
//! A directory is *shared* when it is setgid and group-writable, as an administrator makes a
//! cache root for a team (`install -d -m 2775 -g devs /srv/cairn-cache`). Directories created
//! inside a shared directory are shared too (mode `2775`, set explicitly so that a user's umask
//! of `022` does not take the group's write bit away); files and lock files created there are
//! group-readable, lock files group-writable. Elsewhere directories are `755` and files `644`,
//! reduced by the umask but never widened by it: under `umask 000` nothing is world-writable.

use std::fs::{DirBuilder, Metadata};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

/// Mode of directories in a private cache (reduced by the umask).
const DIR_MODE: u32 = 0o755;
/// Mode of directories in a shared cache (set explicitly).
const SHARED_DIR_MODE: u32 = 0o2775;
/// Mode of lock files in a private cache (reduced by the umask).
const LOCK_FILE_MODE: u32 = 0o644;
/// Mode of lock files in a shared cache: every member opens them for writing.
const SHARED_LOCK_FILE_MODE: u32 = 0o664;

/// The setgid bit.
#[cfg(unix)]
const SETGID: u32 = 0o2000;
/// The group's write bit.
#[cfg(unix)]
const GROUP_WRITE: u32 = 0o020;

/// Whether a directory with this metadata is shared with its group: setgid and group-writable.
pub fn is_shared(metadata: &Metadata) -> bool {
    #[cfg(unix)]
    {
        let mode = metadata.mode();
        metadata.is_dir() && mode & SETGID != 0 && mode & GROUP_WRITE != 0
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        false
    }
}

/// Whether the directory `dir` is shared with its group (see [`is_shared`]); `false` when it
/// cannot be read.
pub fn is_shared_dir(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|metadata| is_shared(&metadata))
}

/// Creates `path` and its missing parents, each with the mode its parent calls for (module
/// docs). Succeeds when `path` is already a directory.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let root = tempfile::tempdir()?;
/// let dir = root.path().join("a/b/c");
/// cairn_fs::create_dir_all(&dir)?;
/// assert!(dir.is_dir());
/// # Ok(())
/// # }
/// ```
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => create_dir_all(parent)?,
        _ => {}
    }
    create_dir(path)
}

/// Creates the one directory `path`, whose parent exists, with the mode the parent calls for;
/// another process creating it first is no error.
fn create_dir(path: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    match builder.create(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {
            return Ok(());
        }
        Err(error) => return Err(error),
    }
    match path.parent() {
        Some(parent) if is_shared_dir(parent) => share(path),
        _ => Ok(()),
    }
}

/// Gives the directory `path`, just created inside a shared directory, the shared mode.
pub fn share(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SHARED_DIR_MODE))?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Gives `dir` and every directory below it the shared mode, when `dir` is shared: a tree
/// unpacked into a shared cache (whose directories the unpacker made `755`) becomes removable
/// by every member of the group. Symbolic links are not followed. Only directories change:
/// removing a file needs write access to its directory, not to the file.
pub fn share_tree(dir: &Path) -> io::Result<()> {
    if !is_shared_dir(dir) {
        return Ok(());
    }
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                let path = entry.path();
                share(&path)?;
                pending.push(path);
            }
        }
    }
    Ok(())
}

/// A new temporary directory in `parent` whose name starts with `prefix`, with the mode a
/// directory created there gets (module docs), so that it can be renamed into place as a cache
/// entry as it is.
pub fn temp_dir_in(parent: &Path, prefix: &str) -> io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    builder.permissions(std::fs::Permissions::from_mode(DIR_MODE));
    let temp = builder.tempdir_in(parent)?;
    if is_shared_dir(parent) {
        share(temp.path())?;
    }
    Ok(temp)
}

/// The mode for a new lock file in `dir`.
pub(crate) fn lock_file_mode(dir: &Path) -> u32 {
    if is_shared_dir(dir) {
        SHARED_LOCK_FILE_MODE
    } else {
        LOCK_FILE_MODE
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn directories_in_a_private_directory_are_not_writable_by_others() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = root.path().join("a/b");
        create_dir_all(&dir).unwrap();
        // The umask may take bits away, never add them.
        assert_eq!(mode(&dir) & !0o755, 0);
        assert_eq!(mode(&root.path().join("a")) & 0o022, mode(&dir) & 0o022);
    }

    #[test]
    fn directories_in_a_shared_directory_are_shared() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o2775)).unwrap();
        assert!(is_shared_dir(root.path()));
        let dir = root.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&root.path().join("a")), 0o2775);
        assert_eq!(mode(&dir), 0o2775);
    }

    #[test]
    fn a_tree_in_a_shared_directory_is_shared_throughout() {
        let root = tempfile::tempdir().unwrap();
        let tree = root.path().join("tree");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("a/file"), b"").unwrap();
        // Not shared: left alone.
        share_tree(&tree).unwrap();
        assert_eq!(mode(&tree.join("a/b")) & 0o2020, 0);
        share(&tree).unwrap();
        share_tree(&tree).unwrap();
        assert_eq!(mode(&tree.join("a")), 0o2775);
        assert_eq!(mode(&tree.join("a/b")), 0o2775);
        assert_eq!(mode(&tree.join("a/file")) & 0o2000, 0);
    }

    #[test]
    fn an_existing_directory_is_left_as_it_is() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        create_dir_all(root.path()).unwrap();
        assert_eq!(mode(root.path()), 0o700);
        let file = root.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(create_dir_all(&file).is_err());
    }
}
