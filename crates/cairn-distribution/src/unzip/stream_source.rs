//! Feeds bytes from an async reader to the streaming extractor, which runs on a blocking thread
//! so inflating and writing files never stall the async runtime, and so the download keeps
//! arriving while the previous chunk is being inflated.

use std::io::{self, BufRead, Read};
use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::error::UnzipError;
use super::limits::Limits;
use super::{ExtractReport, streaming};

/// Bytes asked of the reader at a time.
const CHUNK_LEN: usize = 256 << 10;
/// Chunks queued for the extractor: with [`CHUNK_LEN`] this bounds the buffered input to 4 MiB
/// whatever the archive's size.
const CHUNKS_IN_FLIGHT: usize = 16;

pub(crate) async fn extract_stream<R: AsyncRead + Unpin + Send>(
    mut reader: R,
    archive: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractReport, UnzipError> {
    let (chunks, chunks_rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let (spare_tx, mut spare) = mpsc::unbounded_channel();
    let source = ChunkSource {
        chunks: chunks_rx,
        spare: spare_tx,
        current: Vec::new(),
        consumed: 0,
    };
    let worker = {
        let (archive, dest, limits) = (archive.to_owned(), dest.to_owned(), limits.clone());
        tokio::task::spawn_blocking(move || streaming::extract(source, &archive, &dest, &limits))
    };
    let pumped = pump(&mut reader, chunks, &mut spare).await;
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

/// Reads `reader` to its end, handing each chunk to the extractor, until the reader ends or the
/// extractor stops (having failed: it only succeeds after seeing the end of the input).
async fn pump<R: AsyncRead + Unpin>(
    reader: &mut R,
    chunks: mpsc::Sender<Vec<u8>>,
    spare: &mut mpsc::UnboundedReceiver<Vec<u8>>,
) -> io::Result<()> {
    loop {
        let mut chunk = spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK_LEN));
        chunk.clear();
        if reader.read_buf(&mut chunk).await? == 0 {
            return Ok(());
        }
        if chunks.send(chunk).await.is_err() {
            return Ok(());
        }
    }
}

/// The extractor's side of the channel: a [`BufRead`] over the chunks as they arrive, which
/// hands emptied chunks back for reuse.
struct ChunkSource {
    chunks: mpsc::Receiver<Vec<u8>>,
    spare: mpsc::UnboundedSender<Vec<u8>>,
    current: Vec<u8>,
    consumed: usize,
}

impl BufRead for ChunkSource {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.consumed >= self.current.len() {
            let Some(next) = self.chunks.blocking_recv() else {
                return Ok(&[]);
            };
            let done = std::mem::replace(&mut self.current, next);
            self.consumed = 0;
            if done.capacity() > 0 {
                // The pump may have finished; then the chunk is simply dropped.
                let _ = self.spare.send(done);
            }
        }
        Ok(self.current.get(self.consumed..).unwrap_or_default())
    }

    fn consume(&mut self, amount: usize) {
        self.consumed = self.consumed.saturating_add(amount).min(self.current.len());
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
