//! One test per validation rule: each hostile archive is refused by both extractors, with an
//! error naming the archive (and the entry), and nothing is written outside the destination.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::zipgen;
use cairn_test_support::zipgen::{
    DEFLATED, Entry, Extractor, MODE_DIR, MODE_FIFO, MODE_SYMLINK, ZipBuilder, assert_rejected,
    assert_rejected_with, push_extra,
};
use cairn_zip::{ArchiveProblem, EntryProblem, LimitProblem, Limits, UnzipError};

/// A valid archive with one more entry.
fn with(entry: Entry) -> Vec<u8> {
    ZipBuilder::new()
        .file("pkg/__init__.py", "print('hello')\n")
        .entry(entry)
        .build()
}

/// Asserts both extractors reject `bytes` because of `problem` in entry `entry`.
fn assert_entry_rejected(bytes: &[u8], entry: &str, problem: EntryProblem) {
    assert_rejected(bytes, |error| match error {
        UnzipError::Entry {
            entry: e,
            problem: p,
            ..
        } => e == entry && *p == problem,
        _ => false,
    });
}

fn is_malformed(error: &UnzipError, accept: impl Fn(&ArchiveProblem) -> bool) -> bool {
    matches!(error, UnzipError::Malformed { problem, .. } if accept(problem))
}

// ---- names ----------------------------------------------------------------------------------

#[test]
fn empty_name_is_rejected() {
    assert_entry_rejected(&with(Entry::file("", "x")), "", EntryProblem::EmptyName);
}

#[test]
fn absolute_name_is_rejected() {
    let bytes = with(Entry::file("/tmp/evil", "x"));
    assert_entry_rejected(&bytes, "/tmp/evil", EntryProblem::AbsolutePath);
}

#[test]
fn parent_dir_component_is_rejected() {
    let bytes = with(Entry::file("pkg/../../evil", "x"));
    assert_entry_rejected(&bytes, "pkg/../../evil", EntryProblem::ParentDirComponent);
    let bytes = with(Entry::dir("pkg/../"));
    assert_entry_rejected(&bytes, "pkg/../", EntryProblem::ParentDirComponent);
}

#[test]
fn current_dir_component_is_rejected() {
    let bytes = with(Entry::file("pkg/./x.py", "x"));
    assert_entry_rejected(&bytes, "pkg/./x.py", EntryProblem::CurrentDirComponent);
}

#[test]
fn empty_component_is_rejected() {
    let bytes = with(Entry::file("pkg//x.py", "x"));
    assert_entry_rejected(&bytes, "pkg//x.py", EntryProblem::EmptyComponent);
    let bytes = with(Entry::dir("pkg//"));
    assert_entry_rejected(&bytes, "pkg//", EntryProblem::EmptyComponent);
}

#[test]
fn drive_prefix_is_rejected() {
    let bytes = with(Entry::file("C:/evil", "x"));
    assert_entry_rejected(&bytes, "C:/evil", EntryProblem::DrivePrefix);
    let bytes = with(Entry::file("c:evil", "x"));
    assert_entry_rejected(&bytes, "c:evil", EntryProblem::DrivePrefix);
}

#[test]
fn backslash_is_rejected() {
    let bytes = with(Entry::file("pkg\\..\\evil", "x"));
    assert_entry_rejected(&bytes, "pkg\\..\\evil", EntryProblem::Backslash);
}

#[test]
fn nul_in_name_is_rejected() {
    let bytes = with(Entry::file("pkg/a\0.py", "x"));
    assert_entry_rejected(
        &bytes,
        "pkg/a\0.py",
        EntryProblem::ControlCharacter { character: '\0' },
    );
}

#[test]
fn control_character_in_name_is_rejected() {
    let bytes = with(Entry::file("pkg/a\n.py", "x"));
    assert_entry_rejected(
        &bytes,
        "pkg/a\n.py",
        EntryProblem::ControlCharacter { character: '\n' },
    );
    let bytes = with(Entry::file("pkg/a\u{9b}.py", "x"));
    assert_entry_rejected(
        &bytes,
        "pkg/a\u{9b}.py",
        EntryProblem::ControlCharacter {
            character: '\u{9b}',
        },
    );
}

