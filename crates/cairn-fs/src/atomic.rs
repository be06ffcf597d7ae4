use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::FsError;

/// Prefix of every temporary file or directory cairn creates next to its final location.
///
/// Readers skip names with this prefix and maintenance removes stale ones left by crashed
/// processes.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Writes `bytes` to `path` so that readers see either the old content or all of the new.
///
/// The bytes go to a temp file in the same directory (same filesystem, so the rename is atomic),
/// which is fsynced, renamed over `path`, and then the directory is fsynced so the rename itself
/// survives a power loss. A crash at any point leaves at most a `.tmp-*` file behind, never a
/// partial `path`. Missing parent directories are created.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("pointer.json");
/// cairn_fs::write_atomic(&path, b"{}").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"{}");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let parent = parent_of(path);
    crate::create_dir_all(parent).map_err(|e| FsError::new("create directory", parent, e))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    // Cache records are readable by everyone who can read the cache (umask applies), not 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut temp = builder
        .tempfile_in(parent)
        .map_err(|e| FsError::new("create a temporary file in", parent, e))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| FsError::new("write", temp.path(), e))?;
    temp.persist(path)
        .map_err(|e| FsError::new("rename a temporary file to", path, e.error))?;
    sync_dir(parent)
}

/// Fsyncs a directory so that entries created or renamed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|e| FsError::new("sync directory", dir, e))
}

pub(crate) fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}
