//! Digest and algorithm names: every accepted and rejected textual form, and verification
//! against expected digests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm, HasherSet, Hashes, ParseDigestError};

/// SHA-256 and friends of "abc", from `sha256sum` / `sha512sum` / `b3sum`.
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_SHA512: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                          2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
const ABC_BLAKE3: &str = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn digest(text: &str) -> Digest {
    text.parse()
        .unwrap_or_else(|error| panic!("`{text}` should parse: {error}"))
}

fn hashes_of(bytes: &[u8], extra: &[HashAlgorithm]) -> Hashes {
    let mut hashers = HasherSet::new(extra);
    hashers.update(bytes);
    hashers.finalize()
}

#[test]
fn algorithm_names_round_trip() {
    for algorithm in HashAlgorithm::ALL {
        assert_eq!(
            algorithm.to_string().parse::<HashAlgorithm>(),
            Ok(algorithm)
        );
    }
    assert_eq!("SHA256".parse::<HashAlgorithm>(), Ok(HashAlgorithm::Sha256));
    assert_eq!("Blake3".parse::<HashAlgorithm>(), Ok(HashAlgorithm::Blake3));
    let error = "md5".parse::<HashAlgorithm>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown hash algorithm `md5`: use one of blake3, sha256, sha384, sha512"
    );
    for rejected in ["", "sha-256", "sha1", " sha256", "sha256 "] {
        assert!(rejected.parse::<HashAlgorithm>().is_err(), "{rejected:?}");
    }
}

#[test]
fn accepted_digest_forms() {
    let canonical = format!("sha256:{ABC_SHA256}");
    for text in [
        canonical.clone(),
        format!("sha256={ABC_SHA256}"),
        format!("sha256:{}", ABC_SHA256.to_uppercase()),
        format!("SHA256={}", ABC_SHA256.to_uppercase()),
    ] {
        let parsed = digest(&text);
        assert_eq!(parsed.algorithm(), HashAlgorithm::Sha256);
        assert_eq!(parsed.to_string(), canonical, "{text}");
        assert_eq!(parsed.to_hex(), ABC_SHA256);
        assert_eq!(parsed.as_bytes().len(), 32);
        assert_eq!(parsed.as_bytes()[..2], [0xba, 0x78]);
    }
    let sha384 = "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163\
                  1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7";
    for (algorithm, hex) in [
        (HashAlgorithm::Blake3, ABC_BLAKE3),
        (HashAlgorithm::Sha384, sha384),
        (HashAlgorithm::Sha512, ABC_SHA512),
    ] {
        let parsed = digest(&format!("{algorithm}:{hex}"));
        assert_eq!(parsed.algorithm(), algorithm);
        assert_eq!(parsed.to_hex(), hex);
        assert_eq!(parsed.as_bytes().len(), algorithm.output_len());
        assert_eq!(Digest::from_hex(algorithm, hex), Ok(parsed));
        assert_eq!(Digest::from_bytes(algorithm, parsed.as_bytes()), Ok(parsed));
    }
}

