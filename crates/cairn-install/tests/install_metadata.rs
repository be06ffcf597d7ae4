//! What an install writes and leaves out besides the wheel's own files, checked against what
//! `pip install --target` does with the same wheels: PEP 610 `direct_url.json` and `REQUESTED`,
//! the setuptools wrappers that entry points replace, and `RECORD` rows for files a wheel lacks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod install_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_cache::{ArchiveManifest, ManifestEntry};
use cairn_install::{ArchiveHash, DirectUrl, InstallError, InstallRequest, LinkMode};
use cairn_test_support::wheel::WheelBuilder;
use cairn_types::WheelFilename;
use cairn_zip::{self as unzip, Limits};
use install_support::*;
use sha2::Digest;

/// A wheel file built or rewritten for a test, unpacked as the cache holds it.
struct WheelFile {
    path: PathBuf,
    archive: PathBuf,
    manifest: PathBuf,
    filename: WheelFilename,
}

impl WheelFile {
    /// Builds `builder` into `work/wheels` and unpacks it.
    fn build(work: &Workspace, builder: &WheelBuilder) -> Self {
        let dir = work.dir.path().join("wheels");
        std::fs::create_dir_all(&dir).unwrap();
        Self::unpack(work, builder.build(&dir))
    }

    /// Builds `builder` with `rows` appended to its `RECORD` (before `RECORD`'s own row), as a
    /// wheel whose `RECORD` lists files it does not contain.
    fn with_record_rows(work: &Workspace, builder: &WheelBuilder, rows: &[&str]) -> Self {
        const REWRITE: &str = r#"
import sys, zipfile
source, dest, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(source) as old, zipfile.ZipFile(dest, "w") as new:
    for info in old.infolist():
        data = old.read(info)
        if info.filename.endswith(".dist-info/RECORD"):
            data = "".join(line + "\n" for line in extra).encode() + data
        new.writestr(info, data)
"#;
        let built = Self::build(work, builder);
        let dir = work.dir.path().join("rewritten");
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join(builder.filename());
        let status = Command::new(python())
            .args(["-c", REWRITE])
            .arg(&built.path)
            .arg(&dest)
            .args(rows)
            .status()
            .unwrap();
        assert!(status.success());
        Self::unpack(work, dest)
    }

    /// Extracts `path` with cairn's extractor and writes the manifest beside the archive.
    fn unpack(work: &Workspace, path: PathBuf) -> Self {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let archives = work.dir.path().join("archives");
        std::fs::create_dir_all(&archives).unwrap();
        let archive = tempfile::Builder::new()
            .prefix(&name)
            .tempdir_in(&archives)
            .unwrap()
            .keep();
        let report = unzip::extract_file(&path, &archive, &Limits::default()).unwrap();
        let entries = report
            .written
            .into_iter()
            .map(|file| ManifestEntry {
                path: file.path,
                size: file.size,
                crc32: file.crc32,
                executable: file.executable,
            })
            .collect();
        let manifest = archive.with_extension("manifest");
        std::fs::write(&manifest, ArchiveManifest::new(entries).unwrap().to_text()).unwrap();
        Self {
            path,
            archive,
            manifest,
            filename: name.parse().unwrap(),
        }
    }

    fn request(&self, with_manifest: bool) -> InstallRequest<'_> {
        InstallRequest {
            archive: &self.archive,
            filename: &self.filename,
            manifest: with_manifest.then_some(self.manifest.as_path()),
            direct_url: None,
            requested: false,
        }
    }

    /// The SHA-256 of the wheel file, in hex.
    fn sha256(&self) -> String {
        sha2::Sha256::digest(std::fs::read(&self.path).unwrap())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// What pip records for this wheel installed from its path: its file URL and hash.
    fn direct_url(&self) -> DirectUrl {
        let hash = ArchiveHash::new("sha256", &self.sha256()).unwrap();
        DirectUrl::for_file(&self.path)
            .unwrap()
            .with_archive_hash(hash)
    }
}

