//! Measuring trees on disk, never following a symbolic link.
//!
//! A directory is listed once (one `getdents64` stream, with each entry's type) and each entry
//! that is not a directory is stat'ed relative to it; a subdirectory is opened relative to it
//! and its own metadata taken from the open descriptor (see [`dir`]). The subdirectories of a
//! wide directory are measured in parallel, and so are the entries of a large directory (the
//! pointers of `wheels-v0/url` all live in one).

#[cfg(target_os = "linux")]
mod by_fd;
mod by_path;
mod dir;

use std::ffi::OsStr;
use std::io;
use std::path::Path;

use cairn_fs::FsError;
use rayon::prelude::*;
use serde::Serialize;

pub(crate) use dir::{Dir, Kind, Opened, Stat};

/// Space used on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Bytes allocated on disk (`st_blocks × 512` on Unix, like `du`), directories included,
    /// each file with several hard links counted once.
    pub bytes: u64,
    /// Entries other than directories: files, and symbolic links (never followed).
    pub files: u64,
}

impl Usage {
    /// The sum of two usages.
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            bytes: self.bytes.saturating_add(other.bytes),
            files: self.files.saturating_add(other.files),
        }
    }
}

impl std::iter::Sum for Usage {
    fn sum<I: Iterator<Item = Usage>>(iter: I) -> Usage {
        iter.fold(Usage::default(), Usage::plus)
    }
}

/// A running total that counts each hard-linked inode once however many names it has.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Bytes of entries with a single link.
    bytes: u64,
    files: u64,
    /// `(device, inode, bytes)` of files with several links, deduplicated when finished.
    linked: Vec<(u64, u64, u64)>,
}

impl Tally {
    /// Counts one entry from its own (not followed) metadata.
    pub(crate) fn add(&mut self, stat: &Stat) {
        if stat.kind != Kind::Dir {
            self.files += 1;
        }
        match stat.shared_inode {
            Some((device, inode)) => self.linked.push((device, inode, stat.allocated)),
            None => self.bytes = self.bytes.saturating_add(stat.allocated),
        }
    }

    /// A tally of entries measured earlier, known only by their total (a usage recorded in an
    /// archive's manifest): none of its inodes can be matched against others'.
    pub(crate) fn recorded(usage: Usage) -> Tally {
        Tally {
            bytes: usage.bytes,
            files: usage.files,
            linked: Vec::new(),
        }
    }

    /// Adds another tally's entries.
    pub(crate) fn merge(&mut self, other: Tally) {
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.files += other.files;
        if self.linked.is_empty() {
            self.linked = other.linked;
        } else {
            self.linked.extend(other.linked);
        }
    }

    /// The usage, with hard-linked inodes counted once.
    pub(crate) fn usage(&self) -> Usage {
        let linked = if self.linked.is_empty() {
            0
        } else {
            let mut linked = self.linked.clone();
            linked.sort_unstable();
            linked.dedup_by_key(|(device, inode, _)| (*device, *inode));
            linked.iter().map(|(_, _, bytes)| bytes).sum()
        };
        Usage {
            bytes: self.bytes.saturating_add(linked),
            files: self.files,
        }
    }

    /// Two tallies merged, for parallel reductions.
    fn merged(mut self, other: Tally) -> Result<Tally, FsError> {
        self.merge(other);
        Ok(self)
    }
}

/// Whether an error means the entry went away while we looked: readers run beside fetches,
/// which rename temporary directories into place.
pub(crate) fn vanished(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound
}

/// Measures `path` and, if it is a directory (not a link to one), everything under it. A path
/// that does not exist measures nothing.
pub(crate) fn tally_path(path: &Path) -> Result<Tally, FsError> {
    let mut tally = Tally::default();
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if vanished(&error) => return Ok(tally),
        Err(error) => return Err(FsError::new("inspect", path, error)),
    };
    if metadata.is_dir()
        && let Opened::Dir(dir) = Dir::open_nofollow(path)?
    {
        return tally_dir(&dir);
    }
    // Not a directory, or no longer one: count what was seen.
    tally.add(&Stat::from_metadata(&metadata));
    Ok(tally)
}

