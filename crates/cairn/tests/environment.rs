//! Installing into environments: a virtual environment (given by `--python`, `VIRTUAL_ENV` or a
//! `.venv` found from the current directory), a `--prefix`, and a distributor's externally
//! managed Python (PEP 668), with pip reading and uninstalling what cairn installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_test_support::pypi::{self, pins};
use cairn_test_support::venv::{self, Pip};
use cairn_test_support::wheel::WheelBuilder;
use support::{command, stderr};

fn demo(version: &str) -> WheelBuilder {
    WheelBuilder::new("Demo_App", version)
        .file("demo_app/__init__.py", format!("VERSION = '{version}'\n"))
        .file(
            "demo_app/cli.py",
            "import sys\nfrom demo_app import VERSION\ndef main():\n    print(VERSION, sys.prefix)\n",
        )
        .entry_points("[console_scripts]\ndemo-app = demo_app.cli:main\n")
        .data("data", "share/demo/readme.txt", "data\n")
}

struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn wheel(&self, builder: &WheelBuilder) -> String {
        let wheels = self.path("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        builder.build(&wheels).to_str().unwrap().to_owned()
    }

    fn cairn_in(&self, cwd: &Path, args: &[&str]) -> Output {
        command(&self.path("cache"), args)
            .current_dir(cwd)
            .output()
            .unwrap()
    }

    fn cairn(&self, args: &[&str]) -> Output {
        self.cairn_in(self.dir.path(), args)
    }

    #[track_caller]
    fn cairn_ok(&self, args: &[&str]) -> String {
        let output = self.cairn(args);
        assert!(
            output.status.success(),
            "cairn {args:?}: {}",
            stderr(&output)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// `python3 -m venv` (with pip when `pip`).
    fn venv(&self, name: &str, pip: bool) -> PathBuf {
        let venv = self.path(name);
        venv::create(&venv, if pip { Pip::With } else { Pip::Without });
        venv
    }
}

/// Every file and symlink under `dir`, bytecode caches left out.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                if entry.file_name() != "__pycache__" {
                    stack.push(path);
                }
            } else {
                found.insert(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_venv_install_runs_its_scripts_and_pip_lists_and_uninstalls_it() {
    let work = Work::new();
    let venv = work.venv("venv", true);
    let python = venv.join("bin/python");
    let python_arg = python.to_str().unwrap();
    let before = files(&venv);
    let demo = work.wheel(&demo("1.0"));
    work.cairn_ok(&["install", "--python", python_arg, &demo]);

    let launcher = venv.join("bin/demo-app");
    let output = run(&launcher, &[]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(text(&output).trim(), format!("1.0 {}", venv.display()));
    assert!(venv.join("share/demo/readme.txt").is_file());

    let pip_list = run(&python, &["-m", "pip", "list", "--format=freeze"]);
    assert!(text(&pip_list).contains("Demo_App==1.0"), "{pip_list:?}");
    let listed = work.cairn_ok(&["list", "--python", python_arg, "--format", "freeze"]);
    assert!(
        listed.contains("Demo_App==1.0") && listed.contains("pip=="),
        "{listed}"
    );

    // pip removes every file cairn installed, the script in bin/ and the data file included.
    let pip_uninstall = run(&python, &["-m", "pip", "uninstall", "-y", "Demo_App"]);
    assert!(pip_uninstall.status.success(), "{pip_uninstall:?}");
    assert_eq!(files(&venv), before);
}

#[test]
fn real_wheels_round_trip_through_a_venv() {
    let Some(wheels) = [
        pins::WHEEL,
        pins::PYJWT,
        pins::BACKPORTS_TARFILE,
        pins::BACKPORTS_LRU_CACHE,
    ]
    .iter()
    .map(pypi::fetch)
    .collect::<Option<Vec<_>>>() else {
        return;
    };
    let work = Work::new();
    let venv = work.venv("venv", false);
    let python = venv.join("bin/python");
    let python_arg = python.to_str().unwrap();
    let before = files(&venv);
    let mut args = vec!["install", "--python", python_arg];
    args.extend(wheels.iter().map(|wheel| wheel.to_str().unwrap()));
    work.cairn_ok(&args);

    // The console script runs on the venv's interpreter and finds its package.
    let output = run(&venv.join("bin/wheel"), &["version"]);
    assert!(output.status.success(), "{output:?}");
    assert!(text(&output).contains("0.43.0"), "{output:?}");
    let imports = run(
        &python,
        &[
            "-c",
            "import jwt, backports.tarfile, backports.functools_lru_cache",
        ],
    );
    assert!(imports.status.success(), "{imports:?}");

    let listed = work.cairn_ok(&["list", "--python", python_arg, "--format", "freeze"]);
    let names: Vec<&str> = listed.lines().collect();
    assert_eq!(
        names,
        [
            "backports.functools-lru-cache==2.0.0",
            "backports.tarfile==1.2.0",
            "PyJWT==2.15.1",
            "wheel==0.43.0"
        ]
    );

    // One of the two projects sharing `backports/__init__.py` goes: the file stays.
    work.cairn_ok(&[
        "uninstall",
        "--python",
        python_arg,
        "backports.tarfile",
        "pyjwt",
    ]);
    let kept = run(&python, &["-c", "import backports.functools_lru_cache"]);
    assert!(kept.status.success(), "{kept:?}");
    work.cairn_ok(&[
        "uninstall",
        "--python",
        python_arg,
        "wheel",
        "backports-functools-lru-cache",
    ]);
    assert_eq!(files(&venv), before, "the venv is as it was");
}

#[test]
fn the_environment_is_found_from_virtual_env_or_a_dot_venv() {
    let work = Work::new();
    let venv = work.venv(".venv", false);
    let site = venv
        .join("lib")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let site = site.join("site-packages");
    let first = work.wheel(&WheelBuilder::new("first", "1.0").file("first.py", ""));
    let second = work.wheel(&WheelBuilder::new("second", "1.0").file("second.py", ""));

    // A `.venv` in a directory above the current one.
    let nested = work.path("project/src");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::rename(&venv, work.path("project/.venv")).unwrap();
    let venv = work.path("project/.venv");
    let site = venv.join(site.strip_prefix(work.path(".venv")).unwrap());
    let output = work.cairn_in(&nested, &["install", &first]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(site.join("first.py").is_file());

    // VIRTUAL_ENV wins over the current directory.
    let other = work.venv("other", false);
    let output = command(&work.path("cache"), &["install", &second])
        .env("VIRTUAL_ENV", &other)
        .current_dir(&nested)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!site.join("second.py").exists());
    let other_site = other.join(site.strip_prefix(&venv).unwrap());
    assert!(other_site.join("second.py").is_file());

    // Nothing found: the error says what to do, and nothing is written.
    let empty = tempfile::tempdir().unwrap();
    let output = work.cairn_in(empty.path(), &["install", &second]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("no virtual environment found") && message.contains("--target DIR"),
        "{message}"
    );
}

#[test]
fn a_prefix_install_lays_out_the_posix_prefix_scheme() {
    let work = Work::new();
    let prefix = work.path("prefix");
    let prefix_arg = prefix.to_str().unwrap();
    let demo = work.wheel(&demo("1.0"));
    work.cairn_ok(&[
        "install", "--python", "python3", "--prefix", prefix_arg, &demo,
    ]);
    let version = text(&run(
        Path::new("python3"),
        &["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
    ));
    let site = prefix.join(format!("lib/python{}/site-packages", version.trim()));
    assert!(site.join("demo_app/cli.py").is_file());
    assert!(prefix.join("bin/demo-app").is_file());
    assert!(prefix.join("share/demo/readme.txt").is_file());
    let listed = work.cairn_ok(&["list", "--prefix", prefix_arg, "--format", "freeze"]);
    assert_eq!(listed, "Demo_App==1.0\n");
    work.cairn_ok(&["uninstall", "--prefix", prefix_arg, "demo-app"]);
    assert!(!prefix.join("bin/demo-app").exists() && !site.join("demo_app").exists());
}

/// A Python installation of its own under `dir` (the machine's interpreter binary copied,
/// its standard library linked in), whose distributor marks it as externally managed.
fn managed_python(dir: &Path) -> Option<PathBuf> {
    let output = run(
        Path::new("python3"),
        &[
            "-c",
            "import os, sys, sysconfig; print(os.path.realpath(sys.executable)); \
             print(sysconfig.get_path('stdlib')); print('%d.%d' % sys.version_info[:2])",
        ],
    );
    let answer = text(&output);
    let mut lines = answer.lines();
    let (executable, stdlib, version) = (lines.next()?, lines.next()?, lines.next()?);
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let python = bin.join(format!("python{version}"));
    std::fs::copy(executable, &python).unwrap();
    let lib = dir.join(format!("lib/python{version}"));
    std::fs::create_dir_all(lib.join("site-packages")).unwrap();
    for entry in std::fs::read_dir(stdlib).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name != "site-packages" && name != "EXTERNALLY-MANAGED" {
            std::os::unix::fs::symlink(entry.path(), lib.join(&name)).unwrap();
        }
    }
    std::fs::write(
        lib.join("EXTERNALLY-MANAGED"),
        "[externally-managed]\nError=This Python belongs to the test's distributor.\n Use its packages.\n",
    )
    .unwrap();
    // The copy must find its own prefix (a statically linked or relocatable build does).
    let prefix = run(&python, &["-c", "import sys; print(sys.prefix)"]);
    (text(&prefix).trim() == dir.to_str()?).then_some(python)
}

#[test]
fn an_externally_managed_python_is_refused_unless_asked() {
    let work = Work::new();
    let installation = work.path("distro");
    let python = managed_python(&installation).expect("a copied interpreter finds its prefix");
    let python_arg = python.to_str().unwrap();
    let site = python
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("lib")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages");
    let demo = work.wheel(&demo("1.0"));

    let output = work.cairn(&["install", "--python", python_arg, &demo]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("externally managed"), "{message}");
    assert!(
        message.contains("belongs to the test's distributor"),
        "{message}"
    );
    assert!(message.contains("--break-system-packages"), "{message}");
    assert_eq!(std::fs::read_dir(&site).unwrap().count(), 0);
    assert!(!installation.join("bin/demo-app").exists());

    // A target directory is not the environment: allowed.
    let target = work.path("target");
    work.cairn_ok(&[
        "install",
        "--python",
        python_arg,
        "--target",
        target.to_str().unwrap(),
        &demo,
    ]);

    work.cairn_ok(&[
        "install",
        "--python",
        python_arg,
        "--break-system-packages",
        &demo,
    ]);
    assert!(site.join("demo_app/cli.py").is_file());
    let output = run(&installation.join("bin/demo-app"), &[]);
    assert!(text(&output).starts_with("1.0 "), "{output:?}");
}

#[test]
fn bytecode_for_another_python_version_is_refused() {
    let work = Work::new();
    let target = work.path("target");
    let demo = work.wheel(&demo("1.0"));
    let output = work.cairn(&[
        "install",
        "--target",
        target.to_str().unwrap(),
        "--python-version",
        "3.8",
        "--platform",
        "manylinux_2_28_x86_64",
        "--compile-bytecode",
        &demo,
    ]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("--compile-bytecode") && message.contains("3.8"),
        "{message}"
    );
    assert!(!target.join("demo_app").exists());
}
