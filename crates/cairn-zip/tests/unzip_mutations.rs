//! Valid archives damaged at random (bits flipped, fields overwritten with edge values, bytes
//! cut, repeated or removed), then extracted by both extractors. A damaged archive may be
//! refused, but neither extractor may panic, hang or write outside `dest`; when both accept it
//! they write the same tree, and when one accepts it the other does too (unless the stream
//! extractor asks for a file, which is its documented way out).
//!
//! The damage is drawn from a fixed seed, so a failure names the round that reproduces it; set
//! `CAIRN_MUTATION_ROUNDS` to run more rounds than the default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::random::Random;
use cairn_test_support::zipgen::{Entry, MODE_EXECUTABLE, Workspace, ZipBuilder, read_tree};
use cairn_zip::{ExtractReport, Limits, UnzipError};

/// Rounds run by default: a few seconds in a debug build.
const DEFAULT_ROUNDS: usize = 1500;

/// Archives with every kind of record the extractors read: directories, deflated and stored
/// files, an executable, a data descriptor, Zip64 fields, an archive comment; and the smallest
/// real wheel of the corpus (tomli, fetched by `cairn_test_support::pypi::corpus`).
fn originals() -> Vec<Vec<u8>> {
    let noise = cairn_test_support::noise::noise(3000, 7);
    let plain = ZipBuilder::new()
        .dir("pkg/")
        .file("pkg/__init__.py", "x = 1\n")
        .file("pkg/mod.py", "def f():\n    return 1\n".repeat(200))
        .entry(Entry::stored("pkg/data.bin", &noise))
        .entry(Entry::file("pkg/bin/tool", "#!/bin/sh\necho hi\n").mode(MODE_EXECUTABLE))
        .file("pkg-1.0.dist-info/RECORD", "pkg/__init__.py,,\n")
        .build();
    let mut unusual = ZipBuilder::new()
        .entry(Entry::file("a/b.py", "print(1)\n".repeat(100)).descriptor(true))
        .entry(Entry::file("a/c.txt", "c").descriptor(false))
        .entry(Entry::file("a/d.txt", "d".repeat(500)).zip64())
        .entry(Entry::stored("a/e.bin", &noise[..100]).zip64());
    unusual.comment = b"a comment".to_vec();
    let mut originals = vec![plain, unusual.build()];
    for tomli in cairn_test_support::pypi::corpus(&["tomli-"]) {
        originals.push(std::fs::read(tomli).unwrap());
    }
    originals
}

/// Values that sit on the edges of the fields they land in.
const EDGES: [u64; 8] = [0, 1, 0x7f, 0xff, 0xffff, 0xffff_ffff, 0x8000_0000, 0x1_0000];

/// One to three pieces of damage.
fn damage(original: &[u8], rng: &mut Random) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..1 + rng.below(3) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len());
        match rng.below(6) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes[at] = u8::try_from(rng.below(256)).unwrap(),
            2 => {
                let value = EDGES[rng.below(EDGES.len())].to_le_bytes();
                let width = [2, 4, 8][rng.below(3)];
                for (offset, byte) in value.iter().take(width).enumerate() {
                    if let Some(slot) = bytes.get_mut(at + offset) {
                        *slot = *byte;
                    }
                }
            }
            3 => bytes.truncate(at),
            4 => {
                let end = (at + 1 + rng.below(64)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let to = rng.below(bytes.len());
                bytes.splice(to..to, copy);
            }
            _ => {
                let end = (at + 1 + rng.below(64)).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

/// Extracts `bytes` with both extractors and checks what the module doc promises; says whether
/// the archive was refused.
fn check(bytes: &[u8], round: usize) -> bool {
    let limits = Limits::default();
    let file = Workspace::new(bytes);
    let from_file = file.extract_file(&limits);
    file.assert_nothing_outside_dest();
    let stream = Workspace::new(bytes);
    let from_stream = stream.extract_stream(&limits);
    stream.assert_nothing_outside_dest();
    let describe = |result: &Result<ExtractReport, UnzipError>| match result {
        Ok(report) => format!("accepted ({} files)", report.files),
        Err(error) => format!("refused: {error}"),
    };
    match (&from_file, &from_stream) {
        (Ok(file_report), Ok(stream_report)) => {
            assert_eq!(
                file_report, stream_report,
                "round {round}: the reports differ"
            );
            assert_eq!(
                read_tree(&file.dest()),
                read_tree(&stream.dest()),
                "round {round}: the trees differ"
            );
            false
        }
        (Ok(_), Err(error)) if error.is_streaming_unsupported() => false,
        (Err(_), Err(_)) => true,
        _ => panic!(
            "round {round}: the extractors disagree: file {}, stream {}",
            describe(&from_file),
            describe(&from_stream)
        ),
    }
}

#[test]
fn damaged_archives_are_refused_or_extracted_alike() {
    let rounds = std::env::var("CAIRN_MUTATION_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let originals = originals();
    for original in &originals {
        assert!(
            !check(original, usize::MAX),
            "an undamaged archive was refused"
        );
    }
    let mut rng = Random::new(0x9e37_79b9_7f4a_7c15);
    let mut refused = 0;
    for round in 0..rounds {
        let mutant = damage(&originals[round % originals.len()], &mut rng);
        if check(&mutant, round) {
            refused += 1;
        }
    }
    // Most damage must be caught, or the checks above compared undamaged archives.
    assert!(
        refused * 2 > rounds,
        "only {refused} of {rounds} damaged archives were refused"
    );
}
