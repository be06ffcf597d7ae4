//! Property tests of the cache's records, which are read back from disk and so are untrusted:
//! pointers (JSON), published-digest index entries (`hashes-v1`), archive manifests, and the
//! size and age arguments of maintenance commands.
//!
//! Properties: random and damaged bytes are a miss or a typed error, never a panic and never a
//! wrong answer (what reads back is what the bytes say, and names an archive that is in the
//! store); a record written by this crate reads back as the value written; a path read from a
//! record never leaves its bucket. `PROPTEST_CASES` raises the number of cases (see
//! `scripts/fuzz-long.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Component, Path};

use cairn_cache::maintenance::{Usage, format_size, parse_duration, parse_size};
use cairn_cache::{
    ArchiveManifest, Cache, CacheBucket, CacheEntry, IndexKey, IndexRecord, MANIFEST_HEADER,
    MANIFEST_USAGE_PREFIX_LEN, ManifestEntry, POINTER_FORMAT, Pointer,
};
use cairn_fs::ContentDigest;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property by default, for the properties of parsers alone.
const DEFAULT_CASES: u32 = 256;

/// Cases per property by default, for the properties that build a cache on disk per case.
const DEFAULT_DISK_CASES: u32 = 48;

fn config(default: u32) -> Config {
    cairn_test_support::prop::config(default, "proptest-regressions/prop_records.txt")
}

fn hex_digest() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-f]{64}", "[0-9a-f]{16,128}"]
}

fn wheel_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.+]{1,30}-[0-9.]{1,8}-py3-none-[a-z0-9_]{1,20}\\.whl"
}

/// One piece of damage to a byte string: a bit flipped, a byte set, bytes cut, repeated or
/// removed, or bytes inserted.
#[derive(Debug, Clone)]
enum ByteDamage {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Repeat(usize, usize),
    Remove(usize, usize),
    Insert(usize, Vec<u8>),
}

fn byte_damage() -> impl Strategy<Value = ByteDamage> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| ByteDamage::Flip(at, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| ByteDamage::Set(at, value)),
        any::<usize>().prop_map(ByteDamage::Truncate),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| ByteDamage::Repeat(at, len)),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| ByteDamage::Remove(at, len)),
        (
            any::<usize>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..8),
                Just(b"\n".to_vec()),
                Just(b" ".to_vec()),
                Just(b"0".to_vec()),
                Just(b"+".to_vec()),
                Just(b"-".to_vec()),
                Just(b"/../".to_vec()),
                Just(b"\"".to_vec()),
                Just(b",".to_vec()),
                Just(b"null".to_vec()),
            ]
        )
            .prop_map(|(at, bytes)| ByteDamage::Insert(at, bytes)),
    ]
}

fn damage(bytes: &[u8], damages: &[ByteDamage]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    for damage in damages {
        let len = bytes.len();
        let at = |i: usize| if len == 0 { 0 } else { i % len };
        match damage {
            ByteDamage::Flip(i, bit) if len > 0 => bytes[at(*i)] ^= 1 << bit,
            ByteDamage::Set(i, value) if len > 0 => bytes[at(*i)] = *value,
            ByteDamage::Truncate(i) => bytes.truncate(at(*i)),
            ByteDamage::Repeat(i, n) if len > 0 => {
                let start = at(*i);
                let copy = bytes[start..(start + n).min(len)].to_vec();
                bytes.splice(start..start, copy);
            }
            ByteDamage::Remove(i, n) if len > 0 => {
                let start = at(*i);
                bytes.drain(start..(start + n).min(len));
            }
            ByteDamage::Insert(i, extra) => {
                let start = if len == 0 { 0 } else { i % (len + 1) };
                bytes.splice(start..start, extra.iter().copied());
            }
            _ => {}
        }
    }
    bytes
}

fn index_record() -> impl Strategy<Value = IndexRecord> {
    (hex_digest(), any::<u64>(), wheel_name()).prop_map(|(archive, wheel_size, filename)| {
        IndexRecord {
            archive: ContentDigest::hex(&archive).unwrap(),
            wheel_size,
            filename,
        }
    })
}

fn manifest_path() -> impl Strategy<Value = String> {
    proptest::collection::vec("[A-Za-z0-9_ .+=-]{1,10}", 1..4)
        .prop_map(|parts| parts.join("/"))
        .prop_filter("ordinary components", |path| {
            path.split('/').all(|part| part != "." && part != "..")
        })
}

