//! Durations, sizes and timestamps as users write and read them; the manifest text format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cairn_cache::maintenance::{
    UnitError, Usage, format_size, format_timestamp, parse_duration, parse_size,
};
use cairn_cache::{ArchiveManifest, MANIFEST_USAGE_PREFIX_LEN, ManifestEntry, ManifestError};

fn check_duration(input: &str, expected: Option<u64>) {
    let parsed = parse_duration(input);
    match expected {
        Some(seconds) => assert_eq!(parsed, Ok(Duration::from_secs(seconds)), "{input}"),
        None => {
            let error = parsed.expect_err(input);
            assert!(error.to_string().contains(input), "{error}");
        }
    }
}

#[test]
fn durations_take_one_whole_number_and_one_unit() {
    check_duration("30d", Some(30 * 86_400));
    check_duration("12h", Some(12 * 3600));
    check_duration("90m", Some(90 * 60));
    check_duration("45s", Some(45));
    check_duration("2w", Some(14 * 86_400));
    check_duration("0s", Some(0));
    for bad in [
        "", "30", "d", "30x", "1.5d", "-1d", "30 d", "30D", "3d12h", " 30d",
    ] {
        check_duration(bad, None);
    }
    assert!(matches!(
        parse_duration("99999999999999999999w"),
        Err(UnitError::Overflow { .. })
    ));
    assert!(matches!(
        parse_duration("9999999999999999999w"),
        Err(UnitError::Overflow { .. })
    ));
}

fn check_size(input: &str, expected: Option<u64>) {
    let parsed = parse_size(input);
    match expected {
        Some(bytes) => assert_eq!(parsed, Ok(bytes), "{input}"),
        None => {
            let error = parsed.expect_err(input);
            assert!(error.to_string().contains(input), "{error}");
        }
    }
}

#[test]
fn sizes_take_bytes_or_decimal_and_binary_units() {
    check_size("1024", Some(1024));
    check_size("0", Some(0));
    check_size("500MiB", Some(500 << 20));
    check_size("10GB", Some(10_000_000_000));
    check_size("1.5GiB", Some(3 << 29));
    check_size("2.25KiB", Some(2304));
    check_size("1.0001KB", Some(1000));
    check_size("10gib", Some(10 << 30));
    check_size("7B", Some(7));
    check_size("1TiB", Some(1 << 40));
    for bad in [
        "", "GiB", "1.5", "1.5B", "1.GiB", ".5GiB", "10 GiB", "10Gb/s", "-1", "1e6",
    ] {
        check_size(bad, None);
    }
    assert!(matches!(
        parse_size("99999999TiB"),
        Err(UnitError::Overflow { .. })
    ));
}

#[test]
fn sizes_print_in_binary_units_with_one_decimal() {
    for (bytes, text) in [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1_048_575, "1.0 MiB"),
        (1_288_490_189, "1.2 GiB"),
        (u64::MAX, "16.0 EiB"),
    ] {
        assert_eq!(format_size(bytes), text, "{bytes}");
    }
}

