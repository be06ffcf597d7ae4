//! Extraction of an archive on disk: memory-map it, validate everything up front, create the
//! directories, then write the files in parallel.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use rayon::prelude::*;

use super::central_directory::{self, FileTask};
use super::decode::{CompressedLen, DecodeError, EntryDecoder};
use super::error::{ArchiveProblem, EntryProblem, UnzipError};
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
    // SAFETY: the map is only read, and is dropped before this function returns. The archive
    // is a file cairn downloaded or was handed to install; were another process to truncate it
    // meanwhile, reads would fault (SIGBUS) rather than return wrong bytes, which no CRC could
    // catch, so callers must extract files they own (the cache's own temporary files).
    #[allow(unsafe_code)]
    let map = unsafe { Mmap::map(&file) }.map_err(read_error)?;
    let bytes: &[u8] = &map;

    let mut decoder = EntryDecoder::new();
    let mut plan = central_directory::plan(&archive_name, bytes, limits, &mut decoder)?;

    // Parents come before children, so each directory is one mkdir.
    for dir in &plan.dirs {
        let path = dest.join(&**dir);
        output::create_dir(&path).map_err(|source| UnzipError::Write {
            archive: archive_name.clone(),
            entry: format!("{dir}/"),
            path,
            source,
        })?;
    }

    // Largest first, so one huge library does not start last and leave the other cores idle.
    plan.files
        .sort_unstable_by_key(|task| std::cmp::Reverse(task.uncompressed_size));
    plan.files
        .par_iter()
        .try_for_each_init(EntryDecoder::new, |decoder, task| {
            extract_one(&archive_name, dest, task, decoder)
        })?;

    let written = plan
        .files
        .iter()
        .map(|task| ExtractedFile {
            path: task.name.to_owned(),
            size: task.uncompressed_size,
            crc32: task.crc32,
            executable: task.executable,
        })
        .collect();
    Ok(ExtractReport {
        files: plan.files.len() as u64,
        dirs: plan.dirs.len() as u64,
        uncompressed_bytes: plan.uncompressed_bytes,
        written: super::sorted(written),
    })
}

/// Writes one file: `open(O_CREAT|O_EXCL)` with its final mode, `write`s, `close`.
fn extract_one(
    archive: &str,
    dest: &Path,
    task: &FileTask<'_>,
    decoder: &mut EntryDecoder,
) -> Result<(), UnzipError> {
    let path = dest.join(task.name);
    let entry_error = |problem| UnzipError::Entry {
        archive: archive.to_owned(),
        entry: task.name.to_owned(),
        problem,
    };
    let mut file =
        output::create_file(&path, task.executable).map_err(|source| UnzipError::Write {
            archive: archive.to_owned(),
            entry: task.name.to_owned(),
            path: path.clone(),
            source,
        })?;
    let mut data = task.data;
    let decoded = decoder
        .decode(
            task.method,
            CompressedLen::Known(data.len() as u64),
            task.uncompressed_size,
            &mut data,
            &mut file,
            // The declared sizes were checked against the limits, and no entry may produce more
            // than it declared, so the actual total cannot exceed them either.
            &mut |_, _| Ok(()),
        )
        .map_err(|error| match error {
            DecodeError::Entry(problem) => entry_error(problem),
            DecodeError::Output(source) => UnzipError::Write {
                archive: archive.to_owned(),
                entry: task.name.to_owned(),
                path: path.clone(),
                source,
            },
            // The input is the exact slice of the map; running out of it means the deflate
            // stream is longer than declared.
            DecodeError::Input(_) => entry_error(EntryProblem::CorruptDeflate {
                detail: "the stream runs past the declared compressed size".to_owned(),
            }),
            DecodeError::Limit(problem) => UnzipError::Limit {
                archive: archive.to_owned(),
                entry: Some(task.name.to_owned()),
                problem,
            },
        })?;
    decoded
        .check(task.crc32, task.data.len() as u64, task.uncompressed_size)
        .map_err(entry_error)?;
    Ok(())
}
