//! Property tests of the parsers of an unpacked wheel's metadata files, through the installer:
//! `RECORD` (CSV rows of path, hash and size), `entry_points.txt` (console and GUI scripts) and
//! `WHEEL` (`Wheel-Version`, `Root-Is-Purelib`), and of the installed `RECORD` that
//! `uninstall` reads back.
//!
//! Properties: a generated wheel installs exactly its files and one launcher per script, with
//! an installed `RECORD` listing every installed file with its true hash and size, and
//! uninstalls to an empty target; damaged `RECORD`, `entry_points.txt` or `WHEEL` files are
//! refused with a typed error or installed within the target, never a panic; a hostile
//! installed `RECORD` never makes `uninstall` remove anything outside the target.
//! `PROPTEST_CASES` raises the number of cases (see `scripts/fuzz-long.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod install_support;

use std::collections::BTreeSet;
use std::path::Path;

use cairn_install::{InstallSettings, Installer, PackageName, uninstall};
use cairn_test_support::wheel::WheelBuilder;
use install_support::{Unpacked, Workspace, files};
use proptest::prelude::*;
use proptest::test_runner::Config;
use sha2::Digest as _;

/// Cases per property by default: each case unpacks and installs a wheel.
const DEFAULT_CASES: u32 = 48;

fn config() -> Config {
    cairn_test_support::prop::config(
        DEFAULT_CASES,
        "proptest-regressions/prop_install_records.txt",
    )
}

/// A wheel of project `demo` 1.0: module files, scripts of both kinds, root purelib or not.
#[derive(Debug, Clone)]
struct Model {
    files: Vec<(String, Vec<u8>)>,
    console: Vec<String>,
    gui: Vec<String>,
    platlib: bool,
    /// Another entry-point group, which installs nothing.
    other_group: bool,
}

impl Model {
    fn builder(&self) -> WheelBuilder {
        let mut builder = WheelBuilder::new("demo", "1.0").file("demo/__init__.py", "");
        for (path, content) in &self.files {
            builder = builder.file(path, content);
        }
        if self.platlib {
            builder = builder.platlib_root();
        }
        let mut entry_points = String::new();
        if !self.console.is_empty() {
            entry_points.push_str("[console_scripts]\n");
            for name in &self.console {
                entry_points.push_str(&format!("{name} = demo.core:main\n"));
            }
        }
        if !self.gui.is_empty() {
            entry_points.push_str("\n[gui_scripts]\n");
            for name in &self.gui {
                entry_points.push_str(&format!("{name}=demo:run [extra]\n"));
            }
        }
        if self.other_group {
            entry_points.push_str("[demo.plugins]\nplugin = demo.core:Plugin\n");
        }
        if !entry_points.is_empty() {
            builder = builder.entry_points(&entry_points);
        }
        builder
    }
}

fn model() -> impl Strategy<Value = Model> {
    (
        proptest::collection::btree_map(
            "demo/[a-z_]{1,8}(/[a-z_]{1,8})?\\.(py|txt|dat)",
            proptest::collection::vec(any::<u8>(), 0..200),
            0..5,
        ),
        proptest::collection::btree_set("[a-z][a-z0-9_-]{0,8}", 0..3),
        proptest::collection::btree_set("[a-z][a-z0-9_-]{0,8}", 0..2),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(files, console, gui, platlib, other_group)| {
            // A file path must not also be a directory of another one.
            let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
            for (path, content) in files {
                let stem = path
                    .rsplit_once('.')
                    .map_or(path.as_str(), |(stem, _)| stem);
                if !kept.iter().any(|(other, _)| {
                    other.starts_with(&format!("{stem}/"))
                        || path.starts_with(&format!("{}/", other.rsplit_once('.').unwrap().0))
                }) {
                    kept.push((path, content));
                }
            }
            let gui: Vec<String> = gui
                .into_iter()
                .filter(|name| !console.contains(name))
                .collect();
            Model {
                files: kept,
                console: console.into_iter().collect(),
                gui,
                platlib,
                other_group,
            }
        })
}

fn installer(target: &Path) -> Installer {
    Installer::new(target, InstallSettings::new("/usr/bin/python3")).unwrap()
}

/// The rows of a `RECORD` this test's wheels can have (no quoted fields): path, hash, size.
fn record_rows(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut fields = line.rsplitn(3, ',');
            let size = fields.next().unwrap().to_owned();
            let hash = fields.next().unwrap().to_owned();
            let path = fields.next().unwrap().to_owned();
            (path, hash, size)
        })
        .collect()
}

fn sha256_field(bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    format!("sha256={}", base64_url_no_pad(&digest))
}

/// URL-safe base64 without padding, as `RECORD` writes digests (PEP 376, PEP 427).
fn base64_url_no_pad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (i, &byte)| {
            word | u32::from(byte) << (16 - 8 * i)
        });
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(word >> (18 - 6 * i) & 0x3f) as usize]));
        }
    }
    out
}

