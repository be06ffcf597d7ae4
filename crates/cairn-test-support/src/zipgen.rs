//! Zip archives written byte by byte (valid or deliberately hostile, which no zip library would
//! write), and helpers that extract them with both of `cairn-zip`'s extractors.

// Field and constant names are the zip format's own (APPNOTE 4.3 and 4.4).
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use cairn_zip::{self as unzip, ExtractReport, Limits, UnzipError};
use flate2::{Compress, Compression, FlushCompress};
use tokio::io::{AsyncRead, ReadBuf};

pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;
pub const MODE_FILE: u32 = 0o100_644;
pub const MODE_EXECUTABLE: u32 = 0o100_755;
pub const MODE_DIR: u32 = 0o040_755;
pub const MODE_SYMLINK: u32 = 0o120_777;
pub const MODE_FIFO: u32 = 0o010_644;

/// Values written instead of the true ones, to make headers lie.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub name: Option<Vec<u8>>,
    /// "Version needed to extract" (by default 20, or 45 with Zip64 fields).
    pub version_needed: Option<u16>,
    pub flags: Option<u16>,
    pub method: Option<u16>,
    pub crc32: Option<u32>,
    pub compressed_size: Option<u64>,
    pub uncompressed_size: Option<u64>,
    /// Central directory only: the local header offset.
    pub offset: Option<u64>,
}

/// One entry: its content and how to write it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    pub method: u16,
    /// Unix mode with type bits; `None` writes an MS-DOS entry without a mode.
    pub mode: Option<u32>,
    pub flags: u16,
    /// Sizes and CRC follow the data in a data descriptor (with or without its signature).
    pub descriptor: Option<bool>,
    /// Write Zip64 extra fields with the sizes (and offset) instead of the classic fields.
    pub zip64: bool,
    /// Compressed bytes to write instead of compressing `data`.
    pub raw: Option<Vec<u8>>,
    pub local_extra: Vec<u8>,
    pub central_extra: Vec<u8>,
    /// Applied to the local header (or to the data descriptor when there is one).
    pub local: Overrides,
    pub central: Overrides,
}

impl Entry {
    /// A deflated regular file, mode 0o644.
    pub fn file(name: impl AsRef<[u8]>, data: impl AsRef<[u8]>) -> Self {
        Self {
            name: name.as_ref().to_vec(),
            data: data.as_ref().to_vec(),
            method: DEFLATED,
            mode: Some(MODE_FILE),
            flags: 0,
            descriptor: None,
            zip64: false,
            raw: None,
            local_extra: Vec::new(),
            central_extra: Vec::new(),
            local: Overrides::default(),
            central: Overrides::default(),
        }
    }

    /// A stored regular file, mode 0o644.
    pub fn stored(name: impl AsRef<[u8]>, data: impl AsRef<[u8]>) -> Self {
        Self::file(name, data).method(STORED)
    }

    /// A directory entry (the name should end in `/`).
    pub fn dir(name: impl AsRef<[u8]>) -> Self {
        Self::file(name, b"").method(STORED).mode(MODE_DIR)
    }

