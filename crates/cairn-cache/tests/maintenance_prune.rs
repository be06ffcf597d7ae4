//! `plan_prune` and `remove` on caches of real wheels: what always goes, `--max-age`
//! boundaries, `--max-size` in least-recently-used order, `--ci`, dry runs, and removal that
//! never leaves the root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod maintenance_support;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_cache::maintenance::{self, PruneOptions, Reason};
use cairn_cache::{Cache, CacheBucket, Pointer};
use maintenance_support::{Fixture, Outcome, age, allocated, listing};

fn prune(fixture: &Fixture, options: &PruneOptions) -> Vec<(String, Reason)> {
    let cache = fixture.exclusive();
    let plan = maintenance::plan_prune(&cache, options).unwrap();
    let entries = fixture.plan_entries(&plan);
    let removed = maintenance::remove(&cache, &plan).unwrap();
    assert_eq!(removed, plan.usage());
    entries
}

fn plan(fixture: &Fixture, options: &PruneOptions) -> Vec<(String, Reason)> {
    let plan = maintenance::plan_prune(&fixture.shared(), options).unwrap();
    fixture.plan_entries(&plan)
}

fn sorted(mut entries: Vec<(String, Reason)>) -> Vec<(String, Reason)> {
    entries.sort();
    entries
}

fn at(unix_seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_seconds)
}

/// Moves the pointer of `wheel` to a URL pointer with an HTTP policy beside it, as a download
/// of the same bytes would have left it.
fn make_url_pointer(fixture: &Fixture, wheel: &Path, key: &str) -> (String, String) {
    let path = fixture.pointer_path(wheel);
    let mut pointer: Pointer = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    pointer.source = format!("https://example.org/{}", pointer.filename);
    pointer.source_modified = None;
    let url_dir = fixture.root.join("wheels-v0").join("url");
    std::fs::create_dir_all(&url_dir).unwrap();
    std::fs::write(
        url_dir.join(format!("{key}.json")),
        serde_json::to_vec_pretty(&pointer).unwrap(),
    )
    .unwrap();
    std::fs::write(url_dir.join(format!("{key}.http")), "policy").unwrap();
    std::fs::remove_file(&path).unwrap();
    (
        format!("wheels-v0/url/{key}.json"),
        format!("wheels-v0/url/{key}.http"),
    )
}

