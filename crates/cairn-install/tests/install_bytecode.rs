//! `InstallSettings::compile_bytecode`: the installed `.py` files get their `__pycache__/*.pyc`
//! from the target interpreter, which Python then imports without compiling; files that do not
//! compile are passed over; without the option nothing is compiled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod install_support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use cairn_install::{InstallError, InstallSettings, Installer, LinkMode};
use cairn_test_support::wheel::WheelBuilder;
use install_support::*;

fn compiling_installer(target: &Path, mode: LinkMode) -> Installer {
    let mut settings = InstallSettings::new(python());
    settings.link_mode = mode;
    settings.compile_bytecode = true;
    Installer::new(target, settings).unwrap()
}

/// `sys.implementation.cache_tag` of the test interpreter (`cpython-311`).
fn cache_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let output = Command::new(python())
            .args(["-c", "import sys; print(sys.implementation.cache_tag)"])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    })
}

/// Where Python looks for the bytecode of `source` (target-relative).
fn pyc_of(target: &Path, source: &str) -> PathBuf {
    let source = target.join(source);
    let stem = source.file_stem().unwrap().to_str().unwrap().to_owned();
    source
        .parent()
        .unwrap()
        .join("__pycache__")
        .join(format!("{stem}.{}.pyc", cache_tag()))
}

/// Every `__pycache__` entry under `root`, relative to it.
fn pycache_entries(root: &Path) -> Vec<String> {
    files(root)
        .into_iter()
        .filter(|path| path.contains("__pycache__"))
        .collect()
}

