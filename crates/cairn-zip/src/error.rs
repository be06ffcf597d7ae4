//! Why an extraction failed: every error names the archive and, where one is to blame, the entry.

use std::io;
use std::path::PathBuf;

/// A failed extraction. The destination directory may hold partial output: delete it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnzipError {
    /// The archive could not be opened, mapped or read (including a stream that failed midway).
    #[error("cannot read wheel archive {archive}")]
    Read {
        /// The archive, as the caller named it.
        archive: String,
        /// What the operating system or the stream reported.
        #[source]
        source: io::Error,
    },
    /// The archive's structure is broken, truncated or hides bytes; no entry in particular is at
    /// fault.
    #[error(
        "wheel archive {archive} is malformed: {problem}; the file is damaged or was tampered \
         with: delete it and download it again"
    )]
    Malformed {
        /// The archive, as the caller named it.
        archive: String,
        /// What is wrong.
        problem: ArchiveProblem,
    },
    /// One entry is unsafe to extract or disagrees with itself.
    #[error(
        "wheel archive {archive}: entry {entry:?} is rejected: {problem}; the wheel is damaged \
         or hostile and will not be installed"
    )]
    Entry {
        /// The archive, as the caller named it.
        archive: String,
        /// The entry's name (invalid UTF-8 replaced, control characters escaped).
        entry: String,
        /// What is wrong with it.
        problem: EntryProblem,
    },
    /// The archive would unpack to more than the configured [`Limits`](super::Limits) allow.
    #[error(
        "wheel archive {archive} exceeds a safety limit{}: {problem}; if the wheel is genuine, \
         raise the limit",
        entry.as_ref().map(|e| format!(" at entry {e:?}")).unwrap_or_default()
    )]
    Limit {
        /// The archive, as the caller named it.
        archive: String,
        /// The entry being processed when the limit was hit, if any.
        entry: Option<String>,
        /// Which limit and by how much.
        problem: LimitProblem,
    },
    /// The archive is valid but uses a layout a non-seeking reader cannot extract; see
    /// [`UnzipError::is_streaming_unsupported`].
    #[error(
        "wheel archive {archive}: entry {entry:?} cannot be extracted while streaming ({reason}); \
         download the archive to a file and extract it from there"
    )]
    StreamingUnsupported {
        /// The archive, as the caller named it.
        archive: String,
        /// The first entry that streaming cannot handle.
        entry: String,
        /// Why.
        reason: &'static str,
    },
    /// Creating a file or directory, or writing to it, failed.
    #[error("cannot write {path} while extracting entry {entry:?} of wheel archive {archive}")]
    Write {
        /// The archive, as the caller named it.
        archive: String,
        /// The entry being written.
        entry: String,
        /// The file or directory that could not be created or written.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: io::Error,
    },
    /// The background extraction task died (a bug) or the runtime shut down under it.
    #[error("the extraction task for wheel archive {archive} stopped unexpectedly: {detail}")]
    Worker {
        /// The archive, as the caller named it.
        archive: String,
        /// What the runtime reported.
        detail: String,
    },
}

impl UnzipError {
    /// True when streaming extraction cannot handle this (valid) archive: the caller should save
    /// the download to a file and use [`extract_file`](super::extract_file) instead.
    pub fn is_streaming_unsupported(&self) -> bool {
        matches!(self, Self::StreamingUnsupported { .. })
    }

    /// The archive this error is about.
    pub fn archive(&self) -> &str {
        match self {
            Self::Read { archive, .. }
            | Self::Malformed { archive, .. }
            | Self::Entry { archive, .. }
            | Self::Limit { archive, .. }
            | Self::StreamingUnsupported { archive, .. }
            | Self::Write { archive, .. }
            | Self::Worker { archive, .. } => archive,
        }
    }

    /// The entry this error is about, if one is to blame.
    pub fn entry(&self) -> Option<&str> {
        match self {
            Self::Entry { entry, .. }
            | Self::StreamingUnsupported { entry, .. }
            | Self::Write { entry, .. } => Some(entry),
            Self::Limit { entry, .. } => entry.as_deref(),
            Self::Read { .. } | Self::Malformed { .. } | Self::Worker { .. } => None,
        }
    }
}