#[test]
fn prune_removes_what_nothing_uses_and_keeps_what_is_used() {
    let fixture = Fixture::new();
    let kept = fixture.wheel("kept", "1.0", &[("kept/a.py", 100)]);
    let orphaned = fixture.wheel("orphaned", "1.0", &[("orphaned/a.py", 100)]);
    let dangling = fixture.wheel("dangling", "1.0", &[("dangling/a.py", 100)]);
    let kept_fetch = fixture.fetch(&kept);
    let orphan_fetch = fixture.fetch(&orphaned);
    let dangling_fetch = fixture.fetch(&dangling);
    let cache = fixture.shared();

    // An archive whose pointer is gone.
    let orphan_pointer = fixture.pointer_path(&orphaned);
    std::fs::remove_file(&orphan_pointer).unwrap();
    // A pointer whose archive is gone, leaving the manifest an orphan.
    let dangling_pointer = fixture.rel(&fixture.pointer_path(&dangling));
    std::fs::remove_dir_all(dangling_fetch.archive.path()).unwrap();
    let dangling_manifest = fixture.rel(&cache.manifest_path(dangling_fetch.archive.digest()));
    // Records nobody can use.
    let wheels = fixture.root.join("wheels-v0");
    std::fs::write(
        wheels.join("path").join("00000000000000aa.json"),
        "{ not json",
    )
    .unwrap();
    std::fs::create_dir_all(wheels.join("url")).unwrap();
    std::fs::write(wheels.join("url").join("00000000000000bb.http"), "policy").unwrap();
    let index = fixture.root.join("hashes-v1").join("sha256").join("ab");
    std::fs::create_dir_all(&index).unwrap();
    std::fs::write(
        index.join("c".repeat(62)),
        format!("{} 10 demo-1.0-py3-none-any.whl\n", "d".repeat(64)),
    )
    .unwrap();
    std::fs::write(index.join("e".repeat(62)), "garbage").unwrap();
    std::fs::write(
        index.join("f".repeat(62)),
        format!(
            "{} 10 demo-1.0-py3-none-any.whl\n",
            kept_fetch.archive.digest().as_str()
        ),
    )
    .unwrap();
    // Leftovers: old ones go, a fresh one may belong to a process opening the cache.
    let old_temp = fixture.root.join(".tmp-old");
    std::fs::create_dir(&old_temp).unwrap();
    std::fs::write(old_temp.join("partial"), "x").unwrap();
    age(&old_temp, Duration::from_secs(3600));
    let old_record_temp = wheels.join("path").join(".tmp-record");
    std::fs::write(&old_record_temp, "x").unwrap();
    age(&old_record_temp, Duration::from_secs(3600));
    std::fs::write(fixture.root.join(".tmp-fresh"), "x").unwrap();
    // Old bucket versions go; unknown directories stay, even if they look like buckets.
    for dir in [
        "archive-v7",
        "wheels-v12",
        "archive-vX",
        "unknown-v1",
        "notes",
    ] {
        std::fs::create_dir(fixture.root.join(dir)).unwrap();
        std::fs::write(fixture.root.join(dir).join("file"), "x").unwrap();
    }
    drop(cache);

    let cache = fixture.shared();
    let orphan_archive = fixture.rel(orphan_fetch.archive.path());
    let orphan_manifest = fixture.rel(&cache.manifest_path(orphan_fetch.archive.digest()));
    drop(cache);
    let expected = sorted(vec![
        (orphan_archive, Reason::UnreferencedArchive),
        (orphan_manifest, Reason::UnreferencedArchive),
        (dangling_pointer, Reason::DanglingPointer),
        (dangling_manifest, Reason::OrphanManifest),
        (
            "wheels-v0/path/00000000000000aa.json".to_owned(),
            Reason::InvalidPointer,
        ),
        (
            "wheels-v0/url/00000000000000bb.http".to_owned(),
            Reason::OrphanPolicy,
        ),
        (
            format!("hashes-v1/sha256/ab/{}", "c".repeat(62)),
            Reason::OrphanIndexEntry,
        ),
        (
            format!("hashes-v1/sha256/ab/{}", "e".repeat(62)),
            Reason::OrphanIndexEntry,
        ),
        (".tmp-old".to_owned(), Reason::TempLeftover),
        (
            "wheels-v0/path/.tmp-record".to_owned(),
            Reason::TempLeftover,
        ),
        ("archive-v7".to_owned(), Reason::StaleBucket),
        ("wheels-v12".to_owned(), Reason::StaleBucket),
        ("locks-v0".to_owned(), Reason::LockFiles),
    ]);
    assert_eq!(prune(&fixture, &PruneOptions::default()), expected);

    for kept in [".tmp-fresh", "archive-vX", "unknown-v1", "notes"] {
        assert!(fixture.root.join(kept).exists(), "{kept}");
    }
    assert!(index.join("f".repeat(62)).is_file());
    // Nothing left to prune but the fresh leftover, which is young.
    assert_eq!(plan(&fixture, &PruneOptions::default()), []);
    assert_eq!(fixture.fetch(&kept).outcome, Outcome::PointerHit);
    assert_eq!(fixture.fetch(&orphaned).outcome, Outcome::Unpacked);
    assert_eq!(fixture.fetch(&dangling).outcome, Outcome::Unpacked);
}

#[test]
fn a_dry_run_changes_nothing() {
    let fixture = Fixture::new();
    let mut wheels = Vec::new();
    for (index, name) in ["alpha", "beta", "gamma", "delta"].into_iter().enumerate() {
        let wheel = fixture.wheel(name, "1.0", &[(&format!("{name}/data.bin"), 20_000)]);
        fixture.fetch(&wheel);
        fixture.set_last_used(&wheel, 1_000_000 + index as u64);
        wheels.push(wheel);
    }
    std::fs::remove_file(fixture.pointer_path(&wheels[0])).unwrap();
    std::fs::create_dir(fixture.root.join("hashes-v3")).unwrap();
    let temp = fixture.root.join(".tmp-crashed");
    std::fs::create_dir(&temp).unwrap();
    age(&temp, Duration::from_secs(7200));
    let before = listing(&fixture.root);

    let options = PruneOptions {
        ci: true,
        max_age: Some(Duration::from_secs(60)),
        max_size: Some(0),
        ..PruneOptions::default()
    };
    let planned = maintenance::plan_prune(&fixture.shared(), &options).unwrap();
    assert!(planned.removals().len() >= 10, "{planned:#?}");
    assert_eq!(listing(&fixture.root), before);
}

