//! The work the streaming extractor hands to its worker threads: files whose compressed bytes
//! the reading thread has already taken off the stream, each to be created, inflated, written
//! and checked against its local header.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::decode::{CompressedLen, DecodeError, EntryDecoder};
use super::error::{EntryProblem, UnzipError};
use super::output;
use super::stream_pipe::PipeReader;

/// A regular file to write, as its (validated) local header describes it.
#[derive(Debug)]
pub(crate) struct FileEntry {
    /// The entry's name: a validated relative path, also its path under the destination.
    pub(crate) name: Box<str>,
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    pub(crate) compressed: u64,
    pub(crate) uncompressed: u64,
}

/// One unit of work for a worker thread.
#[derive(Debug)]
pub(crate) enum Job {
    /// Consecutive small entries whose compressed bytes are held in `data`.
    Buffered {
        data: Vec<u8>,
        entries: Vec<(FileEntry, Range<usize>)>,
    },
    /// One entry too large to hold in memory, whose compressed bytes the reading thread feeds
    /// through a pipe as they arrive; `memory` is what the pipe may hold, reserved from the
    /// budget.
    Piped {
        input: PipeReader,
        entry: FileEntry,
        memory: u64,
    },
}

/// What every job needs besides itself.
pub(crate) struct JobContext {
    archive: Box<str>,
    dest: PathBuf,
    stop: Arc<AtomicBool>,
}

impl JobContext {
    pub(crate) fn new(archive: &str, dest: &Path, stop: Arc<AtomicBool>) -> Self {
        Self {
            archive: archive.into(),
            dest: dest.to_owned(),
            stop,
        }
    }

    pub(crate) fn archive(&self) -> &str {
        &self.archive
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl Job {
    /// The bytes of memory this job holds, as reserved from the pool's budget.
    pub(crate) fn memory(&self) -> u64 {
        match self {
            Self::Buffered { data, .. } => data.len() as u64,
            Self::Piped { memory, .. } => *memory,
        }
    }

    /// Whether the job is a large entry fed through a pipe.
    pub(crate) fn is_piped(&self) -> bool {
        matches!(self, Self::Piped { .. })
    }

    /// Writes the job's files, stopping at the first error or when the pool stops; gives back
    /// the emptied buffer for reuse.
    pub(crate) fn run(
        self,
        context: &JobContext,
        decoder: &mut EntryDecoder,
    ) -> (Result<(), UnzipError>, Option<Vec<u8>>) {
        match self {
            Self::Buffered { mut data, entries } => {
                let mut result = Ok(());
                for (entry, range) in &entries {
                    if context.stopped() {
                        break;
                    }
                    let mut input = data.get(range.clone()).unwrap_or_default();
                    result = write_entry(context, decoder, entry, &mut input, |_| {
                        // The bytes are exactly the entry's compressed data: running out means
                        // the deflate stream is longer than declared.
                        UnzipError::Entry {
                            archive: context.archive.to_string(),
                            entry: entry.name.to_string(),
                            problem: EntryProblem::CorruptDeflate {
                                detail: "the stream runs past the declared compressed size"
                                    .to_owned(),
                            },
                        }
                    });
                    if result.is_err() {
                        break;
                    }
                }
                data.clear();
                (result, Some(data))
            }
            Self::Piped {
                mut input, entry, ..
            } => {
                let result = if context.stopped() {
                    Ok(())
                } else {
                    // The pipe ends after exactly the entry's bytes, or early with an error if
                    // the input did.
                    write_entry(context, decoder, &entry, &mut input, |source| {
                        UnzipError::Read {
                            archive: context.archive.to_string(),
                            source,
                        }
                    })
                };
                (result, None)
            }
        }
    }
}

/// Creates the entry's file and writes its data from `input`, then checks size and CRC-32.
fn write_entry(
    context: &JobContext,
    decoder: &mut EntryDecoder,
    entry: &FileEntry,
    input: &mut impl io::BufRead,
    input_failed: impl FnOnce(io::Error) -> UnzipError,
) -> Result<(), UnzipError> {
    let path = context.dest.join(&*entry.name);
    let write_error = |path: PathBuf, source| UnzipError::Write {
        archive: context.archive.to_string(),
        entry: entry.name.to_string(),
        path,
        source,
    };
    let entry_error = |problem| UnzipError::Entry {
        archive: context.archive.to_string(),
        entry: entry.name.to_string(),
        problem,
    };
    let file =
        output::create_file(&path, false).map_err(|source| write_error(path.clone(), source))?;
    let mut output = StopAware {
        file,
        stop: &context.stop,
    };
    let decoded = decoder
        .decode(
            entry.method,
            CompressedLen::Known(entry.compressed),
            entry.uncompressed,
            input,
            &mut output,
            // The reading thread checked the declared sizes against the limits, and no entry may
            // produce more than it declared.
            &mut |_, _| Ok(()),
        )
        .map_err(|error| match error {
            DecodeError::Entry(problem) => entry_error(problem),
            DecodeError::Output(source) => write_error(path.clone(), source),
            DecodeError::Input(source) => input_failed(source),
            DecodeError::Limit(problem) => UnzipError::Limit {
                archive: context.archive.to_string(),
                entry: Some(entry.name.to_string()),
                problem,
            },
        })?;
    decoded
        .check(entry.crc32, entry.compressed, entry.uncompressed)
        .map_err(entry_error)
}

/// The entry's file, failing every write once the pool has stopped, so a large entry being
/// written when another fails is abandoned within one buffer.
struct StopAware<'a> {
    file: File,
    stop: &'a AtomicBool,
}

impl Write for StopAware<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other(
                "extraction stopped after another entry failed",
            ));
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
