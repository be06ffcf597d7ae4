//! The environment an interpreter installs into: its prefix, whether it is a virtual
//! environment, whether its distributor manages it (PEP 668), and its install scheme.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file a distributor puts in the standard library directory to mark an interpreter's
/// environment as managed by another package manager (PEP 668).
const EXTERNALLY_MANAGED: &str = "EXTERNALLY-MANAGED";

/// How the query script spells the base directory of a `--prefix` scheme.
pub const PREFIX_PLACEHOLDER: &str = "@CAIRN_PREFIX@";

/// Where an install into an interpreter's environment puts each kind of file: its default
/// `sysconfig` scheme (the `venv` scheme in a virtual environment), as absolute paths.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SchemePaths {
    /// Pure-Python packages: `…/lib/python3.12/site-packages`.
    pub purelib: PathBuf,
    /// Packages with extension modules; the same directory as `purelib` on most systems.
    pub platlib: PathBuf,
    /// Scripts and entry-point launchers: `…/bin`.
    pub scripts: PathBuf,
    /// The `.data/data` files of a wheel, relative to which they are laid out: the prefix.
    pub data: PathBuf,
    /// C headers, under which each project gets a directory of its name: in a virtual
    /// environment `<env>/include/site/python3.12`, as pip and uv put them.
    pub include: PathBuf,
}

/// An interpreter's environment, from the same one run as its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Environment {
    /// `sys.executable` as the interpreter reports it, symlinks not resolved: a virtual
    /// environment's `bin/python`, or the `bin/python3` a pyenv shim runs.
    pub sys_executable: PathBuf,
    /// `sys.prefix`: the virtual environment's directory, or the installation's prefix.
    pub prefix: PathBuf,
    /// `sys.base_prefix`: the prefix of the installation a virtual environment was made from.
    pub base_prefix: PathBuf,
    /// The standard library directory, where PEP 668's marker file lives.
    pub stdlib: Option<PathBuf>,
    /// Where installs into the environment go.
    pub scheme: SchemePaths,
    /// The scheme of a `--prefix` install, with [`PREFIX_PLACEHOLDER`] for the prefix; see
    /// [`scheme_under`](Self::scheme_under).
    pub prefix_scheme: SchemePaths,
}

impl Environment {
    /// Whether this is a virtual environment (PEP 405): its prefix is not its base prefix.
    pub fn is_virtual(&self) -> bool {
        self.prefix != self.base_prefix
    }

    /// The distributor's message when this environment is externally managed (PEP 668): an
    /// interpreter that is not a virtual environment, whose standard library directory holds
    /// an `EXTERNALLY-MANAGED` file. The message is the file's `Error` value of its
    /// `[externally-managed]` section, or a generic one.
    ///
    /// Reads the file on every call (one `open`): the marker comes and goes with distribution
    /// packages, while the interpreter's cached facts do not.
    pub fn externally_managed(&self) -> Option<String> {
        if self.is_virtual() {
            return None;
        }
        let path = self.stdlib.as_deref()?.join(EXTERNALLY_MANAGED);
        let text = std::fs::read(&path).ok()?;
        let text = String::from_utf8_lossy(&text);
        Some(error_value(&text).unwrap_or_else(|| {
            "this Python installation is managed by another package manager".to_owned()
        }))
    }

    /// The scheme for `pip install --prefix DIR`: the interpreter's `posix_prefix` scheme
    /// (`nt` on Windows) with `prefix` as its base, as pip lays out a prefix install.
    pub fn scheme_under(&self, prefix: &Path) -> SchemePaths {
        let rebase = |path: &Path| match path.strip_prefix(PREFIX_PLACEHOLDER) {
            Ok(rest) => prefix.join(rest),
            // Not spelled with the placeholder (an unusual sysconfig): under the prefix as is.
            Err(_) => prefix.join(path.strip_prefix("/").unwrap_or(path)),
        };
        let paths = &self.prefix_scheme;
        SchemePaths {
            purelib: rebase(&paths.purelib),
            platlib: rebase(&paths.platlib),
            scripts: rebase(&paths.scripts),
            data: rebase(&paths.data),
            include: rebase(&paths.include),
        }
    }
}

/// The `Error` value of the `[externally-managed]` section of an `EXTERNALLY-MANAGED` file
/// (INI syntax; continuation lines start with whitespace).
fn error_value(text: &str) -> Option<String> {
    let mut in_section = false;
    let mut value: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(collecting) = value.as_mut() {
            if !trimmed.is_empty() && line.starts_with([' ', '\t']) {
                collecting.push('\n');
                collecting.push_str(trimmed);
                continue;
            }
            break;
        }
        if trimmed.starts_with('[') {
            in_section = trimmed == "[externally-managed]";
        } else if in_section
            && let Some((key, rest)) = trimmed.split_once(['=', ':'])
            && key.trim() == "Error"
        {
            value = Some(rest.trim().to_owned());
        }
    }
    value.filter(|value| !value.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_values() {
        let debian = "[externally-managed]\nError=To install Python packages system-wide, try \
                      apt install\n python3-xyz, where xyz is the package.\n\n Note: more\n";
        assert_eq!(
            error_value(debian).unwrap(),
            "To install Python packages system-wide, try apt install\npython3-xyz, where xyz \
             is the package."
        );
        assert_eq!(error_value("[other]\nError=x\n"), None);
        assert_eq!(error_value("[externally-managed]\n"), None);
        assert_eq!(
            error_value("[externally-managed]\nError = one line\n[x]\n").unwrap(),
            "one line"
        );
    }

    #[test]
    fn prefix_schemes() {
        let placeholder = Path::new(PREFIX_PLACEHOLDER);
        let env = Environment {
            prefix: "/usr".into(),
            base_prefix: "/usr".into(),
            prefix_scheme: SchemePaths {
                purelib: placeholder.join("lib/python3.11/site-packages"),
                platlib: placeholder.join("lib64/python3.11/site-packages"),
                scripts: placeholder.join("bin"),
                data: placeholder.to_owned(),
                include: "/odd/include".into(),
            },
            ..Environment::default()
        };
        let scheme = env.scheme_under(Path::new("/p"));
        assert_eq!(scheme.purelib, Path::new("/p/lib/python3.11/site-packages"));
        assert_eq!(
            scheme.platlib,
            Path::new("/p/lib64/python3.11/site-packages")
        );
        assert_eq!(scheme.scripts, Path::new("/p/bin"));
        assert_eq!(scheme.data, Path::new("/p"));
        assert_eq!(scheme.include, Path::new("/p/odd/include"));
        assert!(!env.is_virtual());
    }
}
