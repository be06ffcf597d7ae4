//! Installs killed with SIGKILL at moments spread over a whole upgrade: the next command into
//! the target finds it exactly as it was before the killed install, or as the finished upgrade
//! leaves it, and no staging directory behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use cairn_test_support::wheel::WheelBuilder;
use support::{command, stderr};

/// A project of many top-level modules: each is one link while staging but two renames (set
/// the old one aside, move the new one in) while the upgrade is applied, so most of the
/// upgrade's time is spent in the window a crash must be recovered from.
fn project(name: &str, version: &str) -> WheelBuilder {
    let mut wheel = WheelBuilder::new(name, version).entry_points(&format!(
        "[console_scripts]\n{name}-tool = {name}_m0:main\n"
    ));
    for index in 0..300 {
        wheel = wheel.file(
            &format!("{name}_m{index}.py"),
            format!("V = '{version}'\ndef main(): pass\n"),
        );
    }
    wheel
}

/// Every file under `root` with its content; `None` for directories.
fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            if path.is_dir() {
                found.insert(relative, None);
                pending.push(path);
            } else {
                found.insert(relative, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    found
}

/// Whether a staging directory of `target` holds a journal: the install was renaming.
fn journals(target: &Path) -> bool {
    std::fs::read_dir(target).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        name.starts_with(".cairn-install-") && path.join("journal").is_file()
    })
}

fn staging_dirs(target: &Path) -> usize {
    std::fs::read_dir(target)
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with(".cairn-install-")
        })
        .count()
}

#[test]
fn an_upgrade_killed_at_any_moment_is_all_or_nothing_after_the_next_command() {
    let work = tempfile::tempdir().unwrap();
    let wheels = work.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let build = |version: &str| -> Vec<String> {
        ["alpha", "beta", "gamma"]
            .iter()
            .map(|name| project(name, version).build(&wheels).display().to_string())
            .collect()
    };
    let (old, new) = (build("1.0"), build("2.0"));
    let cache = work.path().join("cache");
    let install = |target: &Path, wheels: &[String]| {
        let mut args = vec![
            "install",
            "--link-mode",
            "copy",
            "--target",
            target.to_str().unwrap(),
        ];
        args.extend(wheels.iter().map(String::as_str));
        command(&cache, &args)
    };
    let checked = |mut command: std::process::Command| {
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    };

    // The two states a killed upgrade may leave, made by uninterrupted runs; the second
    // reference upgrade, from a warm cache as every round's, gives the length to kill within.
    let reference = work.path().join("reference");
    checked(install(&reference, &old));
    let before = tree(&reference);
    checked(install(&reference, &new));
    let after = tree(&reference);
    assert_ne!(before, after);
    let timed = work.path().join("timed");
    checked(install(&timed, &old));
    let started = Instant::now();
    checked(install(&timed, &new));
    let upgrade = started.elapsed();

    // Each kill's moment steers the next towards the window where the upgrade renames (a
    // journal in its staging directory): later after a kill before it, earlier after one that
    // came too late. Every round, wherever it lands, must leave the before or the after tree.
    let step = upgrade / 12;
    let mut delay = upgrade / 2;
    let (mut as_before, mut as_after, mut in_renames) = (0, 0, 0);
    for round in 0..40 {
        if in_renames >= 4 {
            break;
        }
        let target: PathBuf = work.path().join(format!("target-{round}"));
        checked(install(&target, &old));
        let mut child = install(&target, &new)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();
        let journal = journals(&target);
        let staged = staging_dirs(&target);

        // The next command that touches the target recovers it; this one then fails, having
        // changed nothing else.
        let output = command(
            &cache,
            &[
                "uninstall",
                "no-such-project",
                "--target",
                target.to_str().unwrap(),
            ],
        )
        .output()
        .unwrap();
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("not installed"),
            "{}",
            stderr(&output)
        );
        assert_eq!(staging_dirs(&target), 0, "round {round}");
        let found = tree(&target);
        if found == before {
            as_before += 1;
        } else if found == after {
            as_after += 1;
        } else {
            let differs: Vec<&String> = found
                .keys()
                .chain(before.keys())
                .filter(|path| found.get(*path) != before.get(*path))
                .take(5)
                .collect();
            panic!("round {round} (journal: {journal}): neither before nor after: {differs:?}");
        }
        if journal {
            in_renames += 1;
            // Stay in the window, a little earlier or later each time.
            delay = if round % 2 == 0 {
                delay + step / 4
            } else {
                delay.saturating_sub(step / 4)
            };
        } else if staged > 0 || found == before {
            // Too early. Growing by a quarter as well as the step catches up with a machine
            // that got slower (a busy CI host) since the reference upgrade was timed.
            delay += step.max(delay / 4);
        } else {
            delay = delay.saturating_sub(step);
        }
        std::fs::remove_dir_all(&target).unwrap();
    }
    assert!(
        in_renames > 0,
        "no kill landed while the upgrade renamed ({as_before} before, {as_after} after)"
    );
}
