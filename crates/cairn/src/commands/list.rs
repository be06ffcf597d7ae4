//! `cairn list`: the projects installed in a target, as `pip list --path` prints them.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use cairn_install::InstalledDist;
use serde::Serialize;

use crate::cli::{InstalledTargetArgs, ListFormat, ListInstalledArgs};
use crate::output;

pub(crate) fn run(args: ListInstalledArgs) -> anyhow::Result<ExitCode> {
    let target = target_of(&args.location)?;
    let dists = cairn_install::list(target)?;
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

/// The target directory `cairn list` and `cairn uninstall` work in. Only `--target` is
/// supported: installing into an environment (`--python` alone) is not built yet.
pub(super) fn target_of(location: &InstalledTargetArgs) -> anyhow::Result<&Path> {
    match (&location.target, &location.python) {
        (Some(target), _) => Ok(target),
        (None, Some(python)) => bail!(
            "--python {} is not supported yet: cairn installs only into target directories \
             for now; pass the directory with --target DIR",
            python.display()
        ),
        (None, None) => {
            bail!("--target DIR is required for now (environments are not supported yet)")
        }
    }
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
