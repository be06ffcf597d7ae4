//! Installing over an existing install: upgrades that leave no stale file, conflicts between
//! projects, and failures at every stage that must leave the target exactly as it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod install_support;

use std::path::Path;

use cairn_fs::LinkMode;
use cairn_install::InstallError;
use cairn_test_support::wheel::WheelBuilder;
use install_support::*;

/// Version 1 of `demo`: a package, a subpackage only it has, a console script, a `.data`
/// script, headers and a file in a shared `bin`.
fn demo_v1() -> WheelBuilder {
    WheelBuilder::new("demo", "1.0")
        .file("demo/__init__.py", "VERSION = 1\n")
        .file("demo/common.py", "COMMON = 1\n")
        .file("demo/old_only.py", "OLD = 1\n")
        .file("demo/legacy/__init__.py", "")
        .file("demo/legacy/impl.py", "IMPL = 1\n")
        .file("demo_v1_helper.py", "")
        .data("scripts", "demo-old-script", "#!python\nprint('old')\n")
        .data("headers", "demo.h", "#define V 1\n")
        .entry_points("[console_scripts]\ndemo = demo:main\ndemo-v1-only = demo:main\n")
}

/// Version 2: `common.py` changes, `new_only.py` appears, everything else of v1 is gone.
fn demo_v2() -> WheelBuilder {
    WheelBuilder::new("demo", "2.0")
        .file(
            "demo/__init__.py",
            "VERSION = 2\ndef main():\n    print('v2')\n",
        )
        .file("demo/common.py", "COMMON = 2\n")
        .file("demo/new_only.py", "NEW = 2\n")
        .entry_points("[console_scripts]\ndemo = demo:main\n")
}

/// Another project sharing the namespace directory `ns`, `bin` and `include`.
fn other() -> WheelBuilder {
    WheelBuilder::new("other", "1.0")
        .file("ns/other/__init__.py", "OTHER = 1\n")
        .data("headers", "other.h", "")
        .entry_points("[console_scripts]\nother = ns.other:main\n")
}

/// Pretends Python imported the old modules: bytecode next to them.
fn add_bytecode(target: &Path) {
    for (dir, module) in [
        ("demo", "old_only"),
        ("demo", "common"),
        ("demo", "__init__"),
        ("demo/legacy", "impl"),
    ] {
        let cache = target.join(dir).join("__pycache__");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join(format!("{module}.cpython-311.pyc")), "bytecode").unwrap();
    }
}

#[test]
fn an_upgrade_leaves_exactly_a_fresh_install() {
    for mode in MODES {
        let work = Workspace::new();
        let (v1, v2) = (work.unpack(&demo_v1()), work.unpack(&demo_v2()));
        let target = work.target("site");
        install(&target, mode, &[&v1]).unwrap();
        add_bytecode(&target);
        assert!(target.join("bin/demo-v1-only").exists());

        let report = install(&target, mode, &[&v2]).unwrap();
        assert_eq!(report.wheels[0].replaced.as_deref(), Some("1.0"));
        assert_eq!(report.wheels[0].version, "2.0");

        let fresh = work.target("fresh");
        install(&fresh, mode, &[&v2]).unwrap();
        assert_eq!(snapshot(&target), snapshot(&fresh), "{mode}");
        assert_eq!(
            checked_record(&target, "demo-2.0.dist-info"),
            files(&target)
        );
        let output = python_in(
            &target,
            "import demo, demo.common; print(demo.VERSION, demo.common.COMMON)",
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "2 2\n",
            "{output:?}"
        );
    }
}

#[test]
fn a_downgrade_and_a_reinstall_work_the_same_way() {
    let work = Workspace::new();
    let (v1, v2) = (work.unpack(&demo_v1()), work.unpack(&demo_v2()));
    let target = work.target("site");
    install(&target, LinkMode::Hardlink, &[&v2]).unwrap();
    let report = install(&target, LinkMode::Hardlink, &[&v1]).unwrap();
    assert_eq!(report.wheels[0].replaced.as_deref(), Some("2.0"));
    let fresh = work.target("fresh");
    install(&fresh, LinkMode::Hardlink, &[&v1]).unwrap();
    assert_eq!(snapshot(&target), snapshot(&fresh));

    // The same version again: everything replaced by itself.
    let report = install(&target, LinkMode::Copy, &[&v1]).unwrap();
    assert_eq!(report.wheels[0].replaced.as_deref(), Some("1.0"));
    assert_eq!(snapshot(&target), snapshot(&fresh));
}

