//! Property tests of the zip record parsers (central directory, local headers, data
//! descriptors, extra fields and Zip64), through both extractors.
//!
//! Valid archives are generated from a model (names, contents, stored or deflated, data
//! descriptors with and without signature, Zip64 fields, directories, executables), written
//! byte by byte with `cairn_test_support::zipgen`, then damaged structurally: a header field
//! overwritten with an edge or random value, a hostile or colliding name, extra fields, records
//! hidden, repeated or left out, bytes around the records.
//!
//! Properties: a valid archive extracts to exactly its model with both extractors; a damaged
//! one never panics, never writes outside its destination, and is either refused with a typed
//! error naming the archive or extracted to exactly the tree of the undamaged archive; damage
//! that makes an archive unsafe (an unsafe or colliding name, a name the two headers disagree
//! on) is always refused. `PROPTEST_CASES` raises the number of cases
//! (see `scripts/fuzz-long.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use cairn_test_support::zipgen::{
    DEFLATED, Entry, MODE_EXECUTABLE, MODE_SYMLINK, Node, STORED, Tree, Workspace, ZipBuilder,
    le16, le32, le64, push_extra, read_tree,
};
use cairn_zip::{ExtractReport, Limits, UnzipError};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property by default: each case extracts two to four archives.
const DEFAULT_CASES: u32 = 160;

fn config() -> Config {
    cairn_test_support::prop::config(DEFAULT_CASES, "proptest-regressions/prop_zip.txt")
}

/// One file of the model.
#[derive(Debug, Clone)]
struct ModelFile {
    path: String,
    data: Vec<u8>,
    deflated: bool,
    /// `None`: sizes in the header; `Some(signature)`: in a data descriptor.
    descriptor: Option<bool>,
    zip64: bool,
    executable: bool,
}

/// A valid wheel-like archive: files with distinct, safe, case-distinct paths, plus the
/// directory entries some writers add.
#[derive(Debug, Clone)]
struct Model {
    files: Vec<ModelFile>,
    dirs: Vec<String>,
    comment: Vec<u8>,
    zip64_end: bool,
}

impl Model {
    fn entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self.dirs.iter().map(Entry::dir).collect();
        for file in &self.files {
            let mut entry = if file.deflated {
                Entry::file(&file.path, &file.data)
            } else {
                Entry::stored(&file.path, &file.data)
            };
            if let Some(signature) = file.descriptor {
                entry = entry.descriptor(signature);
            }
            if file.zip64 {
                entry = entry.zip64();
            }
            if file.executable {
                entry = entry.mode(MODE_EXECUTABLE);
            }
            entries.push(entry);
        }
        entries
    }

    fn builder(&self) -> ZipBuilder {
        let mut builder = ZipBuilder::new();
        builder.entries = self.entries();
        builder.comment = self.comment.clone();
        builder.zip64_end = self.zip64_end;
        builder
    }

    /// The files and their contents the archive must extract to.
    fn expected_files(&self) -> Vec<(String, Vec<u8>, bool)> {
        let mut files: Vec<_> = self
            .files
            .iter()
            .map(|file| (file.path.clone(), file.data.clone(), file.executable))
            .collect();
        files.sort();
        files
    }
}

/// File contents: empty, short text, compressible runs or noise.
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        "[ -~\n]{0,200}".prop_map(String::into_bytes),
        (any::<u8>(), 1usize..5000).prop_map(|(byte, len)| vec![byte; len]),
        proptest::collection::vec(any::<u8>(), 0..600),
    ]
}

/// A path of one to three lowercase components (lowercase only, so that no two generated
/// paths collide under case folding).
fn path() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z0-9_][a-z0-9_.-]{0,7}", 1..4)
        .prop_map(|parts| parts.join("/"))
        .prop_filter("no dot components", |path| {
            path.split('/').all(|part| part != "." && part != "..")
        })
}

