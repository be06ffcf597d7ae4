//! Deciding, before anything is written, how the new files meet the target.
//!
//! The files of every wheel in the call form one tree ([`NewTree`]); building it finds two
//! wheels writing one path, which is allowed only when both write the same bytes (the file is
//! then staged once and both `RECORD`s list it). The tree is then laid over the target, top
//! down:
//!
//! - an entry the target lacks is moved in whole: one rename for a whole package;
//! - a target directory that holds nothing but files of the versions being replaced (and
//!   bytecode caches) is set aside whole and the new one moved in: an upgrade of a large package
//!   costs two renames, not two per file;
//! - any other directory (a namespace package, `bin`) is merged entry by entry;
//! - a file the old version owns is set aside and replaced; an existing file with the same bytes
//!   as the new one is kept (the caller checks that another project's `RECORD` lists it); any
//!   other existing file is a conflict.
//!
//! Old files the new versions do not replace are set aside too, with the bytecode caches of old
//! modules, and the directories they leave empty are removed at commit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::PathBuf;

use super::layout::Layout;
use super::plan::WheelPlan;
use super::{relpath, walk};

mod content;

use content::Bytes;

/// A directory's entries, by name.
pub(crate) type Children = BTreeMap<String, Node>;

/// An entry of the new files' tree.
#[derive(Debug)]
pub(crate) enum Node {
    /// A file: the one at index `file` of the wheel at index `wheel` (the first wheel that
    /// writes it, when several write the same bytes).
    File { wheel: usize, file: usize },
    /// A directory.
    Dir(Children),
}

impl Node {
    /// A wheel that writes something at or under this node.
    pub(crate) fn any_wheel(&self) -> usize {
        match self {
            Self::File { wheel, .. } => *wheel,
            Self::Dir(children) => children.values().next().map_or(0, Self::any_wheel),
        }
    }
}

/// Every file of every wheel of the call, as a tree rooted at the target.
#[derive(Debug, Default)]
pub(crate) struct NewTree {
    pub(crate) root: Children,
}

/// Two wheels (or one wheel twice) write `path`.
#[derive(Debug)]
pub(crate) struct Clash {
    pub(crate) path: String,
    pub(crate) first: usize,
    pub(crate) second: usize,
}

/// Why the new files form no tree.
#[derive(Debug)]
pub(crate) enum TreeError {
    /// Two wheels write one path with different content, or one wheel writes it twice.
    Clash(Clash),
    /// A file of the wheel at index `wheel` could not be read to compare it with another.
    Read {
        wheel: usize,
        path: PathBuf,
        source: io::Error,
    },
}

/// A planned file: (wheel index, file index in its plan).
type FileRef = (usize, usize);

impl NewTree {
    /// Whether the tree has an entry (a file or a directory) at `path`.
    pub(crate) fn contains(&self, path: &str) -> bool {
        let mut children = &self.root;
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            match children.get(part) {
                None => return false,
                Some(_) if parts.peek().is_none() => return true,
                Some(Node::Dir(grandchildren)) => children = grandchildren,
                Some(_) => return false,
            }
        }
        false
    }

    /// The tree of every file of `plans`. A path written by several wheels is one node when
    /// they all write the same bytes; the bytes are compared only for such paths.
    pub(crate) fn build(plans: &[WheelPlan]) -> Result<Self, TreeError> {
        let mut same = |first: FileRef, second: FileRef| {
            let bytes =
                |(wheel, file): FileRef| Bytes::planned(&plans[wheel], &plans[wheel].files[file]);
            content::same(&bytes(first), &bytes(second)).map_err(|(side, error)| TreeError::Read {
                wheel: if side == 0 { first.0 } else { second.0 },
                path: error.path,
                source: error.source,
            })
        };
        let mut tree = Self::default();
        for (wheel, plan) in plans.iter().enumerate() {
            for (index, file) in plan.files.iter().enumerate() {
                insert(
                    &mut tree.root,
                    &file.dest,
                    &file.dest,
                    (wheel, index),
                    &mut same,
                )?;
            }
        }
        Ok(tree)
    }
}

