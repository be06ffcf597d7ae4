//! The core metadata of the real corpus wheels (`scripts/fetch-corpus.sh`), read as Python's
//! `email` parser reads it, and from the wheels' unpacked `.dist-info` directories. Skipped
//! when the corpus (or python3) is absent.
//!
//! The wheels are the test corpus of `cairn_test_support::pypi` (downloaded and verified on
//! first use; skipped only under `CAIRN_OFFLINE_TESTS`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use cairn_python::metadata::{
    CoreMetadata, ExtraName, PackageName, Requirement, VersionSpecifiers, read_dist_info_metadata,
};
use cairn_types::WheelFilename;

fn corpus_wheels() -> Vec<PathBuf> {
    cairn_test_support::pypi::corpus(&["tomli-", "black-", "numpy-", "scipy-"])
}

/// The `.dist-info` entries of `wheel`, extracted under `into`; returns the METADATA bytes.
fn extract_dist_info(wheel: &Path, into: &Path) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut metadata = None;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let name = entry.name().unwrap().into_owned();
        let Some((top, _)) = name.split_once('/') else {
            continue;
        };
        if !top.ends_with(".dist-info") || entry.is_dir() {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let path = into.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        if name == format!("{top}/METADATA") {
            metadata = Some(bytes);
        }
    }
    metadata.expect("the wheel has a METADATA")
}

/// What Python's `email` parser reads: one value per line, `name`, `version`, `python`, then
/// `dist:` and `extra:` lines.
const PYTHON_READER: &str = r#"
import email.parser, sys
message = email.parser.BytesParser().parsebytes(sys.stdin.buffer.read(), headersonly=True)
print("name", message["Name"])
print("version", message["Version"])
print("python", message.get("Requires-Python", ""))
for value in message.get_all("Requires-Dist") or []:
    print("dist", " ".join(value.split()))
for value in message.get_all("Provides-Extra") or []:
    print("extra", value)
"#;

fn python_reads(metadata: &[u8]) -> Option<String> {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", PYTHON_READER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(metadata).unwrap();
    let output = child.wait_with_output().unwrap();
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).unwrap())
}

#[test]
fn corpus_metadata_reads_as_python_reads_it() {
    let wheels = corpus_wheels();
    if wheels.is_empty() {
        println!("skipped: no corpus wheels");
        return;
    }
    for wheel in wheels {
        let filename: WheelFilename = wheel
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let unpacked = tempfile::tempdir().unwrap();
        let bytes = extract_dist_info(&wheel, unpacked.path());
        let parsed = CoreMetadata::parse(&bytes).unwrap();

        // The same answer from the unpacked tree.
        let from_tree = read_dist_info_metadata(unpacked.path(), &filename).unwrap();
        assert_eq!(from_tree, parsed);
        assert_eq!(parsed.name, filename.normalized_name());

        let Some(python) = python_reads(&bytes) else {
            println!("skipped the comparison: python3 is not available");
            continue;
        };
        let mut requires_dist = Vec::new();
        let mut provides_extra: Vec<ExtraName> = Vec::new();
        for line in python.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "name" => assert_eq!(parsed.name, PackageName::new(value)),
                "version" => assert_eq!(parsed.version.to_string(), value),
                "python" => assert_eq!(
                    parsed.requires_python,
                    (!value.is_empty()).then(|| VersionSpecifiers::from_str(value).unwrap())
                ),
                "dist" => requires_dist.push(Requirement::from_str(value).unwrap()),
                "extra" => provides_extra.push(value.parse().unwrap()),
                _ => panic!("unexpected line {line}"),
            }
        }
        assert_eq!(parsed.requires_dist, requires_dist, "{}", wheel.display());
        assert_eq!(parsed.provides_extra, provides_extra, "{}", wheel.display());
        println!(
            "{}: {} requirements, {} extras",
            filename.name,
            requires_dist.len(),
            provides_extra.len()
        );
    }
}
