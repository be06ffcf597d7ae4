//! Choosing and initialising the cache root, and the root lock between processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use cairn_cache::{Cache, CacheBucket, CacheError, CacheSettings};
use cairn_test_support::child;

#[test]
#[ignore = "child-process entry point, run by other tests"]
fn child_entry() {
    let Some(role) = child::child_role() else {
        return;
    };
    let args = child::child_args();
    match role.as_str() {
        "print-root" => {
            let cache = Cache::open(&CacheSettings::default()).unwrap();
            println!("root={}", cache.root().display());
        }
        "hold-shared" => {
            let _cache = Cache::at(&args[0]).unwrap();
            println!("ready");
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
        }
        other => panic!("unknown role {other}"),
    }
}

fn root_printed_with(env: &[(&str, &Path)], unset: &[&str]) -> String {
    let mut command = child::child_command("child_entry", "print-root", &[]);
    for (key, value) in env {
        command.env(key, value);
    }
    for key in unset {
        command.env_remove(key);
    }
    let out = child::finish(command.spawn().unwrap());
    out.lines()
        .find_map(|line| line.split_once("root=").map(|(_, root)| root.to_owned()))
        .unwrap()
}

#[test]
fn explicit_dir_is_made_absolute_and_initialised() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(dir.path().join("nested").join("cache")).unwrap();
    assert!(cache.root().is_absolute());
    let tag = std::fs::read_to_string(cache.root().join("CACHEDIR.TAG")).unwrap();
    assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
    assert_eq!(
        std::fs::read_to_string(cache.root().join(".gitignore")).unwrap(),
        "*\n"
    );
    assert_eq!(
        cache.bucket(CacheBucket::Archive),
        cache.root().join("archive-v0")
    );
}

#[test]
fn env_var_wins_over_the_platform_default() {
    let dir = tempfile::tempdir().unwrap();
    let chosen = dir.path().join("from-env");
    let xdg = dir.path().join("xdg");
    let root = root_printed_with(
        &[("CAIRN_CACHE_DIR", &chosen), ("XDG_CACHE_HOME", &xdg)],
        &[],
    );
    assert_eq!(Path::new(&root), chosen);
}

#[test]
fn platform_default_is_xdg_cache_home() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    let root = root_printed_with(&[("XDG_CACHE_HOME", &xdg)], &["CAIRN_CACHE_DIR"]);
    assert_eq!(Path::new(&root), xdg.join("cairn"));
}

#[test]
fn temporary_cache_is_removed_when_the_last_handle_drops() {
    let cache = Cache::temporary().unwrap();
    let root = cache.root().to_owned();
    let clone = cache.clone();
    drop(cache);
    assert!(root.exists(), "a clone still holds the cache");
    drop(clone);
    assert!(!root.exists());
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cache>();
}

#[test]
fn maintenance_waits_for_users_and_names_the_lock_on_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let mut user = child::spawn_child("child_entry", "hold-shared", &[root]);
    child::wait_for_line(&mut user, "ready");
    // Another shared user is fine.
    let second = Cache::at(root).unwrap();
    drop(second);
    let settings = CacheSettings {
        dir: Some(dir.path().to_owned()),
        lock_timeout: Some(Duration::from_millis(100)),
        ..CacheSettings::default()
    };
    let error = Cache::open_exclusive(&settings).unwrap_err();
    assert!(matches!(error, CacheError::Lock { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&*dir.path().join(".lock").to_string_lossy()),
        "{message}"
    );
    assert!(message.contains("maintenance"), "{message}");
    drop(user.stdin.take());
    user.wait().unwrap();
    let exclusive = Cache::open_exclusive(&settings).unwrap();
    drop(exclusive);
}

#[test]
fn an_exclusive_holder_keeps_users_out_until_it_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let settings = CacheSettings {
        dir: Some(dir.path().to_owned()),
        lock_timeout: Some(Duration::from_millis(50)),
        ..CacheSettings::default()
    };
    let maintenance = Cache::open_exclusive(&settings).unwrap();
    assert!(Cache::open(&settings).is_err());
    drop(maintenance);
    assert!(Cache::open(&settings).is_ok());
}