/// Inserts `rest`, the tail of `dest`, under `children`. A file already there is kept if it is
/// another wheel's and `same` says it has the same bytes.
fn insert(
    children: &mut Children,
    dest: &str,
    rest: &str,
    new: FileRef,
    same: &mut dyn FnMut(FileRef, FileRef) -> Result<bool, TreeError>,
) -> Result<(), TreeError> {
    let (component, tail) = match rest.split_once('/') {
        Some((component, tail)) => (component, Some(tail)),
        None => (rest, None),
    };
    let clash = |first| {
        TreeError::Clash(Clash {
            path: dest[..dest.len() - rest.len() + component.len()].to_owned(),
            first,
            second: new.0,
        })
    };
    if let Some(node) = children.get_mut(component) {
        return match (node, tail) {
            (Node::Dir(next), Some(tail)) => insert(next, dest, tail, new, same),
            (&mut Node::File { wheel, file }, None) if wheel != new.0 => {
                if same((wheel, file), new)? {
                    tracing::debug!(
                        path = dest,
                        "an identical file from two wheels, staged once"
                    );
                    Ok(())
                } else {
                    Err(clash(wheel))
                }
            }
            (node, _) => Err(clash(node.any_wheel())),
        };
    }
    let node = match tail {
        None => Node::File {
            wheel: new.0,
            file: new.1,
        },
        Some(tail) => {
            let mut next = Children::new();
            insert(&mut next, dest, tail, new, same)?;
            Node::Dir(next)
        }
    };
    children.insert(component.to_owned(), node);
    Ok(())
}

/// The moves that install the new tree.
#[derive(Debug, Default)]
pub(crate) struct MergePlan {
    /// Target-relative files and directories to set aside, in order.
    pub(crate) backups: Vec<String>,
    /// Paths to move from the staging tree to the same place in the target, after the backups.
    pub(crate) move_ins: Vec<String>,
    /// Directories to remove at commit if they are then empty, deepest first.
    pub(crate) prune: Vec<String>,
    /// Existing files that a new file would replace with the same bytes, with the index of a
    /// wheel writing them: they stay as they are, and are valid only if an installed project
    /// that is not being replaced records them (the caller checks).
    pub(crate) kept: Vec<(String, usize)>,
}

/// Why no plan could be made.
#[derive(Debug)]
pub(crate) enum MergeError {
    /// The wheel at this index writes `path`, which exists and is not the old versions' to
    /// replace.
    Conflict { path: String, wheel: usize },
    /// The target could not be inspected.
    Io { path: PathBuf, source: io::Error },
    /// A file of the wheel at this index could not be read to compare it with the target's.
    ReadArchive {
        wheel: usize,
        path: PathBuf,
        source: io::Error,
    },
}

/// Plans laying `tree` (the files of `plans`) over the layout's root, replacing the files in
/// `old_owned` (root-relative paths from the `RECORD`s of the versions being replaced that no
/// other installed project lists).
pub(crate) fn plan_merge(
    layout: &Layout,
    tree: &NewTree,
    plans: &[WheelPlan],
    old_owned: &HashSet<String>,
    overwrite: bool,
) -> Result<MergePlan, MergeError> {
    let mut planner = Planner {
        overwrite,
        layout,
        plans,
        old_owned,
        old_tops: old_owned.iter().map(|path| layout.unit(path)).collect(),
        kept: HashMap::new(),
        plan: MergePlan::default(),
        backed_up_files: HashSet::new(),
        backed_up_dirs: HashSet::new(),
        real_dirs: HashMap::new(),
    };
    planner.merge_dir("", &tree.root)?;
    planner.set_aside_leftovers(tree)?;
    planner.set_aside_bytecode()?;
    planner.plan_pruning();
    Ok(planner.plan)
}

struct Planner<'a> {
    /// Whether an existing file that is not the old versions' is replaced instead of refused.
    overwrite: bool,
    layout: &'a Layout,
    plans: &'a [WheelPlan],
    old_owned: &'a HashSet<String>,
    /// Units (`Layout::unit`: top-level entries of the root or of a library directory) that
    /// hold something an old version owns; no other can be swapped.
    old_tops: HashSet<&'a str>,
    /// Per unit already judged: its directories that must be merged into.
    kept: HashMap<String, HashSet<String>>,
    plan: MergePlan,
    backed_up_files: HashSet<String>,
    backed_up_dirs: HashSet<String>,
    /// Directories of the target already checked to be real directories (not symlinks).
    real_dirs: HashMap<String, bool>,
}