fn manifest() -> impl Strategy<Value = ArchiveManifest> {
    (
        proptest::collection::btree_map(
            manifest_path(),
            (any::<u64>(), any::<u32>(), any::<bool>()),
            0..8,
        ),
        proptest::option::of((any::<u64>(), any::<u64>())),
    )
        .prop_map(|(files, usage)| {
            let entries = files
                .into_iter()
                .map(|(path, (size, crc32, executable))| ManifestEntry {
                    path,
                    size,
                    crc32,
                    executable,
                })
                .collect();
            let manifest = ArchiveManifest::new(entries).unwrap();
            match usage {
                Some((bytes, files)) => manifest.with_usage(Usage { bytes, files }),
                None => manifest,
            }
        })
}

/// Whether `path` is relative and made only of ordinary names: it cannot leave its base.
fn stays_inside(path: &Path) -> bool {
    path.components()
        .all(|component| matches!(component, Component::Normal(_)))
}

fn pointer() -> impl Strategy<Value = Pointer> {
    (
        "[ -~]{0,40}",
        wheel_name(),
        proptest::collection::vec("(sha256|sha384|md5):[0-9a-f]{8,64}", 0..3),
        any::<u64>(),
        proptest::option::of(prop_oneof![
            any::<i64>().prop_map(i128::from),
            any::<i128>()
        ]),
        any::<u64>(),
    )
        .prop_map(
            |(source, filename, hashes, size, source_modified, last_used)| Pointer {
                format: POINTER_FORMAT,
                source,
                name: filename.split('-').next().unwrap().to_owned(),
                version: filename.split('-').nth(1).unwrap().to_owned(),
                tags: "py3-none-any".to_owned(),
                filename,
                archive: DIGEST.to_owned(),
                hashes,
                size,
                source_modified,
                last_used,
            },
        )
}

/// The archive every generated pointer names.
const DIGEST: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

