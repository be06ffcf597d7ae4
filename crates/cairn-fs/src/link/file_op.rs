//! One file, one mode: the few syscalls behind each rung of the ladder.
//!
//! Every operation creates its destination with no-clobber semantics (`O_CREAT | O_EXCL`,
//! `link`, `symlink`), so an existing entry, including a symlink planted at the destination, is
//! an error and never followed. A destination this module created is removed again if the
//! operation fails halfway, so a fallback can retry the same path.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{LinkDir, LinkMode};

/// Which part of an operation failed: only a failure of the transfer itself can mean "this
/// filesystem cannot do this mode"; failing to open the source or create the destination means
/// the same thing in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Opening the source or creating the destination file.
    Prepare,
    /// The clone, link, symlink or byte copy itself.
    Transfer,
}

/// An I/O error and the step it came from.
#[derive(Debug)]
pub(crate) struct OpError {
    pub(crate) step: Step,
    pub(crate) error: io::Error,
}

pub(crate) trait AtStep<T> {
    fn at(self, step: Step) -> Result<T, OpError>;
}

impl<T> AtStep<T> for io::Result<T> {
    fn at(self, step: Step) -> Result<T, OpError> {
        self.map_err(|error| OpError { step, error })
    }
}

/// Where one file comes from and where it goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pair<'a> {
    /// Two paths.
    Paths { src: &'a Path, dst: &'a Path },
    /// A name in each of two open directories.
    At {
        src_dir: &'a LinkDir,
        src: &'a OsStr,
        dst_dir: &'a LinkDir,
        dst: &'a OsStr,
    },
}

impl Pair<'_> {
    /// The source's full path, for messages.
    pub(crate) fn src_path(&self) -> PathBuf {
        match self {
            Self::Paths { src, .. } => src.to_path_buf(),
            Self::At { src_dir, src, .. } => src_dir.path().join(src),
        }
    }

    /// The destination's full path, for messages.
    pub(crate) fn dst_path(&self) -> PathBuf {
        match self {
            Self::Paths { dst, .. } => dst.to_path_buf(),
            Self::At { dst_dir, dst, .. } => dst_dir.path().join(dst),
        }
    }
}

/// Make the destination of `pair` a new file with its source's contents (or, for symlinks, a
/// link to it) using `mode`. For [`LinkMode::Symlink`], the source's path must be absolute.
pub(crate) fn link_pair(mode: LinkMode, pair: Pair<'_>) -> Result<(), OpError> {
    match pair {
        Pair::Paths { src, dst } => link_one(mode, src, dst),
        #[cfg(target_os = "linux")]
        Pair::At {
            src_dir,
            src,
            dst_dir,
            dst,
        } => super::file_op_at::link_one_at(mode, src_dir, src, dst_dir, dst),
        // Without descriptors, the names are joined to their directories' paths.
        #[cfg(not(target_os = "linux"))]
        Pair::At { .. } => link_one(mode, &pair.src_path(), &pair.dst_path()),
    }
}

/// Make `dst` a new file with `src`'s contents (or, for symlinks, a link to it) using `mode`.
/// For [`LinkMode::Symlink`], `src` must be absolute.
fn link_one(mode: LinkMode, src: &Path, dst: &Path) -> Result<(), OpError> {
    match mode {
        LinkMode::Clone => clone_file(src, dst),
        LinkMode::Hardlink => fs::hard_link(src, dst).at(Step::Transfer),
        LinkMode::Copy => copy_file(src, dst),
        LinkMode::Symlink => symlink_file(src, dst).at(Step::Transfer),
    }
}

/// Open `src` and create `dst` carrying `src`'s permission bits, so no `chmod` follows. As for
/// any new file, the process umask filters those bits (exactly what a fresh `pip install`
/// does); set-id and sticky bits are never carried over from the cache.
fn open_pair(src: &Path, dst: &Path) -> io::Result<(File, File, u64)> {
    let reader = File::open(src)?;
    let metadata = reader.metadata()?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(metadata.permissions().mode() & 0o777);
    }
    let writer = options.open(dst)?;
    Ok((reader, writer, metadata.len()))
}