impl Planner<'_> {
    fn merge_dir(&mut self, dir: &str, children: &Children) -> Result<(), MergeError> {
        for (name, node) in children {
            let path = relpath::join(dir, name);
            let Some(existing) = self.lstat(&path)? else {
                self.plan.move_ins.push(path);
                continue;
            };
            if existing.is_dir() {
                if self.is_disposable_dir(&path)? {
                    self.set_aside_dir(path.clone());
                    self.plan.move_ins.push(path);
                } else if let Node::Dir(grandchildren) = node {
                    self.merge_dir(&path, grandchildren)?;
                } else {
                    return Err(MergeError::Conflict {
                        path,
                        wheel: node.any_wheel(),
                    });
                }
            } else if self.old_owned.contains(&path) {
                // A file or symlink of an old version; renaming it away never follows it.
                self.set_aside_file(path.clone());
                self.plan.move_ins.push(path);
            } else if let &Node::File { wheel, file } = node
                && self.same_as_existing(&path, wheel, file)?
            {
                // Another project's (the caller checks) file, with the same bytes: shared.
                self.plan.kept.push((path, wheel));
            } else if self.overwrite
                && let &Node::File { wheel, .. } = node
            {
                tracing::warn!(
                    wheel = self.plans[wheel].wheel,
                    path,
                    "overwriting a file of the target that another project wrote, or none records"
                );
                self.set_aside_file(path.clone());
                self.plan.move_ins.push(path);
            } else {
                return Err(MergeError::Conflict {
                    path,
                    wheel: node.any_wheel(),
                });
            }
        }
        Ok(())
    }

    /// Whether the existing file at `path` holds the bytes the new file `file` of the wheel at
    /// index `wheel` would.
    fn same_as_existing(&self, path: &str, wheel: usize, file: usize) -> Result<bool, MergeError> {
        let plan = &self.plans[wheel];
        let existing = Bytes::File(self.layout.root.join(path));
        content::same(&existing, &Bytes::planned(plan, &plan.files[file])).map_err(
            |(side, error)| {
                if side == 0 {
                    MergeError::Io {
                        path: error.path,
                        source: error.source,
                    }
                } else {
                    MergeError::ReadArchive {
                        wheel,
                        path: error.path,
                        source: error.source,
                    }
                }
            },
        )
    }

    /// Sets aside the old versions' files that no new file replaced: whole top-level
    /// directories where the new versions have nothing (an old `.dist-info`, a dropped
    /// package), file by file elsewhere.
    fn set_aside_leftovers(&mut self, tree: &NewTree) -> Result<(), MergeError> {
        let old_owned = self.old_owned;
        let mut leftovers: Vec<&String> = old_owned
            .iter()
            .filter(|path| !self.is_set_aside(path))
            .collect();
        leftovers.sort_unstable();
        let mut judged_tops = HashSet::new();
        for path in leftovers {
            let top = self.layout.unit(path);
            if top != path.as_str()
                && !tree.contains(top)
                && judged_tops.insert(top.to_owned())
                && self.lstat(top)?.is_some_and(|meta| meta.is_dir())
                && self.is_disposable_dir(top)?
            {
                self.set_aside_dir(top.to_owned());
            }
            if self.is_set_aside(path) {
                continue;
            }
            // Behind a symlinked directory the path names something outside the target.
            if self.is_under_real_dirs(path)?
                && self.lstat(path)?.is_some_and(|meta| !meta.is_dir())
            {
                self.set_aside_file(path.clone());
            }
        }
        Ok(())
    }

    /// Sets aside `__pycache__/{module}.*.pyc` of every old module set aside file by file:
    /// Python made them from the old sources.
    fn set_aside_bytecode(&mut self) -> Result<(), MergeError> {
        let mut modules: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for path in &self.backed_up_files {
            if let Some(module) = relpath::file_name(path).strip_suffix(".py") {
                modules
                    .entry(relpath::parent(path))
                    .or_default()
                    .push(module);
            }
        }
        let mut stale = Vec::new();
        for (dir, modules) in modules {
            let cache = relpath::join(dir, "__pycache__");
            if !self.lstat(&cache)?.is_some_and(|meta| meta.is_dir()) {
                continue;
            }
            let full = self.layout.root.join(&cache);
            let io_error = |source| MergeError::Io {
                path: full.clone(),
                source,
            };
            for entry in fs::read_dir(&full).map_err(io_error)? {
                let entry = entry.map_err(io_error)?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let compiled_from_module = name.ends_with(".pyc")
                    && modules.iter().any(|module| {
                        name.strip_prefix(module)
                            .is_some_and(|rest| rest.starts_with('.'))
                    });
                if compiled_from_module {
                    stale.push(relpath::join(&cache, &name));
                }
            }
        }
        stale.sort_unstable();
        for path in stale {
            if !self.is_set_aside(&path) {
                self.set_aside_file(path);
            }
        }
        Ok(())
    }

    /// Every directory above a file set aside may be left empty; the deepest go first.
    fn plan_pruning(&mut self) {
        let mut dirs = HashSet::new();
        for path in &self.backed_up_files {
            let mut dir = relpath::parent(path);
            while !dir.is_empty() && dirs.insert(dir) {
                dir = relpath::parent(dir);
            }
        }
        let mut dirs: Vec<&str> = dirs
            .into_iter()
            .filter(|dir| !self.layout.is_protected(dir))
            .collect();
        dirs.sort_unstable_by(|a, b| {
            let depth = |path: &str| path.matches('/').count();
            depth(b).cmp(&depth(a)).then_with(|| a.cmp(b))
        });
        self.plan.prune = dirs.into_iter().map(str::to_owned).collect();
    }

    fn set_aside_file(&mut self, path: String) {
        self.plan.backups.push(path.clone());
        self.backed_up_files.insert(path);
    }

    fn set_aside_dir(&mut self, path: String) {
        self.plan.backups.push(path.clone());
        self.backed_up_dirs.insert(path);
    }

    /// Whether every directory above `path` is a real directory of the target, so that `path`
    /// names something inside it.
    fn is_under_real_dirs(&mut self, path: &str) -> Result<bool, MergeError> {
        let parent = relpath::parent(path);
        if parent.is_empty() {
            return Ok(true);
        }
        if let Some(&real) = self.real_dirs.get(parent) {
            return Ok(real);
        }
        let real = self.is_under_real_dirs(parent)?
            && self.lstat(parent)?.is_some_and(|meta| meta.is_dir());
        self.real_dirs.insert(parent.to_owned(), real);
        Ok(real)
    }

    /// Whether `path` or a directory above it is already set aside.
    fn is_set_aside(&self, path: &str) -> bool {
        self.backed_up_files.contains(path)
            || path
                .match_indices('/')
                .any(|(slash, _)| self.backed_up_dirs.contains(&path[..slash]))
            || self.backed_up_dirs.contains(path)
    }

    /// Whether the directory `path` holds only what the old versions own (and bytecode
    /// caches), so it can be set aside whole.
    fn is_disposable_dir(&mut self, path: &str) -> Result<bool, MergeError> {
        if self.layout.is_protected(path) {
            return Ok(false);
        }
        let top = self.layout.unit(path);
        if !self.old_tops.contains(top) {
            return Ok(false);
        }
        if !self.kept.contains_key(top) {
            let old_owned = self.old_owned;
            let disposable = |entry: &str| old_owned.contains(entry) || is_bytecode_cache(entry);
            let kept = walk::kept_dirs(&self.layout.root, top, &disposable)
                .map_err(|(path, source)| MergeError::Io { path, source })?;
            self.kept.insert(top.to_owned(), kept.into_iter().collect());
        }
        Ok(self.kept.get(top).is_some_and(|kept| !kept.contains(path)))
    }

    /// The entry at `path` in the target, not following a symlink; `None` if there is none.
    fn lstat(&self, path: &str) -> Result<Option<fs::Metadata>, MergeError> {
        let full = self.layout.root.join(path);
        match fs::symlink_metadata(&full) {
            Ok(metadata) => Ok(Some(metadata)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(MergeError::Io { path: full, source }),
        }
    }
}

