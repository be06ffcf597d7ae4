//! Writing the new files into the staging tree, in parallel, before anything in the target
//! changes.
//!
//! Files are linked or written by rayon's threads with no existence check: the staging tree
//! starts empty, so a destination that exists (`EEXIST`) was put there by another file of the
//! plans. That file is skipped: several wheels may write one file with the same bytes (a shared
//! `__init__.py` of a namespace package), which is staged once, and any other case (different
//! bytes, a file where a directory is) is refused by the checks that run beside staging.
//! Linked files go directory by directory, named relative to the two directories held open,
//! largest directory first.
//!
//! The directories of the largest job are made first and its links start at once, while the
//! other directories are made (each before its children, siblings in parallel). One directory
//! often dominates: 7,083 of torch's 12,415 files are in `torch/include/ATen/ops`, and linking
//! them one after the other (the directory's lock serialises them) is the critical path of a
//! warm install.

mod dirs;

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use cairn_fs::{Link, LinkDir, LinkError, LinkMode};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::error::InstallError;
use super::plan::{Content, WheelPlan};
use super::relpath;

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

/// Files copied or cloned by one task: a directory with more is split so that one huge
/// directory does not leave the other threads idle, its two directories staying open for all
/// the tasks. Hard links and symlinks are not split (see [`splits_directories`]).
const FILES_PER_TASK: usize = 128;

/// Whether a directory's files are worth linking from several threads in `mode`. Creating a
/// name takes the destination directory's lock for the whole `link` or `symlink`, so threads
/// linking into one directory only take turns, spinning on the lock (in torch, 7,000 of 13,000
/// files share one directory); clones and copies do their work after the name exists, outside
/// the lock.
fn splits_directories(mode: LinkMode) -> bool {
    matches!(mode, LinkMode::Clone | LinkMode::Copy)
}

/// One unit of staging work.
enum Job<'a> {
    /// Files of one wheel linked from one archive directory into one staging directory.
    Links(DirLinks<'a>),
    /// A script copied from this archive-relative path to `dest` and made executable.
    CopyExecutable {
        wheel: usize,
        entry: &'a str,
        dest: &'a str,
    },
    /// A file generated here, written to `dest`.
    Write {
        wheel: usize,
        bytes: &'a [u8],
        executable: bool,
        dest: &'a str,
    },
}

impl<'a> Job<'a> {
    /// How many files the job puts in place.
    fn files(&self) -> usize {
        match self {
            Self::Links(links) => links.names.len(),
            Self::CopyExecutable { .. } | Self::Write { .. } => 1,
        }
    }

    /// The staging directory the job writes into (relative, `""` for the root).
    fn dst_dir(&self) -> &'a str {
        match self {
            Self::Links(links) => links.dst_dir,
            Self::CopyExecutable { dest, .. } | Self::Write { dest, .. } => relpath::parent(dest),
        }
    }

    /// The wheel the job's files belong to.
    fn wheel(&self) -> usize {
        match self {
            Self::Links(links) => links.wheel,
            Self::CopyExecutable { wheel, .. } | Self::Write { wheel, .. } => *wheel,
        }
    }
}

/// Files linked from the archive directory `src_dir` into the staging directory `dst_dir`
/// (both relative, `""` for the root), as (source name, destination name).
struct DirLinks<'a> {
    wheel: usize,
    src_dir: &'a str,
    dst_dir: &'a str,
    names: Vec<(&'a str, &'a str)>,
}

/// Creates the directories of every planned file under `root` and puts the files there.
///
/// Linked files are grouped by source and destination directory; each pair of directories is
/// opened once and its files linked by name ([`Link::link_at`]), so the kernel resolves one
/// name per file on each side rather than two full paths.
pub(crate) fn stage(
    root: &Path,
    plans: &[WheelPlan],
    linker: &dyn Link,
    counts: &[StageCounts],
) -> Result<(), InstallError> {
    // Largest directories first, one job per task: a directory linked on one thread starts
    // early enough that the others finish the rest meanwhile.
    let mut jobs = jobs(plans);
    jobs.sort_by_key(|job| std::cmp::Reverse(job.files()));
    let Some((first, rest)) = jobs.split_first() else {
        return Ok(());
    };
    let mut dirs = dirs::NewDirs::of(&jobs);
    dirs.create_ancestry(root, first.dst_dir(), plans)?;
    let stager = Stager {
        root,
        plans,
        linker,
        counts,
    };
    let (first_done, rest_done) = rayon::join(
        || stager.run(first),
        || {
            dirs.create_all(root, plans)?;
            rest.par_iter()
                .with_max_len(1)
                .try_for_each(|job| stager.run(job))
        },
    );
    first_done.and(rest_done)
}

/// What every staging job works with.
struct Stager<'a> {
    /// The staging root, laid out as the target.
    root: &'a Path,
    plans: &'a [WheelPlan],
    linker: &'a dyn Link,
    /// One per plan.
    counts: &'a [StageCounts],
}

