//! Tag lists compared, tag for tag and in order, with the `packaging` library's: golden lists
//! captured with packaging 26.3 by `tests/data/tags/capture.py` (see its docstring).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use cairn_python::requirements::InterpreterMarkers;
use cairn_python::tags::{Interpreter, Platform, Tags};

fn golden(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tags")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(str::to_owned)
        .collect()
}

fn listed(tags: &Tags) -> Vec<String> {
    tags.iter().map(|tag| tag.to_string()).collect()
}

/// Compares whole lists, reporting the first difference rather than two 900-line dumps.
fn assert_same_list(actual: &[String], expected: &[String], what: &str) {
    if let Some(index) =
        (0..actual.len().max(expected.len())).find(|&i| actual.get(i) != expected.get(i))
    {
        panic!(
            "{what}: first difference at tag {index}: cairn has {:?}, packaging has {:?} \
             (cairn {} tags, packaging {})",
            actual.get(index),
            expected.get(index),
            actual.len(),
            expected.len()
        );
    }
}

/// The marker values CPython `full_version` reports on x86-64 Linux.
fn linux_markers(full_version: &str) -> InterpreterMarkers {
    InterpreterMarkers {
        implementation_name: "cpython".into(),
        implementation_version: full_version.into(),
        os_name: "posix".into(),
        platform_machine: "x86_64".into(),
        platform_python_implementation: "CPython".into(),
        platform_release: "6.1.0".into(),
        platform_system: "Linux".into(),
        platform_version: "#1 SMP".into(),
        python_full_version: full_version.into(),
        python_version: String::new(),
        sys_platform: "linux".into(),
    }
}

/// The machine the `sys_tags` golden list was captured on, as `Interpreter::query` describes it.
pub fn golden_machine() -> Interpreter {
    Interpreter {
        path: PathBuf::from("/usr/bin/python3.11"),
        executable: PathBuf::from("/usr/bin/python3.11"),
        implementation: "cpython".to_owned(),
        version: (3, 11),
        interpreter_tag: "cp311".to_owned(),
        abi_tags: vec!["cp311".to_owned()],
        platform: Platform::Manylinux {
            glibc: (2, 36),
            arch: "x86_64".to_owned(),
        },
        markers: linux_markers("3.11.2"),
        environment: cairn_python::tags::Environment::default(),
    }
}

#[test]
fn interpreter_tags_equal_packaging_sys_tags() {
    let expected = golden("sys_tags-cp311-manylinux_2_36_x86_64.txt");
    assert_eq!(expected.len(), 914);
    let tags = Tags::from_interpreter(&golden_machine());
    assert_same_list(
        &listed(&tags),
        &expected,
        "CPython 3.11, glibc 2.36, x86_64",
    );
    assert_eq!(tags.len(), expected.len());
}

#[test]
fn target_tags_equal_packaging_for_each_platform() {
    for (file, version, platform) in [
        (
            "cp312-manylinux_2_28_aarch64.txt",
            (3, 12),
            "manylinux_2_28_aarch64",
        ),
        (
            "cp312-musllinux_1_2_x86_64.txt",
            (3, 12),
            "musllinux_1_2_x86_64",
        ),
        ("cp312-macosx_14_0_arm64.txt", (3, 12), "macosx_14_0_arm64"),
        (
            "cp39-macosx_10_15_x86_64.txt",
            (3, 9),
            "macosx_10_15_x86_64",
        ),
        ("cp313-win_amd64.txt", (3, 13), "win_amd64"),
    ] {
        let tags = Tags::for_target(version, platform).unwrap();
        assert_same_list(&listed(&tags), &golden(file), file);
    }
}

#[test]
fn a_manylinux_target_is_the_machine_with_that_glibc() {
    let target = Tags::for_target((3, 11), "manylinux_2_36_x86_64").unwrap();
    let golden = golden("sys_tags-cp311-manylinux_2_36_x86_64.txt");
    assert_same_list(&listed(&target), &golden, "manylinux_2_36_x86_64 target");
}

#[test]
fn legacy_manylinux_names_stand_for_their_glibc() {
    for (legacy, modern) in [
        ("manylinux2014_x86_64", "manylinux_2_17_x86_64"),
        ("manylinux2010_x86_64", "manylinux_2_12_x86_64"),
        ("manylinux1_x86_64", "manylinux_2_5_x86_64"),
        ("manylinux2014_aarch64", "manylinux_2_17_aarch64"),
    ] {
        let a = Tags::for_target((3, 10), legacy).unwrap();
        let b = Tags::for_target((3, 10), modern).unwrap();
        assert_eq!(listed(&a), listed(&b), "{legacy}");
    }
}
