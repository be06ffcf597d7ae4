//! Paths named by an archive, accepted only when they stay inside the directory they are
//! unpacked into.

use std::path::{Component, Path, PathBuf};

/// `raw` as a relative path of plain names (`.` components dropped), or `None` for an empty
/// path, an absolute one, a Windows prefix or any `..`: the one check every unpacker of
/// untrusted archives (tar packs, source distributions) applies before joining a name to its
/// destination.
///
/// ```
/// use std::path::Path;
///
/// assert_eq!(cairn_fs::relative_inside(Path::new("./a/b.py")).unwrap(), Path::new("a/b.py"));
/// assert!(cairn_fs::relative_inside(Path::new("../x")).is_none());
/// assert!(cairn_fs::relative_inside(Path::new("/etc/passwd")).is_none());
/// assert!(cairn_fs::relative_inside(Path::new("a/../../x")).is_none());
/// ```
pub fn relative_inside(raw: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}