/// Imports `modules` from `target` with `python -v`, bytecode writing allowed and no pycache
/// prefix, so Python says where each module's code came from.
fn import_verbose(target: &Path, modules: &str) -> Output {
    let output = Command::new(python())
        .args(["-v", "-c", &format!("import {modules}")])
        .env("PYTHONPATH", target)
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env_remove("PYTHONPYCACHEPREFIX")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Asserts that `python -v` loaded `source`'s code from its `.pyc` rather than compiling it.
fn assert_loaded_from_pyc(output: &Output, target: &Path, source: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let pyc = pyc_of(target, source);
    let expected = format!("# code object from '{}'", pyc.display());
    assert!(
        stderr.contains(&expected),
        "{source} was not loaded from {}:\n{stderr}",
        pyc.display()
    );
}

fn demo_wheel() -> WheelBuilder {
    WheelBuilder::new("demo", "1.0")
        .file(
            "demo/__init__.py",
            "from demo.sub import mod\nVALUE = mod.X\n",
        )
        .file("demo/sub/__init__.py", "")
        .file("demo/sub/mod.py", "X = 42\n")
        .file("demo/data.txt", "not python\n")
        .data("purelib", "demo_extra.py", "EXTRA = 1\n")
}

const DEMO_SOURCES: [&str; 4] = [
    "demo/__init__.py",
    "demo/sub/__init__.py",
    "demo/sub/mod.py",
    "demo_extra.py",
];

#[test]
fn every_installed_module_is_compiled_and_imported_from_its_pyc() {
    for mode in MODES {
        let work = Workspace::new();
        let wheel = work.unpack(&demo_wheel());
        let target = work.target("site");
        let report = compiling_installer(&target, mode)
            .install(&[wheel.request()])
            .unwrap();
        let bytecode = report.bytecode.unwrap();
        assert_eq!((bytecode.compiled, bytecode.failed), (4, 0), "{mode}");

        let mut expected: Vec<String> = DEMO_SOURCES
            .iter()
            .map(|source| {
                pyc_of(&target, source)
                    .strip_prefix(&target)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        expected.sort();
        assert_eq!(pycache_entries(&target), expected, "{mode}");

        // As with uv, the bytecode is not in RECORD (and RECORD is still right).
        let listed = checked_record(&target, "demo-1.0.dist-info");
        assert!(
            listed.iter().all(|path| !path.ends_with(".pyc")),
            "{listed:?}"
        );

        // Python takes the code from the .pyc files and has nothing to rewrite.
        let before: Vec<(u64, i64)> = expected
            .iter()
            .map(|pyc| {
                let metadata = std::fs::metadata(target.join(pyc)).unwrap();
                (metadata.ino(), metadata.mtime_nsec())
            })
            .collect();
        let output = import_verbose(&target, "demo, demo_extra");
        for source in DEMO_SOURCES {
            assert_loaded_from_pyc(&output, &target, source);
        }
        let after: Vec<(u64, i64)> = expected
            .iter()
            .map(|pyc| {
                let metadata = std::fs::metadata(target.join(pyc)).unwrap();
                (metadata.ino(), metadata.mtime_nsec())
            })
            .collect();
        assert_eq!(before, after, "{mode}: Python rewrote bytecode");
        assert_eq!(pycache_entries(&target), expected, "{mode}");
    }
}

#[test]
fn without_the_option_nothing_is_compiled() {
    let work = Workspace::new();
    let wheel = work.unpack(&demo_wheel());
    let target = work.target("site");
    let report = install(&target, LinkMode::Hardlink, &[&wheel]).unwrap();
    assert_eq!(report.bytecode, None);
    assert_eq!(pycache_entries(&target), Vec::<String>::new());
    assert!(!InstallSettings::new(python()).compile_bytecode);
}

#[test]
fn a_file_that_does_not_compile_does_not_fail_the_install() {
    let work = Workspace::new();
    let wheel = work.unpack(
        &WheelBuilder::new("legacy", "1.0")
            .file("legacy/__init__.py", "OK = True\n")
            .file("legacy/py2.py", "print \"python 2\"\n"),
    );
    let target = work.target("site");
    let report = compiling_installer(&target, LinkMode::Copy)
        .install(&[wheel.request()])
        .unwrap();
    let bytecode = report.bytecode.unwrap();
    assert_eq!((bytecode.compiled, bytecode.failed), (1, 1));
    assert!(pyc_of(&target, "legacy/__init__.py").is_file());
    assert!(!pyc_of(&target, "legacy/py2.py").exists());
    assert!(target.join("legacy/py2.py").is_file());
    assert!(python_in(&target, "import legacy").status.success());
}

#[test]
fn only_the_installed_wheels_files_are_compiled() {
    let work = Workspace::new();
    let first = work.unpack(&WheelBuilder::new("first", "1.0").file("first.py", "A = 1\n"));
    let second = work.unpack(&WheelBuilder::new("second", "1.0").file("second.py", "B = 2\n"));
    let target = work.target("site");
    install(&target, LinkMode::Hardlink, &[&first]).unwrap();
    std::fs::write(target.join("loose.py"), "C = 3\n").unwrap();

    let report = compiling_installer(&target, LinkMode::Hardlink)
        .install(&[second.request()])
        .unwrap();
    assert_eq!(report.bytecode.unwrap().compiled, 1);
    assert_eq!(
        pycache_entries(&target),
        vec![format!("__pycache__/second.{}.pyc", cache_tag())]
    );
}

#[test]
fn an_upgrade_removes_the_bytecode_of_modules_it_removes() {
    let work = Workspace::new();
    let old = work.unpack(
        &WheelBuilder::new("demo", "1.0")
            .file("demo/__init__.py", "")
            .file("demo/gone.py", "G = 1\n"),
    );
    let new = work.unpack(&WheelBuilder::new("demo", "2.0").file("demo/__init__.py", "V = 2\n"));
    let target = work.target("site");
    compiling_installer(&target, LinkMode::Hardlink)
        .install(&[old.request()])
        .unwrap();
    assert!(pyc_of(&target, "demo/gone.py").is_file());

    compiling_installer(&target, LinkMode::Hardlink)
        .install(&[new.request()])
        .unwrap();
    assert!(!pyc_of(&target, "demo/gone.py").exists());
    // The new __init__ has new bytecode, which Python uses.
    let output = import_verbose(&target, "demo");
    assert_loaded_from_pyc(&output, &target, "demo/__init__.py");
}

#[test]
fn an_interpreter_that_cannot_start_is_an_error_naming_it_after_the_install() {
    let work = Workspace::new();
    let wheel = work.unpack(&demo_wheel());
    let target = work.target("site");
    let missing = work.dir.path().join("no-such-python");
    let mut settings = InstallSettings::new(&missing);
    settings.compile_bytecode = true;
    let error = Installer::new(&target, settings)
        .unwrap()
        .install(&[wheel.request()])
        .unwrap_err();
    let InstallError::Bytecode { report, source } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(report.wheels[0].name, "demo");
    assert!(
        source.to_string().contains(&missing.display().to_string()),
        "{source}"
    );
    // The install itself stands.
    assert!(target.join("demo/sub/mod.py").is_file());
    checked_record(&target, "demo-1.0.dist-info");
}

/// The corpus's numpy, fetched and verified by `cairn_test_support::pypi::corpus`.
fn corpus_numpy() -> Option<PathBuf> {
    cairn_test_support::pypi::corpus(&["numpy-"]).pop()
}

/// The `.py` files under `root`, relative to it (a walk that reads no file's bytes).
fn python_files(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "py") {
                found.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_corpus_wheel_compiles_whole() {
    let Some(numpy) = corpus_numpy() else {
        eprintln!("no numpy wheel in the corpus: skipped");
        return;
    };
    let work = Workspace::new();
    let wheel = work.unpack_file(&numpy);
    let target = work.target("site");
    let report = compiling_installer(&target, LinkMode::Hardlink)
        .install(&[wheel.request_with_manifest()])
        .unwrap();
    let sources = python_files(&target);
    let bytecode = report.bytecode.unwrap();
    assert_eq!(
        bytecode.compiled + bytecode.failed,
        sources.len() as u64,
        "{bytecode:?}"
    );
    let missing: Vec<&String> = sources
        .iter()
        .filter(|source| !pyc_of(&target, source).is_file())
        .collect();
    assert_eq!(missing.len() as u64, bytecode.failed, "{missing:?}");
    assert!(bytecode.compiled > 100, "{bytecode:?}");
    if wheel
        .filename
        .to_string()
        .contains(&cache_tag().replace("python-", "p"))
    {
        let output = import_verbose(&target, "numpy");
        assert_loaded_from_pyc(&output, &target, "numpy/__init__.py");
    }
}
