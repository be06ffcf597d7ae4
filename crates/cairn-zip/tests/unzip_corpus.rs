//! Real wheels from the shared corpus: both extractors must produce exactly what Python's
//! `zipfile` extracts, and every wheel must use only the zip features cairn-zip implements (its
//! flag bits and "version needed to extract").
//!
//! The wheels are the test corpus of `cairn_test_support::pypi` (downloaded and verified on
//! first use; skipped only under `CAIRN_OFFLINE_TESTS`), plus torch when `$CAIRN_WHEEL_CORPUS`
//! holds it (`scripts/fetch-corpus.sh`).
//! Timings: `cargo test --release -p cairn-zip --test unzip_corpus -- --ignored
//! --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use cairn_test_support::pypi;

/// Wheels smaller than this are extracted in full by the feature check; larger ones (torch)
/// only have their headers read, to keep the test short.
const EXTRACTED_BELOW: u64 = 64 << 20;
use cairn_zip::{self as unzip, Limits};

/// The corpus wheels whose names start with one of `prefixes` (all of them with none): the
/// test corpus, fetched and verified as `cairn_test_support::pypi::corpus` does, plus any other
/// wheel (torch) that `$CAIRN_WHEEL_CORPUS` holds.
fn corpus_wheels(prefixes: &[&str]) -> Vec<PathBuf> {
    let wanted = |name: &str| prefixes.is_empty() || prefixes.iter().any(|p| name.starts_with(p));
    let all = ["tomli-", "black-", "numpy-", "scipy-"];
    let mut wheels = pypi::corpus(if prefixes.is_empty() { &all } else { prefixes });
    let name = |path: &Path| path.file_name().unwrap().to_string_lossy().into_owned();
    if let Some(dir) = std::env::var_os("CAIRN_WHEEL_CORPUS")
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for path in entries.map(|entry| entry.unwrap().path()) {
            let file = name(&path);
            if file.ends_with(".whl") && wanted(&file) && !wheels.iter().any(|w| name(w) == file) {
                wheels.push(path);
            }
        }
    }
    wheels.sort_by_key(|path| name(path));
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

/// The flags and "version needed to extract" of every central directory header and local header
/// of `wheel`, read straight from the file (only the end records, the central directory and the
/// local headers are read, never the entries' data).
fn header_fields(wheel: &Path) -> Vec<(String, [u16; 4])> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(wheel).unwrap();
    let len = file.metadata().unwrap().len();
    let read = |offset: u64, size: usize| {
        let mut buf = vec![0u8; size];
        file.read_exact_at(&mut buf, offset).unwrap();
        buf
    };
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let tail_len = len.min(22 + 65_535);
    let tail = read(len - tail_len, tail_len as usize);
    let end = tail
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .expect("end record");
    let (mut entries, mut size, mut offset) = (
        u64::from(u16_at(&tail, end + 10)),
        u64::from(u32_at(&tail, end + 12)),
        u64::from(u32_at(&tail, end + 16)),
    );
    if entries == 0xffff || size == 0xffff_ffff || offset == 0xffff_ffff {
        let locator = &tail[end - 20..end];
        let record = read(u64_at(locator, 8), 56);
        (entries, size, offset) = (
            u64_at(&record, 32),
            u64_at(&record, 40),
            u64_at(&record, 48),
        );
    }
    let directory = read(offset, usize::try_from(size).unwrap());
    let mut fields = Vec::new();
    let mut at = 0;
    for _ in 0..entries {
        let header = &directory[at..];
        let (name_len, extra_len, comment_len) = (
            usize::from(u16_at(header, 28)),
            usize::from(u16_at(header, 30)),
            usize::from(u16_at(header, 32)),
        );
        let name = String::from_utf8_lossy(&header[46..46 + name_len]).into_owned();
        let mut local_offset = u64::from(u32_at(header, 42));
        if local_offset == 0xffff_ffff {
            // The Zip64 extra field: its last 8 bytes hold the offset when only it is saturated
            // or when it comes last, which is how every writer lays it out.
            let extra = &header[46 + name_len..46 + name_len + extra_len];
            let (mut rest, mut found) = (extra, None);
            while rest.len() >= 4 {
                let (tag, data_len) = (u16_at(rest, 0), usize::from(u16_at(rest, 2)));
                if tag == 1 {
                    found = Some(u64_at(&rest[4..4 + data_len], data_len - 8));
                }
                rest = &rest[4 + data_len..];
            }
            local_offset = found.expect("Zip64 offset");
        }
        let local = read(local_offset, 30);
        assert_eq!(&local[..4], b"PK\x03\x04", "{wheel:?} {name}");
        fields.push((
            name,
            [
                u16_at(header, 8),
                u16_at(header, 6),
                u16_at(&local, 6),
                u16_at(&local, 4),
            ],
        ));
        at += 46 + name_len + extra_len + comment_len;
    }
    fields
}

/// Every corpus wheel (torch's 13,000 entries included) sets only the flag bits and "version
/// needed to extract" that cairn-zip implements, so its hygiene checks refuse no real wheel; the
/// wheels below [`EXTRACTED_BELOW`] bytes are also extracted by both extractors. Prints what the
/// wheels carry.
#[test]
fn corpus_wheels_use_only_implemented_zip_features() {
    let wheels = corpus_wheels(&[]);
    if wheels.is_empty() {
        println!("skipped: no corpus wheels");
        return;
    }
    for wheel in wheels {
        let mut seen = BTreeMap::<[u16; 4], usize>::new();
        for (name, fields @ [central_flags, central_version, local_flags, local_version]) in
            header_fields(&wheel)
        {
            for flags in [central_flags, local_flags] {
                // Bits 1-2 deflate level, 3 data descriptor, 11 UTF-8.
                assert_eq!(
                    flags & !0x080e,
                    0,
                    "{wheel:?}: {name} has flags {flags:#06x}"
                );
            }
            for version in [central_version, local_version] {
                assert!(
                    version & 0xff <= 45,
                    "{wheel:?}: {name} needs version {version:#06x}"
                );
            }
            *seen.entry(fields).or_default() += 1;
        }
        println!(
            "{}: [central flags, central version needed, local flags, local version needed] -> \
             entries: {seen:?}",
            wheel.display()
        );
        if std::fs::metadata(&wheel).unwrap().len() < EXTRACTED_BELOW {
            let scratch = tempfile::tempdir().unwrap();
            let (parallel, streamed) = (scratch.path().join("p"), scratch.path().join("s"));
            for dir in [&parallel, &streamed] {
                std::fs::create_dir(dir).unwrap();
            }
            let report = unzip::extract_file(&wheel, &parallel, &Limits::default())
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(report, stream_extract(&wheel, &streamed), "{wheel:?}");
        }
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
