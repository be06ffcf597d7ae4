//! Whether a distribution's `Requires-Python` admits the interpreter it is installed for.

use thiserror::Error;

use crate::metadata::{CoreMetadata, PackageName, Version, VersionSpecifiers};

/// A distribution whose `Requires-Python` excludes the target interpreter's version.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
#[error(
    "{name} {version} requires Python `{requires_python}`, but the target interpreter is Python \
     {python}"
)]
pub struct RequiresPythonError {
    /// The distribution's project (its `Name`, normalised).
    pub name: PackageName,
    /// The distribution's `Version`.
    pub version: Version,
    /// Its `Requires-Python`.
    pub requires_python: VersionSpecifiers,
    /// The target interpreter's version, as given to [`check_requires_python`].
    pub python: Version,
}

/// Checks that `metadata`'s `Requires-Python` admits Python `python`, as pip and uv do before
/// installing a wheel. No `Requires-Python` admits every version.
///
/// `python` is either a full version, such as the interpreter's `python_full_version` marker
/// (`3.12.4`, `3.14.0rc1`), or a target known only to its minor version (`3.12`, as
/// `--python-version` gives):
///
/// - of a full version only the release is compared (`3.14.0rc1` is checked as `3.14.0`), as
///   pip compares `sys.version_info[:3]`;
/// - a version of two components is admitted when some patch release of it is (`3.11` meets
///   `>=3.11.4` but not `<3.11`), as the index selection (`cairn-index`) judges
///   `data-requires-python`.
///
/// ```
/// use std::str::FromStr;
///
/// use cairn_python::Version;
/// use cairn_python::metadata::{CoreMetadata, check_requires_python};
///
/// let metadata = CoreMetadata::from_str(
///     "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Python: >=3.10\n",
/// )?;
/// assert!(check_requires_python(&metadata, &Version::from_str("3.12.4")?).is_ok());
/// let error = check_requires_python(&metadata, &Version::from_str("3.9")?).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "demo 1.0 requires Python `>=3.10`, but the target interpreter is Python 3.9"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_requires_python(
    metadata: &CoreMetadata,
    python: &Version,
) -> Result<(), RequiresPythonError> {
    let Some(requires_python) = &metadata.requires_python else {
        return Ok(());
    };
    if admits(requires_python, python) {
        return Ok(());
    }
    Err(RequiresPythonError {
        name: metadata.name.clone(),
        version: metadata.version.clone(),
        requires_python: requires_python.clone(),
        python: python.clone(),
    })
}

/// Whether `specifiers` admit `python`, read as [`check_requires_python`] documents.
fn admits(specifiers: &VersionSpecifiers, python: &Version) -> bool {
    match python.release() {
        &[major, minor] => [0, u64::from(u16::MAX)]
            .into_iter()
            .any(|patch| specifiers.contains(&Version::new([major, minor, patch]))),
        _ => specifiers.contains(&python.only_release()),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn metadata(requires_python: Option<&str>) -> CoreMetadata {
        let mut text = "Metadata-Version: 2.1\nName: Demo_App\nVersion: 1.0\n".to_owned();
        if let Some(requires) = requires_python {
            text.push_str(&format!("Requires-Python: {requires}\n"));
        }
        CoreMetadata::from_str(&text).unwrap_or_else(|error| panic!("{error}"))
    }

    fn check(requires_python: Option<&str>, python: &str) -> Result<(), RequiresPythonError> {
        let python = Version::from_str(python).unwrap_or_else(|error| panic!("{error}"));
        check_requires_python(&metadata(requires_python), &python)
    }

    #[test]
    fn no_requirement_admits_everything() {
        assert!(check(None, "2.7.18").is_ok());
        assert!(check(Some(""), "3.0").is_ok());
    }

    #[test]
    fn full_versions_are_compared_by_their_release() {
        assert!(check(Some(">=3.9"), "3.12.4").is_ok());
        assert!(check(Some(">=3.9,<3.13"), "3.13.0").is_err());
        // A release candidate is checked as its release, as pip does.
        assert!(check(Some(">=3.14"), "3.14.0rc1").is_ok());
        assert!(check(Some("<3.14"), "3.14.0rc1").is_err());
        assert!(check(Some(">=3.11.4"), "3.11.3").is_err());
        assert!(check(Some("==3.12.*"), "3.12.4+local").is_ok());
    }

    #[test]
    fn a_minor_version_is_admitted_when_some_patch_release_is() {
        assert!(check(Some(">=3.11.4"), "3.11").is_ok());
        assert!(check(Some("<3.11"), "3.11").is_err());
        assert!(check(Some(">=3.9"), "3.8").is_err());
        assert!(check(Some("~=3.8.0"), "3.8").is_ok());
    }

    #[test]
    fn the_error_names_the_distribution_its_requirement_and_the_python() {
        let error = check(Some(">=3.99"), "3.12.4").unwrap_err();
        assert_eq!(error.name.as_str(), "demo-app");
        assert_eq!(
            error.to_string(),
            "demo-app 1.0 requires Python `>=3.99`, but the target interpreter is Python 3.12.4"
        );
    }
}
