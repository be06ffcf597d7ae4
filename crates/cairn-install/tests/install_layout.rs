//! Installing wheels into an empty target: where files land, what RECORD says, scripts that
//! really run, and wheels that must be refused. Each layout test runs in copy and hardlink mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod install_support;

use std::path::Path;
use std::process::Command;

use cairn_fs::LinkMode;
use cairn_install::{InstallError, InstallSettings, Installer};
use cairn_test_support::wheel::WheelBuilder;
use install_support::*;

fn demo(version: &str) -> WheelBuilder {
    WheelBuilder::new("demo-pkg", version)
        .file("demo_pkg/__init__.py", format!("VERSION = {version:?}\n"))
        .file("demo_pkg/sub/mod.py", "def answer():\n    return 42\n")
        .executable("demo_pkg/tool.sh", "#!/bin/sh\necho tool\n")
}

#[test]
fn files_land_with_their_content_and_modes() {
    for mode in MODES {
        let work = Workspace::new();
        let wheel = work.unpack(&demo("1.0"));
        let target = work.target("site");
        let report = install(&target, mode, &[&wheel]).unwrap();

        let installed = &report.wheels[0];
        assert_eq!(
            (installed.name.as_str(), installed.version.as_str()),
            ("demo-pkg", "1.0")
        );
        assert_eq!(installed.mode, mode);
        // Three package files plus METADATA and WHEEL are linked; RECORD and INSTALLER written.
        assert_eq!((installed.files_linked, installed.files_written), (5, 2));
        assert_eq!(installed.replaced, None);

        assert_eq!(
            read(target.join("demo_pkg/__init__.py")),
            "VERSION = \"1.0\"\n"
        );
        assert_eq!(
            read(target.join("demo_pkg/sub/mod.py")),
            "def answer():\n    return 42\n"
        );
        assert_eq!(mode_of(&target, "demo_pkg/tool.sh") & 0o111, 0o111);
        assert_eq!(mode_of(&target, "demo_pkg/__init__.py") & 0o111, 0);

        let shares_inode = inode(target.join("demo_pkg/__init__.py"))
            == inode(wheel.archive.join("demo_pkg/__init__.py"));
        assert_eq!(shares_inode, mode == LinkMode::Hardlink, "{mode}");

        assert_eq!(
            files(&target),
            [
                "demo_pkg-1.0.dist-info/INSTALLER",
                "demo_pkg-1.0.dist-info/METADATA",
                "demo_pkg-1.0.dist-info/RECORD",
                "demo_pkg-1.0.dist-info/WHEEL",
                "demo_pkg/__init__.py",
                "demo_pkg/sub/mod.py",
                "demo_pkg/tool.sh",
            ]
        );
    }
}

fn mode_of(target: &Path, path: &str) -> u32 {
    install_support::mode(target.join(path))
}

#[test]
fn record_is_a_new_file_listing_every_installed_file() {
    for mode in MODES {
        let work = Workspace::new();
        let wheel =
            work.unpack(&demo("1.0").entry_points("[console_scripts]\ndemo = demo_pkg:main\n"));
        let target = work.target("site");
        install(&target, mode, &[&wheel]).unwrap();

        let record = target.join("demo_pkg-1.0.dist-info/RECORD");
        let archive_record = wheel.archive.join("demo_pkg-1.0.dist-info/RECORD");
        assert_ne!(inode(&record), inode(&archive_record), "{mode}");
        assert_eq!(nlink(&record), 1, "{mode}");
        assert_eq!(
            nlink(&archive_record),
            1,
            "the cache's RECORD gained a link ({mode})"
        );

        // Python's csv and hashlib agree with every row, and the rows are exactly the files.
        let listed = checked_record(&target, "demo_pkg-1.0.dist-info");
        assert_eq!(listed, files(&target));
        assert!(listed.contains(&"bin/demo".to_owned()));

        let installer = target.join("demo_pkg-1.0.dist-info/INSTALLER");
        assert_eq!(read(&installer), "cairn\n");
        assert_eq!(nlink(&installer), 1);
    }
}

