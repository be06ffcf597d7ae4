//! Valid archives extract identically with both extractors: contents, modes, Zip64, data
//! descriptors, archives from an independent writer; and the streaming extractor's handling of
//! its reader (read to the end, errors midway, a real socket).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use cairn_test_support::zipgen;
use cairn_test_support::zipgen::{
    Entry, FailingReader, MODE_EXECUTABLE, Node, Trickle, Workspace, ZipBuilder,
    assert_connection_reset, assert_extracts, two_files,
};
use cairn_zip::{self as unzip, Limits, UnzipError};

/// The permission bits the umask lets through, probed by creating a 0o777 file.
fn umask_allows() -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o777)
        .open(&probe)
        .unwrap();
    std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777
}

fn file(mode: u32, content: impl AsRef<[u8]>) -> Node {
    Node::File {
        mode: mode & umask_allows(),
        content: content.as_ref().to_vec(),
    }
}

fn dir() -> Node {
    Node::Dir {
        mode: 0o755 & umask_allows(),
    }
}

/// Bytes that deflate poorly, so large entries span many buffers in both directions.
fn noise(len: usize) -> Vec<u8> {
    cairn_test_support::noise::noise(len, 0x2545_f491)
}

#[test]
fn valid_archive_round_trips_in_both_paths_with_exec_bits() {
    let text = "def f():\n    return 42\n".repeat(40_000);
    let blob = noise(700_000);
    let mut builder = ZipBuilder::new()
        .dir("pkg/")
        .file("pkg/__init__.py", "from .core import f\n")
        .entry(Entry::stored("pkg/data/blob.bin", &blob))
        .entry(Entry::file("pkg/bin/tool", "#!/bin/sh\necho hi\n").mode(MODE_EXECUTABLE))
        .entry(Entry::stored("pkg/bin/tool2", "#!/bin/sh\n").mode(0o100_700))
        .file("pkg/empty.txt", "")
        .entry(Entry::stored("pkg/empty_stored.txt", ""))
        .file("pkg/core.py", &text)
        .entry(Entry::file("pkg/dos.txt", "no unix mode").no_mode())
        .file("pkg/ünïcødé.py", "x = 1\n")
        .file("pkg-1.0.dist-info/RECORD", "pkg/__init__.py,,\n");
    builder.comment = b"built by a test".to_vec();
    let (report, tree) = assert_extracts(&builder.build());

    let expected: zipgen::Tree = [
        ("pkg", dir()),
        ("pkg/__init__.py", file(0o644, "from .core import f\n")),
        ("pkg/data", dir()),
        ("pkg/data/blob.bin", file(0o644, &blob)),
        ("pkg/bin", dir()),
        ("pkg/bin/tool", file(0o755, "#!/bin/sh\necho hi\n")),
        ("pkg/bin/tool2", file(0o755, "#!/bin/sh\n")),
        ("pkg/empty.txt", file(0o644, "")),
        ("pkg/empty_stored.txt", file(0o644, "")),
        ("pkg/core.py", file(0o644, &text)),
        ("pkg/dos.txt", file(0o644, "no unix mode")),
        ("pkg/ünïcødé.py", file(0o644, "x = 1\n")),
        ("pkg-1.0.dist-info", dir()),
        (
            "pkg-1.0.dist-info/RECORD",
            file(0o644, "pkg/__init__.py,,\n"),
        ),
    ]
    .into_iter()
    .map(|(path, node)| (path.to_owned(), node))
    .collect();
    assert_eq!(tree, expected);
    let bytes: usize = tree
        .values()
        .map(|node| match node {
            Node::File { content, .. } => content.len(),
            Node::Dir { .. } => 0,
        })
        .sum();
    assert_eq!(
        (report.files, report.dirs, report.uncompressed_bytes),
        (10, 4, bytes as u64)
    );
    let written: Vec<(&str, u64, bool)> = report
        .written
        .iter()
        .map(|file| (file.path.as_str(), file.size, file.executable))
        .collect();
    let expected: Vec<(&str, u64, bool)> = tree
        .iter()
        .filter_map(|(path, node)| match node {
            Node::File { mode, content } => {
                Some((path.as_str(), content.len() as u64, mode & 0o111 != 0))
            }
            Node::Dir { .. } => None,
        })
        .collect();
    assert_eq!(
        written, expected,
        "the report lists every file, sorted by path"
    );
    for file in &report.written {
        let Some(Node::File { content, .. }) = tree.get(&file.path) else {
            panic!("{} is not a file", file.path);
        };
        let mut crc = crc32fast::Hasher::new();
        crc.update(content);
        assert_eq!(file.crc32, crc.finalize(), "{}", file.path);
    }
}

#[test]
fn empty_archive_extracts_to_nothing() {
    let (report, tree) = assert_extracts(&ZipBuilder::new().build());
    assert_eq!(report.files + report.dirs + report.uncompressed_bytes, 0);
    assert!(tree.is_empty());
}

#[test]
fn zip64_archive_round_trips() {
    let big = noise(300_000);
    let mut builder = ZipBuilder::new()
        .entry(Entry::file("pkg/a.py", "a = 1\n").zip64())
        .entry(Entry::stored("pkg/big.bin", &big).zip64())
        .entry(Entry::file("pkg/c.py", "c = 3\n").zip64().descriptor(true))
        .entry(Entry::dir("pkg/sub/").zip64())
        .file("pkg/plain.py", "plain\n");
    builder.zip64_end = true;
    let (report, tree) = assert_extracts(&builder.build());
    assert_eq!(report.files, 4);
    assert_eq!(tree["pkg/big.bin"], file(0o644, &big));
    assert_eq!(tree["pkg/c.py"], file(0o644, "c = 3\n"));
    assert_eq!(tree["pkg/sub"], dir());
}

