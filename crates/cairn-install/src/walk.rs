//! Parallel directory walks: listing an archive, judging a target directory, removing a tree.
//!
//! Every walk takes each entry's type from `read_dir` (`d_type` on Linux), so no entry is
//! `stat`ed, and hands subdirectories to rayon so large trees are listed on every core.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::relpath;

/// Why a walk stopped.
#[derive(Debug)]
pub(crate) enum WalkError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// A symlink or special file, or a name that is not UTF-8.
    Unsupported {
        path: PathBuf,
        what: &'static str,
    },
}

/// The relative paths (`a/b/c`) of every regular file under `root`. Symlinks, special files and
/// non-UTF-8 names are errors: an unpacked archive never holds them.
pub(crate) fn list_files(root: &Path) -> Result<Vec<String>, WalkError> {
    list_dir(root, String::new())
}

fn list_dir(root: &Path, relative: String) -> Result<Vec<String>, WalkError> {
    let dir = root.join(&relative);
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WalkError::Io { path, source }
    };
    let mut files = Vec::new();
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
        let entry = entry.map_err(io_error(&dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            return Err(WalkError::Unsupported {
                path: entry.path(),
                what: "a name that is not UTF-8",
            });
        };
        let file_type = entry.file_type().map_err(io_error(&entry.path()))?;
        let child = relpath::join(&relative, &name);
        if file_type.is_file() {
            files.push(child);
        } else if file_type.is_dir() {
            subdirs.push(child);
        } else {
            return Err(WalkError::Unsupported {
                path: entry.path(),
                what: if file_type.is_symlink() {
                    "a symlink"
                } else {
                    "a special file"
                },
            });
        }
    }
    let nested = subdirs
        .into_par_iter()
        .map(|subdir| list_dir(root, subdir))
        .collect::<Result<Vec<_>, _>>()?;
    files.extend(nested.into_iter().flatten());
    Ok(files)
}

/// The directories under `target/top` (`top` included) that hold, at any depth, an entry for
/// which `disposable` is false: the ones an upgrade must merge into rather than swap whole.
/// Symlinks are judged as files and never followed; a name that is not UTF-8 is never
/// disposable.
pub(crate) fn kept_dirs(
    target: &Path,
    top: &str,
    disposable: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<String>, (PathBuf, io::Error)> {
    let mut kept = Vec::new();
    judge_dir(target, top.to_owned(), disposable, &mut kept)?;
    Ok(kept)
}

/// Whether `relative` must be kept; kept directories are appended to `kept`.
fn judge_dir(
    target: &Path,
    relative: String,
    disposable: &(dyn Fn(&str) -> bool + Sync),
    kept: &mut Vec<String>,
) -> Result<bool, (PathBuf, io::Error)> {
    let dir = target.join(&relative);
    let mut keep = false;
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|error| (dir.clone(), error))? {
        let entry = entry.map_err(|error| (dir.clone(), error))?;
        let Ok(name) = entry.file_name().into_string() else {
            keep = true;
            continue;
        };
        let child = relpath::join(&relative, &name);
        let file_type = entry.file_type().map_err(|error| (entry.path(), error))?;
        if file_type.is_dir() {
            subdirs.push(child);
        } else if !disposable(&child) {
            keep = true;
        }
    }
    let judged = subdirs
        .into_par_iter()
        .map(|subdir| {
            let mut nested = Vec::new();
            judge_dir(target, subdir, disposable, &mut nested).map(|keep| (keep, nested))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (child_kept, nested) in judged {
        keep |= child_kept;
        kept.extend(nested);
    }
    if keep {
        kept.push(relative);
    }
    Ok(keep)
}

/// Removes `path` and everything under it, deleting files on every core. Symlinks are removed,
/// never followed.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let mut files = Vec::new();
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            subdirs.push(entry.path());
        } else {
            files.push(entry.path());
        }
    }
    // Small batches keep each rayon task worth its overhead.
    files.par_chunks(64).try_for_each(|batch| {
        batch
            .iter()
            .try_for_each(|file| match fs::remove_file(file) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            })
    })?;
    subdirs.par_iter().try_for_each(|dir| remove_tree(dir))?;
    fs::remove_dir(path)
}