/// The names in `dir` other than `keep`: what an operation left outside the target.
fn others(dir: &Path, keep: &[&str]) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !keep.contains(&name.as_str()))
        .collect()
}

/// Hostile and malformed `RECORD` rows.
fn record_row() -> impl Strategy<Value = String> {
    let path = prop_oneof![
        Just("../outside/sentinel".to_owned()),
        Just("/etc/passwd".to_owned()),
        Just("demo/../../outside/sentinel".to_owned()),
        Just("demo\\..\\..\\outside".to_owned()),
        Just("\"demo/a,b.py\"".to_owned()),
        Just("\"unterminated".to_owned()),
        Just("demo/__init__.py".to_owned()),
        Just("demo/missing.py".to_owned()),
        Just("demo-1.0.data/scripts/tool".to_owned()),
        Just("demo-1.0.data/../../outside".to_owned()),
        Just("".to_owned()),
        "[ -~]{0,20}",
    ];
    let hash = prop_oneof![
        Just(String::new()),
        Just("sha256=".to_owned()),
        Just("sha256=AAAA".to_owned()),
        Just("sha256=not base64!".to_owned()),
        Just("md5=abc".to_owned()),
        "[a-z0-9]{0,8}=[A-Za-z0-9_-]{0,43}",
    ];
    let size = prop_oneof![
        Just(String::new()),
        Just("-1".to_owned()),
        Just("99999999999999999999999".to_owned()),
        "[0-9]{1,4}",
        "[ -~]{0,4}",
    ];
    (path, hash, size, 0u8..4).prop_map(|(path, hash, size, shape)| match shape {
        0 => format!("{path},{hash},{size}"),
        1 => format!("{path},{hash}"),
        2 => format!("{path},{hash},{size},extra"),
        _ => path,
    })
}

