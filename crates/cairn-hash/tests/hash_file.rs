//! Hashing real files and sync streams: golden digests from independent tools, and agreement
//! between the file path (read or memory-mapped) and the streaming paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Read};
use std::path::Path;

use cairn_hash::{
    HashAlgorithm, HashError, HasherSet, Hashes, HashingReader, MMAP_THRESHOLD, digest_file,
    hash_file,
};

const ALL_EXTRAS: [HashAlgorithm; 3] = [
    HashAlgorithm::Sha256,
    HashAlgorithm::Sha384,
    HashAlgorithm::Sha512,
];

/// Digests pinned from `b3sum` 1.8.7, `sha256sum`, `sha384sum` and `sha512sum` (coreutils), and
/// cross-checked for SHA-256 with Python's `hashlib`.
struct Golden {
    input: Vec<u8>,
    blake3: &'static str,
    sha256: &'static str,
    sha384: &'static str,
    sha512: &'static str,
}

/// 1 MiB of `i % 251`: not a power-of-two period, so every BLAKE3 chunk differs.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn goldens() -> Vec<Golden> {
    vec![
        Golden {
            input: Vec::new(),
            blake3: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sha384: "38b060a751ac96384cd9327eb1b1e36a21fdb71114be0743\
                     4c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
            sha512: "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
                     47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        },
        Golden {
            input: b"abc".to_vec(),
            blake3: "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            sha384: "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163\
                     1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            sha512: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                     2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        },
        Golden {
            input: pattern(1 << 20),
            blake3: "74cb441fd087764ca9c3694da742ebe30cbeb3060a17009ca81825c7a8d10343",
            sha256: "631b84027d6b9e52b539c4e8373622d23032dfadc64d60af87339c9037e4f769",
            sha384: "c0b5633796816dc370458921d148550ed3e490ca635324e1\
                     9b86a26c500577c623a37ecc5de698c222fba72e08e0ee5b",
            sha512: "67dad569eefc986a3b2424f5516d5a0284bb53d7b52d75f5ed881a6830a95765\
                     ccc82bc48752fb693422579f11dc9a400561ec1885af9eeef703dbbd312d4fd0",
        },
    ]
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn check_golden(hashes: &Hashes, golden: &Golden, how: &str) {
    let len = golden.input.len();
    assert_eq!(hashes.bytes, len as u64, "{how}, {len} bytes");
    let hex = |algorithm| hashes.get(algorithm).map(|digest| digest.to_hex());
    assert_eq!(hashes.blake3.to_hex(), golden.blake3, "{how}, {len} bytes");
    assert_eq!(hex(HashAlgorithm::Blake3).as_deref(), Some(golden.blake3));
    assert_eq!(hex(HashAlgorithm::Sha256).as_deref(), Some(golden.sha256));
    assert_eq!(hex(HashAlgorithm::Sha384).as_deref(), Some(golden.sha384));
    assert_eq!(hex(HashAlgorithm::Sha512).as_deref(), Some(golden.sha512));
}

#[test]
fn golden_digests_of_files_slices_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    for (index, golden) in goldens().iter().enumerate() {
        let path = write_temp(dir.path(), &format!("golden-{index}"), &golden.input);
        check_golden(&hash_file(&path, &ALL_EXTRAS).unwrap(), golden, "hash_file");

        let mut hashers = HasherSet::new(&ALL_EXTRAS);
        hashers.update(&golden.input);
        check_golden(&hashers.finalize(), golden, "HasherSet::update");

        let mut hashers = HasherSet::new(&ALL_EXTRAS);
        hashers.update_parallel(&golden.input);
        check_golden(&hashers.finalize(), golden, "HasherSet::update_parallel");

        let mut reader = HashingReader::new(
            std::fs::File::open(&path).unwrap(),
            HasherSet::new(&ALL_EXTRAS),
        );
        io::copy(&mut reader, &mut io::sink()).unwrap();
        check_golden(&reader.finish(), golden, "HashingReader");
    }
}

