//! What a maintenance command removes, decided before anything is removed, so that a dry run and
//! a real run agree; and the removal itself, confined to the cache root.

use std::collections::HashSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_fs::{FsError, TEMP_PREFIX};
use rayon::prelude::*;
use serde::Serialize;

use super::MaintenanceError;
use super::walk::{Usage, tally_path, vanished};
use crate::Cache;

/// Why an entry is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// `cairn cache clean` without packages: everything goes.
    Clean,
    /// A named package's entry (`cairn cache clean PACKAGE`).
    Package,
    /// A pointer that does not read as a record of the current format.
    InvalidPointer,
    /// A pointer whose archive is not in the store.
    DanglingPointer,
    /// A pointer not used for longer than `--max-age`.
    Expired,
    /// Something cheap to download again, dropped by `--ci`.
    Downloaded,
    /// A pointer (and what only it kept) evicted, least recently used first, by `--max-size`.
    Evicted,
    /// An archive no pointer names.
    UnreferencedArchive,
    /// A manifest whose archive is gone.
    OrphanManifest,
    /// An index entry that does not read as one, or whose archive is gone.
    OrphanIndexEntry,
    /// An HTTP policy whose pointer is gone.
    OrphanPolicy,
    /// A `.tmp-*` leftover of a process that crashed.
    TempLeftover,
    /// A bucket directory of another format version.
    StaleBucket,
    /// Lock files, recreated on demand.
    LockFiles,
    /// An archive whose files differ from its manifest (`cairn cache verify --repair`).
    Corrupt,
    /// A record that names an archive that is not there (`cairn cache verify --repair`).
    Dangling,
}

impl Reason {
    /// A short label for listings.
    pub fn label(self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::Package => "package",
            Self::InvalidPointer => "invalid pointer",
            Self::DanglingPointer => "dangling pointer",
            Self::Expired => "expired",
            Self::Downloaded => "downloaded (--ci)",
            Self::Evicted => "evicted (--max-size)",
            Self::UnreferencedArchive => "unreferenced archive",
            Self::OrphanManifest => "orphan manifest",
            Self::OrphanIndexEntry => "orphan index entry",
            Self::OrphanPolicy => "orphan HTTP policy",
            Self::TempLeftover => "temporary leftover",
            Self::StaleBucket => "old bucket version",
            Self::LockFiles => "lock files",
            Self::Corrupt => "corrupt",
            Self::Dangling => "dangling",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One entry (a file, or a directory with everything in it) to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    /// The entry.
    pub path: PathBuf,
    /// Why it goes.
    pub reason: Reason,
    /// The space it takes, measured when the plan was made.
    pub usage: Usage,
}

/// Removals decided by a maintenance command, in the order they will happen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    removals: Vec<Removal>,
    /// The paths planned, to skip what is planned already, alone or with a directory holding it.
    #[serde(skip)]
    paths: HashSet<PathBuf>,
    /// The fewest components of a planned path: no ancestor with fewer can be planned, so a
    /// lookup stops there instead of trying every ancestor up to `/`.
    #[serde(skip)]
    shallowest: Option<usize>,
}

impl Plan {
    /// The removals.
    pub fn removals(&self) -> &[Removal] {
        &self.removals
    }

    /// Whether nothing would be removed.
    pub fn is_empty(&self) -> bool {
        self.removals.is_empty()
    }

    /// The space all removals free (hard links shared between two removals count twice).
    pub fn usage(&self) -> Usage {
        self.removals.iter().map(|removal| removal.usage).sum()
    }

    /// Whether `path`, or a directory holding it, is already planned for removal.
    pub(crate) fn contains(&self, path: &Path) -> bool {
        let Some(shallowest) = self.shallowest else {
            return false;
        };
        // Each ancestor has one component fewer than the one before.
        let candidates = path.components().count().saturating_sub(shallowest) + 1;
        path.ancestors()
            .take(candidates)
            .any(|ancestor| self.paths.contains(ancestor))
    }

    /// Plans the removal of `path`, measuring it; a path planned already (itself or with a
    /// directory holding it) is skipped. Returns the space it frees.
    pub(crate) fn add(&mut self, path: &Path, reason: Reason) -> Result<Usage, FsError> {
        if self.contains(path) {
            return Ok(Usage::default());
        }
        let usage = tally_path(path)?.usage();
        self.add_measured(path, reason, usage);
        Ok(usage)
    }

