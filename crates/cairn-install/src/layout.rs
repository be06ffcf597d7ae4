//! Where a wheel's files go: the `.dist-info` directory, and the `.data` schemes.
//!
//! A wheel's root holds the files for `sys.path` and one `{name}-{version}.dist-info`
//! directory; they go to `purelib` (or `platlib` when its `WHEEL` says `Root-Is-Purelib:
//! false`). `{name}-{version}.data/{scheme}/…` holds files for the other locations of a
//! [`Scheme`]: `purelib`, `platlib`, `scripts` (made executable), `headers` (under a directory
//! of the project's name) and `data`.
//!
//! An install works in one root directory, the deepest directory holding every location of the
//! scheme (a target directory; a virtual environment's directory; an installation's prefix):
//! its lock and staging directory live there, and every path the installer handles is relative
//! to it. `RECORD` rows are relative to the directory holding the `.dist-info`, as pip writes
//! them (`../../../bin/tool` in a virtual environment).

use std::borrow::Cow;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::error::InstallError;
use super::relpath;
use cairn_types::PackageName;

/// Where an install puts each kind of file: the locations of a `sysconfig` install scheme, as
/// absolute paths (relative ones are made absolute against the current directory).
///
/// [`Scheme::target`] is the layout of `pip install --target DIR`; an environment's scheme
/// comes from its interpreter (`sysconfig.get_paths()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    /// Pure-Python packages, and the `.dist-info` directories: `site-packages`.
    pub purelib: PathBuf,
    /// Packages with extension modules (the same directory as `purelib` on most systems).
    pub platlib: PathBuf,
    /// Scripts and entry-point launchers.
    pub scripts: PathBuf,
    /// C headers; each project's go to a directory of its name below this one.
    pub headers: PathBuf,
    /// Data files (`.data/data`), laid out relative to this directory: the prefix.
    pub data: PathBuf,
}

impl Scheme {
    /// The layout of `pip install --target DIR`: packages at the root, scripts in `bin/`,
    /// headers in `include/{project}/`, data files at the root.
    pub fn target(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            purelib: dir.clone(),
            platlib: dir.clone(),
            scripts: dir.join("bin"),
            headers: dir.join("include"),
            data: dir,
        }
    }
}

/// A [`Scheme`] resolved against its root: every location as a `/`-separated path relative to
/// the root (`""` is the root itself).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The deepest directory holding every location, absolute.
    pub(crate) root: PathBuf,
    pub(crate) purelib: String,
    pub(crate) platlib: String,
    pub(crate) scripts: String,
    pub(crate) headers: String,
    pub(crate) data: String,
}