#[test]
fn non_utf8_name_is_rejected() {
    let bytes = with(Entry::file(b"pkg/caf\xe9.py", "x"));
    assert_entry_rejected(&bytes, "pkg/caf\u{fffd}.py", EntryProblem::NonUtf8Name);
}

#[test]
fn conflicting_unicode_path_extra_field_is_rejected() {
    let mut field = vec![1];
    field.extend(crc32fast::hash(b"pkg/a.py").to_le_bytes());
    field.extend(b"../evil.py");
    let mut extra = Vec::new();
    push_extra(&mut extra, 0x7075, &field);
    let bytes = with(
        Entry::file("pkg/a.py", "x")
            .local_extra(&extra)
            .central_extra(&extra),
    );
    assert_entry_rejected(&bytes, "pkg/a.py", EntryProblem::ConflictingUnicodePath);
}

// ---- entry kinds ----------------------------------------------------------------------------

#[test]
fn symlink_entry_is_rejected() {
    let bytes = with(Entry::stored("pkg/link", "/etc/passwd").mode(MODE_SYMLINK));
    assert_entry_rejected(&bytes, "pkg/link", EntryProblem::Symlink);
}

#[test]
fn special_file_entry_is_rejected() {
    for mode in [MODE_FIFO, 0o020_644, 0o060_644, 0o140_644] {
        let bytes = with(Entry::stored("pkg/special", "").mode(mode));
        assert_entry_rejected(&bytes, "pkg/special", EntryProblem::SpecialFile { mode });
    }
}

#[test]
fn directory_mode_on_a_file_name_is_rejected() {
    let bytes = with(Entry::stored("pkg/data", "").mode(MODE_DIR));
    assert_entry_rejected(
        &bytes,
        "pkg/data",
        EntryProblem::KindMismatch { mode: MODE_DIR },
    );
}

#[test]
fn directory_with_data_is_rejected() {
    let bytes = with(Entry::stored("pkg/sub/", "hidden").mode(MODE_DIR));
    assert_entry_rejected(&bytes, "pkg/sub/", EntryProblem::DirectoryWithData);
    let bytes = with(Entry::file("pkg/sub/", "hidden").mode(MODE_DIR));
    assert_entry_rejected(&bytes, "pkg/sub/", EntryProblem::DirectoryWithData);
}

// ---- duplicates -----------------------------------------------------------------------------

#[test]
fn duplicate_file_names_are_rejected() {
    let bytes = with(Entry::file("pkg/__init__.py", "evil"));
    assert_entry_rejected(&bytes, "pkg/__init__.py", EntryProblem::Duplicate);
}

#[test]
fn duplicate_directory_entries_are_rejected() {
    let bytes = ZipBuilder::new().dir("pkg/").dir("pkg/").build();
    assert_entry_rejected(&bytes, "pkg/", EntryProblem::Duplicate);
}

#[test]
fn file_and_directory_with_the_same_path_are_rejected() {
    let bytes = with(Entry::dir("pkg/__init__.py/"));
    assert_entry_rejected(
        &bytes,
        "pkg/__init__.py/",
        EntryProblem::FileDirectoryConflict,
    );
    // The directory may also be implied by a deeper entry.
    let bytes = ZipBuilder::new()
        .file("pkg/a/b.py", "x")
        .file("pkg/a", "x")
        .build();
    assert_entry_rejected(&bytes, "pkg/a", EntryProblem::FileDirectoryConflict);
}

#[test]
fn file_used_as_parent_directory_is_rejected() {
    let bytes = with(Entry::file("pkg/__init__.py/evil.py", "x"));
    assert_entry_rejected(
        &bytes,
        "pkg/__init__.py/evil.py",
        EntryProblem::ParentIsFile {
            parent: "pkg/__init__.py".into(),
        },
    );
}

// ---- names that collide on macOS and Windows ------------------------------------------------

fn assert_collision(bytes: &[u8], entry: &str, other: &str) {
    assert_entry_rejected(
        bytes,
        entry,
        EntryProblem::NameCollision {
            other: other.into(),
        },
    );
}

