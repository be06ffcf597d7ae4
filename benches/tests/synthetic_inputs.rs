//! The synthetic inputs are what they claim to be: the cache reads as a real cairn cache to
//! every maintenance command, and the trees have the advertised shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::SystemTime;

use cairn_benches::{
    CacheShape, NUMPY_LIKE_DIRS, NUMPY_LIKE_FILES, build_synthetic_cache, write_numpy_like_tree,
    write_tiny_tree,
};
use cairn_cache::maintenance::{self, ProblemKind, PruneOptions, Reason};
use cairn_cache::{Cache, CacheBucket};

/// A hundredth of the benchmark's cache: 1,000 pointers naming 500 archives, with a little of
/// each kind of litter.
const SMALL: CacheShape = CacheShape::ENTRIES_100K.scaled_down(100);

fn small_cache() -> (tempfile::TempDir, Cache, cairn_benches::CacheCounts) {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("cache");
    let counts = build_synthetic_cache(&root, &SMALL, SystemTime::now()).unwrap();
    let cache = Cache::at(&root).unwrap();
    (temp, cache, counts)
}

#[test]
fn the_synthetic_cache_lists_one_row_per_pointer() {
    let (_temp, cache, counts) = small_cache();
    assert_eq!(counts.pointers, SMALL.pointers as u64);
    let wheels = maintenance::list(&cache, &[]).unwrap();
    assert_eq!(wheels.len(), SMALL.pointers);
    let dangling = wheels.iter().filter(|w| w.archive_bytes.is_none()).count();
    assert_eq!(dangling, SMALL.dangling_pointers);
    // Two sources per archive: PyPI, then a mirror or a local file.
    assert!(wheels.iter().any(|w| w.source.starts_with("/home/ci/")));
    assert!(
        wheels
            .iter()
            .any(|w| w.source.starts_with("https://mirror."))
    );
}

#[test]
fn the_synthetic_cache_verifies_with_only_the_planted_problems() {
    let (_temp, cache, counts) = small_cache();
    let report = maintenance::verify(&cache).unwrap();
    let count = |kind: ProblemKind| report.problems.iter().filter(|p| p.kind == kind).count();
    assert_eq!(count(ProblemKind::Corrupt), 0, "{:?}", report.problems);
    assert_eq!(count(ProblemKind::Unverifiable), 0);
    assert_eq!(count(ProblemKind::Missing), SMALL.dangling_pointers);
    assert_eq!(
        count(ProblemKind::Orphaned),
        SMALL.unreferenced_archives + SMALL.orphan_manifests + SMALL.orphan_policies
    );
    assert_eq!(
        counts.archives,
        (SMALL.archives + SMALL.unreferenced_archives) as u64
    );
}

#[test]
fn prune_finds_exactly_the_planted_litter() {
    let (_temp, cache, _) = small_cache();
    let plan = maintenance::plan_prune(&cache, &PruneOptions::default()).unwrap();
    let count = |reason: Reason| {
        plan.removals()
            .iter()
            .filter(|r| r.reason == reason)
            .count()
    };
    // Each dangling pointer goes with its policy.
    assert_eq!(count(Reason::DanglingPointer), 2 * SMALL.dangling_pointers);
    // Each unreferenced archive goes with its manifest, and its index entry is orphaned.
    assert_eq!(
        count(Reason::UnreferencedArchive),
        2 * SMALL.unreferenced_archives
    );
    assert_eq!(count(Reason::OrphanIndexEntry), SMALL.unreferenced_archives);
    assert_eq!(count(Reason::OrphanManifest), SMALL.orphan_manifests);
    assert_eq!(count(Reason::OrphanPolicy), SMALL.orphan_policies);
    assert_eq!(count(Reason::TempLeftover), SMALL.temp_leftovers);
    assert_eq!(count(Reason::InvalidPointer), 0);
}

#[test]
fn live_pointers_hit_through_the_cache_api() {
    let (_temp, cache, _) = small_cache();
    let url_dir = cache.bucket(CacheBucket::Wheels).join("url");
    let mut hits = 0;
    for entry in std::fs::read_dir(&url_dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".json") {
            let entry = cache.entry(CacheBucket::Wheels, "url", &name);
            hits += usize::from(cache.read_pointer(&entry).is_some());
        }
    }
    // Every URL pointer but the dangling ones (all downloads) hits.
    let url_pointers = std::fs::read_dir(&url_dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "json")
        .count();
    assert_eq!(hits, url_pointers - SMALL.dangling_pointers);
}

#[test]
fn trees_have_the_advertised_shape() {
    let temp = tempfile::tempdir().unwrap();
    let counts = write_numpy_like_tree(temp.path()).unwrap();
    assert_eq!(counts.files, NUMPY_LIKE_FILES as u64);
    assert_eq!(counts.dirs, NUMPY_LIKE_DIRS as u64);
    // About numpy's 57 MB.
    assert!(
        (50 << 20..70 << 20).contains(&counts.bytes),
        "{}",
        counts.bytes
    );

    let tiny = tempfile::tempdir().unwrap();
    let counts = write_tiny_tree(tiny.path(), 1_000).unwrap();
    assert_eq!((counts.files, counts.dirs), (1_000, 11));
}
