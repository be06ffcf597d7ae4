//! The rules every entry must pass, shared by the parallel and the streaming extractor so both
//! accept and refuse exactly the same archives.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use unicode_normalization::UnicodeNormalization;

use super::error::{ArchiveProblem, EntryProblem};
use super::records::{self, flags};

/// A validated entry name: a relative path of normal components separated by `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryName<'a> {
    /// The path without the trailing `/` of a directory entry.
    pub(crate) path: &'a str,
    /// The name ended in `/`.
    pub(crate) is_dir: bool,
}

/// Checks an entry name as stored in the archive.
///
/// Names must be UTF-8 whatever the language-encoding flag says: the wheel format requires it,
/// and a name that decodes differently in different tools is how extractors get fooled.
pub(crate) fn entry_name(raw: &[u8]) -> Result<EntryName<'_>, EntryProblem> {
    if raw.is_empty() {
        return Err(EntryProblem::EmptyName);
    }
    let name = std::str::from_utf8(raw).map_err(|_| EntryProblem::NonUtf8Name)?;
    if let Some(character) = name.chars().find(|c| c.is_control()) {
        return Err(EntryProblem::ControlCharacter { character });
    }
    if name.contains('\\') {
        return Err(EntryProblem::Backslash);
    }
    if name.starts_with('/') {
        return Err(EntryProblem::AbsolutePath);
    }
    if let [letter, b':', ..] = name.as_bytes()
        && letter.is_ascii_alphabetic()
    {
        return Err(EntryProblem::DrivePrefix);
    }
    let (path, is_dir) = match name.strip_suffix('/') {
        Some(path) => (path, true),
        None => (name, false),
    };
    for component in path.split('/') {
        match component {
            "" => return Err(EntryProblem::EmptyComponent),
            "." => return Err(EntryProblem::CurrentDirComponent),
            ".." => return Err(EntryProblem::ParentDirComponent),
            _ => {}
        }
    }
    Ok(EntryName { path, is_dir })
}

/// Rejects an Info-ZIP Unicode Path extra field that names the entry differently from its header:
/// tools that honour the field would extract it elsewhere.
pub(crate) fn unicode_path_agrees(raw_name: &[u8], extra: &[u8]) -> Result<(), EntryProblem> {
    match records::unicode_path(extra) {
        Some(alternative) if alternative != raw_name => Err(EntryProblem::ConflictingUnicodePath),
        _ => Ok(()),
    }
}

/// Rejects an archive comment (starting at `offset`) that contains an end-of-central-directory
/// signature: tools that search for the end record from the back would find a different one.
pub(crate) fn archive_comment(comment: &[u8], offset: u64) -> Result<(), ArchiveProblem> {
    let signature = records::END_SIGNATURE.to_le_bytes();
    match comment
        .windows(signature.len())
        .position(|window| window == signature)
    {
        Some(at) => Err(ArchiveProblem::AmbiguousEnd {
            offset: offset + at as u64,
        }),
        None => Ok(()),
    }
}

/// Rejects what a header asks for that is not implemented: encryption, any other general
/// purpose flag bit but the deflate level, data descriptor and UTF-8 bits, compression methods
/// other than stored and deflate, and a "version needed to extract" above 4.5. Applied to the
/// local header and to the central directory header alike.
pub(crate) fn implemented(
    flag_bits: u16,
    method: u16,
    version_needed: u16,
) -> Result<(), EntryProblem> {
    if flag_bits & (flags::ENCRYPTED | flags::STRONG_ENCRYPTION | flags::MASKED_HEADER) != 0 {
        return Err(EntryProblem::Encrypted);
    }
    let bits = flag_bits & !flags::IMPLEMENTED;
    if bits != 0 {
        return Err(EntryProblem::UnsupportedFlags { bits });
    }
    if !matches!(method, METHOD_STORED | METHOD_DEFLATED) {
        return Err(EntryProblem::UnsupportedMethod { method });
    }
    // The low byte is the version; some writers put their host system in the high byte, as in
    // "version made by", and Python's zipfile ignores it too.
    let [version, _] = version_needed.to_le_bytes();
    if version > records::MAX_VERSION_NEEDED {
        return Err(EntryProblem::UnsupportedVersion { version });
    }
    Ok(())
}

/// Compression method 0.
pub(crate) const METHOD_STORED: u16 = 0;
/// Compression method 8.
pub(crate) const METHOD_DEFLATED: u16 = 8;

/// What an entry becomes on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A directory (mode 0o755).
    Directory,
    /// A regular file, 0o755 when any execute bit is set, else 0o644.
    File {
        /// Any execute bit is set in the unix mode.
        executable: bool,
    },
}

