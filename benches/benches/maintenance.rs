//! Cache maintenance on a cache of 100,000 entries: [`maintenance::cache_size`],
//! [`maintenance::list`] (all, and one package), and [`maintenance::plan_prune`], which is all
//! of `cairn cache prune --dry-run` but the printing; with `CAIRN_BENCH_LARGE=1`, also a prune
//! whose `--max-size` evicts nearly everything (several seconds a run).
//!
//! The cache (see `cairn_benches::CacheShape::ENTRIES_100K`: 100,000 pointers, 50,000 small
//! archives, ~750,000 inodes, ~3 GB) is built on the first run and kept in
//! `target/bench-data/`, keyed by the builder's version, because building it takes longer than
//! measuring it. Figures are for a warm page cache: the setup run warms it.
//!
//! Outside `cargo bench` (a `cargo test --benches` smoke run, with no `--bench` argument), a
//! 100 times smaller cache of the same make-up is used, built in a temp directory.
#![allow(clippy::expect_used, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use cairn_benches::{CacheShape, build_synthetic_cache, large_inputs_enabled, synthetic_cache};
use cairn_cache::Cache;
use cairn_cache::maintenance::{self, PruneOptions};
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use tempfile::TempDir;

/// The cache to measure, and the temp directory holding it when it is not kept.
fn cache_under_test() -> (CacheShape, PathBuf, Option<TempDir>) {
    let measuring = std::env::args().any(|arg| arg == "--bench");
    if measuring {
        let shape = CacheShape::ENTRIES_100K;
        let started = Instant::now();
        let root = synthetic_cache(&shape).expect("build the synthetic cache");
        eprintln!(
            "maintenance: cache of {} entries at {} (ready in {:.1} s)",
            shape.pointers,
            root.display(),
            started.elapsed().as_secs_f64()
        );
        (shape, root, None)
    } else {
        let shape = CacheShape::ENTRIES_100K.scaled_down(100);
        let temp = tempfile::tempdir().expect("create a temp directory");
        let root = temp.path().join("cache");
        build_synthetic_cache(&root, &shape, SystemTime::now()).expect("build the cache");
        (shape, root, Some(temp))
    }
}

fn maintenance_benches(c: &mut Criterion) {
    let (shape, root, _temp) = cache_under_test();
    let entries = format!("{}-entries", shape.pointers);
    let cache = Cache::at(&root).expect("open the synthetic cache");

    // One checked run of each first: it warms the page cache, and the figures mean little
    // unless the commands see the cache as it was built.
    let size = maintenance::cache_size(&cache, maintenance::ArchiveSizes::Recorded)
        .expect("measure the cache");
    let wheels = maintenance::list(&cache, &[]).expect("list the cache");
    assert_eq!(wheels.len(), shape.pointers, "every pointer is listed");
    let plan = maintenance::plan_prune(&cache, &PruneOptions::default()).expect("plan a prune");
    let expected_removals = 2 * shape.dangling_pointers
        + 3 * shape.unreferenced_archives
        + shape.orphan_manifests
        + shape.orphan_policies
        + shape.temp_leftovers;
    assert_eq!(
        plan.removals().len(),
        expected_removals,
        "prune finds the litter"
    );
    eprintln!(
        "maintenance: {} bytes in {} files; {} rows listed; prune would remove {} entries",
        size.bytes,
        size.files,
        wheels.len(),
        plan.removals().len()
    );
    // A tenth of the cache: nearly every pointer is evicted.
    let max_size = PruneOptions {
        max_size: Some(size.bytes / 10),
        ..PruneOptions::default()
    };

    let mut group = c.benchmark_group("maintenance");
    // Each run takes up to a second or two: ten single-run samples.
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function(BenchmarkId::new("cache_size", &entries), |b| {
        b.iter(|| {
            maintenance::cache_size(&cache, maintenance::ArchiveSizes::Recorded)
                .expect("measure the cache")
        })
    });
    group.bench_function(BenchmarkId::new("list", &entries), |b| {
        b.iter(|| maintenance::list(&cache, &[]).expect("list the cache"))
    });
    let one_package = [wheels[0].name.clone()];
    group.bench_function(BenchmarkId::new("list_one_package", &entries), |b| {
        b.iter(|| maintenance::list(&cache, &one_package).expect("list one package"))
    });
    group.bench_function(BenchmarkId::new("prune_dry_run", &entries), |b| {
        b.iter(|| maintenance::plan_prune(&cache, &PruneOptions::default()).expect("plan a prune"))
    });
    if large_inputs_enabled() {
        group.bench_function(BenchmarkId::new("prune_dry_run_max_size", &entries), |b| {
            b.iter(|| maintenance::plan_prune(&cache, &max_size).expect("plan a prune"))
        });
    } else {
        eprintln!("maintenance: skipping the --max-size prune (set CAIRN_BENCH_LARGE=1)");
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    targets = maintenance_benches
}
criterion_main!(benches);
