//! Uninstalling projects from a target, as one transaction with the install's lock and
//! rollback.
//!
//! What a project owns is what its `RECORD` lists inside the target (rows leaving it are
//! ignored, pip's `../../bin/…` rows name the target's `bin/…`; see `installed`), less the files
//! another installed project's `RECORD` lists too (a namespace `__init__.py` several projects
//! ship): those stay until their last owner goes. The removal is planned as an install with no
//! new files (`merge::plan_merge`): whole directories holding only the project's files (and
//! bytecode caches) are set aside with one rename, shared directories file by file, with the
//! `__pycache__` entries of the modules removed; the `.dist-info` directory goes whole, even
//! with files its `RECORD` does not list. Everything is renamed into the staging directory
//! first; the commit deletes it and the directories left empty, and any failed rename puts
//! everything back.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use cairn_types::PackageName;

use super::error::InstallError;
use super::installed::{self, Installed};
use super::layout::{Layout, Scheme};
use super::list;
use super::merge::{self, MergeError, NewTree};
use super::transaction::{self, Transaction};
use super::{Installer, relpath};

/// Why an uninstall failed. Unless the error is [`UninstallError::RollbackFailed`], the target
/// is exactly as it was before the call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UninstallError {
    /// Some of the names given have no `.dist-info` in the target; nothing was removed.
    #[error(
        "not installed in {}: {}; nothing was uninstalled (names are compared after PEP 503 \
         normalisation)",
        target.display(),
        names.join(", ")
    )]
    NotInstalled {
        /// The normalised names not found, in the order given.
        names: Vec<String>,
        /// The target directory.
        target: PathBuf,
    },

    /// The files an installed project owns cannot be known (no `RECORD`, or a malformed one).
    #[error(
        "cannot uninstall {project} from {}: {problem}; nothing was uninstalled: remove that \
         installation by hand",
        dist_info.display()
    )]
    CannotUninstall {
        /// The normalised project name.
        project: String,
        /// Its `.dist-info` directory.
        dist_info: PathBuf,
        /// What is wrong.
        problem: String,
    },

    /// Setting a file or directory aside failed; everything done before was put back.
    #[error(
        "cannot move {} to {}; the uninstall was undone and the target is as it was: check \
         that the target is writable",
        from.display(),
        to.display()
    )]
    Move {
        /// The path being moved.
        from: PathBuf,
        /// Where it was going.
        to: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The uninstall failed and putting things back failed too: the target is in between.
    #[error(
        "{cause}; undoing the uninstall then failed for {} path(s) (first: {}), so some files \
         are gone from the target: they are kept under {}: move them back, or reinstall",
        failures.len(),
        failures.first().map_or("", String::as_str),
        backup.display()
    )]
    RollbackFailed {
        /// The error that started the rollback.
        cause: Box<UninstallError>,
        /// One line per path that could not be restored.
        failures: Vec<String>,
        /// The staging directory kept with the set-aside files.
        backup: PathBuf,
    },

    /// The target could not be opened, locked, listed or read, or the staging directory made.
    #[error(transparent)]
    Target(InstallError),
}

/// What an uninstall did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UninstallReport {
    /// One entry per `.dist-info` removed, sorted by directory name.
    pub uninstalled: Vec<UninstalledDist>,
    /// Target-relative files the removed projects listed that stay, because another installed
    /// project's `RECORD` lists them too; sorted.
    pub kept_shared: Vec<String>,
}

/// One project an uninstall removed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UninstalledDist {
    /// The project name as its `METADATA` spells it.
    pub name: String,
    /// The normalised project name.
    pub project: PackageName,
    /// The version removed.
    pub version: String,
    /// Its `.dist-info` directory, relative to the target (to the environment's prefix for an
    /// [`Installer`] of an environment's scheme).
    pub dist_info: String,
    /// Files its `RECORD` listed that were found and removed (shared files kept not counted).
    pub files_removed: usize,
}

impl Installer {
    /// Uninstalls the projects `names` from this installer's target or scheme: see
    /// [`uninstall`].
    ///
    /// # Errors
    ///
    /// As [`uninstall`].
    pub fn uninstall(&self, names: &[PackageName]) -> Result<UninstallReport, UninstallError> {
        uninstall_in(&self.layout, names)
    }
}

/// Uninstalls the projects `names` from `target` as one transaction, under the lock installs
/// take: every file each project's `RECORD` lists inside the target, its `.dist-info`
/// directory and the directories left empty are removed, except files another installed
/// project's `RECORD` lists too. Every installed version of a named project goes.
///
/// # Errors
///
/// [`UninstallError::NotInstalled`] naming every name without a `.dist-info` in the target
/// (nothing is removed); [`UninstallError::CannotUninstall`] for a project without a readable
/// `RECORD`; [`UninstallError::Move`] if a rename fails (everything is put back);
/// [`UninstallError::Target`] if the target cannot be locked or read;
/// [`UninstallError::RollbackFailed`] if putting back failed too.
pub fn uninstall(target: &Path, names: &[PackageName]) -> Result<UninstallReport, UninstallError> {
    if names.is_empty() {
        return Ok(UninstallReport::default());
    }
    let layout = Layout::new(&Scheme::target(target)).map_err(UninstallError::Target)?;
    uninstall_in(&layout, names)
}

