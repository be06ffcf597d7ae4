//! Wheel extraction: the parallel extractor on a file ([`unzip::extract_file`]) against the
//! streaming one fed from a `tokio::fs::File` ([`unzip::extract_stream`]).
//!
//! Inputs: corpus wheels from `$CAIRN_CORPUS_DIR` (default `corpus/`, filled by
//! `scripts/fetch-corpus.sh`) — tomli (small), numpy (medium), torch (large) — and two archives
//! built here: 10,000 tiny files, and one 256 MiB stored file (large). Large inputs run only with
//! `CAIRN_BENCH_LARGE=1`; a wheel missing from the corpus is skipped with a note.
//!
//! Every iteration extracts into a fresh temp directory, deleted outside the timed part.
//! Throughput is reported in unpacked bytes.
#![allow(clippy::expect_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_benches::{
    LARGE_STORED_LEN, TINY_FILES_COUNT, corpus_dir, find_wheel, large_inputs_enabled,
    write_stored_zip, write_tiny_files_zip,
};
use cairn_zip::{self as unzip, ExtractReport, Limits};
use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// One archive to extract.
struct Input {
    /// The name in the report.
    name: &'static str,
    path: PathBuf,
}

/// The corpus wheels to use: project name and whether it is a large input.
const CORPUS_WHEELS: [(&str, bool); 3] = [("tomli", false), ("numpy", false), ("torch", true)];

/// The inputs enabled for this run; synthetic archives are written into `scratch`.
fn inputs(scratch: &Path) -> Vec<Input> {
    let large = large_inputs_enabled();
    let corpus = corpus_dir();
    let mut inputs = Vec::new();
    for (project, is_large) in CORPUS_WHEELS {
        if is_large && !large {
            eprintln!("extract: skipping {project} (set CAIRN_BENCH_LARGE=1 to include it)");
            continue;
        }
        match find_wheel(&corpus, project) {
            Some(path) => inputs.push(Input {
                name: project,
                path,
            }),
            None => eprintln!(
                "extract: skipping {project}: no {project}-*.whl in {} \
                 (run scripts/fetch-corpus.sh or set CAIRN_CORPUS_DIR)",
                corpus.display()
            ),
        }
    }

    let tiny = scratch.join("tiny-files.zip");
    write_tiny_files_zip(&tiny, TINY_FILES_COUNT).expect("build the tiny-files archive");
    inputs.push(Input {
        name: "synthetic-10k-tiny-files",
        path: tiny,
    });
    if large {
        let stored = scratch.join("stored.zip");
        write_stored_zip(&stored, LARGE_STORED_LEN).expect("build the stored archive");
        inputs.push(Input {
            name: "synthetic-256MiB-stored",
            path: stored,
        });
    } else {
        eprintln!("extract: skipping the 256 MiB stored file (set CAIRN_BENCH_LARGE=1)");
    }
    inputs
}

/// A fresh, empty destination directory, deleted when dropped.
fn fresh_dest() -> TempDir {
    tempfile::tempdir().expect("create a destination directory")
}

/// Extracts `archive` with the streaming extractor, reading it through a `tokio::fs::File` as a
/// download would arrive.
fn extract_streaming(runtime: &Runtime, archive: &Path, dest: &Path) -> ExtractReport {
    let name = archive.to_string_lossy();
    runtime
        .block_on(async {
            let file = tokio::fs::File::open(archive)
                .await
                .map_err(|error| format!("cannot open {}: {error}", archive.display()))?;
            unzip::extract_stream(file, &name, dest, &Limits::default())
                .await
                .map_err(|error| error.to_string())
        })
        .expect("streaming extraction succeeds")
}

fn extract_benches(c: &mut Criterion) {
    let scratch = tempfile::tempdir().expect("create a temp directory");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start a Tokio runtime");
    let limits = Limits::default();

    let mut group = c.benchmark_group("extract");
    // Runs take from milliseconds to seconds: the same iteration count in every sample keeps the
    // slow inputs to ten runs (criterion then warns that it cannot finish in the target time;
    // that is expected).
    group.sampling_mode(SamplingMode::Flat);
    for input in inputs(scratch.path()) {
        // One run of each extractor first: both must succeed and agree before timing means much.
        // Their output is deleted right away, so large trees do not pile up during the runs.
        let report = unzip::extract_file(&input.path, fresh_dest().path(), &limits)
            .expect("parallel extraction succeeds");
        let streamed = extract_streaming(&runtime, &input.path, fresh_dest().path());
        assert_eq!(report, streamed, "{}: the extractors disagree", input.name);
        eprintln!(
            "extract: {}: {} files, {} dirs, {} bytes unpacked",
            input.name, report.files, report.dirs, report.uncompressed_bytes
        );

        group.throughput(Throughput::Bytes(report.uncompressed_bytes));
        group.bench_with_input(
            BenchmarkId::new("file", input.name),
            &input.path,
            |b, archive| {
                b.iter_batched(
                    fresh_dest,
                    |dest| {
                        unzip::extract_file(archive, dest.path(), &limits)
                            .expect("parallel extraction succeeds");
                        dest
                    },
                    BatchSize::PerIteration,
                )
            },
        );
        group.bench_with_input(
            BenchmarkId::new("stream", input.name),
            &input.path,
            |b, archive| {
                b.iter_batched(
                    fresh_dest,
                    |dest| {
                        extract_streaming(&runtime, archive, dest.path());
                        dest
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = extract_benches
}
criterion_main!(benches);
