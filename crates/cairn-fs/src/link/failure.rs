//! Sorting a failed operation into what the ladder does next.
//!
//! The line that matters is between "this filesystem cannot do this mode", which moves the
//! linker down a rung for good, and everything else, which is an error for that file. Only the
//! transfer step is ever read as "cannot": failing to open the source or create the destination
//! would fail the same way in every mode.

use std::io;

use super::LinkMode;
use super::file_op::{OpError, Step};

/// What a failed operation means for the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The filesystem (or pair of filesystems) cannot do this mode: step down a rung.
    Unsupported,
    /// The source inode has as many hard links as the filesystem allows: copy this one file.
    LinkLimit,
    /// Something already exists at the destination.
    Exists,
    /// Anything else: an error for this file.
    Other,
}

pub(crate) fn classify(mode: LinkMode, failure: &OpError) -> Failure {
    let error = &failure.error;
    if error.kind() == io::ErrorKind::AlreadyExists {
        return Failure::Exists;
    }
    if failure.step != Step::Transfer {
        return Failure::Other;
    }
    match mode {
        LinkMode::Clone if clone_unsupported(error) => Failure::Unsupported,
        LinkMode::Hardlink if error.kind() == io::ErrorKind::TooManyLinks => Failure::LinkLimit,
        LinkMode::Hardlink if hardlink_unsupported(error) => Failure::Unsupported,
        _ => Failure::Other,
    }
}

/// `FICLONE` / `clonefile` / `FSCTL_DUPLICATE_EXTENTS` could not share extents here.
fn clone_unsupported(error: &io::Error) -> bool {
    // EOPNOTSUPP/ENOTSUP: the filesystem has no reflink (ext4, tmpfs, XFS without reflink=1).
    // EXDEV: the two files are on different filesystems. EINVAL: the filesystem refuses this
    // pair (btrfs with mismatched nodatacow/nodatasum flags, unaligned tails on some).
    // ENOSYS/ENOTTY: the kernel or the filesystem does not know the call. EBADF: documented for
    // FICLONE when the source's filesystem has no reflink; our descriptors are always open for
    // the right access, so it can mean nothing else here.
    #[cfg(unix)]
    let codes = {
        use rustix::io::Errno;
        [
            Errno::OPNOTSUPP,
            Errno::NOTSUP,
            Errno::XDEV,
            Errno::INVAL,
            Errno::NOSYS,
            Errno::NOTTY,
            Errno::BADF,
        ]
    };
    #[cfg(not(unix))]
    let codes = [];
    cannot(error, &codes)
}

/// `link` cannot join these two paths.
fn hardlink_unsupported(error: &io::Error) -> bool {
    // EXDEV: different filesystems. EPERM: the filesystem has no hard links (FAT, exFAT, some
    // FUSE), or the kernel's protected_hardlinks forbids linking a cache owned by another user;
    // a copy is right in both cases. EOPNOTSUPP/ENOSYS: some FUSE and network filesystems.
    // EACCES is not here: it is about the target directory's permissions, which a copy would
    // hit too.
    #[cfg(unix)]
    let codes = {
        use rustix::io::Errno;
        [
            Errno::XDEV,
            Errno::PERM,
            Errno::OPNOTSUPP,
            Errno::NOTSUP,
            Errno::NOSYS,
        ]
    };
    #[cfg(not(unix))]
    let codes = [];
    cannot(error, &codes)
}

/// Whether `error` says "this filesystem cannot": by kind on every platform, else by the raw
/// OS code — one of `unix_codes` on Unix, the Windows "unsupported" codes on Windows.
#[cfg(unix)]
fn cannot(error: &io::Error, unix_codes: &[rustix::io::Errno]) -> bool {
    cannot_by_kind(error)
        || error
            .raw_os_error()
            .is_some_and(|code| unix_codes.contains(&rustix::io::Errno::from_raw_os_error(code)))
}

#[cfg(not(unix))]
fn cannot(error: &io::Error, _unix_codes: &[()]) -> bool {
    #[cfg(windows)]
    if error.raw_os_error().is_some_and(windows_unsupported) {
        return true;
    }
    cannot_by_kind(error)
}

fn cannot_by_kind(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::CrossesDevices
    )
}

/// `ERROR_INVALID_FUNCTION` (FAT and other volumes without the feature), `ERROR_NOT_SAME_DEVICE`
/// and `ERROR_NOT_SUPPORTED`.
#[cfg(windows)]
fn windows_unsupported(code: i32) -> bool {
    const ERROR_INVALID_FUNCTION: i32 = 1;
    const ERROR_NOT_SAME_DEVICE: i32 = 17;
    const ERROR_NOT_SUPPORTED: i32 = 50;
    [
        ERROR_INVALID_FUNCTION,
        ERROR_NOT_SAME_DEVICE,
        ERROR_NOT_SUPPORTED,
    ]
    .contains(&code)
}
