//! `verify` and its repair plan on caches of real wheels: each kind of damage is found,
//! harmless oddities are told apart from damage, and a repaired cache fetches again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod maintenance_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cairn_cache::Pointer;
use cairn_cache::maintenance::{self, ProblemKind, VerifyReport};
use cairn_test_support::wheel::WheelBuilder;
use maintenance_support::{Fixture, Outcome, noise};

/// The problems as `(kind, path relative to the root, detail)`.
fn problems(fixture: &Fixture, report: &VerifyReport) -> Vec<(ProblemKind, String, String)> {
    report
        .problems
        .iter()
        .map(|problem| {
            (
                problem.kind,
                fixture.rel(&problem.path),
                problem.detail.clone(),
            )
        })
        .collect()
}

/// Asserts that `found` has exactly one problem per expectation, matched by kind, path and a
/// fragment of the detail.
fn check(found: &[(ProblemKind, String, String)], expected: &[(ProblemKind, &str, &str)]) {
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (kind, path, fragment) in expected {
        assert!(
            found
                .iter()
                .any(|(k, p, detail)| k == kind && p == path && detail.contains(fragment)),
            "no {kind} problem at {path} mentioning {fragment:?} in {found:#?}"
        );
    }
}

#[test]
fn a_freshly_fetched_cache_is_healthy() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/a.py", 1000), ("alpha/b.py", 0)]);
    let beta = WheelBuilder::new("beta", "2.0")
        .file("beta/__init__.py", "x = 1\n")
        .executable("beta/tool.sh", "#!/bin/sh\n")
        .build(&fixture.wheels);
    fixture.fetch(&alpha);
    fixture.fetch(&beta);
    let report = maintenance::verify(&fixture.shared()).unwrap();
    assert_eq!(report.problems, []);
    assert!(report.is_healthy());
    // Each wheel adds METADATA, WHEEL and RECORD.
    assert_eq!(
        (
            report.archives,
            report.files,
            report.pointers,
            report.index_entries
        ),
        (2, 2 + 3 + 2 + 3, 2, 0)
    );
    assert!(report.repair.is_empty());
}

