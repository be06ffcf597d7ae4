//! Ranking wheel file names against tag lists, special builds, and refused targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use cairn_python::requirements::InterpreterMarkers;
use cairn_python::tags::{Environment, Interpreter, Platform, Tags, TagsError};
use cairn_types::WheelFilename;

fn wheel(name: &str) -> WheelFilename {
    name.parse().unwrap()
}

fn rank(tags: &Tags, name: &str) -> Option<usize> {
    tags.priority(&wheel(name))
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

fn cpython(version: (u8, u8), abi_tags: &[&str]) -> Interpreter {
    Interpreter {
        path: PathBuf::from("/opt/python/bin/python3"),
        executable: PathBuf::from("/opt/python/bin/python3"),
        implementation: "cpython".to_owned(),
        version,
        interpreter_tag: format!("cp{}{}", version.0, version.1),
        abi_tags: abi_tags.iter().map(|abi| (*abi).to_owned()).collect(),
        platform: Platform::Manylinux {
            glibc: (2, 28),
            arch: "x86_64".to_owned(),
        },
        markers: linux_markers(&format!("{}.{}.0", version.0, version.1)),
        environment: Environment::default(),
    }
}

#[test]
fn specific_wheels_rank_before_generic_ones() {
    let tags = Tags::for_target((3, 12), "manylinux_2_28_x86_64").unwrap();
    let order = [
        "demo-1.0-cp312-cp312-linux_x86_64.whl",
        "demo-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "demo-1.0-cp312-cp312-manylinux2014_x86_64.whl",
        "demo-1.0-cp312-abi3-manylinux_2_28_x86_64.whl",
        "demo-1.0-cp312-none-manylinux_2_28_x86_64.whl",
        "demo-1.0-cp39-abi3-manylinux_2_17_x86_64.whl",
        "demo-1.0-py3-none-manylinux1_x86_64.whl",
        "demo-1.0-cp312-none-any.whl",
        "demo-1.0-py312-none-any.whl",
        "demo-1.0-py3-none-any.whl",
        "demo-1.0-py30-none-any.whl",
    ];
    let ranks: Vec<usize> = order
        .iter()
        .map(|name| rank(&tags, name).unwrap())
        .collect();
    assert!(ranks.windows(2).all(|pair| pair[0] < pair[1]), "{ranks:?}");
    assert_eq!(ranks[0], 0);
    assert_eq!(ranks[ranks.len() - 1], tags.len() - 1);
}

#[test]
fn a_compressed_tag_set_takes_its_best_member() {
    let tags = Tags::for_target((3, 11), "manylinux_2_36_x86_64").unwrap();
    let compressed = rank(
        &tags,
        "black-26.10.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
    );
    let best_member = rank(&tags, "black-26.10.1-cp311-cp311-manylinux_2_28_x86_64.whl");
    assert_eq!(compressed, best_member);
    assert_eq!(
        rank(&tags, "six-1.17.0-py2.py3-none-any.whl"),
        rank(&tags, "six-1.17.0-py3-none-any.whl")
    );
    // Unknown members are ignored, not fatal.
    assert!(rank(&tags, "x-1-cp311-cp311-win_amd64.manylinux_2_17_x86_64.whl").is_some());
}

#[test]
fn incompatible_wheels_have_no_priority() {
    let tags = Tags::for_target((3, 11), "manylinux_2_17_x86_64").unwrap();
    for name in [
        "x-1-cp312-cp312-manylinux_2_17_x86_64.whl",
        "x-1-cp311-cp311-manylinux_2_28_x86_64.whl",
        "x-1-cp311-cp311-win_amd64.whl",
        "x-1-cp312-abi3-manylinux_2_17_x86_64.whl",
        "x-1-py2-none-any.whl",
        "x-1-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl",
        "x-1-cp311-cp311t-manylinux_2_17_x86_64.whl",
    ] {
        assert_eq!(rank(&tags, name), None, "{name}");
    }
}

#[test]
fn free_threaded_cpython_takes_abi3t_and_not_abi3() {
    let tags = Tags::from_interpreter(&cpython((3, 14), &["cp314t"]));
    assert!(rank(&tags, "x-1-cp314-cp314t-manylinux_2_28_x86_64.whl").is_some());
    assert!(rank(&tags, "x-1-cp310-abi3t-manylinux_2_28_x86_64.whl").is_some());
    assert_eq!(
        rank(&tags, "x-1-cp314-cp314-manylinux_2_28_x86_64.whl"),
        None
    );
    assert_eq!(
        rank(&tags, "x-1-cp310-abi3-manylinux_2_28_x86_64.whl"),
        None
    );
    assert!(rank(&tags, "x-1-py3-none-any.whl").is_some());
}

#[test]
fn debug_cpython_prefers_debug_wheels_and_takes_normal_ones() {
    let tags = Tags::from_interpreter(&cpython((3, 12), &["cp312d", "cp312"]));
    let debug = rank(&tags, "x-1-cp312-cp312d-manylinux_2_28_x86_64.whl").unwrap();
    let normal = rank(&tags, "x-1-cp312-cp312-manylinux_2_28_x86_64.whl").unwrap();
    assert!(debug < normal);
}

#[test]
fn pypy_takes_its_own_abi_and_pure_wheels() {
    let pypy = Interpreter {
        implementation: "pypy".to_owned(),
        interpreter_tag: "pp310".to_owned(),
        abi_tags: vec!["pypy310_pp73".to_owned()],
        ..cpython((3, 10), &[])
    };
    let tags = Tags::from_interpreter(&pypy);
    let listed: Vec<String> = tags.iter().map(|tag| tag.to_string()).collect();
    assert_eq!(listed[0], "pp310-pypy310_pp73-linux_x86_64");
    assert!(listed.contains(&"pp3-none-any".to_owned()));
    assert!(rank(&tags, "x-1-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl").is_some());
    assert!(rank(&tags, "x-1-py3-none-any.whl").is_some());
    assert_eq!(
        rank(&tags, "x-1-cp310-cp310-manylinux_2_17_x86_64.whl"),
        None
    );
    assert_eq!(
        rank(&tags, "x-1-cp310-abi3-manylinux_2_17_x86_64.whl"),
        None
    );
}

#[test]
fn a_linux_target_without_libc_takes_only_linux_wheels() {
    let tags = Tags::for_target((3, 12), "linux_x86_64").unwrap();
    assert!(rank(&tags, "x-1-cp312-cp312-linux_x86_64.whl").is_some());
    assert_eq!(
        rank(&tags, "x-1-cp312-cp312-manylinux_2_17_x86_64.whl"),
        None
    );
    assert!(rank(&tags, "x-1-py3-none-any.whl").is_some());
}

#[test]
fn windows_targets() {
    let tags = Tags::for_target((3, 12), "win32").unwrap();
    assert!(rank(&tags, "x-1-cp312-cp312-win32.whl").is_some());
    assert_eq!(rank(&tags, "x-1-cp312-cp312-win_amd64.whl"), None);
    let arm = Tags::for_target((3, 12), "win_arm64").unwrap();
    assert!(rank(&arm, "x-1-cp312-abi3-win_arm64.whl").is_some());
}

#[test]
fn unknown_targets_are_refused_with_examples() {
    for platform in [
        "any",
        "solaris_sparc",
        "manylinux_2_x86_64",
        "manylinux_x_28_x86_64",
        "linux_",
        "macosx_11_arm64",
        "win_",
    ] {
        let error = Tags::for_target((3, 12), platform).unwrap_err();
        assert!(
            matches!(error, TagsError::UnknownPlatform { .. }),
            "{platform}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(platform) && message.contains("manylinux_2_28_x86_64"),
            "{message}"
        );
    }
    let error = Tags::for_target((2, 7), "linux_x86_64").unwrap_err();
    assert!(
        matches!(error, TagsError::UnsupportedPython { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("2.7"));
}

#[test]
fn platform_tags_round_trip_through_display() {
    for tag in [
        "manylinux_2_28_aarch64",
        "musllinux_1_2_x86_64",
        "linux_armv7l",
        "macosx_11_0_arm64",
        "win_amd64",
        "win32",
    ] {
        assert_eq!(Platform::from_tag(tag).unwrap().to_string(), tag);
    }
    assert_eq!(
        Platform::from_tag("manylinux2014_x86_64")
            .unwrap()
            .to_string(),
        "manylinux_2_17_x86_64"
    );
}
