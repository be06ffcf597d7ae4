//! Target-relative paths as RECORD spells them: `/`-separated, never leaving the target.

use std::borrow::Cow;

/// Why a path cannot name a file inside the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathProblem {
    Empty,
    Absolute,
    ParentComponent,
    Backslash,
    ControlCharacter,
}

impl PathProblem {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Empty => "it is empty or names a directory",
            Self::Absolute => "it is absolute",
            Self::ParentComponent => "it has a `..` component",
            Self::Backslash => "it contains a backslash",
            Self::ControlCharacter => "it contains a control character",
        }
    }
}

/// Normalises `path` to its plain form (`a/b/c`: no empty or `.` components) if it stays inside
/// the root it is relative to; a path already plain is borrowed, not copied.
///
/// Absolute paths, drive prefixes, `..` anywhere, backslashes and control characters are
/// refused: the installer only ever joins checked components onto the target.
pub(crate) fn normalize(path: &str) -> Result<Cow<'_, str>, PathProblem> {
    if path.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    if path.contains('\\') {
        return Err(PathProblem::Backslash);
    }
    if path.chars().any(char::is_control) {
        return Err(PathProblem::ControlCharacter);
    }
    // Checked without allocating: nearly every path is already plain.
    let mut plain = true;
    let mut seen_component = false;
    for component in path.split('/') {
        match component {
            "" | "." => plain = false,
            ".." => return Err(PathProblem::ParentComponent),
            _ => {
                if !seen_component && component.len() >= 2 && component.ends_with(':') {
                    // A Windows drive (`C:`) is absolute wherever the file is read back.
                    return Err(PathProblem::Absolute);
                }
                seen_component = true;
            }
        }
    }
    if !seen_component || path.ends_with('/') {
        return Err(PathProblem::Empty);
    }
    if plain {
        return Ok(Cow::Borrowed(path));
    }
    let components: Vec<&str> = path
        .split('/')
        .filter(|component| !matches!(*component, "" | "."))
        .collect();
    Ok(Cow::Owned(components.join("/")))
}

/// `parent/name`, or `name` at the root.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// A plain relative path's directory part (`""` at the root) and last component:
/// `a/b/c` → (`a/b`, `c`); `c` → (``, `c`).
pub(crate) fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// The directory part of a plain relative path (`""` at the root).
pub(crate) fn parent(path: &str) -> &str {
    split(path).0
}

/// The last component of a plain relative path.
pub(crate) fn file_name(path: &str) -> &str {
    split(path).1
}

/// The first component of a plain relative path.
pub(crate) fn top_level(path: &str) -> &str {
    path.find('/').map_or(path, |slash| &path[..slash])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass_and_are_tidied() {
        assert_eq!(normalize("a/b.py"), Ok(Cow::Borrowed("a/b.py")));
        assert_eq!(normalize("./a//b.py").unwrap(), "a/b.py");
        assert!(matches!(normalize("./a//b.py"), Ok(Cow::Owned(_))));
        assert_eq!(normalize("a.py").unwrap(), "a.py");
        assert_eq!(
            normalize("a/./b/").map_err(|e| e.describe()),
            Err("it is empty or names a directory")
        );
        assert_eq!(normalize("a/./b").unwrap(), "a/b");
        assert_eq!(normalize("./C:").unwrap_err(), PathProblem::Absolute);
        assert_eq!(normalize("x/C:").unwrap(), "x/C:");
    }

    #[test]
    fn escaping_paths_are_refused() {
        assert_eq!(normalize("../x"), Err(PathProblem::ParentComponent));
        assert_eq!(
            normalize("a/../../etc/x"),
            Err(PathProblem::ParentComponent)
        );
        assert_eq!(normalize("a/.."), Err(PathProblem::ParentComponent));
        assert_eq!(normalize("/etc/passwd"), Err(PathProblem::Absolute));
        assert_eq!(normalize("C:/x"), Err(PathProblem::Absolute));
        assert_eq!(normalize("a\\..\\x"), Err(PathProblem::Backslash));
        assert_eq!(normalize("a\nb"), Err(PathProblem::ControlCharacter));
        assert_eq!(normalize(""), Err(PathProblem::Empty));
        assert_eq!(normalize("./"), Err(PathProblem::Empty));
        assert_eq!(normalize("a/"), Err(PathProblem::Empty));
    }

    #[test]
    fn components() {
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("c"), "");
        assert_eq!(file_name("a/b/c"), "c");
        assert_eq!(file_name("c"), "c");
        assert_eq!(split("a/b/c"), ("a/b", "c"));
        assert_eq!(split("c"), ("", "c"));
        assert_eq!(top_level("a/b/c"), "a");
        assert_eq!(top_level("c"), "c");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", "x"), "a/x");
    }
}
