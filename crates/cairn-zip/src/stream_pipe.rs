//! A pipe carrying one large entry's compressed bytes from the reading thread to the worker
//! inflating it, so that inflating starts with the first bytes instead of after the last.
//!
//! While the bytes in memory stay under a bound they queue there. Past it, the reading thread
//! waits for the worker if reading on would gain nothing (every worker is busy), and otherwise
//! writes them to an unnamed temporary file (page cache, not process memory) and queues them as
//! a range of it, so that it can move on to entries an idle worker could take. The worker takes
//! the pieces in order. A worker that keeps up (a download no faster than inflating) costs no
//! copy to the file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::file_range::read_at;

/// Bytes collected before they are queued as one piece.
const CHUNK_LEN: usize = 256 << 10;

/// How long a full pipe's writer waits before asking `read_ahead` again: a worker may have
/// become free meanwhile without this pipe hearing of it.
const RECHECK: Duration = Duration::from_millis(5);

/// Creates a pipe holding at most about `memory` bytes in memory (plus the chunk being filled
/// and the one being read). Past that the writer spills to a temporary file in `spill_dir` when
/// `read_ahead` says reading on is worth it, and waits for the reader when not. `read_ahead` is
/// called without the pipe's lock held.
pub(crate) fn pipe(
    memory: usize,
    spill_dir: &Path,
    read_ahead: impl Fn() -> bool + Send + 'static,
) -> (PipeWriter, PipeReader) {
    let shared = Arc::new(Shared {
        state: Mutex::default(),
        ready: Condvar::new(),
        space: Condvar::new(),
    });
    let writer = PipeWriter {
        shared: Arc::clone(&shared),
        chunk: Vec::new(),
        memory,
        read_ahead: Box::new(read_ahead),
        spill_dir: spill_dir.to_owned(),
        spill: None,
        spilled: 0,
        finished: false,
    };
    let reader = PipeReader {
        shared,
        current: Piece::Memory(Vec::new(), 0),
        spill_buffer: Vec::new(),
        spill_window: 0..0,
    };
    (writer, reader)
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a piece is queued or the writer is done.
    ready: Condvar,
    /// Signalled when the reader takes a piece from memory or goes away.
    space: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct State {
    pieces: VecDeque<Piece>,
    /// Bytes of the queued memory pieces.
    queued: usize,
    /// The spill file, once there is one, for the reader to read ranges of.
    spill: Option<Arc<File>>,
    end: End,
    /// The reader was dropped: what comes next is thrown away.
    reader_gone: bool,
    /// Emptied chunks the reader gave back, for the writer to fill again.
    spare: Vec<Vec<u8>>,
}

#[derive(Default, PartialEq, Eq)]
enum End {
    #[default]
    Open,
    Finished,
    /// The writer was dropped before it finished: the entry's bytes will never all arrive.
    Abandoned,
}

enum Piece {
    /// A chunk, and how much of it was read.
    Memory(Vec<u8>, usize),
    /// `len` bytes of the spill file from `offset`.
    Spilled { offset: u64, len: u64 },
}

/// The reading thread's end. Dropping it before [`finish`](Self::finish) makes the reader fail.
pub(crate) struct PipeWriter {
    shared: Arc<Shared>,
    chunk: Vec<u8>,
    memory: usize,
    read_ahead: Box<dyn Fn() -> bool + Send>,
    spill_dir: PathBuf,
    spill: Option<Arc<File>>,
    /// Bytes written to the spill file so far.
    spilled: u64,
    finished: bool,
}

impl PipeWriter {
    /// Queues what is left and tells the reader that nothing more comes; returns how many
    /// bytes went through the spill file.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        self.push_chunk()?;
        self.finished = true;
        self.shared.lock().end = End::Finished;
        self.shared.ready.notify_all();
        Ok(self.spilled)
    }

    /// Queues the chunk being filled: in memory if the bound allows; else, if reading on is
    /// worth it, appended to the spill file (written outside the lock, so the reader is not held
    /// up by the disk); else once the reader has made room.
    fn push_chunk(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        loop {
            let mut state = self.shared.lock();
            if state.reader_gone {
                self.chunk.clear();
                return Ok(());
            }
            // With nothing queued the chunk always goes in, even past a bound smaller than a
            // chunk, so that a writer waiting for room cannot wait for ever.
            if state.queued == 0 || state.queued + self.chunk.len() <= self.memory {
                let spare = state.spare.pop().unwrap_or_default();
                let chunk = std::mem::replace(&mut self.chunk, spare);
                state.queued += chunk.len();
                state.pieces.push_back(Piece::Memory(chunk, 0));
                drop(state);
                self.shared.ready.notify_one();
                return Ok(());
            }
            drop(state);
            // Asked without the pipe's lock: the pool takes its own lock, and drops queued
            // readers (which take this one) while holding it.
            if (self.read_ahead)() {
                break;
            }
            let state = self.shared.lock();
            if !state.reader_gone
                && state.queued > 0
                && state.queued + self.chunk.len() > self.memory
            {
                drop(
                    self.shared
                        .space
                        .wait_timeout(state, RECHECK)
                        .unwrap_or_else(PoisonError::into_inner),
                );
            }
        }
        let spill = match &self.spill {
            Some(spill) => Arc::clone(spill),
            None => {
                let spill = Arc::new(tempfile::tempfile_in(&self.spill_dir)?);
                self.shared.lock().spill = Some(Arc::clone(&spill));
                self.spill = Some(Arc::clone(&spill));
                spill
            }
        };
        write_all_at(&spill, &self.chunk, self.spilled)?;
        let piece = Piece::Spilled {
            offset: self.spilled,
            len: self.chunk.len() as u64,
        };
        self.spilled += self.chunk.len() as u64;
        self.chunk.clear();
        self.shared.lock().pieces.push_back(piece);
        self.shared.ready.notify_one();
        Ok(())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.chunk.capacity() == 0 {
            self.chunk.reserve_exact(CHUNK_LEN);
        }
        let take = bytes.len().min(CHUNK_LEN - self.chunk.len().min(CHUNK_LEN));
        self.chunk
            .extend_from_slice(bytes.get(..take).unwrap_or_default());
        if self.chunk.len() >= CHUNK_LEN {
            self.push_chunk()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.lock().end = End::Abandoned;
            self.shared.ready.notify_all();
        }
    }
}

