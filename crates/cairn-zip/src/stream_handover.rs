//! The reading thread's side of the hand-over to the workers: taking each file's compressed
//! bytes off the input, into an in-memory batch or a pipe to a worker, and submitting the jobs.

use std::io::{BufRead, Write};
use std::num::NonZeroUsize;
use std::ops::Range;

use super::{Extraction, Failure};
use crate::error::{ArchiveProblem, UnzipError};
use crate::records::{LocalHeader, LocalSizes};
use crate::stream_jobs::{FileEntry, Job};
use crate::stream_pipe;
use crate::stream_workers::PoolSettings;
use crate::validate::METHOD_STORED;

/// How the work is split between the reading thread and the workers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// Worker threads and the memory their pending jobs may hold.
    pub(crate) pool: PoolSettings,
    /// Entries compressed to at most this many bytes are read into memory; larger ones are
    /// piped to a worker as they arrive.
    pub(crate) buffered_entry_max: u64,
    /// What one pipe holds in memory before it spills or waits for its worker (reserved from the
    /// pool's budget while its entry is being written).
    pub(crate) pipe_memory: usize,
    /// A batch of buffered entries is handed over once it holds this many bytes...
    pub(crate) batch_bytes: usize,
    /// ... or this many entries.
    pub(crate) batch_entries: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            pool: PoolSettings {
                threads: std::thread::available_parallelism().map_or(2, NonZeroUsize::get),
                // With the download's 4 MiB of queued chunks and the workers' buffers this keeps
                // the whole extraction well under 100 MiB, whatever the archive's size.
                budget: 32 << 20,
            },
            // Real wheels have a handful of entries above this (shared libraries), which carry
            // most of their bytes: 508 of torch's 537 MB are in five.
            buffered_entry_max: 4 << 20,
            // Some 20 ms of input for a worker inflating at full speed.
            pipe_memory: 8 << 20,
            // Small enough that the last batch does not keep one worker busy long after the
            // others are done; large enough that handing over costs nothing per file.
            batch_bytes: 512 << 10,
            batch_entries: 32,
        }
    }
}

/// Consecutive small entries and their compressed bytes, handed over as one job.
#[derive(Default)]
pub(super) struct Batch {
    data: Vec<u8>,
    entries: Vec<(FileEntry, Range<usize>)>,
}

impl<R: BufRead> Extraction<'_, R> {
    /// Whether a file of known size goes to the workers. A large stored entry is copied from
    /// the input to its file right here instead: there is nothing to inflate, so piping it
    /// would only copy it once more.
    pub(super) fn goes_to_workers(&self, method: u16, sizes: &LocalSizes) -> bool {
        method != METHOD_STORED || sizes.compressed <= self.tuning.buffered_entry_max
    }

    /// Takes the entry's compressed bytes off the input and hands the file to the workers:
    /// in memory, batched with its neighbours, when small; through a pipe when not.
    pub(super) fn hand_over(
        &mut self,
        path: &str,
        header: &LocalHeader,
        sizes: &LocalSizes,
    ) -> Result<(), Failure> {
        let entry = FileEntry {
            name: path.into(),
            method: header.method,
            crc32: header.crc32,
            compressed: sizes.compressed,
            uncompressed: sizes.uncompressed,
        };
        if sizes.compressed <= self.tuning.buffered_entry_max {
            self.buffer_entry(entry)
        } else {
            self.flush().map_err(Failure::Complete)?;
            self.pipe_entry(entry)
        }
    }

    /// Reads a small entry's compressed bytes into the current batch, once the workers' memory
    /// budget has room for them.
    pub(super) fn buffer_entry(&mut self, entry: FileEntry) -> Result<(), Failure> {
        let len = entry.compressed;
        if !self.workers.try_reserve(len) {
            // What is reserved must be submitted before waiting for the workers to free it.
            self.flush().map_err(Failure::Complete)?;
            if !self.workers.reserve(len) {
                return Err(Failure::Complete(self.stopped()));
            }
        }
        if self.batch.entries.is_empty() {
            self.batch.data = self.workers.buffer();
        }
        let mut data = std::mem::take(&mut self.batch.data);
        let start = data.len();
        let copied = self.copy_data(len, &mut data);
        let end = data.len();
        self.batch.data = data;
        copied?;
        self.batch.entries.push((entry, start..end));
        if end >= self.tuning.batch_bytes || self.batch.entries.len() >= self.tuning.batch_entries {
            self.flush().map_err(Failure::Complete)?;
        }
        Ok(())
    }

    /// Hands a large entry to the workers at once, then feeds it its compressed bytes as they
    /// come off the input, so that a worker inflates while the rest arrives. When the worker
    /// falls behind, the pipe spills to an unnamed temporary file in `dest` (nothing outside it
    /// is touched, nothing is left behind) if another worker is free to take what comes next,
    /// and waits for the worker if not.
    pub(super) fn pipe_entry(&mut self, entry: FileEntry) -> Result<(), Failure> {
        let memory = self.tuning.pipe_memory;
        if !self.workers.reserve(memory as u64) {
            return Err(Failure::Complete(self.stopped()));
        }
        let (mut writer, input) =
            stream_pipe::pipe(memory, self.dest, self.workers.free_worker_probe());
        let compressed = entry.compressed;
        let name = entry.name.clone();
        self.workers
            .submit(Job::Piped {
                input,
                entry,
                memory: memory as u64,
            })
            .map_err(Failure::Complete)?;
        self.copy_data(compressed, &mut writer)?;
        let spilled = writer.finish().map_err(|source| Failure::Write {
            path: self.dest.to_owned(),
            source,
        })?;
        tracing::debug!(entry = %name, compressed, spilled, "piped an entry to a worker");
        Ok(())
    }

    /// Moves the next `len` bytes of input to `to`, giving up if the workers stopped.
    pub(super) fn copy_data(&mut self, len: u64, to: &mut impl Write) -> Result<(), Failure> {
        let mut left = len;
        while left > 0 {
            if self.workers.stopped() {
                return Err(Failure::Complete(self.stopped()));
            }
            let available = self.input.fill_buf().map_err(Failure::Read)?;
            if available.is_empty() {
                return Err(Failure::Archive(ArchiveProblem::Truncated {
                    offset: self.input.position,
                    expected: "the entry's data",
                }));
            }
            let take = available
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let bytes = available.get(..take).unwrap_or_default();
            to.write_all(bytes).map_err(|source| Failure::Write {
                path: self.dest.to_owned(),
                source,
            })?;
            self.input.consume(take);
            left -= take as u64;
        }
        Ok(())
    }

    /// Writes the last batch: here when it is the only one (most small wheels fit in one
    /// batch), else on a worker.
    pub(super) fn flush_last(&mut self) -> Result<(), UnzipError> {
        if self.workers.has_threads() || self.batch.entries.is_empty() {
            return self.flush();
        }
        let Batch { data, entries } = std::mem::take(&mut self.batch);
        self.workers
            .run_here(Job::Buffered { data, entries }, &mut self.decoder)
    }

    /// Hands the current batch to the workers.
    pub(super) fn flush(&mut self) -> Result<(), UnzipError> {
        if self.batch.entries.is_empty() {
            return Ok(());
        }
        let Batch { data, entries } = std::mem::take(&mut self.batch);
        self.workers.submit(Job::Buffered { data, entries })
    }
}
