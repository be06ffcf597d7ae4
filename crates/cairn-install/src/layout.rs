//! Where a wheel's files go: the `.dist-info` directory, and the `.data` schemes.
//!
//! A wheel's root holds the files for `sys.path` and one `{name}-{version}.dist-info`
//! directory. `{name}-{version}.data/{scheme}/…` holds files for other install locations. With a
//! target directory there is one location per scheme, the same choice `pip install --target`
//! makes:
//!
//! | scheme                | goes to                      |
//! |-----------------------|------------------------------|
//! | `purelib`, `platlib`  | the target root              |
//! | `scripts`             | `bin/` (made executable)     |
//! | `headers`             | `include/{name}/`            |
//! | `data`                | the target root              |

use cairn_types::PackageName;

/// The suffix of the metadata directory.
pub(crate) const DIST_INFO_SUFFIX: &str = ".dist-info";

/// A `.data` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataScheme {
    /// Importable code, straight into the target.
    Lib,
    /// Executables for `bin`.
    Scripts,
    /// C headers.
    Headers,
    /// Anything else, relative to the install prefix, which is the target.
    Data,
}

/// The scheme and target-relative destination of `inner`, a path inside the `.data` directory
/// (`scripts/tool`); `project` is the project name used for headers.
pub(crate) fn data_destination(
    inner: &str,
    project: &str,
) -> Result<(DataScheme, String), &'static str> {
    let (scheme, rest) = inner
        .split_once('/')
        .ok_or("a file directly in the `.data` directory belongs to no scheme")?;
    Ok(match scheme {
        "purelib" | "platlib" => (DataScheme::Lib, rest.to_owned()),
        "scripts" => (DataScheme::Scripts, format!("bin/{rest}")),
        "headers" => (DataScheme::Headers, format!("include/{project}/{rest}")),
        "data" => (DataScheme::Data, rest.to_owned()),
        _ => {
            return Err(
                "the `.data` directory has a scheme other than purelib, platlib, scripts, \
                 headers and data",
            );
        }
    })
}

/// The project name and version from a `.dist-info` directory name, when the name has the
/// `{name}-{version}` form (`typing_extensions-4.12.0.dist-info`).
pub(crate) fn split_dist_info_name(dir: &str) -> Option<(&str, &str)> {
    let stem = dir.strip_suffix(DIST_INFO_SUFFIX)?;
    let (name, version) = stem.split_once('-')?;
    (!name.is_empty() && !version.is_empty()).then_some((name, version))
}

/// The `Name` and `Version` fields of a `METADATA` file (the header block, up to the first
/// blank line).
pub(crate) fn parse_metadata(text: &str) -> (Option<&str>, Option<&str>) {
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            let value = value.trim();
            if key.eq_ignore_ascii_case("name") && name.is_none() {
                name = Some(value);
            } else if key.eq_ignore_ascii_case("version") && version.is_none() {
                version = Some(value);
            }
        }
    }
    (name, version)
}

/// The `Wheel-Version` field of a `WHEEL` file as (major, minor); `None` when it is missing or
/// not dot-separated numbers (`1` alone is `1.0`, as pip reads it).
pub(crate) fn parse_wheel_version(text: &str) -> Option<(u32, u32)> {
    let value = text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case("wheel-version")
            .then_some(value.trim())
    })?;
    let mut numbers = value.split('.').map(|part| part.parse::<u32>().ok());
    let major = numbers.next()??;
    let minor = numbers.next().unwrap_or(Some(0))?;
    numbers.all(|part| part.is_some()).then_some((major, minor))
}

/// Whether a `.dist-info` directory name belongs to `project`.
pub(crate) fn dist_info_matches(dir: &str, project: &PackageName) -> bool {
    let stem = dir.strip_suffix(DIST_INFO_SUFFIX).unwrap_or(dir);
    let name = stem.split_once('-').map_or(stem, |(name, _)| name);
    PackageName::new(name) == *project
}

/// A name usable as one path component (headers go to `include/{name}`).
pub(crate) fn is_safe_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn schemes_map_to_target_locations() {
        assert_eq!(
            data_destination("purelib/pkg/a.py", "Demo").unwrap(),
            (DataScheme::Lib, "pkg/a.py".to_owned())
        );
        assert_eq!(
            data_destination("platlib/ext.so", "Demo").unwrap(),
            (DataScheme::Lib, "ext.so".to_owned())
        );
        assert_eq!(
            data_destination("scripts/tool", "Demo").unwrap(),
            (DataScheme::Scripts, "bin/tool".to_owned())
        );
        assert_eq!(
            data_destination("headers/demo.h", "Demo").unwrap(),
            (DataScheme::Headers, "include/Demo/demo.h".to_owned())
        );
        assert_eq!(
            data_destination("data/share/x", "Demo").unwrap(),
            (DataScheme::Data, "share/x".to_owned())
        );
        assert!(data_destination("loose.txt", "Demo").is_err());
        assert!(data_destination("unknown/x", "Demo").is_err());
    }

    #[test]
    fn dist_info_names() {
        assert_eq!(
            split_dist_info_name("typing_extensions-4.12.0.dist-info"),
            Some(("typing_extensions", "4.12.0"))
        );
        assert_eq!(split_dist_info_name("odd.dist-info"), None);
        let typing_extensions = PackageName::new("typing-extensions");
        assert!(dist_info_matches(
            "Typing_Extensions-4.dist-info",
            &typing_extensions
        ));
        assert!(!dist_info_matches("typing-4.dist-info", &typing_extensions));
    }

    #[test]
    fn metadata_headers_only() {
        let text = "Metadata-Version: 2.1\nName: Demo-Pkg\nVersion: 1.0\n\nName: body\n";
        assert_eq!(parse_metadata(text), (Some("Demo-Pkg"), Some("1.0")));
        assert_eq!(parse_metadata("\nName: x\n"), (None, None));
    }

    #[test]
    fn wheel_versions() {
        let wheel = |version: &str| format!("Generator: x\nWheel-Version: {version}\nTag: py3\n");
        assert_eq!(parse_wheel_version(&wheel("1.0")), Some((1, 0)));
        assert_eq!(parse_wheel_version(&wheel(" 2.1 ")), Some((2, 1)));
        assert_eq!(parse_wheel_version(&wheel("1")), Some((1, 0)));
        assert_eq!(parse_wheel_version(&wheel("1.0.3")), Some((1, 0)));
        assert_eq!(parse_wheel_version("wheel-version: 1.0"), Some((1, 0)));
        for bad in ["", "x", "1.", ".1", "1.x", "-1.0", "1.0.x", "99999999999.0"] {
            assert_eq!(parse_wheel_version(&wheel(bad)), None, "{bad:?}");
        }
        assert_eq!(parse_wheel_version("Generator: x\n"), None);
    }
}
