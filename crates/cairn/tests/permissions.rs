//! Caches and permissions, with the real `cairn` binary: a cache this user cannot write still
//! serves what it holds and says what it cannot do; nothing in a cache is writable by other
//! users under a permissive umask; a shared (setgid, group-writable) root shares what cairn
//! creates in it with its group.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cairn_fs::{LockMode, LockedFile};

use cairn_test_support::wheel::WheelBuilder;
use support::{command, stderr};

/// The uid and gid of `nobody`, whom root becomes to lose its write access.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // `/proc/self` belongs to the effective user.
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// `command` run with the umask `mask`, through `sh`.
fn with_umask(command: &Command, mask: &str) -> Command {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("umask {mask} && exec \"$0\" \"$@\""))
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => shell.env(name, value),
            None => shell.env_remove(name),
        };
    }
    shell
}

#[track_caller]
fn run(mut command: Command) -> Output {
    let output = command.output().unwrap();
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    output
}

#[track_caller]
fn succeeds(command: Command) -> String {
    let output = run(command);
    let text = stderr(&output);
    assert!(output.status.success(), "cairn failed: {text}");
    text
}

/// Two wheels in a find-links directory everyone can read.
fn wheels(work: &Path) -> PathBuf {
    let links = work.join("fl");
    std::fs::create_dir_all(&links).unwrap();
    WheelBuilder::new("held", "1.0")
        .file("held/__init__.py", "HELD = 1\n")
        .build(&links);
    WheelBuilder::new("missing", "1.0")
        .file("missing/__init__.py", "MISSING = 1\n")
        .build(&links);
    links
}

fn install(cache: &Path, links: &Path, target: &Path, requirement: &str) -> Command {
    let (links, target) = (links.to_str().unwrap(), target.to_str().unwrap());
    command(
        cache,
        &[
            "--offline",
            "install",
            requirement,
            "--find-links",
            links,
            "--target",
            target,
        ],
    )
}

/// Every path under `root` and its mode bits.
fn modes(root: &Path) -> Vec<(PathBuf, u32, bool)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        }
        found.push((path, metadata.mode() & 0o7777, metadata.is_dir()));
    }
    found
}

/// Takes this user's write access to `cache` away for the commands made by the returned
/// function: as root, they run as `nobody`; otherwise the cache's write bits are removed.
fn without_write_access(cache: &Path, work: &Path) -> impl Fn(Command) -> Command {
    let root = is_root();
    if root {
        // `nobody` must reach the binary's inputs and outputs.
        for (path, mode, is_dir) in modes(work) {
            let wanted = if is_dir { mode | 0o755 } else { mode | 0o444 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted)).unwrap();
        }
        let outputs = work.join("out");
        std::fs::create_dir(&outputs).unwrap();
        std::fs::set_permissions(&outputs, std::fs::Permissions::from_mode(0o777)).unwrap();
    } else {
        for (path, mode, _) in modes(cache) {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & !0o222))
                .unwrap();
        }
        std::fs::create_dir(work.join("out")).unwrap();
    }
    move |mut command: Command| {
        if root {
            // std drops root's supplementary groups when it sets the uid.
            command.uid(NOBODY).gid(NOBODY);
        }
        command
    }
}

/// A cache that holds `held 1.0`, the work directory around it and the find-links directory.
fn filled_cache() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let links = wheels(work.path());
    succeeds(install(
        &cache,
        &links,
        &work.path().join("first"),
        "held==1.0",
    ));
    (work, cache, links)
}