const HOST_UNIX: u8 = 3;
const HOST_DARWIN: u8 = 19;
const TYPE_MASK: u32 = 0o170_000;
const TYPE_REGULAR: u32 = 0o100_000;
const TYPE_DIRECTORY: u32 = 0o040_000;
const TYPE_SYMLINK: u32 = 0o120_000;

/// Decides the entry's kind from the central directory's unix mode and its name, rejecting
/// symbolic links, special files and modes that contradict the name.
pub(crate) fn entry_kind(
    version_made_by: u16,
    external_attributes: u32,
    is_dir_name: bool,
) -> Result<EntryKind, EntryProblem> {
    let [_, host] = version_made_by.to_le_bytes();
    // Only unix hosts store a mode in the high half of the external attributes.
    let mode = if host == HOST_UNIX || host == HOST_DARWIN {
        external_attributes >> 16
    } else {
        0
    };
    let file = EntryKind::File {
        executable: mode & 0o111 != 0,
    };
    match (mode & TYPE_MASK, is_dir_name) {
        (0, true) | (TYPE_DIRECTORY, true) => Ok(EntryKind::Directory),
        (0, false) | (TYPE_REGULAR, false) => Ok(file),
        (TYPE_SYMLINK, _) => Err(EntryProblem::Symlink),
        (TYPE_REGULAR, true) | (TYPE_DIRECTORY, false) => Err(EntryProblem::KindMismatch { mode }),
        _ => Err(EntryProblem::SpecialFile { mode }),
    }
}

/// The fields a local header (completed by its data descriptor) must share with the central
/// directory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderFields<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) flags: u16,
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    pub(crate) compressed_size: u64,
    pub(crate) uncompressed_size: u64,
}

/// Flag bits that change how an entry is read; the others (e.g. the UTF-8 flag) may differ.
const COMPARED_FLAGS: u16 =
    flags::ENCRYPTED | flags::DATA_DESCRIPTOR | flags::STRONG_ENCRYPTION | flags::MASKED_HEADER;

/// Rejects any disagreement between the local header and the central directory: tools that
/// read one or the other would otherwise extract different things.
pub(crate) fn headers_agree(
    local: &HeaderFields<'_>,
    central: &HeaderFields<'_>,
) -> Result<(), EntryProblem> {
    if local.name != central.name {
        return Err(EntryProblem::NameMismatch {
            local: String::from_utf8_lossy(local.name).into_owned(),
        });
    }
    let pairs = [
        (
            "the flags",
            u64::from(local.flags & COMPARED_FLAGS),
            u64::from(central.flags & COMPARED_FLAGS),
        ),
        (
            "the compression method",
            u64::from(local.method),
            u64::from(central.method),
        ),
        (
            "the CRC-32",
            u64::from(local.crc32),
            u64::from(central.crc32),
        ),
        (
            "the compressed size",
            local.compressed_size,
            central.compressed_size,
        ),
        (
            "the uncompressed size",
            local.uncompressed_size,
            central.uncompressed_size,
        ),
    ];
    match pairs.into_iter().find(|(_, l, c)| l != c) {
        Some((field, local, central)) => Err(EntryProblem::HeaderMismatch {
            field,
            local,
            central,
        }),
        None => Ok(()),
    }
}

/// The directory tree an archive describes, built entry by entry, refusing duplicates, paths that
/// are both a file and a directory, entries below a file, and paths that differ from another one
/// only by letter case or Unicode normalisation.
///
/// Nodes are keyed by their folded path (see [`fold`]), so a second spelling of a path is found
/// by the same single lookup as an exact duplicate: one hash map, one pass, no pairwise
/// comparison.
#[derive(Debug, Default)]
pub(crate) struct PathTree {
    nodes: HashMap<Box<str>, Node>,
    /// Every directory, explicit or implied by a deeper entry, parents before children, as
    /// spelled in the archive.
    dirs: Vec<Box<str>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    kind: NodeKind,
    /// The path as spelled in the archive, when that differs from its key.
    spelling: Option<Box<str>>,
}

impl Node {
    fn new(kind: NodeKind, path: &str, key: &str) -> Self {
        Self {
            kind,
            spelling: (path != key).then(|| path.into()),
        }
    }

