//! `open_cache` against another real process holding the root lock: say so, then wait a
//! bounded time, or fail at once. Pair by pair, with timeouts, never sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::io::{BufRead, Write};
use std::process::Child;
use std::time::Duration;

use cairn_cache::maintenance::{LockWait, MaintenanceError, open_cache};
use cairn_cache::{Cache, CacheSettings};
use cairn_fs::LockMode;
use cairn_test_support::child;

#[test]
#[ignore = "child-process entry point, run by other tests"]
fn child_entry() {
    let Some(role) = child::child_role() else {
        return;
    };
    let args = child::child_args();
    let settings = CacheSettings {
        dir: Some(args[0].clone().into()),
        ..CacheSettings::default()
    };
    let _cache = match role.as_str() {
        "shared" => Cache::open(&settings).unwrap(),
        "exclusive" => Cache::open_exclusive(&settings).unwrap(),
        other => panic!("unknown role {other}"),
    };
    println!("holding");
    // Hold the lock until the parent says to let go.
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
}

fn hold(root: &std::path::Path, mode: &str) -> Child {
    let mut process = child::spawn_child("child_entry", mode, &[root.to_str().unwrap()]);
    child::wait_for_line(&mut process, "holding");
    process
}

fn release(mut process: Child) {
    process.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    child::finish(process);
}

fn settings(root: &std::path::Path) -> CacheSettings {
    CacheSettings {
        dir: Some(root.to_owned()),
        ..CacheSettings::default()
    }
}

#[test]
fn maintenance_waits_for_users_says_so_and_gives_up_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let user = hold(&root, "shared");

    let announced = Cell::new(0);
    let error = open_cache(
        &settings(&root),
        LockMode::Exclusive,
        LockWait::NoWait,
        |_| {
            announced.set(announced.get() + 1);
        },
    )
    .unwrap_err();
    assert!(matches!(error, MaintenanceError::Busy { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("in use by another cairn process")
    );
    assert_eq!(announced.get(), 0, "no wait, nothing to announce");

    let timeout = LockWait::Timeout(Duration::from_millis(100));
    let error = open_cache(
        &settings(&root),
        LockMode::Exclusive,
        timeout,
        |announced_root| {
            assert_eq!(announced_root, root);
            announced.set(announced.get() + 1);
        },
    )
    .unwrap_err();
    assert!(
        matches!(error, MaintenanceError::LockTimeout { .. }),
        "{error}"
    );
    assert_eq!(announced.get(), 1);

    // Readers share the cache with users, without waiting.
    let reader = open_cache(&settings(&root), LockMode::Shared, LockWait::NoWait, |_| {
        panic!("readers do not wait for users")
    })
    .unwrap();
    drop(reader);

    release(user);
    let cache = open_cache(
        &settings(&root),
        LockMode::Exclusive,
        LockWait::NoWait,
        |_| panic!("nobody holds the cache any more"),
    )
    .unwrap();
    assert!(cache.is_exclusive());
}

#[test]
fn readers_wait_for_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let maintenance = hold(&root, "exclusive");
    let error =
        open_cache(&settings(&root), LockMode::Shared, LockWait::NoWait, |_| {}).unwrap_err();
    assert!(matches!(error, MaintenanceError::Busy { .. }), "{error}");

    // A wait that ends when the holder lets go: release from another thread once the wait
    // has been announced.
    let (announce, announced) = std::sync::mpsc::channel();
    let releaser = std::thread::spawn(move || {
        announced.recv().unwrap();
        release(maintenance);
    });
    let cache = open_cache(
        &settings(&root),
        LockMode::Shared,
        LockWait::Timeout(Duration::from_secs(60)),
        |_| announce.send(()).unwrap(),
    )
    .unwrap();
    assert!(!cache.is_exclusive());
    releaser.join().unwrap();
}

#[test]
fn a_waiting_maintainer_goes_ahead_of_newcomers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let user = hold(&root, "shared");

    let maintainer = {
        let settings = settings(&root);
        std::thread::spawn(move || {
            let settings = CacheSettings {
                lock_timeout: Some(Duration::from_secs(60)),
                ..settings
            };
            Cache::open_exclusive(&settings).unwrap()
        })
    };
    // The maintainer is waiting once it holds the maintenance lock.
    let gate = root.join(cairn_cache::MAINTENANCE_LOCK_FILE);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while cairn_fs::LockedFile::try_acquire(&gate, LockMode::Shared)
        .unwrap()
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the maintainer never queued"
        );
        std::thread::yield_now();
    }

    // A newcomer now waits behind it, although only a shared user holds the cache.
    let newcomer = CacheSettings {
        lock_timeout: Some(Duration::from_millis(100)),
        ..settings(&root)
    };
    let error = Cache::open(&newcomer).unwrap_err();
    assert!(error.to_string().contains(".maintenance.lock"), "{error}");

    release(user);
    let maintenance = maintainer.join().unwrap();
    assert!(maintenance.is_exclusive());
    assert!(Cache::open(&newcomer).is_err(), "maintenance is running");
    drop(maintenance);
    assert!(Cache::open(&newcomer).is_ok());
}