#[test]
fn names_differing_only_by_case_are_rejected() {
    let bytes = with(Entry::file("pkg/__INIT__.py", "evil"));
    assert_collision(&bytes, "pkg/__INIT__.py", "pkg/__init__.py");
    // A directory implied by one entry and spelled differently by another.
    let bytes = with(Entry::file("Pkg/evil.py", "x"));
    assert_collision(&bytes, "Pkg/evil.py", "pkg");
    // An explicit directory against a file, and the reverse order.
    let bytes = with(Entry::dir("pkg/__Init__.py/"));
    assert_collision(&bytes, "pkg/__Init__.py/", "pkg/__init__.py");
    let bytes = ZipBuilder::new()
        .dir("pkg/Data/")
        .file("pkg/data", "x")
        .build();
    assert_collision(&bytes, "pkg/data", "pkg/Data");
    // Non-ASCII letters fold too.
    let bytes = ZipBuilder::new()
        .file("pkg/\u{c9}t\u{e9}.py", "x")
        .file("pkg/\u{e9}T\u{c9}.py", "y")
        .build();
    assert_collision(&bytes, "pkg/\u{e9}T\u{c9}.py", "pkg/\u{c9}t\u{e9}.py");
}

#[test]
fn names_differing_only_by_unicode_normalisation_are_rejected() {
    // NFC (precomposed U+00E9) first, then NFD (e + U+0301), and the reverse.
    let nfc = "pkg/caf\u{e9}.py";
    let nfd = "pkg/cafe\u{301}.py";
    for (first, second) in [(nfc, nfd), (nfd, nfc)] {
        let bytes = ZipBuilder::new()
            .entry(Entry::file(first, "a").flags(1 << 11))
            .entry(Entry::file(second, "b").flags(1 << 11))
            .build();
        assert_collision(&bytes, second, first);
    }
    // In a parent directory, and with case and normalisation mixed.
    let bytes = ZipBuilder::new()
        .file("r\u{e9}sum\u{e9}/a.py", "a")
        .file("RE\u{301}sume\u{301}/b.py", "b")
        .build();
    assert_collision(&bytes, "RE\u{301}sume\u{301}/b.py", "r\u{e9}sum\u{e9}");
}

#[test]
fn names_that_stay_distinct_are_accepted() {
    // `ß` and `ss` are different names on both systems; so are distinct accented letters, and a
    // name in NFD alone is fine.
    let bytes = ZipBuilder::new()
        .file("pkg/stra\u{df}e.py", "a")
        .file("pkg/strasse.py", "b")
        .file("pkg/caf\u{e9}.py", "c")
        .file("pkg/caf\u{e8}.py", "d")
        .file("pkg/nai\u{308}ve.py", "e")
        .file("pkg/Mixed/Case.py", "f")
        .file("pkg/Mixed/Other.py", "g")
        .build();
    let (report, tree) = zipgen::assert_extracts(&bytes);
    assert_eq!(report.files, 7);
    assert!(tree.contains_key("pkg/nai\u{308}ve.py"));
    assert!(tree.contains_key("pkg/Mixed/Case.py"));
}

// ---- local header against central directory -------------------------------------------------

#[test]
fn local_name_differing_from_central_is_rejected() {
    let bytes = with(Entry::file("pkg/a.py", "x").local(|l| l.name = Some(b"pkg/b.py".to_vec())));
    assert_entry_rejected(
        &bytes,
        "pkg/a.py",
        EntryProblem::NameMismatch {
            local: "pkg/b.py".into(),
        },
    );
}

fn assert_header_mismatch(bytes: &[u8], field: &str) {
    assert_rejected(bytes, |error| {
        matches!(error, UnzipError::Entry {
            problem: EntryProblem::HeaderMismatch { field: f, .. }, ..
        } if *f == field)
    });
}

#[test]
fn local_compressed_size_differing_from_central_is_rejected() {
    let entry = Entry::stored("pkg/a.py", "0123456789");
    // The central directory claims 4 bytes: the other 6 would be hidden.
    let bytes = with(entry.clone().central(|c| c.compressed_size = Some(4)));
    assert_rejected(&bytes, |error| {
        matches!(
            error,
            UnzipError::Entry {
                problem: EntryProblem::HeaderMismatch { .. },
                ..
            } | UnzipError::Malformed {
                problem: ArchiveProblem::HiddenBytes { .. },
                ..
            }
        )
    });
    let data = "compressible ".repeat(100);
    let deflated = Entry::file("pkg/b.py", &data);
    let real = deflated.compressed().len() as u64;
    let bytes = with(deflated.central(|c| c.compressed_size = Some(real + 1)));
    assert_rejected(&bytes, |error| {
        matches!(
            error,
            UnzipError::Entry {
                problem: EntryProblem::HeaderMismatch { .. }
                    | EntryProblem::CompressedSizeMismatch { .. },
                ..
            } | UnzipError::Malformed {
                problem: ArchiveProblem::OverlappingEntries { .. },
                ..
            }
        )
    });
}

