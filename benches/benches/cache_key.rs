//! Cache-key costs paid on every lookup: digesting a small key and canonicalising a file URL.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use cairn_cache_key::{CacheKey, CacheKeyHasher, CanonicalUrl, cache_digest};
use criterion::{Criterion, criterion_group, criterion_main};

/// A key shaped like the one naming a downloaded wheel.
struct WheelKey<'a> {
    name: &'a str,
    version: &'a str,
    filename: &'a str,
    size: u64,
    sha256: Option<&'a str>,
}

impl CacheKey for WheelKey<'_> {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        self.name.cache_key(state);
        self.version.cache_key(state);
        self.filename.cache_key(state);
        self.size.cache_key(state);
        self.sha256.cache_key(state);
    }
}

/// A typical file URL as PyPI's simple index gives it, hash fragment included.
const PYPI_FILE_URL: &str = "https://files.pythonhosted.org/packages/8e/7b/\
    4c5e6f6c1e5a8b4d5c2b6e0c2a59bd8a2d7d5e8c57f1c2a3a8b1f0e9d8c7b6a5/\
    numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl\
    #sha256=89cd468399cfd2504718f0ba50e410dca55a170b61a02ad92bb18c8a65186e93";

fn cache_digest_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache_digest");
    let key = WheelKey {
        name: "numpy",
        version: "2.4.6",
        filename: "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        size: 16_918_164,
        sha256: Some("89cd468399cfd2504718f0ba50e410dca55a170b61a02ad92bb18c8a65186e93"),
    };
    group.bench_function("wheel_struct", |b| b.iter(|| cache_digest(black_box(&key))));
    let tuple = ("numpy", "2.4.6", 16_918_164_u64);
    group.bench_function("tuple", |b| b.iter(|| cache_digest(black_box(&tuple))));
    group.finish();
}

fn canonical_url_benches(c: &mut Criterion) {
    CanonicalUrl::parse(PYPI_FILE_URL).expect("the benchmark URL parses");
    c.bench_function("canonical_url/parse_pypi_file_url", |b| {
        b.iter(|| CanonicalUrl::parse(black_box(PYPI_FILE_URL)))
    });
}

criterion_group! {
    name = benches;
    // Nanosecond-scale work: short runs already give tight intervals.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = cache_digest_benches, canonical_url_benches
}
criterion_main!(benches);