/// [`uninstall`] in any layout: a target directory's, or an environment's scheme.
pub(crate) fn uninstall_in(
    layout: &Layout,
    names: &[PackageName],
) -> Result<UninstallReport, UninstallError> {
    if names.is_empty() {
        return Ok(UninstallReport::default());
    }
    let target = layout.root.as_path();
    let _lock = transaction::lock_target(target).map_err(UninstallError::Target)?;
    super::recover_in(target).map_err(UninstallError::Target)?;

    let wanted: HashSet<&str> = names.iter().map(PackageName::as_str).collect();
    let (removed, others): (Vec<Installed>, Vec<Installed>) = installed::scan(layout)
        .map_err(UninstallError::Target)?
        .into_iter()
        .partition(|found| wanted.contains(found.project.as_str()));
    let mut missing: Vec<String> = Vec::new();
    for name in names {
        let found = removed.iter().any(|dist| dist.project == *name);
        if !found && !missing.iter().any(|seen| seen == name.as_str()) {
            missing.push(name.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(UninstallError::NotInstalled {
            names: missing,
            target: target.to_path_buf(),
        });
    }

    let mut owned_by_each = Vec::with_capacity(removed.len());
    let mut owned: HashSet<String> = HashSet::new();
    for dist in &removed {
        let paths = installed::recorded_paths(layout, dist).map_err(cannot_uninstall)?;
        owned.extend(paths.iter().cloned());
        owned_by_each.push(paths);
    }
    let other_refs: Vec<&Installed> = others.iter().collect();
    let shared = installed::listed_by(layout, &other_refs, |path| owned.contains(path));
    let mut kept_shared: Vec<String> = shared.into_keys().collect();
    kept_shared.sort_unstable();
    for path in &kept_shared {
        tracing::debug!(path, "kept: another installed project lists it too");
        owned.remove(path);
    }

    let mut plan = merge::plan_merge(layout, &NewTree::default(), &[], &owned, false)
        .map_err(|error| plan_error(target, error))?;
    // The `.dist-info` goes whole, with anything its RECORD does not list.
    for dist in &removed {
        let whole = plan.backups.contains(&dist.dist_info);
        let is_dir = fs::symlink_metadata(target.join(&dist.dist_info)).is_ok_and(|m| m.is_dir());
        if !whole && is_dir {
            plan.backups.push(dist.dist_info.clone());
        }
    }

    let uninstalled = removed
        .into_iter()
        .zip(owned_by_each)
        .map(|(dist, paths)| {
            let files_removed = count_present(target, &paths, &owned);
            let listed = list::read_dist(target, dist);
            UninstalledDist {
                name: listed.name,
                project: listed.project,
                version: listed.version,
                dist_info: listed.dist_info,
                files_removed,
            }
        })
        .collect();

    let mut transaction = Transaction::begin(target).map_err(UninstallError::Target)?;
    transaction.apply(&plan).map_err(from_install)?;
    transaction.commit(&plan.prune);
    Ok(UninstallReport {
        uninstalled,
        kept_shared,
    })
}

/// How many of `paths` (deduplicated) are being removed and exist, as files or symlinks, under
/// real directories of the target.
fn count_present(target: &Path, paths: &[String], owned: &HashSet<String>) -> usize {
    let unique: HashSet<&str> = paths.iter().map(String::as_str).collect();
    unique
        .into_iter()
        .filter(|path| owned.contains(*path))
        .filter(|path| {
            let mut dir = relpath::parent(path);
            while !dir.is_empty() {
                if !fs::symlink_metadata(target.join(dir)).is_ok_and(|m| m.is_dir()) {
                    return false;
                }
                dir = relpath::parent(dir);
            }
            fs::symlink_metadata(target.join(path)).is_ok_and(|m| !m.is_dir())
        })
        .count()
}

/// A project whose `RECORD` cannot be read is one that cannot be uninstalled.
fn cannot_uninstall(error: InstallError) -> UninstallError {
    match error {
        InstallError::CannotReplace {
            project,
            dist_info,
            problem,
        } => UninstallError::CannotUninstall {
            project,
            dist_info,
            problem,
        },
        other => UninstallError::Target(other),
    }
}

/// Words the transaction's errors as an uninstall's.
fn from_install(error: InstallError) -> UninstallError {
    match error {
        InstallError::Commit { from, to, source } => UninstallError::Move { from, to, source },
        InstallError::RollbackFailed {
            cause,
            failures,
            backup,
        } => UninstallError::RollbackFailed {
            cause: Box::new(from_install(*cause)),
            failures,
            backup,
        },
        other => UninstallError::Target(other),
    }
}

/// Planning a removal only reads the target; with no new files there is nothing to conflict
/// with or to read from an archive.
fn plan_error(target: &Path, error: MergeError) -> UninstallError {
    let (path, source) = match error {
        MergeError::Io { path, source } | MergeError::ReadArchive { path, source, .. } => {
            (path, source)
        }
        MergeError::Conflict { path, .. } => (
            target.join(path),
            io::Error::other("an uninstall planned a new file"),
        ),
    };
    UninstallError::Target(InstallError::ReadTarget { path, source })
}