#[test]
fn file_and_stream_agree_around_the_mmap_threshold() {
    let threshold = usize::try_from(MMAP_THRESHOLD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sizes = [
        0,
        1,
        1023,
        1024,
        65_535,
        65_536,
        65_537,
        threshold - 1,
        threshold,
        threshold + 1,
        3 * threshold + 7,
        (4 << 20) + 1,
    ];
    let content = pattern(*sizes.iter().max().unwrap());
    for size in sizes {
        let bytes = &content[..size];
        let path = write_temp(dir.path(), &format!("size-{size}"), bytes);
        for extra in [&[][..], &[HashAlgorithm::Sha256][..], &ALL_EXTRAS[..]] {
            let from_file = hash_file(&path, extra).unwrap();

            // Independent references: the underlying crates, used directly.
            assert_eq!(
                from_file.blake3.as_bytes(),
                blake3::hash(bytes).as_bytes(),
                "{size} bytes"
            );
            if extra.contains(&HashAlgorithm::Sha256) {
                use sha2::Digest as _;
                let reference = sha2::Sha256::digest(bytes);
                let ours = from_file.get(HashAlgorithm::Sha256).unwrap();
                assert_eq!(ours.as_bytes(), &reference[..], "{size} bytes");
            }

            // Odd-sized slices, so that chunk and block boundaries fall everywhere.
            let mut hashers = HasherSet::new(extra);
            for piece in bytes.chunks(4093) {
                hashers.update(piece);
            }
            assert_eq!(hashers.bytes_seen(), size as u64);
            assert_eq!(hashers.finalize(), from_file, "{size} bytes, {extra:?}");

            let mut reader = HashingReader::new(bytes, HasherSet::new(extra));
            let mut copy = Vec::new();
            reader.read_to_end(&mut copy).unwrap();
            assert_eq!(copy, bytes);
            assert_eq!(reader.finish(), from_file, "{size} bytes, {extra:?}");
        }
    }
}

/// A reader that returns at most `max_piece` bytes per call and records the largest buffer it
/// was offered, to see what the hashing reader passes down.
struct PieceReader<'a> {
    remaining: &'a [u8],
    max_piece: usize,
    largest_buffer: usize,
    interrupt_next: bool,
}

impl Read for PieceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.largest_buffer = self.largest_buffer.max(buf.len());
        // Every other call is interrupted, as a signal would: nothing may be hashed for it.
        self.interrupt_next = !self.interrupt_next;
        if self.interrupt_next {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let len = buf.len().min(self.max_piece).min(self.remaining.len());
        buf[..len].copy_from_slice(&self.remaining[..len]);
        self.remaining = &self.remaining[len..];
        Ok(len)
    }
}

#[test]
fn sync_reader_hashes_short_and_interrupted_reads_exactly_and_keeps_buffers_whole() {
    let bytes = pattern(300_001);
    let inner = PieceReader {
        remaining: &bytes,
        max_piece: 777,
        largest_buffer: 0,
        interrupt_next: false,
    };
    let mut reader = HashingReader::new(inner, HasherSet::new(&[HashAlgorithm::Sha256]));
    let mut buffer = vec![0; 1 << 20];
    let mut total = 0;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(len) => total += len,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => panic!("{error}"),
        }
        assert_eq!(reader.bytes_seen(), total as u64);
    }
    assert_eq!(total, bytes.len());
    assert_eq!(reader.get_ref().largest_buffer, 1 << 20);
    let (inner, hashes) = reader.into_parts();
    assert!(inner.remaining.is_empty());

    let mut expected = HasherSet::new(&[HashAlgorithm::Sha256]);
    expected.update(&bytes);
    assert_eq!(hashes, expected.finalize());
}

#[test]
fn a_missing_file_is_an_open_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.whl");
    let error = hash_file(&path, &[]).unwrap_err();
    assert!(matches!(error, HashError::Open { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.starts_with("cannot open"), "{message}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_directory_is_a_read_error_naming_the_path() {
    // Opening a directory succeeds on Linux; reading it fails with EISDIR.
    let dir = tempfile::tempdir().unwrap();
    let error = hash_file(dir.path(), &[]).unwrap_err();
    assert!(matches!(error, HashError::Read { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn digest_file_computes_exactly_what_is_asked_in_that_order() {
    let threshold = usize::try_from(MMAP_THRESHOLD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let content = pattern(3 * threshold + 7);
    let subsets: [&[HashAlgorithm]; 6] = [
        &[HashAlgorithm::Sha256],
        &[HashAlgorithm::Sha512, HashAlgorithm::Sha256],
        &[HashAlgorithm::Sha384, HashAlgorithm::Sha384],
        &[HashAlgorithm::Blake3],
        &[HashAlgorithm::Sha256, HashAlgorithm::Blake3],
        &[],
    ];
    for size in [0, 1, threshold - 1, threshold, 3 * threshold + 7] {
        let bytes = &content[..size];
        let path = write_temp(dir.path(), &format!("digest-{size}"), bytes);
        let reference = hash_file(&path, &ALL_EXTRAS).unwrap();
        for subset in subsets {
            let digests = digest_file(&path, subset).unwrap();
            let mut expected: Vec<HashAlgorithm> = Vec::new();
            for algorithm in subset {
                if !expected.contains(algorithm) {
                    expected.push(*algorithm);
                }
            }
            let algorithms: Vec<HashAlgorithm> = digests.iter().map(|d| d.algorithm()).collect();
            assert_eq!(algorithms, expected, "{size} bytes, {subset:?}");
            for digest in &digests {
                assert_eq!(
                    Some(digest),
                    reference.get(digest.algorithm()),
                    "{size} bytes, {subset:?}"
                );
            }
        }
    }
    let missing = dir.path().join("missing");
    assert!(matches!(
        digest_file(&missing, &[HashAlgorithm::Sha256]),
        Err(HashError::Open { .. })
    ));
}
