//! Linking real trees between real directories: each mode, the fallback ladder, permissions,
//! merging, and every refusal.
//!
//! This machine's temp dir is on ext4 (no reflink) and /dev/shm is tmpfs, another filesystem:
//! a tree under /dev/shm linked into the temp dir meets a real EXDEV.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use cairn_fs::link::{LinkError, LinkMode, LinkOutcome, Linker, link_file, link_tree};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A file in a source tree: relative path, contents, permission bits.
struct Entry {
    path: &'static str,
    bytes: Vec<u8>,
    mode: u32,
}

fn entry(path: &'static str, bytes: impl Into<Vec<u8>>, mode: u32) -> Entry {
    Entry {
        path,
        bytes: bytes.into(),
        mode,
    }
}

/// A small wheel-like tree: nested packages, an executable, an empty file, a file large
/// enough to need more than one read buffer, and empty directories at two depths.
fn sample_entries() -> Vec<Entry> {
    let large: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    vec![
        entry("pkg/__init__.py", "from .core import run\n", 0o644),
        entry("pkg/core.py", "def run():\n    return 42\n", 0o644),
        entry("pkg/sub/deep/er/leaf.py", "LEAF = True\n", 0o644),
        entry("pkg/_native.so", large, 0o755),
        entry("pkg/py.typed", "", 0o644),
        entry("bin/tool", "#!/bin/sh\necho tool\n", 0o755),
        entry("pkg-1.0.dist-info/RECORD", "pkg/__init__.py,,\n", 0o644),
    ]
}

const SAMPLE_EMPTY_DIRS: [&str; 2] = ["pkg/data/empty", "empty-top"];

fn write_tree(root: &Path, entries: &[Entry], empty_dirs: &[&str]) {
    for entry in entries {
        let path = root.join(entry.path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &entry.bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(entry.mode)).unwrap();
    }
    for dir in empty_dirs {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
}

/// A source tree in a fresh temp dir under `parent` (or the default temp dir).
fn sample_source(parent: Option<&Path>) -> (TempDir, PathBuf) {
    let temp = match parent {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let root = temp.path().join("archive");
    write_tree(&root, &sample_entries(), &SAMPLE_EMPTY_DIRS);
    (temp, root)
}

/// A temp dir on tmpfs, checked to be on another filesystem than the default temp dir so the
/// cross-filesystem tests cannot pass vacuously.
fn other_filesystem() -> TempDir {
    let shm = tempfile::tempdir_in("/dev/shm").expect("these tests need a writable /dev/shm");
    let default = tempfile::tempdir().unwrap();
    assert_ne!(
        dev(shm.path()),
        dev(default.path()),
        "/dev/shm must be another filesystem than the default temp dir"
    );
    shm
}

fn dev(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().dev()
}

fn ino(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

/// The process umask, which filters the bits of files created by clone and copy.
fn umask() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

/// Whether the default temp dir's filesystem can clone, asked of the platform directly.
fn temp_dir_can_clone() -> bool {
    let temp = tempfile::tempdir().unwrap();
    fs::write(temp.path().join("a"), "probe").unwrap();
    reflink_copy::reflink(temp.path().join("a"), temp.path().join("b")).is_ok()
}

/// Every path under `root`, relative, with what it is.
fn listing(root: &Path) -> BTreeMap<PathBuf, &'static str> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            let relative = entry.path().strip_prefix(root).unwrap().to_path_buf();
            if kind.is_dir() {
                pending.push(entry.path());
                found.insert(relative, "dir");
            } else if kind.is_symlink() {
                found.insert(relative, "symlink");
            } else {
                found.insert(relative, "file");
            }
        }
    }
    found
}

/// What each destination file must be, given the mode that produced it.
fn check_files(src: &Path, dst: &Path, mode: LinkMode) {
    let umask = umask();
    for entry in sample_entries() {
        let (from, to) = (src.join(entry.path), dst.join(entry.path));
        assert_eq!(fs::read(&to).unwrap(), entry.bytes, "{}", to.display());
        let target_mode = fs::metadata(&to).unwrap().permissions().mode() & 0o777;
        match mode {
            LinkMode::Hardlink => {
                assert_eq!(ino(&to), ino(&from), "{} is not a hard link", to.display());
                assert_eq!(target_mode, entry.mode);
            }
            LinkMode::Clone | LinkMode::Copy => {
                assert!(fs::symlink_metadata(&to).unwrap().is_file());
                let same_file = dev(&to) == dev(&from) && ino(&to) == ino(&from);
                assert!(!same_file, "{} shares the cached inode", to.display());
                assert_eq!(target_mode, entry.mode & !umask, "{}", to.display());
            }
            LinkMode::Symlink => {
                let target = fs::read_link(&to).unwrap();
                assert!(target.is_absolute(), "{}", target.display());
                assert_eq!(target, fs::canonicalize(&from).unwrap());
                assert_eq!(target_mode, entry.mode);
            }
        }
    }
}

