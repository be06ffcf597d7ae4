//! One file, one mode, named relative to open directories (Linux): the `*at` twins of
//! `file_op`, with the same no-clobber and clean-up rules.
//!
//! Each call resolves one name in each directory instead of two full paths. The source is
//! opened with `O_NOFOLLOW`, so a symlink planted in the cache is refused (`ELOOP`) rather than
//! copied through; `linkat` without `AT_SYMLINK_FOLLOW` never follows one either.

use std::ffi::OsStr;
use std::fs::File;
use std::io;

use rustix::fs::{AtFlags, Mode, OFlags, linkat, openat, symlinkat, unlinkat};

use super::file_op::{AtStep, OpError, Step, copy_bytes};
use super::{LinkDir, LinkMode};

/// Make `dst` in `dst_dir` a new file with the contents of `src` in `src_dir` using `mode`.
/// A symlink points at the source's path as `src_dir` names it, so that must be absolute.
pub(crate) fn link_one_at(
    mode: LinkMode,
    src_dir: &LinkDir,
    src: &OsStr,
    dst_dir: &LinkDir,
    dst: &OsStr,
) -> Result<(), OpError> {
    match mode {
        LinkMode::Clone => clone_at(src_dir, src, dst_dir, dst),
        LinkMode::Hardlink => linkat(src_dir.fd(), src, dst_dir.fd(), dst, AtFlags::empty())
            .map_err(io::Error::from)
            .at(Step::Transfer),
        LinkMode::Copy => copy_at(src_dir, src, dst_dir, dst),
        LinkMode::Symlink => symlinkat(src_dir.path().join(src), dst_dir.fd(), dst)
            .map_err(io::Error::from)
            .at(Step::Transfer),
    }
}

/// Open `src` and create `dst` carrying `src`'s permission bits (filtered by the umask; never
/// set-id or sticky), as `file_op::open_pair` does.
fn open_pair_at(
    src_dir: &LinkDir,
    src: &OsStr,
    dst_dir: &LinkDir,
    dst: &OsStr,
) -> io::Result<(File, File, u64)> {
    let reader = File::from(openat(
        src_dir.fd(),
        src,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?);
    let metadata = reader.metadata()?;
    let permissions = {
        use std::os::unix::fs::PermissionsExt;
        Mode::from_raw_mode(metadata.permissions().mode() & 0o777)
    };
    let writer = File::from(openat(
        dst_dir.fd(),
        dst,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
        permissions,
    )?);
    Ok((reader, writer, metadata.len()))
}

/// Remove a destination this module created (with `O_EXCL`, so it is ours), so that the
/// fallback's retry does not meet it.
fn discard_at(dst_dir: &LinkDir, dst: &OsStr, writer: File) {
    drop(writer);
    if let Err(error) = unlinkat(dst_dir.fd(), dst, AtFlags::empty()) {
        tracing::warn!(
            path = %dst_dir.path().join(dst).display(),
            %error,
            "cannot remove a partially linked file"
        );
    }
}

/// Clone with `FICLONE` into a file created with the source's mode.
fn clone_at(src_dir: &LinkDir, src: &OsStr, dst_dir: &LinkDir, dst: &OsStr) -> Result<(), OpError> {
    let (reader, writer, _) = open_pair_at(src_dir, src, dst_dir, dst).at(Step::Prepare)?;
    rustix::fs::ioctl_ficlone(&writer, &reader).or_else(|errno| {
        discard_at(dst_dir, dst, writer);
        Err(io::Error::from(errno)).at(Step::Transfer)
    })
}

/// Copy the bytes into a new file created with the source's mode.
fn copy_at(src_dir: &LinkDir, src: &OsStr, dst_dir: &LinkDir, dst: &OsStr) -> Result<(), OpError> {
    let (reader, writer, len) = open_pair_at(src_dir, src, dst_dir, dst).at(Step::Prepare)?;
    match copy_bytes(&reader, &writer, len) {
        Ok(()) => Ok(()),
        Err(error) => {
            discard_at(dst_dir, dst, writer);
            Err(error).at(Step::Transfer)
        }
    }
}
