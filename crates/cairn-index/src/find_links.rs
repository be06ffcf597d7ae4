//! Wheels in find-links directories: local files named like the project.

use std::path::{Path, PathBuf};

use super::error::IndexError;
use cairn_types::{PackageName, WheelFilename};

/// The wheels of `project` in `dirs`, in directory order; other files are ignored.
pub(crate) fn wheels(
    dirs: &[PathBuf],
    project: &PackageName,
) -> Result<Vec<(PathBuf, WheelFilename)>, IndexError> {
    let mut found = Vec::new();
    for dir in dirs {
        let error = |source| IndexError::FindLinks {
            path: dir.clone(),
            source,
        };
        for entry in std::fs::read_dir(dir).map_err(error)? {
            let entry = entry.map_err(error)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if let Some(wheel) = wheel_of(name, project)
                && is_file(&entry.path())
            {
                found.push((entry.path(), wheel));
            }
        }
    }
    Ok(found)
}

fn wheel_of(filename: &str, project: &PackageName) -> Option<WheelFilename> {
    let wheel: WheelFilename = filename
        .strip_suffix(".whl")
        .map(|_| filename.parse())?
        .ok()?;
    (wheel.normalized_name() == *project).then_some(wheel)
}

/// Follows symlinks: a linked wheel is as good as a copied one.
fn is_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file())
}
