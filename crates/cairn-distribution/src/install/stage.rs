//! Writing the new files into the staging tree, in parallel, before anything in the target
//! changes.
//!
//! Every directory of the new tree is created first (each before its children, siblings in
//! parallel), then every file is linked or written by rayon's threads with no further `mkdir`
//! or existence check: the staging tree starts empty and the tree of destinations has no
//! duplicates.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use cairn_fs::{LinkMode, Linker};
use rayon::prelude::*;

use super::error::InstallError;
use super::merge::{Children, NewTree, Node};
use super::plan::{Content, PlannedFile, WheelPlan};

/// What staging did for one wheel.
#[derive(Debug, Default)]
pub(crate) struct StageCounts {
    /// Files linked from the cache.
    pub(crate) linked: AtomicU64,
    /// Files written or copied (`RECORD`, `INSTALLER`, scripts).
    pub(crate) written: AtomicU64,
    /// The weakest link mode used for this wheel's files, as [`mode_rank`].
    weakest: AtomicU8,
}

impl StageCounts {
    /// The weakest mode any linked file of the wheel got; `fallback` if none was linked.
    pub(crate) fn mode(&self, fallback: LinkMode) -> LinkMode {
        if self.linked.load(Ordering::Relaxed) == 0 {
            return fallback;
        }
        let rank = self.weakest.load(Ordering::Relaxed);
        LinkMode::ALL
            .into_iter()
            .find(|mode| mode_rank(*mode) == rank)
            .unwrap_or(fallback)
    }
}

/// Orders modes by how much of the cache's sharing they keep (clone best).
fn mode_rank(mode: LinkMode) -> u8 {
    match mode {
        LinkMode::Clone => 0,
        LinkMode::Hardlink => 1,
        LinkMode::Copy => 2,
        LinkMode::Symlink => 3,
    }
}

/// Creates `tree`'s directories under `root` and puts every planned file there.
pub(crate) fn stage(
    root: &Path,
    tree: &NewTree,
    plans: &[WheelPlan],
    linker: &Linker,
    counts: &[StageCounts],
) -> Result<(), InstallError> {
    create_dirs(root, &tree.root, plans)?;
    let jobs: Vec<(usize, &PlannedFile)> = plans
        .iter()
        .enumerate()
        .flat_map(|(wheel, plan)| plan.files.iter().map(move |file| (wheel, file)))
        .collect();
    jobs.par_iter().try_for_each(|&(wheel, file)| {
        let plan = &plans[wheel];
        let dst = root.join(&file.dest);
        let stage_error = |source| InstallError::Stage {
            wheel: plan.wheel.clone(),
            path: dst.clone(),
            source,
        };
        let count = &counts[wheel];
        match &file.content {
            Content::Link(entry) => {
                // The plan listed every entry from the archive's directories, which said it
                // is a regular file.
                let mode = linker
                    .link_listed_file(&plan.archive.join(entry), &dst)
                    .map_err(|source| InstallError::Link {
                        wheel: plan.wheel.clone(),
                        source,
                    })?;
                count.linked.fetch_add(1, Ordering::Relaxed);
                count.weakest.fetch_max(mode_rank(mode), Ordering::Relaxed);
            }
            Content::CopyExecutable(entry) => {
                let src = plan.archive.join(entry);
                let mut reader = File::open(&src).map_err(|source| InstallError::ReadArchive {
                    wheel: plan.wheel.clone(),
                    path: src.clone(),
                    source,
                })?;
                let mut writer = create_new(&dst, true).map_err(stage_error)?;
                io::copy(&mut reader, &mut writer).map_err(stage_error)?;
                count.written.fetch_add(1, Ordering::Relaxed);
            }
            Content::Write { bytes, executable } => {
                create_new(&dst, *executable)
                    .and_then(|mut writer| writer.write_all(bytes))
                    .map_err(stage_error)?;
                count.written.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    })
}

/// Creates the directories of `children` under `dir`, siblings in parallel.
fn create_dirs(dir: &Path, children: &Children, plans: &[WheelPlan]) -> Result<(), InstallError> {
    create_dirs_at(dir, children, plans, true)
}

fn create_dirs_at(
    dir: &Path,
    children: &Children,
    plans: &[WheelPlan],
    top: bool,
) -> Result<(), InstallError> {
    children.par_iter().try_for_each(|(name, node)| {
        let Node::Dir(grandchildren) = node else {
            return Ok(());
        };
        let path = dir.join(name);
        let created = if top {
            create_spread_dir(dir, name, &path)
        } else {
            fs::create_dir(&path)
        };
        created.map_err(|source| InstallError::Stage {
            wheel: plans[node.any_wheel()].wheel.clone(),
            path: path.clone(),
            source,
        })?;
        create_dirs_at(&path, grandchildren, plans, false)
    })
}

/// Creates the top-level directory `path` (named `name`, in the staging root `dir`) under a
/// name used once, then renames it. The staging root is marked as the top of unrelated
/// hierarchies, so ext4 chooses each new top-level directory's block group from a hash of its
/// name; under its own name, `torch/` would land every time in the group the last `torch/`
/// left, among inodes freed seconds ago that ext4 scans past one by one for every directory of
/// the new tree (see `cairn_fs::mark_top_of_hierarchies`).
fn create_spread_dir(dir: &Path, name: &str, path: &Path) -> io::Result<()> {
    static CREATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let count = CREATED.fetch_add(1, Ordering::Relaxed);
    let fresh = dir.join(format!(".{name}.{}.{count}.{nanos}", std::process::id()));
    fs::create_dir(&fresh)?;
    fs::rename(&fresh, path)
}

/// A new file with its final mode, never replacing anything (nor following a symlink).
fn create_new(path: &Path, executable: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    options.open(path)
}