/// `python3 -m pip install --target target wheel`, isolated from any pip configuration, with no
/// bytecode (cairn compiles none).
fn pip_install(wheel: &Path, target: &Path) {
    let output = Command::new(python())
        .args([
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--disable-pip-version-check",
            "--quiet",
            "--target",
        ])
        .arg(target)
        .arg(wheel)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 -m pip must be installed to compare with pip");
    assert!(
        output.status.success(),
        "pip install failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The rows of `RECORD` read with Python's `csv`: path → (hash, size). pip's `--target`
/// installs name scripts and data `../../bin/NAME`, `../../share/…` (it installs into a scheme
/// whose library directory is `lib/python` under a temporary home, then moves the result), which
/// is `bin/NAME`, `share/…` in the target.
fn record_rows(target: &Path, dist_info: &str) -> BTreeMap<String, (String, String)> {
    const READ: &str = r#"
import csv, sys
with open(sys.argv[1], newline="") as f:
    for path, digest, size in csv.reader(f):
        print(path, digest, size, sep="\t")
"#;
    let output = Command::new(python())
        .args(["-c", READ])
        .arg(target.join(dist_info).join("RECORD"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut fields = line.split('\t').map(str::to_owned);
            let path = fields.next().unwrap();
            let path = path
                .strip_prefix("../../")
                .map_or(path.clone(), str::to_owned);
            (path, (fields.next().unwrap(), fields.next().unwrap()))
        })
        .collect()
}

fn files_set(root: &Path) -> BTreeSet<String> {
    files(root).into_iter().collect()
}

/// A package with console and GUI scripts and every wrapper setuptools writes for them in
/// `.data/scripts`, beside scripts of its own.
fn wrapped_scripts() -> WheelBuilder {
    WheelBuilder::new("demo-tool", "1.0")
        .file(
            "demo_tool/__init__.py",
            "def main():\n    print('from the entry point')\n    return 0\n",
        )
        .entry_points(
            "[console_scripts]\nt1 = demo_tool:main\n[gui_scripts]\ng1 = demo_tool:main\n",
        )
        .data(
            "scripts",
            "t1",
            "#!python\nprint('from the .data wrapper')\n",
        )
        .data("scripts", "t1.exe", "MZ launcher for t1")
        .data("scripts", "t1-script.py", "#!python\nprint('t1 wrapper')\n")
        .data("scripts", "g1.exe", "MZ launcher for g1")
        .data(
            "scripts",
            "g1-script.pyw",
            "#!pythonw\nprint('g1 wrapper')\n",
        )
        .data("scripts", "other.exe", "MZ a program of its own")
        .data("scripts", "legacy", "#!python\nprint('legacy')\n")
}

#[test]
fn entry_points_win_over_data_scripts_of_their_name_and_wrappers_are_left_out() {
    let work = Workspace::new();
    let wheel = WheelFile::build(&work, &wrapped_scripts());
    for mode in MODES {
        for with_manifest in [false, true] {
            let target = work.target(&format!("site-{mode}-{with_manifest}"));
            installer(&target, mode)
                .install(&[wheel.request(with_manifest)])
                .unwrap_or_else(|error| panic!("{mode}, manifest {with_manifest}: {error}"));

            let bin: Vec<String> = files(&target)
                .into_iter()
                .filter(|path| path.starts_with("bin/"))
                .collect();
            assert_eq!(
                bin,
                ["bin/g1", "bin/legacy", "bin/other.exe", "bin/t1"],
                "{mode}, manifest {with_manifest}"
            );
            // `bin/t1` is the entry point's launcher, not the wrapper of the same name.
            let run = Command::new(target.join("bin/t1"))
                .env("PYTHONPATH", &target)
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&run.stdout),
                "from the entry point\n",
                "{mode}: {run:?}"
            );
            let record = checked_record(&target, "demo_tool-1.0.dist-info");
            assert!(
                !record.iter().any(|path| path.contains(".data/")),
                "{record:?}"
            );
            assert_eq!(
                record.iter().cloned().collect::<BTreeSet<_>>(),
                files_set(&target),
                "RECORD lists exactly the installed files"
            );
        }
    }
}

