//! The fetch pipeline and cache maintenance end to end: maintenance reads the records fetches
//! write, and a cache it cleaned, pruned or repaired is filled again by the next fetch.
//! (Maintenance on its own is tested in cairn-cache, on caches built through its record API.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_cache::maintenance::{self, LockWait, ProblemKind, PruneOptions, Reason};
use cairn_cache::{Cache, CacheSettings, IndexKey, IndexRecord};
use cairn_distribution::{FetchOutcome, FetchedWheel, StoreSettings, WheelStore};
use cairn_fs::LockMode;
use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm};
use cairn_test_support::noise::noise;
use cairn_test_support::wheel::WheelBuilder;

struct Fixture {
    work: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let work = tempfile::tempdir().unwrap();
        let root = work.path().join("cache");
        Self { work, root }
    }

    fn settings(&self) -> CacheSettings {
        CacheSettings {
            dir: Some(self.root.clone()),
            lock_timeout: Some(Duration::from_secs(60)),
            ..CacheSettings::default()
        }
    }

    fn shared(&self) -> Cache {
        Cache::open(&self.settings()).unwrap()
    }

    /// The exclusive handle removal needs; every shared handle of this process must be gone.
    fn exclusive(&self) -> Cache {
        maintenance::open_cache(
            &self.settings(),
            LockMode::Exclusive,
            LockWait::NoWait,
            |_| panic!("another handle holds the cache"),
        )
        .unwrap()
    }

    /// A wheel `name-1.0` with one incompressible file per entry of `files`.
    fn wheel(&self, name: &str, files: &[&str]) -> PathBuf {
        let mut builder = WheelBuilder::new(name, "1.0");
        for (index, file) in files.iter().enumerate() {
            builder = builder.file(&format!("{name}/{file}"), noise(4000, index as u64 + 1));
        }
        builder.build(self.work.path())
    }

    /// Fetches `wheel` through a short-lived store (so no shared handle lingers).
    fn fetch(&self, wheel: &Path, expected: &ExpectedHashes) -> FetchedWheel {
        WheelStore::new(self.shared(), StoreSettings::default())
            .fetch_path(wheel, expected)
            .unwrap()
    }
}

fn sha256_of(path: &Path) -> Digest {
    let hashes = cairn_hash::hash_file(path, &[HashAlgorithm::Sha256]).unwrap();
    *hashes.get(HashAlgorithm::Sha256).unwrap()
}

#[test]
fn maintenance_reads_what_a_pinned_fetch_writes_and_clean_removes_its_index_entry() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", &["a.py"]);
    let sha256 = sha256_of(&alpha);
    let pinned: ExpectedHashes = [sha256].into_iter().collect();
    let fetched = fixture.fetch(&alpha, &pinned);
    assert_eq!(fetched.outcome, FetchOutcome::Unpacked);

    // The index entry is the documented line, and the cache's reader agrees with the pipeline.
    let key = IndexKey::parse("sha256", &sha256.to_hex()).unwrap();
    let entry = fixture.shared().index_entry(&key);
    let hex = sha256.to_hex();
    assert_eq!(
        entry.path(),
        fixture
            .root
            .join("hashes-v1/sha256")
            .join(&hex[..2])
            .join(&hex[2..])
    );
    let size = std::fs::metadata(&alpha).unwrap().len();
    assert_eq!(
        std::fs::read_to_string(entry.path()).unwrap(),
        format!("{} {size} {}\n", fetched.archive.digest(), fetched.filename)
    );
    assert_eq!(
        fixture.shared().read_index(&key),
        Some(IndexRecord {
            archive: fetched.archive.digest().clone(),
            wheel_size: size,
            filename: fetched.filename.to_string(),
        })
    );
    let report = maintenance::verify(&fixture.shared()).unwrap();
    assert_eq!(report.problems, []);
    assert_eq!(
        (report.archives, report.pointers, report.index_entries),
        (1, 1, 1)
    );

    // Cleaning the package takes its pointer, archive, manifest and index entry.
    let cache = fixture.exclusive();
    let plan = maintenance::plan_clean(&cache, &["alpha".to_owned()]).unwrap();
    let mut removed: Vec<(PathBuf, Reason)> = plan
        .removals()
        .iter()
        .map(|removal| (removal.path.clone(), removal.reason))
        .collect();
    removed.sort();
    let mut expected = vec![
        (fetched.archive.path().to_owned(), Reason::Package),
        (
            cache.manifest_path(fetched.archive.digest()),
            Reason::Package,
        ),
        (entry.path().to_owned(), Reason::Package),
        (
            maintenance::list(&cache, &[]).unwrap()[0].pointer.clone(),
            Reason::Package,
        ),
    ];
    expected.sort();
    assert_eq!(removed, expected);
    maintenance::remove(&cache, &plan).unwrap();
    drop(cache);
    assert!(!entry.path().exists());

    // The next pinned fetch unpacks again and indexes the digest again.
    let again = fixture.fetch(&alpha, &pinned);
    assert_eq!(again.outcome, FetchOutcome::Unpacked);
    let (indexed, _) = fixture.shared().find_indexed(&key).unwrap();
    assert_eq!(indexed, again.archive);
}

