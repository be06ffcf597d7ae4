//! Hashing throughput: [`HasherSet`] over an in-memory buffer and [`hash_file`] over files on
//! disk (page cache warm), BLAKE3 alone and with the SHA-2 digests indexes publish.
//!
//! The 512 MiB file runs only with `CAIRN_BENCH_LARGE=1`.
#![allow(clippy::expect_used, clippy::print_stderr)]

use std::hint::black_box;
use std::time::Duration;

use cairn_benches::{MIB, large_inputs_enabled, pseudo_random_bytes, write_pseudo_random_file};
use cairn_hash::{HashAlgorithm, HasherSet, hash_file};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// The algorithm sets compared, named for the report.
const ALGORITHM_SETS: [(&str, &[HashAlgorithm]); 3] = [
    ("blake3", &[]),
    ("blake3+sha256", &[HashAlgorithm::Sha256]),
    ("blake3+sha512", &[HashAlgorithm::Sha512]),
];

fn hasher_set_benches(c: &mut Criterion) {
    let buffer = pseudo_random_bytes(MIB as usize, 7);
    let mut group = c.benchmark_group("hasher_set_update_1MiB");
    group.throughput(Throughput::Bytes(MIB));
    for (name, extra) in ALGORITHM_SETS {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut hashers = HasherSet::new(extra);
                hashers.update(black_box(&buffer));
                hashers.finalize()
            })
        });
    }
    group.finish();
}

fn hash_file_benches(c: &mut Criterion) {
    let scratch = tempfile::tempdir().expect("create a temp directory");
    let mut sizes = vec![("1MiB", MIB)];
    if large_inputs_enabled() {
        sizes.push(("512MiB", 512 * MIB));
    } else {
        eprintln!("hash_file: skipping the 512 MiB file (set CAIRN_BENCH_LARGE=1 to include it)");
    }

    let mut group = c.benchmark_group("hash_file");
    for (size_name, len) in sizes {
        let path = scratch.path().join(format!("input-{size_name}"));
        write_pseudo_random_file(&path, len).expect("write the file to hash");
        group.throughput(Throughput::Bytes(len));
        if len > 64 * MIB {
            // Each run takes a good fraction of a second; ten samples are plenty.
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(10));
        }
        for (algorithms, extra) in &ALGORITHM_SETS[..2] {
            group.bench_with_input(
                BenchmarkId::new(*algorithms, size_name),
                &path,
                |b, path| b.iter(|| hash_file(path, extra).expect("hash the file")),
            );
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = hasher_set_benches, hash_file_benches
}
criterion_main!(benches);