#[test]
fn an_upgrade_in_shared_directories_keeps_the_other_projects_files() {
    for mode in MODES {
        let work = Workspace::new();
        let demo1 = work.unpack(
            &demo_v1()
                .file("ns/demo/__init__.py", "")
                .file("ns/demo/a.py", ""),
        );
        let demo2 = work.unpack(
            &demo_v2()
                .file("ns/demo/__init__.py", "")
                .file("ns/demo/b.py", ""),
        );
        let other = work.unpack(&other());
        let target = work.target("site");
        install(&target, mode, &[&demo1, &other]).unwrap();
        add_bytecode(&target);
        // A file nobody records, in a directory the old version owns: it must survive, and
        // keep that directory.
        std::fs::write(target.join("demo/legacy/user_notes.txt"), "mine").unwrap();

        install(&target, mode, &[&demo2]).unwrap();

        let mut expected = snapshot(&{
            let fresh = work.target("fresh");
            install(&fresh, mode, &[&demo2, &other]).unwrap();
            fresh
        });
        expected.insert(
            "demo/legacy".into(),
            snapshot(&target)["demo/legacy"].clone(),
        );
        expected.insert(
            "demo/legacy/user_notes.txt".into(),
            snapshot(&target)["demo/legacy/user_notes.txt"].clone(),
        );
        assert_eq!(snapshot(&target), expected, "{mode}");
        assert_eq!(read(target.join("demo/legacy/user_notes.txt")), "mine");
        checked_record(&target, "other-1.0.dist-info");
        checked_record(&target, "demo-2.0.dist-info");
    }
}

#[test]
fn old_record_entries_outside_the_target_are_never_touched() {
    let work = Workspace::new();
    let (v1, v2) = (work.unpack(&demo_v1()), work.unpack(&demo_v2()));
    let target = work.target("site");
    install(&target, LinkMode::Copy, &[&v1]).unwrap();

    let outside = work.dir.path().join("outside.txt");
    std::fs::write(&outside, "precious").unwrap();
    let record = target.join("demo-1.0.dist-info/RECORD");
    let mut text = read(&record);
    text.push_str(&format!(
        "../outside.txt,,\n{},,\ndemo/../../outside.txt,,\n",
        outside.display()
    ));
    std::fs::write(&record, text).unwrap();

    install(&target, LinkMode::Copy, &[&v2]).unwrap();
    assert_eq!(read(&outside), "precious");
    assert!(!target.join("demo-1.0.dist-info").exists());
}

#[test]
fn old_files_behind_a_symlinked_directory_are_never_touched() {
    let work = Workspace::new();
    let (v1, v2) = (work.unpack(&demo_v1()), work.unpack(&demo_v2()));
    let target = work.target("site");
    install(&target, LinkMode::Copy, &[&v1]).unwrap();

    // The old version's `demo/legacy` is replaced by a symlink to a directory outside the
    // target that holds files of the same names.
    let outside = work.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("impl.py"), "precious").unwrap();
    std::fs::write(outside.join("__init__.py"), "precious").unwrap();
    std::fs::remove_dir_all(target.join("demo/legacy")).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("demo/legacy")).unwrap();

    install(&target, LinkMode::Copy, &[&v2]).unwrap();
    assert_eq!(read(outside.join("impl.py")), "precious");
    assert_eq!(read(outside.join("__init__.py")), "precious");
    // Nobody records the symlink itself, so it stays, and so does `demo`.
    assert!(
        std::fs::symlink_metadata(target.join("demo/legacy"))
            .unwrap()
            .is_symlink()
    );
}