    pub fn method(mut self, method: u16) -> Self {
        self.method = method;
        self
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    pub fn no_mode(mut self) -> Self {
        self.mode = None;
        self
    }

    pub fn flags(mut self, flags: u16) -> Self {
        self.flags = flags;
        self
    }

    pub fn descriptor(mut self, with_signature: bool) -> Self {
        self.descriptor = Some(with_signature);
        self
    }

    pub fn zip64(mut self) -> Self {
        self.zip64 = true;
        self
    }

    pub fn raw(mut self, compressed: impl AsRef<[u8]>) -> Self {
        self.raw = Some(compressed.as_ref().to_vec());
        self
    }

    pub fn local_extra(mut self, extra: impl AsRef<[u8]>) -> Self {
        self.local_extra = extra.as_ref().to_vec();
        self
    }

    pub fn central_extra(mut self, extra: impl AsRef<[u8]>) -> Self {
        self.central_extra = extra.as_ref().to_vec();
        self
    }

    pub fn local(mut self, change: impl FnOnce(&mut Overrides)) -> Self {
        change(&mut self.local);
        self
    }

    pub fn central(mut self, change: impl FnOnce(&mut Overrides)) -> Self {
        change(&mut self.central);
        self
    }

    /// Sets "version needed to extract" in both headers.
    pub fn version_needed(mut self, version: u16) -> Self {
        self.local.version_needed = Some(version);
        self.central.version_needed = Some(version);
        self
    }

    /// The "version needed to extract" a writer would declare: 4.5 with Zip64 fields, else 2.0.
    fn default_version_needed(&self) -> u16 {
        if self.zip64 { 45 } else { 20 }
    }

    /// The compressed bytes this entry writes.
    pub fn compressed(&self) -> Vec<u8> {
        match (&self.raw, self.method) {
            (Some(raw), _) => raw.clone(),
            (None, DEFLATED) => deflate(&self.data),
            (None, _) => self.data.clone(),
        }
    }

    /// The local header, data and data descriptor.
    pub fn local_record(&self) -> Vec<u8> {
        let compressed = self.compressed();
        let crc = crc32fast::hash(&self.data);
        let descriptor = self.descriptor.is_some();
        let o = &self.local;
        let name = o.name.clone().unwrap_or_else(|| self.name.clone());
        let flags = o
            .flags
            .unwrap_or(self.flags | if descriptor { 1 << 3 } else { 0 });
        let true_crc = o.crc32.unwrap_or(crc);
        let true_csize = o.compressed_size.unwrap_or(compressed.len() as u64);
        let true_usize = o.uncompressed_size.unwrap_or(self.data.len() as u64);
        let (crc_field, csize, usize_) = if descriptor {
            (0, 0, 0)
        } else {
            (true_crc, true_csize, true_usize)
        };
        let mut extra = Vec::new();
        let (csize32, usize32) = if self.zip64 {
            push_extra(&mut extra, 0x0001, &[le64(usize_), le64(csize)].concat());
            (u32::MAX, u32::MAX)
        } else {
            (csize as u32, usize_ as u32)
        };
        extra.extend_from_slice(&self.local_extra);
        let mut out = Vec::new();
        out.extend(le32(0x0403_4b50));
        out.extend(le16(
            o.version_needed.unwrap_or(self.default_version_needed()),
        ));
        out.extend(le16(flags));
        out.extend(le16(o.method.unwrap_or(self.method)));
        out.extend(le16(0)); // time
        out.extend(le16(0x21)); // 1980-01-01
        out.extend(le32(crc_field));
        out.extend(le32(csize32));
        out.extend(le32(usize32));
        out.extend(le16(name.len() as u16));
        out.extend(le16(extra.len() as u16));
        out.extend(&name);
        out.extend(&extra);
        out.extend(&compressed);
        if let Some(with_signature) = self.descriptor {
            if with_signature {
                out.extend(le32(0x0807_4b50));
            }
            out.extend(le32(true_crc));
            if self.zip64 {
                out.extend(le64(true_csize));
                out.extend(le64(true_usize));
            } else {
                out.extend(le32(true_csize as u32));
                out.extend(le32(true_usize as u32));
            }
        }
        out
    }

    /// The central directory header, for a local record at `offset`.
    pub fn central_header(&self, offset: u64) -> Vec<u8> {
        let compressed = self.compressed();
        let o = &self.central;
        let name = o.name.clone().unwrap_or_else(|| self.name.clone());
        let descriptor = self.descriptor.is_some();
        let flags = o
            .flags
            .unwrap_or(self.flags | if descriptor { 1 << 3 } else { 0 });
        let crc = o.crc32.unwrap_or_else(|| crc32fast::hash(&self.data));
        let csize = o.compressed_size.unwrap_or(compressed.len() as u64);
        let usize_ = o.uncompressed_size.unwrap_or(self.data.len() as u64);
        let offset = o.offset.unwrap_or(offset);
        let mut extra = Vec::new();
        let (csize32, usize32, offset32) = if self.zip64 {
            push_extra(
                &mut extra,
                0x0001,
                &[le64(usize_), le64(csize), le64(offset)].concat(),
            );
            (u32::MAX, u32::MAX, u32::MAX)
        } else {
            (csize as u32, usize_ as u32, offset as u32)
        };
        extra.extend_from_slice(&self.central_extra);
        let (made_by, attributes) = match self.mode {
            Some(mode) => ((3 << 8) | 20, mode << 16),
            None => (20, 0),
        };
        let mut out = Vec::new();
        out.extend(le32(0x0201_4b50));
        out.extend(le16(made_by));
        out.extend(le16(
            o.version_needed.unwrap_or(self.default_version_needed()),
        ));
        out.extend(le16(flags));
        out.extend(le16(o.method.unwrap_or(self.method)));
        out.extend(le16(0));
        out.extend(le16(0x21));
        out.extend(le32(crc));
        out.extend(le32(csize32));
        out.extend(le32(usize32));
        out.extend(le16(name.len() as u16));
        out.extend(le16(extra.len() as u16));
        out.extend(le16(0)); // comment
        out.extend(le16(0)); // disk
        out.extend(le16(0)); // internal attributes
        out.extend(le32(attributes));
        out.extend(le32(offset32));
        out.extend(&name);
        out.extend(&extra);
        out
    }
}

/// A whole archive: entries in order, plus whatever hostile bytes a test wants around them.
#[derive(Debug, Clone, Default)]
pub struct ZipBuilder {
    pub entries: Vec<Entry>,
    /// Bytes before the first local header.
    pub prefix: Vec<u8>,
    /// Bytes after the local record of entry `i`.
    pub gaps: Vec<(usize, Vec<u8>)>,
    /// Entries whose local record is written but that the central directory does not list.
    pub unlisted: Vec<usize>,
    /// Central directory headers without a local record, at the given offsets.
    pub phantoms: Vec<(Entry, u64)>,
    /// Write the Zip64 end record and locator.
    pub zip64_end: bool,
    /// Entry count written in the end record(s) instead of the true one.
    pub declared_entries: Option<u64>,
    pub comment: Vec<u8>,
    /// Bytes after the end record and its comment.
    pub trailing: Vec<u8>,
}

impl ZipBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn entry(mut self, entry: Entry) -> Self {
        self.entries.push(entry);
        self
    }