#[test]
fn local_uncompressed_size_differing_from_central_is_rejected() {
    let bytes =
        with(Entry::file("pkg/a.py", "0123456789").central(|c| c.uncompressed_size = Some(9)));
    assert_header_mismatch(&bytes, "the uncompressed size");
}

#[test]
fn local_crc_differing_from_central_is_rejected() {
    let bytes = with(Entry::file("pkg/a.py", "0123456789").central(|c| c.crc32 = Some(7)));
    assert_header_mismatch(&bytes, "the CRC-32");
}

#[test]
fn local_method_differing_from_central_is_rejected() {
    let bytes =
        with(Entry::stored("pkg/a.py", "0123456789").central(|c| c.method = Some(DEFLATED)));
    assert_header_mismatch(&bytes, "the compression method");
}

#[test]
fn local_flags_differing_from_central_is_rejected() {
    // The central directory says a data descriptor follows; the local header does not.
    let bytes = with(Entry::file("pkg/a.py", "0123456789").central(|c| c.flags = Some(1 << 3)));
    assert_header_mismatch(&bytes, "the flags");
}

#[test]
fn data_descriptor_differing_from_central_is_rejected() {
    let entry = Entry::file("pkg/a.py", "0123456789").descriptor(true);
    let bytes = with(
        entry
            .local(|l| l.crc32 = Some(7))
            .central(|c| c.crc32 = Some(7)),
    );
    // Both headers agree on a CRC the data does not have.
    assert_rejected(&bytes, |error| {
        matches!(
            error,
            UnzipError::Entry {
                problem: EntryProblem::CrcMismatch { .. },
                ..
            }
        )
    });
    let entry = Entry::file("pkg/a.py", "0123456789").descriptor(false);
    let bytes = with(entry.local(|l| l.uncompressed_size = Some(11)));
    assert_rejected(&bytes, |error| {
        matches!(
            error,
            UnzipError::Entry {
                problem: EntryProblem::HeaderMismatch { .. } | EntryProblem::SizeMismatch { .. },
                ..
            }
        )
    });
}

// ---- data -----------------------------------------------------------------------------------

#[test]
fn crc_error_in_data_is_rejected() {
    for entry in [
        Entry::file("pkg/a.py", "0123456789"),
        Entry::stored("pkg/a.py", "0123456789"),
    ] {
        let bytes = with(
            entry
                .local(|l| l.crc32 = Some(7))
                .central(|c| c.crc32 = Some(7)),
        );
        assert_entry_rejected(
            &bytes,
            "pkg/a.py",
            EntryProblem::CrcMismatch {
                expected: 7,
                actual: crc32fast::hash(b"0123456789"),
            },
        );
    }
}

#[test]
fn uncompressed_size_lie_is_rejected() {
    for declared in [5, 20] {
        let bytes = with(
            Entry::file("pkg/a.py", "0123456789")
                .local(|l| l.uncompressed_size = Some(declared))
                .central(|c| c.uncompressed_size = Some(declared)),
        );
        assert_rejected(&bytes, |error| {
            matches!(error, UnzipError::Entry {
                problem: EntryProblem::SizeMismatch { expected, .. }, ..
            } if *expected == declared)
        });
    }
}

#[test]
fn corrupt_deflate_data_is_rejected() {
    let bytes = with(Entry::file("pkg/a.py", "0123456789").raw([0xff; 12]));
    assert_rejected(&bytes, |error| {
        matches!(
            error,
            UnzipError::Entry {
                problem: EntryProblem::CorruptDeflate { .. },
                ..
            }
        )
    });
}

