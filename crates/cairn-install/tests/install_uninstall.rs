//! Listing and uninstalling: an uninstall after an install leaves the target as it was before
//! the install, shared files stay while another project lists them, and a failure halfway
//! puts everything back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod install_support;

use std::path::Path;
use std::process::Command;

use cairn_install::{PackageName, UninstallError, list, uninstall};
use cairn_test_support::wheel::WheelBuilder;
use install_support::*;

/// A wheel with a package, a console script, a `.data` script, data and headers.
fn demo() -> WheelBuilder {
    WheelBuilder::new("Demo_App", "1.0")
        .file("demo_app/__init__.py", "GREETING = 'hi'\n")
        .file(
            "demo_app/cli.py",
            "from demo_app import GREETING\ndef main():\n    print(GREETING)\n",
        )
        .entry_points("[console_scripts]\ndemo-app = demo_app.cli:main\n")
        .data("scripts", "demo-raw", "#!python\nprint('raw')\n")
        .data("data", "share/demo/readme.txt", "data\n")
        .data("headers", "demo.h", "int demo;\n")
}

/// A project sharing the namespace `ns` (and its identical `__init__.py`) with others.
fn ns_part(name: &str) -> WheelBuilder {
    WheelBuilder::new(name, "1.0")
        .file(
            "ns/__init__.py",
            "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
        )
        .file(&format!("ns/{name}.py"), format!("NAME = '{name}'\n"))
}

fn names(names: &[&str]) -> Vec<PackageName> {
    names.iter().map(|name| PackageName::new(name)).collect()
}

/// Staging directories left in the target.
fn leftovers(target: &Path) -> Vec<String> {
    std::fs::read_dir(target)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".cairn-install-"))
        .collect()
}

