//! Real wheels from the shared corpus (numpy, torch) installed into temporary targets in
//! hardlink and copy mode, with timings. Ignored by default: it needs the corpus and should
//! run as a release build:
//!
//! `cargo test --release -p cairn-install --test install_corpus -- --ignored --nocapture`
//!
//! The corpus directory is `$CAIRN_WHEEL_CORPUS`, else `corpus/` at the repository root, as
//! `scripts/fetch-corpus.sh` fills it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod install_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_fs::LinkMode;
use cairn_install::InstallRequest;
use cairn_types::WheelFilename;
use cairn_zip::{self as unzip, Limits};
use install_support::{checked_record, files, installer, python_in};

fn corpus_wheel(prefix: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CAIRN_WHEEL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus"));
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".whl")
        })
        .collect();
    wheels.sort();
    wheels.pop()
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Times `runs` installs of `archive` into fresh targets, then one reinstall over the last.
fn time_installs(work: &Path, archive: &Path, filename: &WheelFilename, mode: LinkMode) -> PathBuf {
    let request = InstallRequest {
        archive,
        filename,
        manifest: None,
        direct_url: None,
        requested: false,
    };
    let mut fresh = Vec::new();
    let mut target = PathBuf::new();
    for run in 0..3 {
        target = work.join(format!("target-{mode}-{run}"));
        let installer = installer(&target, mode);
        let start = Instant::now();
        let report = installer.install(&[request]).unwrap();
        fresh.push(start.elapsed());
        let wheel = &report.wheels[0];
        assert_eq!(wheel.mode, mode);
        if run == 0 {
            println!(
                "  {mode}: {} files linked, {} written",
                wheel.files_linked, wheel.files_written
            );
        }
    }
    let start = Instant::now();
    let report = installer(&target, mode).install(&[request]).unwrap();
    let reinstall = start.elapsed();
    assert!(report.wheels[0].replaced.is_some());
    fresh.sort();
    println!(
        "  {mode}: fresh install {} (min) / {} (median) / {} (max); reinstall over itself {}",
        millis(fresh[0]),
        millis(fresh[1]),
        millis(fresh[2]),
        millis(reinstall)
    );
    target
}

#[test]
#[ignore = "needs the wheel corpus; run with --release --ignored --nocapture for timings"]
fn corpus_wheels_install_quickly_and_correctly() {
    for prefix in ["numpy-", "torch-"] {
        let Some(wheel) = corpus_wheel(prefix) else {
            println!("{prefix}: not in the corpus, skipped");
            continue;
        };
        let work = tempfile::tempdir().unwrap();
        let archive = work.path().join("archive");
        std::fs::create_dir(&archive).unwrap();
        let start = Instant::now();
        unzip::extract_file(&wheel, &archive, &Limits::default()).unwrap();
        let filename: WheelFilename = wheel
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        println!("{filename}: unpacked in {}", millis(start.elapsed()));

        for mode in [LinkMode::Hardlink, LinkMode::Copy] {
            for run in 0..2 {
                let bare = work.path().join(format!("bare-{mode}-{run}"));
                let start = Instant::now();
                cairn_fs::link_tree(&archive, &bare, mode).unwrap();
                println!(
                    "  {mode}: cairn_fs::link_tree alone {}",
                    millis(start.elapsed())
                );
            }
            let target = time_installs(work.path(), &archive, &filename, mode);
            let dist_info = format!("{}-{}.dist-info", filename.name, filename.version);
            let record = std::fs::read_to_string(target.join(&dist_info).join("RECORD")).unwrap();
            let mut listed: Vec<String> = record
                .lines()
                .map(|line| line.split(',').next().unwrap().to_owned())
                .collect();
            listed.sort();
            assert_eq!(listed, files(&target));
            if prefix == "numpy-" {
                checked_record(&target, &dist_info);
                let output = python_in(&target, "import numpy; print(numpy.arange(4).sum())");
                assert_eq!(String::from_utf8_lossy(&output.stdout), "6\n", "{output:?}");
            }
        }
    }
}