#[test]
fn a_repaired_cache_fetches_again() {
    let fixture = Fixture::new();
    let none = ExpectedHashes::default();
    let alpha = fixture.wheel("alpha", &["a.py", "b.py"]);
    let beta = fixture.wheel("beta", &["b.py"]);
    let alpha_fetch = fixture.fetch(&alpha, &none);
    fixture.fetch(&beta, &none);
    let damaged = alpha_fetch.archive.path().join("alpha/a.py");
    let original = std::fs::read(&damaged).unwrap();
    let mut flipped = original.clone();
    flipped[100] ^= 0x01;
    std::fs::write(&damaged, &flipped).unwrap();

    let cache = fixture.exclusive();
    let report = maintenance::verify(&cache).unwrap();
    let found: Vec<(ProblemKind, &Path)> = report
        .problems
        .iter()
        .map(|problem| (problem.kind, problem.path.as_path()))
        .collect();
    assert_eq!(
        found,
        [(ProblemKind::Corrupt, alpha_fetch.archive.path())],
        "{report:#?}"
    );
    maintenance::remove(&cache, &report.repair).unwrap();
    drop(cache);

    // The repair took the archive and every record naming it: the next fetch unpacks, and the
    // result is what the wheel holds. The healthy wheel is untouched.
    let refetched = fixture.fetch(&alpha, &none);
    assert_eq!(refetched.outcome, FetchOutcome::Unpacked);
    assert_eq!(std::fs::read(&damaged).unwrap(), original);
    assert_eq!(
        fixture.fetch(&beta, &none).outcome,
        FetchOutcome::PointerHit
    );
    assert!(maintenance::verify(&fixture.shared()).unwrap().is_healthy());
}

#[test]
fn a_pruned_or_cleaned_cache_fetches_again() {
    let fixture = Fixture::new();
    let none = ExpectedHashes::default();
    let alpha = fixture.wheel("alpha", &["a.py"]);
    let beta = fixture.wheel("beta", &["b.py"]);
    let alpha_fetch = fixture.fetch(&alpha, &none);
    fixture.fetch(&beta, &none);

    // Without its pointer, alpha's archive is pruned, and alpha unpacks again.
    let pointer = maintenance::list(&fixture.shared(), &["alpha".to_owned()]).unwrap()[0]
        .pointer
        .clone();
    std::fs::remove_file(&pointer).unwrap();
    let cache = fixture.exclusive();
    let plan = maintenance::plan_prune(&cache, &PruneOptions::default()).unwrap();
    assert!(
        plan.removals()
            .iter()
            .any(|removal| removal.path == alpha_fetch.archive.path()
                && removal.reason == Reason::UnreferencedArchive),
        "{plan:#?}"
    );
    maintenance::remove(&cache, &plan).unwrap();
    drop(cache);
    assert_eq!(fixture.fetch(&alpha, &none).outcome, FetchOutcome::Unpacked);
    assert_eq!(
        fixture.fetch(&beta, &none).outcome,
        FetchOutcome::PointerHit
    );

    // After a full clean, everything unpacks again, then hits.
    let cache = fixture.exclusive();
    let plan = maintenance::plan_clean(&cache, &[]).unwrap();
    maintenance::remove(&cache, &plan).unwrap();
    drop(cache);
    for wheel in [&alpha, &beta] {
        assert_eq!(fixture.fetch(wheel, &none).outcome, FetchOutcome::Unpacked);
        assert_eq!(
            fixture.fetch(wheel, &none).outcome,
            FetchOutcome::PointerHit
        );
    }
}
