//! Extraction of an archive read front to back exactly once, as it arrives.
//!
//! One thread reads the archive, parses and validates each local header in order, creates the
//! directories, and hands each file to the worker threads of [`stream_workers`]: small entries
//! are read into memory in batches, entries too large for that go to a worker at once, their
//! bytes following through a [`stream_pipe`]. When that worker falls behind, the reading thread
//! spills to an unnamed temporary file if another worker is free to take what comes next, and
//! waits otherwise. Only entries whose size is unknown (a data descriptor follows their data),
//! and large stored entries (nothing to inflate: a pipe would only copy them once more), are
//! written by the reading thread itself. The central directory that follows is then checked
//! against what the local headers said; only it knows which files are executable, so their mode
//! is set at the very end, once every worker has finished.
//!
//! [`stream_workers`]: super::stream_workers
//! [`stream_pipe`]: super::stream_pipe
//!
//! Why our own parser rather than `async_zip`'s stream reader: that reader skips data
//! descriptors without checking them (and always as 4-byte sizes, so Zip64 descriptors
//! desynchronise it), reads a stored entry with a descriptor as "until the end of input", and
//! stops at the central directory, leaving it for us to parse anyway. It also hides the byte
//! offsets we need to match the central directory to the local headers and to find hidden bytes,
//! and it inflates on the async runtime. This parser shares the record decoding and every
//! validation rule with the parallel extractor, runs on a blocking thread fed by the download,
//! and inflates with the same zlib-rs inflater.

use std::io::{self, BufRead, Read};
use std::path::Path;

use super::decode::{CompressedLen, DecodeError, Decoded, EntryDecoder};
use super::error::{ArchiveProblem, EntryProblem, LimitProblem, UnzipError, display_name};
use super::limits::Limits;
use super::output;
use super::records::{
    self, CENTRAL_HEADER_LEN, CENTRAL_HEADER_SIGNATURE, CentralHeader, DATA_DESCRIPTOR_SIGNATURE,
    END_LEN, END_SIGNATURE, End, LOCAL_HEADER_LEN, LOCAL_HEADER_SIGNATURE, LocalHeader,
    ZIP64_END_LEN, ZIP64_END_SIGNATURE, ZIP64_LOCATOR_LEN, ZIP64_LOCATOR_SIGNATURE, Zip64End,
    Zip64Locator,
};
use super::stream_workers::{PoolStats, WorkerPool};
use super::validate::{self, EntryKind, EntryName, HeaderFields, METHOD_STORED, PathTree};
use super::{ExtractReport, ExtractedFile};
use handover::Batch;
pub(crate) use handover::Tuning;

/// Extracts the archive `input` holds into `dest`, reading it to its end.
pub(crate) fn extract(
    input: impl BufRead,
    archive: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractReport, UnzipError> {
    extract_tuned(input, archive, dest, limits, &Tuning::default()).0
}

/// [`extract`] with explicit tuning; also says what the worker pool observed.
pub(crate) fn extract_tuned(
    input: impl BufRead,
    archive: &str,
    dest: &Path,
    limits: &Limits,
    tuning: &Tuning,
) -> (Result<ExtractReport, UnzipError>, PoolStats) {
    let mut extraction = Extraction {
        archive,
        dest,
        limits,
        tuning,
        input: Positioned {
            inner: input,
            position: 0,
        },
        tree: PathTree::default(),
        decoder: EntryDecoder::new(),
        locals: Vec::new(),
        declared: 0,
        produced: 0,
        files: 0,
        scratch: Vec::new(),
        workers: WorkerPool::new(archive, dest, tuning.pool),
        batch: Batch::default(),
    };
    let read = extraction.read_archive();
    if read.is_err() {
        extraction.workers.stop();
    }
    // Joins every worker, whatever happened: nothing may write into `dest` after we return.
    let written = extraction.workers.finish();
    let stats = extraction.workers.stats();
    let result = match (read, written) {
        // A worker's entry comes before wherever the reading thread was, so its error is the
        // one an extraction in archive order would have reported.
        (_, Err(error)) | (Err(error), Ok(())) => Err(error),
        (Ok(executables), Ok(())) => extraction.report(&executables),
    };
    (result, stats)
}

/// What a local header (and its data descriptor, and the data itself) said about an entry.
struct LocalRecord {
    offset: u64,
    name: Box<str>,
    flags: u16,
    method: u16,
    crc32: u32,
    compressed: u64,
    uncompressed: u64,
    is_dir: bool,
    listed: bool,
    /// Set from the central directory, which alone carries the mode.
    executable: bool,
}

/// A [`BufRead`] that knows how far into the archive it is.
struct Positioned<R> {
    inner: R,
    position: u64,
}

impl<R: BufRead> Read for Positioned<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Positioned<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.position += amount as u64;
    }
}