#[test]
fn max_age_removes_pointers_used_that_long_ago_or_longer() {
    let fixture = Fixture::new();
    let now = 2_000_000_000;
    let thirty_days = 30 * 86_400;
    let cases = [
        ("older", now - thirty_days - 1, true),
        ("exactly", now - thirty_days, true),
        ("younger", now - thirty_days + 1, false),
        ("future", now + 3600, false),
    ];
    let mut expected = Vec::new();
    let mut archives = Vec::new();
    for (name, last_used, removed) in cases {
        let wheel = fixture.wheel(name, "1.0", &[(&format!("{name}/a.py"), 100)]);
        let fetched = fixture.fetch(&wheel);
        fixture.set_last_used(&wheel, last_used);
        if removed {
            let digest = fetched.archive.digest().clone();
            expected.push((fixture.rel(&fixture.pointer_path(&wheel)), Reason::Expired));
            expected.push((
                fixture.rel(fetched.archive.path()),
                Reason::UnreferencedArchive,
            ));
            let manifest = fixture.shared().manifest_path(&digest);
            expected.push((fixture.rel(&manifest), Reason::UnreferencedArchive));
        }
        archives.push((fetched.archive.path().to_owned(), removed));
    }
    expected.push(("locks-v0".to_owned(), Reason::LockFiles));
    let options = PruneOptions {
        max_age: Some(Duration::from_secs(thirty_days)),
        now: at(now),
        ..PruneOptions::default()
    };
    assert_eq!(prune(&fixture, &options), sorted(expected));
    for (archive, removed) in archives {
        assert_eq!(archive.exists(), !removed, "{}", archive.display());
    }
}

#[test]
fn max_size_evicts_least_recently_used_first() {
    let fixture = Fixture::new();
    // Fetched in one order, used in another: eviction must follow use.
    let names = ["alpha", "beta", "gamma", "delta"];
    let last_used = [400, 100, 300, 200];
    let mut fetched = Vec::new();
    for (name, used) in names.iter().zip(last_used) {
        let wheel = fixture.wheel(name, "1.0", &[(&format!("{name}/data.bin"), 40_000)]);
        let archive = fixture.fetch(&wheel).archive;
        fixture.set_last_used(&wheel, 1_700_000_000 + used);
        fetched.push((wheel, archive));
    }
    // Evicting the least recently used (beta, then delta) must free exactly this much.
    let cost = |index: usize| {
        let (wheel, archive) = &fetched[index];
        let manifest = fixture.shared().manifest_path(archive.digest());
        fixture.row(wheel).archive_bytes.unwrap()
            + allocated(&fixture.pointer_path(wheel))
            + allocated(&manifest)
    };
    let (beta, delta) = (cost(1), cost(3));
    // Lock files are always pruned; measure what remains after them.
    prune(&fixture, &PruneOptions::default());
    let total = maintenance::cache_size(&fixture.shared(), maintenance::ArchiveSizes::Recorded)
        .unwrap()
        .bytes;

    let options = |max_size| PruneOptions {
        max_size: Some(max_size),
        ..PruneOptions::default()
    };
    assert_eq!(plan(&fixture, &options(total)), []);
    let evicted = |entries: Vec<(String, Reason)>| -> Vec<String> {
        entries
            .into_iter()
            .filter(|(path, reason)| *reason == Reason::Evicted && path.ends_with(".json"))
            .map(|(path, _)| path)
            .collect()
    };
    let pointer = |index: usize| fixture.rel(&fixture.pointer_path(&fetched[index].0));
    assert_eq!(evicted(plan(&fixture, &options(total - 1))), [pointer(1)]);
    assert_eq!(
        evicted(plan(&fixture, &options(total - beta))),
        [pointer(1)]
    );
    let mut two = vec![pointer(1), pointer(3)];
    two.sort();
    assert_eq!(evicted(plan(&fixture, &options(total - beta - 1))), two);
    assert_eq!(evicted(plan(&fixture, &options(total - beta - delta))), two);

    let removed = prune(&fixture, &options(total - beta - 1));
    assert_eq!(
        removed.len(),
        6,
        "two pointers, archives and manifests: {removed:?}"
    );
    assert!(!fetched[1].1.path().exists());
    assert!(!fetched[3].1.path().exists());
    assert!(fetched[0].1.path().is_dir());
    assert!(fetched[2].1.path().is_dir());
    let after = maintenance::cache_size(&fixture.shared(), maintenance::ArchiveSizes::Recorded)
        .unwrap()
        .bytes;
    assert!(after < total - beta, "{after} >= {}", total - beta);
}

