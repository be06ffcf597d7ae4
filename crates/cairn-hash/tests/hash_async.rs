//! The async hashing reader on real tokio files and on a duplex stream fed in odd pieces.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use cairn_hash::{HashAlgorithm, HasherSet, HashingAsyncReader, hash_file};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

const EXTRAS: [HashAlgorithm; 2] = [HashAlgorithm::Sha256, HashAlgorithm::Sha512];

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn tokio_file_hashes_like_hash_file() {
    let dir = tempfile::tempdir().unwrap();
    // Larger than tokio's 2 MiB file buffer, so the file is read in several blocking reads.
    let bytes = pattern((3 << 20) + 17);
    let path = dir.path().join("wheel.whl");
    tokio::fs::write(&path, &bytes).await.unwrap();

    let file = tokio::fs::File::open(&path).await.unwrap();
    let mut reader = HashingAsyncReader::new(file, HasherSet::new(&EXTRAS));
    let copied = tokio::io::copy(&mut reader, &mut tokio::io::sink())
        .await
        .unwrap();
    assert_eq!(copied, bytes.len() as u64);
    assert_eq!(reader.bytes_seen(), copied);

    let expected = hash_file(&path, &EXTRAS).unwrap();
    let (_file, hashes) = reader.into_parts();
    assert_eq!(hashes, expected);
}

#[tokio::test]
async fn duplex_stream_written_in_odd_pieces() {
    let bytes = pattern(1_000_003);
    let (mut writer, reader) = tokio::io::duplex(4096);
    let to_write = bytes.clone();
    let writing = tokio::spawn(async move {
        let piece_sizes = [1, 7, 4093, 65_537, 13, 250_001];
        let mut rest = to_write.as_slice();
        for size in piece_sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*size).min(rest.len()));
            writer.write_all(piece).await.unwrap();
            rest = tail;
        }
        writer.shutdown().await.unwrap();
    });

    let mut reader = HashingAsyncReader::new(reader, HasherSet::new(&EXTRAS));
    let mut received = Vec::new();
    reader.read_to_end(&mut received).await.unwrap();
    writing.await.unwrap();
    assert_eq!(received, bytes);

    let mut expected = HasherSet::new(&EXTRAS);
    expected.update(&bytes);
    assert_eq!(reader.finish(), expected.finalize());
}

#[tokio::test]
async fn bytes_already_in_the_callers_buffer_are_not_hashed() {
    let mut reader = HashingAsyncReader::new(&b"abc"[..], HasherSet::new(&[]));
    let mut storage = [0u8; 16];
    let mut buf = ReadBuf::new(&mut storage);
    buf.put_slice(b"old");
    poll_fn(|cx| Pin::new(&mut reader).poll_read(cx, &mut buf))
        .await
        .unwrap();
    assert_eq!(buf.filled(), b"oldabc");
    assert_eq!(reader.bytes_seen(), 3);
    assert_eq!(
        reader.finish().blake3.to_hex(),
        blake3::hash(b"abc").to_hex().as_str()
    );
}

/// Records the largest free space it was offered and fills all of it.
struct RecordingReader {
    largest_offer: usize,
    remaining: usize,
}

impl AsyncRead for RecordingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.largest_offer = self.largest_offer.max(buf.remaining());
        let len = buf.remaining().min(self.remaining);
        buf.put_slice(&vec![0x5a; len]);
        self.remaining -= len;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn async_reader_passes_the_callers_whole_buffer_down() {
    let inner = RecordingReader {
        largest_offer: 0,
        remaining: 3 << 20,
    };
    let mut reader = HashingAsyncReader::new(inner, HasherSet::new(&[]));
    let mut buffer = vec![0; 1 << 20];
    let first = reader.read(&mut buffer).await.unwrap();
    assert_eq!(first, 1 << 20);
    assert_eq!(reader.get_ref().largest_offer, 1 << 20);
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).await.unwrap();
    assert_eq!(reader.bytes_seen(), 3 << 20);
    assert_eq!(
        reader.finish().blake3.as_bytes(),
        blake3::hash(&vec![0x5a; 3 << 20]).as_bytes()
    );
}