struct Extraction<'a, R> {
    archive: &'a str,
    dest: &'a Path,
    limits: &'a Limits,
    tuning: &'a Tuning,
    input: Positioned<R>,
    tree: PathTree,
    decoder: EntryDecoder,
    /// In archive order, so sorted by offset.
    locals: Vec<LocalRecord>,
    /// Uncompressed bytes the local headers declared (data-descriptor entries excluded).
    declared: u64,
    /// Uncompressed bytes written, counting the entries handed to the workers at their
    /// declared size: they fail unless they produce exactly that.
    produced: u64,
    files: u64,
    /// Holds each record's variable fields in turn.
    scratch: Vec<u8>,
    workers: WorkerPool,
    /// Small entries read but not yet handed to the workers.
    batch: Batch,
}

impl<R: BufRead> Extraction<'_, R> {
    /// Reads every local entry, handing files to the workers, then the central directory;
    /// returns the indices of the local entries to make executable.
    fn read_archive(&mut self) -> Result<Vec<usize>, UnzipError> {
        loop {
            if self.workers.stopped() {
                return Err(self.stopped());
            }
            let offset = self.input.position;
            let signature = self.read_u32("a local header or the central directory")?;
            if signature != LOCAL_HEADER_SIGNATURE {
                self.flush_last()?;
                return self.read_central_directory(offset, signature);
            }
            self.local_entry(offset)?;
        }
    }

    /// What the reading thread reports when it gave up because a worker failed: never shown,
    /// since the worker's error takes its place.
    fn stopped(&self) -> UnzipError {
        UnzipError::Worker {
            archive: self.archive.to_owned(),
            detail: "stopped after another entry failed".to_owned(),
        }
    }

    /// Reads and extracts one local entry whose signature was just read.
    fn local_entry(&mut self, offset: u64) -> Result<(), UnzipError> {
        let mut fixed = [0u8; LOCAL_HEADER_LEN];
        let (signature, rest) = fixed.split_at_mut(4);
        signature.copy_from_slice(&LOCAL_HEADER_SIGNATURE.to_le_bytes());
        self.read_exact(rest, "a local header")?;
        let header =
            LocalHeader::parse(&fixed).ok_or(self.malformed(ArchiveProblem::UnexpectedRecord {
                offset,
                expected: "a local header",
            }))?;
        let mut variable = std::mem::take(&mut self.scratch);
        variable.resize(header.variable_len(), 0);
        self.read_exact(&mut variable, "a local header")?;
        let (raw_name, extra) = variable.split_at(usize::from(header.name_len));
        let entry = display_name(raw_name);
        let record = self
            .local_entry_data(offset, &header, raw_name, extra)
            .map_err(|failure| failure.into_error(self.archive, &entry))?;
        self.scratch = variable;
        self.locals.push(record);
        Ok(())
    }

    fn local_entry_data(
        &mut self,
        offset: u64,
        header: &LocalHeader,
        raw_name: &[u8],
        extra: &[u8],
    ) -> Result<LocalRecord, Failure> {
        let name = validate::entry_name(raw_name)?;
        validate::unicode_path_agrees(raw_name, extra)?;
        validate::implemented(header.flags, header.method, header.version_needed)?;
        let sizes = header.sizes(extra)?;
        self.limits
            .check_entries(self.locals.len() as u64 + 1)
            .map_err(Failure::Limit)?;
        let has_descriptor = header.flags & records::flags::DATA_DESCRIPTOR != 0;
        if has_descriptor && header.method == METHOD_STORED {
            return Err(Failure::StreamingUnsupported(
                "its stored data is followed by a data descriptor, so its length is unknown \
                 until it has been read",
            ));
        }
        let new_dirs = self.tree.insert(name)?;
        self.create_new_dirs(new_dirs)?;

        let data_start = self.input.position;
        let compressed_len = if has_descriptor {
            CompressedLen::UntilStreamEnd
        } else {
            self.declared = self.declared.saturating_add(sizes.uncompressed);
            self.limits
                .check_output(self.declared, data_start.saturating_add(sizes.compressed))
                .map_err(Failure::Limit)?;
            CompressedLen::Known(sizes.compressed)
        };
        let record = |crc32, compressed, uncompressed| LocalRecord {
            offset,
            name: std::str::from_utf8(raw_name).unwrap_or_default().into(),
            flags: header.flags,
            method: header.method,
            crc32,
            compressed,
            uncompressed,
            is_dir: name.is_dir,
            listed: false,
            executable: false,
        };
        if !name.is_dir && !has_descriptor && self.goes_to_workers(header.method, &sizes) {
            self.hand_over(name.path, header, &sizes)?;
            self.produced = self.produced.saturating_add(sizes.uncompressed);
            self.files += 1;
            return Ok(record(header.crc32, sizes.compressed, sizes.uncompressed));
        }
        let max_uncompressed = match (name.is_dir, has_descriptor) {
            (true, _) => 0,
            (false, true) => u64::MAX,
            (false, false) => sizes.uncompressed,
        };
        if !name.is_dir {
            // The workers should not sit idle while this one is inflated here.
            self.flush().map_err(Failure::Complete)?;
        }
        let decoded = self.write_data(name, header.method, compressed_len, max_uncompressed)?;
        self.produced = self.produced.saturating_add(decoded.uncompressed);

        let (crc32, compressed, uncompressed) = if has_descriptor {
            let descriptor = self.read_data_descriptor(sizes.zip64)?;
            (
                descriptor.crc32,
                descriptor.compressed,
                descriptor.uncompressed,
            )
        } else {
            (header.crc32, sizes.compressed, sizes.uncompressed)
        };
        decoded.check(crc32, compressed, uncompressed)?;
        if !name.is_dir {
            self.files += 1;
        }
        Ok(record(crc32, compressed, uncompressed))
    }

    /// Creates the directories the last entry introduced, parents first.
    fn create_new_dirs(&self, count: usize) -> Result<(), Failure> {
        let dirs = self.tree.dirs();
        for dir in dirs.get(dirs.len() - count..).unwrap_or_default() {
            let path = self.dest.join(&**dir);
            output::create_dir(&path).map_err(|source| Failure::Write { path, source })?;
        }
        Ok(())
    }

    /// Writes the entry's data (a directory's must be empty) while enforcing the limits.
    fn write_data(
        &mut self,
        name: EntryName<'_>,
        method: u16,
        compressed_len: CompressedLen,
        max_uncompressed: u64,
    ) -> Result<Decoded, Failure> {
        let (limits, produced_before) = (self.limits, self.produced);
        let data_start = self.input.position;
        let mut check_limits = |entry_out: u64, entry_in: u64| {
            limits.check_output(
                produced_before.saturating_add(entry_out),
                data_start.saturating_add(entry_in),
            )
        };
        let mut path = None;
        let result = if name.is_dir {
            self.decoder.decode(
                method,
                compressed_len,
                max_uncompressed,
                &mut self.input,
                &mut io::sink(),
                &mut check_limits,
            )
        } else {
            let file_path = path.insert(self.dest.join(name.path));
            let mut file =
                output::create_file(file_path, false).map_err(|source| Failure::Write {
                    path: file_path.clone(),
                    source,
                })?;
            self.decoder.decode(
                method,
                compressed_len,
                max_uncompressed,
                &mut self.input,
                &mut file,
                &mut check_limits,
            )
        };
        result.map_err(|error| match error {
            DecodeError::Output(source) => Failure::Write {
                path: path.unwrap_or_default(),
                source,
            },
            DecodeError::Input(source) if source.kind() == io::ErrorKind::UnexpectedEof => {
                Failure::Archive(ArchiveProblem::Truncated {
                    offset: self.input.position,
                    expected: "the entry's data",
                })
            }
            DecodeError::Input(source) => Failure::Read(source),
            DecodeError::Entry(EntryProblem::SizeMismatch { .. }) if name.is_dir => {
                Failure::Entry(EntryProblem::DirectoryWithData)
            }
            DecodeError::Entry(problem) => Failure::Entry(problem),
            DecodeError::Limit(problem) => Failure::Limit(problem),
        })
    }

    /// Reads a data descriptor, with or without its optional signature.
    fn read_data_descriptor(&mut self, zip64: bool) -> Result<records::DataDescriptor, Failure> {
        let mut body = [0u8; 20];
        let body = body
            .get_mut(..records::data_descriptor_body_len(zip64))
            .unwrap_or_default();
        let expected = "a data descriptor";
        let (first, rest) = body.split_at_mut(4);
        self.read_exact(first, expected)
            .map_err(Failure::Complete)?;
        if records::read_u32(first) == Some(DATA_DESCRIPTOR_SIGNATURE) {
            self.read_exact(first, expected)
                .map_err(Failure::Complete)?;
        }
        self.read_exact(rest, expected).map_err(Failure::Complete)?;
        Ok(records::parse_data_descriptor_body(body, zip64))
    }

    /// Reads the central directory and end records that start at `offset` with `signature`,
    /// checks them against the local entries, and requires the input to end right after;
    /// returns the indices of the local entries to make executable.
    fn read_central_directory(
        &mut self,
        offset: u64,
        signature: u32,
    ) -> Result<Vec<usize>, UnzipError> {
        let directory_offset = offset;
        let mut signature = signature;
        let mut listed = 0u64;
        let mut executables = Vec::new();
        while signature == CENTRAL_HEADER_SIGNATURE {
            let index = self.central_entry()?;
            listed += 1;
            if let Some(index) = index {
                executables.push(index);
            }
            signature = self.read_u32("the central directory")?;
        }
        let directory_size = self.input.position - 4 - directory_offset;

        let mut zip64 = None;
        if signature == ZIP64_END_SIGNATURE {
            let record_offset = self.input.position - 4;
            let record = self.read_record::<ZIP64_END_LEN, _>(
                ZIP64_END_SIGNATURE,
                "the Zip64 end of central directory record",
                Zip64End::parse,
            )?;
            let extensible =
                record
                    .extensible_len()
                    .ok_or(self.malformed(ArchiveProblem::InconsistentEnd {
                        offset: record_offset,
                        detail: "the Zip64 end record declares an impossible size",
                    }))?;
            self.skip(extensible, "the Zip64 end of central directory record")?;
            let locator_offset = self.input.position;
            if self.read_u32("the Zip64 end of central directory locator")?
                != ZIP64_LOCATOR_SIGNATURE
            {
                return Err(self.malformed(ArchiveProblem::UnexpectedRecord {
                    offset: locator_offset,
                    expected: "the Zip64 end of central directory locator",
                }));
            }
            let locator = self.read_record::<ZIP64_LOCATOR_LEN, _>(
                ZIP64_LOCATOR_SIGNATURE,
                "the Zip64 end of central directory locator",
                Zip64Locator::parse,
            )?;
            if locator.record_offset != record_offset {
                return Err(self.malformed(ArchiveProblem::InconsistentEnd {
                    offset: locator_offset,
                    detail: "the Zip64 locator points away from the Zip64 end record",
                }));
            }
            zip64 = Some((locator, record, record_offset));
            signature = self.read_u32("the end of central directory record")?;
        }
        if signature != END_SIGNATURE {
            return Err(self.malformed(ArchiveProblem::UnexpectedRecord {
                offset: self.input.position - 4,
                expected: if listed == 0 && zip64.is_none() {
                    "a local header or the central directory"
                } else {
                    "the end of central directory record"
                },
            }));
        }
        let end = self.read_record::<END_LEN, _>(
            END_SIGNATURE,
            "the end of central directory record",
            End::parse,
        )?;
        let end_offset = self.input.position - END_LEN as u64;
        let extent = records::directory_extent(
            &end,
            end_offset,
            zip64.as_ref().map(|(l, r, at)| (l, r, *at)),
        )
        .map_err(|problem| self.malformed(problem))?;
        if extent.offset != directory_offset
            || extent.size != directory_size
            || extent.entries != listed
        {
            return Err(self.malformed(ArchiveProblem::InconsistentEnd {
                offset: end_offset,
                detail: "it does not describe the central directory that precedes it",
            }));
        }
        let mut comment = std::mem::take(&mut self.scratch);
        comment.resize(usize::from(end.comment_len), 0);
        self.read_exact(&mut comment, "the archive comment")?;
        validate::archive_comment(&comment, end_offset + END_LEN as u64)
            .map_err(|problem| self.malformed(problem))?;
        let at_end = self.input.fill_buf().map(|rest| rest.is_empty());
        if !at_end.map_err(|source| self.read_error(source))? {
            return Err(self.malformed(ArchiveProblem::TrailingBytes {
                offset: self.input.position,
            }));
        }
        if let Some(unlisted) = self.locals.iter().find(|local| !local.listed) {
            return Err(self.malformed(ArchiveProblem::UnlistedLocalEntry {
                entry: unlisted.name.to_string(),
            }));
        }
        Ok(executables)
    }

    /// Makes the executable files so, once every worker has finished, and lists what was
    /// written.
    fn report(mut self, executables: &[usize]) -> Result<ExtractReport, UnzipError> {
        for &index in executables {
            let Some(local) = self.locals.get_mut(index) else {
                continue;
            };
            local.executable = true;
            let path = self.dest.join(&*local.name);
            output::make_executable(&path).map_err(|source| UnzipError::Write {
                archive: self.archive.to_owned(),
                entry: local.name.to_string(),
                path,
                source,
            })?;
        }
        let written = self
            .locals
            .iter()
            .filter(|local| !local.is_dir)
            .map(|local| ExtractedFile {
                path: local.name.to_string(),
                size: local.uncompressed,
                crc32: local.crc32,
                executable: local.executable,
            })
            .collect();
        Ok(ExtractReport {
            files: self.files,
            dirs: self.tree.dirs().len() as u64,
            uncompressed_bytes: self.produced,
            written: super::sorted(written),
        })
    }

    /// Reads one central directory header (signature already read) and matches it to its local
    /// entry; returns the local entry's index when the file must be made executable.
    fn central_entry(&mut self) -> Result<Option<usize>, UnzipError> {
        let header = self.read_record::<CENTRAL_HEADER_LEN, _>(
            CENTRAL_HEADER_SIGNATURE,
            "a central directory header",
            CentralHeader::parse,
        )?;
        let mut variable = std::mem::take(&mut self.scratch);
        variable.resize(header.variable_len(), 0);
        self.read_exact(&mut variable, "a central directory header")?;
        let (raw_name, rest) = variable.split_at(usize::from(header.name_len));
        let extra = rest
            .get(..usize::from(header.extra_len))
            .unwrap_or_default();
        let entry = display_name(raw_name);
        let result = self
            .match_central(&header, raw_name, extra)
            .map_err(|failure| failure.into_error(self.archive, &entry));
        self.scratch = variable;
        result
    }

    fn match_central(
        &mut self,
        header: &CentralHeader,
        raw_name: &[u8],
        extra: &[u8],
    ) -> Result<Option<usize>, Failure> {
        validate::unicode_path_agrees(raw_name, extra)?;
        validate::implemented(header.flags, header.method, header.version_needed)?;
        let values = header.resolve(extra)?;
        let index = self
            .locals
            .binary_search_by_key(&values.local_header_offset, |local| local.offset)
            .map_err(|_| {
                Failure::Archive(ArchiveProblem::DanglingCentralEntry {
                    entry: display_name(raw_name),
                    offset: values.local_header_offset,
                })
            })?;
        let Some(local) = self.locals.get_mut(index) else {
            return Ok(None);
        };
        let local_fields = HeaderFields {
            name: local.name.as_bytes(),
            flags: local.flags,
            method: local.method,
            crc32: local.crc32,
            compressed_size: local.compressed,
            uncompressed_size: local.uncompressed,
        };
        let central_fields = HeaderFields {
            name: raw_name,
            flags: header.flags,
            method: header.method,
            crc32: header.crc32,
            compressed_size: values.compressed,
            uncompressed_size: values.uncompressed,
        };
        validate::headers_agree(&local_fields, &central_fields)?;
        if local.listed {
            return Err(EntryProblem::Duplicate.into());
        }
        local.listed = true;
        let kind = validate::entry_kind(
            header.version_made_by,
            header.external_attributes,
            local.is_dir,
        )?;
        Ok(matches!(kind, EntryKind::File { executable: true }).then_some(index))
    }

    /// Reads a fixed-size record whose signature was just read.
    fn read_record<const N: usize, T>(
        &mut self,
        signature: u32,
        expected: &'static str,
        parse: fn(&[u8; N]) -> Option<T>,
    ) -> Result<T, UnzipError> {
        let mut bytes = [0u8; N];
        let (head, rest) = bytes.split_at_mut(4);
        head.copy_from_slice(&signature.to_le_bytes());
        self.read_exact(rest, expected)?;
        let offset = self.input.position - N as u64;
        parse(&bytes).ok_or(self.malformed(ArchiveProblem::UnexpectedRecord { offset, expected }))
    }

    fn read_u32(&mut self, expected: &'static str) -> Result<u32, UnzipError> {
        let mut bytes = [0u8; 4];
        self.read_exact(&mut bytes, expected)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn read_exact(&mut self, buf: &mut [u8], expected: &'static str) -> Result<(), UnzipError> {
        self.input
            .read_exact(buf)
            .map_err(|source| self.input_error(source, expected))
    }

    fn skip(&mut self, len: u64, expected: &'static str) -> Result<(), UnzipError> {
        let skipped = io::copy(&mut (&mut self.input).take(len), &mut io::sink())
            .map_err(|source| self.input_error(source, expected))?;
        if skipped != len {
            return Err(self.input_error(io::ErrorKind::UnexpectedEof.into(), expected));
        }
        Ok(())
    }

    fn input_error(&self, source: io::Error, expected: &'static str) -> UnzipError {
        if source.kind() == io::ErrorKind::UnexpectedEof {
            self.malformed(ArchiveProblem::Truncated {
                offset: self.input.position,
                expected,
            })
        } else {
            self.read_error(source)
        }
    }

    fn read_error(&self, source: io::Error) -> UnzipError {
        UnzipError::Read {
            archive: self.archive.to_owned(),
            source,
        }
    }

    fn malformed(&self, problem: ArchiveProblem) -> UnzipError {
        UnzipError::Malformed {
            archive: self.archive.to_owned(),
            problem,
        }
    }
}

