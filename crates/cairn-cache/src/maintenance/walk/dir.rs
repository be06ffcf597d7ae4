//! Directory handles: list a directory once, with each entry's type, then stat, open or read
//! its entries relative to it.
//!
//! On Linux a handle is an open descriptor (`by_fd`). Entries are listed with `getdents64` into
//! a buffer reused by the thread, and stat'ed, opened and read with `*at` calls relative to the
//! descriptor, so the kernel resolves one name per call rather than the whole path again, and a
//! directory's own metadata comes from `fstat` on the descriptor that lists it rather than from
//! a separate `stat` by name. Elsewhere, and on Linux beyond the descriptors walks may hold at
//! once (see `by_fd`), a handle is a path and the same operations go through `std::fs`
//! (`by_path`): slower, never wrong.
//!
//! Nothing here follows a symbolic link inside the tree: children are stat'ed with
//! `AT_SYMLINK_NOFOLLOW` and opened with `O_NOFOLLOW | O_DIRECTORY`, so a link swapped in for a
//! directory is never entered. Only the path a walk starts from is resolved as given (the user
//! may have chosen a cache root through a link).

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use cairn_fs::FsError;

#[cfg(target_os = "linux")]
use super::by_fd;
use super::by_path;

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A directory (never a link to one).
    Dir,
    /// A regular file.
    File,
    /// A symbolic link, never followed.
    Symlink,
    /// A device, socket or pipe.
    Other,
}

/// The metadata the walks use, from one `stat` that does not follow links.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stat {
    pub(crate) kind: Kind,
    /// Bytes allocated on disk (`st_blocks × 512` on Unix, like `du`).
    pub(crate) allocated: u64,
    /// `(device, inode)` of a file with several hard links; `None` for everything else.
    pub(crate) shared_inode: Option<(u64, u64)>,
}

impl Stat {
    /// The metadata std gives for a path (`symlink_metadata`, not following a link).
    pub(crate) fn from_metadata(metadata: &std::fs::Metadata) -> Stat {
        let file_type = metadata.file_type();
        let kind = if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else if file_type.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        };
        Stat {
            kind,
            allocated: allocated(metadata),
            shared_inode: shared_inode(metadata),
        }
    }
}

#[cfg(unix)]
fn allocated(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::blocks(metadata).saturating_mul(512)
}

#[cfg(not(unix))]
fn allocated(metadata: &std::fs::Metadata) -> u64 {
    metadata.len()
}