fn model() -> impl Strategy<Value = Model> {
    let file = (
        path(),
        content(),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(path, data, deflated, descriptor, zip64, executable)| ModelFile {
                path,
                data,
                deflated,
                // Stored data followed by a descriptor cannot be streamed (a documented
                // refusal of the stream extractor): descriptors go with deflated data only.
                descriptor: descriptor.filter(|_| deflated),
                zip64,
                executable,
            },
        );
    (
        proptest::collection::vec(file, 1..6),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..20),
        any::<bool>(),
    )
        .prop_map(|(files, with_dirs, comment, zip64_end)| {
            // Keep paths that are neither equal to nor a parent of another kept path.
            let mut kept: Vec<ModelFile> = Vec::new();
            for file in files {
                let clash = kept.iter().any(|other| {
                    other.path == file.path
                        || other.path.starts_with(&format!("{}/", file.path))
                        || file.path.starts_with(&format!("{}/", other.path))
                });
                if !clash {
                    kept.push(file);
                }
            }
            let mut dirs = BTreeSet::new();
            if with_dirs {
                for file in &kept {
                    let mut prefix = String::new();
                    for part in file
                        .path
                        .split('/')
                        .rev()
                        .skip(1)
                        .collect::<Vec<_>>()
                        .iter()
                        .rev()
                    {
                        prefix.push_str(part);
                        prefix.push('/');
                        dirs.insert(prefix.clone());
                    }
                }
            }
            Model {
                files: kept,
                dirs: dirs.into_iter().collect(),
                comment,
                zip64_end,
            }
        })
}

/// Values on the edges of the fields they land in.
fn edge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(0x7f),
        Just(0xff),
        Just(0xffff),
        Just(0xffff_ffff),
        Just(0x8000_0000),
        Just(0x1_0000_0000),
        Just(u64::MAX),
        any::<u64>(),
        0u64..10_000,
    ]
}

/// Names that must never extract: unsafe, not UTF-8, or not a regular path.
fn hostile_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"../evil".to_vec()),
        Just(b"a/../../evil".to_vec()),
        Just(b"a/..".to_vec()),
        Just(b"/etc/evil".to_vec()),
        Just(b"//evil".to_vec()),
        Just(b"a\\..\\evil".to_vec()),
        Just(b"a\\b".to_vec()),
        Just(b"a\0b".to_vec()),
        Just(b"a/\nb".to_vec()),
        Just(b"C:evil".to_vec()),
        Just(b"c:/evil".to_vec()),
        Just(b"".to_vec()),
        Just(b"a//b".to_vec()),
        Just(b"./a".to_vec()),
        Just(b".".to_vec()),
        Just(b"a/./b".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just(b"a/\xc3".to_vec()),
        "[a-z]{1,4}/\\.\\./\\.\\./[a-z]{1,4}".prop_map(String::into_bytes),
        "/[a-z]{1,8}".prop_map(String::into_bytes),
        "[a-z]{1,4}[\\x00-\\x1f][a-z]{0,4}".prop_map(String::into_bytes),
    ]
}

/// One structural piece of damage.
#[derive(Debug, Clone)]
enum Damage {
    /// Both headers of an entry carry a hostile name.
    HostileName { entry: usize, name: Vec<u8> },
    /// An entry takes another entry's name, or that name in other case or Unicode form.
    CollidingName {
        entry: usize,
        other: usize,
        form: u8,
    },
    /// The local header names the entry differently from the central directory.
    LocalName { entry: usize, name: Vec<u8> },
    /// An entry becomes a symbolic link.
    Symlink { entry: usize },
    /// A header field of the local header (or descriptor) or of the central directory lies.
    Field {
        entry: usize,
        central: bool,
        field: u8,
        value: u64,
    },
    /// An extra field is added to one header.
    Extra {
        entry: usize,
        central: bool,
        tag: u16,
        data: Vec<u8>,
    },
    /// Archive-level damage: bytes before, between or after the records, records left out or
    /// made up, a false entry count.
    Layout {
        kind: u8,
        entry: usize,
        bytes: Vec<u8>,
        value: u64,
    },
    /// A byte inside the first bytes of a record overwritten (the fixed-size header fields).
    HeaderByte {
        record: usize,
        offset: usize,
        value: u8,
    },
}

impl Damage {
    /// Whether the damaged archive must be refused whatever else holds.
    fn must_refuse(&self, builder: &ZipBuilder) -> bool {
        match self {
            Self::HostileName { .. } | Self::CollidingName { .. } | Self::Symlink { .. } => true,
            Self::LocalName { entry, name } => {
                builder.entries[entry % builder.entries.len()].name != *name
            }
            _ => false,
        }
    }