#[test]
fn two_new_wheels_writing_one_file_conflict() {
    let work = Workspace::new();
    let a = work.unpack(&WheelBuilder::new("alpha", "1.0").file("shared/util.py", "A\n"));
    let b = work.unpack(&WheelBuilder::new("beta", "1.0").file("shared/util.py", "B\n"));
    let target = work.target("site");
    let existing = work.unpack(&other());
    install(&target, LinkMode::Copy, &[&existing]).unwrap();
    let before = snapshot(&target);

    let error = install(&target, LinkMode::Copy, &[&a, &b]).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, InstallError::WheelsConflict { .. }),
        "{message}"
    );
    for expected in [
        "alpha-1.0-py3-none-any.whl",
        "beta-1.0-py3-none-any.whl",
        "shared/util.py",
    ] {
        assert!(message.contains(expected), "{message}");
    }
    assert_eq!(snapshot(&target), before);

    // A file in one wheel where the other has a directory is the same conflict.
    let c = work.unpack(&WheelBuilder::new("gamma", "1.0").file("shared", "file\n"));
    let error = install(&target, LinkMode::Copy, &[&a, &c]).unwrap_err();
    assert!(
        matches!(error, InstallError::WheelsConflict { ref path, .. } if path == "shared"),
        "{error}"
    );
    assert_eq!(snapshot(&target), before);
}

#[test]
fn one_project_twice_is_refused() {
    let work = Workspace::new();
    let (v1, v2) = (work.unpack(&demo_v1()), work.unpack(&demo_v2()));
    let target = work.target("site");
    let error = install(&target, LinkMode::Copy, &[&v1, &v2]).unwrap_err();
    assert!(
        matches!(error, InstallError::DuplicateProject { .. }),
        "{error}"
    );
    assert!(snapshot(&target).is_empty());
}

#[test]
fn writing_a_file_of_an_installed_project_conflicts() {
    for mode in MODES {
        let work = Workspace::new();
        let target = work.target("site");
        let installed = work.unpack(&other());
        install(&target, mode, &[&installed]).unwrap();
        let before = snapshot(&target);

        // Fine until its last file, which belongs to `other`.
        let mut intruder = WheelBuilder::new("intruder", "1.0");
        for i in 0..50 {
            intruder = intruder.file(&format!("intruder/m{i}.py"), "");
        }
        let intruder = work.unpack(&intruder.file("ns/other/__init__.py", "HIJACKED = 1\n"));
        let error = install(&target, mode, &[&intruder]).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, InstallError::ConflictsWithInstalled { .. }),
            "{message}"
        );
        for expected in [
            "intruder-1.0-py3-none-any.whl",
            "other-1.0.dist-info",
            "ns/other/__init__.py",
        ] {
            assert!(message.contains(expected), "{message}");
        }
        assert_eq!(snapshot(&target), before, "{mode}");

        // Scripts are files like any other.
        let script_thief = work.unpack(
            &WheelBuilder::new("thief", "1.0")
                .file("thief.py", "")
                .entry_points("[console_scripts]\nother = thief:main\n"),
        );
        let error = install(&target, mode, &[&script_thief]).unwrap_err();
        assert!(
            matches!(error, InstallError::ConflictsWithInstalled { ref path, .. } if path == "bin/other"),
            "{error}"
        );
        assert_eq!(snapshot(&target), before, "{mode}");
    }
}

#[test]
fn a_file_nobody_records_is_not_overwritten() {
    let work = Workspace::new();
    let target = work.target("site");
    std::fs::create_dir_all(target.join("demo")).unwrap();
    std::fs::write(target.join("demo/common.py"), "hand written\n").unwrap();
    let before = snapshot(&target);

    let error = install(&target, LinkMode::Copy, &[&work.unpack(&demo_v2())]).unwrap_err();
    assert!(
        matches!(error, InstallError::UnrecordedFileExists { ref path, .. } if path == "demo/common.py"),
        "{error}"
    );
    assert!(
        error.to_string().contains("no installed project"),
        "{error}"
    );
    assert_eq!(snapshot(&target), before);
}