    /// Plans the removal of `path` whose usage is already known.
    pub(crate) fn add_measured(&mut self, path: &Path, reason: Reason, usage: Usage) {
        if !self.contains(path) {
            let depth = path.components().count();
            self.shallowest = Some(
                self.shallowest
                    .map_or(depth, |shallowest| shallowest.min(depth)),
            );
            self.paths.insert(path.to_owned());
            self.removals.push(Removal {
                path: path.to_owned(),
                reason,
                usage,
            });
        }
    }
}

/// Carries out `plan` in the cache, which must be held exclusively.
///
/// Records go first (pointers, policies, index entries: a reader treats a missing one as a
/// miss), then archives and other directories, then manifests and the rest, so that a crash
/// part-way never leaves an archive without its manifest. A directory is first renamed to a
/// `.tmp-*` name in the root, then deleted: one that was half deleted when a crash struck is
/// never taken for a complete archive, and the next prune removes it.
///
/// Every path must lie strictly inside the root. Symbolic links are removed, never followed.
/// Removals that fail do not stop the others; the error counts them and carries the first.
pub fn remove(cache: &Cache, plan: &Plan) -> Result<Usage, MaintenanceError> {
    super::io_pool::run(|| remove_here(cache, plan))
}

fn remove_here(cache: &Cache, plan: &Plan) -> Result<Usage, MaintenanceError> {
    let root = cache.root();
    if !cache.is_exclusive() {
        return Err(MaintenanceError::NotExclusive {
            root: root.to_owned(),
        });
    }
    for removal in &plan.removals {
        ensure_inside(root, &removal.path)?;
    }
    let mut removed = Usage::default();
    let mut failures: Vec<MaintenanceError> = Vec::new();
    for phase in 0..3 {
        let results: Vec<(Usage, Result<(), MaintenanceError>)> = plan
            .removals
            .par_iter()
            .filter(|removal| removal_phase(root, removal) == phase)
            .map(|removal| (removal.usage, remove_entry(root, &removal.path)))
            .collect();
        for (usage, result) in results {
            match result {
                Ok(()) => removed = removed.plus(usage),
                Err(error) => failures.push(error),
            }
        }
    }
    match failures.len() {
        0 => Ok(removed),
        failed => Err(MaintenanceError::Removal {
            failed,
            planned: plan.removals.len(),
            first: Box::new(failures.swap_remove(0)),
        }),
    }
}

/// 0: records, and whole buckets of records (`cache clean` removes `wheels-v0` as one
/// directory: it must be gone before the archives its pointers name); 1: archives and other
/// directories; 2: manifests and everything else.
fn removal_phase(root: &Path, removal: &Removal) -> u8 {
    let is_record = removal
        .path
        .extension()
        .is_some_and(|extension| extension == "json" || extension == "http")
        || matches!(removal.reason, Reason::OrphanIndexEntry)
        || is_record_bucket(root, &removal.path);
    let is_manifest = removal
        .path
        .extension()
        .is_some_and(|extension| extension == crate::MANIFEST_EXTENSION);
    if is_manifest {
        2
    } else if is_record {
        0
    } else if matches!(removal.reason, Reason::TempLeftover | Reason::LockFiles) {
        2
    } else {
        1
    }
}

/// Whether `path` is the directory of a bucket of records in `root`, of any version: one whose
/// entries name archives or stand for what is cached (pointers, digest index, pages,
/// interpreter facts), as opposed to archives and lock files.
fn is_record_bucket(root: &Path, path: &Path) -> bool {
    if path.parent() != Some(root) {
        return false;
    }
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    crate::CacheBucket::ALL
        .iter()
        .filter(|bucket| {
            !matches!(
                bucket,
                crate::CacheBucket::Archive | crate::CacheBucket::Locks
            )
        })
        .any(|bucket| {
            name.strip_prefix(bucket.base_name())
                .and_then(|rest| rest.strip_prefix("-v"))
                .is_some_and(|version| {
                    !version.is_empty() && version.bytes().all(|byte| byte.is_ascii_digit())
                })
        })
}

/// Refuses any path that is not strictly below `root` by plain names (no `..`, no `.`).
fn ensure_inside(root: &Path, path: &Path) -> Result<(), MaintenanceError> {
    let outside = || MaintenanceError::OutsideRoot {
        path: path.to_owned(),
        root: root.to_owned(),
    };
    let relative = path.strip_prefix(root).map_err(|_| outside())?;
    let mut components = relative.components().peekable();
    if components.peek().is_none() {
        return Err(outside());
    }
    if components.all(|component| matches!(component, Component::Normal(_))) {
        Ok(())
    } else {
        Err(outside())
    }
}

