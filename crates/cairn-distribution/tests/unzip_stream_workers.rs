//! The streaming extractor writes files on worker threads while it reads: archives of many
//! small files and large entries come out exactly as the parallel extractor writes them, a bad
//! entry written by a worker is reported by name, and no worker outlives the extraction.
//!
//! The tests of this file run one at a time (see [`serial`]), so that the worker threads seen
//! in the process are those of the test looking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cairn_http::{ClientSettings, Fetched, HttpClient};
use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::noise::noise;
use cairn_test_support::zipgen::{Entry, MODE_EXECUTABLE, Workspace, ZipBuilder, read_tree};
use cairn_zip::{self as unzip, EntryProblem, Limits, UnzipError};

/// The name the extractor gives its worker threads.
const WORKER_THREAD_NAME: &str = "cairn-unzip";

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Small text that differs per entry.
fn source(index: usize) -> String {
    format!("VALUE_{index} = {index}\n").repeat(1 + index % 40)
}

/// Threads of this process with the worker's name.
fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .filter(|name| name.trim_end() == WORKER_THREAD_NAME)
        .count()
}

/// Open file descriptors of this process that point under `dir`.
fn open_files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.unwrap().path()).ok())
        .filter(|target| target.starts_with(dir))
        .collect()
}

/// An archive like a large binary wheel: thousands of small modules in many directories, two
/// libraries above what is held in memory (a deflated one, piped to a worker, and a stored
/// one, copied by the reading thread), executables, and entries whose sizes only a data
/// descriptor gives.
fn wheel_like_archive() -> Vec<u8> {
    let mut builder = ZipBuilder::new().dir("pkg/");
    for index in 0..3_000 {
        let name = format!("pkg/sub{}/mod{index}.py", index % 50);
        let entry = match index % 5 {
            0 => Entry::stored(&name, source(index)),
            1 => Entry::file(&name, source(index)).mode(MODE_EXECUTABLE),
            _ => Entry::file(&name, source(index)),
        };
        builder = builder.entry(entry);
        if index == 1_000 {
            builder = builder.entry(Entry::stored("pkg/lib/big_stored.so", noise(6 << 20, 1)));
        }
        if index == 2_000 {
            builder = builder.entry(Entry::file("pkg/lib/big_deflated.so", noise(5 << 20, 2)));
        }
        if index % 700 == 0 {
            builder = builder.entry(
                Entry::file(format!("pkg/described{index}.txt"), source(index)).descriptor(true),
            );
        }
    }
    builder
        .file("pkg-1.0.dist-info/RECORD", "pkg/__init__.py,,\n")
        .build()
}

#[test]
fn many_small_files_and_large_entries_stream_over_http() {
    let _serial = serial();
    let bytes = wheel_like_archive();
    let workspace = Workspace::new(&bytes);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let streamed = runtime.block_on(async {
        let server = TestServer::start().await;
        server.route(
            "/pkg-1.0-py3-none-any.whl",
            Response::ok(bytes.clone()).chunk_size(64 << 10),
        );
        let settings = ClientSettings {
            read_timeout: Duration::from_secs(30),
            ..ClientSettings::default()
        };
        let client = HttpClient::new(settings).unwrap();
        let url = server.url("/pkg-1.0-py3-none-any.whl");
        let Fetched::Body(download) = client.get(&url, None).await.unwrap() else {
            panic!("expected a body");
        };
        unzip::extract_stream(
            download.into_async_read(),
            "pkg-1.0-py3-none-any.whl",
            &workspace.dest(),
            &Limits::default(),
        )
        .await
        .unwrap()
    });
    assert_eq!(worker_threads(), 0, "a worker outlived the extraction");

    let reference = Workspace::new(&bytes);
    let parallel = reference.extract_file(&Limits::default()).unwrap();
    assert_eq!(streamed, parallel);
    assert_eq!(streamed.files, 3_000 + 2 + 5 + 1);
    let (tree, expected) = (read_tree(&workspace.dest()), read_tree(&reference.dest()));
    assert_eq!(tree.len(), expected.len());
    for (path, node) in &expected {
        assert!(tree.get(path) == Some(node), "{path} differs");
    }
    workspace.assert_nothing_outside_dest();
}

/// Extracts `bytes` as a stream, and checks that once it has returned no worker is left and no
/// file under `dest` is open.
fn stream_and_check_nothing_left(
    workspace: &Workspace,
) -> Result<unzip::ExtractReport, UnzipError> {
    let result = workspace.extract_stream(&Limits::default());
    assert_eq!(worker_threads(), 0, "a worker outlived the extraction");
    assert_eq!(
        open_files_under(&workspace.dest()),
        Vec::<std::path::PathBuf>::new()
    );
    workspace.assert_nothing_outside_dest();
    result
}

