//! Wall-clock figures for linking a torch-sized tree in each mode. Not a pass/fail test:
//!
//! ```text
//! cargo test --release -p cairn-fs --test link_bench -- --ignored --nocapture
//! ```
//!
//! By default it links a synthetic tree shaped like an unpacked torch wheel (13,187 files in
//! nested package directories) from the default temp dir into the default temp dir.
//! Environment variables change that:
//! - `CAIRN_LINK_BENCH_SRC`: an unpacked tree to time instead;
//! - `CAIRN_LINK_BENCH_SRC_PARENT`, `CAIRN_LINK_BENCH_TARGET_PARENT`: where the synthetic tree
//!   and the targets go (say `/dev/shm`, to time across filesystems or without a disk);
//! - `CAIRN_LINK_BENCH_MODES`: the modes to time, say `hardlink,copy`.
//!
//! The filesystems are synced before each run, so a run does not pay for the previous one's
//! writeback. Targets are kept until the end: on an ext4 without a journal (as on the project's
//! machines) the inode allocator steps over every inode deleted in the last minutes
//! (`recently_deleted`), so deleting one run's target would slow the next run's file creation.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_fs::link::{LinkMode, link_tree};

/// Files in torch 2.15.0's wheel.
const TORCH_FILES: usize = 13_187;
const RUNS: usize = 5;

/// A tree of `files` files, 20 to a directory, three directory levels deep, sizes spread over
/// 0..16 KiB (wheels are mostly small .py files around a few large libraries).
fn synthetic_tree(root: &Path, files: usize) -> u64 {
    let mut bytes = 0;
    let buffer: Vec<u8> = (0..16 * 1024).map(|i| (i % 253) as u8).collect();
    for i in 0..files {
        let dir = root
            .join(format!("torch_{}", i / 4000))
            .join(format!("sub_{}", i / 400))
            .join(format!("leaf_{}", i / 20));
        if i % 20 == 0 {
            fs::create_dir_all(&dir).unwrap();
        }
        let size = (i * 7919) % buffer.len();
        fs::write(dir.join(format!("module_{i}.py")), &buffer[..size]).unwrap();
        bytes += size as u64;
    }
    bytes
}

fn temp_dir_in(parent: Option<&Path>) -> tempfile::TempDir {
    match parent {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture in release mode"]
fn link_a_torch_sized_tree_in_every_mode() {
    let src_parent = std::env::var_os("CAIRN_LINK_BENCH_SRC_PARENT").map(PathBuf::from);
    let cache = temp_dir_in(src_parent.as_deref());
    let src: PathBuf = match std::env::var_os("CAIRN_LINK_BENCH_SRC") {
        Some(path) => PathBuf::from(path),
        None => {
            let root = cache.path().join("torch");
            let bytes = synthetic_tree(&root, TORCH_FILES);
            eprintln!("synthetic tree: {TORCH_FILES} files, {} MiB", bytes >> 20);
            root
        }
    };
    let target_parent = std::env::var_os("CAIRN_LINK_BENCH_TARGET_PARENT").map(PathBuf::from);

    let modes: Vec<LinkMode> = match std::env::var("CAIRN_LINK_BENCH_MODES") {
        Ok(list) => list.split(',').map(|mode| mode.parse().unwrap()).collect(),
        Err(_) => LinkMode::ALL.to_vec(),
    };
    let mut targets = Vec::new();
    for mode in modes {
        let mut samples = Vec::with_capacity(RUNS);
        let mut last = None;
        for _ in 0..RUNS {
            rustix::fs::sync();
            let target = temp_dir_in(target_parent.as_deref());
            let dst = target.path().join("site-packages");
            let start = Instant::now();
            let outcome = link_tree(&src, &dst, mode).unwrap();
            samples.push(start.elapsed());
            last = Some(outcome);
            targets.push(target);
        }
        let outcome = last.unwrap();
        let fastest = *samples.iter().min().unwrap();
        eprintln!(
            "{mode:>8} -> {:<8} {} files, {} dirs: median {:>7.1} ms, best {:>7.1} ms",
            outcome.mode_used.as_str(),
            outcome.files,
            outcome.dirs,
            median(samples).as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
        );
    }
}