#[test]
fn an_uninstall_leaves_the_target_as_before_the_install() {
    for mode in MODES {
        let work = Workspace::new();
        let target = work.target("site");
        std::fs::create_dir_all(target.join("bin")).unwrap();
        std::fs::write(target.join("bin/mine"), "not a project's\n").unwrap();
        std::fs::write(target.join("notes.txt"), "mine\n").unwrap();
        let other = work.unpack(&WheelBuilder::new("other", "2.0").file("other.py", "X = 1\n"));
        install(&target, mode, &[&other]).unwrap();
        let before = snapshot(&target);

        let wheel = work.unpack(&demo());
        let mut request = wheel.request();
        request.requested = true;
        installer(&target, mode).install(&[request]).unwrap();
        assert!(target.join("bin/demo-app").is_file());
        assert!(target.join("share/demo/readme.txt").is_file());
        // Running the script imports the package, which writes its bytecode.
        let status = Command::new(target.join("bin/demo-app"))
            .env("PYTHONPATH", &target)
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .status()
            .unwrap();
        assert!(status.success());
        assert!(target.join("demo_app/__pycache__").is_dir());

        let listed = list(&target).unwrap();
        let summary: Vec<_> = listed
            .iter()
            .map(|dist| {
                (
                    dist.name.as_str(),
                    dist.version.as_str(),
                    dist.requested,
                    dist.installer.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("Demo_App", "1.0", true, Some("cairn")),
                ("other", "2.0", false, Some("cairn")),
            ]
        );

        let report = installer(&target, mode)
            .uninstall(&names(&["demo.app"]))
            .unwrap();
        assert_eq!(report.uninstalled.len(), 1);
        let removed = &report.uninstalled[0];
        assert_eq!(
            (removed.name.as_str(), removed.version.as_str()),
            ("Demo_App", "1.0")
        );
        assert_eq!(removed.dist_info, "Demo_App-1.0.dist-info");
        // Package (2), launcher, .data script, data, header, dist-info (METADATA, WHEEL,
        // entry_points.txt, INSTALLER, REQUESTED, RECORD).
        assert_eq!(removed.files_removed, 12, "{report:?}");
        assert!(report.kept_shared.is_empty());
        assert_eq!(snapshot(&target), before, "{mode}");
        assert_eq!(list(&target).unwrap().len(), 1);
    }
}

#[test]
fn a_shared_namespace_file_stays_until_its_last_owner_goes() {
    for mode in MODES {
        let work = Workspace::new();
        let target = work.target("site");
        std::fs::create_dir_all(&target).unwrap();
        let before = snapshot(&target);
        let (a, b) = (
            work.unpack(&ns_part("alpha")),
            work.unpack(&ns_part("beta")),
        );
        install(&target, mode, &[&a, &b]).unwrap();
        let output = python_in(&target, "import ns.alpha, ns.beta");
        assert!(output.status.success());

        let report = uninstall(&target, &names(&["alpha"])).unwrap();
        assert_eq!(report.kept_shared, ["ns/__init__.py"]);
        assert_eq!(report.uninstalled[0].files_removed, 5, "{report:?}");
        assert!(target.join("ns/__init__.py").is_file());
        assert!(!target.join("ns/alpha.py").exists());
        assert!(!target.join("alpha-1.0.dist-info").exists());
        let output = python_in(&target, "import ns.beta");
        assert!(output.status.success(), "{output:?}");
        assert!(!python_in(&target, "import ns.alpha").status.success());
        checked_record(&target, "beta-1.0.dist-info");

        let report = uninstall(&target, &names(&["beta"])).unwrap();
        assert!(report.kept_shared.is_empty());
        assert_eq!(snapshot(&target), before, "{mode}");
    }
}

#[test]
fn projects_uninstalled_together_take_their_shared_files() {
    let work = Workspace::new();
    let target = work.target("site");
    let (a, b, c) = (
        work.unpack(&ns_part("alpha")),
        work.unpack(&ns_part("beta")),
        work.unpack(&WheelBuilder::new("gamma", "1.0").file("gamma.py", "")),
    );
    install(&target, MODES[0], &[&c]).unwrap();
    let before = snapshot(&target);
    install(&target, MODES[0], &[&a, &b]).unwrap();
    let report = uninstall(&target, &names(&["beta", "alpha", "alpha"])).unwrap();
    let removed: Vec<_> = report.uninstalled.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(removed, ["alpha", "beta"]);
    assert!(report.kept_shared.is_empty());
    assert_eq!(snapshot(&target), before);
}

#[test]
fn unknown_names_are_refused_and_nothing_is_removed() {
    let work = Workspace::new();
    let target = work.target("site");
    install(&target, MODES[0], &[&work.unpack(&ns_part("alpha"))]).unwrap();
    let before = snapshot(&target);
    let error = uninstall(&target, &names(&["alpha", "No_Such", "zzz"])).unwrap_err();
    assert!(
        matches!(error, UninstallError::NotInstalled { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("no-such, zzz"), "{message}");
    assert!(!message.contains("alpha"), "{message}");
    assert_eq!(snapshot(&target), before);
}

#[test]
fn a_failure_halfway_puts_everything_back() {
    for mode in MODES {
        let work = Workspace::new();
        let target = work.target("site");
        let (a, b) = (
            work.unpack(&ns_part("alpha").file("alpha_pkg/__init__.py", "")),
            work.unpack(&ns_part("beta")),
        );
        install(&target, mode, &[&a, &b]).unwrap();
        let before = snapshot(&target);
        {
            let Some(_guard) = Unwritable::new(&target.join("ns")) else {
                panic!("cannot make a directory unwritable here (chattr or chmod)");
            };
            // `alpha-1.0.dist-info` and `alpha_pkg` sort before `ns`: they are set aside by
            // the time `ns/alpha.py` cannot be.
            let error = uninstall(&target, &names(&["alpha"])).unwrap_err();
            let UninstallError::Move { from, .. } = &error else {
                panic!("{error}");
            };
            assert!(from.ends_with("ns/alpha.py"), "{error}");
            assert!(error.to_string().contains("undone"), "{error}");
            assert_eq!(snapshot(&target), before, "{mode}");
            assert!(leftovers(&target).is_empty());
        }
        uninstall(&target, &names(&["alpha"])).unwrap();
        assert!(!target.join("alpha_pkg").exists());
        assert!(target.join("ns/__init__.py").is_file());
    }
}

#[test]
fn a_project_without_record_is_not_uninstalled_blindly() {
    let work = Workspace::new();
    let target = work.target("site");
    install(&target, MODES[0], &[&work.unpack(&ns_part("alpha"))]).unwrap();
    std::fs::remove_file(target.join("alpha-1.0.dist-info/RECORD")).unwrap();
    let before = snapshot(&target);
    let error = uninstall(&target, &names(&["alpha"])).unwrap_err();
    assert!(
        matches!(error, UninstallError::CannotUninstall { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("no RECORD"), "{error}");
    assert_eq!(snapshot(&target), before);
}

#[test]
fn a_missing_target_is_an_error_for_list_and_uninstall() {
    let work = Workspace::new();
    let target = work.target("missing");
    assert!(list(&target).is_err());
    let error = uninstall(&target, &names(&["alpha"])).unwrap_err();
    assert!(matches!(error, UninstallError::Target(_)), "{error}");
    assert!(!target.exists());
}

/// A top-level module whose bytecode its `RECORD` lists, as `pip install` compiles and records
/// it: the `__pycache__` directory goes whole, and the module's bytecode is not set aside a
/// second time (on uninstall, and on upgrade).
fn install_with_recorded_bytecode(work: &Workspace, target: &Path) {
    let solo = work.unpack(&WheelBuilder::new("solo", "1.0").file("solo.py", "X = 1\n"));
    install(target, MODES[0], &[&solo]).unwrap();
    std::fs::create_dir_all(target.join("__pycache__")).unwrap();
    std::fs::write(target.join("__pycache__/solo.cpython-311.pyc"), "compiled").unwrap();
    let record = target.join("solo-1.0.dist-info/RECORD");
    let mut text = read(&record);
    text.push_str("__pycache__/solo.cpython-311.pyc,,\n");
    std::fs::write(&record, text).unwrap();
}

#[test]
fn recorded_bytecode_of_a_top_level_module_goes_once() {
    let work = Workspace::new();
    let target = work.target("site");
    std::fs::create_dir_all(&target).unwrap();
    let before = snapshot(&target);
    install_with_recorded_bytecode(&work, &target);
    let report = uninstall(&target, &names(&["solo"])).unwrap();
    assert_eq!(report.uninstalled[0].files_removed, 6, "{report:?}");
    assert_eq!(snapshot(&target), before);

    install_with_recorded_bytecode(&work, &target);
    let v2 = work.unpack(&WheelBuilder::new("solo", "2.0").file("solo.py", "X = 2\n"));
    install(&target, MODES[0], &[&v2]).unwrap();
    assert!(!target.join("__pycache__").exists());
    assert_eq!(read(target.join("solo.py")), "X = 2\n");
}
