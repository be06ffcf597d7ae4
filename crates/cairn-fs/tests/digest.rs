//! Sharded content-addressed paths: round trips and rejection of anything unsafe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use cairn_fs::{ContentDigest, DigestEncoding, DigestError};

const BLAKE3_HEX: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

#[track_caller]
fn round_trip(text: &str, encoding: DigestEncoding) {
    let root = Path::new("/cache/archive-v0");
    let digest = ContentDigest::parse(text, encoding).unwrap();
    let path = digest.sharded_path(root);
    assert_eq!(path, root.join(&text[..2]).join(&text[2..]));
    assert_eq!(
        ContentDigest::from_sharded_path(root, &path, encoding).unwrap(),
        digest
    );
}

#[track_caller]
fn reject(text: &str, encoding: DigestEncoding) -> DigestError {
    ContentDigest::parse(text, encoding).unwrap_err()
}

#[test]
fn round_trips_in_every_encoding() {
    round_trip(BLAKE3_HEX, DigestEncoding::Hex);
    round_trip("mfrggzdfmztwq2lknnwg23tpobyxe43u", DigestEncoding::Base32);
    round_trip(
        "rxNJufX5oaagQE3qNtzJSZvLJcmtwRK3zJqTyuQfMmI",
        DigestEncoding::Base64Url,
    );
}

#[test]
fn shard_is_the_first_two_characters() {
    let digest = ContentDigest::hex(BLAKE3_HEX).unwrap();
    assert_eq!(digest.shard(), "af");
    assert_eq!(digest.rest(), &BLAKE3_HEX[2..]);
    assert_eq!(digest.to_string(), BLAKE3_HEX);
}

#[test]
fn rejects_traversal_and_separators() {
    for text in [
        "../../../../etc/passwd",
        "ab/cdef0123456789",
        "ab\\cdef0123456789",
        "..cdef0123456789ab",
        "abcdef0123456789\0",
        "abcdef0123456789 ",
    ] {
        assert!(
            matches!(
                reject(text, DigestEncoding::Hex),
                DigestError::Character { .. }
            ),
            "{text:?}"
        );
        assert!(
            ContentDigest::parse(text, DigestEncoding::Base64Url).is_err(),
            "{text:?}"
        );
    }
}

#[test]
fn rejects_wrong_alphabet_and_case() {
    // Uppercase hex would alias lowercase on case-insensitive filesystems.
    let error = reject(&BLAKE3_HEX.to_uppercase(), DigestEncoding::Hex);
    assert!(error.to_string().contains("lowercase hex"), "{error}");
    assert!(ContentDigest::parse("ABCDEFGHIJKLMNOP", DigestEncoding::Base32).is_err());
    assert!(ContentDigest::parse("abcdefgh01234567", DigestEncoding::Base32).is_err());
    assert!(ContentDigest::parse("abcdefghijklmnop", DigestEncoding::Hex).is_err());
    assert!(ContentDigest::parse("abc+def/ghi=jklm", DigestEncoding::Base64Url).is_err());
    assert!(ContentDigest::parse("café0123456789ab", DigestEncoding::Hex).is_err());
}

#[test]
fn rejects_bad_lengths() {
    assert!(matches!(
        reject("", DigestEncoding::Hex),
        DigestError::Length { .. }
    ));
    assert!(matches!(
        reject("abc", DigestEncoding::Hex),
        DigestError::Length { .. }
    ));
    assert!(matches!(
        reject(&"a".repeat(129), DigestEncoding::Hex),
        DigestError::Length { .. }
    ));
}

#[test]
fn rejects_paths_that_are_not_sharded() {
    let root = Path::new("/cache/archive-v0");
    let reject_path = |path: &str| {
        ContentDigest::from_sharded_path(root, Path::new(path), DigestEncoding::Hex).unwrap_err()
    };
    let rest = &BLAKE3_HEX[2..];
    assert!(matches!(
        reject_path(&format!("/elsewhere/af/{rest}")),
        DigestError::NotShardedPath { .. }
    ));
    assert!(matches!(
        reject_path(&format!("/cache/archive-v0/{BLAKE3_HEX}")),
        DigestError::NotShardedPath { .. }
    ));
    assert!(matches!(
        reject_path(&format!("/cache/archive-v0/af/{rest}/x")),
        DigestError::NotShardedPath { .. }
    ));
    assert!(matches!(
        reject_path(&format!("/cache/archive-v0/afe/{}", &BLAKE3_HEX[3..])),
        DigestError::NotShardedPath { .. }
    ));
    assert!(matches!(
        reject_path("/cache/archive-v0/af/../../../etc/passwd"),
        DigestError::Character { .. } | DigestError::NotShardedPath { .. }
    ));
}

#[test]
fn names_the_first_refused_character_even_when_not_ascii() {
    for (text, expected) in [
        ("abcdef0123456789é0", 'é'),
        ("abcdef0123456789Z€", 'Z'),
        ("€bcdef0123456789ab", '€'),
    ] {
        match ContentDigest::parse(text, DigestEncoding::Hex) {
            Err(DigestError::Character { character, .. }) => {
                assert_eq!(character, expected, "{text:?}")
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}
