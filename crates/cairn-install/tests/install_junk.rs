//! Junk in the metadata files of an unpacked wheel (`RECORD`, `entry_points.txt`, `WHEEL`) and
//! files in `.data` schemes real or not: lines recombined from the formats' own pieces and from
//! hostile ones. The installer refuses such a wheel or installs it, but never panics, never
//! leaves a refused install's files behind, never writes outside the target, and lists whatever
//! it installed in its `RECORD` (whose hashes check out when the wheel's own `RECORD` was true).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod install_support;

use cairn_fs::LinkMode;
use cairn_test_support::random::Random;
use cairn_test_support::wheel::WheelBuilder;
use install_support::*;

/// Rounds per run: some seconds, most of them spent unpacking and installing.
const ROUNDS: usize = 300;
/// Every this many accepted rounds, `RECORD` is checked with Python (slow, so not every time).
const CHECK_RECORD_EVERY: usize = 10;

const RECORD_PIECES: &[&str] = &[
    "demo/__init__.py",
    "demo/core.py",
    "demo-1.0.dist-info/RECORD",
    "demo-1.0.data/scripts/run",
    "demo/",
    "./demo/core.py",
    "../outside.py",
    "/etc/passwd",
    "demo/../../outside",
    "C:\\outside",
    "demo\\core.py",
    ",",
    ",,",
    "sha256=",
    "sha256=AAAA",
    "sha256=not base64!",
    "md5=abc",
    "sha999=x",
    ",12",
    ",-1",
    ",99999999999999999999999",
    "\"",
    "\"demo/core.py\"",
    "\"a,b\"",
    "\n",
    "\r\n",
    " ",
    "\u{0}",
    "é",
    "\u{202e}",
];

const ENTRY_POINT_PIECES: &[&str] = &[
    "[console_scripts]",
    "[gui_scripts]",
    "[other.group]",
    "[",
    "]",
    "\n",
    "run",
    "run-it",
    " = ",
    "=",
    "demo",
    "demo.core",
    ":",
    "main",
    "Class.method",
    " [extra]",
    ";",
    "#",
    "../escape",
    "bin/x",
    "é",
    "\u{0}",
    "0",
    " ",
    "a b",
    "\"",
];

const WHEEL_PIECES: &[&str] = &[
    "Wheel-Version: 1.0",
    "Wheel-Version: 1.9",
    "Wheel-Version: 2.0",
    "Wheel-Version: x",
    "Root-Is-Purelib: true",
    "Root-Is-Purelib: false",
    "Root-Is-Purelib: maybe",
    "Generator: junk",
    "Tag: py3-none-any",
    "Build: 1",
    ":",
    "\n",
    " ",
    "\u{0}",
    "é",
];

/// `.data` schemes, the five real ones and some that are not.
const SCHEMES: &[&str] = &[
    "purelib", "platlib", "scripts", "headers", "data", "unknown", "Scripts", "lib",
];

fn junk(random: &mut Random, pieces: &[&str]) -> String {
    let mut text = String::new();
    for _ in 0..1 + random.below(12) {
        text.push_str(pieces[random.below(pieces.len())]);
    }
    text
}

fn demo(entry_points: &str) -> WheelBuilder {
    WheelBuilder::new("demo", "1.0")
        .file("demo/__init__.py", "")
        .file("demo/core.py", "def main():\n    return 0\n")
        .data("scripts", "run", "#!/bin/sh\necho run\n")
        .entry_points(entry_points)
}

/// Unpacks a wheel with one kind of damage: junk entry points (written by the builder, so that
/// `RECORD` hashes them), junk lines appended to `RECORD`, a junk `WHEEL` written over the
/// unpacked one, or files in a `.data` scheme that `RECORD` does not list. Says whether the
/// wheel's `RECORD` still holds the true hash of every file it lists: like pip and uv, the
/// installer copies the hashes a wheel's `RECORD` gives rather than hashing every file again,
/// so junk rows and a `WHEEL` written over leave hashes that no longer match.
fn damaged(work: &Workspace, random: &mut Random) -> (Unpacked, bool) {
    let kind = random.below(4);
    let entry_points = if kind == 0 {
        junk(random, ENTRY_POINT_PIECES)
    } else {
        "[console_scripts]\nrun-demo = demo.core:main\n".to_owned()
    };
    let wheel = work.unpack(&demo(&entry_points));
    let dist_info = wheel.archive.join("demo-1.0.dist-info");
    match kind {
        1 => {
            // After the real lines, so that parsing gets past them.
            let record = dist_info.join("RECORD");
            let mut text = std::fs::read_to_string(&record).unwrap();
            text.push_str(&junk(random, RECORD_PIECES));
            std::fs::write(record, text).unwrap();
        }
        2 => {
            let text = junk(random, WHEEL_PIECES);
            std::fs::write(dist_info.join("WHEEL"), text).unwrap();
        }
        3 => {
            let scheme = SCHEMES[random.below(SCHEMES.len())];
            let dir = wheel.archive.join("demo-1.0.data").join(scheme).join("sub");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("file.txt"), "data\n").unwrap();
        }
        _ => {}
    }
    (wheel, kind == 0 || kind == 3)
}

#[test]
fn junk_metadata_is_refused_or_installed_within_the_target() {
    let work = Workspace::new();
    let mut random = Random::new(0x5eed_0f0d_dba1_1234);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..ROUNDS {
        let (wheel, record_holds) = damaged(&work, &mut random);
        let target = work.target("site");
        let mode = [LinkMode::Copy, LinkMode::Hardlink][round % 2];
        match install(&target, mode, &[&wheel]) {
            Ok(_) => {
                accepted += 1;
                let record = read(target.join("demo-1.0.dist-info/RECORD"));
                for file in files(&target) {
                    assert!(
                        record.contains(&file),
                        "round {round}: {file} is not recorded"
                    );
                }
                if record_holds && accepted % CHECK_RECORD_EVERY == 1 {
                    let listed = checked_record(&target, "demo-1.0.dist-info");
                    assert_eq!(listed, files(&target), "round {round}");
                }
            }
            Err(error) => {
                refused += 1;
                assert!(!error.to_string().is_empty(), "round {round}");
                if target.exists() {
                    assert!(
                        snapshot(&target).is_empty(),
                        "round {round}: a refused install left files: {error}"
                    );
                }
            }
        }
        let mut names: Vec<String> = std::fs::read_dir(work.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.retain(|name| name != "site");
        names.sort();
        assert_eq!(
            names,
            ["archives", "wheels"],
            "round {round}: written outside the target"
        );
        if target.exists() {
            std::fs::remove_dir_all(&target).unwrap();
        }
        std::fs::remove_dir_all(&wheel.archive).unwrap();
    }
    // Both outcomes must occur, or the junk never reached the parsers (or never got past them).
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
