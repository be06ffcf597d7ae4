//! Several processes installing into one target at once take turns: every install succeeds
//! and the target ends up with all of them, though each one moves a shared `bin` and
//! namespace directory into place.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod install_support;

use std::io::Write;
use std::path::Path;

use cairn_fs::LinkMode;
use cairn_install::InstallRequest;
use cairn_test_support::child;
use cairn_test_support::wheel::WheelBuilder;
use cairn_types::WheelFilename;
use install_support::*;

/// The child: installs one archive into a target when told to go.
#[test]
#[ignore = "started by other tests as a child process"]
fn child_entry() {
    let Some(role) = child::child_role() else {
        return;
    };
    assert_eq!(role, "install");
    let args = child::child_args();
    let (target, archive) = (Path::new(&args[0]), Path::new(&args[1]));
    let filename: WheelFilename = args[2].parse().unwrap();
    let installer = installer(target, LinkMode::Hardlink);
    println!("ready");
    std::io::stdin().read_line(&mut String::new()).unwrap();
    installer
        .install(&[InstallRequest {
            archive,
            filename: &filename,
            manifest: None,
            direct_url: None,
            requested: false,
        }])
        .unwrap();
    println!("installed");
}

#[test]
fn processes_installing_into_one_target_take_turns() {
    let work = Workspace::new();
    let target = work.target("site");
    let wheels: Vec<Unpacked> = (0..4)
        .map(|i| {
            work.unpack(
                &WheelBuilder::new(&format!("racer{i}"), "1.0")
                    .file(&format!("ns/racer{i}/__init__.py"), "")
                    .entry_points(&format!("[console_scripts]\nracer{i} = ns.racer{i}:main\n")),
            )
        })
        .collect();
    std::fs::create_dir(&target).unwrap();

    let mut children: Vec<_> = wheels
        .iter()
        .map(|wheel| {
            let args = [
                target.to_str().unwrap(),
                wheel.archive.to_str().unwrap(),
                &wheel.filename.to_string(),
            ];
            child::spawn_child("child_entry", "install", &args)
        })
        .collect();
    for process in &mut children {
        child::wait_for_line(process, "ready");
    }
    for process in &mut children {
        process.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    }
    for process in children {
        assert!(child::finish(process).contains("installed"));
    }

    let mut listed = Vec::new();
    for wheel in &wheels {
        listed.extend(checked_record(&target, &wheel.dist_info()));
    }
    listed.sort();
    assert_eq!(listed, files(&target));
}