    pub fn file(self, name: &str, data: impl AsRef<[u8]>) -> Self {
        self.entry(Entry::file(name, data))
    }

    pub fn dir(self, name: &str) -> Self {
        self.entry(Entry::dir(name))
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = self.prefix.clone();
        let mut offsets = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            offsets.push(out.len() as u64);
            out.extend(entry.local_record());
            for (_, gap) in self.gaps.iter().filter(|(at, _)| *at == index) {
                out.extend(gap);
            }
        }
        let directory_offset = out.len() as u64;
        let mut listed = 0u64;
        for (index, entry) in self.entries.iter().enumerate() {
            if !self.unlisted.contains(&index) {
                out.extend(entry.central_header(offsets[index]));
                listed += 1;
            }
        }
        for (entry, offset) in &self.phantoms {
            out.extend(entry.central_header(*offset));
            listed += 1;
        }
        let directory_size = out.len() as u64 - directory_offset;
        let entries = self.declared_entries.unwrap_or(listed);
        if self.zip64_end {
            let record_offset = out.len() as u64;
            out.extend(le32(0x0606_4b50));
            out.extend(le64(44));
            out.extend(le16((3 << 8) | 45));
            out.extend(le16(45));
            out.extend(le32(0));
            out.extend(le32(0));
            out.extend(le64(entries));
            out.extend(le64(entries));
            out.extend(le64(directory_size));
            out.extend(le64(directory_offset));
            out.extend(le32(0x0706_4b50));
            out.extend(le32(0));
            out.extend(le64(record_offset));
            out.extend(le32(1));
        }
        let (entries16, size32, offset32) = if self.zip64_end {
            (u16::MAX, u32::MAX, u32::MAX)
        } else {
            (
                entries as u16,
                directory_size as u32,
                directory_offset as u32,
            )
        };
        out.extend(le32(0x0605_4b50));
        out.extend(le16(0));
        out.extend(le16(0));
        out.extend(le16(entries16));
        out.extend(le16(entries16));
        out.extend(le32(size32));
        out.extend(le32(offset32));
        out.extend(le16(self.comment.len() as u16));
        out.extend(&self.comment);
        out.extend(&self.trailing);
        out
    }
}

