//! Pointers: atomic records from a source to an archive; anything unusable is a miss.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use cairn_cache::{
    Cache, CacheBucket, CacheEntry, POINTER_FORMAT, Pointer, PointerKey, SourceIdentity, SourceKind,
};
use cairn_cache_key::CanonicalUrl;
use cairn_fs::ContentDigest;

const DIGEST: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

fn pointer(last_used: u64) -> Pointer {
    Pointer {
        format: POINTER_FORMAT,
        source: "https://files.example.org/numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl"
            .into(),
        filename: "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl".into(),
        name: "numpy".into(),
        version: "2.4.6".into(),
        tags: "cp311-cp311-manylinux_2_28_x86_64".into(),
        archive: DIGEST.into(),
        hashes: vec![format!("sha256:{}", "ab".repeat(32))],
        size: 16_918_164,
        source_modified: None,
        last_used,
    }
}

fn cache_with_archive() -> (Cache, CacheEntry) {
    let cache = Cache::temporary().unwrap();
    let temp = cache.temp_dir().unwrap();
    std::fs::write(temp.path().join("file"), "x").unwrap();
    cache
        .persist(temp, &ContentDigest::hex(DIGEST).unwrap())
        .unwrap();
    let entry = cache.entry(CacheBucket::Wheels, "url/0011223344556677", "numpy.json");
    (cache, entry)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_source_identity_is_stored_and_survives_the_last_use_refresh() {
    let (cache, entry) = cache_with_archive();
    let identity = SourceIdentity {
        device: 2049,
        inode: 1_234_567,
    };
    // Two hours old: the read rewrites the pointer with a new `last_used`.
    let written = pointer(now() - 2 * 60 * 60);
    cache
        .write_pointer_with_identity(&entry, &written, Some(identity))
        .unwrap();
    let text = std::fs::read_to_string(entry.path()).unwrap();
    assert!(text.contains("\"source_inode\": 1234567"), "{text}");
    let (read, found, _) = cache.read_pointer_with_identity(&entry).unwrap();
    assert_eq!(found, Some(identity));
    assert!(read.last_used > written.last_used);
    let (_, found, _) = cache.read_pointer_with_identity(&entry).unwrap();
    assert_eq!(found, Some(identity), "the refresh kept the identity");

    // A pointer written without one reads as having none.
    cache.write_pointer(&entry, &pointer(now())).unwrap();
    let (_, found, _) = cache.read_pointer_with_identity(&entry).unwrap();
    assert_eq!(found, None);
    assert!(
        !std::fs::read_to_string(entry.path())
            .unwrap()
            .contains("source_inode")
    );
}

#[test]
fn round_trip_reads_what_was_written() {
    let (cache, entry) = cache_with_archive();
    let written = pointer(now());
    cache.write_pointer(&entry, &written).unwrap();
    let (read, archive) = cache.read_pointer(&entry).unwrap();
    assert_eq!(read, written);
    assert_eq!(archive.digest().as_str(), DIGEST);
    assert_eq!(read.hash("sha256"), Some("ab".repeat(32).as_str()));
    assert_eq!(read.hash("sha512"), None);
}

#[test]
fn pointer_to_a_missing_archive_is_a_miss() {
    let (cache, entry) = cache_with_archive();
    let mut dangling = pointer(now());
    dangling.archive = "00".repeat(32);
    cache.write_pointer(&entry, &dangling).unwrap();
    assert!(cache.read_pointer(&entry).is_none());
}

#[test]
fn missing_corrupt_or_foreign_records_are_misses() {
    let (cache, entry) = cache_with_archive();
    assert!(cache.read_pointer(&entry).is_none(), "missing");
    std::fs::create_dir_all(entry.dir()).unwrap();
    std::fs::write(entry.path(), b"{ not json").unwrap();
    assert!(cache.read_pointer(&entry).is_none(), "corrupt");
    let mut future = pointer(now());
    future.format = POINTER_FORMAT + 1;
    cache.write_pointer(&entry, &future).unwrap();
    assert!(cache.read_pointer(&entry).is_none(), "other format version");
    let mut traversal = pointer(now());
    traversal.archive = "../../../../etc".into();
    cache.write_pointer(&entry, &traversal).unwrap();
    assert!(cache.read_pointer(&entry).is_none(), "malformed digest");
}

#[test]
fn a_hit_refreshes_an_old_last_used_and_leaves_a_recent_one() {
    let (cache, entry) = cache_with_archive();
    cache.write_pointer(&entry, &pointer(1_000)).unwrap();
    let (first, _) = cache.read_pointer(&entry).unwrap();
    assert!(first.last_used >= now() - 60, "refreshed to now");
    let on_disk: Pointer = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
    assert_eq!(on_disk.last_used, first.last_used, "and persisted");

    let recent = now() - 10;
    cache.write_pointer(&entry, &pointer(recent)).unwrap();
    let (second, _) = cache.read_pointer(&entry).unwrap();
    assert_eq!(second.last_used, recent, "a recent use is not rewritten");
}

#[test]
fn records_are_plain_json_with_a_format_version() {
    let (cache, entry) = cache_with_archive();
    cache.write_pointer(&entry, &pointer(5)).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
    assert_eq!(json["format"], 1);
    assert_eq!(json["archive"], DIGEST);
    assert_eq!(json["last_used"], 5);
}

/// The pointer of `docs/layout.md`'s example, at its documented path and with its bytes.
#[test]
fn pointer_keys_and_bytes_are_the_documented_ones() {
    let cache = Cache::temporary().unwrap();
    let url = CanonicalUrl::parse(
        "https://files.pythonhosted.org/packages/py3/d/demo/demo-1.0-py3-none-any.whl",
    )
    .unwrap();
    let key = PointerKey::url(&url);
    assert_eq!(
        (key.kind(), key.digest(), key.file_name().as_str()),
        (SourceKind::Url, "014f61effa6134e7", "014f61effa6134e7.json")
    );
    let entry = cache.pointer_entry(&key);
    assert_eq!(
        entry.path(),
        cache.root().join("wheels-v0/url/014f61effa6134e7.json")
    );
    let key = PointerKey::path(Path::new("/srv/wheels/demo-1.0-py3-none-any.whl"));
    assert_eq!(key.kind(), SourceKind::Path);
    assert_eq!(
        key.relative_path(),
        Path::new("wheels-v0/path/8340238282aee3f5.json")
    );
    assert_eq!(SourceKind::ALL.map(SourceKind::dir_name), ["path", "url"]);

    let archive = "b2141bee1a43bb7c99df33af9cfb6950dfed5028c50bcb3c98ebe6148a10544c";
    let pointer = Pointer {
        format: POINTER_FORMAT,
        source: url.as_str().to_owned(),
        filename: "demo-1.0-py3-none-any.whl".into(),
        name: "demo".into(),
        version: "1.0".into(),
        tags: "py3-none-any".into(),
        archive: archive.into(),
        hashes: vec![
            format!("blake3:{archive}"),
            "sha256:86085d431d2bfd67e50a4e25882380a9c19b371a8510d2c98ab0d4afdd0daa48".into(),
        ],
        size: 849,
        source_modified: None,
        last_used: 1_795_295_683,
    };
    let documented = r#"{
  "format": 1,
  "source": "https://files.pythonhosted.org/packages/py3/d/demo/demo-1.0-py3-none-any.whl",
  "filename": "demo-1.0-py3-none-any.whl",
  "name": "demo",
  "version": "1.0",
  "tags": "py3-none-any",
  "archive": "b2141bee1a43bb7c99df33af9cfb6950dfed5028c50bcb3c98ebe6148a10544c",
  "hashes": [
    "blake3:b2141bee1a43bb7c99df33af9cfb6950dfed5028c50bcb3c98ebe6148a10544c",
    "sha256:86085d431d2bfd67e50a4e25882380a9c19b371a8510d2c98ab0d4afdd0daa48"
  ],
  "size": 849,
  "source_modified": null,
  "last_used": 1795295683
}"#;
    assert_eq!(
        String::from_utf8(pointer.to_json().unwrap()).unwrap(),
        documented
    );
    cache.write_pointer(&entry, &pointer).unwrap();
    assert_eq!(std::fs::read_to_string(entry.path()).unwrap(), documented);
}
