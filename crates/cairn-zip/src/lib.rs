//! Validated extraction of wheel archives: parallel for files on disk, streaming for downloads.
//!
//! - [`extract_file`] maps a wheel on disk, validates the whole archive, then writes its files
//!   on every core, largest first;
//! - [`extract_reader`] extracts front to back from any [`BufRead`], as the bytes arrive;
//! - with the `tokio` feature, `extract_stream` (a Tokio `AsyncRead`) and `extract_chunks` (a
//!   stream of `Bytes`, such as an HTTP body) do the same on Tokio's blocking pool.
//!
//! Each returns an [`ExtractReport`] listing every file written with its size and CRC-32.
//!
//! ```
//! use std::io::{BufReader, Write};
//!
//! use cairn_zip::{Limits, extract_file, extract_reader};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let wheel = dir.path().join("demo-1.0-py3-none-any.whl");
//!
//! // A tiny wheel, written with the `zip` crate.
//! let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel)?);
//! let options = zip::write::SimpleFileOptions::default();
//! zip.start_file("demo/__init__.py", options)?;
//! zip.write_all(b"VALUE = 1\n")?;
//! zip.start_file("demo-1.0.dist-info/METADATA", options)?;
//! zip.write_all(b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")?;
//! zip.finish()?;
//!
//! // From a file on disk, into an empty directory.
//! let unpacked = dir.path().join("unpacked");
//! std::fs::create_dir(&unpacked)?;
//! let report = extract_file(&wheel, &unpacked, &Limits::default())?;
//! assert_eq!(report.files, 2);
//! let module = std::fs::read_to_string(unpacked.join("demo/__init__.py"))?;
//! assert_eq!(module, "VALUE = 1\n");
//!
//! // From a reader: the same files, the same report.
//! let streamed = dir.path().join("streamed");
//! std::fs::create_dir(&streamed)?;
//! let reader = BufReader::new(std::fs::File::open(&wheel)?);
//! let name = "demo-1.0-py3-none-any.whl";
//! let again = extract_reader(reader, name, &streamed, &Limits::default())?;
//! assert_eq!(again.written, report.written);
//! # Ok(())
//! # }
//! ```
//!
//! Both extractors apply the same rules (see `validate`) and refuse, with an error naming the
//! archive and the entry (or, where no entry owns the bytes at fault, their offset):
//!
//! - unsafe names (absolute, `..`, `.`, empty components, drive prefixes, backslashes, control
//!   characters, non-UTF-8);
//! - duplicate or conflicting paths, and paths that would be one file on macOS or Windows:
//!   the same after canonical decomposition (NFD), Unicode lowercasing (`char::to_lowercase`,
//!   not full case folding: `ß` and `ss` stay distinct) and recomposition (NFC), compared on
//!   the whole path, directories implied by deeper entries included (`Pkg/a.py` against
//!   `pkg/b.py`, precomposed `é` against `e` followed by U+0301);
//! - symbolic links and special files;
//! - what is not implemented, in the local header or the central directory header: encryption
//!   (flag bits 0, 6, 13), any general purpose flag bit other than 1-2 (deflate level), 3 (data
//!   descriptor) and 11 (UTF-8 names), such as 5 (patched data); a "version needed to extract"
//!   above 4.5 (its low byte: 1.0 stored, 2.0 deflate, 4.5 Zip64 are what real wheels carry),
//!   here and in the Zip64 end record;
//!   compression other than stored and deflate;
//! - local headers that disagree with the central directory, CRC and size errors, truncation,
//!   bytes that belong to no record, overlapping entries, multi-disk archives and inconsistent
//!   end records;
//! - archives beyond the [`Limits`].
//!
//! Files are created with `O_CREAT | O_EXCL` and their final mode (0o755 when the entry has an
//! execute bit, else 0o644); directories with 0o755. Nothing outside `dest` is ever touched,
//! but on error `dest` holds partial output that the caller must delete.

mod central_directory;
mod decode;
mod error;
mod file_range;
mod limits;
mod output;
mod parallel;
mod records;
mod stream_jobs;
mod stream_pipe;
#[cfg(feature = "tokio")]
mod stream_source;
mod stream_workers;
mod streaming;
mod validate;

use std::io::BufRead;
use std::path::Path;

pub use error::{ArchiveProblem, EntryProblem, LimitProblem, UnzipError};
pub use limits::Limits;