/// The identity of a file with several hard links; `None` for everything else, which needs no
/// deduplication.
#[cfg(unix)]
fn shared_inode(metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    (!metadata.is_dir() && metadata.nlink() > 1).then(|| (metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn shared_inode(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// The entries of one directory, `.` and `..` left out: names in one buffer, not one allocation
/// each.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    names: Vec<u8>,
    entries: Vec<(usize, usize, Kind)>,
}

impl Listing {
    /// The entries, in the order the directory gave them.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&OsStr, Kind)> {
        self.entries
            .iter()
            .map(|&(start, end, kind)| (os_str(&self.names[start..end]), kind))
    }

    pub(super) fn push(&mut self, name: &[u8], kind: Kind) {
        let start = self.names.len();
        self.names.extend_from_slice(name);
        self.entries.push((start, self.names.len(), kind));
    }
}

#[cfg(unix)]
pub(super) fn os_str(bytes: &[u8]) -> &OsStr {
    std::os::unix::ffi::OsStrExt::from_bytes(bytes)
}

#[cfg(not(unix))]
pub(super) fn os_str(bytes: &[u8]) -> &OsStr {
    // Only names that are valid UTF-8 are stored (see `name_bytes`).
    OsStr::new(std::str::from_utf8(bytes).unwrap_or_default())
}

/// The bytes a name is stored as: all of it on Unix; elsewhere its UTF-8, when it has one
/// (cache names are ASCII, so no name of ours is left out).
#[cfg(unix)]
pub(super) fn name_bytes(name: &OsStr) -> Option<&[u8]> {
    Some(std::os::unix::ffi::OsStrExt::as_bytes(name))
}

#[cfg(not(unix))]
pub(super) fn name_bytes(name: &OsStr) -> Option<&[u8]> {
    name.to_str().map(str::as_bytes)
}

/// A directory open for walking.
#[derive(Debug)]
pub(crate) struct Dir {
    pub(super) path: PathBuf,
    pub(super) handle: Handle,
}

/// How a directory is reached.
#[derive(Debug)]
pub(super) enum Handle {
    /// Through an open descriptor.
    #[cfg(target_os = "linux")]
    Fd(by_fd::DirFd),
    /// Through its path.
    Path,
}

/// How a directory turned out when opened.
pub(crate) enum Opened {
    /// It is a directory, now open.
    Dir(Dir),
    /// It is something else (it was replaced since it was listed, or is a link that is not
    /// followed), which the caller should stat.
    NotDir,
    /// It is gone.
    Vanished,
}

impl Dir {
    /// Opens the directory at `path`, resolving links in it (the user may reach the cache
    /// through one); `None` if it does not exist.
    pub(crate) fn open(path: &Path) -> Result<Option<Dir>, FsError> {
        let opened = Self::open_path(path, true)?;
        match opened {
            Opened::Dir(dir) => Ok(Some(dir)),
            Opened::Vanished => Ok(None),
            Opened::NotDir => Err(FsError::new(
                "open directory",
                path,
                io::Error::from(io::ErrorKind::NotADirectory),
            )),
        }
    }

    /// Opens the directory at `path` without following a link in its last component.
    pub(crate) fn open_nofollow(path: &Path) -> Result<Opened, FsError> {
        Self::open_path(path, false)
    }

    fn open_path(path: &Path, follow: bool) -> Result<Opened, FsError> {
        #[cfg(target_os = "linux")]
        if let Some(opened) = by_fd::open(None, path, follow, path)? {
            return Ok(opened);
        }
        by_path::open(path, follow)
    }

    /// Opens the subdirectory `name` without following a link.
    pub(crate) fn open_child(&self, name: &OsStr) -> Result<Opened, FsError> {
        let path = self.child_path(name);
        #[cfg(target_os = "linux")]
        {
            let opened = match &self.handle {
                Handle::Fd(fd) => by_fd::open(Some(fd), name, false, &path)?,
                // Descriptors may have been freed since this one had to go by path.
                Handle::Path => by_fd::open(None, &path, false, &path)?,
            };
            if let Some(opened) = opened {
                return Ok(opened);
            }
        }
        by_path::open(&path, false)
    }

    /// The directory's own metadata.
    pub(crate) fn stat(&self) -> Result<Stat, FsError> {
        match &self.handle {
            #[cfg(target_os = "linux")]
            Handle::Fd(fd) => by_fd::stat(fd, &self.path),
            Handle::Path => by_path::stat(&self.path),
        }
    }

    /// The metadata of the entry `name`, not following a link; `None` if it is gone.
    pub(crate) fn stat_child(&self, name: &OsStr) -> Result<Option<Stat>, FsError> {
        match &self.handle {
            #[cfg(target_os = "linux")]
            Handle::Fd(fd) => by_fd::stat_child(fd, name, || self.child_path(name)),
            Handle::Path => by_path::stat_child(&self.child_path(name)),
        }
    }

    /// The directory's entries with their types (from `d_type`, or a `stat` on a filesystem
    /// that does not fill it in).
    pub(crate) fn list(&self) -> Result<Listing, FsError> {
        match &self.handle {
            #[cfg(target_os = "linux")]
            Handle::Fd(fd) => by_fd::list(fd, &self.path),
            Handle::Path => by_path::list(&self.path),
        }
    }

    /// Reads the whole entry `name` into `buffer` (replacing its contents); `false` if it is
    /// gone.
    pub(crate) fn read_child(&self, name: &OsStr, buffer: &mut Vec<u8>) -> io::Result<bool> {
        match &self.handle {
            #[cfg(target_os = "linux")]
            Handle::Fd(fd) => by_fd::read_child(fd, name, buffer),
            Handle::Path => by_path::read_child(&self.child_path(name), buffer),
        }
    }

    /// Reads at most `limit` bytes from the start of the entry `name` into `buffer` (replacing
    /// its contents); `false` if it is gone.
    pub(crate) fn read_child_prefix(
        &self,
        name: &OsStr,
        buffer: &mut Vec<u8>,
        limit: usize,
    ) -> io::Result<bool> {
        match &self.handle {
            #[cfg(target_os = "linux")]
            Handle::Fd(fd) => by_fd::read_child_prefix(fd, name, buffer, limit),
            Handle::Path => by_path::read_child_prefix(&self.child_path(name), buffer, limit),
        }
    }

    /// The path of the entry `name`.
    pub(crate) fn child_path(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }
}

/// Reads from `reader` into `buffer` until `limit` bytes or the end, whichever comes first.
pub(super) fn read_prefix(
    reader: &mut impl io::Read,
    buffer: &mut Vec<u8>,
    limit: usize,
) -> io::Result<()> {
    buffer.clear();
    buffer.resize(limit, 0);
    let mut filled = 0;
    while filled < limit {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    buffer.truncate(filled);
    Ok(())
}

/// Reads the record file `reader` to its end into `buffer` with plain `read` calls: no `fstat`
/// or `lseek` for a size hint, which std's `read_to_end` on a file makes and small records do
/// not need, and no final `read` to see the end when one came back short: records are regular
/// files written whole and renamed into place, never appended to, so a short read is the end.
/// (Were one not a regular file, it would read as damaged, which is what it is.)
pub(super) fn read_to_end(reader: &mut impl io::Read, buffer: &mut Vec<u8>) -> io::Result<()> {
    // The whole capacity is offered to the first read: most records fit in one.
    buffer.clear();
    buffer.resize(buffer.capacity().max(4096), 0);
    let mut filled = 0;
    loop {
        if buffer.len() == filled {
            buffer.resize((filled * 2).max(4096), 0);
        }
        let wanted = buffer.len() - filled;
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) if read < wanted => {
                filled += read;
                break;
            }
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    buffer.truncate(filled);
    Ok(())
}