fn check_layout(src: &Path, dst: &Path, mode: LinkMode) {
    let mut expected = listing(src);
    if mode == LinkMode::Symlink {
        for kind in expected.values_mut() {
            if *kind == "file" {
                *kind = "symlink";
            }
        }
    }
    assert_eq!(listing(dst), expected);
}

/// Directories in the sample tree below its root.
fn sample_dir_count(src: &Path) -> u64 {
    listing(src).values().filter(|kind| **kind == "dir").count() as u64
}

// ---------------------------------------------------------------------------------------------
// Each mode on one filesystem

#[test]
fn hardlink_mode_shares_each_cached_inode() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("site-packages");

    let outcome = link_tree(&src, &dst, LinkMode::Hardlink).unwrap();

    assert_eq!(outcome.mode_used, LinkMode::Hardlink);
    assert_eq!(outcome.files, sample_entries().len() as u64);
    assert_eq!(outcome.dirs, sample_dir_count(&src));
    assert_eq!((outcome.copied_after_link_limit, outcome.fallbacks), (0, 0));
    check_layout(&src, &dst, LinkMode::Hardlink);
    check_files(&src, &dst, LinkMode::Hardlink);
}

#[test]
fn copy_mode_makes_new_files_with_the_same_bytes() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("site-packages");

    let outcome = link_tree(&src, &dst, LinkMode::Copy).unwrap();

    assert_eq!(outcome.mode_used, LinkMode::Copy);
    assert_eq!(outcome.fallbacks, 0);
    check_layout(&src, &dst, LinkMode::Copy);
    check_files(&src, &dst, LinkMode::Copy);
}

#[test]
fn symlink_mode_links_to_absolute_cache_paths() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("site-packages");

    // A source path with a `..` in it still yields clean absolute targets.
    let roundabout = src.join("pkg").join("..");
    let outcome = link_tree(&roundabout, &dst, LinkMode::Symlink).unwrap();

    assert_eq!(outcome.mode_used, LinkMode::Symlink);
    check_layout(&src, &dst, LinkMode::Symlink);
    check_files(&src, &dst, LinkMode::Symlink);
}

#[test]
fn clone_mode_clones_or_falls_back_to_hardlink_once() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("site-packages");

    let outcome = link_tree(&src, &dst, LinkMode::Clone).unwrap();

    check_layout(&src, &dst, outcome.mode_used);
    if temp_dir_can_clone() {
        assert_eq!((outcome.mode_used, outcome.fallbacks), (LinkMode::Clone, 0));
        check_files(&src, &dst, LinkMode::Clone);
    } else {
        // ext4 here: the first file's FICLONE fails with EOPNOTSUPP, and that single failure
        // moves every file to hard links.
        assert_eq!(
            (outcome.mode_used, outcome.fallbacks),
            (LinkMode::Hardlink, 1)
        );
        check_files(&src, &dst, LinkMode::Hardlink);
    }
}

// ---------------------------------------------------------------------------------------------
// Across filesystems

#[test]
fn hardlink_across_filesystems_falls_back_to_copy() {
    let shm = other_filesystem();
    let (_temp, src) = sample_source(Some(shm.path()));
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("site-packages");

    let outcome = link_tree(&src, &dst, LinkMode::Hardlink).unwrap();

    assert_eq!((outcome.mode_used, outcome.fallbacks), (LinkMode::Copy, 1));
    check_layout(&src, &dst, LinkMode::Copy);
    check_files(&src, &dst, LinkMode::Copy);
}

#[test]
fn clone_across_filesystems_steps_down_twice_to_copy() {
    let shm = other_filesystem();
    let (_temp, src) = sample_source(Some(shm.path()));
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("site-packages");

    let outcome = link_tree(&src, &dst, LinkMode::Clone).unwrap();

    // EXDEV from FICLONE, then EXDEV from link(2), both on the first file.
    assert_eq!((outcome.mode_used, outcome.fallbacks), (LinkMode::Copy, 2));
    check_files(&src, &dst, LinkMode::Copy);
}