/// Raw deflate, as zip stores it.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    loop {
        let consumed = compressor.total_in() as usize;
        out.reserve(64 << 10);
        let status = compressor
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Finish)
            .expect("deflate");
        if status == flate2::Status::StreamEnd {
            return out;
        }
    }
}

pub fn le16(value: u16) -> [u8; 2] {
    value.to_le_bytes()
}

pub fn le32(value: u32) -> [u8; 4] {
    value.to_le_bytes()
}

pub fn le64(value: u64) -> [u8; 8] {
    value.to_le_bytes()
}

pub fn push_extra(extra: &mut Vec<u8>, tag: u16, data: &[u8]) {
    extra.extend(le16(tag));
    extra.extend(le16(data.len() as u16));
    extra.extend(data);
}

// ---------------------------------------------------------------------------------------------
// Extracting with both extractors.

/// What ended up on disk: path relative to the destination -> kind, mode and content.
pub type Tree = BTreeMap<String, Node>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32 },
    File { mode: u32, content: Vec<u8> },
}

/// One extraction's workspace: `root/archive.whl` and `root/dest/`.
pub struct Workspace {
    pub root: tempfile::TempDir,
}

impl Workspace {
    pub fn new(bytes: &[u8]) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("archive.whl"), bytes).expect("write archive");
        std::fs::create_dir(root.path().join("dest")).expect("create dest");
        Self { root }
    }

    pub fn archive(&self) -> PathBuf {
        self.root.path().join("archive.whl")
    }

    pub fn dest(&self) -> PathBuf {
        self.root.path().join("dest")
    }

    pub fn extract_file(&self, limits: &Limits) -> Result<ExtractReport, UnzipError> {
        unzip::extract_file(&self.archive(), &self.dest(), limits)
    }

    /// Extracts front to back with [`unzip::extract_reader`], the bytes arriving in uneven
    /// pieces ([`Trickle`]).
    pub fn extract_stream(&self, limits: &Limits) -> Result<ExtractReport, UnzipError> {
        let bytes = std::fs::read(self.archive()).expect("read archive");
        unzip::extract_reader(
            io::BufReader::new(Trickle::new(&bytes)),
            "stream.whl",
            &self.dest(),
            limits,
        )
    }

    /// Fails the test if anything besides the archive and `dest` appeared in the root.
    pub fn assert_nothing_outside_dest(&self) {
        let mut names: Vec<String> = std::fs::read_dir(self.root.path())
            .expect("read root")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["archive.whl", "dest"], "extraction escaped dest");
    }
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Which extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extractor {
    File,
    Stream,
}

/// Extracts `bytes` with both extractors; asserts both succeed with the same report and tree,
/// and returns the tree.
pub fn assert_extracts(bytes: &[u8]) -> (ExtractReport, Tree) {
    let limits = Limits::default();
    let file = Workspace::new(bytes);
    let file_report = file
        .extract_file(&limits)
        .unwrap_or_else(|e| panic!("extract_file failed: {e}: {e:?}"));
    let stream = Workspace::new(bytes);
    let stream_report = stream
        .extract_stream(&limits)
        .unwrap_or_else(|e| panic!("extract_stream failed: {e}: {e:?}"));
    assert_eq!(file_report, stream_report, "the two extractors disagree");
    let tree = read_tree(&file.dest());
    assert_eq!(tree, read_tree(&stream.dest()), "the two trees differ");
    (file_report, tree)
}

/// Extracts `bytes` with both extractors under `limits` and asserts each fails with an error
/// `expected` accepts, that names the archive, and that nothing was created outside `dest`.
pub fn assert_rejected_with(
    bytes: &[u8],
    limits: &Limits,
    expected: impl Fn(Extractor, &UnzipError) -> bool,
) -> (UnzipError, UnzipError) {
    let mut errors = Vec::new();
    for path in [Extractor::File, Extractor::Stream] {
        let workspace = Workspace::new(bytes);
        let result = match path {
            Extractor::File => workspace.extract_file(limits),
            Extractor::Stream => workspace.extract_stream(limits),
        };
        let error = match result {
            Ok(report) => panic!("{path:?} accepted a bad archive: {report:?}"),
            Err(error) => error,
        };
        assert!(
            expected(path, &error),
            "{path:?} failed with an unexpected error: {error}: {error:?}"
        );
        let archive_name = match path {
            Extractor::File => workspace.archive().display().to_string(),
            Extractor::Stream => "stream.whl".to_owned(),
        };
        assert_eq!(error.archive(), archive_name);
        assert!(error.to_string().contains(&archive_name), "{error}");
        if let Some(entry) = error.entry() {
            assert!(error.to_string().contains(&format!("{entry:?}")), "{error}");
        }
        workspace.assert_nothing_outside_dest();
        errors.push(error);
    }
    let stream = errors.pop().expect("two errors");
    let file = errors.pop().expect("two errors");
    (file, stream)
}