impl Stager<'_> {
    /// Puts the files of one job in place.
    fn run(&self, job: &Job<'_>) -> Result<(), InstallError> {
        match job {
            Job::Links(links) => self.link_dir(links),
            Job::CopyExecutable { wheel, entry, dest } => {
                let plan = &self.plans[*wheel];
                let src = plan.archive.join(entry);
                let mut reader = File::open(&src).map_err(|source| InstallError::ReadArchive {
                    wheel: plan.wheel.clone(),
                    path: src.clone(),
                    source,
                })?;
                self.write_new(*wheel, dest, true, |writer| {
                    io::copy(&mut reader, writer).map(drop)
                })
            }
            Job::Write {
                wheel,
                bytes,
                executable,
                dest,
            } => self.write_new(*wheel, dest, *executable, |writer| writer.write_all(bytes)),
        }
    }

    /// Links the files of one pair of directories, opening each directory once.
    fn link_dir(&self, links: &DirLinks<'_>) -> Result<(), InstallError> {
        let plan = &self.plans[links.wheel];
        let src_path = join_relative(&plan.archive, links.src_dir);
        let src_dir = LinkDir::open(&src_path).map_err(|source| InstallError::ReadArchive {
            wheel: plan.wheel.clone(),
            path: src_path.clone(),
            source,
        })?;
        let dst_path = join_relative(self.root, links.dst_dir);
        let dst_dir = LinkDir::open(&dst_path).map_err(|source| InstallError::Stage {
            wheel: plan.wheel.clone(),
            path: dst_path.clone(),
            source,
        })?;
        let count = &self.counts[links.wheel];
        let link_names = |names: &[(&str, &str)]| {
            names.iter().try_for_each(|&(src, dst)| {
                // The plan took every entry from the archive's manifest or directories, which
                // said it is a regular file.
                let linked =
                    self.linker
                        .link_at(&src_dir, OsStr::new(src), &dst_dir, OsStr::new(dst));
                if let Err(LinkError::DestinationExists { dst, .. }) = &linked {
                    tracing::trace!(path = %dst.display(), "already staged by another wheel");
                    return Ok(());
                }
                let mode = linked.map_err(|source| match source {
                    // The staging directory is held open: the archive lacks the file.
                    LinkError::Link { ref source, .. }
                        if source.kind() == io::ErrorKind::NotFound =>
                    {
                        InstallError::MissingFile {
                            wheel: plan.wheel.clone(),
                            entry: relpath::join(links.src_dir, src),
                            archive: plan.archive.clone(),
                        }
                    }
                    source => InstallError::Link {
                        wheel: plan.wheel.clone(),
                        source,
                    },
                })?;
                count.linked.fetch_add(1, Ordering::Relaxed);
                count.weakest.fetch_max(mode_rank(mode), Ordering::Relaxed);
                Ok(())
            })
        };
        if links.names.len() <= FILES_PER_TASK || !splits_directories(self.linker.mode()) {
            link_names(&links.names)
        } else {
            links
                .names
                .par_chunks(FILES_PER_TASK)
                .try_for_each(link_names)
        }
    }

    /// Creates the new file `dest` (target-relative) of the wheel at index `wheel` and fills it
    /// with `fill`.
    fn write_new(
        &self,
        wheel: usize,
        dest: &str,
        executable: bool,
        fill: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<(), InstallError> {
        let dst = self.root.join(dest);
        let mut writer = match create_new(&dst, executable) {
            Ok(writer) => writer,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                tracing::trace!(path = %dst.display(), "already staged by another wheel");
                return Ok(());
            }
            Err(source) => {
                return Err(InstallError::Stage {
                    wheel: self.plans[wheel].wheel.clone(),
                    path: dst,
                    source,
                });
            }
        };
        fill(&mut writer).map_err(|source| InstallError::Stage {
            wheel: self.plans[wheel].wheel.clone(),
            path: dst,
            source,
        })?;
        self.counts[wheel].written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A wheel, its archive directory and the staging directory its files there go to.
type DirPairKey<'a> = (usize, &'a str, &'a str);

/// Every planned file as a job, linked files grouped by their pair of directories.
fn jobs(plans: &[WheelPlan]) -> Vec<Job<'_>> {
    let mut by_dirs: FxHashMap<DirPairKey<'_>, Vec<(&str, &str)>> = FxHashMap::default();
    let mut jobs = Vec::new();
    for (wheel, plan) in plans.iter().enumerate() {
        for file in &plan.files {
            let dest = file.dest.as_str();
            let entry = match &file.content {
                Content::Link(entry) => entry,
                Content::CopyExecutable(entry) => {
                    jobs.push(Job::CopyExecutable { wheel, entry, dest });
                    continue;
                }
                Content::Write { bytes, executable } => {
                    jobs.push(Job::Write {
                        wheel,
                        bytes,
                        executable: *executable,
                        dest,
                    });
                    continue;
                }
            };
            let (src_dir, src_name) = relpath::split(entry);
            let (dst_dir, dst_name) = relpath::split(dest);
            by_dirs
                .entry((wheel, src_dir, dst_dir))
                .or_default()
                .push((src_name, dst_name));
        }
    }
    jobs.extend(
        by_dirs
            .into_iter()
            .map(|((wheel, src_dir, dst_dir), names)| {
                Job::Links(DirLinks {
                    wheel,
                    src_dir,
                    dst_dir,
                    names,
                })
            }),
    );
    jobs
}

/// `base/relative`, or `base` itself for the root.
fn join_relative(base: &Path, relative: &str) -> PathBuf {
    if relative.is_empty() {
        base.to_path_buf()
    } else {
        base.join(relative)
    }
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