#[test]
fn a_failure_while_moving_into_place_undoes_everything() {
    for mode in MODES {
        let work = Workspace::new();
        let target = work.target("site");
        // `zz_shared` sorts last, so the new files of `demo` and `late` have been moved in and
        // the old version of `demo` set aside by the time the move into it fails.
        let shared_owner =
            work.unpack(&WheelBuilder::new("owner", "1.0").file("zz_shared/owner.py", ""));
        let v1 = work.unpack(&demo_v1());
        install(&target, mode, &[&v1, &shared_owner]).unwrap();
        add_bytecode(&target);

        let v2 = work.unpack(&demo_v2());
        let late = work.unpack(
            &WheelBuilder::new("late", "1.0")
                .file("late/__init__.py", "")
                .file("zz_shared/late.py", ""),
        );
        let Some(_guard) = Unwritable::new(&target.join("zz_shared")) else {
            eprintln!("skipped: cannot make a directory unwritable here");
            return;
        };
        let before = snapshot(&target);

        let error = install(&target, mode, &[&v2, &late]).unwrap_err();
        assert!(matches!(error, InstallError::Commit { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("zz_shared/late.py"), "{message}");
        assert!(message.contains("undone"), "{message}");
        assert_eq!(snapshot(&target), before, "{mode}");
    }
}

#[test]
fn a_failure_before_staging_leaves_the_target_alone() {
    let work = Workspace::new();
    let target = work.target("site");
    install(&target, LinkMode::Copy, &[&work.unpack(&demo_v1())]).unwrap();
    let v2 = work.unpack(&demo_v2());
    let Some(_guard) = Unwritable::new(&target) else {
        eprintln!("skipped: cannot make a directory unwritable here");
        return;
    };
    let before = snapshot(&target);
    let error = install(&target, LinkMode::Copy, &[&v2]).unwrap_err();
    assert!(matches!(error, InstallError::Target { .. }), "{error}");
    assert_eq!(snapshot(&target), before);
}

#[test]
fn a_failure_while_staging_leaves_the_target_alone() {
    // The staging directory adds its own name to every path: a directory whose path fits in
    // the archive and in the target, but not below the staging directory, cannot be created
    // there, once the staging directory exists and other directories may have been created.
    // (Files are linked relative to their open directories, so only a directory's own path
    // can be too long.)
    let work = Workspace::new();
    let target = work.dir.path().join("t".repeat(200));
    install(&target, LinkMode::Copy, &[&work.unpack(&demo_v1())]).unwrap();
    let before = snapshot(&target);

    // The directory's path in the target is 4090 bytes, under PATH_MAX (4096 with its NUL);
    // in the staging directory it is longer.
    let mut remaining = 4090 - target.as_os_str().len() - "/deep/".len();
    let mut components = Vec::new();
    while remaining > 250 {
        components.push("c".repeat(200));
        remaining -= 201;
    }
    components.push("d".repeat(remaining));
    let deep_dir = format!("deep/{}", components.join("/"));
    assert_eq!(target.join(&deep_dir).as_os_str().len(), 4090);
    let mut builder = demo_v2();
    for i in 0..200 {
        builder = builder.file(&format!("aaa/m{i}.py"), "");
    }
    let v2 = work.unpack(&builder.file(&format!("{deep_dir}/f"), ""));

    let error = install(&target, LinkMode::Copy, &[&v2]).unwrap_err();
    assert!(matches!(error, InstallError::Stage { .. }), "{error}");
    assert_eq!(snapshot(&target), before);
}

#[test]
fn an_installed_version_without_record_is_not_replaced_blindly() {
    let work = Workspace::new();
    let target = work.target("site");
    install(&target, LinkMode::Copy, &[&work.unpack(&demo_v1())]).unwrap();
    std::fs::remove_file(target.join("demo-1.0.dist-info/RECORD")).unwrap();
    let before = snapshot(&target);

    let error = install(&target, LinkMode::Copy, &[&work.unpack(&demo_v2())]).unwrap_err();
    assert!(
        matches!(error, InstallError::CannotReplace { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("demo-1.0.dist-info"), "{message}");
    assert!(message.contains("no RECORD"), "{message}");
    assert_eq!(snapshot(&target), before);
}