#[test]
fn verify_finds_every_kind_of_damage_and_repair_heals_it() {
    let fixture = Fixture::new();
    let mut builder = WheelBuilder::new("alpha", "1.0");
    for (index, name) in ["a", "b", "c", "e"].into_iter().enumerate() {
        builder = builder.file(&format!("alpha/{name}.py"), noise(5000, index as u64 + 1));
    }
    let alpha = builder
        .executable("bin/tool", "#!/bin/sh\necho tool\n")
        .build(&fixture.wheels);
    let beta = fixture.wheel("beta", "1.0", &[("beta/b.py", 10)]);
    let gamma = fixture.wheel("gamma", "1.0", &[("gamma/g.py", 10)]);
    let delta = fixture.wheel("delta", "1.0", &[("delta/d.py", 10)]);
    let alpha_fetch = fixture.fetch(&alpha);
    let beta_fetch = fixture.fetch(&beta);
    let gamma_fetch = fixture.fetch(&gamma);
    let delta_fetch = fixture.fetch(&delta);
    let cache = fixture.shared();
    let archive = alpha_fetch.archive.path();
    let original_a = std::fs::read(archive.join("alpha/a.py")).unwrap();

    // alpha: a flipped byte, a truncated file, a missing file, an extra file, a lost execute
    // bit and a file replaced by a symbolic link.
    let mut flipped = original_a.clone();
    flipped[100] ^= 0x01;
    std::fs::write(archive.join("alpha/a.py"), &flipped).unwrap();
    let b = std::fs::OpenOptions::new()
        .write(true)
        .open(archive.join("alpha/b.py"))
        .unwrap();
    b.set_len(4000).unwrap();
    std::fs::remove_file(archive.join("alpha/c.py")).unwrap();
    std::fs::write(archive.join("alpha/extra.py"), "print('hi')\n").unwrap();
    std::fs::set_permissions(
        archive.join("bin/tool"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::remove_file(archive.join("alpha/e.py")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", archive.join("alpha/e.py")).unwrap();
    // beta: its archive is gone, so its pointer dangles and its manifest is an orphan.
    std::fs::remove_dir_all(beta_fetch.archive.path()).unwrap();
    // gamma: no manifest, so it cannot be checked (harmless).
    std::fs::remove_file(cache.manifest_path(gamma_fetch.archive.digest())).unwrap();
    // delta: no pointer names its archive (harmless).
    std::fs::remove_file(fixture.pointer_path(&delta)).unwrap();
    // Records: an index entry naming nothing, and a pointer whose BLAKE3 is not its archive.
    let index = fixture.root.join("hashes-v1").join("sha256").join("ab");
    std::fs::create_dir_all(&index).unwrap();
    std::fs::write(
        index.join("c".repeat(62)),
        format!("{} 9 demo-1.0-py3-none-any.whl\n", "d".repeat(64)),
    )
    .unwrap();
    let gamma_pointer = fixture.pointer_path(&gamma);
    let mut forged: Pointer =
        serde_json::from_slice(&std::fs::read(&gamma_pointer).unwrap()).unwrap();
    forged.archive = delta_fetch.archive.digest().as_str().to_owned();
    let forged_path = fixture.root.join("wheels-v0/path/00000000000000ee.json");
    std::fs::write(&forged_path, serde_json::to_vec(&forged).unwrap()).unwrap();

    let report = maintenance::verify(&cache).unwrap();
    let alpha_dir = fixture.rel(archive);
    let beta_pointer = fixture.rel(&fixture.root.join(rel_pointer(&beta)));
    let beta_manifest = fixture.rel(&cache.manifest_path(beta_fetch.archive.digest()));
    let gamma_dir = fixture.rel(gamma_fetch.archive.path());
    let delta_dir = fixture.rel(delta_fetch.archive.path());
    let index_entry = format!("hashes-v1/sha256/ab/{}", "c".repeat(62));
    check(
        &problems(&fixture, &report),
        &[
            (
                ProblemKind::Corrupt,
                &alpha_dir,
                "`alpha/a.py`: content differs",
            ),
            (
                ProblemKind::Corrupt,
                &alpha_dir,
                "`alpha/b.py`: 4000 bytes, but 5000",
            ),
            (ProblemKind::Corrupt, &alpha_dir, "`alpha/c.py`: missing"),
            (
                ProblemKind::Corrupt,
                &alpha_dir,
                "`alpha/e.py`: not a regular file",
            ),
            (
                ProblemKind::Corrupt,
                &alpha_dir,
                "`alpha/extra.py`: not in the manifest",
            ),
            (
                ProblemKind::Corrupt,
                &alpha_dir,
                "`bin/tool`: lost its execute permission",
            ),
            (ProblemKind::Missing, &beta_pointer, "not in the store"),
            (
                ProblemKind::Orphaned,
                &beta_manifest,
                "manifest of an archive",
            ),
            (ProblemKind::Unverifiable, &gamma_dir, "no manifest"),
            (ProblemKind::Missing, &index_entry, "not in the store"),
            (
                ProblemKind::Corrupt,
                "wheels-v0/path/00000000000000ee.json",
                "records the BLAKE3 digest",
            ),
        ],
    );
    assert!(!report.is_healthy());
    // delta's archive is named by the forged pointer, so it is not an orphan yet.
    assert!(
        !report
            .problems
            .iter()
            .any(|p| fixture.rel(&p.path) == delta_dir)
    );
    drop(cache);

    let cache = fixture.exclusive();
    let report = maintenance::verify(&cache).unwrap();
    maintenance::remove(&cache, &report.repair).unwrap();
    assert!(!archive.exists());
    let after = maintenance::verify(&cache).unwrap();
    drop(cache);
    check(
        &problems(&fixture, &after),
        &[
            (
                ProblemKind::Orphaned,
                &beta_manifest,
                "manifest of an archive",
            ),
            (ProblemKind::Unverifiable, &gamma_dir, "no manifest"),
            (ProblemKind::Orphaned, &delta_dir, "no pointer names"),
        ],
    );
    assert!(after.is_healthy());

    // The next fetch unpacks again, and the result is what the wheel holds.
    let refetched = fixture.fetch(&alpha);
    assert_eq!(refetched.outcome, Outcome::Unpacked);
    assert_eq!(
        std::fs::read(archive.join("alpha/a.py")).unwrap(),
        original_a
    );
    assert_eq!(fixture.fetch(&beta).outcome, Outcome::Unpacked);
    assert_eq!(fixture.fetch(&gamma).outcome, Outcome::PointerHit);
    let last = maintenance::verify(&fixture.shared()).unwrap();
    check(
        &problems(&fixture, &last),
        &[
            (ProblemKind::Unverifiable, &gamma_dir, "no manifest"),
            (ProblemKind::Orphaned, &delta_dir, "no pointer names"),
        ],
    );
}

#[test]
fn an_unreadable_manifest_makes_its_archive_untrusted() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/a.py", 100)]);
    let fetched = fixture.fetch(&alpha);
    let manifest = fixture.shared().manifest_path(fetched.archive.digest());
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, &text[..text.len() - 5]).unwrap();

    let cache = fixture.exclusive();
    let report = maintenance::verify(&cache).unwrap();
    check(
        &problems(&fixture, &report),
        &[(
            ProblemKind::Corrupt,
            &fixture.rel(&manifest),
            "manifest is unreadable",
        )],
    );
    let mut repaired: Vec<String> = report
        .repair
        .removals()
        .iter()
        .map(|removal| fixture.rel(&removal.path))
        .collect();
    repaired.sort();
    let mut expected = vec![
        fixture.rel(fetched.archive.path()),
        fixture.rel(&manifest),
        fixture.rel(&fixture.root.join(rel_pointer(&alpha))),
    ];
    expected.sort();
    assert_eq!(repaired, expected);
    maintenance::remove(&cache, &report.repair).unwrap();
    drop(cache);
    assert_eq!(fixture.fetch(&alpha).outcome, Outcome::Unpacked);
    assert!(
        maintenance::verify(&fixture.shared())
            .unwrap()
            .problems
            .is_empty()
    );
}

#[test]
fn one_damaged_archive_among_many_is_found() {
    let fixture = Fixture::new();
    let mut fetched = Vec::new();
    for index in 0..40 {
        let name = format!("pkg{index}");
        let wheel = fixture.wheel(&name, "1.0", &[(&format!("{name}/data.bin"), 3000)]);
        fetched.push(fixture.fetch(&wheel));
    }
    let victim = fetched[17].archive.path().join("pkg17/data.bin");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[2999] ^= 0x80;
    std::fs::write(&victim, bytes).unwrap();
    let report = maintenance::verify(&fixture.shared()).unwrap();
    assert_eq!(report.archives, 40);
    check(
        &problems(&fixture, &report),
        &[(
            ProblemKind::Corrupt,
            &fixture.rel(fetched[17].archive.path()),
            "`pkg17/data.bin`: content differs",
        )],
    );
}

/// The pointer of a local wheel, relative to the root (`wheels-v0/path/<digest>.json`).
fn rel_pointer(wheel: &Path) -> String {
    format!(
        "wheels-v0/path/{}.json",
        cairn_cache_key::cache_digest(wheel)
    )
}
