//! `WheelStore::find_pinned`: a hash-pinned requirement answered from the published-hash index,
//! choosing among the pinned wheels by the caller's tag ranking, and only for the project and
//! version asked for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_cache::Cache;
use cairn_distribution::{FetchOutcome, StoreSettings, WheelSource, WheelStore};
use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm, HasherSet};
use cairn_test_support::wheel::WheelBuilder;
use cairn_types::{PackageName, WheelFilename};

fn sha256(bytes: &[u8]) -> Digest {
    let mut hasher = HasherSet::new(&[HashAlgorithm::Sha256]);
    hasher.update(bytes);
    *hasher.finalize().get(HashAlgorithm::Sha256).unwrap()
}

#[test]
fn the_best_ranked_cached_wheel_of_the_pinned_version_is_found_without_its_source() {
    let work = tempfile::tempdir().unwrap();
    let store = WheelStore::new(
        Cache::at(work.path().join("cache")).unwrap(),
        StoreSettings::default(),
    );
    let pure = WheelBuilder::new("Demo.App", "1.0").file("demo_app/__init__.py", "PURE = 1\n");
    let native = WheelBuilder::new("Demo.App", "1.0")
        .tags("cp311-cp311-manylinux_2_17_x86_64")
        .file("demo_app/__init__.py", "NATIVE = 1\n");
    let mut pins = ExpectedHashes::new();
    for builder in [&pure, &native] {
        let path = builder.build(work.path());
        let digest = sha256(&std::fs::read(&path).unwrap());
        let expected: ExpectedHashes = [digest].into_iter().collect();
        store
            .fetch_blocking(&WheelSource::Path(path.clone()), &expected)
            .unwrap();
        // The source goes: only the cache can answer now.
        std::fs::remove_file(&path).unwrap();
        pins.insert(digest);
    }
    // A pin of a wheel never fetched, as for another platform.
    pins.insert(Digest::from_hex(HashAlgorithm::Sha256, &"1".repeat(64)).unwrap());
    let name = PackageName::new("demo-app");
    let prefer_native =
        |filename: &WheelFilename| Some(usize::from(filename.tags() == "py3-none-any"));

    let found = store
        .find_pinned(&name, "1.0.0", &pins, prefer_native)
        .expect("found through the index");
    assert_eq!(found.filename.to_string(), native.filename());
    assert_eq!(found.outcome, FetchOutcome::ContentHit);
    assert_eq!(found.hashes[0].algorithm(), HashAlgorithm::Blake3);
    let init = std::fs::read_to_string(found.archive.path().join("demo_app/__init__.py")).unwrap();
    assert_eq!(init, "NATIVE = 1\n");

    // The caller's ranking decides; a wheel it rejects is never chosen.
    let pure_only = |filename: &WheelFilename| (filename.tags() == "py3-none-any").then_some(0);
    let found = store.find_pinned(&name, "1.0", &pins, pure_only).unwrap();
    assert_eq!(found.filename.to_string(), pure.filename());
    assert!(store.find_pinned(&name, "1.0", &pins, |_| None).is_none());

    // Another version or project, or no pin, is no answer.
    assert!(
        store
            .find_pinned(&name, "1.1", &pins, prefer_native)
            .is_none()
    );
    let other = PackageName::new("other");
    assert!(
        store
            .find_pinned(&other, "1.0", &pins, prefer_native)
            .is_none()
    );
    assert!(
        store
            .find_pinned(&name, "1.0", &ExpectedHashes::new(), prefer_native)
            .is_none()
    );
}

/// Sets the modification time of the directory `dir`.
fn set_mtime(dir: &std::path::Path, mtime: std::time::SystemTime) {
    std::fs::File::open(dir)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

#[test]
fn an_archive_used_through_the_index_alone_survives_its_expired_pointers() {
    use cairn_cache::maintenance::{PruneOptions, Reason, plan_prune};
    use std::time::{Duration, SystemTime};

    let work = tempfile::tempdir().unwrap();
    let cache = Cache::at(work.path().join("cache")).unwrap();
    let store = WheelStore::new(cache.clone(), StoreSettings::default());
    let path = WheelBuilder::new("demo", "1.0").build(work.path());
    let digest = sha256(&std::fs::read(&path).unwrap());
    let pins: ExpectedHashes = [digest].into_iter().collect();
    let fetched = store
        .fetch_blocking(&WheelSource::Path(path), &pins)
        .unwrap();
    let archive = fetched.archive.path().to_owned();

    // A use through the index marks an archive that was last marked long ago.
    let day = Duration::from_secs(24 * 60 * 60);
    set_mtime(&archive, SystemTime::now() - 30 * day);
    let name = PackageName::new("demo");
    store.find_pinned(&name, "1.0", &pins, |_| Some(0)).unwrap();
    let marked = std::fs::metadata(&archive).unwrap().modified().unwrap();
    assert!(
        marked > SystemTime::now() - Duration::from_secs(60),
        "{marked:?}"
    );

    // Ten days on, the pointer (used today) has expired under a week's max age.
    let later = SystemTime::now() + 10 * day;
    let prune = |mtime| {
        set_mtime(&archive, mtime);
        let options = PruneOptions {
            max_age: Some(7 * day),
            now: later,
            ..PruneOptions::default()
        };
        let plan = plan_prune(&cache, &options).unwrap();
        let reasons: Vec<Reason> = plan.removals().iter().map(|r| r.reason).collect();
        let archive_goes = plan
            .removals()
            .iter()
            .any(|removal| removal.path == archive);
        (reasons, archive_goes)
    };
    // Used through the index two days before: the archive and its index entry stay.
    let (reasons, archive_goes) = prune(later - 2 * day);
    assert!(reasons.contains(&Reason::Expired), "{reasons:?}");
    assert!(!archive_goes, "{reasons:?}");
    assert!(!reasons.contains(&Reason::OrphanIndexEntry), "{reasons:?}");
    // Not used for longer than the max age: it goes with the rest.
    let (reasons, archive_goes) = prune(later - 8 * day);
    assert!(archive_goes, "{reasons:?}");
}