/// A failure while handling one entry, before the archive and entry names are attached.
enum Failure {
    Entry(EntryProblem),
    Archive(ArchiveProblem),
    Limit(LimitProblem),
    StreamingUnsupported(&'static str),
    Write {
        path: std::path::PathBuf,
        source: io::Error,
    },
    Read(io::Error),
    /// Already carries the archive's name.
    Complete(UnzipError),
}

impl From<EntryProblem> for Failure {
    fn from(problem: EntryProblem) -> Self {
        Self::Entry(problem)
    }
}

impl Failure {
    fn into_error(self, archive: &str, entry: &str) -> UnzipError {
        let archive = archive.to_owned();
        match self {
            Self::Entry(problem) => UnzipError::Entry {
                archive,
                entry: entry.to_owned(),
                problem,
            },
            Self::Archive(problem) => UnzipError::Malformed { archive, problem },
            Self::Limit(problem) => UnzipError::Limit {
                archive,
                entry: Some(entry.to_owned()),
                problem,
            },
            Self::StreamingUnsupported(reason) => UnzipError::StreamingUnsupported {
                archive,
                entry: entry.to_owned(),
                reason,
            },
            Self::Write { path, source } => UnzipError::Write {
                archive,
                entry: entry.to_owned(),
                path,
                source,
            },
            Self::Read(source) => UnzipError::Read { archive, source },
            Self::Complete(error) => error,
        }
    }
}

#[path = "stream_handover.rs"]
mod handover;

#[cfg(test)]
#[path = "streaming_tests.rs"]
mod tests;
