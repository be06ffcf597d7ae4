//! Feeds chunks of bytes (an HTTP body's, or read from an async reader) to the streaming
//! extractor, which runs on a blocking thread so inflating and writing files never stall the
//! async runtime, and so the download keeps arriving while the previous chunk is being inflated.
//! Chunks are handed over as they come, not copied.

use std::io::{self, BufRead, Read};
use std::path::Path;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio_util::io::ReaderStream;

use super::error::UnzipError;
use super::limits::Limits;
use super::{ExtractReport, streaming};

/// Bytes asked of a reader at a time.
const CHUNK_LEN: usize = 256 << 10;
/// Chunks queued for the extractor: with chunks of at most a few hundred KiB (an HTTP
/// connection's reads, or [`CHUNK_LEN`]) this bounds the buffered input to a few MiB whatever
/// the archive's size.
const CHUNKS_IN_FLIGHT: usize = 16;

pub(crate) async fn extract_stream<R: AsyncRead + Unpin + Send>(
    reader: R,
    archive: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractReport, UnzipError> {
    extract_chunks(
        ReaderStream::with_capacity(reader, CHUNK_LEN),
        archive,
        dest,
        limits,
    )
    .await
}

pub(crate) async fn extract_chunks<S>(
    mut chunks: S,
    archive: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractReport, UnzipError>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin + Send,
{
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let source = ChunkSource {
        chunks: receiver,
        current: Bytes::new(),
    };
    let worker = {
        let (archive, dest, limits) = (archive.to_owned(), dest.to_owned(), limits.clone());
        tokio::task::spawn_blocking(move || streaming::extract(source, &archive, &dest, &limits))
    };
    let pumped = pump(&mut chunks, sender).await;
    let extracted = worker.await;
    match (pumped, extracted) {
        // The extractor saw the input end early; the reader's error is the real cause.
        (Err(source), _) => Err(UnzipError::Read {
            archive: archive.to_owned(),
            source,
        }),
        (Ok(()), Ok(result)) => result,
        (Ok(()), Err(error)) => Err(UnzipError::Worker {
            archive: archive.to_owned(),
            detail: error.to_string(),
        }),
    }
}

/// Hands each chunk to the extractor until the input ends or the extractor stops (having
/// failed: it only succeeds after seeing the end of the input).
async fn pump<S>(chunks: &mut S, sender: mpsc::Sender<Bytes>) -> io::Result<()>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
{
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        // The extractor reads an empty chunk as the end of the input.
        if !chunk.is_empty() && sender.send(chunk).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The extractor's side of the channel: a [`BufRead`] over the chunks as they arrive.
struct ChunkSource {
    chunks: mpsc::Receiver<Bytes>,
    /// The unread part of the chunk being read.
    current: Bytes,
}

impl BufRead for ChunkSource {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(next) => self.current = next,
                None => return Ok(&[]),
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.current.len());
        bytes::Buf::advance(&mut self.current, amount);
    }
}

impl Read for ChunkSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), available.get(..n)) {
            to.copy_from_slice(from);
        }
        self.consume(n);
        Ok(n)
    }
}
