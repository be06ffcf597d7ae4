//! The projects already installed in a target, found by their `.dist-info` directories, and the
//! files their `RECORD`s say they own.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;

use rayon::prelude::*;

use super::error::InstallError;
use super::layout::{self, DIST_INFO_SUFFIX, Layout};
use super::relpath::PathProblem;
use super::{record, relpath};
use cairn_types::PackageName;

/// One installed project.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    /// Its `.dist-info` directory, relative to the root (see `layout`).
    pub(crate) dist_info: String,
    /// The normalised project name.
    pub(crate) project: PackageName,
    /// The installed version.
    pub(crate) version: String,
}

/// Every `.dist-info` directory in the layout's library directories (a target's root).
/// Symlinks are not followed: a linked metadata directory is not cairn's to manage. A library
/// directory that does not exist yet holds nothing.
pub(crate) fn scan(layout: &Layout) -> Result<Vec<Installed>, InstallError> {
    let mut installed = Vec::new();
    for lib in layout.lib_dirs() {
        let dir = layout.root.join(lib);
        let read_error = |source| InstallError::Target {
            path: dir.clone(),
            action: "list",
            source,
        };
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound && !lib.is_empty() => continue,
            Err(error) => return Err(read_error(error)),
        };
        for entry in entries {
            let entry = entry.map_err(read_error)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.ends_with(DIST_INFO_SUFFIX) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let (project, version) = match layout::split_dist_info_name(name) {
                Some((project, version)) => (PackageName::new(project), version.to_owned()),
                None => name_from_metadata(&dir.join(name)).unwrap_or_else(|| {
                    let stem = name.strip_suffix(DIST_INFO_SUFFIX).unwrap_or(name);
                    (PackageName::new(stem), String::new())
                }),
            };
            installed.push(Installed {
                dist_info: relpath::join(lib, name),
                project,
                version,
            });
        }
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

/// The root-relative files `installed`'s `RECORD` lists (see [`row_path`] for the rows that
/// leave the root).
pub(crate) fn recorded_paths(
    layout: &Layout,
    installed: &Installed,
) -> Result<Vec<String>, InstallError> {
    let mut paths = Vec::new();
    for_each_recorded(layout, installed, |path| paths.push(path.to_owned()))?;
    Ok(paths)
}

/// Calls `visit` with every root-relative file `installed`'s `RECORD` lists.
fn for_each_recorded(
    layout: &Layout,
    installed: &Installed,
    mut visit: impl FnMut(&str),
) -> Result<(), InstallError> {
    let dist_info = layout.root.join(&installed.dist_info);
    let lib = relpath::parent(&installed.dist_info);
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
    for row in rows {
        match row_path(layout, lib, &row.path) {
            Ok(path) => visit(&path),
            Err(problem) => tracing::debug!(
                dist_info = installed.dist_info,
                entry = %row.path,
                problem = problem.describe(),
                "RECORD entry outside the install root left alone"
            ),
        }
    }
    Ok(())
}

/// The root-relative path a `RECORD` row of a `.dist-info` in `lib` names: the row resolved
/// against `lib` while it stays inside the root, and in a target directory [`target_path`].
fn row_path<'r>(layout: &Layout, lib: &str, row: &'r str) -> Result<Cow<'r, str>, PathProblem> {
    if layout.is_target() {
        target_path(row)
    } else {
        Layout::resolve_row(lib, row).map(Cow::Owned)
    }
}

/// The target-relative path a `RECORD` row names.
///
/// `pip install --target` installs into a temporary home scheme, whose `site-packages` is
/// `<home>/lib/python`, then moves that directory's entries and `<home>`'s other entries (`bin`,
/// `include`, data) into the target: its `RECORD`s name the scripts `../../bin/x`, and that file
/// is the target's `bin/x`. So a row `../../x` names `x` in the target, except under `lib` (pip
/// moves nothing from there). Any other row that leaves the target (absolute, or another `..`)
/// names no file of the target: cairn never touches anything outside it.
fn target_path(path: &str) -> Result<Cow<'_, str>, PathProblem> {
    match relpath::normalize(path) {
        Err(PathProblem::ParentComponent) => match path.strip_prefix("../../") {
            Some(inside) => match relpath::normalize(inside) {
                Ok(inside) if relpath::top_level(&inside) != "lib" => Ok(inside),
                _ => Err(PathProblem::ParentComponent),
            },
            None => Err(PathProblem::ParentComponent),
        },
        other => other,
    }
}

/// The files among those `wanted` accepts that the `RECORD` of one of `candidates` lists, each
/// with the `.dist-info` of the first that does. The `RECORD`s are read in parallel; one that
/// cannot be read is passed over (its project is not replaced, so what it lists stays anyway).
pub(crate) fn listed_by(
    layout: &Layout,
    candidates: &[&Installed],
    wanted: impl Fn(&str) -> bool + Sync,
) -> HashMap<String, String> {
    let found: Vec<Vec<String>> = candidates
        .par_iter()
        .map(|installed| {
            let mut found = Vec::new();
            let read = for_each_recorded(layout, installed, |path| {
                if wanted(path) {
                    found.push(path.to_owned());
                }
            });
            if let Err(error) = read {
                tracing::debug!(
                    dist_info = installed.dist_info,
                    %error,
                    "cannot read an installed RECORD; passing it over"
                );
            }
            found
        })
        .collect();
    let mut owners = HashMap::new();
    for (installed, paths) in candidates.iter().zip(found) {
        for path in paths {
            owners
                .entry(path)
                .or_insert_with(|| installed.dist_info.clone());
        }
    }
    owners
}

/// The `.dist-info` of the first project among `candidates` whose `RECORD` lists `path`. Only
/// called to word a conflict, so unreadable records are skipped.
pub(crate) fn find_owner<'a>(
    layout: &Layout,
    candidates: impl IntoIterator<Item = &'a Installed>,
    path: &str,
) -> Option<String> {
    candidates.into_iter().find_map(|installed| {
        let paths = recorded_paths(layout, installed).ok()?;
        paths
            .iter()
            .any(|owned| owned == path || owned.starts_with(&format!("{path}/")))
            .then(|| installed.dist_info.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_target_rows_name_files_in_the_target() {
        assert_eq!(target_path("pkg/a.py").as_deref(), Ok("pkg/a.py"));
        assert_eq!(target_path("../../bin/tool").as_deref(), Ok("bin/tool"));
        assert_eq!(
            target_path("../../include/python/x/x.h").as_deref(),
            Ok("include/python/x/x.h")
        );
        for outside in [
            "../bin/tool",
            "../../../bin/tool",
            "../../lib/python/x.py",
            "../../bin/../../x",
            "/usr/bin/tool",
            "pkg/../../x",
        ] {
            assert!(target_path(outside).is_err(), "{outside}");
        }
    }
}
