//! Durable filesystem primitives of the cache: an atomic small write and publishing a directory.
//!
//! Both fsync, so the figures are those of the disk under the temp directory (`TMPDIR`).
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use cairn_benches::pseudo_random_bytes;
use cairn_fs::{PersistOutcome, persist_dir, write_atomic};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tempfile::TempDir;

/// The size of a typical cache record (a pointer or a small JSON file).
const RECORD_LEN: usize = 300;

fn write_atomic_bench(c: &mut Criterion) {
    let scratch = tempfile::tempdir().expect("create a temp directory");
    let record = pseudo_random_bytes(RECORD_LEN, 3);
    let path = scratch.path().join("record.json");
    // Each write replaces the previous one, as refreshing a record does.
    c.bench_function("write_atomic/300B", |b| {
        b.iter(|| write_atomic(black_box(&path), black_box(&record)).expect("write the record"))
    });
}

/// A small unpacked tree inside `root`, as `persist_dir` receives it: 3 directories, 12 files.
fn small_tree(root: &TempDir) -> TempDir {
    let temp = tempfile::tempdir_in(root.path()).expect("create the temp tree");
    for dir in ["pkg", "pkg/sub", "pkg-1.0.dist-info"] {
        let dir = temp.path().join(dir);
        std::fs::create_dir_all(&dir).expect("create a directory of the tree");
        for index in 0..4 {
            std::fs::write(dir.join(format!("file{index}.py")), b"VALUE = 1\n")
                .expect("write a file of the tree");
        }
    }
    temp
}

fn persist_dir_bench(c: &mut Criterion) {
    c.bench_function("persist_dir/small_tree", |b| {
        b.iter_batched(
            || {
                let root = tempfile::tempdir().expect("create a temp directory");
                let tree = small_tree(&root);
                (root, tree)
            },
            |(root, tree)| {
                let outcome = persist_dir(tree, &root.path().join("ab").join("cdef0123"))
                    .expect("persist the tree");
                assert_eq!(outcome, PersistOutcome::Persisted);
                // Returned so the tree is deleted outside the timed part.
                root
            },
            BatchSize::PerIteration,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = write_atomic_bench, persist_dir_bench
}
criterion_main!(benches);
