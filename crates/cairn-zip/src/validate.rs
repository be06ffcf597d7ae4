//! The rules every entry must pass, shared by the parallel and the streaming extractor so both
//! accept and refuse exactly the same archives.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

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

/// Rejects an archive comment that contains an end-of-central-directory signature: tools that
/// search for the end record from the back would find a different one.
pub(crate) fn archive_comment(comment: &[u8]) -> Result<(), ArchiveProblem> {
    let signature = records::END_SIGNATURE.to_le_bytes();
    if comment
        .windows(signature.len())
        .any(|window| window == signature)
    {
        return Err(ArchiveProblem::AmbiguousEnd);
    }
    Ok(())
}

/// Rejects encryption and compression methods other than stored and deflate.
pub(crate) fn flags_and_method(flag_bits: u16, method: u16) -> Result<(), EntryProblem> {
    if flag_bits & (flags::ENCRYPTED | flags::STRONG_ENCRYPTION | flags::MASKED_HEADER) != 0 {
        return Err(EntryProblem::Encrypted);
    }
    match method {
        METHOD_STORED | METHOD_DEFLATED => Ok(()),
        method => Err(EntryProblem::UnsupportedMethod { method }),
    }
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
/// are both a file and a directory, and entries below a file.
#[derive(Debug, Default)]
pub(crate) struct PathTree {
    nodes: HashMap<Box<str>, Node>,
    /// Every directory, explicit or implied by a deeper entry, parents before children.
    dirs: Vec<Box<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    File,
    Dir { explicit: bool },
}

impl PathTree {
    /// Adds an entry; returns how many directories it introduced (the last ones in
    /// [`dirs`](Self::dirs)), which the caller must create.
    pub(crate) fn insert(&mut self, name: EntryName<'_>) -> Result<usize, EntryProblem> {
        let dirs_before = self.dirs.len();
        let path = name.path;
        for (slash, _) in path.match_indices('/') {
            let parent = path.get(..slash).unwrap_or_default();
            match self.nodes.get(parent) {
                Some(Node::File) => {
                    return Err(EntryProblem::ParentIsFile {
                        parent: parent.to_owned(),
                    });
                }
                Some(Node::Dir { .. }) => {}
                None => {
                    self.nodes
                        .insert(parent.into(), Node::Dir { explicit: false });
                    self.dirs.push(parent.into());
                }
            }
        }
        match self.nodes.entry(path.into()) {
            Entry::Vacant(slot) => {
                if name.is_dir {
                    slot.insert(Node::Dir { explicit: true });
                    self.dirs.push(path.into());
                } else {
                    slot.insert(Node::File);
                }
            }
            Entry::Occupied(mut slot) => match (*slot.get(), name.is_dir) {
                (Node::Dir { explicit: false }, true) => {
                    slot.insert(Node::Dir { explicit: true });
                }
                (Node::File, false) | (Node::Dir { explicit: true }, true) => {
                    return Err(EntryProblem::Duplicate);
                }
                (Node::File, true) | (Node::Dir { .. }, false) => {
                    return Err(EntryProblem::FileDirectoryConflict);
                }
            },
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

    #[test]
    fn drive_prefix_needs_a_letter_and_a_colon() {
        assert_eq!(entry_name(b"C:x"), Err(EntryProblem::DrivePrefix));
        assert!(entry_name(b"1:x").is_ok());
        assert!(entry_name(b"ab:c").is_ok());
    }
}
