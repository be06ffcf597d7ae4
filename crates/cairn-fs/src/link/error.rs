//! What can go wrong while linking, with the paths involved and what to do about it.

use std::io;
use std::path::PathBuf;

use super::LinkMode;

/// A failure to link a file or tree from the cache into a target.
///
/// Every variant names the paths involved; those that concern one file also name the mode that
/// was being used when it failed. When a tree fails, the files linked before the failure stay in
/// place: install into a fresh directory and remove it on error if that matters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The source of a tree is not a directory.
    #[error(
        "cannot link the tree at {}: it is not a directory; pass the directory of an unpacked archive",
        src.display()
    )]
    SourceNotDirectory {
        /// The path given as the tree's source.
        src: PathBuf,
    },

    /// A source file or directory could not be inspected or listed.
    #[error(
        "cannot read {} in the cache; check that the cache is readable, or remove this \
         entry so cairn unpacks it again",
        path.display()
    )]
    ReadSource {
        /// The source path that could not be read.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },

    /// The source holds something other than a regular file or directory. cairn's cache never
    /// contains symlinks or special files, so the entry was altered outside cairn; it is refused
    /// rather than followed.
    #[error(
        "{} in the cache is a {kind}, but cached archives hold only regular files and \
         directories; remove this cache entry so cairn unpacks it again",
        path.display()
    )]
    UnsupportedSourceEntry {
        /// The offending source path.
        path: PathBuf,
        /// What it is: "symlink" or "special file".
        kind: &'static str,
    },

    /// A directory of the target could not be created.
    #[error(
        "cannot create directory {}; check that its parent exists and is writable",
        path.display()
    )]
    CreateDirectory {
        /// The directory that could not be created.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },

    /// A target path that must be a directory is something else. Symlinks are never followed
    /// inside the target, so a symlink to a directory counts as something else.
    #[error(
        "cannot merge into {}: it exists and is not a directory (symlinks are not followed); \
         remove it or choose another target",
        path.display()
    )]
    DestinationNotDirectory {
        /// The existing non-directory.
        path: PathBuf,
    },

    /// Something already exists where a file was to be linked. Nothing is ever overwritten.
    #[error(
        "cannot {mode} {} to {}: the destination already exists; remove it or install into an \
         empty directory",
        src.display(),
        dst.display()
    )]
    DestinationExists {
        /// The cached file.
        src: PathBuf,
        /// The existing destination.
        dst: PathBuf,
        /// The mode that was being used.
        mode: LinkMode,
    },

    /// Linking one file failed for a reason other than the filesystem lacking support for the
    /// mode (which moves the ladder instead).
    #[error(
        "cannot {mode} {} to {}; {}",
        src.display(),
        dst.display(),
        advice(*.mode)
    )]
    Link {
        /// The cached file.
        src: PathBuf,
        /// The destination.
        dst: PathBuf,
        /// The mode that was being used.
        mode: LinkMode,
        /// Why.
        source: io::Error,
    },
}

/// What the user can do when a file cannot be linked in `mode`.
fn advice(mode: LinkMode) -> &'static str {
    match mode {
        LinkMode::Symlink => {
            "symlink mode never falls back: check the target is writable, or choose another link \
             mode (clone, hardlink or copy)"
        }
        LinkMode::Clone | LinkMode::Hardlink | LinkMode::Copy => {
            "check that the target is writable and has free space, and that the cache is readable"
        }
    }
}
