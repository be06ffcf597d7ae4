//! A directory opened once, so that the files in it are linked by name.
//!
//! Linking a file by path makes the kernel walk both paths, every component of each, for every
//! file; in an install of torch that walk is the largest kernel cost. With the source and
//! destination directories held open, each file costs a lookup of one name in each.

use std::io;
use std::path::{Path, PathBuf};

/// A directory held open for [`Linker::link_at`](super::Linker::link_at).
///
/// On Linux it holds an `O_PATH` descriptor: enough to name files relative to it, with no read
/// permission needed and nothing else to set up. Elsewhere it holds only the path, and linking
/// joins the names to it. The last component of the path is never followed if it is a symlink.
///
/// A `LinkDir` is `Sync`: share one by reference among the threads linking its files. Each
/// holds one file descriptor until dropped, so open directories as they are needed rather than
/// all at once.
#[derive(Debug)]
pub struct LinkDir {
    path: PathBuf,
    #[cfg(target_os = "linux")]
    fd: rustix::fd::OwnedFd,
}

impl LinkDir {
    /// Open the directory at `path`.
    ///
    /// # Errors
    ///
    /// Any error from opening it; a symlink or other non-directory at `path` fails with
    /// `ENOTDIR` on Linux (elsewhere it is only found when a file is linked).
    pub fn open(path: &Path) -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{Mode, OFlags, openat};
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = openat(rustix::fs::CWD, path, flags, Mode::empty())?;
            Ok(Self {
                path: path.to_path_buf(),
                fd,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(Self {
                path: path.to_path_buf(),
            })
        }
    }

    /// The path the directory was opened at, used in messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor that names are resolved against.
    #[cfg(target_os = "linux")]
    pub(crate) fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        use rustix::fd::AsFd;
        self.fd.as_fd()
    }
}
