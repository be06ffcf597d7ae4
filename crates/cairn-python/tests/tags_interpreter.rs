//! `Interpreter::query` against real interpreters: the machine's `python3`, compared with the
//! `packaging` library, and wrapper scripts that count how often they run or misbehave.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_cache::Cache;
use cairn_python::tags::{Interpreter, Platform, Tags, TagsError};
use cairn_test_support::venv::{self, Pip};
use cairn_types::WheelFilename;

/// The real interpreter behind `python3` (not a launcher script such as a pyenv shim).
fn real_python3() -> PathBuf {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("these tests need python3 on PATH");
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

fn golden_sys_tags() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tags/sys_tags-cp311-manylinux_2_36_x86_64.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// `packaging.tags.sys_tags()` of `python`, if that interpreter can import packaging >= 26.3
/// (the release that orders `linux_*` first) from `extra_path` or its own site-packages.
fn live_sys_tags(python: &Path, extra_path: Option<&Path>) -> Option<Vec<String>> {
    let mut command = Command::new(python);
    command.args([
        "-c",
        "import packaging, packaging.tags as t\n\
         assert tuple(map(int, packaging.__version__.split('.')[:2])) >= (26, 3)\n\
         print(*t.sys_tags(), sep='\\n')",
    ]);
    if let Some(dir) = extra_path {
        command.env("PYTHONPATH", dir);
    }
    let output = command.output().ok()?;
    output.status.success().then(|| {
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    })
}

fn listed(tags: &Tags) -> Vec<String> {
    tags.iter().map(|tag| tag.to_string()).collect()
}

fn check_against_packaging(tags: &Tags, expected: &[String]) {
    let actual = listed(tags);
    assert_eq!(actual[..50], expected[..50], "the 50 most preferred tags");
    let mut a = actual.clone();
    let mut b = expected.to_vec();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the same set of tags");
    assert_eq!(actual, expected, "the same order");
}

/// The machine's python3 gives packaging's list: live when packaging 26.3 is importable, else
/// the golden list when the machine is the one it was captured on (CPython 3.11, glibc 2.36,
/// x86_64); any other machine fails here, asking for packaging or a new golden list.
#[test]
fn python3_tags_equal_packaging() {
    let cache = Cache::temporary().unwrap();
    let python = real_python3();
    let interpreter = Interpreter::query(&python, &cache).unwrap();
    let tags = Tags::from_interpreter(&interpreter);
    if let Some(live) = live_sys_tags(&python, None) {
        check_against_packaging(&tags, &live);
        return;
    }
    let captured_on = Platform::Manylinux {
        glibc: (2, 36),
        arch: "x86_64".to_owned(),
    };
    assert!(
        interpreter.implementation == "cpython"
            && interpreter.version == (3, 11)
            && interpreter.platform == captured_on,
        "python3 is {interpreter:?}, not the machine the golden list was captured on: install \
         packaging>=26.3 for python3, or regenerate tests/data/tags with capture.py"
    );
    assert_eq!(interpreter.abi_tags, ["cp311"]);
    assert_eq!(interpreter.interpreter_tag, "cp311");
    check_against_packaging(&tags, &golden_sys_tags());
}

/// The same comparison against a packaging 26.3 installed from PyPI by pip, whatever the
/// machine: `cargo test -p cairn-python --test tags_interpreter -- --ignored`.
#[test]
#[ignore = "installs packaging from PyPI"]
fn python3_tags_equal_freshly_installed_packaging() {
    let target = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--no-deps", "--target"])
        .arg(target.path())
        .arg("packaging==26.3")
        .status()
        .unwrap();
    assert!(status.success(), "pip install packaging==26.3 failed");
    let python = real_python3();
    let live = live_sys_tags(&python, Some(target.path())).expect("packaging 26.3 runs");
    let cache = Cache::temporary().unwrap();
    let tags = Tags::from_interpreter(&Interpreter::query(&python, &cache).unwrap());
    check_against_packaging(&tags, &live);
}

#[test]
fn corpus_wheels_fit_python3_and_foreign_wheels_do_not() {
    let cache = Cache::temporary().unwrap();
    let tags = Tags::from_interpreter(&Interpreter::query(&real_python3(), &cache).unwrap());
    // The file names pinned in shared/corpus.tsv.
    for name in [
        "tomli-2.5.0-py3-none-any.whl",
        "black-26.10.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
        "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "scipy-1.17.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    ] {
        let wheel: WheelFilename = name.parse().unwrap();
        assert!(tags.priority(&wheel).is_some(), "{name} should fit python3");
    }
    for name in [
        "numpy-2.4.6-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "numpy-2.4.6-cp311-cp311-win_amd64.whl",
        "numpy-2.4.6-cp311-cp311-manylinux_2_28_aarch64.whl",
        "numpy-2.4.6-cp311-cp311-musllinux_1_2_x86_64.whl",
        "numpy-2.4.6-cp311-cp311-macosx_14_0_arm64.whl",
        "demo-1.0-py2-none-any.whl",
    ] {
        let wheel: WheelFilename = name.parse().unwrap();
        assert_eq!(tags.priority(&wheel), None, "{name} should not fit python3");
    }
}

/// A wrapper script that records each run in `runs`, then runs `body`.
fn wrapper(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let runs = dir.join(format!("{name}.runs"));
    let script = format!("#!/bin/sh\necho run >> '{}'\n{body}\n", runs.display());
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn runs(dir: &Path, name: &str) -> usize {
    std::fs::read_to_string(dir.join(format!("{name}.runs"))).map_or(0, |text| text.lines().count())
}

#[test]
fn the_answer_is_cached_until_the_interpreter_changes() {
    let dir = tempfile::tempdir().unwrap();
    let real = real_python3();
    let exec = format!("exec '{}' \"$@\"", real.display());
    let python = wrapper(dir.path(), "python", &exec);
    let cache = Cache::temporary().unwrap();

    let first = Interpreter::query(&python, &cache).unwrap();
    let second = Interpreter::query(&python, &cache).unwrap();
    assert_eq!(first, second);
    assert_eq!(
        runs(dir.path(), "python"),
        1,
        "the second query is a cache hit"
    );

    // Another cache has its own record.
    let other_cache = Cache::temporary().unwrap();
    Interpreter::query(&python, &other_cache).unwrap();
    assert_eq!(runs(dir.path(), "python"), 2);

    // A changed interpreter (a different size) is queried again.
    let changed = format!("# changed\n{exec}");
    wrapper(dir.path(), "python", &changed);
    Interpreter::query(&python, &cache).unwrap();
    assert_eq!(runs(dir.path(), "python"), 3);
    Interpreter::query(&python, &cache).unwrap();
    assert_eq!(runs(dir.path(), "python"), 3);
}

#[test]
fn a_symlink_has_its_own_record_and_keeps_its_own_path() {
    let dir = tempfile::tempdir().unwrap();
    let exec = format!("exec '{}' \"$@\"", real_python3().display());
    let python = wrapper(dir.path(), "python", &exec);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&python, &link).unwrap();
    let cache = Cache::temporary().unwrap();
    Interpreter::query(&python, &cache).unwrap();
    // Keyed by the path asked for: a virtual environment's `bin/python` is a symlink to its
    // base interpreter, but its environment is another.
    let through_link = Interpreter::query(&link, &cache).unwrap();
    assert_eq!(runs(dir.path(), "python"), 2);
    assert_eq!(through_link.path, link);
    Interpreter::query(&link, &cache).unwrap();
    assert_eq!(runs(dir.path(), "python"), 2);
}

#[test]
fn a_corrupt_record_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let exec = format!("exec '{}' \"$@\"", real_python3().display());
    let python = wrapper(dir.path(), "python", &exec);
    let cache = Cache::temporary().unwrap();
    Interpreter::query(&python, &cache).unwrap();
    let bucket = cache.bucket(cairn_cache::CacheBucket::Interpreter);
    let records: Vec<PathBuf> = std::fs::read_dir(&bucket)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    assert_eq!(records.len(), 1);
    std::fs::write(&records[0], b"{not json").unwrap();
    Interpreter::query(&python, &cache).unwrap();
    assert_eq!(runs(dir.path(), "python"), 2);
}

