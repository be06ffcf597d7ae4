//! Atomic writes: readers see the old or the new content, never a partial file, even when the
//! writer is killed mid-write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::child as support;

use std::path::Path;

use cairn_fs::{TEMP_PREFIX, write_atomic};

/// Large enough that the child is reliably killed while the temp file is being written.
const BIG: usize = 64 * 1024 * 1024;

#[test]
#[ignore = "child-process entry point, run by other tests"]
fn child_entry() {
    let Some(role) = support::child_role() else {
        return;
    };
    let args = support::child_args();
    let path = Path::new(&args[0]);
    match role.as_str() {
        "write-forever" => loop {
            write_atomic(path, &vec![b'n'; BIG]).unwrap();
        },
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn creates_parents_and_replaces_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("entry");
    write_atomic(&path, b"first").unwrap();
    write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["entry"],
        "no temp file is left after a successful write"
    );
}

#[test]
fn a_killed_writer_never_exposes_a_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("entry");
    write_atomic(&path, b"old").unwrap();
    let mut child = support::spawn_child("child_entry", "write-forever", &[path.to_str().unwrap()]);
    // Wait until the child is mid-write: a temp file exists beside the entry.
    let temp = loop {
        let found = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX));
        if let Some(entry) = found
            && entry.metadata().is_ok_and(|m| m.len() > 0)
        {
            break entry.path();
        }
        std::thread::yield_now();
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let content = std::fs::read(&path).unwrap();
    assert!(
        content == b"old" || content.len() == BIG && content.iter().all(|&b| b == b'n'),
        "entry holds {} bytes of partial content",
        content.len()
    );
    // Depending on where the kill landed, the temp file may have been renamed already; if it is
    // still there it carries the temp prefix, so it is never mistaken for an entry.
    if temp.exists() {
        assert!(
            temp.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(TEMP_PREFIX)
        );
    }
}

#[test]
fn missing_directory_that_cannot_be_created_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let error = write_atomic(&file.join("entry"), b"x").unwrap_err();
    assert!(
        error.to_string().contains(&*file.to_string_lossy()),
        "{error}"
    );
}