#[test]
fn bytes_hidden_after_the_deflate_stream_are_rejected() {
    let entry = Entry::file("pkg/a.py", "0123456789");
    let mut raw = entry.compressed();
    let real = raw.len() as u64;
    raw.extend(b"hidden");
    let bytes = with(entry.raw(raw));
    assert_entry_rejected(
        &bytes,
        "pkg/a.py",
        EntryProblem::CompressedSizeMismatch {
            expected: real + 6,
            actual: real,
        },
    );
}

#[test]
fn unsupported_compression_method_is_rejected() {
    for method in [1, 12, 14, 93] {
        let bytes = with(Entry::stored("pkg/a.py", "x").method(method));
        assert_entry_rejected(
            &bytes,
            "pkg/a.py",
            EntryProblem::UnsupportedMethod { method },
        );
    }
}

#[test]
fn encrypted_entry_is_rejected() {
    for flag in [1 << 0, 1 << 6, 1 << 13] {
        let bytes = with(Entry::stored("pkg/a.py", "x").flags(flag));
        assert_entry_rejected(&bytes, "pkg/a.py", EntryProblem::Encrypted);
    }
}

#[test]
fn unimplemented_flag_bits_are_rejected() {
    // Bit 4 enhanced deflating, 5 patched data, 12 enhanced compression, the rest unused or
    // reserved; each set in both headers, in the local header only, and in the central only.
    for bit in [4, 5, 7, 8, 9, 10, 12, 14, 15] {
        let bits = 1 << bit;
        for entry in [
            Entry::stored("pkg/a.py", "x").flags(bits),
            Entry::file("pkg/a.py", "x").local(|l| l.flags = Some(bits)),
            Entry::file("pkg/a.py", "x").central(|c| c.flags = Some(bits | (1 << 11))),
        ] {
            assert_entry_rejected(
                &with(entry),
                "pkg/a.py",
                EntryProblem::UnsupportedFlags { bits },
            );
        }
    }
    // Patched data alongside the bits real writers use.
    let bytes = with(
        Entry::file("pkg/a.py", "x")
            .flags((1 << 5) | (1 << 11) | (1 << 1))
            .descriptor(true),
    );
    assert_entry_rejected(
        &bytes,
        "pkg/a.py",
        EntryProblem::UnsupportedFlags { bits: 1 << 5 },
    );
    // Encryption flagged in the local header only is caught too.
    let bytes = with(Entry::file("pkg/a.py", "x").local(|l| l.flags = Some(1 << 6)));
    assert_entry_rejected(&bytes, "pkg/a.py", EntryProblem::Encrypted);
}

#[test]
fn implemented_flag_bits_are_accepted() {
    // Bits 1-2 (deflate level hints), 3 (data descriptor) and 11 (UTF-8 names).
    let bytes = ZipBuilder::new()
        .entry(Entry::file("pkg/a.py", "a").flags(1 << 1))
        .entry(Entry::file("pkg/b.py", "b").flags(1 << 2))
        .entry(Entry::file("pkg/c.py", "c").flags(3 << 1))
        .entry(Entry::stored("pkg/d.py", "d").flags(3 << 1))
        .entry(Entry::file("pkg/\u{e9}.py", "e").flags(1 << 11))
        .entry(Entry::file("pkg/f.py", "f").flags(1 << 11).descriptor(true))
        .entry(Entry::file("pkg/g.py", "g").descriptor(false).zip64())
        .build();
    assert_eq!(zipgen::assert_extracts(&bytes).0.files, 7);
}

#[test]
fn version_needed_above_what_is_implemented_is_rejected() {
    // 4.6 bzip2, 5.1 AES, 6.2 masked headers, 6.3 LZMA; the high byte is ignored, the low one
    // is not.
    for version in [46u16, 51, 62, 63, 0xff, 0x032e] {
        let [expected, _] = version.to_le_bytes();
        for entry in [
            Entry::file("pkg/a.py", "x").version_needed(version),
            Entry::file("pkg/a.py", "x").local(|l| l.version_needed = Some(version)),
            Entry::stored("pkg/a.py", "x").central(|c| c.version_needed = Some(version)),
        ] {
            assert_entry_rejected(
                &with(entry),
                "pkg/a.py",
                EntryProblem::UnsupportedVersion { version: expected },
            );
        }
    }
}

