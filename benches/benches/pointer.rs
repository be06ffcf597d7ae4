//! Pointers, the records every repeat fetch starts from: writing one ([`Cache::write_pointer`],
//! atomic and fsynced) and reading one ([`Cache::read_pointer`]) that hits, that is missing, and
//! that names an archive no longer in the store.
//!
//! The cache lives in the temp directory (`TMPDIR`), so the write figures are those of that
//! disk's fsync.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_cache::{Cache, CacheBucket, CacheEntry, POINTER_FORMAT, Pointer};
use cairn_cache_key::{CanonicalUrl, cache_digest};
use cairn_fs::ContentDigest;
use criterion::{Criterion, criterion_group, criterion_main};

/// A download's pointer as the fetch code writes it, used now so that a hit does not rewrite it.
fn numpy_pointer(archive: &str) -> Pointer {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs();
    Pointer {
        format: POINTER_FORMAT,
        source: "https://files.pythonhosted.org/packages/8e/7b/4c5e6f6c1e5a8b4d5c2b6e0c2a59bd8a/\
                 numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
            .to_owned(),
        filename: "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
            .to_owned(),
        name: "numpy".to_owned(),
        version: "2.4.6".to_owned(),
        tags: "cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64".to_owned(),
        archive: archive.to_owned(),
        hashes: vec![
            format!("blake3:{archive}"),
            "sha256:89cd468399cfd2504718f0ba50e410dca55a170b61a02ad92bb18c8a65186e93".to_owned(),
        ],
        size: 16_918_164,
        source_modified: None,
        last_used: now,
    }
}

/// The URL pointer entry of `url`, where the fetch code would look for it.
fn url_entry(cache: &Cache, url: &str) -> CacheEntry {
    let canonical = CanonicalUrl::parse(url).expect("the benchmark URL parses");
    cache.entry(
        CacheBucket::Wheels,
        "url",
        format!("{}.json", cache_digest(&canonical)),
    )
}

/// An archive directory in the store, named by a digest of `seed`.
fn archive_in_store(cache: &Cache, seed: &str) -> ContentDigest {
    let digest = ContentDigest::hex(&blake3::hash(seed.as_bytes()).to_hex())
        .expect("a BLAKE3 hex digest is a content digest");
    std::fs::create_dir_all(cache.archive(&digest).path()).expect("create the archive");
    digest
}

fn pointer_benches(c: &mut Criterion) {
    let cache = Cache::temporary().expect("create a temporary cache");
    let digest = archive_in_store(&cache, "numpy archive");
    let pointer = numpy_pointer(digest.as_str());
    let mut group = c.benchmark_group("pointer");

    let written = url_entry(&cache, "https://example.org/written/numpy.whl");
    // Each write replaces the previous record, as a refresh of `last_used` does.
    group.bench_function("write", |b| {
        b.iter(|| {
            cache
                .write_pointer(black_box(&written), black_box(&pointer))
                .expect("write the pointer")
        })
    });

    let hit = url_entry(&cache, &pointer.source);
    cache
        .write_pointer(&hit, &pointer)
        .expect("write the pointer");
    assert!(cache.read_pointer(&hit).is_some(), "the pointer hits");
    group.bench_function("read_hit", |b| {
        b.iter(|| cache.read_pointer(black_box(&hit)))
    });

    let absent = url_entry(&cache, "https://example.org/never-fetched.whl");
    assert!(
        cache.read_pointer(&absent).is_none(),
        "the pointer is absent"
    );
    group.bench_function("read_miss_absent", |b| {
        b.iter(|| cache.read_pointer(black_box(&absent)))
    });

    let gone = archive_in_store(&cache, "pruned archive");
    let dangling = url_entry(&cache, "https://example.org/pruned.whl");
    cache
        .write_pointer(&dangling, &numpy_pointer(gone.as_str()))
        .expect("write the pointer");
    std::fs::remove_dir(cache.archive(&gone).path()).expect("remove the archive");
    assert!(
        cache.read_pointer(&dangling).is_none(),
        "the pointer dangles"
    );
    group.bench_function("read_miss_dangling", |b| {
        b.iter(|| cache.read_pointer(black_box(&dangling)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = pointer_benches
}
criterion_main!(benches);