/// What an extraction produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractReport {
    /// Regular files written.
    pub files: u64,
    /// Directories created, whether listed in the archive or implied by a file's path.
    pub dirs: u64,
    /// Bytes written to the files.
    pub uncompressed_bytes: u64,
    /// Every regular file written, sorted by path: what the cache records as the archive's
    /// manifest, so that `cairn cache verify` can check the unpacked tree later.
    pub written: Vec<ExtractedFile>,
}

/// A regular file an extraction wrote, with the values its CRC check passed against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedFile {
    /// The path relative to the destination, `/`-separated, as named in the archive.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// The CRC-32 of its content (the value in the archive, which the written bytes matched).
    pub crc32: u32,
    /// Whether it was made executable.
    pub executable: bool,
}

/// Sorts the written files by path, so both extractors report the same list.
fn sorted(mut written: Vec<ExtractedFile>) -> Vec<ExtractedFile> {
    written.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    written
}

/// Extracts the wheel at `archive` into `dest`, an existing empty directory.
///
/// The archive is memory-mapped and validated completely (central directory, every local header,
/// the byte layout and the limits) before anything is written; the files are then written in
/// parallel. CRCs are checked as each file is written, so on error `dest` holds partial output:
/// delete it.
pub fn extract_file(
    archive: &Path,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractReport, UnzipError> {
    parallel::extract_file(archive, dest, limits)
}

/// Extracts a wheel into `dest` (an existing empty directory) front to back as its bytes are
/// read from `reader`, without seeking or reading anything twice; `archive_name` is only used
/// in error messages. This is the synchronous form of `extract_stream` (the `tokio` feature):
/// call it on a thread that may block.
///
/// On success the reader has been read to its end, and the central directory has been checked
/// against the local headers. On error `dest` holds partial output: delete it. If
/// [`UnzipError::is_streaming_unsupported`] is true, the archive uses a layout that cannot be
/// extracted front to back: save it to a file and call [`extract_file`]. Files are written by a
/// few worker threads while the archive is still being read, with bounded memory.
pub fn extract_reader<R: BufRead>(
    reader: R,
    archive_name: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractReport, UnzipError> {
    streaming::extract(reader, archive_name, dest, limits)
}

/// Extracts a wheel into `dest` (an existing empty directory) while its bytes arrive from
/// `reader`, e.g. an HTTP body, without seeking or reading anything twice; `archive_name` is
/// only used in error messages.
///
/// On success the reader has been read to its end, so a hashing wrapper has seen every byte, and
/// the central directory has been checked against the local headers. On error reading stops
/// early and `dest` holds partial output: delete it. If
/// [`UnzipError::is_streaming_unsupported`] is true, the archive is not known to be bad but uses
/// a layout that cannot be extracted front to back: download it to a file and call
/// [`extract_file`].
///
/// Files are written by a few worker threads while the archive is still being read. Memory stays
/// bounded whatever the size of the archive (a few MiB of queued input, at most 32 MiB of
/// compressed entries waiting for a worker, one output buffer per worker): entries too large to
/// hold are copied to an unnamed temporary file in `dest` and inflated from there. Every worker
/// has finished when this returns, on success and on error. Must be called within a Tokio
/// runtime: the reading runs on its blocking pool.
#[cfg(feature = "tokio")]
pub async fn extract_stream<R: tokio::io::AsyncRead + Unpin + Send>(
    reader: R,
    archive_name: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractReport, UnzipError> {
    stream_source::extract_stream(reader, archive_name, dest, limits).await
}

/// [`extract_stream`] for input that arrives as chunks, such as an HTTP body's: each chunk is
/// handed to the extractor as it is, where reading it through an `AsyncRead` would copy it once
/// more.
/// The stream is polled to its end on success; an error it yields ends the extraction with
/// [`UnzipError::Read`] carrying that error. At most 16 chunks wait for the extractor, so the
/// queued input is bounded by the size of the chunks the stream yields (an HTTP connection's are
/// at most about 400 KiB).
#[cfg(feature = "tokio")]
pub async fn extract_chunks<S>(
    chunks: S,
    archive_name: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractReport, UnzipError>
where
    S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin + Send,
{
    stream_source::extract_chunks(chunks, archive_name, dest, limits).await
}