impl Layout {
    /// Resolves `scheme`: each location made absolute, its existing part canonical (so that a
    /// symlinked ancestor, as a venv's `lib64`, names the directory it leads to), and the root
    /// their deepest common directory, which is created if missing.
    pub(crate) fn new(scheme: &Scheme) -> Result<Self, InstallError> {
        let locations = [
            &scheme.purelib,
            &scheme.platlib,
            &scheme.scripts,
            &scheme.headers,
            &scheme.data,
        ];
        let mut resolved = Vec::with_capacity(locations.len());
        for location in locations {
            let target_error = |action| {
                move |source| InstallError::Target {
                    path: location.clone(),
                    action,
                    source,
                }
            };
            let absolute = std::path::absolute(location).map_err(target_error("resolve"))?;
            resolved.push(canonical_prefix(&absolute).map_err(target_error("resolve"))?);
        }
        let mut root = resolved[0].clone();
        for location in &resolved[1..] {
            while !location.starts_with(&root) {
                if !root.pop() {
                    break;
                }
            }
        }
        let mut relative = Vec::with_capacity(resolved.len());
        for location in &resolved {
            relative.push(
                relative_to(&root, location).ok_or_else(|| InstallError::Target {
                    path: location.clone(),
                    action: "resolve",
                    source: io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the path is not valid UTF-8 or not inside the scheme's common directory",
                    ),
                })?,
            );
        }
        let mut relative = relative.into_iter();
        let mut next = || relative.next().unwrap_or_default();
        Ok(Self {
            purelib: next(),
            platlib: next(),
            scripts: next(),
            headers: next(),
            data: next(),
            root,
        })
    }

    /// Whether this is a target directory's layout (the `.dist-info` directories at the root),
    /// where pip's `RECORD` rows `../../x` name the root's `x` (see `installed`).
    pub(crate) fn is_target(&self) -> bool {
        self.purelib.is_empty() && self.platlib.is_empty()
    }

    /// The directories that hold `.dist-info` directories: `purelib`, and `platlib` if it is
    /// another.
    pub(crate) fn lib_dirs(&self) -> Vec<&str> {
        if self.platlib == self.purelib {
            vec![&self.purelib]
        } else {
            vec![&self.purelib, &self.platlib]
        }
    }

    /// The directory a wheel's root goes to.
    pub(crate) fn wheel_root(&self, root_is_purelib: bool) -> &str {
        if root_is_purelib {
            &self.purelib
        } else {
            &self.platlib
        }
    }

    /// Directories that an install or uninstall never removes, even when empty: the library
    /// directories and the directories above them, and outside a target directory every
    /// location of the scheme (a virtual environment's `bin` is its own).
    pub(crate) fn is_protected(&self, dir: &str) -> bool {
        let holds = |location: &str| location == dir || is_ancestor(dir, location);
        self.lib_dirs().into_iter().any(holds)
            || (!self.is_target()
                && [&self.scripts, &self.headers, &self.data]
                    .into_iter()
                    .any(|location| holds(location)))
    }

    /// The unit of replacement `path` belongs to: its first component below the library
    /// directory holding it (`lib/python3.12/site-packages/numpy`), or below the root (`bin`).
    /// A whole unit holding only old files is set aside with one rename.
    pub(crate) fn unit<'p>(&self, path: &'p str) -> &'p str {
        for lib in self.lib_dirs() {
            if lib.is_empty() {
                continue;
            }
            if let Some(rest) = path
                .strip_prefix(lib)
                .and_then(|rest| rest.strip_prefix('/'))
            {
                let first = relpath::top_level(rest);
                return &path[..lib.len() + 1 + first.len()];
            }
        }
        relpath::top_level(path)
    }

    /// The `RECORD` row for `dest` (root-relative) of a wheel whose `.dist-info` is in `lib`:
    /// the path relative to `lib`, as `os.path.relpath` spells it.
    pub(crate) fn record_path<'d>(lib: &str, dest: &'d str) -> Cow<'d, str> {
        if lib.is_empty() {
            return Cow::Borrowed(dest);
        }
        if let Some(rest) = dest
            .strip_prefix(lib)
            .and_then(|rest| rest.strip_prefix('/'))
        {
            return Cow::Borrowed(rest);
        }
        let lib_parts: Vec<&str> = lib.split('/').collect();
        let dest_parts: Vec<&str> = dest.split('/').collect();
        let common = lib_parts
            .iter()
            .zip(&dest_parts)
            .take_while(|(a, b)| a == b)
            .count();
        let mut row = "../".repeat(lib_parts.len() - common);
        row.push_str(&dest_parts[common..].join("/"));
        Cow::Owned(row)
    }

    /// The root-relative file a `RECORD` row names, for a `.dist-info` in `lib`: the row
    /// resolved against `lib`, `..` components included, as long as it stays inside the root.
    pub(crate) fn resolve_row(lib: &str, row: &str) -> Result<String, relpath::PathProblem> {
        if row.starts_with('/') || row.contains('\\') {
            return Err(relpath::PathProblem::Absolute);
        }
        let mut parts: Vec<&str> = if lib.is_empty() {
            Vec::new()
        } else {
            lib.split('/').collect()
        };
        for component in row.split('/') {
            match component {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(relpath::PathProblem::ParentComponent);
                    }
                }
                other => parts.push(other),
            }
        }
        let joined = parts.join("/");
        // The resolved path passes the same checks as a wheel's own paths.
        relpath::normalize(&joined).map(|path| path.into_owned())
    }
}

/// Whether `dir` is a directory strictly above `path` (`""` is above everything else).
fn is_ancestor(dir: &str, path: &str) -> bool {
    dir.is_empty() && !path.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `path` with its longest existing ancestor canonicalized and the rest appended.
fn canonical_prefix(path: &Path) -> io::Result<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        match std::fs::canonicalize(&existing) {
            Ok(canonical) => {
                let mut resolved = canonical;
                for part in rest.iter().rev() {
                    resolved.push(part);
                }
                return Ok(resolved);
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let Some(name) = existing.file_name().map(ToOwned::to_owned) else {
                    return Err(error);
                };
                rest.push(name);
                existing.pop();
            }
            Err(error) => return Err(error),
        }
    }
}