/// A compiled module in a `__pycache__` directory: Python rebuilds it when needed.
fn is_bytecode_cache(path: &str) -> bool {
    path.ends_with(".pyc") && relpath::file_name(relpath::parent(path)) == "__pycache__"
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The tree of `(path, wheel, content)`: two files are the same when their contents are.
    fn shared_tree_of(files: &[(&str, usize, &str)]) -> Result<NewTree, Clash> {
        let mut tree = NewTree::default();
        let mut same = |first: FileRef, second: FileRef| Ok(files[first.1].2 == files[second.1].2);
        for (index, (path, wheel, _)) in files.iter().enumerate() {
            insert(&mut tree.root, path, path, (*wheel, index), &mut same).map_err(|error| {
                match error {
                    TreeError::Clash(clash) => clash,
                    TreeError::Read { .. } => panic!("nothing is read"),
                }
            })?;
        }
        Ok(tree)
    }

    /// The tree of `(path, wheel)`, every file with its own content.
    fn tree_of(files: &[(&str, usize)]) -> Result<NewTree, Clash> {
        let contents: Vec<String> = (0..files.len()).map(|i| i.to_string()).collect();
        let files: Vec<(&str, usize, &str)> = files
            .iter()
            .zip(&contents)
            .map(|(&(path, wheel), content)| (path, wheel, content.as_str()))
            .collect();
        shared_tree_of(&files)
    }

    #[test]
    fn disjoint_files_share_directories() {
        let tree = tree_of(&[("ns/a/x.py", 0), ("ns/b/y.py", 1), ("bin/t", 0)]).unwrap();
        let Node::Dir(ns) = &tree.root["ns"] else {
            panic!("ns is a directory")
        };
        assert_eq!(ns.len(), 2);
    }

    #[test]
    fn clashes_name_the_path_and_both_wheels() {
        let clash = tree_of(&[("pkg/x.py", 0), ("pkg/x.py", 1)]).unwrap_err();
        assert_eq!(
            (clash.path.as_str(), clash.first, clash.second),
            ("pkg/x.py", 0, 1)
        );
        let clash = tree_of(&[("pkg", 0), ("pkg/x.py", 1)]).unwrap_err();
        assert_eq!(
            (clash.path.as_str(), clash.first, clash.second),
            ("pkg", 0, 1)
        );
        let clash = tree_of(&[("pkg/x.py", 2), ("pkg", 1)]).unwrap_err();
        assert_eq!(
            (clash.path.as_str(), clash.first, clash.second),
            ("pkg", 2, 1)
        );
    }

    #[test]
    fn identical_files_of_two_wheels_are_one_node() {
        let tree = shared_tree_of(&[
            ("ns/__init__.py", 0, ""),
            ("ns/a.py", 0, "a"),
            ("ns/__init__.py", 1, ""),
            ("ns/b.py", 1, "b"),
            ("ns/__init__.py", 2, ""),
        ])
        .unwrap();
        let Node::Dir(ns) = &tree.root["ns"] else {
            panic!("ns is a directory")
        };
        assert!(matches!(
            ns["__init__.py"],
            Node::File { wheel: 0, file: 0 }
        ));
        assert_eq!(ns.len(), 3);

        let clash =
            shared_tree_of(&[("ns/__init__.py", 0, ""), ("ns/__init__.py", 1, "x")]).unwrap_err();
        assert_eq!(
            (clash.path.as_str(), clash.first, clash.second),
            ("ns/__init__.py", 0, 1)
        );
        // One wheel writing a path twice is never sharing, even with the same bytes.
        let clash = shared_tree_of(&[("ns/x.py", 0, ""), ("ns/x.py", 0, "")]).unwrap_err();
        assert_eq!((clash.first, clash.second), (0, 0));
        // A file and a directory never share.
        let clash = shared_tree_of(&[("ns", 0, ""), ("ns/x.py", 1, "")]).unwrap_err();
        assert_eq!(clash.path, "ns");
    }

    #[test]
    fn bytecode_caches() {
        assert!(is_bytecode_cache("pkg/__pycache__/m.cpython-311.pyc"));
        assert!(is_bytecode_cache("__pycache__/m.cpython-311.pyc"));
        assert!(!is_bytecode_cache("pkg/m.pyc"));
        assert!(!is_bytecode_cache("pkg/__pycache__/m.py"));
    }
}