#[test]
fn version_needed_that_is_implemented_is_accepted() {
    // 1.0 (the zip crate's stored entries), 2.0 (Python's zipfile), 4.5 (Zip64), 0 (some old
    // writers), and a host system in the high byte.
    let bytes = ZipBuilder::new()
        .entry(Entry::stored("pkg/a.py", "a").version_needed(10))
        .entry(Entry::file("pkg/b.py", "b").version_needed(20))
        .entry(Entry::file("pkg/c.py", "c").zip64())
        .entry(Entry::file("pkg/d.py", "d").version_needed(45))
        .entry(Entry::file("pkg/e.py", "e").version_needed(0))
        .entry(Entry::file("pkg/f.py", "f").version_needed(0x0314))
        .build();
    assert_eq!(zipgen::assert_extracts(&bytes).0.files, 6);
}

#[test]
fn missing_zip64_field_is_rejected() {
    let bytes = with(
        Entry::stored("pkg/a.py", "x")
            .local(|l| l.uncompressed_size = Some(u64::from(u32::MAX)))
            .central(|c| c.uncompressed_size = Some(u64::from(u32::MAX))),
    );
    assert_entry_rejected(&bytes, "pkg/a.py", EntryProblem::MissingZip64Field);
}

// ---- archive structure ----------------------------------------------------------------------

#[test]
fn truncated_archive_is_rejected() {
    let bytes = ZipBuilder::new()
        .file("pkg/__init__.py", "print('hello')\n".repeat(50))
        .file("pkg/data.txt", "data ".repeat(5000))
        .build();
    for cut in [
        0,
        3,
        29,
        40,
        100,
        bytes.len() / 2,
        bytes.len() - 23,
        bytes.len() - 1,
    ] {
        assert_rejected(&bytes[..cut], |error| {
            is_malformed(error, |problem| {
                matches!(
                    problem,
                    ArchiveProblem::Truncated { .. }
                        | ArchiveProblem::NoEndOfCentralDirectory { .. }
                )
            })
        });
    }
}

#[test]
fn bytes_before_the_first_local_header_are_rejected() {
    let mut builder = ZipBuilder::new().file("pkg/__init__.py", "x");
    builder.prefix = b"#!/bin/sh\nexec python -m pkg\n".to_vec();
    assert_rejected(&builder.build(), |error| {
        is_malformed(error, |problem| {
            matches!(
                problem,
                ArchiveProblem::HiddenBytes { offset: 0, .. }
                    | ArchiveProblem::UnexpectedRecord { offset: 0, .. }
            )
        })
    });
}

#[test]
fn bytes_between_entries_are_rejected() {
    let mut builder = ZipBuilder::new()
        .file("pkg/a.py", "a")
        .file("pkg/b.py", "b");
    builder.gaps.push((0, b"hidden".to_vec()));
    assert_rejected(&builder.build(), |error| {
        is_malformed(error, |problem| {
            matches!(
                problem,
                ArchiveProblem::HiddenBytes { len: 6, .. }
                    | ArchiveProblem::UnexpectedRecord { .. }
            )
        })
    });
}

#[test]
fn bytes_before_the_central_directory_are_rejected() {
    let mut builder = ZipBuilder::new().file("pkg/a.py", "a");
    builder.gaps.push((0, b"hidden".to_vec()));
    assert_rejected(&builder.build(), |error| {
        is_malformed(error, |problem| {
            matches!(
                problem,
                ArchiveProblem::HiddenBytes { len: 6, .. }
                    | ArchiveProblem::UnexpectedRecord { .. }
            )
        })
    });
}

#[test]
fn bytes_after_the_end_record_are_rejected() {
    let mut builder = ZipBuilder::new().file("pkg/a.py", "a");
    let valid_len = builder.build().len() as u64;
    builder.trailing = b"appended".to_vec();
    let bytes = builder.build();
    // The error says where: the bytes searched for an end record (the whole of this small
    // file), or where the appended bytes start.
    assert_rejected_with(&bytes, &Limits::default(), |extractor, error| {
        is_malformed(error, |problem| match extractor {
            Extractor::File => {
                *problem
                    == ArchiveProblem::NoEndOfCentralDirectory {
                        offset: 0,
                        len: bytes.len() as u64,
                    }
            }
            Extractor::Stream => *problem == ArchiveProblem::TrailingBytes { offset: valid_len },
        })
    });
}