    fn apply(&self, builder: &mut ZipBuilder) {
        let count = builder.entries.len();
        match self {
            Self::HostileName { entry, name } => {
                builder.entries[entry % count].name.clone_from(name);
            }
            Self::CollidingName { entry, other, form } => {
                let (entry, other) = (entry % count, other % count);
                let target = builder.entries[other].name.clone();
                let text = String::from_utf8(target).unwrap();
                let name = match form % 3 {
                    0 => text,
                    1 => text.to_uppercase(),
                    // `é` precomposed in one, decomposed in the other.
                    _ => format!("{text}\u{e9}"),
                };
                if entry == other || form % 3 == 2 {
                    // A name of its own that collides with a second, new entry.
                    let decomposed = name.replace('\u{e9}', "e\u{301}");
                    builder.entries[entry].name = name.into_bytes();
                    let mut twin = builder.entries[entry].clone();
                    twin.name = decomposed.into_bytes();
                    if form % 3 != 2 {
                        twin.name.clone_from(&builder.entries[entry].name);
                    }
                    builder.entries.push(twin);
                } else {
                    builder.entries[entry].name = name.into_bytes();
                }
            }
            Self::LocalName { entry, name } => {
                builder.entries[entry % count].local.name = Some(name.clone());
            }
            Self::Symlink { entry } => {
                let entry = &mut builder.entries[entry % count];
                entry.mode = Some(MODE_SYMLINK);
            }
            Self::Field {
                entry,
                central,
                field,
                value,
            } => {
                let entry = &mut builder.entries[entry % count];
                let overrides = if *central {
                    &mut entry.central
                } else {
                    &mut entry.local
                };
                match field % 7 {
                    0 => overrides.version_needed = Some(*value as u16),
                    1 => overrides.flags = Some(*value as u16),
                    2 => overrides.method = Some(*value as u16),
                    3 => overrides.crc32 = Some(*value as u32),
                    4 => overrides.compressed_size = Some(*value),
                    5 => overrides.uncompressed_size = Some(*value),
                    _ => overrides.offset = Some(*value),
                }
            }
            Self::Extra {
                entry,
                central,
                tag,
                data,
            } => {
                let entry = &mut builder.entries[entry % count];
                let extra = if *central {
                    &mut entry.central_extra
                } else {
                    &mut entry.local_extra
                };
                push_extra(extra, *tag, data);
            }
            Self::Layout {
                kind,
                entry,
                bytes,
                value,
            } => match kind % 8 {
                0 => builder.prefix.clone_from(bytes),
                1 => builder.gaps.push((entry % count, bytes.clone())),
                2 => builder.trailing.clone_from(bytes),
                3 => builder.unlisted.push(entry % count),
                4 => {
                    let phantom = builder.entries[entry % count].clone();
                    builder.phantoms.push((phantom, *value));
                }
                5 => builder.declared_entries = Some(*value),
                6 => {
                    // The same local record twice, the central directory listing one.
                    let copy = builder.entries[entry % count].local_record();
                    builder.gaps.push((entry % count, copy));
                }
                _ => builder.zip64_end = !builder.zip64_end,
            },
            Self::HeaderByte { .. } => {}
        }
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        1 => (any::<usize>(), hostile_name())
            .prop_map(|(entry, name)| Damage::HostileName { entry, name }),
        1 => (any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(entry, other, form)| {
            Damage::CollidingName { entry, other, form }
        }),
        1 => (any::<usize>(), prop_oneof![hostile_name(), "[a-z]{1,6}".prop_map(String::into_bytes)])
            .prop_map(|(entry, name)| Damage::LocalName { entry, name }),
        1 => any::<usize>().prop_map(|entry| Damage::Symlink { entry }),
        3 => (any::<usize>(), any::<bool>(), any::<u8>(), edge()).prop_map(
            |(entry, central, field, value)| Damage::Field { entry, central, field, value }
        ),
        1 => (
            any::<usize>(),
            any::<bool>(),
            prop_oneof![Just(0x0001u16), Just(0x5455), Just(0x7875), any::<u16>()],
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                (edge(), edge(), edge()).prop_map(|(a, b, c)| [le64(a), le64(b), le64(c)].concat()),
            ],
        )
            .prop_map(|(entry, central, tag, data)| Damage::Extra { entry, central, tag, data }),
        2 => (
            any::<u8>(),
            any::<usize>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..40),
                Just(le32(0x0403_4b50).to_vec()),
                Just(le32(0x0201_4b50).to_vec()),
                Just([le32(0x0605_4b50).as_slice(), &[0; 18]].concat()),
                Just(le32(0x0807_4b50).to_vec()),
            ],
            edge(),
        )
            .prop_map(|(kind, entry, bytes, value)| Damage::Layout { kind, entry, bytes, value }),
        2 => (any::<usize>(), 0usize..46, any::<u8>())
            .prop_map(|(record, offset, value)| Damage::HeaderByte { record, offset, value }),
    ]
}

