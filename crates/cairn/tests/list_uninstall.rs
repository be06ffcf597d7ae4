//! `cairn list` and `cairn uninstall` against pip: pip lists and uninstalls what cairn
//! installed, and cairn lists and uninstalls what `pip install --target` installed, its
//! `../../bin` scripts included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_test_support::wheel::WheelBuilder;
use support::{cairn, ok, stderr, stdout};

/// A project with a package, a console script and a data file.
fn demo() -> WheelBuilder {
    WheelBuilder::new("Demo_App", "1.0")
        .file("demo_app/__init__.py", "GREETING = 'hello'\n")
        .file(
            "demo_app/cli.py",
            "from demo_app import GREETING\ndef main():\n    print(GREETING)\n",
        )
        .entry_points("[console_scripts]\ndemo-app = demo_app.cli:main\n")
        .data("data", "share/demo/readme.txt", "data\n")
}

fn helper() -> WheelBuilder {
    WheelBuilder::new("helper", "2.1").file("helper.py", "X = 1\n")
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

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn target(&self) -> PathBuf {
        self.dir.path().join("site")
    }

    fn wheel(&self, builder: &WheelBuilder) -> PathBuf {
        let wheels = self.dir.path().join("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        builder.build(&wheels)
    }

    fn cairn_ok(&self, args: &[&str]) -> String {
        ok(&self.cache(), args)
    }

    fn cairn(&self, args: &[&str]) -> Output {
        cairn(&self.cache(), args)
    }

    fn target_str(&self) -> String {
        self.target().to_str().unwrap().to_owned()
    }
}

/// `python3 -m pip ARGS…`, isolated from pip's configuration, asserting success.
fn pip(args: &[&str], pythonpath: Option<&Path>) -> String {
    let mut command = Command::new("python3");
    command
        .args(["-m", "pip", "--disable-pip-version-check", "--no-input"])
        .args(args)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .env("PIP_BREAK_SYSTEM_PACKAGES", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(path) = pythonpath {
        command.env("PYTHONPATH", path);
    }
    let output = command
        .output()
        .expect("python3 -m pip must be installed to compare with pip");
    assert!(
        output.status.success(),
        "pip {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `pip list --path TARGET --format freeze`, sorted.
fn pip_freeze(target: &Path) -> Vec<String> {
    let listed = pip(
        &[
            "list",
            "--path",
            target.to_str().unwrap(),
            "--format",
            "freeze",
        ],
        None,
    );
    sorted_lines(&listed)
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// Every file under `dir`, relative, with its bytes, and every directory (`None`).
fn tree(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            let bytes = if path.is_dir() {
                pending.push(path.clone());
                None
            } else {
                Some(std::fs::read(&path).unwrap())
            };
            let relative = path.strip_prefix(dir).unwrap().to_string_lossy();
            found.push((relative.into_owned(), bytes));
        }
    }
    found.sort();
    found
}

fn paths(tree: &[(String, Option<Vec<u8>>)]) -> Vec<&str> {
    tree.iter().map(|(path, _)| path.as_str()).collect()
}

/// Whether `path` (relative to the target) is a file or directory of [`demo`] (its bytecode
/// included): nothing else is in `bin` and `share`.
fn is_demo(path: &str) -> bool {
    let top = path.split('/').next().unwrap_or(path);
    ["demo_app", "Demo_App-1.0.dist-info", "bin", "share"].contains(&top)
}

#[test]
fn pip_lists_and_uninstalls_what_cairn_installed() {
    let work = Work::new();
    let target = work.target();
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("notes.txt"), "mine\n").unwrap();
    let before = tree(&target);
    let (demo, helper) = (work.wheel(&demo()), work.wheel(&helper()));
    let t = work.target_str();
    work.cairn_ok(&[
        "install",
        "--target",
        &t,
        demo.to_str().unwrap(),
        helper.to_str().unwrap(),
    ]);

    let freeze = work.cairn_ok(&["list", "--target", &t, "--format", "freeze"]);
    assert_eq!(sorted_lines(&freeze), ["Demo_App==1.0", "helper==2.1"]);
    assert_eq!(sorted_lines(&freeze), pip_freeze(&target));

    let json: serde_json::Value =
        serde_json::from_str(&work.cairn_ok(&["list", "--target", &t, "--format", "json"]))
            .unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"name": "Demo_App", "version": "1.0", "installer": "cairn", "requested": true},
            {"name": "helper", "version": "2.1", "installer": "cairn", "requested": true},
        ])
    );
    let columns = work.cairn_ok(&["list", "--target", &t]);
    let rows: Vec<Vec<&str>> = columns
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["Package", "Version", "Installer"]);
    assert_eq!(rows[2], ["Demo_App", "1.0", "cairn"]);
    assert_eq!(rows.len(), 4, "{columns}");

    // pip finds the project on sys.path and removes every file cairn's RECORD lists.
    let installed = tree(&target);
    assert!(paths(&installed).contains(&"bin/demo-app"));
    pip(&["uninstall", "-y", "demo-app"], Some(&target));
    let left = tree(&target);
    for (path, _) in installed.iter().filter(|(_, bytes)| bytes.is_some()) {
        assert_eq!(
            paths(&left).contains(&path.as_str()),
            !is_demo(path),
            "{path} after pip uninstall: {:?}",
            paths(&left)
        );
    }
    let freeze = work.cairn_ok(&["list", "--target", &t, "--format", "freeze"]);
    assert_eq!(sorted_lines(&freeze), ["helper==2.1"]);
    assert_eq!(pip_freeze(&target), ["helper==2.1"]);

    // cairn removes the rest: the target is as it was before the install.
    let output = work.cairn(&["uninstall", "helper", "--target", &t]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(" - helper==2.1\n"),
        "{}",
        stderr(&output)
    );
    assert_eq!(work.cairn_ok(&["list", "--target", &t]), "");
    // pip leaves the directories it emptied (bin, share/demo); cairn's uninstall of what pip
    // left does not own them.
    let after: Vec<_> = tree(&target)
        .into_iter()
        .filter(|(_, bytes)| bytes.is_some())
        .collect();
    assert_eq!(after, before);
}

