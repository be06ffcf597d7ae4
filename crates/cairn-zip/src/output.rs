//! Creating the extracted files and directories: never following or replacing anything that
//! already exists, with permissions set by the creating syscall itself.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Mode of extracted directories and executable files.
const MODE_EXECUTABLE: u32 = 0o755;
/// Mode of other extracted files.
const MODE_REGULAR: u32 = 0o644;

/// Creates a new file for writing; fails if anything (including a symbolic link) is already at
/// `path` (`O_EXCL`), so extraction can never write through a link or over another entry.
pub(crate) fn create_file(path: &Path, executable: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(if executable {
        MODE_EXECUTABLE
    } else {
        MODE_REGULAR
    });
    #[cfg(not(unix))]
    let _ = executable;
    options.open(path)
}

/// Creates one directory whose parent exists; fails if anything is already at `path`.
pub(crate) fn create_dir(path: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    #[cfg(unix)]
    builder.mode(MODE_EXECUTABLE);
    builder.create(path)
}

/// Makes a file this extraction created executable. Only the streaming extractor needs this: it
/// learns the mode from the central directory, after the file is written. Execute bits follow
/// the read bits the umask left, which gives the same mode as creating it with 0o755 for every
/// usual umask (022, 002, 027, 077).
pub(crate) fn make_executable(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let mode = std::fs::symlink_metadata(path)?.permissions().mode() & 0o777;
        std::fs::set_permissions(
            path,
            std::fs::Permissions::from_mode(mode | (mode & 0o444) >> 2),
        )?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
