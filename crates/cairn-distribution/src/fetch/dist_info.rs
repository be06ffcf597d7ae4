//! The wheel says what it is twice: in its file name and in its `.dist-info` directory. Both
//! must agree before the tree is published or reused, or a file renamed (by mistake or on
//! purpose) would be installed as the project and version its name claims.

use std::path::Path;
use std::str::FromStr;

use cairn_types::{PackageName, WheelFilename};
use pep440_rs::Version;

use super::FetchError;

/// How much of `METADATA` is read for its `Name` and `Version` headers: they come first, and
/// the headers end well before this in any real wheel.
const METADATA_HEAD_BYTES: u64 = 64 * 1024;

/// Checks that the unpacked wheel at `tree` holds exactly one top-level `.dist-info` directory
/// whose name, and `METADATA` `Name` and `Version` when present, match `filename`: project
/// names compared normalised (PEP 503), versions as PEP 440 versions. `shown` names the wheel
/// in the error.
pub(super) fn check(tree: &Path, filename: &WheelFilename, shown: &str) -> Result<(), FetchError> {
    let mismatch = |inside: String, found_in: String| FetchError::NotTheNamedWheel {
        wheel: shown.to_owned(),
        inside,
        found_in,
        named: format!("{} {}", filename.name, filename.version),
    };
    let read_error = |source| FetchError::Read {
        path: tree.to_owned(),
        source,
    };
    let mut dist_infos = Vec::new();
    for entry in std::fs::read_dir(tree).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if name.ends_with(".dist-info") && entry.file_type().map_err(read_error)?.is_dir() {
            dist_infos.push(name.to_owned());
        }
    }
    dist_infos.sort();
    let dir = match dist_infos.as_slice() {
        [one] => one,
        [] => {
            return Err(FetchError::InvalidWheel {
                wheel: shown.to_owned(),
                problem: "it has no top-level `.dist-info` directory".to_owned(),
            });
        }
        many => {
            return Err(FetchError::InvalidWheel {
                wheel: shown.to_owned(),
                problem: format!(
                    "it has {} top-level `.dist-info` directories ({}) where a wheel has one",
                    many.len(),
                    many.join(", ")
                ),
            });
        }
    };
    let stem = dir.strip_suffix(".dist-info").unwrap_or(dir);
    let Some((name, version)) = stem.rsplit_once('-') else {
        return Err(FetchError::InvalidWheel {
            wheel: shown.to_owned(),
            problem: format!("its `{dir}` directory is not named `<name>-<version>.dist-info`"),
        });
    };
    if !same_name(name, &filename.name) || !same_version(version, &filename.version) {
        return Err(mismatch(format!("{name} {version}"), format!("`{dir}`")));
    }
    let metadata = tree.join(dir).join("METADATA");
    let Some(MetadataHead { name, version }) = metadata_head(&metadata)? else {
        return Ok(());
    };
    let name_ok = name.as_deref().is_none_or(|n| same_name(n, &filename.name));
    let version_ok = version
        .as_deref()
        .is_none_or(|v| same_version(v, &filename.version));
    if !(name_ok && version_ok) {
        return Err(mismatch(
            format!(
                "{} {}",
                name.as_deref().unwrap_or("(no name)"),
                version.as_deref().unwrap_or("(no version)")
            ),
            format!("`{dir}/METADATA`"),
        ));
    }
    Ok(())
}

fn same_name(a: &str, b: &str) -> bool {
    PackageName::new(a) == PackageName::new(b)
}

/// Equal as PEP 440 versions (`1.0` is `1.0.0`, `2.0RC1` is `2.0rc1`); text that is not a
/// version must match exactly, ignoring case.
fn same_version(a: &str, b: &str) -> bool {
    match (Version::from_str(a), Version::from_str(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// The `Name` and `Version` headers of a `METADATA` file, each if present.
struct MetadataHead {
    name: Option<String>,
    version: Option<String>,
}

/// The head of the `METADATA` file at `path`; `None` if there is no such file.
fn metadata_head(path: &Path) -> Result<Option<MetadataHead>, FetchError> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(FetchError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut head = Vec::new();
    file.take(METADATA_HEAD_BYTES)
        .read_to_end(&mut head)
        .map_err(|source| FetchError::Read {
            path: path.to_owned(),
            source,
        })?;
    let text = String::from_utf8_lossy(&head);
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        // The headers end at the first empty line; the description follows.
        if line.trim().is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        if key.eq_ignore_ascii_case("name") && name.is_none() {
            name = Some(value);
        } else if key.eq_ignore_ascii_case("version") && version.is_none() {
            version = Some(value);
        }
    }
    Ok(Some(MetadataHead { name, version }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_pep_440() {
        assert!(same_version("1.0", "1.0.0"));
        assert!(same_version("2.0RC1", "2.0rc1"));
        assert!(!same_version("2.5.0", "9.9.9"));
        assert!(same_version("weird", "WEIRD"));
        assert!(!same_version("weird", "1.0"));
    }

    #[test]
    fn names_compare_normalised() {
        assert!(same_name("typing_extensions", "Typing.Extensions"));
        assert!(!same_name("tomli", "numpy"));
    }
}
