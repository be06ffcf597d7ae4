//! Real wheels from the shared corpus: both extractors must produce exactly what Python's
//! `zipfile` extracts. Skipped when the corpus (or python3) is absent.
//!
//! The corpus directory is `$CAIRN_WHEEL_CORPUS`, else `/work/wt/corpus`; fill it with the
//! wheels listed in `shared/corpus.tsv` (`pip download --no-deps --only-binary :all: ...`).
//! Timings: `cargo test --release -p cairn-zip --test unzip_corpus -- --ignored
//! --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use cairn_zip::{self as unzip, Limits};

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CAIRN_WHEEL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/wt/corpus"));
    dir.is_dir().then_some(dir)
}

fn corpus_wheels(prefixes: &[&str]) -> Vec<PathBuf> {
    let Some(dir) = corpus_dir() else {
        return Vec::new();
    };
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.ends_with(".whl")
                && (prefixes.is_empty() || prefixes.iter().any(|p| name.starts_with(p)))
        })
        .collect();
    wheels.sort();
    wheels
}

/// Relative path -> `None` for a directory, `Some(content)` for a file.
fn listing(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut tree = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            if metadata.is_dir() {
                tree.insert(relative, None);
                pending.push(path);
            } else {
                assert!(metadata.is_file(), "{path:?} is neither file nor directory");
                tree.insert(relative, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    tree
}

fn python_extract(wheel: &Path, dest: &Path) -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(wheel)
        .arg(dest)
        .status()
        .is_ok_and(|status| status.success())
}

fn stream_extract(wheel: &Path, dest: &Path) -> unzip::ExtractReport {
    let file = std::io::BufReader::new(std::fs::File::open(wheel).unwrap());
    unzip::extract_reader(file, &wheel.display().to_string(), dest, &Limits::default()).unwrap()
}

#[test]
fn corpus_wheels_extract_like_python_zipfile() {
    let wheels = corpus_wheels(&["tomli-", "black-", "numpy-"]);
    if wheels.is_empty() {
        println!("skipped: no corpus wheels");
        return;
    }
    for wheel in wheels {
        let scratch = tempfile::tempdir().unwrap();
        let (python, parallel, streamed) = (
            scratch.path().join("python"),
            scratch.path().join("parallel"),
            scratch.path().join("streamed"),
        );
        if !python_extract(&wheel, &python) {
            println!("skipped: python3 with zipfile is not available");
            return;
        }
        let expected = listing(&python);
        for dir in [&parallel, &streamed] {
            std::fs::create_dir(dir).unwrap();
        }
        let file_report = unzip::extract_file(&wheel, &parallel, &Limits::default()).unwrap();
        let stream_report = stream_extract(&wheel, &streamed);
        assert_eq!(file_report, stream_report, "{wheel:?}");
        for (dir, what) in [(&parallel, "extract_file"), (&streamed, "extract_stream")] {
            let actual = listing(dir);
            assert_eq!(
                actual.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{what} of {wheel:?} lists different paths than zipfile"
            );
            for (path, content) in &expected {
                assert!(
                    actual[path] == *content,
                    "{what} of {wheel:?}: {path} differs"
                );
            }
        }
        println!("{}: {} files identical", wheel.display(), file_report.files);
    }
}

/// Extracts every corpus wheel with both extractors and prints the times.
#[test]
#[ignore = "timing run over the real corpus; use --release --ignored --nocapture"]
fn corpus_extraction_times() {
    let only = std::env::var("CAIRN_UNZIP_ONLY").unwrap_or_default();
    let wheels = corpus_wheels(&[only.as_str()]);
    assert!(!wheels.is_empty(), "no corpus wheels");
    let scratch_root = std::env::var_os("CAIRN_UNZIP_SCRATCH").map(PathBuf::from);
    println!(
        "{:<60} {:>6} {:>11} {:>9} {:>9}",
        "wheel", "files", "unpacked", "file s", "stream s"
    );
    for wheel in wheels {
        let scratch = match &scratch_root {
            Some(root) => tempfile::tempdir_in(root).unwrap(),
            None => tempfile::tempdir().unwrap(),
        };
        // Warm the page cache so both runs read the archive from memory, as after a download.
        std::io::copy(
            &mut std::fs::File::open(&wheel).unwrap(),
            &mut std::io::sink(),
        )
        .unwrap();
        // `CAIRN_UNZIP_MODE=file` or `stream` times only one extractor (for profiling).
        let mode = std::env::var("CAIRN_UNZIP_MODE").unwrap_or_default();
        let (mut report, mut file_seconds, mut stream_seconds) = (None, f64::NAN, f64::NAN);
        if mode != "stream" {
            let parallel = scratch.path().join("parallel");
            std::fs::create_dir(&parallel).unwrap();
            let started = Instant::now();
            report = Some(unzip::extract_file(&wheel, &parallel, &Limits::default()).unwrap());
            file_seconds = started.elapsed().as_secs_f64();
        }
        if mode != "file" {
            let streamed = scratch.path().join("streamed");
            std::fs::create_dir(&streamed).unwrap();
            let started = Instant::now();
            let stream_report = stream_extract(&wheel, &streamed);
            stream_seconds = started.elapsed().as_secs_f64();
            assert_eq!(
                *report.get_or_insert_with(|| stream_report.clone()),
                stream_report
            );
        }
        let report = report.unwrap();

        let name = wheel.file_name().unwrap().to_string_lossy();
        println!(
            "{:<60} {:>6} {:>11} {:>9.3} {:>9.3}",
            name.get(..60).unwrap_or(&name),
            report.files,
            report.uncompressed_bytes,
            file_seconds,
            stream_seconds
        );
    }
}