#[test]
fn scripts_are_the_ones_pip_installs() {
    let work = Workspace::new();
    let wheel = WheelFile::build(&work, &wrapped_scripts());
    let (ours, pips) = (work.target("cairn"), work.target("pip"));
    installer(&ours, LinkMode::Copy)
        .install(&[wheel.request(true)])
        .unwrap();
    pip_install(&wheel.path, &pips);

    let ours_files = files_set(&ours);
    let pip_files = files_set(&pips);
    // pip strips `.exe`, `-script.py` and `.pya` to match a wrapper with its entry point, and
    // keeps `g1-script.pyw`, the wrapper of a GUI script; cairn leaves it out too. Everything
    // else is the same tree (pip writes direct_url.json and REQUESTED for a path install).
    let only_pip: Vec<_> = pip_files.difference(&ours_files).cloned().collect();
    let expected_only_pip: Vec<String> = [
        "bin/g1-script.pyw",
        "demo_tool-1.0.dist-info/REQUESTED",
        "demo_tool-1.0.dist-info/direct_url.json",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(only_pip, expected_only_pip);
    let only_ours: Vec<_> = ours_files.difference(&pip_files).collect();
    assert!(only_ours.is_empty(), "{only_ours:?}");
}

#[test]
fn record_rows_for_files_the_wheel_lacks_are_left_out_with_the_rest_installed() {
    let work = Workspace::new();
    let builder = WheelBuilder::new("demo-pkg", "1.0")
        .file("demo_pkg/__init__.py", "VALUE = 1\n")
        .data("scripts", "tool", "#!python\nprint('tool')\n");
    let wheel = WheelFile::with_record_rows(
        &work,
        &builder,
        &[
            "demo_pkg/missing.py,sha256=2jmj7l5rSw0yVb_vlWAYkK_YBwk,3",
            "demo_pkg-1.0.data/scripts/gone,,",
            "demo_pkg-1.0.dist-info/INSTALLER,,",
        ],
    );
    for mode in MODES {
        for with_manifest in [false, true] {
            let target = work.target(&format!("site-{mode}-{with_manifest}"));
            installer(&target, mode)
                .install(&[wheel.request(with_manifest)])
                .unwrap_or_else(|error| panic!("{mode}, manifest {with_manifest}: {error}"));
            let record = checked_record(&target, "demo_pkg-1.0.dist-info");
            assert_eq!(
                record,
                [
                    "bin/tool",
                    "demo_pkg-1.0.dist-info/INSTALLER",
                    "demo_pkg-1.0.dist-info/METADATA",
                    "demo_pkg-1.0.dist-info/RECORD",
                    "demo_pkg-1.0.dist-info/WHEEL",
                    "demo_pkg/__init__.py",
                ],
                "{mode}, manifest {with_manifest}"
            );
            assert_eq!(
                record.iter().cloned().collect::<BTreeSet<_>>(),
                files_set(&target)
            );
            assert_eq!(
                python_in(&target, "import demo_pkg; print(demo_pkg.VALUE)").stdout,
                b"1\n"
            );
        }
    }
}

#[test]
fn pip_installs_the_same_files_from_a_wheel_whose_record_lists_missing_ones() {
    let work = Workspace::new();
    let builder = WheelBuilder::new("demo-pkg", "1.0").file("demo_pkg/__init__.py", "VALUE = 1\n");
    let missing = "demo_pkg/missing.py";
    let wheel = WheelFile::with_record_rows(&work, &builder, &[&format!("{missing},,")]);
    let (ours, pips) = (work.target("cairn"), work.target("pip"));
    let direct_url = wheel.direct_url();
    installer(&ours, LinkMode::Copy)
        .install(&[InstallRequest {
            direct_url: Some(&direct_url),
            requested: true,
            ..wheel.request(true)
        }])
        .unwrap();
    pip_install(&wheel.path, &pips);

    assert_eq!(files_set(&ours), files_set(&pips));
    // pip copies the wheel's row for the file it could not install; cairn's RECORD lists what
    // is there.
    let mut pip_rows = record_rows(&pips, "demo_pkg-1.0.dist-info");
    assert!(pip_rows.remove(missing).is_some(), "{pip_rows:?}");
    let ours_rows = record_rows(&ours, "demo_pkg-1.0.dist-info");
    assert_eq!(
        ours_rows.keys().collect::<Vec<_>>(),
        pip_rows.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_file_the_manifest_lists_is_still_cache_damage_when_record_lists_a_missing_one() {
    let work = Workspace::new();
    let builder = WheelBuilder::new("demo-pkg", "1.0")
        .file("demo_pkg/__init__.py", "VALUE = 1\n")
        .file("demo_pkg/mod.py", "X = 2\n");
    let wheel = WheelFile::with_record_rows(&work, &builder, &["demo_pkg/missing.py,,"]);
    std::fs::remove_file(wheel.archive.join("demo_pkg/mod.py")).unwrap();
    for mode in MODES {
        let target = work.target(&format!("site-{mode}"));
        let error = installer(&target, mode)
            .install(&[wheel.request(true)])
            .unwrap_err();
        assert!(
            matches!(error, InstallError::MissingFile { ref entry, .. } if entry == "demo_pkg/mod.py"),
            "{mode}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("damaged"), "{message}");
        assert!(
            message.contains("demo_pkg-1.0-py3-none-any.whl"),
            "{message}"
        );
        assert!(snapshot(&target).is_empty(), "{mode}");
    }
}

#[test]
fn direct_url_and_requested_are_written_recorded_and_replaced() {
    let work = Workspace::new();
    let builder = WheelBuilder::new("demo-pkg", "1.0").file("demo_pkg/__init__.py", "VALUE = 1\n");
    let wheel = WheelFile::build(&work, &builder);
    let dist_info = "demo_pkg-1.0.dist-info";
    let sha256 = wheel.sha256();
    let direct_url = wheel.direct_url();
    for mode in MODES {
        let target = work.target(&format!("site-{mode}"));
        installer(&target, mode)
            .install(&[InstallRequest {
                direct_url: Some(&direct_url),
                requested: true,
                ..wheel.request(true)
            }])
            .unwrap();

        let json = read(target.join(dist_info).join("direct_url.json"));
        let url = format!("file://{}", wheel.path.display());
        assert_eq!(
            json,
            format!(
                "{{\"archive_info\": {{\"hash\": \"sha256={sha256}\", \"hashes\": {{\"sha256\": \
                 \"{sha256}\"}}}}, \"url\": \"{url}\"}}"
            )
        );
        // PEP 610 as Python reads it.
        let code = format!(
            "import json; d = json.load(open('{dist_info}/direct_url.json')); \
             assert set(d) == {{'url', 'archive_info'}}, d; \
             assert d['archive_info']['hashes'] == {{'sha256': '{sha256}'}}, d; \
             assert d['archive_info']['hash'] == 'sha256={sha256}', d; \
             print(d['url'])"
        );
        let output = Command::new(python())
            .current_dir(&target)
            .args(["-c", &code])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            format!("{url}\n")
        );
        // pip reads it back: `pip freeze` names the wheel by its URL and hash, not by a version
        // pin.
        let freeze = Command::new(python())
            .args([
                "-m",
                "pip",
                "freeze",
                "--disable-pip-version-check",
                "--path",
            ])
            .arg(&target)
            .env("PIP_CONFIG_FILE", "/dev/null")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&freeze.stdout),
            format!("demo-pkg @ {url}#sha256={sha256}\n"),
            "{freeze:?}"
        );
        assert_eq!(read(target.join(dist_info).join("REQUESTED")), "");
        assert_eq!(read(target.join(dist_info).join("INSTALLER")), "cairn\n");
        let record = checked_record(&target, dist_info);
        for name in ["direct_url.json", "REQUESTED", "INSTALLER"] {
            assert!(
                record.contains(&format!("{dist_info}/{name}")),
                "{mode}: {record:?}"
            );
        }

        // Reinstalled as from an index, for a dependency: the old version's files are replaced.
        installer(&target, mode)
            .install(&[wheel.request(true)])
            .unwrap();
        for name in ["direct_url.json", "REQUESTED"] {
            assert!(
                !target.join(dist_info).join(name).exists(),
                "{mode}: {name}"
            );
        }
        let record = checked_record(&target, dist_info);
        assert!(
            !record.iter().any(|path| path.ends_with("direct_url.json")),
            "{record:?}"
        );
        assert!(target.join(dist_info).join("INSTALLER").is_file());
    }
}

#[test]
fn a_wheel_shipping_direct_url_or_requested_keeps_them_only_when_cairn_writes_none() {
    let work = Workspace::new();
    let builder = WheelBuilder::new("demo-pkg", "1.0")
        .file("demo_pkg/__init__.py", "VALUE = 1\n")
        .dist_info("direct_url.json", "{\"url\": \"https://shipped.example/\"}")
        .dist_info("REQUESTED", "shipped\n");
    let wheel = WheelFile::build(&work, &builder);
    let dist_info = "demo_pkg-1.0.dist-info";

    let shipped = work.target("shipped");
    installer(&shipped, LinkMode::Copy)
        .install(&[wheel.request(true)])
        .unwrap();
    assert!(read(shipped.join(dist_info).join("direct_url.json")).contains("shipped.example"));
    assert_eq!(read(shipped.join(dist_info).join("REQUESTED")), "shipped\n");
    checked_record(&shipped, dist_info);

    let direct_url = DirectUrl::new("https://files.example/demo_pkg-1.0-py3-none-any.whl");
    let ours = work.target("ours");
    installer(&ours, LinkMode::Copy)
        .install(&[InstallRequest {
            direct_url: Some(&direct_url),
            requested: true,
            ..wheel.request(false)
        }])
        .unwrap();
    assert_eq!(
        read(ours.join(dist_info).join("direct_url.json")),
        "{\"archive_info\": {}, \"url\": \"https://files.example/demo_pkg-1.0-py3-none-any.whl\"}"
    );
    assert_eq!(read(ours.join(dist_info).join("REQUESTED")), "");
    checked_record(&ours, dist_info);
}

#[test]
fn a_path_install_writes_the_direct_url_and_record_pip_writes() {
    let work = Workspace::new();
    let builder = WheelBuilder::new("demo-app", "2.0")
        .file("demo_app/__init__.py", "def main():\n    return 0\n")
        .file("demo_app/data/table.txt", "1 2 3\n")
        .entry_points("[console_scripts]\ndemo-app = demo_app:main\n")
        .data("scripts", "helper", "#!python\nprint('helper')\n")
        .data("scripts", "run.sh", "#!/bin/sh\necho run\n")
        .data("data", "share/demo/readme.txt", "shared\n");
    let wheel = WheelFile::build(&work, &builder);
    let dist_info = "demo_app-2.0.dist-info";
    let (ours, pips) = (work.target("cairn"), work.target("pip"));
    let direct_url = wheel.direct_url();
    installer(&ours, LinkMode::Copy)
        .install(&[InstallRequest {
            direct_url: Some(&direct_url),
            requested: true,
            ..wheel.request(true)
        }])
        .unwrap();
    pip_install(&wheel.path, &pips);

    // Byte for byte the file pip writes, and the same (empty) REQUESTED.
    for name in ["direct_url.json", "REQUESTED"] {
        assert_eq!(
            read(ours.join(dist_info).join(name)),
            read(pips.join(dist_info).join(name)),
            "{name}"
        );
    }
    assert_eq!(files_set(&ours), files_set(&pips));

    // The same RECORD rows; hashes differ only for what each installer generates: its
    // INSTALLER, the launchers and the scripts whose `#!python` it rewrote.
    let ours_rows = record_rows(&ours, dist_info);
    let pip_rows = record_rows(&pips, dist_info);
    assert_eq!(
        ours_rows.keys().collect::<Vec<_>>(),
        pip_rows.keys().collect::<Vec<_>>()
    );
    let generated = [
        format!("{dist_info}/INSTALLER"),
        "bin/demo-app".to_owned(),
        "bin/helper".to_owned(),
    ];
    for (path, fields) in &ours_rows {
        if !generated.contains(path) {
            assert_eq!(Some(fields), pip_rows.get(path), "{path}");
        }
    }
    assert_eq!(
        ours_rows[&format!("{dist_info}/REQUESTED")],
        (
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU".to_owned(),
            "0".to_owned()
        )
    );
}
