//! `plan_clean` and `remove`: everything, or named packages, on caches of real wheels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod maintenance_support;

use cairn_cache::IndexKey;
use cairn_cache::maintenance::{self, MaintenanceError, Reason};
use cairn_hash::{HashAlgorithm, HasherSet};
use maintenance_support::{Fixture, Outcome, listing};

#[test]
fn clean_removes_everything_but_the_lock_and_tag_files() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/data.bin", 30_000)]);
    fixture.fetch(&alpha);
    std::fs::create_dir_all(fixture.root.join("simple-v1").join("0123456789abcdef")).unwrap();
    std::fs::write(fixture.root.join("unknown.txt"), "x").unwrap();

    let cache = fixture.exclusive();
    let plan = maintenance::plan_clean(&cache, &[]).unwrap();
    let planned = plan.usage();
    let removed = maintenance::remove(&cache, &plan).unwrap();
    drop(cache);
    assert_eq!(removed, planned);
    assert!(removed.files >= 7, "{removed:?}");
    let left: Vec<String> = listing(&fixture.root).into_keys().collect();
    assert_eq!(
        left,
        [".gitignore", ".lock", ".maintenance.lock", "CACHEDIR.TAG"]
    );

    // The cache works as before.
    assert_eq!(fixture.fetch(&alpha).outcome, Outcome::Unpacked);
}

#[test]
fn clean_of_one_package_keeps_archives_another_pointer_still_names() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/data.bin", 30_000)]);
    // The same bytes under another project's file name: a `beta` pointer to alpha's archive.
    let beta = fixture.wheels.join("beta-1.0-py3-none-any.whl");
    std::fs::copy(&alpha, &beta).unwrap();
    let gamma = fixture.wheel("Gamma_Pkg", "3.0", &[("gamma/g.py", 100)]);
    let shared = fixture.fetch(&alpha);
    assert_eq!(fixture.fetch(&beta).outcome, Outcome::ContentHit);
    let gamma_fetched = fixture.fetch(&gamma);
    // Project pages in the simple bucket belong to their package too.
    let index = fixture.root.join("simple-v1").join("0123456789abcdef");
    std::fs::create_dir_all(&index).unwrap();
    for file in ["alpha.page", "alpha.http", "beta.page", "gamma-pkg.page"] {
        std::fs::write(index.join(file), "page").unwrap();
    }
    let alpha_pointer = fixture.rel(&fixture.pointer_path(&alpha));
    let beta_pointer = fixture.rel(&fixture.pointer_path(&beta));
    let gamma_pointer = fixture.rel(&fixture.pointer_path(&gamma));

    let cache = fixture.exclusive();
    let plan = maintenance::plan_clean(&cache, &["ALPHA".to_owned()]).unwrap();
    assert_eq!(
        fixture.plan_entries(&plan),
        [
            (
                "simple-v1/0123456789abcdef/alpha.http".to_owned(),
                Reason::Package
            ),
            (
                "simple-v1/0123456789abcdef/alpha.page".to_owned(),
                Reason::Package
            ),
            (alpha_pointer.clone(), Reason::Package),
        ]
    );
    maintenance::remove(&cache, &plan).unwrap();
    assert!(
        shared.archive.path().is_dir(),
        "beta still names the archive"
    );

    // Now beta goes, and the archive nobody names any more goes with it.
    let plan = maintenance::plan_clean(&cache, &["beta".to_owned()]).unwrap();
    let manifest = cache.manifest_path(shared.archive.digest());
    let mut expected = vec![
        (fixture.rel(shared.archive.path()), Reason::Package),
        (fixture.rel(&manifest), Reason::Package),
        (
            "simple-v1/0123456789abcdef/beta.page".to_owned(),
            Reason::Package,
        ),
        (beta_pointer, Reason::Package),
    ];
    expected.sort();
    assert_eq!(fixture.plan_entries(&plan), expected);
    maintenance::remove(&cache, &plan).unwrap();
    drop(cache);
    assert!(!shared.archive.path().exists());
    assert!(!manifest.exists());

    // Gamma is untouched and still a pointer hit.
    assert!(gamma_fetched.archive.path().is_dir());
    assert!(fixture.root.join(&gamma_pointer).is_file());
    assert!(index.join("gamma-pkg.page").is_file());
    assert_eq!(fixture.fetch(&gamma).outcome, Outcome::PointerHit);
    assert_eq!(fixture.fetch(&alpha).outcome, Outcome::Unpacked);
}

#[test]
fn clean_of_a_package_removes_its_index_entries() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/a.py", 10)]);
    let fetched = fixture.fetch_hashed(&alpha, &[HashAlgorithm::Sha256]);
    let index_dir = fixture.root.join("hashes-v1").join("sha256");
    let entries = listing(&index_dir).len();
    assert_eq!(entries, 2, "one shard, one entry");
    let sha256 = sha256_hex(&std::fs::read(&alpha).unwrap());
    let key = IndexKey::parse("sha256", &sha256).unwrap();
    let (indexed, _) = fixture.shared().find_indexed(&key).unwrap();
    assert_eq!(indexed, fetched.archive);

    let cache = fixture.exclusive();
    let plan = maintenance::plan_clean(&cache, &["alpha".to_owned()]).unwrap();
    assert_eq!(plan.removals().len(), 4, "{plan:#?}");
    maintenance::remove(&cache, &plan).unwrap();
    assert!(!fetched.archive.path().exists());
    assert_eq!(listing(&index_dir).len(), 1, "the empty shard stays");
    drop(cache);
    assert_eq!(fixture.shared().read_index(&key), None);
}

#[test]
fn removal_needs_the_exclusive_lock() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/a.py", 10)]);
    fixture.fetch(&alpha);
    let shared = fixture.shared();
    let plan = maintenance::plan_clean(&shared, &[]).unwrap();
    assert!(!plan.is_empty());
    let before = listing(&fixture.root);
    let error = maintenance::remove(&shared, &plan).unwrap_err();
    assert!(
        matches!(error, MaintenanceError::NotExclusive { .. }),
        "{error}"
    );
    assert_eq!(listing(&fixture.root), before);
}

fn sha256_hex(bytes: &[u8]) -> String {
    let mut hasher = HasherSet::new(&[HashAlgorithm::Sha256]);
    hasher.update(bytes);
    hasher
        .finalize()
        .get(HashAlgorithm::Sha256)
        .unwrap()
        .to_hex()
}