/// `path` relative to `root` as `/`-separated text; `None` if it is not below `root` or not
/// UTF-8.
fn relative_to(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for component in rest.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

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

/// The scheme and root-relative destination of `inner`, a path inside the `.data` directory
/// (`scripts/tool`); `project` is the project name used for headers.
pub(crate) fn data_destination(
    layout: &Layout,
    inner: &str,
    project: &str,
) -> Result<(DataScheme, String), &'static str> {
    let (scheme, rest) = inner
        .split_once('/')
        .ok_or("a file directly in the `.data` directory belongs to no scheme")?;
    Ok(match scheme {
        "purelib" => (DataScheme::Lib, relpath::join(&layout.purelib, rest)),
        "platlib" => (DataScheme::Lib, relpath::join(&layout.platlib, rest)),
        "scripts" => (DataScheme::Scripts, relpath::join(&layout.scripts, rest)),
        "headers" => (
            DataScheme::Headers,
            relpath::join(&relpath::join(&layout.headers, project), rest),
        ),
        "data" => (DataScheme::Data, relpath::join(&layout.data, rest)),
        _ => {
            return Err(
                "the `.data` directory has a scheme other than purelib, platlib, scripts, \
                 headers and data",
            );
        }
    })
}

/// The `Root-Is-Purelib` field of a `WHEEL` file; `true` when missing or unreadable, as the
/// root of nearly every wheel is pure (it only matters where `purelib` and `platlib` differ).
pub(crate) fn parse_root_is_purelib(text: &str) -> bool {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case("root-is-purelib")
                .then(|| !value.trim().eq_ignore_ascii_case("false"))
        })
        .unwrap_or(true)
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
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&Scheme::target(dir.path())).unwrap();
        let data_destination = |inner, project| data_destination(&layout, inner, project);
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
    fn an_environment_layout_is_relative_to_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let site = venv.join("lib/python3.12/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::os::unix::fs::symlink("lib", venv.join("lib64")).unwrap();
        let scheme = Scheme {
            purelib: site.clone(),
            // Through the symlink, as some distributions spell platlib.
            platlib: venv.join("lib64/python3.12/site-packages"),
            scripts: venv.join("bin"),
            headers: venv.join("include/site/python3.12"),
            data: venv.clone(),
        };
        let layout = Layout::new(&scheme).unwrap();
        assert_eq!(layout.root, venv.canonicalize().unwrap());
        assert_eq!(layout.purelib, "lib/python3.12/site-packages");
        assert_eq!(layout.platlib, layout.purelib);
        assert_eq!(layout.lib_dirs(), ["lib/python3.12/site-packages"]);
        assert_eq!(layout.scripts, "bin");
        assert_eq!(layout.data, "");
        assert!(!layout.is_target());

        let lib = layout.purelib.as_str();
        assert_eq!(
            Layout::record_path(lib, "lib/python3.12/site-packages/a/b.py"),
            "a/b.py"
        );
        assert_eq!(Layout::record_path(lib, "bin/tool"), "../../../bin/tool");
        assert_eq!(Layout::record_path(lib, "lib/python3.12/x"), "../x");
        assert_eq!(Layout::record_path("", "bin/tool"), "bin/tool");
        assert_eq!(
            Layout::resolve_row(lib, "../../../bin/tool").unwrap(),
            "bin/tool"
        );
        assert_eq!(
            Layout::resolve_row(lib, "a/./b.py").unwrap(),
            format!("{lib}/a/b.py")
        );
        assert!(Layout::resolve_row(lib, "../../../../outside").is_err());
        assert!(Layout::resolve_row(lib, "/etc/passwd").is_err());
        assert!(Layout::resolve_row("", "../x").is_err());

        assert_eq!(
            layout.unit("lib/python3.12/site-packages/numpy/core/x.py"),
            "lib/python3.12/site-packages/numpy"
        );
        assert_eq!(layout.unit("bin/tool"), "bin");
        for protected in [
            "",
            "lib",
            "lib/python3.12",
            lib,
            "bin",
            "include/site/python3.12",
        ] {
            assert!(layout.is_protected(protected), "{protected}");
        }
        assert!(!layout.is_protected("lib/python3.12/site-packages/numpy"));
        assert!(!layout.is_protected("include/site/python3.12/numpy"));

        let target = Layout::new(&Scheme::target(dir.path().join("t"))).unwrap();
        assert!(target.is_target());
        assert!(target.is_protected(""));
        assert!(!target.is_protected("bin"));
        assert_eq!(target.unit("pkg/a.py"), "pkg");
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