#[test]
fn bad_crc_in_a_small_entry_among_many_is_reported_by_name() {
    let _serial = serial();
    // A large entry first keeps one worker busy while another meets the bad entry.
    let mut builder = ZipBuilder::new().entry(Entry::file("pkg/lib/big.so", noise(12 << 20, 3)));
    for index in 0..600 {
        let name = format!("pkg/m{index}.py");
        let entry = Entry::file(&name, source(index));
        builder = builder.entry(if index == 321 {
            entry
                .local(|l| l.crc32 = Some(7))
                .central(|c| c.crc32 = Some(7))
        } else {
            entry
        });
    }
    let workspace = Workspace::new(&builder.build());
    let error = stream_and_check_nothing_left(&workspace).unwrap_err();
    match &error {
        UnzipError::Entry {
            archive,
            entry,
            problem:
                EntryProblem::CrcMismatch {
                    expected: 7,
                    actual,
                },
        } => {
            assert_eq!(archive, "stream.whl");
            assert_eq!(entry, "pkg/m321.py");
            assert_eq!(*actual, crc32fast::hash(source(321).as_bytes()));
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(error.to_string().contains("\"pkg/m321.py\""), "{error}");
}

#[test]
fn bad_crc_in_a_piped_entry_is_reported_by_name() {
    let _serial = serial();
    let mut builder = ZipBuilder::new();
    for index in 0..200 {
        builder = builder.file(&format!("pkg/m{index}.py"), source(index));
    }
    let big = Entry::file("pkg/lib/big.so", noise(6 << 20, 4))
        .local(|l| l.crc32 = Some(7))
        .central(|c| c.crc32 = Some(7));
    let workspace = Workspace::new(&builder.entry(big).file("pkg/last.py", "x\n").build());
    let error = stream_and_check_nothing_left(&workspace).unwrap_err();
    assert!(
        matches!(
            &error,
            UnzipError::Entry { entry, problem: EntryProblem::CrcMismatch { expected: 7, .. }, .. }
                if entry == "pkg/lib/big.so"
        ),
        "{error:?}"
    );
}

#[test]
fn error_found_by_the_reading_thread_stops_the_workers() {
    let _serial = serial();
    // The workers are busy with a large entry and many small ones when the reading thread
    // meets an entry that escapes the destination.
    let mut builder = ZipBuilder::new().entry(Entry::file("pkg/lib/big.so", noise(12 << 20, 5)));
    for index in 0..300 {
        builder = builder.file(&format!("pkg/m{index}.py"), source(index));
    }
    let workspace = Workspace::new(&builder.file("pkg/../../evil.py", "x").build());
    let error = stream_and_check_nothing_left(&workspace).unwrap_err();
    assert!(
        matches!(
            &error,
            UnzipError::Entry { entry, problem: EntryProblem::ParentDirComponent, .. }
                if entry == "pkg/../../evil.py"
        ),
        "{error:?}"
    );
}

#[test]
fn failed_extraction_then_a_good_one_into_fresh_destinations() {
    let _serial = serial();
    // A stopped pool leaves nothing behind that affects the next extraction.
    let mut builder = ZipBuilder::new();
    for index in 0..100 {
        builder = builder.file(&format!("pkg/m{index}.py"), source(index));
    }
    let good = builder.clone().build();
    let bad = builder
        .entry(
            Entry::file("pkg/bad.py", "x")
                .local(|l| l.crc32 = Some(1))
                .central(|c| c.crc32 = Some(1)),
        )
        .build();
    assert!(stream_and_check_nothing_left(&Workspace::new(&bad)).is_err());
    let report = stream_and_check_nothing_left(&Workspace::new(&good)).unwrap();
    assert_eq!(report.files, 100);
}

#[test]
fn input_ending_inside_a_piped_entry_fails_without_leaving_a_worker_waiting() {
    let _serial = serial();
    let bytes = ZipBuilder::new()
        .file("pkg/__init__.py", "x = 1\n")
        .entry(Entry::file("pkg/lib/big.so", noise(12 << 20, 6)))
        .file("pkg/last.py", "y = 2\n")
        .build();
    // Half way through the large entry: its worker has started and waits for the rest.
    let workspace = Workspace::new(&bytes[..bytes.len() / 2]);
    let error = stream_and_check_nothing_left(&workspace).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("in the middle of the entry's data"),
        "the error should say where the archive ends: {error}"
    );
    assert!(!workspace.dest().join("pkg/last.py").exists());
}