/// A structural defect of the archive as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveProblem {
    /// The data ends before a record or an entry's data is complete.
    #[error("it ends at byte {offset} in the middle of {expected}")]
    Truncated {
        /// Where the data ended.
        offset: u64,
        /// What was being read.
        expected: &'static str,
    },
    /// No end-of-central-directory record ends the file (the archive is truncated or has bytes
    /// appended).
    #[error(
        "no end-of-central-directory record ends the file (none in its last {len} bytes, from \
         offset {offset})"
    )]
    NoEndOfCentralDirectory {
        /// Where the bytes searched start.
        offset: u64,
        /// How many bytes were searched (the longest record with the longest comment, or the
        /// whole file).
        len: u64,
    },
    /// Two plausible end records: a comment hides a second one.
    #[error(
        "the archive comment hides a second end-of-central-directory record at offset {offset}"
    )]
    AmbiguousEnd {
        /// Where the hidden record starts.
        offset: u64,
    },
    /// A signature that does not belong where it was found.
    #[error("unexpected bytes at offset {offset} where {expected} should start")]
    UnexpectedRecord {
        /// Where the bytes are.
        offset: u64,
        /// What should have been there.
        expected: &'static str,
    },
    /// Bytes that belong to no record (before the first entry, between entries, or before the
    /// central directory).
    #[error("{len} bytes at offset {offset} belong to no entry")]
    HiddenBytes {
        /// Where the bytes start.
        offset: u64,
        /// How many.
        len: u64,
    },
    /// Bytes after the end-of-central-directory record and its declared comment.
    #[error("bytes from offset {offset} on follow the end-of-central-directory record")]
    TrailingBytes {
        /// Where the first of them is.
        offset: u64,
    },
    /// Two entries' local records share bytes: the trick behind non-recursive zip bombs.
    #[error("entries {first:?} and {second:?} overlap")]
    OverlappingEntries {
        /// The entry that starts first.
        first: String,
        /// The entry that starts inside it.
        second: String,
    },
    /// The archive claims to span several disks.
    #[error("the end record at offset {offset} claims the archive spans several disks")]
    MultiDisk {
        /// Where the record that says so starts.
        offset: u64,
    },
    /// The end records disagree with each other or with the central directory they describe.
    #[error(
        "the central directory or its end records are inconsistent at offset {offset}: {detail}"
    )]
    InconsistentEnd {
        /// Where the record at fault starts (an end record, or the central directory header
        /// where the directory stops matching what the end record declared).
        offset: u64,
        /// Which fields disagree.
        detail: &'static str,
    },
    /// The Zip64 end record needs a version of the zip format above 4.5 to read (6.2 means an
    /// encrypted central directory).
    #[error(
        "the Zip64 end record at offset {offset} needs version {}.{} of the zip format; only \
         features up to 4.5 are implemented",
        version / 10,
        version % 10
    )]
    UnsupportedVersion {
        /// Where the record starts.
        offset: u64,
        /// The version needed, as stored (major * 10 + minor; the upper byte is ignored).
        version: u8,
    },
    /// A local entry that the central directory does not list (invisible to other tools).
    #[error("entry {entry:?} has a local header but is missing from the central directory")]
    UnlistedLocalEntry {
        /// The entry's name.
        entry: String,
    },
    /// A central directory entry whose offset is not where any local entry started.
    #[error("central directory entry {entry:?} points at offset {offset}, where no entry starts")]
    DanglingCentralEntry {
        /// The entry's name.
        entry: String,
        /// The offset it points at.
        offset: u64,
    },
}

