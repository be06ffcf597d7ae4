//! Listing the projects installed in a target, as `pip list --path` does.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use cairn_types::PackageName;

use super::error::InstallError;
use super::layout::{Layout, Scheme};
use super::{Installer, installed, layout, relpath};

/// One project installed in a target, read from its `.dist-info` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstalledDist {
    /// The project name as its `METADATA` spells it (`PyJWT`), else as the `.dist-info`
    /// directory's name does.
    pub name: String,
    /// The normalised project name (`pyjwt`).
    pub project: PackageName,
    /// The version from `METADATA`, else from the `.dist-info` directory's name.
    pub version: String,
    /// The `.dist-info` directory, relative to the target (to the environment's prefix for an
    /// [`Installer`] of an environment's scheme).
    pub dist_info: String,
    /// Whether the `.dist-info` holds `REQUESTED` (PEP 376): the user named the project,
    /// rather than it being installed as someone's dependency.
    pub requested: bool,
    /// The first line of `INSTALLER` (`cairn`, `pip`, `uv`), if there is one.
    pub installer: Option<String>,
}

/// Every project installed at the root of `target` (its `*.dist-info` directories), sorted by
/// normalised name then version. `.egg-info` installs are not listed.
///
/// A shared lock on the target is held while reading, so an install or uninstall running in
/// another process is seen before or after, never halfway.
///
/// # Errors
///
/// [`InstallError::Target`] if the target cannot be opened, locked or listed (a missing target
/// is such an error, not an empty list).
pub fn list(target: &Path) -> Result<Vec<InstalledDist>, InstallError> {
    list_in(&Layout::new(&Scheme::target(target))?)
}

impl Installer {
    /// The projects installed in this installer's target or scheme: see [`list`].
    ///
    /// # Errors
    ///
    /// As [`list`].
    pub fn list(&self) -> Result<Vec<InstalledDist>, InstallError> {
        list_in(&self.layout)
    }
}

/// [`list`] in any layout: a target directory's, or an environment's scheme.
fn list_in(layout: &Layout) -> Result<Vec<InstalledDist>, InstallError> {
    let target = layout.root.as_path();
    let target_error = |action| {
        move |source| InstallError::Target {
            path: target.to_path_buf(),
            action,
            source,
        }
    };
    let directory = File::open(target).map_err(target_error("open"))?;
    match directory.lock_shared() {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::Unsupported => {
            tracing::debug!(%error, "the target cannot be locked; listing unlocked");
        }
        Err(source) => return Err(target_error("lock")(source)),
    }
    if crate::transaction::has_staging(target) {
        recover_for_listing(&directory, target);
    }
    let mut dists: Vec<InstalledDist> = installed::scan(layout)?
        .into_iter()
        .map(|found| read_dist(target, found))
        .collect();
    dists.sort_by(|a, b| {
        a.project
            .cmp(&b.project)
            .then_with(|| a.version.cmp(&b.version))
    });
    Ok(dists)
}

/// Rolls back what an install or uninstall killed earlier left half done, as the next install
/// would, so that a listing never shows some of its packages and not others: the shared lock
/// on `directory` becomes exclusive for the rollback, then shared again. A target this user
/// cannot change is listed as it is, with a warning.
fn recover_for_listing(directory: &File, target: &Path) {
    let recovered = directory
        .lock()
        .map_err(|source| InstallError::Target {
            path: target.to_path_buf(),
            action: "lock",
            source,
        })
        .and_then(|()| crate::recover_in(target));
    if let Err(error) = recovered {
        tracing::warn!(
            target = %target.display(),
            error = %chain(&error),
            "an earlier install or uninstall into this target was interrupted and cannot be rolled back now; listing the target as it is"
        );
    }
    if let Err(error) = directory.lock_shared() {
        tracing::debug!(%error, "cannot take the target's shared lock back");
    }
}

/// `error` and its causes on one line, for a log.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

/// What the `.dist-info` of `found` says about it. Unreadable files are passed over: the
/// directory's name already gives the name and version.
pub(crate) fn read_dist(target: &Path, found: installed::Installed) -> InstalledDist {
    let dir = target.join(&found.dist_info);
    let metadata = fs::read_to_string(dir.join("METADATA")).unwrap_or_default();
    let (name, version) = layout::parse_metadata(&metadata);
    let fallback_name = layout::split_dist_info_name(relpath::file_name(&found.dist_info))
        .map_or(found.project.as_str(), |(name, _)| name);
    let installer = fs::read_to_string(dir.join("INSTALLER"))
        .ok()
        .and_then(|text| text.lines().next().map(|line| line.trim().to_owned()))
        .filter(|line| !line.is_empty());
    InstalledDist {
        name: name.unwrap_or(fallback_name).to_owned(),
        version: version.map_or_else(|| found.version.clone(), str::to_owned),
        requested: fs::symlink_metadata(dir.join("REQUESTED")).is_ok(),
        installer,
        dist_info: found.dist_info,
        project: found.project,
    }
}
