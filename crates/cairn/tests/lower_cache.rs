//! Lower caches (`--cache-lower`, `CAIRN_CACHE_LOWER`), with the real `cairn` binary: a wheel
//! pinned by digest that only a lower cache holds is installed from its archive where it is,
//! and nothing is written to the lower cache or copied into the cache directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cairn_hash::HashAlgorithm;
use cairn_test_support::wheel::WheelBuilder;
use support::{cairn, ok, stderr, stdout};

/// Every path under `root` with its size and modification time.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        }
        found.insert(path, (metadata.len(), metadata.modified().unwrap()));
    }
    found
}

/// A lower cache holding `demo 1.0`, filled through its own find-links install; the wheel's
/// path and `sha256:` pin.
fn lower_cache(work: &Path) -> (PathBuf, PathBuf, String) {
    let links = work.join("fl");
    std::fs::create_dir_all(&links).unwrap();
    let wheel = WheelBuilder::new("demo", "1.0")
        .file("demo/__init__.py", "FROM = 'lower'\n")
        .build(&links);
    let pin = cairn_hash::digest_file(&wheel, &[HashAlgorithm::Sha256]).unwrap()[0].to_string();
    let lower = work.join("lower");
    let requirements = work.join("requirements.txt");
    std::fs::write(&requirements, format!("demo==1.0 --hash={pin}\n")).unwrap();
    ok(
        &lower,
        &[
            "--offline",
            "install",
            "-r",
            requirements.to_str().unwrap(),
            "--find-links",
            links.to_str().unwrap(),
            "--target",
            work.join("first").to_str().unwrap(),
        ],
    );
    (lower, wheel, pin)
}

/// The archives the cache at `root` holds.
fn archives(root: &Path) -> usize {
    let Ok(shards) = std::fs::read_dir(root.join("archive-v0")) else {
        return 0;
    };
    shards
        .map(|shard| {
            std::fs::read_dir(shard.unwrap().path())
                .unwrap()
                .filter(|entry| entry.as_ref().unwrap().path().is_dir())
                .count()
        })
        .sum()
}