#[test]
fn rejected_digest_forms() {
    let missing = |text: &str| ParseDigestError::MissingAlgorithm {
        text: text.to_owned(),
    };
    let wrong_length =
        |algorithm: HashAlgorithm, actual_hex_digits| ParseDigestError::WrongLength {
            algorithm,
            expected_hex_digits: 2 * algorithm.output_len(),
            actual_hex_digits,
        };
    let not_hex = |algorithm, hex: &str| ParseDigestError::NotHex {
        algorithm,
        hex: hex.to_owned(),
    };
    let cases: Vec<(String, ParseDigestError)> = vec![
        (ABC_SHA256.to_owned(), missing(ABC_SHA256)),
        (String::new(), missing("")),
        (
            format!("sha256 {ABC_SHA256}"),
            missing(&format!("sha256 {ABC_SHA256}")),
        ),
        (
            format!("sha256:{}", &ABC_SHA256[1..]),
            wrong_length(HashAlgorithm::Sha256, 63),
        ),
        (
            format!("sha256:{ABC_SHA256}0"),
            wrong_length(HashAlgorithm::Sha256, 65),
        ),
        ("sha256:".to_owned(), wrong_length(HashAlgorithm::Sha256, 0)),
        (
            format!("sha512:{ABC_SHA256}"),
            wrong_length(HashAlgorithm::Sha512, 64),
        ),
        (
            format!("sha256:{ABC_SHA512}"),
            wrong_length(HashAlgorithm::Sha256, 128),
        ),
        (
            format!("sha256:{ABC_SHA256} "),
            wrong_length(HashAlgorithm::Sha256, 65),
        ),
        (
            format!("sha256:g{}", &ABC_SHA256[1..]),
            not_hex(HashAlgorithm::Sha256, &format!("g{}", &ABC_SHA256[1..])),
        ),
        (
            // A two-byte character keeps the byte length right but is no hex digit.
            format!("sha256:é{}", &ABC_SHA256[2..]),
            not_hex(HashAlgorithm::Sha256, &format!("é{}", &ABC_SHA256[2..])),
        ),
        (
            // Only the first separator splits: the digits must not contain another one.
            format!("sha256:={}", &ABC_SHA256[1..]),
            not_hex(HashAlgorithm::Sha256, &format!("={}", &ABC_SHA256[1..])),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(text.parse::<Digest>(), Err(expected), "{text:?}");
    }

    let unknown = format!("md5:{}", &ABC_SHA256[..32]).parse::<Digest>();
    let Err(ParseDigestError::UnknownAlgorithm(error)) = unknown else {
        panic!("md5 should be an unknown algorithm: {unknown:?}");
    };
    assert_eq!(error.name, "md5");
    assert!(matches!(
        Digest::from_bytes(HashAlgorithm::Sha384, &[0; 32]),
        Err(ParseDigestError::WrongLength {
            actual_hex_digits: 64,
            ..
        })
    ));
}

#[test]
fn parse_error_messages_say_what_is_accepted() {
    let missing = "deadbeef".parse::<Digest>().unwrap_err().to_string();
    assert!(missing.contains("`deadbeef`"), "{missing}");
    assert!(missing.contains("sha256:HEX"), "{missing}");
    let short = "sha256:ab".parse::<Digest>().unwrap_err().to_string();
    assert!(short.contains("sha256 digest has 64 hex digits"), "{short}");
    assert!(short.contains("this one has 2"), "{short}");
}

#[test]
fn hashes_get_finds_each_computed_algorithm() {
    let hashes = hashes_of(b"abc", &[HashAlgorithm::Sha512, HashAlgorithm::Sha256]);
    assert_eq!(hashes.bytes, 3);
    assert_eq!(hashes.blake3, digest(&format!("blake3:{ABC_BLAKE3}")));
    assert_eq!(
        hashes.get(HashAlgorithm::Blake3),
        Some(&digest(&format!("blake3:{ABC_BLAKE3}")))
    );
    assert_eq!(
        hashes.get(HashAlgorithm::Sha256),
        Some(&digest(&format!("sha256:{ABC_SHA256}")))
    );
    assert_eq!(
        hashes.get(HashAlgorithm::Sha512),
        Some(&digest(&format!("sha512:{ABC_SHA512}")))
    );
    assert_eq!(hashes.get(HashAlgorithm::Sha384), None);
    // Extras come in `HashAlgorithm::ALL` order whatever order they were asked in.
    let order: Vec<_> = hashes.iter().map(Digest::algorithm).collect();
    assert_eq!(
        order,
        [
            HashAlgorithm::Blake3,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha512
        ]
    );
}

#[test]
fn hasher_set_ignores_blake3_and_repeats_in_extras() {
    let hashers = HasherSet::new(&[
        HashAlgorithm::Sha256,
        HashAlgorithm::Blake3,
        HashAlgorithm::Sha256,
    ]);
    let algorithms: Vec<_> = hashers.algorithms().collect();
    assert_eq!(algorithms, [HashAlgorithm::Blake3, HashAlgorithm::Sha256]);
    assert_eq!(hashers.finalize().others.len(), 1);
}

#[test]
fn verify_accepts_any_one_of_several_digests_per_algorithm() {
    let actual = hashes_of(b"abc", &[HashAlgorithm::Sha256, HashAlgorithm::Sha512]);
    let expected: ExpectedHashes = [
        digest(&format!("sha256:{EMPTY_SHA256}")),
        digest(&format!("sha256={}", ABC_SHA256.to_uppercase())),
        digest(&format!("sha512:{ABC_SHA512}")),
        digest(&format!("blake3:{ABC_BLAKE3}")),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        expected.algorithms(),
        [
            HashAlgorithm::Blake3,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha512
        ]
    );
    assert_eq!(expected.digests_for(HashAlgorithm::Sha256).count(), 2);
    assert_eq!(expected.verify(&actual, "abc.whl"), Ok(()));
    assert_eq!(ExpectedHashes::new().verify(&actual, "abc.whl"), Ok(()));
}

#[test]
fn verify_requires_every_expected_algorithm_to_match() {
    let actual = hashes_of(b"abc", &[HashAlgorithm::Sha256, HashAlgorithm::Sha512]);
    let stale_sha512 = digest(&format!("sha512:{}", "0".repeat(128)));
    let expected: ExpectedHashes = [digest(&format!("sha256:{ABC_SHA256}")), stale_sha512]
        .into_iter()
        .collect();
    let mismatch = expected.verify(&actual, "abc.whl").unwrap_err();
    assert_eq!(mismatch.algorithm, HashAlgorithm::Sha512);
    assert_eq!(mismatch.expected, [stale_sha512]);
    assert_eq!(mismatch.actual, actual.get(HashAlgorithm::Sha512).copied());
}

#[test]
fn mismatch_message_names_file_algorithm_digests_and_remedy() {
    let actual = hashes_of(b"abc", &[HashAlgorithm::Sha256]);
    let expected: ExpectedHashes = [
        digest(&format!("sha256:{EMPTY_SHA256}")),
        digest(&format!("sha256:{}", "1".repeat(64))),
    ]
    .into_iter()
    .collect();
    let message = expected
        .verify(&actual, "tomli-2.5.0-py3-none-any.whl")
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        format!(
            "hash mismatch for tomli-2.5.0-py3-none-any.whl: expected one of \
             sha256:{EMPTY_SHA256}, sha256:{}, got sha256:{ABC_SHA256}; the file may be \
             corrupt or truncated, or the pinned hash outdated: download it again, and if the \
             mismatch persists, check where the pinned hash came from",
            "1".repeat(64)
        )
    );

    let single: ExpectedHashes = [digest(&format!("sha256:{EMPTY_SHA256}"))]
        .into_iter()
        .collect();
    let message = single.verify(&actual, "a.whl").unwrap_err().to_string();
    assert!(
        message.starts_with(&format!(
            "hash mismatch for a.whl: expected sha256:{EMPTY_SHA256}, got sha256:{ABC_SHA256};"
        )),
        "{message}"
    );
}

#[test]
fn verify_reports_an_expected_algorithm_that_was_not_computed() {
    let blake3_only = hashes_of(b"abc", &[]);
    let expected: ExpectedHashes = [digest(&format!("sha256:{ABC_SHA256}"))]
        .into_iter()
        .collect();
    let mismatch = expected.verify(&blake3_only, "abc.whl").unwrap_err();
    assert_eq!(mismatch.actual, None);
    let message = mismatch.to_string();
    assert!(
        message.contains("no sha256 digest was computed"),
        "{message}"
    );
}

#[test]
fn expected_hashes_deduplicate() {
    let mut expected = ExpectedHashes::new();
    assert!(expected.is_empty());
    expected.insert(digest(&format!("sha256:{ABC_SHA256}")));
    expected.insert(digest(&format!("sha256={}", ABC_SHA256.to_uppercase())));
    assert_eq!(expected.iter().count(), 1);
    assert!(!expected.is_empty());
}
