//! Wheel file names (PEP 427, binary distribution format).

use std::fmt;

use crate::PackageName;

/// The parts of a wheel file name: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
///
/// ```
/// use cairn_types::WheelFilename;
///
/// let wheel: WheelFilename = "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl".parse().unwrap();
/// assert_eq!(wheel.name, "numpy");
/// assert_eq!(wheel.version, "2.4.6");
/// assert_eq!(wheel.tags(), "cp311-cp311-manylinux_2_28_x86_64");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WheelFilename {
    /// The project name as written (underscores for separators).
    pub name: String,
    /// The version.
    pub version: String,
    /// The optional build tag.
    pub build: Option<String>,
    /// Python tags, e.g. `cp311` or `py2.py3`.
    pub python: String,
    /// ABI tags, e.g. `cp311` or `none`.
    pub abi: String,
    /// Platform tags, e.g. `manylinux_2_28_x86_64` or `any`.
    pub platform: String,
}

/// A file name that is not a wheel's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{filename}` is not a wheel file name ({reason}); expected \
     `name-version(-build)-python-abi-platform.whl`"
)]
pub struct FilenameError {
    filename: String,
    reason: &'static str,
}

impl WheelFilename {
    /// The compatibility tags: `{python}-{abi}-{platform}`.
    pub fn tags(&self) -> String {
        format!("{}-{}-{}", self.python, self.abi, self.platform)
    }

    /// The PEP 503 normalised project name (`typing-extensions`).
    pub fn normalized_name(&self) -> PackageName {
        PackageName::new(&self.name)
    }
}

impl std::str::FromStr for WheelFilename {
    type Err = FilenameError;

    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        let error = |reason| FilenameError {
            filename: filename.to_owned(),
            reason,
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| error("it does not end in `.whl`"))?;
        if stem.contains(['/', '\\']) || stem.chars().any(char::is_control) {
            return Err(error("it contains a path separator or control character"));
        }
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, tags) = match parts.as_slice() {
            [name, version, python, abi, platform] => {
                (name, version, None, [python, abi, platform])
            }
            [name, version, build, python, abi, platform] => {
                if !build.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(error("its build tag does not start with a digit"));
                }
                (
                    name,
                    version,
                    Some(build.to_string()),
                    [python, abi, platform],
                )
            }
            _ => return Err(error("it does not have five or six dash-separated parts")),
        };
        if [name, version]
            .iter()
            .chain(tags.iter())
            .any(|part| part.is_empty())
        {
            return Err(error("one of its parts is empty"));
        }
        let [python, abi, platform] = tags;
        Ok(Self {
            name: name.to_string(),
            version: version.to_string(),
            build,
            python: python.to_string(),
            abi: abi.to_string(),
            platform: platform.to_string(),
        })
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name, self.version)?;
        if let Some(build) = &self.build {
            write!(f, "-{build}")?;
        }
        write!(f, "-{}.whl", self.tags())
    }
}
