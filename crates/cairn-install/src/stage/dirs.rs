//! The staging tree's directories: every directory a staging job writes into, and its
//! ancestors, made before the job starts.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::Job;
use crate::error::InstallError;
use crate::plan::WheelPlan;
use crate::relpath;

/// The staging directories still to create (relative, never `""`), each with a wheel that
/// needs it, for messages.
pub(super) struct NewDirs<'a> {
    dirs: BTreeMap<&'a str, usize>,
}

impl<'a> NewDirs<'a> {
    /// Every directory the jobs write into, and their ancestors.
    pub(super) fn of(jobs: &[Job<'a>]) -> Self {
        let mut dirs = BTreeMap::new();
        for job in jobs {
            let mut dir = job.dst_dir();
            // A directory already there brought its ancestors with it.
            while !dir.is_empty() && dirs.insert(dir, job.wheel()).is_none() {
                dir = relpath::parent(dir);
            }
        }
        Self { dirs }
    }

    /// Creates `dir` and its ancestors, top down.
    pub(super) fn create_ancestry(
        &mut self,
        root: &Path,
        dir: &str,
        plans: &[WheelPlan],
    ) -> Result<(), InstallError> {
        let mut ancestry = Vec::new();
        let mut next = dir;
        while !next.is_empty() {
            ancestry.push(next);
            next = relpath::parent(next);
        }
        for dir in ancestry.into_iter().rev() {
            if let Some(wheel) = self.dirs.remove(dir) {
                create_dir(root, dir, wheel, plans)?;
            }
        }
        Ok(())
    }

    /// Creates every directory left, parents before children, each level in parallel.
    pub(super) fn create_all(&self, root: &Path, plans: &[WheelPlan]) -> Result<(), InstallError> {
        let mut levels: Vec<Vec<(&str, usize)>> = Vec::new();
        for (&dir, &wheel) in &self.dirs {
            let depth = dir.bytes().filter(|&byte| byte == b'/').count();
            if levels.len() <= depth {
                levels.resize_with(depth + 1, Vec::new);
            }
            levels[depth].push((dir, wheel));
        }
        levels.iter().try_for_each(|level| {
            level
                .par_iter()
                .try_for_each(|&(dir, wheel)| create_dir(root, dir, wheel, plans))
        })
    }
}

/// Creates the staging directory `dir` (relative to `root`), whose parent exists.
fn create_dir(
    root: &Path,
    dir: &str,
    wheel: usize,
    plans: &[WheelPlan],
) -> Result<(), InstallError> {
    let path = root.join(dir);
    let created = if dir.contains('/') {
        fs::create_dir(&path)
    } else {
        create_spread_dir(root, dir, &path)
    };
    created.map_err(|source| InstallError::Stage {
        wheel: plans[wheel].wheel.clone(),
        path,
        source,
    })
}

/// Creates the top-level directory `path` (named `name`, in the staging root `dir`) under a
/// name used once, then renames it. The staging root is marked as the top of unrelated
/// hierarchies, so ext4 chooses each new top-level directory's block group from a hash of its
/// name; under its own name, `torch/` would land every time in the group the last `torch/`
/// left, among inodes freed seconds ago that ext4 scans past one by one for every directory of
/// the new tree (see `cairn_fs::mark_top_of_hierarchies`).
fn create_spread_dir(dir: &Path, name: &str, path: &Path) -> io::Result<()> {
    static CREATED: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let count = CREATED.fetch_add(1, Ordering::Relaxed);
    let fresh = dir.join(format!(".{name}.{}.{count}.{nanos}", std::process::id()));
    fs::create_dir(&fresh)?;
    fs::rename(&fresh, path)
}
