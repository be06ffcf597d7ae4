//! The projects already installed in a target, found by their `.dist-info` directories, and the
//! files their `RECORD`s say they own.

use std::fs;
use std::io;
use std::path::Path;

use super::error::InstallError;
use super::layout::{self, DIST_INFO_SUFFIX};
use super::{record, relpath};
use cairn_types::PackageName;

/// One installed project.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    /// Its `.dist-info` directory, relative to the target.
    pub(crate) dist_info: String,
    /// The normalised project name.
    pub(crate) project: PackageName,
    /// The installed version.
    pub(crate) version: String,
}

/// Every `.dist-info` directory at the target's root. Symlinks are not followed: a linked
/// metadata directory is not cairn's to manage.
pub(crate) fn scan(target: &Path) -> Result<Vec<Installed>, InstallError> {
    let read_error = |source| InstallError::Target {
        path: target.to_path_buf(),
        action: "list",
        source,
    };
    let mut installed = Vec::new();
    for entry in fs::read_dir(target).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(DIST_INFO_SUFFIX) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let (project, version) = match layout::split_dist_info_name(name) {
            Some((project, version)) => (PackageName::new(project), version.to_owned()),
            None => name_from_metadata(&target.join(name)).unwrap_or_else(|| {
                let stem = name.strip_suffix(DIST_INFO_SUFFIX).unwrap_or(name);
                (PackageName::new(stem), String::new())
            }),
        };
        installed.push(Installed {
            dist_info: name.to_owned(),
            project,
            version,
        });
    }
    installed.sort_by(|a, b| a.dist_info.cmp(&b.dist_info));
    Ok(installed)
}

fn name_from_metadata(dist_info: &Path) -> Option<(PackageName, String)> {
    let text = fs::read_to_string(dist_info.join("METADATA")).ok()?;
    let (name, version) = layout::parse_metadata(&text);
    Some((
        PackageName::new(name?),
        version.unwrap_or_default().to_owned(),
    ))
}

/// The target-relative files `installed`'s `RECORD` lists. Entries that leave the target
/// (absolute, or with `..`, as pip writes for scripts outside `site-packages`) are skipped:
/// cairn never touches anything outside the target.
pub(crate) fn recorded_paths(
    target: &Path,
    installed: &Installed,
) -> Result<Vec<String>, InstallError> {
    let dist_info = target.join(&installed.dist_info);
    let cannot_replace = |problem: String| InstallError::CannotReplace {
        project: installed.project.to_string(),
        dist_info: dist_info.clone(),
        problem,
    };
    let record_path = dist_info.join("RECORD");
    let text = match fs::read(&record_path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| cannot_replace("its RECORD is not UTF-8 text".to_owned()))?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(cannot_replace(
                "it has no RECORD, so the files it owns are unknown".to_owned(),
            ));
        }
        Err(source) => {
            return Err(InstallError::ReadTarget {
                path: record_path,
                source,
            });
        }
    };
    let rows = record::parse(&text).map_err(|error| {
        cannot_replace(format!(
            "line {} of its RECORD is malformed: {}",
            error.line, error.problem
        ))
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match relpath::normalize(&row.path) {
            Ok(path) => Some(path.into_owned()),
            Err(problem) => {
                tracing::debug!(
                    dist_info = installed.dist_info,
                    entry = %row.path,
                    problem = problem.describe(),
                    "RECORD entry outside the target left alone"
                );
                None
            }
        })
        .collect())
}

/// The `.dist-info` of the first project among `candidates` whose `RECORD` lists `path`. Only
/// called to word a conflict, so unreadable records are skipped.
pub(crate) fn find_owner<'a>(
    target: &Path,
    candidates: impl IntoIterator<Item = &'a Installed>,
    path: &str,
) -> Option<String> {
    candidates.into_iter().find_map(|installed| {
        let paths = recorded_paths(target, installed).ok()?;
        paths
            .iter()
            .any(|owned| owned == path || owned.starts_with(&format!("{path}/")))
            .then(|| installed.dist_info.clone())
    })
}