/// Removes one entry without following symbolic links: a link or a file is unlinked; a real
/// directory is renamed out of the way, then deleted with everything in it (std's
/// `remove_dir_all` does not follow links inside it either).
fn remove_entry(root: &Path, path: &Path) -> Result<(), MaintenanceError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if vanished(&error) => return Ok(()),
        Err(error) => return Err(FsError::new("inspect", path, error).into()),
    };
    if !metadata.is_dir() {
        return match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(error) if vanished(&error) => Ok(()),
            Err(error) => Err(FsError::new("remove", path, error).into()),
        };
    }
    let doomed = set_aside(root, path)?;
    remove_tree(&doomed)?;
    Ok(())
}

/// Deletes the directory `dir` and everything in it, its top-level entries in parallel (a whole
/// bucket has 256 shards). Each subdirectory goes through std's `remove_dir_all`, which opens
/// every level with `O_NOFOLLOW`: a link swapped in for a directory is unlinked, never followed.
fn remove_tree(dir: &Path) -> Result<(), FsError> {
    let mut entries = Vec::new();
    super::walk::for_each_entry(dir, |entry| {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        entries.push((entry.path(), is_dir));
        Ok(())
    })?;
    entries.par_iter().try_for_each(|(path, is_dir)| {
        let removed = if *is_dir {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
        match removed {
            Err(error) if !vanished(&error) => Err(FsError::new("remove", path, error)),
            _ => Ok(()),
        }
    })?;
    match std::fs::remove_dir(dir) {
        Err(error) if !vanished(&error) => Err(FsError::new("remove", dir, error)),
        _ => Ok(()),
    }
}

/// Renames the directory `path` to a fresh `.tmp-*` name in the root and returns the new name.
/// A directory already named `.tmp-*` directly in the root stays where it is.
fn set_aside(root: &Path, path: &Path) -> Result<PathBuf, MaintenanceError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let already_temp = path.parent() == Some(root)
        && path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with(TEMP_PREFIX));
    if already_temp {
        return Ok(path.to_owned());
    }
    loop {
        let name = format!(
            "{TEMP_PREFIX}removing-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let target = root.join(name);
        // A leftover of an earlier run could have this name; `rename` would replace it if it
        // were an empty directory, so look first (nothing else runs under the exclusive lock).
        if std::fs::symlink_metadata(&target).is_ok() {
            continue;
        }
        return match std::fs::rename(path, &target) {
            Ok(()) => Ok(target),
            // Another filesystem mounted inside the cache: delete in place.
            Err(error) if error.kind() == std::io::ErrorKind::CrossesDevices => Ok(path.to_owned()),
            Err(error) => Err(FsError::new("move aside for removal", path, error).into()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_strictly_inside_the_root_are_removable() {
        let root = Path::new("/cache/root");
        // `Path::components` drops a `.` in the middle: `./a` is `a`.
        for inside in [
            "/cache/root/a",
            "/cache/root/archive-v0/ab/cd",
            "/cache/root/.tmp-x",
            "/cache/root/./a",
        ] {
            assert!(ensure_inside(root, Path::new(inside)).is_ok(), "{inside}");
        }
        for outside in [
            "/cache/root",
            "/cache/root/",
            "/cache/root/..",
            "/cache/root/a/../../b",
            "/cache/rootx/a",
            "/cache",
            "/etc/passwd",
            "cache/root/a",
        ] {
            assert!(
                matches!(
                    ensure_inside(root, Path::new(outside)),
                    Err(MaintenanceError::OutsideRoot { .. })
                ),
                "{outside}"
            );
        }
    }

    #[test]
    fn whole_buckets_of_records_go_before_the_archives_their_entries_name() {
        let root = Path::new("/cache/root");
        let phase = |path: &str| {
            removal_phase(
                root,
                &Removal {
                    path: root.join(path),
                    reason: Reason::Clean,
                    usage: Usage::default(),
                },
            )
        };
        for records in [
            "wheels-v0",
            "hashes-v1",
            "hashes-v0",
            "simple-v1",
            "interpreter-v2",
        ] {
            assert_eq!(phase(records), 0, "{records}");
        }
        assert_eq!(phase("archive-v0"), 1);
        for other in ["wheels-v", "wheels-vx", "wheels-v0/url", "archive-v0/ab/cd"] {
            assert_ne!(phase(other), 0, "{other}");
        }
        assert_eq!(phase("archive-v0/ab/cd.manifest"), 2);
    }
}