#[test]
fn cairn_lists_and_uninstalls_what_pip_installed() {
    let work = Work::new();
    let target = work.target();
    let t = work.target_str();
    let demo = work.wheel(&demo());
    let helper = work.wheel(&helper());
    // With bytecode, as pip installs by default: its RECORD lists the `.pyc` files too.
    let mut command = Command::new("python3");
    let output = command
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-index",
        ])
        .args(["--no-deps", "--quiet", "--target", &t])
        .arg(&demo)
        .arg(&helper)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let record = std::fs::read_to_string(target.join("Demo_App-1.0.dist-info/RECORD")).unwrap();
    assert!(record.contains("../../bin/demo-app,"), "{record}");
    assert!(record.contains(".pyc,"), "{record}");
    assert!(target.join("bin/demo-app").is_file());

    let freeze = work.cairn_ok(&["list", "--target", &t, "--format", "freeze"]);
    assert_eq!(sorted_lines(&freeze), pip_freeze(&target));
    let json: serde_json::Value =
        serde_json::from_str(&work.cairn_ok(&["list", "--target", &t, "--format", "json"]))
            .unwrap();
    assert_eq!(json[0]["installer"], "pip");
    assert_eq!(json[0]["requested"], true);

    let before_helper: Vec<_> = tree(&target)
        .into_iter()
        .filter(|(path, _)| !is_demo(path))
        .collect();
    assert!(
        paths(&before_helper)
            .iter()
            .any(|path| path.starts_with("__pycache__/helper.")),
        "{:?}",
        paths(&before_helper)
    );
    let output = work.cairn(&["uninstall", "demo.app", "--target", &t]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stderr(&output).lines().nth(1),
        Some(" - Demo_App==1.0"),
        "{}",
        stderr(&output)
    );
    // Every file of the project goes, its script in `bin/` and the directories it emptied;
    // helper's files, its bytecode in the shared `__pycache__` included, stay.
    assert_eq!(paths(&tree(&target)), paths(&before_helper));
    assert!(tree(&target) == before_helper);
    assert_eq!(pip_freeze(&target), ["helper==2.1"]);

    work.cairn_ok(&["uninstall", "helper", "--target", &t]);
    assert_eq!(tree(&target), []);
}

#[test]
fn unknown_names_fail_and_nothing_is_removed() {
    let work = Work::new();
    let t = work.target_str();
    let helper = work.wheel(&helper());
    work.cairn_ok(&["install", "--target", &t, helper.to_str().unwrap()]);
    let before = tree(&work.target());
    let output = work.cairn(&["uninstall", "helper", "No_Such", "--target", &t]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("not installed"), "{message}");
    assert!(message.contains("no-such"), "{message}");
    assert_eq!(tree(&work.target()), before);
    assert!(stdout(&output).is_empty());
}

#[test]
fn without_an_environment_list_and_uninstall_say_how_to_choose_one() {
    let work = Work::new();
    // A directory with no `.venv` in it or above it, and no VIRTUAL_ENV.
    let empty = tempfile::tempdir().unwrap();
    for args in [&["list"][..], &["uninstall", "helper"]] {
        let output = support::command(&work.cache(), args)
            .current_dir(empty.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        let message = stderr(&output);
        assert!(
            message.contains("no virtual environment found") && message.contains("--target DIR"),
            "{args:?}: {message}"
        );
    }
}
