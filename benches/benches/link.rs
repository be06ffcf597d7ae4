//! Linking an unpacked archive into an environment, by mode: [`link_tree`] for clone, hardlink,
//! copy and symlink, and [`Linker::link_file`] for one file.
//!
//! Inputs, all written into the temp directory (`TMPDIR`) so that source and destination share
//! a filesystem, as the cache and an environment usually do:
//! - `numpy-like`: 1,000 files in 100 directories, 58 MiB (the shape of an unpacked numpy);
//! - `10k-tiny-files`: 10,000 files of 80 bytes in 100 directories;
//! - `numpy`: the real numpy wheel of the corpus, unpacked, when `$CAIRN_CORPUS_DIR` (default
//!   `corpus/`) has it.
//!
//! Every iteration links into a fresh directory, deleted outside the timed part. `clone` on a
//! filesystem without reflinks (ext4, tmpfs) falls back to hardlinks: a fresh [`Linker`] per
//! tree pays one failed clone attempt, and the run prints the mode each one settled on.
//! `clone-settled` reuses one linker whose ladder has already settled, as an install of many
//! archives does after its first file.
#![allow(clippy::expect_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_benches::{corpus_dir, find_wheel, write_numpy_like_tree, write_tiny_tree};
use cairn_fs::{LinkMode, Linker, link_tree};
use cairn_zip::{self as unzip, Limits};
use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use tempfile::TempDir;

/// One tree to link.
struct Input {
    name: &'static str,
    path: PathBuf,
    files: u64,
}

/// The inputs, written into `scratch`.
fn inputs(scratch: &Path) -> Vec<Input> {
    let mut inputs = Vec::new();
    let numpy_like = scratch.join("numpy-like");
    std::fs::create_dir(&numpy_like).expect("create the numpy-like tree");
    let counts = write_numpy_like_tree(&numpy_like).expect("write the numpy-like tree");
    inputs.push(Input {
        name: "numpy-like",
        path: numpy_like,
        files: counts.files,
    });
    let tiny = scratch.join("tiny");
    std::fs::create_dir(&tiny).expect("create the tiny-files tree");
    let counts = write_tiny_tree(&tiny, 10_000).expect("write the tiny-files tree");
    inputs.push(Input {
        name: "10k-tiny-files",
        path: tiny,
        files: counts.files,
    });
    let corpus = corpus_dir();
    match find_wheel(&corpus, "numpy") {
        Some(wheel) => {
            let unpacked = scratch.join("numpy");
            std::fs::create_dir(&unpacked).expect("create the numpy tree");
            let report = unzip::extract_file(&wheel, &unpacked, &Limits::default())
                .expect("unpack the numpy wheel");
            inputs.push(Input {
                name: "numpy",
                path: unpacked,
                files: report.files,
            });
        }
        None => eprintln!(
            "link: skipping the real numpy: no numpy-*.whl in {} \
             (run scripts/fetch-corpus.sh or set CAIRN_CORPUS_DIR)",
            corpus.display()
        ),
    }
    inputs
}

/// A fresh, empty directory beside the sources, deleted when dropped.
fn fresh_dest(scratch: &Path) -> TempDir {
    tempfile::tempdir_in(scratch).expect("create a destination directory")
}

fn link_tree_benches(c: &mut Criterion) {
    let scratch = tempfile::tempdir().expect("create a temp directory");
    let mut group = c.benchmark_group("link_tree");
    group.sampling_mode(SamplingMode::Flat);
    for input in inputs(scratch.path()) {
        group.throughput(Throughput::Elements(input.files));
        for mode in LinkMode::ALL {
            // One checked run first: what the ladder settles on is part of the result.
            let dest = fresh_dest(scratch.path());
            let outcome =
                link_tree(&input.path, &dest.path().join("site"), mode).expect("link the tree");
            assert_eq!(outcome.files, input.files, "{}: {mode}", input.name);
            eprintln!(
                "link: {} as {mode}: linked as {} ({} files, {} dirs, {} fallbacks)",
                input.name, outcome.mode_used, outcome.files, outcome.dirs, outcome.fallbacks
            );
            drop(dest);
            group.bench_with_input(
                BenchmarkId::new(mode.as_str(), input.name),
                &input.path,
                |b, src| {
                    b.iter_batched(
                        || fresh_dest(scratch.path()),
                        |dest| {
                            link_tree(src, &dest.path().join("site"), mode).expect("link the tree");
                            dest
                        },
                        BatchSize::PerIteration,
                    )
                },
            );
        }
        // A linker that already knows the filesystem cannot clone.
        let settled = Linker::new(LinkMode::Clone);
        settled
            .link_tree(&input.path, &fresh_dest(scratch.path()).path().join("site"))
            .expect("link the tree");
        group.bench_with_input(
            BenchmarkId::new("clone-settled", input.name),
            &input.path,
            |b, src| {
                b.iter_batched(
                    || fresh_dest(scratch.path()),
                    |dest| {
                        settled
                            .link_tree(src, &dest.path().join("site"))
                            .expect("link the tree");
                        dest
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

/// A linked file, unlinked when dropped (outside the timed part), so hard links never pile up
/// on the source's inode.
struct LinkedFile(PathBuf);

impl Drop for LinkedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn link_file_benches(c: &mut Criterion) {
    let scratch = tempfile::tempdir().expect("create a temp directory");
    let src = scratch.path().join("module.py");
    std::fs::write(&src, cairn_benches::pseudo_random_bytes(4096, 5)).expect("write the source");
    let dest_dir = scratch.path().join("site");
    std::fs::create_dir(&dest_dir).expect("create the destination directory");
    let counter = AtomicU64::new(0);
    let fresh_path = || {
        dest_dir.join(format!(
            "module_{}.py",
            counter.fetch_add(1, Ordering::Relaxed)
        ))
    };

    let mut group = c.benchmark_group("link_file");
    group.throughput(Throughput::Bytes(4096));
    for mode in LinkMode::ALL {
        // One linker per mode, settled by a first file, as inside an install.
        let linker = Linker::new(mode);
        let first = LinkedFile(fresh_path());
        let used = linker.link_file(&src, &first.0).expect("link the file");
        drop(first);
        eprintln!("link: one 4 KiB file as {mode}: linked as {used}");
        group.bench_function(BenchmarkId::new(mode.as_str(), "4KiB"), |b| {
            b.iter_batched(
                || LinkedFile(fresh_path()),
                |dest| {
                    linker.link_file(&src, &dest.0).expect("link the file");
                    dest
                },
                // Bounded batches keep the source's link count far below any filesystem limit.
                BatchSize::NumIterations(100),
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = link_tree_benches, link_file_benches
}
criterion_main!(benches);
