//! The core metadata of an unpacked wheel: `<name>-<version>.dist-info/METADATA`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use thiserror::Error;

use crate::metadata::{CoreMetadata, MetadataError, PackageName, Version};
use cairn_types::WheelFilename;

/// Why an unpacked wheel's metadata could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DistInfoError {
    /// The directory could not be listed.
    #[error("cannot list the unpacked wheel `{}`", dir.display())]
    List {
        /// The unpacked wheel.
        dir: PathBuf,
        /// The filesystem error.
        #[source]
        source: std::io::Error,
    },
    /// No `.dist-info` directory names the wheel's project and version.
    #[error(
        "the unpacked wheel `{}` has no `.dist-info` directory for {wheel} (found: {}); the \
         wheel is malformed",
        dir.display(),
        listing(found)
    )]
    NoDistInfo {
        /// The unpacked wheel.
        dir: PathBuf,
        /// The wheel's `<name>-<version>`.
        wheel: String,
        /// The `.dist-info` directories present, if any.
        found: Vec<String>,
    },
    /// Several `.dist-info` directories name the wheel's project and version.
    #[error(
        "the unpacked wheel `{}` has several `.dist-info` directories for {wheel} ({}); the \
         wheel is malformed",
        dir.display(),
        listing(found)
    )]
    SeveralDistInfo {
        /// The unpacked wheel.
        dir: PathBuf,
        /// The wheel's `<name>-<version>`.
        wheel: String,
        /// The matching directories.
        found: Vec<String>,
    },
    /// `METADATA` could not be read.
    #[error("cannot read the wheel metadata `{}`", path.display())]
    Read {
        /// The `METADATA` file.
        path: PathBuf,
        /// The filesystem error.
        #[source]
        source: std::io::Error,
    },
    /// `METADATA` is not valid core metadata.
    #[error("the wheel metadata `{}` is invalid", path.display())]
    Invalid {
        /// The `METADATA` file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: MetadataError,
    },
    /// `METADATA` names another project or version than the wheel's file name.
    #[error(
        "the wheel metadata `{}` says `{field}: {metadata}`, but the wheel file name says \
         {wheel}; the wheel is malformed",
        path.display()
    )]
    Inconsistent {
        /// The `METADATA` file.
        path: PathBuf,
        /// `Name` or `Version`.
        field: &'static str,
        /// What the file name says.
        wheel: String,
        /// What the metadata says.
        metadata: String,
    },
}

fn listing(found: &[String]) -> String {
    if found.is_empty() {
        "none".to_owned()
    } else {
        found.join(", ")
    }
}

/// Reads and parses the `METADATA` of the wheel `wheel` unpacked in `dir` (a wheel's tree, such
/// as an archive in the cache), without reading anything else.
///
/// The `.dist-info` directory is found as pip finds it: among the top-level directories named
/// `<name>-<version>.dist-info` (the suffix in any case), the one whose name normalises to the
/// wheel's project and whose version equals the wheel's (PEP 440 equality, so `1.0` is
/// `1.0.0`). None or several is an error, and so is metadata whose `Name` or `Version`
/// disagrees with the file name.
pub fn read_dist_info_metadata(
    dir: &Path,
    wheel: &WheelFilename,
) -> Result<CoreMetadata, DistInfoError> {
    let list_error = |source| DistInfoError::List {
        dir: dir.to_owned(),
        source,
    };
    let project = PackageName::new(&wheel.name);
    let version = Version::from_str(&wheel.version).ok();
    let mut all = Vec::new();
    let mut matching = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        let Some(stem) = strip_suffix_ignore_case(name, ".dist-info") else {
            continue;
        };
        if !entry.file_type().map_err(list_error)?.is_dir() {
            continue;
        }
        all.push(name.to_owned());
        if names_wheel(stem, &project, &wheel.version, version.as_ref()) {
            matching.push(name.to_owned());
        }
    }
    let wanted = format!("{}-{}", wheel.name, wheel.version);
    let dist_info = match matching.as_slice() {
        [one] => one,
        [] => {
            all.sort();
            return Err(DistInfoError::NoDistInfo {
                dir: dir.to_owned(),
                wheel: wanted,
                found: all,
            });
        }
        _ => {
            matching.sort();
            return Err(DistInfoError::SeveralDistInfo {
                dir: dir.to_owned(),
                wheel: wanted,
                found: matching,
            });
        }
    };

    let path = dir.join(dist_info).join("METADATA");
    let bytes = std::fs::read(&path).map_err(|source| DistInfoError::Read {
        path: path.clone(),
        source,
    })?;
    let metadata = CoreMetadata::parse(&bytes).map_err(|source| DistInfoError::Invalid {
        path: path.clone(),
        source,
    })?;
    if metadata.name != project {
        return Err(DistInfoError::Inconsistent {
            path,
            field: "Name",
            wheel: format!("`{}`", wheel.name),
            metadata: metadata.name.to_string(),
        });
    }
    if version.as_ref() != Some(&metadata.version) {
        return Err(DistInfoError::Inconsistent {
            path,
            field: "Version",
            wheel: format!("`{}`", wheel.version),
            metadata: metadata.version.to_string(),
        });
    }
    Ok(metadata)
}

/// Whether `<name>-<version>` (a `.dist-info` directory's stem) names `project` at `version`.
/// The name may hold dashes in old wheels, so every split is tried.
fn names_wheel(
    stem: &str,
    project: &PackageName,
    version_text: &str,
    version: Option<&Version>,
) -> bool {
    stem.match_indices('-').any(|(at, _)| {
        let (name, found) = (&stem[..at], &stem[at + 1..]);
        PackageName::new(name) == *project
            && match (version, Version::from_str(found)) {
                (Some(wanted), Ok(found)) => *wanted == found,
                _ => found == version_text,
            }
    })
}

fn strip_suffix_ignore_case<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let split = name.len().checked_sub(suffix.len())?;
    let (stem, tail) = (name.get(..split)?, name.get(split..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(stem)
}