#[test]
fn end_record_hidden_in_the_comment_is_rejected() {
    // A second, empty end record inside the comment ends the file too: tools that look for the
    // end record from the back would see an empty archive.
    let mut fake_end = vec![0x50, 0x4b, 0x05, 0x06];
    fake_end.extend([0; 18]);
    let mut builder = ZipBuilder::new().file("pkg/a.py", "a");
    builder.comment = fake_end;
    let bytes = builder.build();
    let offset = bytes.len() as u64 - 22;
    assert_rejected(&bytes, |error| {
        is_malformed(error, |problem| {
            *problem == ArchiveProblem::AmbiguousEnd { offset }
        })
    });
}

#[test]
fn overlapping_entries_are_rejected() {
    // The classic non-recursive zip bomb: entry "a"'s data is entry "b"'s whole local record,
    // and the central directory lists both.
    let inner = Entry::stored("b", "kernel ".repeat(100));
    let outer = Entry::stored("a", inner.local_record());
    let mut builder = ZipBuilder::new().entry(outer);
    builder.phantoms.push((inner, 30 + 1));
    assert_rejected(&builder.build(), |error| {
        is_malformed(error, |problem| {
            matches!(
                problem,
                ArchiveProblem::OverlappingEntries { .. }
                    | ArchiveProblem::DanglingCentralEntry { offset: 31, .. }
            )
        })
    });
}

#[test]
fn local_entry_missing_from_the_central_directory_is_rejected() {
    let mut builder = ZipBuilder::new()
        .file("pkg/a.py", "a")
        .file("pkg/evil.py", "evil");
    builder.unlisted.push(1);
    assert_rejected(&builder.build(), |error| {
        is_malformed(error, |problem| {
            matches!(
                problem,
                ArchiveProblem::HiddenBytes { .. } | ArchiveProblem::UnlistedLocalEntry { .. }
            )
        })
    });
}

#[test]
fn central_entry_without_a_local_header_is_rejected() {
    let mut builder = ZipBuilder::new().file("pkg/a.py", "a");
    builder.phantoms.push((Entry::file("pkg/b.py", "b"), 5));
    assert_rejected(&builder.build(), |error| {
        is_malformed(error, |problem| {
            matches!(
                problem,
                ArchiveProblem::DanglingCentralEntry { offset: 5, .. }
            )
        })
    });
}

#[test]
fn wrong_entry_count_is_rejected() {
    let mut builder = ZipBuilder::new()
        .file("pkg/a.py", "a")
        .file("pkg/b.py", "b");
    for declared in [1, 3] {
        builder.declared_entries = Some(declared);
        let bytes = builder.build();
        let end_offset = bytes.len() as u64 - 22;
        assert_rejected(&bytes, |error| {
            is_malformed(error, |problem| {
                matches!(problem, ArchiveProblem::InconsistentEnd { offset, .. }
                    if declared == 1 || *offset == end_offset)
            })
        });
    }
}

#[test]
fn zip64_end_record_needing_more_than_version_4_5_is_rejected() {
    let mut builder = ZipBuilder::new().entry(Entry::file("pkg/a.py", "a").zip64());
    builder.zip64_end = true;
    let valid = builder.build();
    zipgen::assert_extracts(&valid);
    let record = valid
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x06, 0x06])
        .unwrap();
    // Signature, record size, version made by, then version needed: 6.2 (encrypted central
    // directory) and 4.6.
    for version in [62u8, 46] {
        let mut bytes = valid.clone();
        bytes[record + 14] = version;
        assert_rejected(&bytes, |error| {
            is_malformed(error, |problem| {
                *problem
                    == ArchiveProblem::UnsupportedVersion {
                        offset: record as u64,
                        version,
                    }
            })
        });
    }
}

#[test]
fn multi_disk_archive_is_rejected_naming_the_end_record() {
    let mut bytes = ZipBuilder::new().file("pkg/a.py", "a").build();
    let end_offset = bytes.len() - 22;
    // "Number of this disk".
    bytes[end_offset + 4] = 1;
    assert_rejected(&bytes, |error| {
        is_malformed(error, |problem| {
            *problem
                == ArchiveProblem::MultiDisk {
                    offset: end_offset as u64,
                }
        })
    });
}