    /// The path as spelled in the archive, given the key it is stored under.
    fn spelling<'a>(&'a self, key: &'a str) -> &'a str {
        self.spelling.as_deref().unwrap_or(key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    File,
    Dir { explicit: bool },
}

/// The key under which two paths are the same file on macOS (case-insensitive and
/// normalisation-insensitive by default) or Windows (case-insensitive): each component in
/// canonical decomposition (NFD), lowercased character by character (`char::to_lowercase`,
/// Unicode's default lowercase mapping, not full case folding: `ß` and `ss` stay apart),
/// recomposed (NFC). The whole path is compared, parents included.
///
/// Returns `None` when the path is its own key: plain ASCII without capitals, the usual case,
/// costs one scan and no allocation. Otherwise the key and where each parent's key ends in it.
fn fold(path: &str) -> Option<(String, Vec<usize>)> {
    if !path
        .bytes()
        .any(|byte| !byte.is_ascii() || byte.is_ascii_uppercase())
    {
        return None;
    }
    let mut key = String::with_capacity(path.len());
    let mut parent_ends = Vec::new();
    for (index, component) in path.split('/').enumerate() {
        if index > 0 {
            parent_ends.push(key.len());
            key.push('/');
        }
        if component.is_ascii() {
            key.extend(component.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            key.extend(component.nfd().flat_map(char::to_lowercase).nfc());
        }
    }
    Some((key, parent_ends))
}

impl PathTree {
    /// Adds an entry; returns how many directories it introduced (the last ones in
    /// [`dirs`](Self::dirs)), which the caller must create.
    pub(crate) fn insert(&mut self, name: EntryName<'_>) -> Result<usize, EntryProblem> {
        let dirs_before = self.dirs.len();
        let path = name.path;
        let folded = fold(path);
        let key = folded.as_ref().map_or(path, |(key, _)| key.as_str());
        for (index, (slash, _)) in path.match_indices('/').enumerate() {
            let parent = path.get(..slash).unwrap_or_default();
            let parent_key = match &folded {
                None => parent,
                Some((key, parent_ends)) => parent_ends
                    .get(index)
                    .and_then(|end| key.get(..*end))
                    .unwrap_or_default(),
            };
            match self.nodes.get(parent_key) {
                Some(node) if node.spelling(parent_key) != parent => {
                    return Err(EntryProblem::NameCollision {
                        other: node.spelling(parent_key).to_owned(),
                    });
                }
                Some(Node {
                    kind: NodeKind::File,
                    ..
                }) => {
                    return Err(EntryProblem::ParentIsFile {
                        parent: parent.to_owned(),
                    });
                }
                Some(_) => {}
                None => {
                    let node = Node::new(NodeKind::Dir { explicit: false }, parent, parent_key);
                    self.nodes.insert(parent_key.into(), node);
                    self.dirs.push(parent.into());
                }
            }
        }
        match self.nodes.entry(key.into()) {
            Entry::Vacant(slot) => {
                if name.is_dir {
                    slot.insert(Node::new(NodeKind::Dir { explicit: true }, path, key));
                    self.dirs.push(path.into());
                } else {
                    slot.insert(Node::new(NodeKind::File, path, key));
                }
            }
            Entry::Occupied(mut slot) => {
                let other = slot.get().spelling(key);
                if other != path {
                    return Err(EntryProblem::NameCollision {
                        other: other.to_owned(),
                    });
                }
                match (slot.get().kind, name.is_dir) {
                    (NodeKind::Dir { explicit: false }, true) => {
                        slot.get_mut().kind = NodeKind::Dir { explicit: true };
                    }
                    (NodeKind::File, false) | (NodeKind::Dir { explicit: true }, true) => {
                        return Err(EntryProblem::Duplicate);
                    }
                    (NodeKind::File, true) | (NodeKind::Dir { .. }, false) => {
                        return Err(EntryProblem::FileDirectoryConflict);
                    }
                }
            }
        }
        Ok(self.dirs.len() - dirs_before)
    }

    /// Every directory seen so far, parents before children.
    pub(crate) fn dirs(&self) -> &[Box<str>] {
        &self.dirs
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn name(raw: &str) -> EntryName<'_> {
        entry_name(raw.as_bytes()).unwrap()
    }

    #[test]
    fn path_tree_reports_new_directories_parents_first() {
        let mut tree = PathTree::default();
        assert_eq!(tree.insert(name("a/b/c.py")).unwrap(), 2);
        assert_eq!(tree.insert(name("a/b/")).unwrap(), 0);
        assert_eq!(tree.insert(name("a/d/")).unwrap(), 1);
        let dirs: Vec<&str> = tree.dirs().iter().map(|d| &**d).collect();
        assert_eq!(dirs, ["a", "a/b", "a/d"]);
        assert_eq!(tree.insert(name("a/b/")), Err(EntryProblem::Duplicate));
        assert_eq!(
            tree.insert(name("a/b/c.py/x")),
            Err(EntryProblem::ParentIsFile {
                parent: "a/b/c.py".into()
            })
        );
    }

    fn collision(other: &str) -> Result<usize, EntryProblem> {
        Err(EntryProblem::NameCollision {
            other: other.to_owned(),
        })
    }

    #[test]
    fn fold_leaves_plain_names_alone_and_merges_case_and_normalisation() {
        assert_eq!(fold("pkg/sub/mod_1.py"), None);
        let key = |path| fold(path).map(|(key, _)| key);
        assert_eq!(key("Pkg/Sub/A.py").as_deref(), Some("pkg/sub/a.py"));
        let precomposed = key("pkg/caf\u{e9}/x");
        assert_eq!(precomposed.as_deref(), Some("pkg/caf\u{e9}/x"));
        assert_eq!(key("pkg/cafe\u{301}/x"), precomposed);
        assert_eq!(key("pkg/CAF\u{c9}/x"), precomposed);
        assert_eq!(key("pkg/CAFE\u{301}/x"), precomposed);
        // Lowercase mapping, not full case folding: `ß` stays itself.
        assert_eq!(key("pkg/Stra\u{df}e").as_deref(), Some("pkg/stra\u{df}e"));
        // Each parent's key ends where the fold of that parent ends.
        let (folded, ends) = fold("\u{c9}t\u{c9}/B/c").unwrap();
        let parents: Vec<&str> = ends.iter().map(|end| &folded[..*end]).collect();
        assert_eq!(parents, ["\u{e9}t\u{e9}", "\u{e9}t\u{e9}/b"]);
    }

    #[test]
    fn path_tree_refuses_paths_that_differ_only_by_case_or_normalisation() {
        let mut tree = PathTree::default();
        tree.insert(name("pkg/Module.py")).unwrap();
        assert_eq!(
            tree.insert(name("pkg/module.py")),
            collision("pkg/Module.py")
        );
        assert_eq!(tree.insert(name("PKG/other.py")), collision("pkg"));
        assert_eq!(
            tree.insert(name("pkg/MODULE.PY/")),
            collision("pkg/Module.py")
        );
        tree.insert(name("pkg/caf\u{e9}.py")).unwrap();
        assert_eq!(
            tree.insert(name("pkg/cafe\u{301}.py")),
            collision("pkg/caf\u{e9}.py")
        );
        tree.insert(name("pkg/Sub/x.py")).unwrap();
        assert_eq!(tree.insert(name("pkg/sub/")), collision("pkg/Sub"));
        // The same spelling is still a plain duplicate; distinct names stay distinct.
        assert_eq!(
            tree.insert(name("pkg/Module.py")),
            Err(EntryProblem::Duplicate)
        );
        assert_eq!(tree.insert(name("pkg/Sub/")).unwrap(), 0);
        tree.insert(name("pkg/stra\u{df}e.py")).unwrap();
        tree.insert(name("pkg/strasse.py")).unwrap();
        let dirs: Vec<&str> = tree.dirs().iter().map(|d| &**d).collect();
        assert_eq!(dirs, ["pkg", "pkg/Sub"]);
    }

    #[test]
    fn only_implemented_flags_methods_and_versions_pass() {
        for bits in [0, 1 << 1, 1 << 2, 3 << 1, 1 << 3, 1 << 11, 0b1000_0000_1110] {
            assert_eq!(implemented(bits, METHOD_DEFLATED, 20), Ok(()), "{bits:#x}");
        }
        for bit in [4, 5, 7, 8, 9, 10, 12, 14, 15] {
            assert_eq!(
                implemented((1 << bit) | (1 << 11), METHOD_STORED, 20),
                Err(EntryProblem::UnsupportedFlags { bits: 1 << bit })
            );
        }
        for bit in [0, 6, 13] {
            assert_eq!(
                implemented((1 << bit) | (1 << 5), METHOD_STORED, 20),
                Err(EntryProblem::Encrypted)
            );
        }
        for version in [0, 10, 20, 45, 0x0314, 0x032d] {
            assert_eq!(
                implemented(0, METHOD_STORED, version),
                Ok(()),
                "{version:#x}"
            );
        }
        for version in [46, 51, 63, 0xff, 0x033f] {
            let [low, _] = u16::to_le_bytes(version);
            assert_eq!(
                implemented(0, METHOD_DEFLATED, version),
                Err(EntryProblem::UnsupportedVersion { version: low })
            );
        }
        assert_eq!(
            implemented(0, 12, 46),
            Err(EntryProblem::UnsupportedMethod { method: 12 })
        );
    }

    #[test]
    fn drive_prefix_needs_a_letter_and_a_colon() {
        assert_eq!(entry_name(b"C:x"), Err(EntryProblem::DrivePrefix));
        assert!(entry_name(b"1:x").is_ok());
        assert!(entry_name(b"ab:c").is_ok());
    }
}