/// A cache holding the archive [`DIGEST`] and one pointer entry's location.
fn cache_with_archive() -> (Cache, CacheEntry) {
    let cache = Cache::temporary().unwrap();
    let temp = cache.temp_dir().unwrap();
    std::fs::write(temp.path().join("file"), "x").unwrap();
    cache
        .persist(temp, &ContentDigest::hex(DIGEST).unwrap())
        .unwrap();
    let entry = cache.entry(CacheBucket::Wheels, "url/0011223344556677", "demo.json");
    (cache, entry)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

proptest! {
    #![proptest_config(config(DEFAULT_CASES))]

    /// An index record reads back as written, and its line is exactly what `to_line` writes.
    #[test]
    fn index_record_round_trips(record in index_record()) {
        let line = record.to_line();
        prop_assert!(line.len() <= IndexRecord::MAX_LEN);
        prop_assert_eq!(IndexRecord::parse(line.as_bytes()), Some(record));
    }

    /// Damaged or random index entries are a miss unless they are, byte for byte, the line of
    /// the record they read as: no damaged entry can name another archive or size.
    #[test]
    fn damaged_index_record_is_a_miss_or_exact(
        record in index_record(),
        damages in proptest::collection::vec(byte_damage(), 1..4),
        random in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        for bytes in [damage(record.to_line().as_bytes(), &damages), random] {
            if let Some(parsed) = IndexRecord::parse(&bytes) {
                let line = parsed.to_line();
                prop_assert_eq!(line.as_bytes(), bytes.as_slice());
                prop_assert!(IndexRecord::is_valid_filename(&parsed.filename));
            }
        }
    }


    /// A line that spells a record in any way but the one `to_line` writes (a leading zero or
    /// sign on the size, uppercase hex, doubled or missing separators, a CRLF or no line
    /// break, trailing bytes, an unstorable file name) is a miss.
    #[test]
    fn noncanonical_index_lines_are_misses(record in index_record(), variant in 0u8..12, byte in any::<u8>()) {
        let (archive, size, name) = (record.archive.as_str(), record.wheel_size, &record.filename);
        let line = match variant {
            0 => format!("{archive} 0{size} {name}\n"),
            1 => format!("{archive} +{size} {name}\n"),
            2 => format!("{} {size} {name}\n", archive.to_uppercase()),
            3 => format!("{archive}  {size} {name}\n"),
            4 => format!("{archive} {size}  {name}\n"),
            5 => format!("{archive} {size} {name}\r\n"),
            6 => format!("{archive} {size} {name}"),
            7 => format!("{archive} {size} {name}\n{}", char::from(byte)),
            8 => format!("{archive} {size} {name}/x.whl\n"),
            9 => format!("{archive} {size} {}\n", name.trim_end_matches(".whl")),
            10 => format!("{archive}\t{size} {name}\n"),
            _ => format!("{archive} {size}{} {name}\n", u64::from(byte) % 10),
        };
        // Uppercase hex of a digest without letters is the canonical line itself.
        if line != record.to_line() && !(variant == 11 && size.checked_mul(10).is_none()) {
            let parsed = IndexRecord::parse(line.as_bytes());
            if variant == 11 {
                // Another size entirely: read as that size or a miss, never as this record.
                prop_assert_ne!(parsed, Some(record));
            } else {
                prop_assert_eq!(parsed, None, "{:?}", line);
            }
        }
    }

    /// Any algorithm name and digest text: a key whose path stays inside `hashes-v1`, or a
    /// typed error.
    #[test]
    fn index_key_paths_stay_in_their_bucket(
        algorithm in prop_oneof!["[a-z][a-z0-9]{0,20}", any::<String>(), Just("..".to_owned()), Just("a/b".to_owned())],
        hex in prop_oneof![hex_digest(), any::<String>(), Just("../../../../etc/passwd0000".to_owned())],
    ) {
        match IndexKey::parse(&algorithm, &hex) {
            Ok(key) => {
                let path = key.relative_path();
                prop_assert!(stays_inside(&path), "{:?}", path);
                prop_assert!(path.starts_with(CacheBucket::Hashes.dir_name()), "{:?}", path);
                prop_assert_eq!(key.algorithm(), algorithm.as_str());
                prop_assert_eq!(key.digest().as_str(), hex.as_str());
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    /// A manifest reads back as written, and its usage from the file's first bytes alone.
    #[test]
    fn manifest_round_trips(manifest in manifest()) {
        let text = manifest.to_text();
        let parsed = ArchiveManifest::parse(&text).unwrap();
        prop_assert_eq!(&parsed, &manifest);
        let prefix = &text.as_bytes()[..text.len().min(MANIFEST_USAGE_PREFIX_LEN)];
        prop_assert_eq!(ArchiveManifest::usage_from_prefix(prefix), manifest.usage());
    }

    /// A damaged or random manifest is a typed error, or a manifest whose paths all stay inside
    /// the archive and that reads back the same once written. (Not necessarily the same bytes:
    /// an uppercase hex digit or a `+` before a size reads as the value it spells.)
    #[test]
    fn damaged_manifest_is_an_error_or_exact(
        manifest in manifest(),
        damages in proptest::collection::vec(byte_damage(), 1..4),
        random in "(cairn-manifest-[12]\n)?(usage [0-9 ]{1,8}\n)?([0-9a-f +-]{0,12} [0-9+]{0,4} [x-] [ -~]{0,10}\n){0,4}",
    ) {
        let damaged = damage(manifest.to_text().as_bytes(), &damages);
        for bytes in [damaged, random.into_bytes()] {
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            if let Ok(parsed) = ArchiveManifest::parse(text) {
                for entry in parsed.entries() {
                    prop_assert!(stays_inside(Path::new(&entry.path)), "{:?}", entry.path);
                    prop_assert!(!entry.path.contains('\\') && !entry.path.contains('\0'));
                }
                prop_assert_eq!(&ArchiveManifest::parse(&parsed.to_text()).unwrap(), &parsed);
            }
            let _ = ArchiveManifest::usage_from_prefix(&bytes);
        }
    }




    /// Sizes and ages given to maintenance commands: a value or a typed error, never a panic;
    /// a plain byte count reads as itself.
    #[test]
    fn units_never_panic(
        text in prop_oneof!["[0-9.]{0,25}[ ]?(B|KiB|MiB|GiB|TiB|PiB|EiB|KB|MB|GB|TB|k|m|h|d|w|s|y)?", any::<String>()],
        bytes in any::<u64>(),
    ) {
        if let Err(error) = parse_size(&text) {
            prop_assert!(!error.to_string().is_empty());
        }
        if let Err(error) = parse_duration(&text) {
            prop_assert!(!error.to_string().is_empty());
        }
        prop_assert_eq!(parse_size(&bytes.to_string()).ok(), Some(bytes));
        prop_assert!(!format_size(bytes).is_empty());
    }
}

proptest! {
    #![proptest_config(config(DEFAULT_DISK_CASES))]

    /// Through the cache: written then read gives the record; a damaged entry on disk is a miss
    /// or the exact record its bytes spell.
    #[test]
    fn index_entry_on_disk(
        record in index_record(),
        key_hex in "[0-9a-f]{64}",
        damages in proptest::collection::vec(byte_damage(), 0..3),
    ) {
        let cache = Cache::temporary().unwrap();
        let key = IndexKey::parse("sha256", &key_hex).unwrap();
        cache.write_index(&key, &record).unwrap();
        prop_assert_eq!(cache.read_index(&key), Some(record.clone()));
        let bytes = damage(record.to_line().as_bytes(), &damages);
        std::fs::write(cache.index_entry(&key).path(), &bytes).unwrap();
        match cache.read_index(&key) {
            Some(read) => {
                let line = read.to_line();
                prop_assert_eq!(line.as_bytes(), bytes.as_slice());
            }
            None => prop_assert!(IndexRecord::parse(&bytes).is_none()),
        }
        // The archive is not in the store: never found.
        prop_assert!(cache.find_indexed(&key).is_none());
    }

    /// A pointer's JSON reads back as the pointer; through the cache, written then read gives
    /// it back with the archive it names.
    #[test]
    fn pointer_round_trips(pointer in pointer()) {
        let json = pointer.to_json().unwrap();
        prop_assert_eq!(&serde_json::from_slice::<Pointer>(&json).unwrap(), &pointer);
        let (cache, entry) = cache_with_archive();
        let mut fresh = pointer.clone();
        fresh.last_used = now();
        cache.write_pointer(&entry, &fresh).unwrap();
        let (read, archive) = cache.read_pointer(&entry).unwrap();
        prop_assert_eq!(read, fresh);
        prop_assert_eq!(archive.digest().as_str(), DIGEST);
    }

    /// A damaged pointer file is a miss, or a pointer that its damaged bytes spell (as JSON)
    /// and whose archive is in the store: never a panic, never another archive.
    #[test]
    fn damaged_pointer_is_a_miss_or_what_it_says(
        pointer in pointer(),
        damages in proptest::collection::vec(byte_damage(), 1..4),
    ) {
        let (cache, entry) = cache_with_archive();
        let mut fresh = pointer;
        fresh.last_used = now();
        let bytes = damage(&fresh.to_json().unwrap(), &damages);
        std::fs::create_dir_all(entry.path().parent().unwrap()).unwrap();
        std::fs::write(entry.path(), &bytes).unwrap();
        if let Some((read, archive)) = cache.read_pointer(&entry) {
            let spelled: Pointer = serde_json::from_slice(&bytes)
                .map_err(|e| TestCaseError::fail(format!("a hit from bytes that do not parse: {e}")))?;
            prop_assert_eq!(read.format, POINTER_FORMAT);
            prop_assert_eq!(read.archive.as_str(), archive.digest().as_str());
            prop_assert!(archive.path().is_dir());
            prop_assert_eq!(read.archive, spelled.archive);
            prop_assert_eq!(read.filename, spelled.filename);
            prop_assert_eq!(read.hashes, spelled.hashes);
            prop_assert_eq!(read.size, spelled.size);
            prop_assert_eq!(read.source_modified, spelled.source_modified);
        }
    }

    /// JSON of the right shape with the wrong values: another format, an archive that is not
    /// in the store or not a digest, wrong types, missing fields. All misses.
    #[test]
    fn wrong_pointer_values_are_misses(
        pointer in pointer(),
        field in 0usize..6,
        archive in prop_oneof![hex_digest(), any::<String>(), Just("../../etc".to_owned())],
        format in any::<u32>(),
    ) {
        if field == 1 && archive == DIGEST {
            return Ok(());
        }
        let (cache, entry) = cache_with_archive();
        let mut value: serde_json::Value = serde_json::from_slice(&pointer.to_json().unwrap()).unwrap();
        let object = value.as_object_mut().unwrap();
        match field {
            0 => { object.insert("format".into(), (format | 2).into()); }
            1 => { object.insert("archive".into(), archive.into()); }
            2 => { object.insert("size".into(), (-1).into()); }
            3 => { object.remove("filename"); }
            4 => { object.insert("hashes".into(), "sha256:00".into()); }
            _ => { object.insert("last_used".into(), serde_json::Value::Null); }
        }
        std::fs::create_dir_all(entry.path().parent().unwrap()).unwrap();
        std::fs::write(entry.path(), serde_json::to_vec(&value).unwrap()).unwrap();
        prop_assert!(cache.read_pointer(&entry).is_none(), "{}", value);
    }
}

/// The format line of a manifest of the current format.
#[test]
fn manifest_header_is_the_current_format() {
    let text = ArchiveManifest::new(Vec::new())
        .unwrap()
        .with_usage(Usage { bytes: 1, files: 0 })
        .to_text();
    assert!(text.starts_with(MANIFEST_HEADER));
}