/// Hostile and malformed `entry_points.txt` content.
fn entry_points_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[console_scripts]\n".to_owned()),
        Just("[gui_scripts]\n".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("\n".to_owned()),
        Just(" = ".to_owned()),
        Just("=".to_owned()),
        Just("run".to_owned()),
        Just("demo.core".to_owned()),
        Just(":".to_owned()),
        Just("main".to_owned()),
        Just("../escape".to_owned()),
        Just("bin/x".to_owned()),
        Just("/abs".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("\0".to_owned()),
        Just(" [extra]".to_owned()),
        Just("#".to_owned()),
        Just(";".to_owned()),
        "[ -~]{0,8}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

/// Hostile and malformed `WHEEL` content.
fn wheel_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Wheel-Version: 1.0\n".to_owned()),
        Just("Wheel-Version: 1.9\n".to_owned()),
        Just("Wheel-Version: 2.0\n".to_owned()),
        Just("Wheel-Version: 0.1\n".to_owned()),
        Just("Wheel-Version: 1\n".to_owned()),
        Just("Wheel-Version: 99999999999999999999.0\n".to_owned()),
        Just("Wheel-Version: x\n".to_owned()),
        Just("Root-Is-Purelib: true\n".to_owned()),
        Just("Root-Is-Purelib: false\n".to_owned()),
        Just("Root-Is-Purelib: maybe\n".to_owned()),
        Just("root-is-purelib:FALSE\n".to_owned()),
        Just(" continued\n".to_owned()),
        Just(":".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        "[ -~]{0,12}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

#[derive(Debug, Clone)]
enum Damage {
    /// Rows added to `RECORD` (after the true ones, or before them).
    Record { rows: Vec<String>, before: bool },
    /// `entry_points.txt` replaced.
    EntryPoints(String),
    /// `WHEEL` replaced.
    Wheel(String),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (proptest::collection::vec(record_row(), 1..4), any::<bool>())
            .prop_map(|(rows, before)| Damage::Record { rows, before }),
        entry_points_text().prop_map(Damage::EntryPoints),
        wheel_text().prop_map(Damage::Wheel),
    ]
}

/// A workspace holding the wheel unpacked, a sibling `outside/sentinel` that nothing may touch,
/// and the target path.
fn setup(model: &Model) -> (Workspace, Unpacked, std::path::PathBuf) {
    let work = Workspace::new();
    let wheel = work.unpack(&model.builder());
    std::fs::create_dir(work.dir.path().join("outside")).unwrap();
    std::fs::write(work.dir.path().join("outside/sentinel"), "keep me").unwrap();
    let target = work.target("site");
    (work, wheel, target)
}

fn sentinel_intact(work: &Workspace) -> bool {
    std::fs::read(work.dir.path().join("outside/sentinel")).is_ok_and(|bytes| bytes == b"keep me")
}

proptest! {
    #![proptest_config(config())]

    /// A generated wheel installs exactly its files, a launcher per script and the installer's
    /// own files, all listed in the installed `RECORD` with their true hash and size; uninstall
    /// then removes every one of them.
    #[test]
    fn generated_wheel_installs_and_uninstalls_exactly(model in model()) {
        let (work, wheel, target) = setup(&model);
        let report = installer(&target).install(&[wheel.request()]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(report.wheels.len(), 1);
        let installed = files(&target);
        let record_text = std::fs::read_to_string(target.join("demo-1.0.dist-info/RECORD")).unwrap();
        let rows = record_rows(&record_text);
        let listed: BTreeSet<String> = rows.iter().map(|(path, _, _)| path.clone()).collect();
        prop_assert_eq!(&listed, &installed.iter().cloned().collect::<BTreeSet<_>>());
        for (path, hash, size) in &rows {
            if path == "demo-1.0.dist-info/RECORD" {
                prop_assert_eq!((hash.as_str(), size.as_str()), ("", ""));
                continue;
            }
            let bytes = std::fs::read(target.join(path)).unwrap();
            prop_assert_eq!(hash, &sha256_field(&bytes), "{}", path);
            prop_assert_eq!(size, &bytes.len().to_string(), "{}", path);
        }
        for (path, content) in &model.files {
            prop_assert_eq!(&std::fs::read(target.join(path)).unwrap(), content);
        }
        let launchers: BTreeSet<String> = installed
            .iter()
            .filter_map(|path| path.strip_prefix("bin/").map(str::to_owned))
            .collect();
        let scripts: BTreeSet<String> = model.console.iter().chain(&model.gui).cloned().collect();
        prop_assert_eq!(launchers, scripts);

        let report = uninstall(&target, &[PackageName::new("demo")]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(report.uninstalled.len(), 1);
        prop_assert_eq!(files(&target), Vec::<String>::new());
        prop_assert!(sentinel_intact(&work));
    }

    /// Damaged `RECORD`, `entry_points.txt` or `WHEEL`: a typed error that leaves no file, or an
    /// install within the target whose every file is recorded; nothing outside it changes.
    #[test]
    fn damaged_metadata_is_refused_or_installed_within_the_target(model in model(), damage in damage()) {
        let (work, wheel, target) = setup(&model);
        let dist_info = wheel.archive.join("demo-1.0.dist-info");
        match &damage {
            Damage::Record { rows, before } => {
                let record = dist_info.join("RECORD");
                let text = std::fs::read_to_string(&record).unwrap();
                let extra: String = rows.iter().map(|row| format!("{row}\n")).collect();
                let text = if *before { format!("{extra}{text}") } else { format!("{text}{extra}") };
                std::fs::write(record, text).unwrap();
            }
            Damage::EntryPoints(text) => std::fs::write(dist_info.join("entry_points.txt"), text).unwrap(),
            Damage::Wheel(text) => std::fs::write(dist_info.join("WHEEL"), text).unwrap(),
        }
        match installer(&target).install(&[wheel.request()]) {
            Ok(_) => {
                let record = std::fs::read_to_string(target.join("demo-1.0.dist-info/RECORD")).unwrap();
                for file in files(&target) {
                    prop_assert!(record.lines().any(|line| line.starts_with(&format!("{file},")) || line.starts_with(&format!("\"{file}\","))), "{} is not recorded", file);
                }
            }
            Err(error) => {
                prop_assert!(!error.to_string().is_empty());
                if target.exists() {
                    prop_assert_eq!(files(&target), Vec::<String>::new(), "a refused install left files: {}", error);
                }
            }
        }
        prop_assert!(sentinel_intact(&work));
        prop_assert_eq!(others(work.dir.path(), &["site"]), ["archives", "outside", "wheels"].into_iter().map(str::to_owned).collect::<BTreeSet<_>>());
    }

    /// An installed `RECORD` replaced by hostile rows: uninstall succeeds or fails with a typed
    /// error, and never removes anything outside the target.
    #[test]
    fn uninstall_with_hostile_record_stays_in_the_target(
        model in model(),
        rows in proptest::collection::vec(record_row(), 0..6),
        keep_true_rows in any::<bool>(),
    ) {
        let (work, wheel, target) = setup(&model);
        installer(&target).install(&[wheel.request()]).unwrap();
        let record = target.join("demo-1.0.dist-info/RECORD");
        let mut text = if keep_true_rows { std::fs::read_to_string(&record).unwrap() } else { String::new() };
        for row in &rows {
            text.push_str(row);
            text.push('\n');
        }
        // An absolute path to the sentinel, too.
        text.push_str(&format!("{},,\n", work.dir.path().join("outside/sentinel").display()));
        std::fs::write(&record, text).unwrap();
        match uninstall(&target, &[PackageName::new("demo")]) {
            Ok(_) => prop_assert!(!target.join("demo-1.0.dist-info").exists()),
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
        prop_assert!(sentinel_intact(&work));
        prop_assert!(wheel.archive.join("demo/__init__.py").is_file(), "uninstall removed a file of the cache");
    }
}