#[test]
fn symlink_mode_works_across_filesystems() {
    let shm = other_filesystem();
    let (_temp, src) = sample_source(Some(shm.path()));
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("site-packages");

    let outcome = link_tree(&src, &dst, LinkMode::Symlink).unwrap();

    assert_eq!(
        (outcome.mode_used, outcome.fallbacks),
        (LinkMode::Symlink, 0)
    );
    check_files(&src, &dst, LinkMode::Symlink);
}

// ---------------------------------------------------------------------------------------------
// The ladder is decided once per linker

/// A flat tree of `count` small files.
fn many_files(root: &Path, count: usize) {
    fs::create_dir_all(root.join("pkg")).unwrap();
    for i in 0..count {
        fs::write(
            root.join("pkg").join(format!("m{i}.py")),
            format!("N = {i}\n"),
        )
        .unwrap();
    }
}

#[test]
fn a_linker_decides_the_ladder_once_for_all_its_trees() {
    let shm = other_filesystem();
    let (first, second) = (shm.path().join("first"), shm.path().join("second"));
    many_files(&first, 64);
    many_files(&second, 64);
    let target = tempfile::tempdir().unwrap();
    let linker = Linker::new(LinkMode::Hardlink);

    let outcome = linker.link_tree(&first, &target.path().join("a")).unwrap();
    // One failed link(2) for 64 files: the ladder moved on the first and stayed there.
    assert_eq!((outcome.mode_used, outcome.fallbacks), (LinkMode::Copy, 1));
    assert_eq!(linker.mode(), LinkMode::Copy);
    assert_eq!(linker.requested(), LinkMode::Hardlink);

    let outcome = linker.link_tree(&second, &target.path().join("b")).unwrap();
    // The second tree starts on the decided rung and never tries a hard link.
    assert_eq!((outcome.mode_used, outcome.fallbacks), (LinkMode::Copy, 0));
    assert_eq!(outcome.files, 64);

    // Single files through the same linker use the decided rung too.
    let single = target.path().join("single.py");
    assert_eq!(
        linker.link_file(&first.join("pkg/m0.py"), &single).unwrap(),
        LinkMode::Copy
    );
}