#[test]
fn the_package_imports_with_python() {
    for mode in MODES {
        let work = Workspace::new();
        let wheel = work.unpack(&demo("1.0"));
        let target = work.target("site");
        install(&target, mode, &[&wheel]).unwrap();

        let output = python_in(
            &target,
            "import demo_pkg; from demo_pkg.sub.mod import answer; print(demo_pkg.VERSION, answer())",
        );
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "1.0 42\n");
        let output = python_in(
            &target,
            "import importlib.metadata as m; d = m.distribution('demo-pkg'); \
             print(d.version, m.distribution('demo-pkg').read_text('INSTALLER'), end='')",
        );
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "1.0 cairn\n");
    }
}

#[test]
fn data_directory_schemes_go_to_their_places() {
    for mode in MODES {
        let work = Workspace::new();
        let builder = WheelBuilder::new("demo", "2.0")
            .file("demo/__init__.py", "")
            .data("purelib", "demo_pure/__init__.py", "PURE = 1\n")
            .data("platlib", "demo_plat.py", "PLAT = 2\n")
            .data(
                "scripts",
                "demo-py",
                "#!python\nimport sys\nprint('py-script', sys.argv[1:])\n",
            )
            .data("scripts", "demo-sh", "#!/bin/sh\necho sh-script \"$@\"\n")
            .data("headers", "demo.h", "#define DEMO 1\n")
            .data("data", "share/demo/notes.txt", "notes\n");
        let wheel = work.unpack(&builder);
        let target = work.target("site");
        let report = install(&target, mode, &[&wheel]).unwrap();
        assert_eq!(
            report.wheels[0].files_written, 4,
            "RECORD, INSTALLER, two scripts"
        );

        assert_eq!(read(target.join("demo_pure/__init__.py")), "PURE = 1\n");
        assert_eq!(read(target.join("demo_plat.py")), "PLAT = 2\n");
        assert_eq!(read(target.join("include/demo/demo.h")), "#define DEMO 1\n");
        assert_eq!(read(target.join("share/demo/notes.txt")), "notes\n");
        assert!(!target.join("demo-2.0.data").exists());

        let py_script = target.join("bin/demo-py");
        assert_eq!(
            read(&py_script),
            format!(
                "#!{}\nimport sys\nprint('py-script', sys.argv[1:])\n",
                python().display()
            )
        );
        assert_eq!(
            read(target.join("bin/demo-sh")),
            "#!/bin/sh\necho sh-script \"$@\"\n"
        );
        for script in ["bin/demo-py", "bin/demo-sh"] {
            // Always a copy, never a link into the cache, and executable.
            assert_eq!(nlink(target.join(script)), 1, "{script} ({mode})");
            assert_eq!(mode_of(&target, script), 0o755, "{script} ({mode})");
        }

        let output = Command::new(&py_script).arg("x").output().unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "py-script ['x']\n");
        let output = Command::new(target.join("bin/demo-sh"))
            .arg("y")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "sh-script y\n");

        let listed = checked_record(&target, "demo-2.0.dist-info");
        assert_eq!(listed, files(&target));
    }
}

