//! Directory persistence: one atomic publish, losers discard their copy and succeed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};

use cairn_fs::{PersistOutcome, persist_dir};

fn filled_temp(root: &std::path::Path, content: &str) -> tempfile::TempDir {
    let temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(root)
        .unwrap();
    std::fs::create_dir(temp.path().join("pkg")).unwrap();
    std::fs::write(temp.path().join("pkg").join("file.py"), content).unwrap();
    temp
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn persists_then_reports_already_present() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("ab").join("cdef");
    let first = filled_temp(root.path(), "first");
    let first_path = first.path().to_owned();
    assert_eq!(
        persist_dir(first, &dest).unwrap(),
        PersistOutcome::Persisted
    );
    assert!(!first_path.exists());
    let second = filled_temp(root.path(), "second");
    let second_path = second.path().to_owned();
    assert_eq!(
        persist_dir(second, &dest).unwrap(),
        PersistOutcome::AlreadyPresent
    );
    assert!(!second_path.exists(), "the loser's copy is removed");
    assert_eq!(
        std::fs::read_to_string(dest.join("pkg").join("file.py")).unwrap(),
        "first"
    );
    assert_eq!(entries(root.path()), ["ab"]);
}

#[test]
fn racing_threads_leave_exactly_one_copy() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("ab").join("cdef");
    let barrier = Arc::new(Barrier::new(8));
    let outcomes: Vec<_> = (0..8)
        .map(|_| {
            let temp = filled_temp(root.path(), "same");
            let barrier = Arc::clone(&barrier);
            let dest = dest.clone();
            std::thread::spawn(move || {
                barrier.wait();
                persist_dir(temp, &dest).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .collect();
    let persisted = outcomes
        .iter()
        .filter(|o| **o == PersistOutcome::Persisted)
        .count();
    assert_eq!(persisted, 1, "{outcomes:?}");
    assert_eq!(
        entries(root.path()),
        ["ab"],
        "no temp directory is left behind"
    );
    assert_eq!(entries(&dest), ["pkg"]);
}

#[test]
fn a_file_in_the_way_is_an_error_naming_the_destination() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("entry");
    std::fs::write(&dest, b"not a directory").unwrap();
    let temp = filled_temp(root.path(), "x");
    let error = persist_dir(temp, &dest).unwrap_err();
    assert!(
        error.to_string().contains(&*dest.to_string_lossy()),
        "{error}"
    );
}