#[test]
fn concurrent_trees_share_one_ladder() {
    let shm = other_filesystem();
    let sources: Vec<PathBuf> = (0..4)
        .map(|i| shm.path().join(format!("tree{i}")))
        .collect();
    // More files than one task takes, so each tree's directory is split across tasks.
    for source in &sources {
        many_files(source, 300);
    }
    let target = tempfile::tempdir().unwrap();
    let linker = Linker::new(LinkMode::Hardlink);

    let outcomes: Vec<LinkOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .iter()
            .enumerate()
            .map(|(i, source)| {
                let (linker, dst) = (&linker, target.path().join(format!("t{i}")));
                scope.spawn(move || linker.link_tree(source, &dst).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    assert_eq!(linker.mode(), LinkMode::Copy);
    for outcome in &outcomes {
        assert_eq!((outcome.mode_used, outcome.files), (LinkMode::Copy, 300));
    }
    // The four trees' first files queue on the linker's probe: one failed link(2) in all.
    let fallbacks: u64 = outcomes.iter().map(|o| o.fallbacks).sum();
    assert_eq!(fallbacks, 1);
}

#[test]
fn requested_copy_never_links_even_on_one_filesystem() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("one.py");

    let used = link_file(&src.join("pkg/core.py"), &dst, LinkMode::Copy).unwrap();

    assert_eq!(used, LinkMode::Copy);
    assert_ne!(ino(&dst), ino(&src.join("pkg/core.py")));
}

// ---------------------------------------------------------------------------------------------
// The hard-link limit

/// ext4 allows 65,000 links per inode (about 0.6 s to reach here). Fill one file up to the
/// limit, then link it once more through a linker: that file must be copied while the ladder
/// stays on hard links.
#[test]
fn a_file_at_the_hard_link_limit_is_copied_without_moving_the_ladder() {
    /// Above ext4's 65,000; a filesystem that allows more is not what this test is about.
    const LINK_ATTEMPTS: u64 = 70_000;
    let cache = tempfile::tempdir().unwrap();
    let src = cache.path().join("archive");
    fs::create_dir_all(src.join("pkg")).unwrap();
    let popular = src.join("pkg/popular.py");
    fs::write(&popular, "POPULAR = 1\n").unwrap();
    fs::set_permissions(&popular, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(src.join("pkg/other.py"), "OTHER = 1\n").unwrap();

    let holders = cache.path().join("holders");
    fs::create_dir(&holders).unwrap();
    let reached_limit =
        (1..=LINK_ATTEMPTS).any(
            |i| match fs::hard_link(&popular, holders.join(i.to_string())) {
                Ok(()) => false,
                Err(error) if error.kind() == io::ErrorKind::TooManyLinks => true,
                Err(error) => panic!("link {i}: {error}"),
            },
        );
    assert!(
        reached_limit,
        "this test needs a temp dir on a filesystem with a hard-link limit, such as ext4"
    );

    let target = tempfile::tempdir().unwrap();
    let linker = Linker::new(LinkMode::Hardlink);
    let outcome = linker.link_tree(&src, &target.path().join("env")).unwrap();

    assert_eq!(outcome.copied_after_link_limit, 1);
    assert_eq!(
        (outcome.mode_used, outcome.fallbacks),
        (LinkMode::Hardlink, 0)
    );
    assert_eq!(linker.mode(), LinkMode::Hardlink);
    let copied = target.path().join("env/pkg/popular.py");
    assert_ne!(ino(&copied), ino(&popular));
    assert_eq!(fs::read(&copied).unwrap(), b"POPULAR = 1\n");
    assert_eq!(
        fs::metadata(&copied).unwrap().permissions().mode() & 0o777,
        0o755 & !umask()
    );
    let other = target.path().join("env/pkg/other.py");
    assert_eq!(ino(&other), ino(&src.join("pkg/other.py")));

    // The same through the single-file entry point.
    let single = target.path().join("popular-again.py");
    assert_eq!(linker.link_file(&popular, &single).unwrap(), LinkMode::Copy);
    assert_eq!(linker.mode(), LinkMode::Hardlink);
}

// ---------------------------------------------------------------------------------------------
// Permissions

#[test]
fn executable_bits_survive_every_mode_and_fallback() {
    let shm = other_filesystem();
    let cases = [
        (None, LinkMode::Clone),
        (None, LinkMode::Hardlink),
        (None, LinkMode::Copy),
        (None, LinkMode::Symlink),
        (Some(shm.path()), LinkMode::Clone),
        (Some(shm.path()), LinkMode::Hardlink),
    ];
    for (source_parent, mode) in cases {
        let (_temp, src) = sample_source(source_parent);
        let target = tempfile::tempdir().unwrap();
        let dst = target.path().join("env");
        let outcome = link_tree(&src, &dst, mode).unwrap();
        for executable in ["bin/tool", "pkg/_native.so"] {
            let bits = fs::metadata(dst.join(executable))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                bits & 0o100,
                0o100,
                "{executable} lost its exec bit in {mode}"
            );
        }
        let bits = fs::metadata(dst.join("pkg/core.py"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(bits & 0o111, 0, "core.py became executable in {mode}");
        check_files(&src, &dst, outcome.mode_used);
    }
}

// ---------------------------------------------------------------------------------------------
// Merging and refusing

#[test]
fn an_existing_directory_is_merged() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("site-packages");
    fs::create_dir_all(dst.join("pkg/sub")).unwrap();
    fs::write(dst.join("pkg/sub/theirs.py"), "mine = False\n").unwrap();
    fs::write(dst.join("unrelated.pth"), "/somewhere\n").unwrap();

    let outcome = link_tree(&src, &dst, LinkMode::Hardlink).unwrap();

    assert_eq!(outcome.files, sample_entries().len() as u64);
    check_files(&src, &dst, LinkMode::Hardlink);
    assert_eq!(
        fs::read_to_string(dst.join("pkg/sub/theirs.py")).unwrap(),
        "mine = False\n"
    );
    assert_eq!(
        fs::read_to_string(dst.join("unrelated.pth")).unwrap(),
        "/somewhere\n"
    );
}

#[test]
fn two_archives_merge_into_one_target() {
    let cache = tempfile::tempdir().unwrap();
    let (a, b) = (cache.path().join("a"), cache.path().join("b"));
    write_tree(&a, &[entry("ns/a/__init__.py", "A\n", 0o644)], &[]);
    write_tree(&b, &[entry("ns/b/__init__.py", "B\n", 0o644)], &[]);
    let target = tempfile::tempdir().unwrap();
    let linker = Linker::new(LinkMode::Copy);

    linker.link_tree(&a, target.path()).unwrap();
    let outcome = linker.link_tree(&b, target.path()).unwrap();

    assert_eq!((outcome.files, outcome.dirs), (1, 2));
    assert_eq!(
        fs::read_to_string(target.path().join("ns/a/__init__.py")).unwrap(),
        "A\n"
    );
    assert_eq!(
        fs::read_to_string(target.path().join("ns/b/__init__.py")).unwrap(),
        "B\n"
    );
}

#[test]
fn an_existing_destination_file_is_an_error_naming_it_in_every_mode() {
    for mode in LinkMode::ALL {
        let (_temp, src) = sample_source(None);
        let target = tempfile::tempdir().unwrap();
        let dst = target.path().join("env");
        fs::create_dir_all(dst.join("pkg")).unwrap();
        let existing = dst.join("pkg/core.py");
        fs::write(&existing, "edited by hand\n").unwrap();
        let linker = Linker::new(mode);

        let error = linker.link_tree(&src, &dst).unwrap_err();

        match &error {
            LinkError::DestinationExists {
                src: from,
                dst: to,
                mode: used,
            } => {
                assert_eq!(to, &existing);
                assert!(from.ends_with("pkg/core.py"));
                let message = error.to_string();
                assert!(
                    message.contains(&existing.display().to_string()),
                    "{message}"
                );
                assert!(message.contains(&from.display().to_string()), "{message}");
                assert!(message.contains(used.as_str()), "{message}");
            }
            other => panic!("{mode}: expected DestinationExists, got {other:?}"),
        }
        assert_eq!(fs::read_to_string(&existing).unwrap(), "edited by hand\n");
        // An existing file says nothing about what the filesystem supports.
        assert!(
            linker.mode() == mode || linker.mode() == LinkMode::Hardlink,
            "{mode}"
        );
    }
}

#[test]
fn a_symlink_at_a_destination_file_is_not_followed() {
    let (_temp, src) = sample_source(None);
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.py");
    fs::write(&victim, "untouched\n").unwrap();
    let dangling = outside.path().join("not-yet.py");
    for mode in LinkMode::ALL {
        for planted_target in [&victim, &dangling] {
            let target = tempfile::tempdir().unwrap();
            let dst = target.path().join("env");
            fs::create_dir_all(dst.join("pkg")).unwrap();
            symlink(planted_target, dst.join("pkg/core.py")).unwrap();

            let error = link_tree(&src, &dst, mode).unwrap_err();

            assert!(
                matches!(&error, LinkError::DestinationExists { dst: to, .. } if to.ends_with("pkg/core.py")),
                "{mode}: {error:?}"
            );
            assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched\n");
            assert!(
                !dangling.exists(),
                "{mode} wrote through a dangling symlink"
            );
        }
    }
}

#[test]
fn a_symlink_at_a_destination_directory_is_not_followed() {
    let (_temp, src) = sample_source(None);
    let outside = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("env");
    fs::create_dir_all(&dst).unwrap();
    symlink(outside.path(), dst.join("pkg")).unwrap();

    let error = link_tree(&src, &dst, LinkMode::Copy).unwrap_err();

    assert!(
        matches!(&error, LinkError::DestinationNotDirectory { path } if path == &dst.join("pkg")),
        "{error:?}"
    );
    assert!(error.to_string().contains("not followed"));
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn a_file_where_a_directory_belongs_is_an_error() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    fs::write(target.path().join("pkg"), "a file\n").unwrap();

    let error = link_tree(&src, target.path(), LinkMode::Hardlink).unwrap_err();

    assert!(
        matches!(&error, LinkError::DestinationNotDirectory { path } if path == &target.path().join("pkg")),
        "{error:?}"
    );
}

#[test]
fn a_file_as_the_target_root_is_an_error() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    let root = target.path().join("env");
    fs::write(&root, "a file\n").unwrap();

    let error = link_tree(&src, &root, LinkMode::Hardlink).unwrap_err();

    assert!(
        matches!(&error, LinkError::DestinationNotDirectory { path } if path == &root),
        "{error:?}"
    );
}

#[test]
fn a_symlink_inside_the_source_is_refused_not_followed() {
    let (_temp, src) = sample_source(None);
    let secret = tempfile::tempdir().unwrap();
    fs::write(secret.path().join("secret"), "s3cret\n").unwrap();
    symlink(secret.path(), src.join("pkg/escape")).unwrap();
    let target = tempfile::tempdir().unwrap();

    let error = link_tree(&src, target.path(), LinkMode::Copy).unwrap_err();

    match &error {
        LinkError::UnsupportedSourceEntry { path, kind } => {
            assert_eq!(path, &src.join("pkg/escape"));
            assert_eq!(*kind, "symlink");
        }
        other => panic!("expected UnsupportedSourceEntry, got {other:?}"),
    }
    assert!(!target.path().join("pkg/escape/secret").exists());
}

#[test]
fn a_source_that_is_not_a_directory_is_an_error() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    let file = src.join("pkg/core.py");

    let error = link_tree(&file, target.path(), LinkMode::Hardlink).unwrap_err();
    assert!(matches!(&error, LinkError::SourceNotDirectory { src } if src == &file));

    let missing = src.join("missing");
    let error = link_tree(&missing, target.path(), LinkMode::Hardlink).unwrap_err();
    assert!(matches!(&error, LinkError::ReadSource { path, .. } if path == &missing));
}

#[test]
fn symlink_mode_fails_rather_than_falling_back() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    let dst = target.path().join("core.py");
    fs::write(&dst, "already here\n").unwrap();
    let linker = Linker::new(LinkMode::Symlink);

    let error = linker
        .link_file(&src.join("pkg/core.py"), &dst)
        .unwrap_err();

    assert!(
        matches!(
            error,
            LinkError::DestinationExists {
                mode: LinkMode::Symlink,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(linker.mode(), LinkMode::Symlink);
}

// ---------------------------------------------------------------------------------------------
// Single files

#[test]
fn link_file_uses_the_same_ladder() {
    let shm = other_filesystem();
    let (_local, local_src) = sample_source(None);
    let (_remote, remote_src) = sample_source(Some(shm.path()));
    let target = tempfile::tempdir().unwrap();

    let here = target.path().join("here");
    assert_eq!(
        link_file(&local_src.join("bin/tool"), &here, LinkMode::Hardlink).unwrap(),
        LinkMode::Hardlink
    );
    assert_eq!(ino(&here), ino(&local_src.join("bin/tool")));

    let across = target.path().join("across");
    assert_eq!(
        link_file(&remote_src.join("bin/tool"), &across, LinkMode::Clone).unwrap(),
        LinkMode::Copy
    );
    assert_eq!(
        fs::read(&across).unwrap(),
        fs::read(remote_src.join("bin/tool")).unwrap()
    );
    assert_eq!(
        fs::metadata(&across).unwrap().permissions().mode() & 0o100,
        0o100
    );

    let link = target.path().join("link");
    assert_eq!(
        link_file(&local_src.join("bin/tool"), &link, LinkMode::Symlink).unwrap(),
        LinkMode::Symlink
    );
    assert_eq!(
        fs::read_link(&link).unwrap(),
        fs::canonicalize(local_src.join("bin/tool")).unwrap()
    );
}

#[test]
fn link_file_refuses_directories_and_symlinks() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    symlink(src.join("pkg/core.py"), src.join("alias.py")).unwrap();

    let error = link_file(&src.join("pkg"), &target.path().join("x"), LinkMode::Copy).unwrap_err();
    assert!(
        matches!(
            error,
            LinkError::UnsupportedSourceEntry {
                kind: "directory",
                ..
            }
        ),
        "{error:?}"
    );
    let error = link_file(
        &src.join("alias.py"),
        &target.path().join("y"),
        LinkMode::Copy,
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            LinkError::UnsupportedSourceEntry {
                kind: "symlink",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(fs::read_dir(target.path()).unwrap().count(), 0);
}

#[test]
fn a_failure_that_is_not_about_the_filesystem_is_an_error_and_leaves_the_ladder() {
    let (_temp, src) = sample_source(None);
    let target = tempfile::tempdir().unwrap();
    // A destination whose parent does not exist: ENOENT says nothing about what the
    // filesystem supports, so no mode may give up on it.
    let dst = target.path().join("missing-dir/core.py");
    for mode in LinkMode::ALL {
        let linker = Linker::new(mode);

        let error = linker
            .link_file(&src.join("pkg/core.py"), &dst)
            .unwrap_err();

        match &error {
            LinkError::Link {
                src: from,
                dst: to,
                mode: used,
                source,
            } => {
                assert_eq!((to, *used), (&dst, mode));
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
                let message = error.to_string();
                for part in [&from.display().to_string(), &dst.display().to_string()] {
                    assert!(message.contains(part), "{message}");
                }
                assert!(message.starts_with(&format!("cannot {mode} ")), "{message}");
            }
            other => panic!("{mode}: expected Link, got {other:?}"),
        }
        assert_eq!(linker.mode(), mode);
    }
}