/// A defect of a single entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryProblem {
    /// The name is empty.
    #[error("the name is empty")]
    EmptyName,
    /// The name is not valid UTF-8 (wheels require UTF-8 names).
    #[error("the name is not valid UTF-8")]
    NonUtf8Name,
    /// The name contains NUL or another control character.
    #[error("the name contains the control character {character:?}")]
    ControlCharacter {
        /// The offending character.
        character: char,
    },
    /// The name contains a backslash (a path separator on Windows).
    #[error("the name contains a backslash")]
    Backslash,
    /// The name is absolute.
    #[error("the name is an absolute path")]
    AbsolutePath,
    /// The name starts with a Windows drive prefix such as `C:`.
    #[error("the name starts with a drive prefix")]
    DrivePrefix,
    /// The name contains an empty component (`a//b`).
    #[error("the name contains an empty path component")]
    EmptyComponent,
    /// The name contains a `.` component.
    #[error("the name contains a `.` path component")]
    CurrentDirComponent,
    /// The name contains a `..` component.
    #[error("the name contains a `..` path component")]
    ParentDirComponent,
    /// The entry is a symbolic link.
    #[error("it is a symbolic link")]
    Symlink,
    /// The entry is a fifo, device or socket.
    #[error("it is a special file (mode {mode:#o})")]
    SpecialFile {
        /// The unix mode from the external attributes.
        mode: u32,
    },
    /// The unix mode says directory but the name does not end in `/`, or the reverse.
    #[error("its unix mode {mode:#o} contradicts its name")]
    KindMismatch {
        /// The unix mode from the external attributes.
        mode: u32,
    },
    /// A directory entry that carries data.
    #[error("it is a directory but carries data")]
    DirectoryWithData,
    /// Another entry has the same name.
    #[error("another entry has the same name")]
    Duplicate,
    /// A file and a directory share this path.
    #[error("a file and a directory share this path")]
    FileDirectoryConflict,
    /// The entry lies inside a path that another entry makes a file.
    #[error("its parent {parent:?} is a file in this archive")]
    ParentIsFile {
        /// The parent path that is a file.
        parent: String,
    },
    /// An Info-ZIP Unicode Path extra field names the entry differently.
    #[error("its Unicode Path extra field gives a different name")]
    ConflictingUnicodePath,
    /// The entry is encrypted.
    #[error("it is encrypted")]
    Encrypted,
    /// General purpose flag bits whose meaning is not implemented: bit 4 (enhanced deflating),
    /// bit 5 (patched data), bit 12 (enhanced compression) and the unused and reserved bits.
    /// Only bits 1 and 2 (deflate level), 3 (data descriptor) and 11 (UTF-8 names) are accepted;
    /// the encryption bits 0, 6 and 13 are reported as [`Encrypted`](Self::Encrypted).
    #[error(
        "it sets general purpose flag bits {bits:#06x} whose meaning is not implemented (only \
         bits 1-2 deflate level, 3 data descriptor and 11 UTF-8 are)"
    )]
    UnsupportedFlags {
        /// The refused bits (the accepted ones cleared).
        bits: u16,
    },
    /// The "version needed to extract" is above 4.5, the highest whose features are implemented
    /// (stored, deflate, data descriptors, Zip64).
    #[error(
        "it needs version {}.{} of the zip format to extract; only features up to 4.5 are \
         implemented",
        version / 10,
        version % 10
    )]
    UnsupportedVersion {
        /// The version needed, as stored (major * 10 + minor; the upper byte, which carries no
        /// meaning, is ignored).
        version: u8,
    },
    /// The name differs from another path in the archive (an entry, or a directory implied by
    /// one) only by letter case or by Unicode normalisation (e.g. precomposed `é` against `e`
    /// followed by U+0301): on macOS and Windows both would be the same file.
    #[error(
        "its path collides with {other:?} on case-insensitive or normalising file systems \
         (macOS, Windows)"
    )]
    NameCollision {
        /// The path seen first, as spelled in the archive (without a directory's trailing `/`).
        other: String,
    },
    /// A compression method other than Stored (0) or Deflate (8).
    #[error("it uses compression method {method}; wheels use only stored (0) and deflate (8)")]
    UnsupportedMethod {
        /// The method number.
        method: u16,
    },
    /// The local header names the entry differently from the central directory.
    #[error("its local header names it {local:?}")]
    NameMismatch {
        /// The name in the local header.
        local: String,
    },
    /// The local header (or data descriptor) and the central directory disagree on a field.
    #[error("its local header says {field} is {local:#x}, the central directory says {central:#x}")]
    HeaderMismatch {
        /// Which field.
        field: &'static str,
        /// The local header's (or data descriptor's) value.
        local: u64,
        /// The central directory's value.
        central: u64,
    },
    /// A size field says 0xFFFFFFFF but no Zip64 extra field carries the real value.
    #[error("its Zip64 extra field is missing or too short")]
    MissingZip64Field,
    /// The data decompresses to a different CRC-32 than declared.
    #[error("its data has CRC-32 {actual:#010x}, but {expected:#010x} is declared")]
    CrcMismatch {
        /// The declared CRC-32.
        expected: u32,
        /// The CRC-32 of the data.
        actual: u32,
    },
    /// The data decompresses to a different size than declared.
    #[error("its data is {actual} bytes uncompressed, but {expected} are declared")]
    SizeMismatch {
        /// The declared size.
        expected: u64,
        /// The size found (a lower bound when extraction stopped early).
        actual: u64,
    },
    /// The compressed data does not end where the declared compressed size says.
    #[error("its compressed data is {actual} bytes, but {expected} are declared")]
    CompressedSizeMismatch {
        /// The declared compressed size.
        expected: u64,
        /// The length of the deflate stream.
        actual: u64,
    },
    /// The deflate stream is corrupt.
    #[error("its deflate stream is corrupt ({detail})")]
    CorruptDeflate {
        /// What the inflater reported.
        detail: String,
    },
}

/// Which [`Limits`](super::Limits) were exceeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitProblem {
    /// More entries than `max_entries`.
    #[error("it has {entries} entries, more than the limit of {limit}")]
    TooManyEntries {
        /// How many entries were counted (a lower bound when counting stopped early).
        entries: u64,
        /// The limit.
        limit: u64,
    },
    /// More uncompressed bytes than `max_total_uncompressed`.
    #[error("it unpacks to at least {bytes} bytes, more than the limit of {limit}")]
    TotalUncompressed {
        /// Bytes declared or produced so far.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// Unpacks to more than `max_ratio` times its size (and beyond `ratio_exempt_bytes`).
    #[error(
        "{compressed} archive bytes unpack to at least {uncompressed} bytes, more than {max_ratio} \
         times as many"
    )]
    Ratio {
        /// Archive bytes read so far (the whole archive when checked up front).
        compressed: u64,
        /// Bytes declared or produced so far.
        uncompressed: u64,
        /// The limit.
        max_ratio: u64,
    },
}

/// An entry name fit for error messages: lossy UTF-8 (control characters are escaped by the
/// `{:?}` formatting the messages use).
pub(crate) fn display_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}