/// The formula sizes were first printed with: `{:.1}` of a float. Exact below 2^53 bytes.
fn size_through_float(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[test]
fn sizes_print_as_the_float_formula_did() {
    let mut samples: Vec<u64> = (0..300_000).collect();
    for scale in [1u64 << 10, 1 << 20, 1 << 30, 1 << 40] {
        // Around each unit's switch (1023.95 of the unit below) and its ties (x.x5 exactly).
        let switch = scale * 1024 / 20 * 20479 / 1024;
        samples.extend(switch.saturating_sub(5000)..switch + 5000);
        samples.extend((1..2000).filter_map(|odd| (scale * (2 * odd + 1)).checked_div(20)));
        samples.extend((0..5000).map(|step| scale * 7 + step * (scale / 4096).max(1)));
    }
    for bytes in samples {
        assert_eq!(format_size(bytes), size_through_float(bytes), "{bytes}");
    }
}

#[test]
fn timestamps_print_as_utc_dates() {
    for (seconds, text) in [
        (0, "1970-01-01 00:00"),
        (951_782_400, "2000-02-29 00:00"),
        (1_709_164_799, "2024-02-28 23:59"),
        (1_709_251_200, "2024-03-01 00:00"),
        (4_107_542_400, "2100-03-01 00:00"),
    ] {
        assert_eq!(format_timestamp(seconds), text, "{seconds}");
    }
}

fn entry(path: &str, size: u64, crc32: u32, executable: bool) -> ManifestEntry {
    ManifestEntry {
        path: path.to_owned(),
        size,
        crc32,
        executable,
    }
}

#[test]
fn manifests_round_trip_sorted_by_path() {
    let manifest = ArchiveManifest::new(vec![
        entry("pkg/b c.py", 12, 0xdead_beef, false),
        entry("bin/tool", 0, 0, true),
        entry("pkg/a.py", 7, 0x0000_00ff, false),
    ])
    .unwrap();
    let text = manifest.to_text();
    assert_eq!(
        text,
        "cairn-manifest-1\n\
         00000000 0 x bin/tool\n\
         000000ff 7 - pkg/a.py\n\
         deadbeef 12 - pkg/b c.py\n"
    );
    assert_eq!(ArchiveManifest::parse(&text).unwrap(), manifest);
    assert_eq!(
        ArchiveManifest::parse("cairn-manifest-1\n").unwrap(),
        ArchiveManifest::default()
    );
}

#[test]
fn manifests_with_a_usage_are_the_second_format_and_its_prefix_alone_gives_the_usage() {
    let usage = Usage {
        bytes: 12_288,
        files: 2,
    };
    let manifest = ArchiveManifest::new(vec![
        entry("pkg/a.py", 7, 0x0000_00ff, false),
        entry("bin/tool", 0, 0, true),
    ])
    .unwrap()
    .with_usage(usage);
    let text = manifest.to_text();
    assert_eq!(
        text,
        "cairn-manifest-2\n\
         usage 12288 2\n\
         00000000 0 x bin/tool\n\
         000000ff 7 - pkg/a.py\n"
    );
    let parsed = ArchiveManifest::parse(&text).unwrap();
    assert_eq!(parsed, manifest);
    assert_eq!(parsed.usage(), Some(usage));
    assert_eq!(
        ArchiveManifest::usage_from_prefix(
            &text.as_bytes()[..MANIFEST_USAGE_PREFIX_LEN.min(text.len())]
        ),
        Some(usage)
    );
    // The largest numbers still fit in the prefix that `cairn cache size` reads.
    let widest = ArchiveManifest::default()
        .with_usage(Usage {
            bytes: u64::MAX,
            files: u64::MAX,
        })
        .to_text();
    assert!(widest.len() <= MANIFEST_USAGE_PREFIX_LEN, "{widest:?}");
    assert_eq!(
        ArchiveManifest::usage_from_prefix(widest.as_bytes()).map(|usage| usage.bytes),
        Some(u64::MAX)
    );
    // The first format records no usage; a cut line is no usage either.
    assert_eq!(
        ArchiveManifest::parse("cairn-manifest-1\n")
            .unwrap()
            .usage(),
        None
    );
    assert_eq!(
        ArchiveManifest::usage_from_prefix(b"cairn-manifest-1\n000000ff 7 - a\n"),
        None
    );
    assert_eq!(
        ArchiveManifest::usage_from_prefix(b"cairn-manifest-2\nusage 12288"),
        None
    );
}

#[test]
fn manifests_refuse_paths_that_could_escape_or_break_lines() {
    for path in [
        "",
        "/etc/passwd",
        "../x",
        "a/../b",
        "a//b",
        "./a",
        "a/",
        "a\nb",
        "a\\b",
    ] {
        assert!(
            matches!(
                ArchiveManifest::new(vec![entry(path, 1, 1, false)]),
                Err(ManifestError::BadPath { .. })
            ),
            "{path:?}"
        );
    }
    assert!(matches!(
        ArchiveManifest::new(vec![entry("a", 1, 1, false), entry("a", 2, 2, false)]),
        Err(ManifestError::Duplicate { .. })
    ));
}

#[test]
fn damaged_manifests_do_not_parse() {
    for (text, line) in [
        ("", 1),
        ("cairn-manifest-1", 1),
        ("cairn-manifest-3\n", 1),
        ("cairn-manifest-2\n", 2),
        ("cairn-manifest-2\nusage 1\n", 2),
        ("cairn-manifest-2\nusage x 1\n", 2),
        ("cairn-manifest-2\nusage -1 1\n", 2),
        ("cairn-manifest-2\n000000ff 7 - a.py\n", 2),
        (
            "cairn-manifest-2\nusage 4096 1\n000000ff 7 - a.py\nxyz\n",
            4,
        ),
        ("cairn-manifest-1\n000000ff 7 - a.py", 2),
        ("cairn-manifest-1\n000000ff 7 - a.py\nxyz\n", 3),
        ("cairn-manifest-1\n00000ff 7 - a.py\n", 2),
        ("cairn-manifest-1\n000000ff seven - a.py\n", 2),
        ("cairn-manifest-1\n000000ff 7 r a.py\n", 2),
        (
            "cairn-manifest-1\n000000ff 7 - b.py\n000000ff 7 - a.py\n",
            1,
        ),
    ] {
        match ArchiveManifest::parse(text) {
            Err(ManifestError::Malformed { line: found, .. }) => {
                assert_eq!(found, line, "{text:?}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert!(matches!(
        ArchiveManifest::parse("cairn-manifest-1\n000000ff 7 - ../a.py\n"),
        Err(ManifestError::BadPath { .. })
    ));
}
