//! `cairn list`: the projects installed in an environment, a target or a prefix, as `pip list`
//! prints them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use cairn_install::{
    InstallError, InstallSettings, InstalledDist, Installer, Link, LinkMode, Linker, PackageName,
    UninstallError, UninstallReport,
};
use cairn_python::tags::Interpreter;
use serde::Serialize;

use super::environment::{Destination, find_python};
use crate::cli::{GlobalArgs, InstalledTargetArgs, ListFormat, ListInstalledArgs};
use crate::output;

pub(crate) fn run(global: &GlobalArgs, args: ListInstalledArgs) -> anyhow::Result<ExitCode> {
    let dists = installed_at(global, &args.location)?.list()?;
    match args.format {
        ListFormat::Freeze => output::lines(
            dists
                .iter()
                .map(|dist| format!("{}=={}", dist.name, dist.version)),
        )?,
        ListFormat::Json => {
            let rows: Vec<JsonRow<'_>> = dists.iter().map(JsonRow::from).collect();
            output::line(serde_json::to_string_pretty(&rows)?)?;
        }
        ListFormat::Columns => output::lines(columns(&dists))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `cairn list` and `cairn uninstall` work.
pub(super) enum Installed {
    /// A target directory: no interpreter needed.
    Target(PathBuf),
    /// A prefix or an environment, through an installer of its scheme.
    Scheme(Box<Installer>),
}

impl Installed {
    pub(super) fn list(&self) -> Result<Vec<InstalledDist>, InstallError> {
        match self {
            Self::Target(target) => cairn_install::list(target),
            Self::Scheme(installer) => installer.list(),
        }
    }

    pub(super) fn uninstall(
        &self,
        names: &[PackageName],
    ) -> Result<UninstallReport, UninstallError> {
        match self {
            Self::Target(target) => cairn_install::uninstall(target, names),
            Self::Scheme(installer) => installer.uninstall(names),
        }
    }
}

/// The target, prefix or environment `cairn list` and `cairn uninstall` work in (an
/// environment's scheme is learned from its interpreter, through the cache).
pub(super) fn installed_at(
    global: &GlobalArgs,
    location: &InstalledTargetArgs,
) -> anyhow::Result<Installed> {
    let destination = Destination::new(location.target.as_deref(), location.prefix.as_deref());
    if let Destination::Target(target) = destination {
        return Ok(Installed::Target(target));
    }
    let python = find_python(
        location.python.as_deref(),
        location.system,
        matches!(destination, Destination::Prefix(_)),
    )?;
    let cache = super::open_cache(global)?;
    let interpreter = Interpreter::query(&python, &cache)?;
    let scheme = destination.scheme(&interpreter);
    if !scheme.purelib.is_dir() && !scheme.platlib.is_dir() {
        bail!(
            "{} does not exist: nothing is installed there",
            scheme.purelib.display()
        );
    }
    let linker: Arc<dyn Link> = Arc::new(Linker::new(LinkMode::default()));
    let settings = InstallSettings::new(interpreter.shebang_path());
    let installer = Installer::with_scheme(&scheme, settings, linker)?;
    Ok(Installed::Scheme(Box::new(installer)))
}

/// One project in `--format json`.
#[derive(Serialize)]
struct JsonRow<'a> {
    name: &'a str,
    version: &'a str,
    installer: Option<&'a str>,
    requested: bool,
}

impl<'a> From<&'a InstalledDist> for JsonRow<'a> {
    fn from(dist: &'a InstalledDist) -> Self {
        Self {
            name: &dist.name,
            version: &dist.version,
            installer: dist.installer.as_deref(),
            requested: dist.requested,
        }
    }
}

/// A table with a header, as `pip list` prints; nothing when nothing is installed.
fn columns(dists: &[InstalledDist]) -> Vec<String> {
    if dists.is_empty() {
        return Vec::new();
    }
    let header = ["Package", "Version", "Installer"];
    let rows: Vec<[&str; 3]> = dists
        .iter()
        .map(|dist| {
            [
                dist.name.as_str(),
                dist.version.as_str(),
                dist.installer.as_deref().unwrap_or(""),
            ]
        })
        .collect();
    let width = |column: usize| {
        rows.iter()
            .map(|row| row[column].chars().count())
            .chain([header[column].len()])
            .max()
            .unwrap_or(0)
    };
    let (name_width, version_width) = (width(0), width(1));
    let line = |row: [&str; 3]| {
        format!(
            "{:name_width$} {:version_width$} {}",
            row[0], row[1], row[2]
        )
        .trim_end()
        .to_owned()
    };
    let dashes = [
        "-".repeat(name_width),
        "-".repeat(version_width),
        "-".repeat(width(2)),
    ];
    let mut lines = vec![
        line(header),
        line([dashes[0].as_str(), dashes[1].as_str(), dashes[2].as_str()]),
    ];
    lines.extend(rows.into_iter().map(line));
    lines
}