/// Remove a destination this module created; it is ours (it was created with `O_EXCL`), and a
/// leftover would turn the fallback's retry into a spurious "already exists".
fn discard(dst: &Path, writer: File) {
    drop(writer);
    if let Err(error) = fs::remove_file(dst) {
        tracing::warn!(path = %dst.display(), %error, "cannot remove a partially linked file");
    }
}

/// Clone with `FICLONE` into a file created with the source's mode.
#[cfg(target_os = "linux")]
fn clone_file(src: &Path, dst: &Path) -> Result<(), OpError> {
    let (reader, writer, _) = open_pair(src, dst).at(Step::Prepare)?;
    rustix::fs::ioctl_ficlone(&writer, &reader).or_else(|errno| {
        discard(dst, writer);
        Err(io::Error::from(errno)).at(Step::Transfer)
    })
}

/// Elsewhere the platform call creates the destination itself (macOS `clonefile` copies the
/// mode and refuses an existing destination).
#[cfg(not(target_os = "linux"))]
fn clone_file(src: &Path, dst: &Path) -> Result<(), OpError> {
    reflink_copy::reflink(src, dst).at(Step::Transfer)
}

/// Copy the bytes into a new file created with the source's mode.
fn copy_file(src: &Path, dst: &Path) -> Result<(), OpError> {
    let (reader, writer, len) = open_pair(src, dst).at(Step::Prepare)?;
    match copy_bytes(&reader, &writer, len) {
        Ok(()) => Ok(()),
        Err(error) => {
            discard(dst, writer);
            Err(error).at(Step::Transfer)
        }
    }
}

/// Copy `len` bytes inside the kernel. The length is known from the source's metadata, so a
/// file takes one `copy_file_range` call, without the two `fstat`s and the end-of-file probe
/// of `std::io::copy`. Between filesystems `copy_file_range` fails with EXDEV up front and
/// `sendfile` does the copy; where neither serves, `std::io::copy` reads and writes.
#[cfg(target_os = "linux")]
pub(crate) fn copy_bytes(reader: &File, writer: &File, len: u64) -> io::Result<()> {
    use rustix::io::Errno;

    let mut remaining = len;
    let mut across_filesystems = false;
    while remaining > 0 {
        let chunk = usize::try_from(remaining).unwrap_or(usize::MAX);
        let copied = if across_filesystems {
            rustix::fs::sendfile(writer, reader, None, chunk)
        } else {
            rustix::fs::copy_file_range(reader, None, writer, None, chunk)
        };
        match copied {
            Ok(0) => return Err(source_shrank()),
            Ok(copied) => remaining = remaining.saturating_sub(copied as u64),
            Err(Errno::INTR) => {}
            // Both calls fail before copying anything, so the file offsets are where the next
            // attempt must start.
            Err(Errno::XDEV | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP | Errno::PERM)
                if !across_filesystems =>
            {
                across_filesystems = true;
            }
            Err(Errno::INVAL | Errno::NOSYS) => {
                return copy_bytes_portably(reader, writer, remaining);
            }
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn copy_bytes(reader: &File, writer: &File, len: u64) -> io::Result<()> {
    copy_bytes_portably(reader, writer, len)
}

/// Copy the next `len` bytes of `reader` (from its current offset) to `writer`.
fn copy_bytes_portably(mut reader: &File, mut writer: &File, len: u64) -> io::Result<()> {
    let copied = io::copy(&mut (&mut reader).take(len), &mut writer)?;
    if copied == len {
        Ok(())
    } else {
        Err(source_shrank())
    }
}

/// The cache's files never change; one that does is reported rather than half copied.
fn source_shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the source file shrank while it was being copied",
    )
}

#[cfg(unix)]
fn symlink_file(src: &Path, dst: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(src, dst)
}

#[cfg(windows)]
fn symlink_file(src: &Path, dst: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_file(src, dst)
}

#[cfg(not(any(unix, windows)))]
fn symlink_file(_src: &Path, _dst: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symlinks are not supported on this platform",
    ))
}