#[test]
fn max_size_keeps_an_archive_another_pointer_still_names() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/data.bin", 40_000)]);
    let copy_dir = fixture.work.path().join("copy");
    std::fs::create_dir(&copy_dir).unwrap();
    let alpha_copy = copy_dir.join(alpha.file_name().unwrap());
    std::fs::copy(&alpha, &alpha_copy).unwrap();
    let setup = || {
        let archive = fixture.fetch(&alpha).archive;
        assert!(
            fixture.fetch(&alpha_copy).outcome.is_hit(),
            "the same archive"
        );
        fixture.set_last_used(&alpha, 100);
        fixture.set_last_used(&alpha_copy, 200);
        prune(&fixture, &PruneOptions::default());
        let older = fixture.rel(&fixture.pointer_path(&alpha));
        let pointer_bytes = allocated(&fixture.pointer_path(&alpha));
        let total = maintenance::cache_size(&fixture.shared(), maintenance::ArchiveSizes::Recorded)
            .unwrap()
            .bytes;
        (archive, older, pointer_bytes, total)
    };
    let max_size = |bytes| PruneOptions {
        max_size: Some(bytes),
        ..PruneOptions::default()
    };

    // Evicting the older pointer is enough, and the newer one still names the archive.
    let (archive, older, pointer_bytes, total) = setup();
    assert_eq!(
        prune(&fixture, &max_size(total - pointer_bytes)),
        [(older, Reason::Evicted)]
    );
    assert!(archive.path().is_dir());
    assert_eq!(fixture.fetch(&alpha_copy).outcome, Outcome::PointerHit);
    assert_eq!(fixture.fetch(&alpha).outcome, Outcome::ContentHit);

    // One byte less: both pointers go, and the archive with the last one.
    let (archive, _, pointer_bytes, total) = setup();
    let removed = prune(&fixture, &max_size(total - pointer_bytes - 1));
    let pointers = removed.iter().filter(|(path, _)| path.ends_with(".json"));
    assert_eq!(pointers.count(), 2, "{removed:?}");
    assert!(removed.contains(&(fixture.rel(archive.path()), Reason::Evicted)));
    assert!(!archive.path().exists());
}

#[test]
fn ci_drops_downloads_and_keeps_what_came_from_local_files() {
    let fixture = Fixture::new();
    let local = fixture.wheel("local", "1.0", &[("local/a.py", 100)]);
    let downloaded = fixture.wheel("downloaded", "1.0", &[("downloaded/a.py", 100)]);
    let both = fixture.wheel("both", "1.0", &[("both/a.py", 100)]);
    let local_archive = fixture.fetch(&local).archive;
    let downloaded_archive = fixture.fetch(&downloaded).archive;
    let both_archive = fixture.fetch(&both).archive;
    let (download_pointer, download_policy) =
        make_url_pointer(&fixture, &downloaded, "00000000000000d1");
    // `both` was downloaded and also fetched from a local path: the local pointer keeps it.
    let both_copy = fixture.work.path().join("both-1.0-py3-none-any.whl");
    std::fs::copy(&both, &both_copy).unwrap();
    let (both_pointer, both_policy) = make_url_pointer(&fixture, &both, "00000000000000d2");
    fixture.fetch(&both_copy);
    let simple = fixture.root.join("simple-v1").join("0123456789abcdef");
    std::fs::create_dir_all(&simple).unwrap();
    std::fs::write(simple.join("local.page"), "page").unwrap();
    let interpreter = fixture.root.join(CacheBucket::Interpreter.dir_name());
    std::fs::create_dir_all(&interpreter).unwrap();
    std::fs::write(interpreter.join("0123456789abcdef.json"), "{}").unwrap();
    let manifest = fixture.shared().manifest_path(downloaded_archive.digest());

    let options = PruneOptions {
        ci: true,
        ..PruneOptions::default()
    };
    let expected = sorted(vec![
        (download_pointer, Reason::Downloaded),
        (download_policy, Reason::Downloaded),
        (both_pointer, Reason::Downloaded),
        (both_policy, Reason::Downloaded),
        (
            fixture.rel(downloaded_archive.path()),
            Reason::UnreferencedArchive,
        ),
        (fixture.rel(&manifest), Reason::UnreferencedArchive),
        ("simple-v1".to_owned(), Reason::Downloaded),
        ("locks-v0".to_owned(), Reason::LockFiles),
    ]);
    assert_eq!(prune(&fixture, &options), expected);
    assert!(local_archive.path().is_dir());
    assert!(both_archive.path().is_dir());
    assert!(interpreter.join("0123456789abcdef.json").is_file());
    assert_eq!(fixture.fetch(&local).outcome, Outcome::PointerHit);
    assert_eq!(fixture.fetch(&both_copy).outcome, Outcome::PointerHit);
}

