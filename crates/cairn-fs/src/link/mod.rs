//! Linking files and trees from the cache into targets.
//!
//! An unpacked archive lives once in the cache; installing it means making each of its files
//! appear in a target directory. [`LinkMode`] says how, best first: clone (copy-on-write),
//! hardlink, copy, or symlink. A [`Linker`] holds the fallback ladder for one operation: the
//! first file a filesystem cannot link in the current mode moves it down a rung for every file
//! after it, so the decision costs one failed attempt per operation, not one per file.
//!
//! Guarantees:
//! - Nothing outside the target is written: destination names come from the source's
//!   directory entries, one component at a time.
//! - Nothing is overwritten and no symlink inside the target is followed: files are created
//!   with no-clobber calls (`O_CREAT | O_EXCL`, `link`, `symlink`), and an existing directory is
//!   merged only if it is a real directory.
//! - Permission bits travel with every mode: a hard link shares the inode, a clone or copy is
//!   created with the source's mode (filtered by the umask, as for any new file), and a symlink
//!   resolves to the cached file.
//! - The cache never contains symlinks or special files; meeting one in a source tree is an
//!   error, never followed.
//!
//! Not guaranteed: protection against another process swapping a target directory for a
//! symlink *while* a tree is being linked with paths ([`link_tree`], [`Linker::link_file`]).
//! [`Linker::link_at`] links relative to directories held open ([`LinkDir`]), which on Linux
//! also saves the kernel a walk of two full paths per file.

mod dir;
mod error;
mod failure;
mod file_op;
#[cfg(target_os = "linux")]
mod file_op_at;
mod linker;
mod mode;
mod tree;

use std::path::Path;

pub use dir::LinkDir;
pub use error::LinkError;
pub use linker::{Link, Linker};
pub use mode::{LinkMode, ParseLinkModeError};

/// What linking a tree did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkOutcome {
    /// The rung the linker stood on when the tree was done: the mode of every file linked after
    /// the ladder settled (files that hit the hard-link limit are copies whatever this says).
    pub mode_used: LinkMode,
    /// Regular files linked.
    pub files: u64,
    /// Directories created or merged below the target root (the root is not counted).
    pub dirs: u64,
    /// Files copied because their cached inode had reached the filesystem's hard-link limit.
    pub copied_after_link_limit: u64,
    /// Attempts in this tree that failed because the filesystem could not do the current mode,
    /// each moving the ladder one rung down. A [`Linker`] probes with one file at a time until
    /// a file is linked, so this is one per rung given up, counted in the tree that gave it up,
    /// and zero in later trees of the same linker.
    pub fallbacks: u64,
}

/// Link every file under the directory `src` into `dst` with a fresh [`Linker`] for `mode`.
///
/// `dst` and its missing parents are created; existing directories are merged. The tree is
/// walked once, in parallel: each directory is created before anything inside it, and files
/// are linked as their directories are listed. The work runs on rayon's global pool and the
/// call blocks until it is done (from async code, call it on a blocking thread). To share one
/// ladder decision between several trees, use [`Linker::link_tree`].
///
/// # Errors
///
/// [`LinkError::SourceNotDirectory`] if `src` is not a directory;
/// [`LinkError::UnsupportedSourceEntry`] for a symlink or special file inside `src`;
/// [`LinkError::DestinationExists`] when any file's destination already exists;
/// [`LinkError::DestinationNotDirectory`] when a directory's destination is a file or symlink;
/// otherwise the first I/O failure the ladder does not absorb. Files linked before an error
/// stay in place.
pub fn link_tree(src: &Path, dst: &Path, mode: LinkMode) -> Result<LinkOutcome, LinkError> {
    Linker::new(mode).link_tree(src, dst)
}

/// Link the regular file `src` to the new path `dst` with a fresh [`Linker`] for `mode`, and
/// return the mode that was used.
///
/// # Errors
///
/// See [`Linker::link_file`].
pub fn link_file(src: &Path, dst: &Path, mode: LinkMode) -> Result<LinkMode, LinkError> {
    Linker::new(mode).link_file(src, dst)
}
