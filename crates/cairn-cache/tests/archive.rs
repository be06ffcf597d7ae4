//! The content-addressed archive store, including racing persists from real processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, Write};

use cairn_cache::Cache;
use cairn_fs::{ContentDigest, PersistOutcome, TEMP_PREFIX};
use cairn_test_support::child;

const DIGEST: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

fn unpack_into(cache: &Cache) -> tempfile::TempDir {
    let temp = cache.temp_dir().unwrap();
    std::fs::create_dir_all(temp.path().join("pkg")).unwrap();
    for index in 0..50 {
        std::fs::write(
            temp.path().join("pkg").join(format!("m{index}.py")),
            "x = 1\n",
        )
        .unwrap();
    }
    temp
}

#[test]
#[ignore = "child-process entry point, run by other tests"]
fn child_entry() {
    let Some(role) = child::child_role() else {
        return;
    };
    assert_eq!(role, "persist");
    let args = child::child_args();
    let cache = Cache::at(&args[0]).unwrap();
    let temp = unpack_into(&cache);
    println!("ready");
    // Wait for the parent's go, so all children rename at the same moment.
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    let (_, outcome) = cache
        .persist(temp, &ContentDigest::hex(DIGEST).unwrap())
        .unwrap();
    println!("outcome={outcome:?}");
}

#[test]
fn persist_then_find() {
    let cache = Cache::temporary().unwrap();
    let digest = ContentDigest::hex(DIGEST).unwrap();
    assert!(cache.find_archive(&digest).is_none());
    let (archive, outcome) = cache.persist(unpack_into(&cache), &digest).unwrap();
    assert_eq!(outcome, PersistOutcome::Persisted);
    assert_eq!(
        archive.path(),
        cache
            .root()
            .join("archive-v0")
            .join("af")
            .join(&DIGEST[2..])
    );
    assert_eq!(cache.find_archive(&digest), Some(archive.clone()));
    assert!(archive.path().join("pkg").join("m0.py").is_file());
}

#[test]
fn concurrent_processes_persisting_one_digest_leave_one_copy() {
    const PROCESSES: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| child::spawn_child("child_entry", "persist", &[root]))
        .collect();
    for child in &mut children {
        child::wait_for_line(child, "ready");
    }
    for child in &mut children {
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    }
    let outputs: Vec<String> = children.into_iter().map(child::finish).collect();
    let persisted = outputs
        .iter()
        .filter(|out| out.contains("outcome=Persisted"))
        .count();
    let present = outputs
        .iter()
        .filter(|out| out.contains("outcome=AlreadyPresent"))
        .count();
    assert_eq!((persisted, present), (1, PROCESSES - 1), "{outputs:?}");

    let shard = dir.path().join("archive-v0").join("af");
    assert_eq!(std::fs::read_dir(&shard).unwrap().count(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(TEMP_PREFIX))
        .collect();
    assert!(
        leftovers.is_empty(),
        "losers removed their copies: {leftovers:?}"
    );
}

#[test]
fn temp_dirs_are_inside_the_root_and_never_look_like_archives() {
    let cache = Cache::temporary().unwrap();
    let temp = cache.temp_dir().unwrap();
    assert_eq!(temp.path().parent(), Some(cache.root()));
    let name = temp
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with(TEMP_PREFIX));
    assert!(ContentDigest::hex(&name).is_err());
}

#[test]
fn per_key_locks_exclude_each_other() {
    let cache = Cache::temporary().unwrap();
    let held = cache.lock("numpy-2.4.6", None).unwrap();
    let other = cache.lock("numpy-2.4.6", Some(std::time::Duration::from_millis(20)));
    assert!(other.is_err());
    assert!(
        cache
            .lock("scipy-1.17.1", Some(std::time::Duration::ZERO))
            .is_ok()
    );
    drop(held);
    assert!(
        cache
            .lock("numpy-2.4.6", Some(std::time::Duration::ZERO))
            .is_ok()
    );
}