#[test]
fn archive_written_by_the_zip_crate_round_trips() {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    writer.add_directory("pkg/", deflated).unwrap();
    writer.start_file("pkg/__init__.py", deflated).unwrap();
    writer.write_all(b"import os\n").unwrap();
    writer
        .start_file("pkg/run", deflated.unix_permissions(0o755))
        .unwrap();
    writer.write_all(b"#!/bin/sh\n").unwrap();
    writer
        .start_file(
            "pkg/large.bin",
            SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(true),
        )
        .unwrap();
    writer.write_all(&noise(100_000)).unwrap();
    let bytes = writer.finish().unwrap().into_inner();

    let (report, tree) = assert_extracts(&bytes);
    assert_eq!((report.files, report.dirs), (3, 1));
    assert_eq!(tree["pkg/run"], file(0o755, "#!/bin/sh\n"));
    assert_eq!(tree["pkg/large.bin"], file(0o644, noise(100_000)));
}

#[test]
fn data_descriptor_archive_extracts_in_both_paths() {
    let text = "descriptor ".repeat(100_000);
    let bytes = ZipBuilder::new()
        .entry(Entry::file("pkg/a.py", &text).descriptor(true))
        .entry(Entry::file("pkg/b.py", "b\n").descriptor(false))
        .entry(Entry::file("pkg/c.py", "").descriptor(true))
        .build();
    let (_, tree) = assert_extracts(&bytes);
    assert_eq!(tree["pkg/a.py"], file(0o644, &text));
    assert_eq!(tree["pkg/b.py"], file(0o644, "b\n"));
    assert_eq!(tree["pkg/c.py"], file(0o644, ""));
}

#[test]
fn stored_entry_with_data_descriptor_is_streaming_unsupported() {
    let bytes = ZipBuilder::new()
        .file("pkg/a.py", "a\n")
        .entry(Entry::stored("pkg/b.bin", "stored after all").descriptor(true))
        .build();
    let limits = Limits::default();
    let workspace = Workspace::new(&bytes);
    let error = workspace.extract_stream(&limits).unwrap_err();
    assert!(error.is_streaming_unsupported(), "{error:?}");
    assert_eq!(error.entry(), Some("pkg/b.bin"));
    workspace.assert_nothing_outside_dest();

    // The fallback the error asks for works.
    let workspace = Workspace::new(&bytes);
    let report = workspace.extract_file(&limits).unwrap();
    assert_eq!(report.files, 2);
    let content = std::fs::read(workspace.dest().join("pkg/b.bin")).unwrap();
    assert_eq!(content, b"stored after all");
}

#[test]
fn stream_that_fails_midway_reports_the_read_error() {
    let bytes = two_files();
    let workspace = Workspace::new(&bytes);
    let error = unzip::extract_reader(
        std::io::BufReader::new(FailingReader::new(&bytes, bytes.len() / 2)),
        "broken.whl",
        &workspace.dest(),
        &Limits::default(),
    )
    .unwrap_err();
    assert_connection_reset(&error, "broken.whl");
    workspace.assert_nothing_outside_dest();
}

/// Counts the bytes read through it, as the caller's hashing reader would.
struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count
            .fetch_add(read, std::sync::atomic::Ordering::Relaxed);
        Ok(read)
    }
}

#[test]
fn stream_is_read_to_its_end() {
    let mut builder = ZipBuilder::new().file("pkg/a.py", "a\n");
    builder.comment = b"the comment is read too".to_vec();
    let bytes = builder.build();
    let workspace = Workspace::new(&bytes);
    let count = std::sync::Arc::default();
    let reader = Counting {
        inner: Trickle::new(&bytes),
        count: std::sync::Arc::clone(&count),
    };
    unzip::extract_reader(
        std::io::BufReader::new(reader),
        "counted.whl",
        &workspace.dest(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        count.load(std::sync::atomic::Ordering::Relaxed),
        bytes.len()
    );
}

#[test]
fn existing_paths_in_dest_are_never_followed() {
    // A symbolic link planted in dest where the archive has a directory, and one where it has
    // a file: extraction must fail rather than write through either.
    let outside = tempfile::tempdir().unwrap();
    let bytes = ZipBuilder::new()
        .file("pkg/__init__.py", "x\n")
        .file("top.py", "evil\n")
        .build();
    for extract_stream in [false, true] {
        let workspace = Workspace::new(&bytes);
        std::os::unix::fs::symlink(outside.path(), workspace.dest().join("pkg")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("top.py"),
            workspace.dest().join("top.py"),
        )
        .unwrap();
        let result = if extract_stream {
            workspace.extract_stream(&Limits::default())
        } else {
            workspace.extract_file(&Limits::default())
        };
        let error = result.unwrap_err();
        assert!(matches!(error, UnzipError::Write { .. }), "{error:?}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}

#[test]
fn missing_archive_reports_a_read_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("missing.whl");
    let error = unzip::extract_file(&archive, dir.path(), &Limits::default()).unwrap_err();
    assert!(
        matches!(&error, UnzipError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{error:?}"
    );
    assert!(error.to_string().contains("missing.whl"), "{error}");
}