#[test]
fn a_cache_this_user_cannot_write_serves_what_it_holds() {
    let (work, cache, links) = filled_cache();
    let before = modes(&cache);
    let as_reader = without_write_access(&cache, work.path());
    let out = work.path().join("out");

    // What the cache holds installs; listing and verifying need no write access either.
    succeeds(as_reader(install(
        &cache,
        &links,
        &out.join("held"),
        "held==1.0",
    )));
    assert_eq!(
        std::fs::read_to_string(out.join("held/held/__init__.py")).unwrap(),
        "HELD = 1\n"
    );
    succeeds(as_reader(command(&cache, &["cache", "list"])));
    succeeds(as_reader(command(&cache, &["cache", "verify"])));

    // A new entry and maintenance fail, saying why and what to do, and change nothing.
    let output = run(as_reader(install(
        &cache,
        &links,
        &out.join("missing"),
        "missing==1.0",
    )));
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("is not writable by this user"), "{text}");
    assert!(text.contains("--cache-dir"), "{text}");
    assert!(!text.contains("maintenance"), "{text}");
    assert!(!out.join("missing/missing").exists());
    for args in [&["cache", "clean"][..], &["cache", "prune"]] {
        let output = run(as_reader(command(&cache, args)));
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.contains("is not writable by this user"), "{text}");
    }
    let after: Vec<_> = modes(&cache)
        .into_iter()
        .map(|(path, _, is_dir)| (path, is_dir))
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .map(|(path, _, is_dir)| (path, is_dir))
        .collect();
    assert_eq!(after, before, "the cache changed");
}

#[test]
fn a_reader_without_write_access_still_waits_for_maintenance() {
    let (work, cache, _) = filled_cache();
    let as_reader = without_write_access(&cache, work.path());
    // Maintenance holds the cache, as `cache clean` does while it removes.
    let gate =
        LockedFile::acquire(&cache.join(".maintenance.lock"), LockMode::Exclusive, None).unwrap();
    let lock = LockedFile::acquire(&cache.join(".lock"), LockMode::Exclusive, None).unwrap();
    let mut child = as_reader(command(&cache, &["cache", "list"]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader cannot write the lock files, yet locks them (read-only) and so waits, saying
    // so; reading without a lock would list at once.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("waiting for cairn cache maintenance to finish"),
        "{first}"
    );
    drop((lock, gate));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
}

#[test]
fn nothing_in_the_cache_is_writable_by_others_under_umask_000() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let links = wheels(work.path());
    let install = install(&cache, &links, &work.path().join("target"), "held==1.0");
    succeeds(with_umask(&install, "000"));
    let found = modes(&cache);
    assert!(found.len() > 10, "the install wrote little: {found:?}");
    let writable: Vec<_> = found
        .iter()
        .filter(|(_, mode, _)| mode & 0o002 != 0)
        .collect();
    assert!(writable.is_empty(), "writable by others: {writable:?}");
}

#[test]
fn a_shared_cache_root_gives_its_group_what_cairn_creates_in_it() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    // As an administrator makes it: `install -d -m 2775 -g GROUP DIR`.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o2775)).unwrap();
    let links = wheels(work.path());
    let install = install(&cache, &links, &work.path().join("target"), "held==1.0");
    // A usual umask, which alone would take the group's write bit away.
    succeeds(with_umask(&install, "022"));
    let found = modes(&cache);
    let directories: Vec<_> = found.iter().filter(|(_, _, is_dir)| *is_dir).collect();
    // Buckets, shards, archives and the directories inside archives: any member may remove
    // what another unpacked.
    assert!(
        directories
            .iter()
            .any(|(path, _, _)| path.ends_with("held")),
        "{directories:?}"
    );
    for (path, mode, _) in &directories {
        assert_eq!(*mode, 0o2775, "{}", path.display());
    }
    let locks: Vec<_> = found
        .iter()
        .filter(|(path, _, _)| path.extension().is_some_and(|e| e == "lock"))
        .collect();
    assert!(locks.len() >= 2, "{locks:?}");
    for (path, mode, _) in locks {
        assert_eq!(*mode, 0o664, "{}", path.display());
    }
    for (path, mode, _) in &found {
        assert_eq!(mode & 0o002, 0, "{}", path.display());
    }
}
