//! Linking files by name relative to open directories ([`Linker::link_at`]): every mode over a
//! real nested tree, permissions, the fallback ladder across filesystems, and the refusals.
//!
//! This machine's temp dir is on ext4 (no reflink) and /dev/shm is tmpfs, another filesystem:
//! a source under /dev/shm linked into the temp dir meets a real EXDEV.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use cairn_fs::link::{LinkDir, LinkError, LinkMode, Linker};
use tempfile::TempDir;

/// Files of the sample tree: relative path, contents, permission bits.
const FILES: [(&str, &str, u32); 6] = [
    ("pkg/__init__.py", "from .core import run\n", 0o644),
    ("pkg/core.py", "def run():\n    return 42\n", 0o644),
    ("pkg/sub/deep/leaf.py", "LEAF = True\n", 0o644),
    ("pkg/_native.so", "\x7fELF not really\n", 0o755),
    ("bin/tool", "#!/bin/sh\necho tool\n", 0o755),
    ("top.pth", "pkg\n", 0o600),
];

fn write_sample(root: &Path) {
    for (path, bytes, mode) in FILES {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Links every file under `src` into `dst` the way an install stages a wheel: each directory
/// of the destination is created, then each pair of directories is opened once and its files
/// linked by name. Returns the weakest mode any file got.
fn link_by_dirs(linker: &Linker, src: &Path, dst: &Path) -> LinkMode {
    fs::create_dir_all(dst).unwrap();
    let src_dir = LinkDir::open(src).unwrap();
    let dst_dir = LinkDir::open(dst).unwrap();
    let mut weakest = LinkMode::Clone;
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if entry.file_type().unwrap().is_dir() {
            let mode = link_by_dirs(linker, &entry.path(), &dst.join(&name));
            weakest = weakest.max_rung(mode);
        } else {
            let mode = linker.link_at(&src_dir, &name, &dst_dir, &name).unwrap();
            weakest = weakest.max_rung(mode);
        }
    }
    weakest
}

/// Orders the ladder's modes, so the weakest of several can be kept.
trait Rung {
    fn max_rung(self, other: Self) -> Self;
}

impl Rung for LinkMode {
    fn max_rung(self, other: Self) -> Self {
        let rank = |mode| LinkMode::ALL.iter().position(|m| *m == mode).unwrap();
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// The process umask, which filters the bits of files created by clone and copy.
fn umask() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

fn ino(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

fn dev(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().dev()
}

/// A temp dir on tmpfs, checked to be on another filesystem than the default temp dir.
fn other_filesystem() -> TempDir {
    let shm = tempfile::tempdir_in("/dev/shm").expect("these tests need a writable /dev/shm");
    let default = tempfile::tempdir().unwrap();
    assert_ne!(dev(shm.path()), dev(default.path()));
    shm
}

/// Every file of the sample is in `dst` with the source's bytes and, unless it is a hard link
/// (which shares the inode and so the bits), the source's bits filtered by the umask.
fn check_copies(src: &Path, dst: &Path) {
    let umask = umask();
    for (path, bytes, mode) in FILES {
        let (src_file, dst_file) = (src.join(path), dst.join(path));
        let metadata = fs::symlink_metadata(&dst_file).unwrap();
        assert!(metadata.is_file(), "{path} must be a regular file");
        assert_ne!(ino(&src_file), ino(&dst_file), "{path} must be a new inode");
        assert_eq!(fs::read_to_string(&dst_file).unwrap(), bytes, "{path}");
        assert_eq!(
            metadata.permissions().mode() & 0o7777,
            mode & !umask,
            "{path}"
        );
    }
}

#[test]
fn hardlink_by_dirs_shares_every_inode_of_a_nested_tree() {
    let temp = tempfile::tempdir().unwrap();
    let (src, dst) = (temp.path().join("archive"), temp.path().join("target"));
    write_sample(&src);
    let linker = Linker::new(LinkMode::Hardlink);

    assert_eq!(link_by_dirs(&linker, &src, &dst), LinkMode::Hardlink);

    for (path, bytes, mode) in FILES {
        assert_eq!(ino(&src.join(path)), ino(&dst.join(path)), "{path}");
        assert_eq!(fs::read_to_string(dst.join(path)).unwrap(), bytes);
        let bits = fs::metadata(dst.join(path)).unwrap().permissions().mode() & 0o777;
        assert_eq!(bits, mode, "{path}: a hard link shares the cached bits");
    }
}

#[test]
fn copy_by_dirs_makes_new_files_keeping_executable_bits() {
    let temp = tempfile::tempdir().unwrap();
    let (src, dst) = (temp.path().join("archive"), temp.path().join("target"));
    write_sample(&src);
    let linker = Linker::new(LinkMode::Copy);

    assert_eq!(link_by_dirs(&linker, &src, &dst), LinkMode::Copy);

    check_copies(&src, &dst);
    let tool = fs::metadata(dst.join("bin/tool"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        tool & 0o111,
        0o111 & !umask(),
        "the script stays executable"
    );
}

#[test]
fn a_file_can_get_another_name_in_another_directory() {
    let temp = tempfile::tempdir().unwrap();
    let (src, dst) = (temp.path().join("archive"), temp.path().join("target"));
    write_sample(&src);
    fs::create_dir(&dst).unwrap();
    let src_dir = LinkDir::open(&src.join("bin")).unwrap();
    let dst_dir = LinkDir::open(&dst).unwrap();

    for mode in [LinkMode::Hardlink, LinkMode::Copy, LinkMode::Symlink] {
        let name = format!("tool-{mode}");
        let used = Linker::new(mode)
            .link_at(&src_dir, OsStr::new("tool"), &dst_dir, OsStr::new(&name))
            .unwrap();
        assert_eq!(used, mode);
        assert_eq!(
            fs::read_to_string(dst.join(&name)).unwrap(),
            "#!/bin/sh\necho tool\n"
        );
    }
    let symlink_target = fs::read_link(dst.join("tool-symlink")).unwrap();
    assert!(symlink_target.is_absolute(), "{}", symlink_target.display());
    assert_eq!(
        symlink_target,
        fs::canonicalize(src.join("bin/tool")).unwrap()
    );
}

#[test]
fn hardlink_across_filesystems_falls_back_to_copy_by_dirs() {
    let shm = other_filesystem();
    let temp = tempfile::tempdir().unwrap();
    let (src, dst) = (shm.path().join("archive"), temp.path().join("target"));
    write_sample(&src);
    let linker = Linker::new(LinkMode::Hardlink);

    assert_eq!(link_by_dirs(&linker, &src, &dst), LinkMode::Copy);

    assert_eq!(linker.mode(), LinkMode::Copy, "the ladder moved once");
    check_copies(&src, &dst);
}

#[test]
fn clone_across_filesystems_steps_down_to_copy_by_dirs() {
    let shm = other_filesystem();
    let temp = tempfile::tempdir().unwrap();
    let (src, dst) = (shm.path().join("archive"), temp.path().join("target"));
    write_sample(&src);
    let linker = Linker::new(LinkMode::Clone);

    assert_eq!(link_by_dirs(&linker, &src, &dst), LinkMode::Copy);

    assert_eq!(linker.mode(), LinkMode::Copy);
    check_copies(&src, &dst);
}

#[test]
fn an_existing_destination_is_an_error_naming_it_and_is_left_alone() {
    for mode in [
        LinkMode::Clone,
        LinkMode::Hardlink,
        LinkMode::Copy,
        LinkMode::Symlink,
    ] {
        let temp = tempfile::tempdir().unwrap();
        let (src, dst) = (temp.path().join("archive"), temp.path().join("target"));
        write_sample(&src);
        fs::create_dir(&dst).unwrap();
        fs::write(dst.join("top.pth"), "mine\n").unwrap();
        let (src_dir, dst_dir) = (LinkDir::open(&src).unwrap(), LinkDir::open(&dst).unwrap());
        let name = OsStr::new("top.pth");

        let error = Linker::new(mode)
            .link_at(&src_dir, name, &dst_dir, name)
            .unwrap_err();

        match &error {
            LinkError::DestinationExists {
                src: error_src,
                dst: error_dst,
                ..
            } => {
                assert_eq!(error_dst, &dst.join("top.pth"), "{mode}");
                if mode != LinkMode::Symlink {
                    assert_eq!(error_src, &src.join("top.pth"), "{mode}");
                }
            }
            other => panic!("{mode}: expected DestinationExists, got {other:?}"),
        }
        let message = error.to_string();
        assert!(
            message.contains(&dst.join("top.pth").display().to_string()),
            "{message}"
        );
        assert_eq!(fs::read_to_string(dst.join("top.pth")).unwrap(), "mine\n");
    }
}

#[test]
fn a_symlink_planted_at_the_destination_is_not_followed() {
    let temp = tempfile::tempdir().unwrap();
    let (src, dst) = (temp.path().join("archive"), temp.path().join("target"));
    write_sample(&src);
    fs::create_dir(&dst).unwrap();
    let victim = temp.path().join("victim");
    fs::write(&victim, "untouched\n").unwrap();
    symlink(&victim, dst.join("top.pth")).unwrap();
    let (src_dir, dst_dir) = (LinkDir::open(&src).unwrap(), LinkDir::open(&dst).unwrap());
    let name = OsStr::new("top.pth");

    for mode in [LinkMode::Clone, LinkMode::Hardlink, LinkMode::Copy] {
        let error = Linker::new(mode)
            .link_at(&src_dir, name, &dst_dir, name)
            .unwrap_err();
        assert!(
            matches!(error, LinkError::DestinationExists { .. }),
            "{mode}: {error:?}"
        );
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched\n");
}

#[test]
fn a_source_symlink_is_not_followed() {
    let temp = tempfile::tempdir().unwrap();
    let (src, dst) = (temp.path().join("archive"), temp.path().join("target"));
    fs::create_dir_all(&src).unwrap();
    fs::create_dir(&dst).unwrap();
    let secret = temp.path().join("secret");
    fs::write(&secret, "outside the cache\n").unwrap();
    symlink(&secret, src.join("planted.py")).unwrap();
    let (src_dir, dst_dir) = (LinkDir::open(&src).unwrap(), LinkDir::open(&dst).unwrap());
    let name = OsStr::new("planted.py");

    // Copy and clone open the source with O_NOFOLLOW: refused, nothing left behind.
    for mode in [LinkMode::Copy, LinkMode::Clone] {
        let error = Linker::new(mode)
            .link_at(&src_dir, name, &dst_dir, name)
            .unwrap_err();
        match &error {
            LinkError::Link {
                src: error_src,
                dst: error_dst,
                ..
            } => {
                assert_eq!(error_src, &src.join("planted.py"));
                assert_eq!(error_dst, &dst.join("planted.py"));
            }
            other => panic!("{mode}: expected Link, got {other:?}"),
        }
        assert!(
            fs::symlink_metadata(dst.join("planted.py")).is_err(),
            "{mode}: nothing may be created"
        );
    }

    // `linkat` without AT_SYMLINK_FOLLOW links the symlink itself, never the file behind it.
    Linker::new(LinkMode::Hardlink)
        .link_at(&src_dir, name, &dst_dir, name)
        .unwrap();
    let linked = fs::symlink_metadata(dst.join("planted.py")).unwrap();
    assert!(linked.file_type().is_symlink());
    assert_ne!(linked.ino(), ino(&secret));
    assert_eq!(fs::read_to_string(&secret).unwrap(), "outside the cache\n");
}

#[test]
fn a_missing_source_is_an_error_naming_both_paths() {
    let temp = tempfile::tempdir().unwrap();
    let (src, dst) = (temp.path().join("archive"), temp.path().join("target"));
    fs::create_dir_all(&src).unwrap();
    fs::create_dir(&dst).unwrap();
    let (src_dir, dst_dir) = (LinkDir::open(&src).unwrap(), LinkDir::open(&dst).unwrap());
    let name = OsStr::new("gone.py");

    for mode in [LinkMode::Hardlink, LinkMode::Copy] {
        let error = Linker::new(mode)
            .link_at(&src_dir, name, &dst_dir, name)
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, LinkError::Link { .. }), "{error:?}");
        assert!(
            message.contains(&src.join("gone.py").display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&dst.join("gone.py").display().to_string()),
            "{message}"
        );
    }
}

#[test]
fn a_directory_reached_through_a_final_symlink_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let real = temp.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = temp.path().join("link");
    symlink(&real, &link).unwrap();
    let file = temp.path().join("file");
    fs::write(&file, "").unwrap();

    assert!(LinkDir::open(&real).is_ok());
    assert!(LinkDir::open(&link).is_err(), "a final symlink is refused");
    assert!(LinkDir::open(&file).is_err(), "a file is not a directory");
    assert_eq!(LinkDir::open(&real).unwrap().path(), real);
}