#[test]
fn a_pinned_wheel_only_a_lower_cache_holds_installs_from_it_untouched() {
    let work = tempfile::tempdir().unwrap();
    let (lower, _, _) = lower_cache(work.path());
    let before = snapshot(&lower);
    let cache = work.path().join("cache");
    let target = work.path().join("target");
    // No find-links and no index: only the lower cache can answer.
    ok(
        &cache,
        &[
            "--offline",
            "--cache-lower",
            lower.to_str().unwrap(),
            "install",
            "-r",
            work.path().join("requirements.txt").to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(target.join("demo/__init__.py")).unwrap(),
        "FROM = 'lower'\n"
    );
    assert_eq!(archives(&cache), 0, "the archive was copied into the cache");
    assert_eq!(snapshot(&lower), before, "the lower cache changed");

    // Without the lower cache, the same command has nowhere to find the wheel.
    let output = cairn(
        &cache,
        &[
            "--offline",
            "install",
            "-r",
            work.path().join("requirements.txt").to_str().unwrap(),
            "--target",
            work.path().join("other").to_str().unwrap(),
        ],
    );
    assert!(!output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_fetch_by_path_or_env_variable_reports_a_lower_hit() {
    let work = tempfile::tempdir().unwrap();
    let (lower, wheel, pin) = lower_cache(work.path());
    let before = snapshot(&lower);
    let cache = work.path().join("cache");
    let mut command = support::command(
        &cache,
        &["fetch", "--json", wheel.to_str().unwrap(), "--hash", &pin],
    );
    // The variable takes a `:`-separated list; a directory that is the cache itself is skipped.
    let list = format!("{}:{}", cache.display(), lower.display());
    std::fs::create_dir_all(&cache).unwrap();
    let output = command.env("CAIRN_CACHE_LOWER", list).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("\"LowerHit\""), "{text}");
    assert!(text.contains(&lower.display().to_string()), "{text}");
    assert_eq!(archives(&cache), 0);
    assert_eq!(snapshot(&lower), before, "the lower cache changed");

    // Unpinned, the lower cache is not asked: the wheel is unpacked into the cache.
    let output = cairn(
        &cache,
        &[
            "--cache-lower",
            lower.to_str().unwrap(),
            "fetch",
            "--json",
            wheel.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("\"Unpacked\""));
    assert_eq!(archives(&cache), 1);
}

#[test]
fn a_lower_cache_that_does_not_exist_is_an_error() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("missing");
    let output = cairn(
        &work.path().join("cache"),
        &[
            "--cache-lower",
            missing.to_str().unwrap(),
            "fetch",
            "/nonexistent/demo-1.0-py3-none-any.whl",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("is not a directory"), "{text}");
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(!missing.exists());
}

/// A read-only view of `dir` at `view`: a read-only bind mount when this user may mount (root),
/// else `dir` itself with its write bits removed. `None` when neither takes write access away
/// (root without mount rights).
struct ReadOnly {
    view: PathBuf,
    mounted: bool,
}

impl ReadOnly {
    fn new(dir: &Path, view: &Path) -> Option<Self> {
        std::fs::create_dir_all(view).unwrap();
        let mount = |args: &[&str]| {
            std::process::Command::new("mount")
                .args(args)
                .status()
                .is_ok_and(|status| status.success())
        };
        let (dir_text, view_text) = (dir.to_str().unwrap(), view.to_str().unwrap());
        if mount(&["--bind", dir_text, view_text]) {
            if mount(&["-o", "remount,bind,ro", view_text]) {
                return Some(Self {
                    view: view.to_owned(),
                    mounted: true,
                });
            }
            let _ = std::process::Command::new("umount").arg(view).status();
        }
        let root = std::fs::metadata("/proc/self").map(|m| {
            use std::os::unix::fs::MetadataExt as _;
            m.uid() == 0
        });
        if root.unwrap_or(true) {
            return None;
        }
        for entry in snapshot(dir).keys() {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::symlink_metadata(entry)
                .unwrap()
                .permissions()
                .mode();
            std::fs::set_permissions(entry, std::fs::Permissions::from_mode(mode & !0o222))
                .unwrap();
        }
        Some(Self {
            view: dir.to_owned(),
            mounted: false,
        })
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.mounted {
            let _ = std::process::Command::new("umount")
                .arg(&self.view)
                .status();
        }
    }
}

#[test]
fn a_read_only_mount_serves_as_a_lower_tier_with_nothing_written_to_it() {
    let work = tempfile::tempdir().unwrap();
    let (lower, _, _) = lower_cache(work.path());
    let before = snapshot(&lower);
    let Some(read_only) = ReadOnly::new(&lower, &work.path().join("ro")) else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: root without mount rights cannot lose write access here");
        }
        return;
    };
    // Writing to the view fails: it really is read-only.
    assert!(std::fs::write(read_only.view.join("probe"), b"x").is_err());
    let cache = work.path().join("cache");
    let target = work.path().join("target");
    // Online, and a listing of the lower cache too: neither may write to it.
    let output = cairn(
        &cache,
        &[
            "--cache-lower",
            read_only.view.to_str().unwrap(),
            "install",
            "-r",
            work.path().join("requirements.txt").to_str().unwrap(),
            "--index-url",
            "http://127.0.0.1:9/simple/",
            "--target",
            target.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(target.join("demo/__init__.py")).unwrap(),
        "FROM = 'lower'\n"
    );
    // `cache list` and `verify` of the cache directory cover the lower cache too.
    let view = read_only.view.to_str().unwrap();
    let listed = cairn(&cache, &["--cache-lower", view, "cache", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = stdout(&listed);
    assert!(
        text.contains(&format!("Lower cache {view} (read-only):")) && text.contains("demo"),
        "{text}"
    );
    let verified = cairn(&cache, &["--cache-lower", view, "cache", "verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    let text = stdout(&verified);
    assert!(
        text.contains(&format!(
            "Lower cache {view} (read-only): Checked 1 archive"
        )),
        "{text}"
    );
    drop(read_only);
    assert_eq!(snapshot(&lower), before, "the lower cache changed");
}