/// Measures the open directory `dir`: itself and everything under it.
pub(crate) fn tally_dir(dir: &Dir) -> Result<Tally, FsError> {
    let mut tally = Tally::default();
    tally.add(&dir.stat()?);
    tally.merge(tally_contents(dir)?);
    Ok(tally)
}

/// Measures everything under the open directory `dir` (not `dir` itself).
pub(crate) fn tally_contents(dir: &Dir) -> Result<Tally, FsError> {
    let listing = dir.list()?;
    let entries: Vec<(&OsStr, Kind)> = listing.iter().collect();
    tally_entries(dir, &entries)
}

/// Entries of one directory stat'ed by one task; a directory with more is split across
/// threads.
const STATS_PER_TASK: usize = 512;

/// The fewest subdirectories a directory must have for them to be measured in parallel.
/// Narrower ones (the two or three inside an archive) are walked in turn by the task that listed
/// them: parallelism comes from the wide levels (shards, the archives of a shard), where it
/// pays, and tasks stay whole subtrees, so few directories are held open at once.
const PARALLEL_SUBDIRS: usize = 8;

/// Measures the entries `entries` of `dir`, and everything under those that are directories.
pub(crate) fn tally_entries(dir: &Dir, entries: &[(&OsStr, Kind)]) -> Result<Tally, FsError> {
    let (subdirs, leaves): (Vec<_>, Vec<_>) =
        entries.iter().partition(|(_, kind)| *kind == Kind::Dir);
    let leaves = if leaves.len() > STATS_PER_TASK {
        leaves
            .par_chunks(STATS_PER_TASK)
            .map(|chunk| tally_leaves(dir, chunk))
            .try_reduce(Tally::default, Tally::merged)?
    } else {
        tally_leaves(dir, &leaves)?
    };
    let nested = if subdirs.len() >= PARALLEL_SUBDIRS {
        subdirs
            .par_iter()
            .map(|(name, _)| tally_child_dir(dir, name))
            .try_reduce(Tally::default, Tally::merged)?
    } else {
        let mut nested = Tally::default();
        for (name, _) in subdirs {
            nested.merge(tally_child_dir(dir, name)?);
        }
        nested
    };
    leaves.merged(nested)
}

/// Measures entries of `dir` listed as something other than a directory.
fn tally_leaves(dir: &Dir, entries: &[&(&OsStr, Kind)]) -> Result<Tally, FsError> {
    let mut tally = Tally::default();
    for (name, _) in entries {
        match dir.stat_child(name)? {
            // Replaced by a directory since it was listed.
            Some(stat) if stat.kind == Kind::Dir => tally.merge(tally_child_dir(dir, name)?),
            Some(stat) => tally.add(&stat),
            None => {}
        }
    }
    Ok(tally)
}

/// Measures the subdirectory `name` of `dir` and everything in it.
pub(crate) fn tally_child_dir(dir: &Dir, name: &OsStr) -> Result<Tally, FsError> {
    match dir.open_child(name)? {
        Opened::Dir(child) => tally_dir(&child),
        // Replaced by a file or a link since it was listed: count that, without following it.
        Opened::NotDir => {
            let mut tally = Tally::default();
            if let Some(stat) = dir.stat_child(name)? {
                tally.add(&stat);
            }
            Ok(tally)
        }
        Opened::Vanished => Ok(Tally::default()),
    }
}

/// Calls `visit` for each entry of `dir`; a directory that has vanished has no entries.
pub(crate) fn for_each_entry(
    dir: &Path,
    mut visit: impl FnMut(&std::fs::DirEntry) -> Result<(), FsError>,
) -> Result<(), FsError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if vanished(&error) => return Ok(()),
        Err(error) => return Err(FsError::new("read directory", dir, error)),
    };
    for entry in entries {
        match entry {
            Ok(entry) => visit(&entry)?,
            Err(error) if vanished(&error) => {}
            Err(error) => return Err(FsError::new("read directory", dir, error)),
        }
    }
    Ok(())
}
