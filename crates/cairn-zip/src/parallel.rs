//! Extraction of an archive on disk: validate everything up front through a memory map, create
//! the directories, then write the files on every core, largest first.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use memmap2::Mmap;
use rayon::prelude::*;

use super::central_directory::{self, FileTask};
use super::decode::{CompressedLen, DecodeError, EntryDecoder};
use super::error::{ArchiveProblem, EntryProblem, UnzipError};
use super::file_range::FileRange;
use super::limits::Limits;
use super::output;
use super::records::END_LEN;
use super::{ExtractReport, ExtractedFile};

pub(crate) fn extract_file(
    archive: &Path,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractReport, UnzipError> {
    let archive_name = archive.display().to_string();
    let read_error = |source| UnzipError::Read {
        archive: archive_name.clone(),
        source,
    };
    let file = File::open(archive).map_err(read_error)?;
    let len = file.metadata().map_err(read_error)?.len();
    if len < END_LEN as u64 {
        // Also avoids mapping an empty file, which fails on some platforms.
        return Err(UnzipError::Malformed {
            archive: archive_name,
            problem: ArchiveProblem::Truncated {
                offset: len,
                expected: "the end of central directory record",
            },
        });
    }
    let (dirs, mut files, uncompressed_bytes) = {
        // SAFETY: the map is only read, and is dropped at the end of this block. The archive is
        // a file cairn downloaded or was handed to install; were another process to truncate
        // it meanwhile, reads would fault (SIGBUS) rather than return wrong bytes, which no CRC
        // could catch, so callers must extract files they own (the cache's own temporary
        // files).
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(read_error)?;
        let bytes: &[u8] = &map;
        let mut decoder = EntryDecoder::new();
        let plan = central_directory::plan(&archive_name, bytes, limits, &mut decoder)?;
        // The map served validation, which reads the records; the data is read with `pread`
        // into reused buffers, so the wheel's pages never count towards our resident set.
        let files: Vec<Job> = plan
            .files
            .iter()
            .map(|task| Job::new(task, bytes))
            .collect();
        (plan.dirs, files, plan.uncompressed_bytes)
    };

    // Parents come before children, so each directory is one mkdir.
    for dir in &dirs {
        let path = dest.join(&**dir);
        output::create_dir(&path).map_err(|source| UnzipError::Write {
            archive: archive_name.clone(),
            entry: format!("{dir}/"),
            path,
            source,
        })?;
    }

    // Largest first, taken from one queue by every thread (longest-processing-time-first
    // scheduling): a wheel's one or two huge libraries start at once on different cores and
    // everything else fills in around them. Splitting a sorted list in halves, as a parallel
    // iterator does, would put the two largest on the same core, one after the other.
    files.sort_unstable_by_key(|job| std::cmp::Reverse(job.uncompressed_size));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    (0..rayon::current_num_threads())
        .into_par_iter()
        .try_for_each(|_| {
            let mut decoder = EntryDecoder::new();
            let mut buffer = Vec::new();
            while !failed.load(Ordering::Relaxed) {
                let Some(job) = files.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let result =
                    extract_one(&archive_name, &file, dest, job, &mut decoder, &mut buffer);
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                    return result;
                }
            }
            Ok(())
        })?;

    let files_len = files.len() as u64;
    let written = files
        .into_iter()
        .map(|job| ExtractedFile {
            path: job.name.into(),
            size: job.uncompressed_size,
            crc32: job.crc32,
            executable: job.executable,
        })
        .collect();
    Ok(ExtractReport {
        files: files_len,
        dirs: dirs.len() as u64,
        uncompressed_bytes,
        written: super::sorted(written),
    })
}

/// One validated regular file, located by offsets into the archive file.
struct Job {
    name: Box<str>,
    /// Where its compressed data starts in the archive.
    offset: u64,
    compressed_size: u64,
    method: u16,
    crc32: u32,
    uncompressed_size: u64,
    executable: bool,
}

impl Job {
    fn new(task: &FileTask<'_>, archive: &[u8]) -> Self {
        // `task.data` is a slice of `archive`, so the difference of their addresses is the
        // data's offset in the file.
        let offset = (task.data.as_ptr() as usize).saturating_sub(archive.as_ptr() as usize);
        Self {
            name: task.name.into(),
            offset: offset as u64,
            compressed_size: task.data.len() as u64,
            method: task.method,
            crc32: task.crc32,
            uncompressed_size: task.uncompressed_size,
            executable: task.executable,
        }
    }
}

/// Writes one file: `open(O_CREAT|O_EXCL)` with its final mode, `write`s, `close`.
fn extract_one(
    archive: &str,
    file: &File,
    dest: &Path,
    job: &Job,
    decoder: &mut EntryDecoder,
    buffer: &mut Vec<u8>,
) -> Result<(), UnzipError> {
    let path = dest.join(&*job.name);
    let write_error = |source| UnzipError::Write {
        archive: archive.to_owned(),
        entry: job.name.to_string(),
        path: path.clone(),
        source,
    };
    let entry_error = |problem| UnzipError::Entry {
        archive: archive.to_owned(),
        entry: job.name.to_string(),
        problem,
    };
    let mut output = output::create_file(&path, job.executable).map_err(write_error)?;
    let mut input = FileRange::new(file, job.offset, job.offset + job.compressed_size, buffer);
    let decoded = decoder
        .decode(
            job.method,
            CompressedLen::Known(job.compressed_size),
            job.uncompressed_size,
            &mut input,
            &mut output,
            // The declared sizes were checked against the limits, and no entry may produce more
            // than it declared, so the actual total cannot exceed them either.
            &mut |_, _| Ok(()),
        )
        .map_err(|error| match error {
            DecodeError::Entry(problem) => entry_error(problem),
            DecodeError::Output(source) => write_error(source),
            DecodeError::Input(source) if source.kind() == std::io::ErrorKind::UnexpectedEof => {
                // The range is exactly the declared data, which validation found in the file;
                // running out of it means the deflate stream is longer than declared.
                entry_error(EntryProblem::CorruptDeflate {
                    detail: "the stream runs past the declared compressed size".to_owned(),
                })
            }
            DecodeError::Input(source) => UnzipError::Read {
                archive: archive.to_owned(),
                source,
            },
            DecodeError::Limit(problem) => UnzipError::Limit {
                archive: archive.to_owned(),
                entry: Some(job.name.to_string()),
                problem,
            },
        })?;
    decoded
        .check(job.crc32, job.compressed_size, job.uncompressed_size)
        .map_err(entry_error)?;
    Ok(())
}