/// The offsets of every record signature in `bytes` (local, central, descriptor, end records).
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let signatures = [
        0x0403_4b50u32,
        0x0201_4b50,
        0x0807_4b50,
        0x0605_4b50,
        0x0606_4b50,
        0x0706_4b50,
    ];
    (0..bytes.len().saturating_sub(3))
        .filter(|&at| {
            let word = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            signatures.contains(&word)
        })
        .collect()
}

/// The outcome of one extractor on one archive.
struct Outcome {
    result: Result<ExtractReport, UnzipError>,
    tree: Tree,
}

/// Extracts `bytes` with both extractors; checks for each that nothing escaped `dest`, that an
/// error names the archive, and that a report matches the tree written.
fn extract_both(bytes: &[u8]) -> Result<[Outcome; 2], TestCaseError> {
    let limits = Limits::default();
    let mut outcomes = Vec::new();
    for stream in [false, true] {
        let workspace = Workspace::new(bytes);
        let result = if stream {
            workspace.extract_stream(&limits)
        } else {
            workspace.extract_file(&limits)
        };
        let mut names: Vec<String> = std::fs::read_dir(workspace.root.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        prop_assert_eq!(&names, &["archive.whl", "dest"], "extraction escaped dest");
        let tree = read_tree(&workspace.dest());
        match &result {
            Ok(report) => {
                let files: Vec<(String, u64)> = tree
                    .iter()
                    .filter_map(|(path, node)| match node {
                        Node::File { content, .. } => Some((path.clone(), content.len() as u64)),
                        Node::Dir { .. } => None,
                    })
                    .collect();
                let reported: Vec<(String, u64)> = report
                    .written
                    .iter()
                    .map(|file| (file.path.clone(), file.size))
                    .collect();
                prop_assert_eq!(reported, files, "the report does not match the tree");
            }
            Err(error) => {
                let name = if stream {
                    "stream.whl".to_owned()
                } else {
                    workspace.archive().display().to_string()
                };
                prop_assert_eq!(error.archive(), name.as_str());
                prop_assert!(error.to_string().contains(&name), "{}", error);
            }
        }
        outcomes.push(Outcome { result, tree });
    }
    let stream = outcomes.pop().unwrap();
    let file = outcomes.pop().unwrap();
    Ok([file, stream])
}

/// The files of a tree: path, content and whether executable.
fn files_of(tree: &Tree) -> Vec<(String, Vec<u8>, bool)> {
    tree.iter()
        .filter_map(|(path, node)| match node {
            Node::File { mode, content } => {
                Some((path.clone(), content.clone(), mode & 0o111 != 0))
            }
            Node::Dir { .. } => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    /// A generated valid archive extracts, with both extractors, to exactly its files.
    #[test]
    fn valid_archive_extracts_to_its_model(model in model()) {
        let bytes = model.builder().build();
        let [file, stream] = extract_both(&bytes)?;
        let file_report = file.result.map_err(|e| TestCaseError::fail(format!("extract_file: {e}")))?;
        let stream_report = stream.result.map_err(|e| TestCaseError::fail(format!("extract_reader: {e}")))?;
        prop_assert_eq!(&file_report, &stream_report);
        prop_assert_eq!(file_report.files, model.files.len() as u64);
        prop_assert_eq!(files_of(&file.tree), model.expected_files());
        prop_assert_eq!(&file.tree, &stream.tree);
    }

    /// A damaged archive: no panic, nothing outside `dest`, and either a typed error or exactly
    /// the tree of the undamaged archive.
    #[test]
    fn damaged_archive_is_refused_or_extracts_the_original(model in model(), damage in damage()) {
        let original = model.builder();
        let mut damaged = original.clone();
        damage.apply(&mut damaged);
        let mut bytes = damaged.build();
        if let Damage::HeaderByte { record, offset, value } = &damage {
            let records = record_offsets(&bytes);
            let at = records[record % records.len()] + offset;
            if let Some(byte) = bytes.get_mut(at) {
                *byte = *value;
            }
        }
        let must_refuse = damage.must_refuse(&damaged);
        let [file, stream] = extract_both(&bytes)?;
        let expected = model.expected_files();
        for (which, outcome) in [("extract_file", &file), ("extract_reader", &stream)] {
            match &outcome.result {
                Ok(report) => {
                    prop_assert!(!must_refuse, "{} accepted an unsafe archive: {:?}", which, report);
                    // A byte of "version made by" or of the external attributes may turn
                    // the execute bit on or off in a still valid archive: compare it only
                    // when the damage cannot reach those fields.
                    let mut found = files_of(&outcome.tree);
                    let mut wanted = expected.clone();
                    if matches!(damage, Damage::HeaderByte { .. }) {
                        found.iter_mut().for_each(|file| file.2 = false);
                        wanted.iter_mut().for_each(|file| file.2 = false);
                    }
                    prop_assert_eq!(
                        found,
                        wanted,
                        "{} extracted something other than the original archive",
                        which
                    );
                }
                Err(error) => {
                    // A typed error with a message; the stream extractor may ask for a file.
                    prop_assert!(!error.to_string().is_empty());
                }
            }
        }
        if let (Ok(_), Ok(_)) = (&file.result, &stream.result) {
            prop_assert_eq!(&file.tree, &stream.tree, "the two extractors wrote different trees");
        }
    }

    /// Any name, built from the pieces of paths (separators, dots, drive letters, NUL, combining
    /// characters) or random: refused, or extracted as exactly one file at exactly that path
    /// inside `dest`.
    #[test]
    fn any_name_is_refused_or_extracted_in_place(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("a"), Just("B"), Just("/"), Just("\\"), Just("."), Just(".."), Just(":"),
                Just("C:"), Just("\0"), Just("\n"), Just(" "), Just("é"), Just("e\u{301}"),
                Just("\u{202e}"), Just("~"), Just("$"), Just("%2e"), Just("con"),
            ],
            0..8,
        ),
        random in any::<String>(),
        use_random in any::<bool>(),
        content in proptest::collection::vec(any::<u8>(), 0..50),
    ) {
        let name = if use_random { random } else { pieces.concat() };
        let bytes = ZipBuilder::new().entry(Entry::file(&name, &content)).build();
        let [file, stream] = extract_both(&bytes)?;
        for outcome in [&file, &stream] {
            if outcome.result.is_ok() {
                prop_assert_eq!(files_of(&outcome.tree), vec![(name.clone(), content.clone(), false)]);
            }
        }
    }

    /// Random bytes, and random bytes after a valid local header: refused, never a panic.
    #[test]
    fn random_bytes_are_refused(
        prefix in proptest::collection::vec(any::<u8>(), 0..2),
        junk in proptest::collection::vec(any::<u8>(), 0..300),
        end in any::<bool>(),
    ) {
        let mut bytes = Vec::new();
        if !prefix.is_empty() {
            bytes.extend(Entry::file("a.py", "x").local_record());
        }
        bytes.extend(&junk);
        if end {
            bytes.extend(le32(0x0605_4b50));
            bytes.extend([0u8; 16]);
            bytes.extend(le16(0));
        }
        let [file, stream] = extract_both(&bytes)?;
        prop_assert!(file.result.is_err() || files_of(&file.tree).is_empty());
        prop_assert!(stream.result.is_err() || files_of(&stream.tree).is_empty());
    }

    /// Limits below what the archive needs are a typed limit error, never a partial success.
    #[test]
    fn limits_are_typed_errors(model in model(), max_entries in 0u64..3, max_total in 0u64..100) {
        let bytes = model.builder().build();
        let entries = (model.files.len() + model.dirs.len()) as u64;
        let total: u64 = model.files.iter().map(|file| file.data.len() as u64).sum();
        let mut limits = Limits::default();
        limits.max_entries = max_entries;
        limits.max_total_uncompressed = max_total;
        let workspace = Workspace::new(&bytes);
        let result = workspace.extract_file(&limits);
        if entries > max_entries || total > max_total {
            let error = result.err().ok_or_else(|| TestCaseError::fail("limits not enforced"))?;
            prop_assert!(matches!(error, UnzipError::Limit { .. }), "{:?}", error);
        } else {
            prop_assert!(result.is_ok(), "{:?}", result);
        }
        workspace.assert_nothing_outside_dest();
    }
}

/// The method values a header can carry besides the two implemented ones must be refused,
/// even when every other field is right.
#[test]
fn every_unimplemented_method_is_refused() {
    for method in [1u16, 6, 9, 12, 14, 93, 95, 98, 99, u16::MAX] {
        let bytes = ZipBuilder::new()
            .entry(Entry::stored("a.py", "x = 1\n").method(method))
            .build();
        let [file, stream] = extract_both(&bytes).unwrap();
        assert!(file.result.is_err(), "method {method} accepted");
        assert!(stream.result.is_err(), "method {method} accepted");
    }
    // The two that are implemented, for contrast.
    for method in [STORED, DEFLATED] {
        let entry = Entry::file("a.py", "x = 1\n").method(method);
        let bytes = ZipBuilder::new().entry(entry).build();
        let [file, _] = extract_both(&bytes).unwrap();
        assert!(file.result.is_ok(), "method {method} refused");
    }
}
