//! Directory operations through open descriptors (Linux).
//!
//! A walk holds a descriptor for each directory between it and the entries being measured, on
//! every thread. At most [`MAX_OPEN`] are held at once, whatever the number of threads, so that
//! a walk on a machine with many cores stays far below the usual limit of 1,024 descriptors; a
//! directory opened beyond that, or when the system refuses another descriptor, goes by path.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_fs::FsError;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, fstat, openat, statat};
use rustix::io::Errno;
use rustix::path::Arg;

use super::dir::{Dir, Handle, Kind, Listing, Opened, Stat, os_str, read_prefix, read_to_end};

/// Room for a few hundred entries per `getdents64` call.
const LISTING_BUFFER: usize = 64 * 1024;

thread_local! {
    /// The `getdents64` buffer of this thread, reused by every listing.
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(LISTING_BUFFER));
}

/// The most directory descriptors walks hold open at once.
const MAX_OPEN: usize = 64;

/// Directory descriptors held open now.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// A directory descriptor, counted in [`OPEN`] while it lives.
#[derive(Debug)]
pub(super) struct DirFd(OwnedFd);

impl DirFd {
    /// Runs `open` if fewer than [`MAX_OPEN`] descriptors are held; `None` if as many are.
    fn open_counted(open: impl FnOnce() -> Result<OwnedFd, Errno>) -> Option<Result<DirFd, Errno>> {
        if OPEN.fetch_add(1, Ordering::Relaxed) >= MAX_OPEN {
            OPEN.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        match open() {
            Ok(fd) => Some(Ok(DirFd(fd))),
            Err(errno) => {
                OPEN.fetch_sub(1, Ordering::Relaxed);
                Some(Err(errno))
            }
        }
    }
}

impl AsFd for DirFd {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Drop for DirFd {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// Opens the directory `name`, relative to `base` (or the working directory), following a link
/// in its last component only if `follow`. `None` when no descriptor is to be had (see the
/// module documentation): the caller then goes by path.
pub(super) fn open(
    base: Option<&DirFd>,
    name: impl Arg,
    follow: bool,
    path: &Path,
) -> Result<Option<Opened>, FsError> {
    let flags = if follow {
        DIR_FLAGS
    } else {
        DIR_FLAGS | OFlags::NOFOLLOW
    };
    let opened = DirFd::open_counted(|| match base {
        Some(base) => openat(base, name, flags, Mode::empty()),
        None => openat(rustix::fs::CWD, name, flags, Mode::empty()),
    });
    let Some(opened) = opened else {
        return Ok(None);
    };
    match opened {
        Ok(fd) => Ok(Some(Opened::Dir(Dir {
            path: path.to_owned(),
            handle: Handle::Fd(fd),
        }))),
        Err(Errno::NOENT) => Ok(Some(Opened::Vanished)),
        // A link (`O_NOFOLLOW`) or a file (`O_DIRECTORY`) where a directory was.
        Err(Errno::LOOP | Errno::NOTDIR) => Ok(Some(Opened::NotDir)),
        Err(Errno::MFILE | Errno::NFILE) => Ok(None),
        Err(errno) => Err(FsError::new("open directory", path, errno.into())),
    }
}

/// The metadata of the open directory `fd` at `path`.
pub(super) fn stat(fd: &DirFd, path: &Path) -> Result<Stat, FsError> {
    fstat(fd)
        .map(|stat| to_stat(&stat))
        .map_err(|errno| FsError::new("inspect", path, errno.into()))
}

/// The metadata of the entry `name` of `dir`, not following a link; `None` if it is gone.
pub(super) fn stat_child(
    dir: &DirFd,
    name: &OsStr,
    path: impl FnOnce() -> PathBuf,
) -> Result<Option<Stat>, FsError> {
    match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(to_stat(&stat))),
        Err(Errno::NOENT) => Ok(None),
        Err(errno) => Err(FsError::new("inspect", path(), errno.into())),
    }
}

/// The entries of the open directory `fd` at `path`.
pub(super) fn list(fd: &DirFd, path: &Path) -> Result<Listing, FsError> {
    let read_error = |errno: Errno| FsError::new("read directory", path, errno.into());
    let mut listing = Listing::default();
    let mut unknown = Vec::new();
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        let mut entries = RawDir::new(fd.as_fd(), buffer.spare_capacity_mut());
        while let Some(entry) = entries.next() {
            let entry = match entry {
                Ok(entry) => entry,
                // The directory was removed while we read it: it has no more entries.
                Err(Errno::NOENT) => break,
                Err(errno) => return Err(read_error(errno)),
            };
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            match entry.file_type() {
                FileType::Directory => listing.push(name, Kind::Dir),
                FileType::RegularFile => listing.push(name, Kind::File),
                FileType::Symlink => listing.push(name, Kind::Symlink),
                FileType::Unknown => unknown.push(name.to_vec()),
                _ => listing.push(name, Kind::Other),
            }
        }
        Ok(())
    })?;
    for name in unknown {
        let name_path = || path.join(os_str(&name));
        if let Some(stat) = stat_child(fd, os_str(&name), name_path)? {
            listing.push(&name, stat.kind);
        }
    }
    Ok(listing)
}

/// Reads the whole entry `name` of `dir` into `buffer`; `false` if it is gone.
pub(super) fn read_child(dir: &DirFd, name: &OsStr, buffer: &mut Vec<u8>) -> io::Result<bool> {
    let Some(mut file) = open_child_file(dir, name)? else {
        return Ok(false);
    };
    read_to_end(&mut file, buffer)?;
    Ok(true)
}

/// Reads at most `limit` bytes from the start of the entry `name` of `dir` into `buffer`;
/// `false` if it is gone.
pub(super) fn read_child_prefix(
    dir: &DirFd,
    name: &OsStr,
    buffer: &mut Vec<u8>,
    limit: usize,
) -> io::Result<bool> {
    let Some(mut file) = open_child_file(dir, name)? else {
        return Ok(false);
    };
    read_prefix(&mut file, buffer, limit)?;
    Ok(true)
}

/// Opens the entry `name` of `dir` for reading; `None` if it is gone.
fn open_child_file(dir: &DirFd, name: &OsStr) -> io::Result<Option<File>> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
    match openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => Ok(Some(File::from(fd))),
        Err(Errno::NOENT) => Ok(None),
        Err(errno) => Err(errno.into()),
    }
}

fn to_stat(stat: &rustix::fs::Stat) -> Stat {
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => Kind::Dir,
        FileType::RegularFile => Kind::File,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    };
    // The field types differ between architectures.
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    let (blocks, links, device, inode) = (
        u64::try_from(stat.st_blocks).unwrap_or(0),
        stat.st_nlink as u64,
        stat.st_dev as u64,
        stat.st_ino as u64,
    );
    Stat {
        kind,
        allocated: blocks.saturating_mul(512),
        shared_inode: (kind != Kind::Dir && links > 1).then_some((device, inode)),
    }
}