#[test]
fn removal_never_follows_a_symlink_out_of_the_cache() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/a.py", 100)]);
    fixture.fetch(&alpha);
    let outside = fixture.work.path().join("precious");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), "keep").unwrap();
    // Links inside things prune removes whole, and links that are themselves removed.
    let stale = fixture.root.join("wheels-v9");
    std::fs::create_dir(&stale).unwrap();
    std::os::unix::fs::symlink(&outside, stale.join("link-to-dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("keep.txt"), stale.join("link-to-file")).unwrap();
    std::os::unix::fs::symlink(&outside, fixture.root.join("hashes-v4")).unwrap();
    std::os::unix::fs::symlink(&outside, fixture.root.join(".tmp-link")).unwrap();
    let old_temp = fixture.root.join(".tmp-dir");
    std::fs::create_dir(&old_temp).unwrap();
    std::os::unix::fs::symlink(&outside, old_temp.join("inner-link")).unwrap();

    let options = PruneOptions {
        temp_grace: Duration::ZERO,
        ..PruneOptions::default()
    };
    let removed = prune(&fixture, &options);
    let paths: Vec<&str> = removed.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            ".tmp-dir",
            ".tmp-link",
            "hashes-v4",
            "locks-v0",
            "wheels-v9"
        ]
    );
    for gone in ["wheels-v9", "hashes-v4", ".tmp-link", ".tmp-dir"] {
        assert!(
            std::fs::symlink_metadata(fixture.root.join(gone)).is_err(),
            "{gone}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("keep.txt")).unwrap(),
        "keep"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);

    // A bucket that is itself a link is refused outright.
    let archives = fixture.work.path().join("archives-elsewhere");
    std::fs::rename(fixture.root.join("archive-v0"), &archives).unwrap();
    std::os::unix::fs::symlink(&archives, fixture.root.join("archive-v0")).unwrap();
    let before = listing(&archives);
    let cache = fixture.exclusive();
    let error = maintenance::plan_prune(&cache, &PruneOptions::default()).unwrap_err();
    assert!(error.to_string().contains("symbolic link"), "{error}");
    drop(cache);
    assert_eq!(listing(&archives), before);
}

#[test]
fn removing_an_archive_leaves_no_leftovers() {
    // Removal renames an archive to a `.tmp-*` name before deleting it, so that a partly
    // deleted archive is never found under its own name; the renamed tree must go too.
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/a.py", 100), ("alpha/b.py", 100)]);
    let archive = fixture.fetch(&alpha).archive;
    std::fs::remove_file(fixture.pointer_path(&alpha)).unwrap();
    let cache: Cache = fixture.exclusive();
    let plan = maintenance::plan_prune(&cache, &PruneOptions::default()).unwrap();
    maintenance::remove(&cache, &plan).unwrap();
    drop(cache);
    assert!(!archive.path().exists());
    let leftovers: Vec<String> = listing(&fixture.root)
        .into_keys()
        .filter(|path| path.starts_with(".tmp-"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
}