#[test]
fn entry_points_become_working_scripts() {
    let entry_points = "\
[console_scripts]
demo-cli = demo.cli:main
demo-nested = demo.cli:App.run [extra]
[gui_scripts]
demo-gui = demo.cli:gui
[demo.plugins]
ignored = not a script at all
";
    let cli = "\
import sys
def main():
    print('main', sys.argv[0].rsplit('/', 1)[-1], sys.argv[1:])
    return 3
def gui():
    print('gui')
class App:
    @staticmethod
    def run():
        print('nested')
        return 0
";
    for mode in MODES {
        let work = Workspace::new();
        let builder = WheelBuilder::new("demo", "1.0")
            .file("demo/__init__.py", "")
            .file("demo/cli.py", cli)
            .entry_points(entry_points);
        let wheel = work.unpack(&builder);
        let target = work.target("site");
        install(&target, mode, &[&wheel]).unwrap();

        let run = |name: &str, args: &[&str]| {
            let script = target.join("bin").join(name);
            assert_eq!(mode_of(&target, &format!("bin/{name}")), 0o755);
            assert_eq!(nlink(&script), 1);
            let first_line = read(&script).lines().next().unwrap().to_owned();
            assert_eq!(first_line, format!("#!{}", python().display()));
            Command::new(&script)
                .args(args)
                .env("PYTHONPATH", &target)
                .output()
                .unwrap()
        };
        let output = run("demo-cli", &["a", "b"]);
        assert_eq!(output.status.code(), Some(3), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "main demo-cli ['a', 'b']\n"
        );
        let output = run("demo-nested", &[]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "nested\n");
        let output = run("demo-gui", &[]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "gui\n");

        let mut bin: Vec<_> = std::fs::read_dir(target.join("bin"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        bin.sort();
        assert_eq!(bin, ["demo-cli", "demo-gui", "demo-nested"]);
        checked_record(&target, "demo-1.0.dist-info");
    }
}

#[test]
fn a_long_interpreter_path_runs_through_sh() {
    let work = Workspace::new();
    // A directory with a space and a long name holding a symlink to the real interpreter.
    let dir = work.dir.path().join(format!("my env {}", "d".repeat(120)));
    std::fs::create_dir_all(&dir).unwrap();
    let python = dir.join("python");
    std::os::unix::fs::symlink(install_support::python(), &python).unwrap();

    let builder = WheelBuilder::new("demo", "1.0")
        .file("demo/__init__.py", "def main():\n    print('ran')\n")
        .entry_points("[console_scripts]\ndemo = demo:main\n");
    let wheel = work.unpack(&builder);
    let target = work.target("site");
    let mut settings = InstallSettings::new(&python);
    settings.link_mode = LinkMode::Copy;
    Installer::new(&target, settings)
        .unwrap()
        .install(&[wheel.request()])
        .unwrap();

    let script = target.join("bin/demo");
    assert!(read(&script).starts_with("#!/bin/sh\n"));
    let output = Command::new(&script)
        .env("PYTHONPATH", &target)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ran\n");
}

#[test]
fn several_wheels_install_in_parallel() {
    for mode in MODES {
        let work = Workspace::new();
        let wheels: Vec<Unpacked> = (0..8)
            .map(|i| {
                let mut builder = WheelBuilder::new(&format!("proj{i}"), "1.0")
                    .entry_points(&format!("[console_scripts]\nproj{i} = proj{i}:main\n"));
                for j in 0..40 {
                    builder = builder.file(&format!("proj{i}/m{j}.py"), format!("X = {i}{j}\n"));
                }
                work.unpack(&builder.file(
                    &format!("proj{i}/__init__.py"),
                    format!("def main():\n    print({i})\n"),
                ))
            })
            .collect();
        let target = work.target("site");
        let refs: Vec<&Unpacked> = wheels.iter().collect();
        let report = install(&target, mode, &refs).unwrap();

        assert_eq!(report.wheels.len(), 8);
        let mut listed_everywhere = Vec::new();
        for (i, (wheel, installed)) in wheels.iter().zip(&report.wheels).enumerate() {
            assert_eq!(installed.name, format!("proj{i}"));
            // 41 modules, METADATA, WHEEL and entry_points.txt.
            assert_eq!(installed.files_linked, 44);
            listed_everywhere.extend(checked_record(&target, &wheel.dist_info()));
            let output = Command::new(target.join(format!("bin/proj{i}")))
                .env("PYTHONPATH", &target)
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{i}\n"));
        }
        listed_everywhere.sort();
        assert_eq!(listed_everywhere, files(&target), "{mode}");
    }
}

#[test]
fn an_empty_request_changes_nothing() {
    let work = Workspace::new();
    let target = work.target("site");
    let report = installer(&target, LinkMode::Copy).install(&[]).unwrap();
    assert!(report.wheels.is_empty());
    assert!(snapshot(&target).is_empty());
}

#[test]
fn a_relative_interpreter_is_refused() {
    let work = Workspace::new();
    let error = Installer::new(&work.target("site"), InstallSettings::new("python3")).unwrap_err();
    assert!(
        matches!(error, InstallError::RelativeInterpreter { .. }),
        "{error}"
    );
}

/// Installs `wheel` into a fresh target and expects a refusal that leaves the target empty.
fn refused(work: &Workspace, wheel: &Unpacked) -> InstallError {
    let target = work.target("refused");
    let error = install(&target, LinkMode::Copy, &[wheel]).unwrap_err();
    assert!(
        snapshot(&target).is_empty(),
        "{error}: {:?}",
        snapshot(&target)
    );
    error
}

#[test]
fn entry_points_that_escape_bin_or_are_not_identifiers_are_refused() {
    let work = Workspace::new();
    for (line, expected) in [
        ("../../evil = demo:main", "outside `bin`"),
        ("evil = demo; import os:main", "module"),
        ("evil = demo:main()", "function"),
    ] {
        let builder = WheelBuilder::new("demo", "1.0")
            .file("demo/__init__.py", "")
            .entry_points(&format!("[console_scripts]\n{line}\n"));
        let error = refused(&work, &work.unpack(&builder));
        let message = error.to_string();
        assert!(
            matches!(error, InstallError::EntryPoint { .. }),
            "{message}"
        );
        assert!(message.contains("demo-1.0-py3-none-any.whl"), "{message}");
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("entry_points.txt"), "{message}");
    }
}

#[test]
fn wheels_of_an_unknown_format_are_refused() {
    let work = Workspace::new();
    for (wheel_file, expected) in [
        (
            "Wheel-Version: 2.0\nRoot-Is-Purelib: true\n",
            "wheel format 2.0",
        ),
        ("Root-Is-Purelib: true\n", "no valid Wheel-Version"),
        ("Wheel-Version: one\n", "no valid Wheel-Version"),
    ] {
        let wheel = work.unpack(&demo("1.0"));
        std::fs::write(
            wheel.archive.join("demo_pkg-1.0.dist-info/WHEEL"),
            wheel_file,
        )
        .unwrap();
        let error = refused(&work, &wheel);
        assert!(
            matches!(error, InstallError::InvalidWheel { .. }),
            "{error}"
        );
        assert!(error.to_string().contains(expected), "{error}");
        assert!(error.to_string().contains("WHEEL"), "{error}");
    }
    // A newer minor version installs, as pip installs it (with a warning).
    let wheel = work.unpack(&demo("1.0"));
    std::fs::write(
        wheel.archive.join("demo_pkg-1.0.dist-info/WHEEL"),
        "Wheel-Version: 1.9\n",
    )
    .unwrap();
    install(&work.target("newer-minor"), LinkMode::Copy, &[&wheel]).unwrap();
}

#[test]
fn record_paths_outside_the_target_are_refused() {
    let work = Workspace::new();
    for bad in ["../../etc/evil", "/etc/evil", "demo/../../evil"] {
        let wheel = work.unpack(&demo("1.0"));
        let record = wheel.archive.join("demo_pkg-1.0.dist-info/RECORD");
        let mut text = read(&record);
        text.push_str(&format!("{bad},,\n"));
        std::fs::write(&record, text).unwrap();

        let error = refused(&work, &wheel);
        assert!(matches!(error, InstallError::UnsafePath { .. }), "{error}");
        assert!(error.to_string().contains(bad), "{error}");
        std::fs::remove_dir_all(&wheel.archive).unwrap();
    }
}

/// Without a manifest the listing of the archive is all there is: a file only `RECORD` names is
/// the wheel's inconsistency (as pip and uv take it), left out of the install and of the new
/// `RECORD`. With a manifest, `install_manifest` shows it is cache damage.
#[test]
fn a_file_record_lists_but_an_archive_without_manifest_lacks_is_left_out() {
    let work = Workspace::new();
    let wheel = work.unpack(&demo("1.0"));
    std::fs::remove_file(wheel.archive.join("demo_pkg/sub/mod.py")).unwrap();
    let target = work.target("site");
    install(&target, LinkMode::Copy, &[&wheel]).unwrap();
    assert!(!target.join("demo_pkg/sub/mod.py").exists());
    assert!(target.join("demo_pkg/__init__.py").is_file());
    let record = checked_record(&target, &wheel.dist_info());
    assert!(
        !record.iter().any(|path| path == "demo_pkg/sub/mod.py"),
        "{record:?}"
    );
}

#[test]
fn a_file_missing_from_record_is_installed_and_recorded() {
    let work = Workspace::new();
    let wheel = work.unpack(&demo("1.0"));
    std::fs::write(wheel.archive.join("demo_pkg/extra.py"), "EXTRA = 1\n").unwrap();
    let target = work.target("site");
    install(&target, LinkMode::Copy, &[&wheel]).unwrap();
    let listed = checked_record(&target, "demo_pkg-1.0.dist-info");
    assert!(listed.contains(&"demo_pkg/extra.py".to_owned()));
    assert_eq!(listed, files(&target));
}

#[test]
fn archives_that_are_not_wheels_are_refused() {
    let work = Workspace::new();

    let wheel = work.unpack(&demo("1.0"));
    std::fs::rename(
        wheel.archive.join("demo_pkg-1.0.dist-info"),
        wheel.archive.join("other-1.0.dist-info"),
    )
    .unwrap();
    let error = refused(&work, &wheel);
    assert!(error.to_string().contains("another project"), "{error}");

    let wheel = work.unpack(&WheelBuilder::new("second", "1.0").file("second.py", ""));
    std::fs::create_dir(wheel.archive.join("extra-1.0.dist-info")).unwrap();
    let error = refused(&work, &wheel);
    assert!(error.to_string().contains("several .dist-info"), "{error}");

    let wheel = work.unpack(&WheelBuilder::new("third", "1.0").data("lib", "x.py", ""));
    let error = refused(&work, &wheel);
    assert!(error.to_string().contains("scheme"), "{error}");

    let wheel = work.unpack(
        &WheelBuilder::new("fourth", "1.0")
            .file("fourth.py", "A = 1\n")
            .data("purelib", "fourth.py", "B = 2\n"),
    );
    let error = refused(&work, &wheel);
    assert!(error.to_string().contains("`fourth.py` twice"), "{error}");

    let wheel = work.unpack(&WheelBuilder::new("fifth", "1.0").file("fifth.py", ""));
    std::os::unix::fs::symlink("/etc/passwd", wheel.archive.join("link.py")).unwrap();
    let error = refused(&work, &wheel);
    assert!(error.to_string().contains("symlink"), "{error}");
}

#[test]
fn a_symlink_in_the_target_is_never_followed() {
    let work = Workspace::new();
    let outside = work.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let target = work.target("site");
    std::fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("demo_pkg")).unwrap();
    let before = snapshot(&target);

    let wheel = work.unpack(&demo("1.0"));
    let error = install(&target, LinkMode::Copy, &[&wheel]).unwrap_err();
    assert!(
        matches!(error, InstallError::UnrecordedFileExists { ref path, .. } if path == "demo_pkg"),
        "{error}"
    );
    assert!(snapshot(&outside).is_empty());
    assert_eq!(snapshot(&target), before);
}

#[test]
fn a_target_that_is_a_file_is_refused() {
    let work = Workspace::new();
    let target = work.target("site");
    std::fs::write(&target, "not a directory").unwrap();
    let error = Installer::new(&target, InstallSettings::new(python())).unwrap_err();
    assert!(
        matches!(error, InstallError::TargetNotDirectory { .. }),
        "{error}"
    );
}
