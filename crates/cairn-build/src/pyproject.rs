//! `pyproject.toml`'s `[build-system]` (PEP 517, PEP 518), with the legacy fallback.

use std::path::Path;

use serde::Deserialize;

use crate::error::BuildError;

/// What builds a project: the requirements of its build environment and the backend object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSystem {
    /// PEP 508 requirements (`setuptools>=61`), as written.
    pub requires: Vec<String>,
    /// The backend, `module:object` or `module` (`setuptools.build_meta`).
    pub backend: String,
    /// Directories inside the project prepended to `sys.path` to find an in-tree backend.
    pub backend_path: Vec<String>,
}

impl BuildSystem {
    /// What PEP 517 says to use for a project without `[build-system]`, or without a
    /// `build-backend` in it: setuptools' legacy backend, which runs `setup.py`.
    pub fn legacy(requires: Option<Vec<String>>) -> Self {
        Self {
            requires: requires.unwrap_or_else(|| vec!["setuptools>=40.8.0".to_owned()]),
            backend: "setuptools.build_meta:__legacy__".to_owned(),
            backend_path: Vec::new(),
        }
    }

    /// Reads `<project>/pyproject.toml`; the legacy backend when there is none.
    pub fn read(project: &Path) -> Result<Self, BuildError> {
        let path = project.join("pyproject.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::legacy(None));
            }
            Err(source) => {
                return Err(BuildError::Io {
                    action: format!("read `{}`", path.display()),
                    source,
                });
            }
        };
        Self::parse(&text).map_err(|reason| BuildError::Pyproject {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses the text of a `pyproject.toml`.
    pub fn parse(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct File {
            #[serde(rename = "build-system")]
            build_system: Option<Table>,
        }
        #[derive(Deserialize)]
        struct Table {
            requires: Option<Vec<String>>,
            #[serde(rename = "build-backend")]
            build_backend: Option<String>,
            #[serde(rename = "backend-path")]
            backend_path: Option<Vec<String>>,
        }
        let file: File = toml::from_str(text).map_err(|error| error.to_string())?;
        let Some(table) = file.build_system else {
            return Ok(Self::legacy(None));
        };
        let Some(backend) = table.build_backend else {
            return Ok(Self::legacy(table.requires));
        };
        let valid_backend = !backend.is_empty()
            && backend
                .split(':')
                .all(|part| part.split('.').all(is_identifier))
            && backend.matches(':').count() <= 1;
        if !valid_backend {
            return Err(format!(
                "`build-backend = \"{backend}\"` is not `module:object`"
            ));
        }
        let backend_path = table.backend_path.unwrap_or_default();
        if let Some(bad) = backend_path
            .iter()
            .find(|dir| cairn_fs::relative_inside(Path::new(dir)).is_none() && *dir != ".")
        {
            return Err(format!(
                "`backend-path` entry `{bad}` is not a directory inside the project"
            ));
        }
        Ok(Self {
            requires: table.requires.unwrap_or_default(),
            backend,
            backend_path,
        })
    }
}

fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn build_systems_are_read_with_the_legacy_fallback() {
        let hatch = BuildSystem::parse(
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
        )
        .unwrap();
        assert_eq!(hatch.requires, ["hatchling"]);
        assert_eq!(hatch.backend, "hatchling.build");
        assert_eq!(
            BuildSystem::parse("[project]\nname = \"x\"\n").unwrap(),
            BuildSystem::legacy(None)
        );
        let requires_only =
            BuildSystem::parse("[build-system]\nrequires = [\"setuptools\", \"wheel\"]\n").unwrap();
        assert_eq!(requires_only.backend, "setuptools.build_meta:__legacy__");
        assert_eq!(requires_only.requires, ["setuptools", "wheel"]);
        for bad in [
            "[build-system]\nrequires = []\nbuild-backend = \"os; import x\"\n",
            "[build-system]\nrequires = []\nbuild-backend = \"b\"\nbackend-path = [\"../x\"]\n",
            "[build-system\n",
        ] {
            assert!(BuildSystem::parse(bad).is_err(), "{bad}");
        }
    }
}
