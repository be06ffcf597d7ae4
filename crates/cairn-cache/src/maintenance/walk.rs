//! Measuring trees on disk: one `getdents` per directory and one `fstatat` per entry, relative
//! to the directory's descriptor, never following a symbolic link. Subdirectories are measured
//! in parallel.

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

use cairn_fs::FsError;
use rayon::prelude::*;
use serde::Serialize;

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
    pub(crate) fn add(&mut self, metadata: &Metadata) {
        if !metadata.is_dir() {
            self.files += 1;
        }
        let bytes = allocated_bytes(metadata);
        match link_identity(metadata) {
            Some((device, inode)) => self.linked.push((device, inode, bytes)),
            None => self.bytes = self.bytes.saturating_add(bytes),
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
}

#[cfg(unix)]
fn allocated_bytes(metadata: &Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::blocks(metadata).saturating_mul(512)
}

#[cfg(not(unix))]
fn allocated_bytes(metadata: &Metadata) -> u64 {
    metadata.len()
}

/// The identity of a file with several hard links; `None` for everything else, which needs no
/// deduplication.
#[cfg(unix)]
fn link_identity(metadata: &Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    (!metadata.is_dir() && metadata.nlink() > 1).then(|| (metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn link_identity(_: &Metadata) -> Option<(u64, u64)> {
    None
}

/// Whether an error means the entry went away while we looked: readers run beside fetches,
/// which rename temporary directories into place.
pub(crate) fn vanished(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound
}

/// The metadata of a directory entry, or `None` if it vanished since it was listed (a
/// concurrent fetch replaced it, or maintenance removed it).
pub(crate) fn entry_metadata(
    entry: &std::fs::DirEntry,
) -> Result<Option<std::fs::Metadata>, FsError> {
    match entry.metadata() {
        Ok(metadata) => Ok(Some(metadata)),
        Err(error) if vanished(&error) => Ok(None),
        Err(error) => Err(FsError::new("inspect", entry.path(), error)),
    }
}

/// Measures `path` and, if it is a directory (not a link to one), everything under it. A path
/// that does not exist measures nothing.
pub(crate) fn tally_path(path: &Path) -> Result<Tally, FsError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if vanished(&error) => return Ok(Tally::default()),
        Err(error) => return Err(FsError::new("inspect", path, error)),
    };
    let mut tally = Tally::default();
    tally.add(&metadata);
    if metadata.is_dir() {
        tally.merge(tally_contents(path)?);
    }
    Ok(tally)
}

/// Measures everything under the directory `dir` (not `dir` itself).
pub(crate) fn tally_contents(dir: &Path) -> Result<Tally, FsError> {
    let mut tally = Tally::default();
    let mut subdirs: Vec<PathBuf> = Vec::new();
    for_each_entry(dir, |entry| {
        let Some(metadata) = entry_metadata(entry)? else {
            return Ok(());
        };
        tally.add(&metadata);
        if metadata.is_dir() {
            subdirs.push(entry.path());
        }
        Ok(())
    })?;
    let nested = subdirs
        .par_iter()
        .map(|subdir| tally_contents(subdir))
        .try_reduce(Tally::default, |mut a, b| {
            a.merge(b);
            Ok(a)
        })?;
    tally.merge(nested);
    Ok(tally)
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