#[test]
fn failures_name_the_interpreter_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::temporary().unwrap();

    let missing = dir.path().join("no-such-python");
    let error = Interpreter::query(&missing, &cache).unwrap_err();
    assert!(matches!(error, TagsError::NotFound { .. }), "{error:?}");
    assert!(error.to_string().contains("no-such-python"), "{error}");

    let broken = wrapper(
        dir.path(),
        "broken",
        "echo 'libpython3.11.so: cannot open' >&2; exit 3",
    );
    let error = Interpreter::query(&broken, &cache).unwrap_err();
    assert!(matches!(error, TagsError::QueryFailed { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("broken") && message.contains("libpython3.11.so"),
        "{message}"
    );

    // An interpreter that fails silently (`/bin/false`) still gets a cause.
    let silent = wrapper(dir.path(), "silent", "exit 1");
    let message = Interpreter::query(&silent, &cache).unwrap_err().to_string();
    assert!(message.contains("printed nothing"), "{message}");

    let garbage = wrapper(dir.path(), "garbage", "echo 'Python 2.7.18'");
    let error = Interpreter::query(&garbage, &cache).unwrap_err();
    assert!(matches!(error, TagsError::BadAnswer { .. }), "{error:?}");

    let not_executable = dir.path().join("plain");
    std::fs::write(&not_executable, "").unwrap();
    let error = Interpreter::query(&not_executable, &cache).unwrap_err();
    assert!(matches!(error, TagsError::Spawn { .. }), "{error:?}");
    // Nothing was cached for the failures.
    assert_eq!(runs(dir.path(), "broken"), 1);
    Interpreter::query(&broken, &cache).unwrap_err();
    assert_eq!(runs(dir.path(), "broken"), 2);
}

#[test]
fn a_bare_name_is_found_on_path() {
    let cache = Cache::temporary().unwrap();
    let interpreter = Interpreter::query(Path::new("python3"), &cache).unwrap();
    assert!(interpreter.path.is_absolute(), "{:?}", interpreter.path);
    assert_eq!(interpreter.version.0, 3);
}

/// `os.path.realpath(sys.executable)` of the machine's `python3`.
fn realpath_python3() -> PathBuf {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

#[test]
fn scripts_name_the_real_interpreter_behind_a_launcher_script_or_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let exec = format!("exec '{}' \"$@\"", real_python3().display());
    let shim = wrapper(dir.path(), "python3", &exec);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&shim, &link).unwrap();
    let cache = Cache::temporary().unwrap();
    for python in [&shim, &link] {
        let interpreter = Interpreter::query(python, &cache).unwrap();
        assert_eq!(interpreter.path, *python);
        assert_eq!(interpreter.shebang_path(), realpath_python3());
    }
}