/// [`assert_rejected_with`] with the default limits and one expectation for both extractors.
pub fn assert_rejected(bytes: &[u8], expected: impl Fn(&UnzipError) -> bool) {
    assert_rejected_with(bytes, &Limits::default(), |_, error| expected(error));
}

/// Every file and directory under `root`, with modes and contents; fails on anything else.
pub fn read_tree(root: &Path) -> Tree {
    use std::os::unix::fs::PermissionsExt;
    let mut tree = Tree::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let metadata = std::fs::symlink_metadata(&path).expect("metadata");
            let relative = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            let mode = metadata.permissions().mode() & 0o7777;
            if metadata.is_dir() {
                tree.insert(relative, Node::Dir { mode });
                pending.push(path);
            } else if metadata.is_file() {
                let content = std::fs::read(&path).expect("read file");
                tree.insert(relative, Node::File { mode, content });
            } else {
                panic!("extraction created something other than a file or directory: {path:?}");
            }
        }
    }
    tree
}

/// A reader (sync and async) that hands out its bytes in small, uneven pieces, so every record
/// boundary falls somewhere inside a chunk in some test.
pub struct Trickle {
    bytes: Vec<u8>,
    position: usize,
    step: usize,
}

impl Trickle {
    pub fn new(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.to_vec(),
            position: 0,
            step: 0,
        }
    }
}

impl Trickle {
    /// The next piece: sizes cycle through 1, 7, 64, 1000 and 70,000 bytes, at most `room`.
    fn next_piece(&mut self, room: usize) -> &[u8] {
        const SIZES: [usize; 5] = [1, 7, 64, 1000, 70_000];
        let size = SIZES[self.step % SIZES.len()].min(room);
        self.step += 1;
        let start = self.position;
        let end = (start + size).min(self.bytes.len());
        self.position = end;
        &self.bytes[start..end]
    }
}

impl io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = self.next_piece(buf.len());
        let n = piece.len();
        buf[..n].copy_from_slice(piece);
        Ok(n)
    }
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let room = buf.remaining();
        buf.put_slice(self.next_piece(room));
        Poll::Ready(Ok(()))
    }
}

/// A reader (sync and async) that returns `bytes[..fail_at]` and then an I/O error, like a
/// connection that drops mid-download.
pub struct FailingReader {
    inner: Trickle,
    fail_at: usize,
}

impl FailingReader {
    /// Fails once `fail_at` bytes of `bytes` have been read.
    pub fn new(bytes: &[u8], fail_at: usize) -> Self {
        Self {
            inner: Trickle::new(&bytes[..fail_at]),
            fail_at,
        }
    }
}

impl FailingReader {
    fn failure() -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by test")
    }
}

impl io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inner.position >= self.fail_at {
            return Err(Self::failure());
        }
        self.inner.read(buf)
    }
}

impl AsyncRead for FailingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.inner.position >= self.fail_at {
            return Poll::Ready(Err(Self::failure()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// An archive of two small files, for the tests that break its input halfway.
pub fn two_files() -> Vec<u8> {
    ZipBuilder::new()
        .file("pkg/a.py", "a\n".repeat(10_000))
        .file("pkg/b.py", "b\n".repeat(10_000))
        .build()
}

/// Fails unless `error` is the reset a broken input ended `archive`'s extraction with.
pub fn assert_connection_reset(error: &UnzipError, archive_name: &str) {
    match error {
        UnzipError::Read { archive, source } => {
            assert_eq!(archive, archive_name);
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionReset);
        }
        other => panic!("unexpected error {other:?}"),
    }
}