// ---- limits ---------------------------------------------------------------------------------

fn limits(change: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    change(&mut limits);
    limits
}

fn is_limit(error: &UnzipError, accept: impl Fn(&LimitProblem) -> bool) -> bool {
    matches!(error, UnzipError::Limit { problem, .. } if accept(problem))
}

#[test]
fn total_uncompressed_limit_is_enforced_on_declared_sizes() {
    let bytes = ZipBuilder::new()
        .file("pkg/a.bin", vec![b'a'; 600])
        .file("pkg/b.bin", vec![b'b'; 600])
        .build();
    let limits = limits(|l| l.max_total_uncompressed = 1000);
    assert_rejected_with(&bytes, &limits, |_, error| {
        is_limit(error, |problem| {
            matches!(problem, LimitProblem::TotalUncompressed { limit: 1000, .. })
        })
    });
}

#[test]
fn total_uncompressed_limit_holds_against_lying_headers() {
    // The data inflates to 4 MiB; the central directory claims 10 bytes and the local header
    // defers to a data descriptor, which the stream only reaches after inflating everything.
    let entry = Entry::file("pkg/bomb.bin", vec![0u8; 4 << 20])
        .descriptor(true)
        .local(|l| l.uncompressed_size = Some(10))
        .central(|c| c.uncompressed_size = Some(10));
    let bytes = ZipBuilder::new().entry(entry).build();
    let limits = limits(|l| l.max_total_uncompressed = 1 << 20);
    assert_rejected_with(&bytes, &limits, |extractor, error| match extractor {
        // Declared sizes pass the limit; inflating stops at the declared size.
        Extractor::File => matches!(
            error,
            UnzipError::Entry {
                problem: EntryProblem::SizeMismatch { expected: 10, .. },
                ..
            }
        ),
        // Sizes are unknown until the descriptor: the limit stops the inflating.
        Extractor::Stream => is_limit(
            error,
            |problem| matches!(problem, LimitProblem::TotalUncompressed { bytes, .. } if *bytes <= 2 << 20),
        ),
    });
}

#[test]
fn entry_count_limit_is_enforced() {
    let mut builder = ZipBuilder::new();
    for i in 0..11 {
        builder = builder.file(&format!("pkg/m{i}.py"), "x");
    }
    let limits = limits(|l| l.max_entries = 10);
    assert_rejected_with(&builder.build(), &limits, |_, error| {
        is_limit(error, |problem| {
            matches!(problem, LimitProblem::TooManyEntries { limit: 10, .. })
        })
    });
}

#[test]
fn compression_ratio_limit_is_enforced() {
    let bytes = ZipBuilder::new()
        .file("pkg/zeros.bin", vec![0u8; 8 << 20])
        .build();
    let limits = limits(|l| {
        l.max_ratio = 100;
        l.ratio_exempt_bytes = 1 << 20;
    });
    assert_rejected_with(&bytes, &limits, |_, error| {
        is_limit(error, |problem| {
            matches!(problem, LimitProblem::Ratio { max_ratio: 100, .. })
        })
    });
    // The same archive is fine under the default limits: 8 MiB is below the exemption.
    zipgen::assert_extracts(&bytes);
}

#[test]
fn output_never_exceeds_the_declared_size() {
    // Both headers claim 10 bytes; the data inflates to 4 MiB. Extraction must stop before
    // writing more than was declared, not merely notice afterwards.
    let entry = Entry::file("pkg/bomb.bin", vec![0u8; 4 << 20])
        .local(|l| l.uncompressed_size = Some(10))
        .central(|c| c.uncompressed_size = Some(10));
    let bytes = ZipBuilder::new().entry(entry).build();
    for extract_stream in [false, true] {
        let workspace = zipgen::Workspace::new(&bytes);
        let result = if extract_stream {
            workspace.extract_stream(&Limits::default())
        } else {
            workspace.extract_file(&Limits::default())
        };
        assert!(matches!(
            result,
            Err(UnzipError::Entry {
                problem: EntryProblem::SizeMismatch { expected: 10, .. },
                ..
            })
        ));
        let written = std::fs::metadata(workspace.dest().join("pkg/bomb.bin"))
            .unwrap()
            .len();
        assert!(written <= 10, "{written} bytes written");
    }
}