#[test]
fn scripts_name_a_virtual_environment_interpreter_by_its_own_path() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let python = venv::create(&venv, Pip::Without);
    let cache = Cache::temporary().unwrap();
    let interpreter = Interpreter::query(&python, &cache).unwrap();
    assert_eq!(interpreter.shebang_path(), python);
    // Its binary is the base interpreter, which does not see the environment.
    assert_eq!(interpreter.executable, realpath_python3());
    let environment = &interpreter.environment;
    assert!(environment.is_virtual());
    assert_eq!(environment.prefix, venv);
    assert_eq!(environment.sys_executable, python);
    let site_packages = venv.join(format!(
        "lib/python{}.{}/site-packages",
        interpreter.version.0, interpreter.version.1
    ));
    assert_eq!(environment.scheme.purelib, site_packages);
    assert_eq!(environment.scheme.scripts, venv.join("bin"));
    assert_eq!(environment.scheme.data, venv);
    assert_eq!(environment.externally_managed(), None);

    // Without `pyvenv.cfg` the same symlink is no environment.
    std::fs::remove_file(venv.join("pyvenv.cfg")).unwrap();
    let interpreter = Interpreter::query(&python, &cache).unwrap();
    assert_eq!(interpreter.shebang_path(), realpath_python3());
}

#[test]
fn a_shim_that_runs_a_virtual_environment_names_the_environment() {
    // pyenv-virtualenv's shims run `<env>/bin/python`: scripts must name that, not the base
    // interpreter it links to, or they would not see the environment's packages.
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    venv::create(&venv, Pip::Without);
    let shims = dir.path().join("shims");
    std::fs::create_dir(&shims).unwrap();
    let env_python = venv.join("bin").join("python");
    let shim = wrapper(
        &shims,
        "python3",
        &format!("exec '{}' \"$@\"", env_python.display()),
    );
    let cache = Cache::temporary().unwrap();
    let interpreter = Interpreter::query(&shim, &cache).unwrap();
    assert_eq!(interpreter.path, shim);
    assert_eq!(interpreter.shebang_path(), env_python);
    assert_eq!(interpreter.environment.prefix, venv);
}