/// The worker's end: the entry's bytes in order, waiting for them as they arrive.
pub(crate) struct PipeReader {
    shared: Arc<Shared>,
    current: Piece,
    /// Where bytes read from the spill file are served from.
    spill_buffer: Vec<u8>,
    /// The unread part of `spill_buffer`.
    spill_window: std::ops::Range<usize>,
}

impl std::fmt::Debug for PipeReader {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("PipeReader").finish_non_exhaustive()
    }
}

impl PipeReader {
    /// Waits for the next piece; `None` once the writer finished and everything was read.
    fn next_piece(&mut self) -> io::Result<Option<Piece>> {
        let mut state = self.shared.lock();
        if let Piece::Memory(chunk, _) =
            std::mem::replace(&mut self.current, Piece::Memory(Vec::new(), 0))
            && chunk.capacity() > 0
        {
            let mut chunk = chunk;
            chunk.clear();
            state.spare.push(chunk);
        }
        loop {
            if let Some(piece) = state.pieces.pop_front() {
                if let Piece::Memory(chunk, _) = &piece {
                    state.queued -= chunk.len();
                    self.shared.space.notify_one();
                }
                return Ok(Some(piece));
            }
            match state.end {
                End::Finished => return Ok(None),
                End::Abandoned => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the input ended inside the entry's data",
                    ));
                }
                End::Open => {
                    state = self
                        .shared
                        .ready
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }

    /// Reads the next part of a spilled range into the spill buffer.
    fn read_spill(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let spill = self
            .shared
            .lock()
            .spill
            .clone()
            .ok_or_else(|| io::Error::other("a spilled piece without a spill file"))?;
        if self.spill_buffer.is_empty() {
            self.spill_buffer.resize(CHUNK_LEN, 0);
        }
        let want = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(self.spill_buffer.len());
        let buffer = self.spill_buffer.get_mut(..want).unwrap_or_default();
        let read = read_at(&spill, buffer, offset)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the spill file is shorter than what was written to it",
            ));
        }
        self.spill_window = 0..read;
        self.current = Piece::Spilled {
            offset: offset + read as u64,
            len: len - read as u64,
        };
        Ok(())
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let take = available.len().min(out.len());
        out.get_mut(..take)
            .unwrap_or_default()
            .copy_from_slice(available.get(..take).unwrap_or_default());
        self.consume(take);
        Ok(take)
    }
}

impl BufRead for PipeReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            if !self.spill_window.is_empty() {
                return Ok(self
                    .spill_buffer
                    .get(self.spill_window.clone())
                    .unwrap_or_default());
            }
            match &self.current {
                Piece::Memory(chunk, read) if *read < chunk.len() => break,
                Piece::Spilled { offset, len } if *len > 0 => {
                    let (offset, len) = (*offset, *len);
                    self.read_spill(offset, len)?;
                }
                _ => match self.next_piece()? {
                    Some(piece) => self.current = piece,
                    None => return Ok(&[]),
                },
            }
        }
        match &self.current {
            Piece::Memory(chunk, read) => Ok(chunk.get(*read..).unwrap_or_default()),
            Piece::Spilled { .. } => Ok(&[]),
        }
    }

    fn consume(&mut self, amount: usize) {
        if !self.spill_window.is_empty() {
            self.spill_window.start = (self.spill_window.start + amount).min(self.spill_window.end);
        } else if let Piece::Memory(chunk, read) = &mut self.current {
            *read = (*read + amount).min(chunk.len());
        }
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.reader_gone = true;
        state.pieces.clear();
        state.queued = 0;
        drop(state);
        self.shared.space.notify_all();
    }
}

/// Writes all of `bytes` at `offset`: positioned, because the reader reads the same file at
/// its own offsets meanwhile.
fn write_all_at(file: &File, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    while !bytes.is_empty() {
        #[cfg(unix)]
        let result = std::os::unix::fs::FileExt::write_at(file, bytes, offset);
        #[cfg(windows)]
        let result = std::os::windows::fs::FileExt::seek_write(file, bytes, offset);
        match result {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(written) => {
                bytes = bytes.get(written..).unwrap_or_default();
                offset += written as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "stream_pipe_tests.rs"]
mod tests;
