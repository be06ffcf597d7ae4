//! File locks between real processes: contention, timeouts, shared holders, release on exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::child as support;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use cairn_fs::{LockError, LockMode, LockedFile};

#[test]
#[ignore = "child-process entry point, run by other tests"]
fn child_entry() {
    let Some(role) = support::child_role() else {
        return;
    };
    let args = support::child_args();
    let mode = match role.as_str() {
        "hold-shared" => LockMode::Shared,
        "hold-exclusive" => LockMode::Exclusive,
        other => panic!("unknown role {other}"),
    };
    let _lock = LockedFile::acquire(Path::new(&args[0]), mode, None).unwrap();
    println!("locked");
    // Hold the lock until the parent closes our stdin.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

struct Holder(std::process::Child);

impl Holder {
    fn start(path: &Path, mode: LockMode) -> Self {
        let role = match mode {
            LockMode::Shared => "hold-shared",
            LockMode::Exclusive => "hold-exclusive",
        };
        let mut child = support::spawn_child("child_entry", role, &[path.to_str().unwrap()]);
        support::wait_for_line(&mut child, "locked");
        Self(child)
    }

    fn release(mut self) {
        drop(self.0.stdin.take());
        assert!(self.0.wait().unwrap().success());
    }
}

#[test]
fn exclusive_holder_blocks_try_acquire_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let holder = Holder::start(&path, LockMode::Exclusive);
    assert!(
        LockedFile::try_acquire(&path, LockMode::Exclusive)
            .unwrap()
            .is_none()
    );
    assert!(
        LockedFile::try_acquire(&path, LockMode::Shared)
            .unwrap()
            .is_none()
    );
    holder.release();
    assert!(
        LockedFile::try_acquire(&path, LockMode::Exclusive)
            .unwrap()
            .is_some()
    );
}

#[test]
fn shared_holders_coexist_but_exclude_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let holder = Holder::start(&path, LockMode::Shared);
    let mine = LockedFile::try_acquire(&path, LockMode::Shared).unwrap();
    assert!(mine.is_some());
    assert!(
        LockedFile::try_acquire(&path, LockMode::Exclusive)
            .unwrap()
            .is_none()
    );
    drop(mine);
    holder.release();
    assert!(
        LockedFile::try_acquire(&path, LockMode::Exclusive)
            .unwrap()
            .is_some()
    );
}

#[test]
fn timeout_names_the_lock_file_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let holder = Holder::start(&path, LockMode::Exclusive);
    let error =
        LockedFile::acquire(&path, LockMode::Shared, Some(Duration::from_millis(100))).unwrap_err();
    assert!(matches!(error, LockError::Timeout { .. }));
    let message = error.to_string();
    assert!(message.contains(&*path.to_string_lossy()), "{message}");
    assert!(message.contains("another process holds it"), "{message}");
    holder.release();
}

#[test]
fn blocking_acquire_returns_once_the_holder_releases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let holder = Holder::start(&path, LockMode::Exclusive);
    let waiter = {
        let path = path.clone();
        std::thread::spawn(move || {
            LockedFile::acquire(&path, LockMode::Exclusive, Some(Duration::from_secs(60)))
        })
    };
    holder.release();
    let lock = waiter.join().unwrap().unwrap();
    assert_eq!(lock.mode(), LockMode::Exclusive);
}

#[test]
fn a_crashed_holder_releases_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let mut holder = Holder::start(&path, LockMode::Exclusive);
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    let lock = LockedFile::acquire(&path, LockMode::Exclusive, Some(Duration::from_secs(10)));
    assert!(lock.is_ok());
}

#[test]
fn unopenable_lock_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join(".lock");
    let error = LockedFile::try_acquire(&path, LockMode::Shared).unwrap_err();
    assert!(matches!(error, LockError::Io { .. }));
    assert!(error.to_string().contains("missing-dir"), "{error}");
}
