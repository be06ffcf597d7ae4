//! Reads and validates a whole archive held in memory (the memory-mapped wheel): end records,
//! central directory, every local header, and the byte layout, before anything is written.

use std::io;

use super::decode::{CompressedLen, DecodeError, EntryDecoder};
use super::error::{ArchiveProblem, EntryProblem, UnzipError, display_name};
use super::limits::Limits;
use super::records::{
    self, CENTRAL_HEADER_LEN, CentralHeader, DATA_DESCRIPTOR_SIGNATURE, END_LEN, End,
    LOCAL_HEADER_LEN, LocalHeader, ZIP64_END_LEN, ZIP64_LOCATOR_LEN, Zip64End, Zip64Locator,
};
use super::validate::{self, EntryKind, HeaderFields, PathTree};

/// A fully validated archive, ready to be written out.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// Every directory to create, parents before children.
    pub(crate) dirs: Vec<Box<str>>,
    /// Every regular file.
    pub(crate) files: Vec<FileTask<'a>>,
    /// Sum of the declared uncompressed sizes.
    pub(crate) uncompressed_bytes: u64,
}

/// One regular file to extract.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileTask<'a> {
    pub(crate) name: &'a str,
    /// The compressed bytes, exactly as long as declared.
    pub(crate) data: &'a [u8],
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    pub(crate) uncompressed_size: u64,
    pub(crate) executable: bool,
}

/// Where one entry's local record (header, data, descriptor) lies in the archive.
struct Span {
    start: u64,
    end: u64,
    entry: usize,
}

/// Validates `bytes` as a wheel archive named `archive` and lists what to create.
pub(crate) fn plan<'a>(
    archive: &str,
    bytes: &'a [u8],
    limits: &Limits,
    decoder: &mut EntryDecoder,
) -> Result<Plan<'a>, UnzipError> {
    let malformed = |problem| UnzipError::Malformed {
        archive: archive.to_owned(),
        problem,
    };
    let archive_len = bytes.len() as u64;
    let (end_offset, end) = find_end(bytes).map_err(malformed)?;
    let comment = bytes
        .get(
            usize::try_from(end_offset)
                .unwrap_or(usize::MAX)
                .saturating_add(END_LEN)..,
        )
        .unwrap_or_default();
    validate::archive_comment(comment, end_offset + END_LEN as u64).map_err(malformed)?;
    let zip64 = find_zip64(bytes, end_offset).map_err(malformed)?;
    let extent = records::directory_extent(
        &end,
        end_offset,
        zip64.as_ref().map(|(l, r, at)| (l, r, *at)),
    )
    .map_err(malformed)?;
    // The central directory must end exactly where the end records begin; the first of them
    // (the Zip64 record, if any) declares it.
    let directory_end = zip64.as_ref().map_or(end_offset, |(_, _, at)| *at);
    match extent.offset.checked_add(extent.size) {
        Some(end) if end == directory_end => {}
        Some(end) if end < directory_end => {
            return Err(malformed(ArchiveProblem::HiddenBytes {
                offset: end,
                len: directory_end - end,
            }));
        }
        _ => {
            return Err(malformed(ArchiveProblem::InconsistentEnd {
                offset: directory_end,
                detail: "the central directory runs into the end records",
            }));
        }
    }
    limits
        .check_entries(extent.entries)
        .map_err(|problem| UnzipError::Limit {
            archive: archive.to_owned(),
            entry: None,
            problem,
        })?;
    if extent.entries > extent.size / CENTRAL_HEADER_LEN as u64 {
        return Err(malformed(ArchiveProblem::InconsistentEnd {
            offset: directory_end,
            detail: "more entries are declared than the central directory can hold",
        }));
    }
    let directory = slice(bytes, extent.offset, extent.size).ok_or(malformed(
        ArchiveProblem::InconsistentEnd {
            offset: directory_end,
            detail: "the central directory lies outside the file",
        },
    ))?;
    let centrals = parse_directory(directory, extent.offset, extent.entries).map_err(malformed)?;

    let mut tree = PathTree::default();
    let mut files = Vec::with_capacity(centrals.len());
    let mut spans = Vec::with_capacity(centrals.len());
    let mut declared_total = 0u64;
    for (index, central) in centrals.iter().enumerate() {
        let entry_error = |problem| UnzipError::Entry {
            archive: archive.to_owned(),
            entry: display_name(central.name),
            problem,
        };
        let checked =
            check_entry(central, bytes, extent.offset, &mut tree).map_err(
                |failure| match failure {
                    EntryFailure::Entry(problem) => entry_error(problem),
                    EntryFailure::Archive(problem) => malformed(problem),
                },
            )?;
        spans.push(Span {
            start: checked.local_offset,
            end: checked.record_end,
            entry: index,
        });
        declared_total = declared_total.saturating_add(checked.uncompressed_size);
        match checked.kind {
            EntryKind::Directory => {
                check_directory_data(decoder, central, checked.data).map_err(entry_error)?;
            }
            EntryKind::File { executable } => files.push(FileTask {
                name: checked.path,
                data: checked.data,
                method: central.header.method,
                crc32: central.header.crc32,
                uncompressed_size: checked.uncompressed_size,
                executable,
            }),
        }
    }
    check_layout(&mut spans, &centrals, extent.offset).map_err(malformed)?;
    limits
        .check_output(declared_total, archive_len)
        .map_err(|problem| UnzipError::Limit {
            archive: archive.to_owned(),
            entry: None,
            problem,
        })?;
    Ok(Plan {
        dirs: tree.dirs().to_vec(),
        files,
        uncompressed_bytes: declared_total,
    })
}

/// A central directory header with its variable fields.
struct Central<'a> {
    header: CentralHeader,
    name: &'a [u8],
    extra: &'a [u8],
}

/// What [`check_entry`] established about one entry.
struct CheckedEntry<'a> {
    path: &'a str,
    kind: EntryKind,
    local_offset: u64,
    /// End of the local record, data descriptor included.
    record_end: u64,
    data: &'a [u8],
    uncompressed_size: u64,
}

enum EntryFailure {
    Entry(EntryProblem),
    Archive(ArchiveProblem),
}

impl From<EntryProblem> for EntryFailure {
    fn from(problem: EntryProblem) -> Self {
        Self::Entry(problem)
    }
}

/// Applies every per-entry rule and checks the local header against the central directory.
fn check_entry<'a>(
    central: &Central<'a>,
    bytes: &'a [u8],
    directory_offset: u64,
    tree: &mut PathTree,
) -> Result<CheckedEntry<'a>, EntryFailure> {
    let header = &central.header;
    let name = validate::entry_name(central.name)?;
    validate::unicode_path_agrees(central.name, central.extra)?;
    validate::implemented(header.flags, header.method, header.version_needed)?;
    let kind = validate::entry_kind(
        header.version_made_by,
        header.external_attributes,
        name.is_dir,
    )?;
    let values = header.resolve(central.extra)?;
    tree.insert(name)?;

    let offset = values.local_header_offset;
    let dangling = || {
        EntryFailure::Archive(ArchiveProblem::DanglingCentralEntry {
            entry: display_name(central.name),
            offset,
        })
    };
    let past_directory = || {
        EntryFailure::Archive(ArchiveProblem::OverlappingEntries {
            first: display_name(central.name),
            second: "the central directory".to_owned(),
        })
    };
    let local = slice(bytes, offset, LOCAL_HEADER_LEN as u64)
        .and_then(|b| b.first_chunk::<LOCAL_HEADER_LEN>())
        .and_then(LocalHeader::parse)
        .filter(|_| offset < directory_offset)
        .ok_or_else(dangling)?;
    let variable_start = offset + LOCAL_HEADER_LEN as u64;
    let variable =
        slice(bytes, variable_start, local.variable_len() as u64).ok_or_else(past_directory)?;
    let (local_name, local_extra) = variable.split_at(usize::from(local.name_len));
    validate::unicode_path_agrees(local_name, local_extra)?;
    validate::implemented(local.flags, local.method, local.version_needed)?;
    let local_sizes = local.sizes(local_extra)?;
    let data_start = variable_start + local.variable_len() as u64;
    let data_end = data_start
        .checked_add(values.compressed)
        .filter(|end| *end <= directory_offset)
        .ok_or_else(past_directory)?;
    let data = slice(bytes, data_start, values.compressed).ok_or_else(past_directory)?;

    let mut local_fields = HeaderFields {
        name: local_name,
        flags: local.flags,
        method: local.method,
        crc32: local.crc32,
        compressed_size: local_sizes.compressed,
        uncompressed_size: local_sizes.uncompressed,
    };
    let mut record_end = data_end;
    if local.flags & records::flags::DATA_DESCRIPTOR != 0 {
        // The descriptor's values replace the local header's (which writers leave zero).
        let body_len = records::data_descriptor_body_len(local_sizes.zip64) as u64;
        let after = slice(bytes, data_end, directory_offset.saturating_sub(data_end))
            .ok_or_else(past_directory)?;
        let signed = records::read_u32(after) == Some(DATA_DESCRIPTOR_SIGNATURE)
            && after.get(4..8).and_then(records::read_u32) == Some(header.crc32);
        let skip = if signed { 4 } else { 0 };
        let body = after
            .get(skip..skip + body_len as usize)
            .ok_or_else(past_directory)?;
        let descriptor = records::parse_data_descriptor_body(body, local_sizes.zip64);
        local_fields.crc32 = descriptor.crc32;
        local_fields.compressed_size = descriptor.compressed;
        local_fields.uncompressed_size = descriptor.uncompressed;
        record_end = data_end + skip as u64 + body_len;
    }
    let central_fields = HeaderFields {
        name: central.name,
        flags: header.flags,
        method: header.method,
        crc32: header.crc32,
        compressed_size: values.compressed,
        uncompressed_size: values.uncompressed,
    };
    validate::headers_agree(&local_fields, &central_fields)?;
    Ok(CheckedEntry {
        path: name.path,
        kind,
        local_offset: offset,
        record_end,
        data,
        uncompressed_size: values.uncompressed,
    })
}

/// A directory entry must decode to nothing.
fn check_directory_data(
    decoder: &mut EntryDecoder,
    central: &Central<'_>,
    data: &[u8],
) -> Result<(), EntryProblem> {
    let compressed = data.len() as u64;
    let decoded = decoder
        .decode(
            central.header.method,
            CompressedLen::Known(compressed),
            0,
            &mut &data[..],
            &mut io::sink(),
            &mut |_, _| Ok(()),
        )
        .map_err(|error| match error {
            DecodeError::Entry(EntryProblem::SizeMismatch { .. }) => {
                EntryProblem::DirectoryWithData
            }
            DecodeError::Entry(problem) => problem,
            DecodeError::Input(_) | DecodeError::Output(_) | DecodeError::Limit(_) => {
                EntryProblem::DirectoryWithData
            }
        })?;
    decoded.check(central.header.crc32, compressed, 0)
}

/// The local records must tile the archive from byte 0 to the central directory: a gap hides
/// bytes, an overlap is a zip bomb.
fn check_layout(
    spans: &mut [Span],
    centrals: &[Central<'_>],
    directory_offset: u64,
) -> Result<(), ArchiveProblem> {
    spans.sort_unstable_by_key(|span| span.start);
    let name_of = |index: usize| {
        centrals
            .get(index)
            .map(|central| display_name(central.name))
            .unwrap_or_default()
    };
    let mut expected = 0u64;
    let mut previous: Option<usize> = None;
    for span in spans.iter() {
        if span.start > expected {
            return Err(ArchiveProblem::HiddenBytes {
                offset: expected,
                len: span.start - expected,
            });
        }
        if let Some(previous) = previous
            && span.start < expected
        {
            return Err(ArchiveProblem::OverlappingEntries {
                first: name_of(previous),
                second: name_of(span.entry),
            });
        }
        expected = span.end;
        previous = Some(span.entry);
    }
    if expected < directory_offset {
        return Err(ArchiveProblem::HiddenBytes {
            offset: expected,
            len: directory_offset - expected,
        });
    }
    Ok(())
}

/// Splits the central directory into its headers; their count must match the end record.
fn parse_directory(
    directory: &[u8],
    directory_offset: u64,
    declared_entries: u64,
) -> Result<Vec<Central<'_>>, ArchiveProblem> {
    let inconsistent = |offset, detail| ArchiveProblem::InconsistentEnd { offset, detail };
    // Bounded by the size check against the directory length above.
    let mut centrals = Vec::with_capacity(usize::try_from(declared_entries).unwrap_or(0));
    let mut rest = directory;
    while !rest.is_empty() {
        let offset = directory_offset + (directory.len() - rest.len()) as u64;
        let fixed = rest
            .first_chunk::<CENTRAL_HEADER_LEN>()
            .ok_or(inconsistent(
                offset,
                "the central directory ends inside a header",
            ))?;
        let header = CentralHeader::parse(fixed).ok_or(ArchiveProblem::UnexpectedRecord {
            offset,
            expected: "a central directory header",
        })?;
        let name_end = CENTRAL_HEADER_LEN + usize::from(header.name_len);
        let extra_end = name_end + usize::from(header.extra_len);
        let record_end = CENTRAL_HEADER_LEN + header.variable_len();
        let (Some(name), Some(extra), Some(next)) = (
            rest.get(CENTRAL_HEADER_LEN..name_end),
            rest.get(name_end..extra_end),
            rest.get(record_end..),
        ) else {
            return Err(inconsistent(
                offset,
                "the central directory ends inside a header",
            ));
        };
        centrals.push(Central {
            header,
            name,
            extra,
        });
        if centrals.len() as u64 > declared_entries {
            return Err(inconsistent(
                offset,
                "the central directory lists more entries than declared",
            ));
        }
        rest = next;
    }
    if centrals.len() as u64 != declared_entries {
        return Err(inconsistent(
            directory_offset + directory.len() as u64,
            "the central directory lists fewer entries than declared",
        ));
    }
    Ok(centrals)
}

/// Finds the end of central directory record that, with its declared comment, ends the file.
fn find_end(bytes: &[u8]) -> Result<(u64, End), ArchiveProblem> {
    let len = bytes.len();
    if len < END_LEN {
        return Err(ArchiveProblem::Truncated {
            offset: len as u64,
            expected: "the end of central directory record",
        });
    }
    let lowest = (len - END_LEN).saturating_sub(usize::from(u16::MAX));
    let ends_file = |at: usize| {
        let end = bytes
            .get(at..at + END_LEN)
            .and_then(|b| b.first_chunk::<END_LEN>())
            .and_then(End::parse)?;
        (at + END_LEN + usize::from(end.comment_len) == len).then_some(end)
    };
    let mut candidates = (lowest..=len - END_LEN)
        .rev()
        .filter_map(|at| ends_file(at).map(|end| (at, end)));
    let (at, end) = candidates
        .next()
        .ok_or(ArchiveProblem::NoEndOfCentralDirectory {
            offset: lowest as u64,
            len: (len - lowest) as u64,
        })?;
    if candidates.next().is_some() {
        // The one found first, nearer the end, lies in the other's comment.
        return Err(ArchiveProblem::AmbiguousEnd { offset: at as u64 });
    }
    Ok((at as u64, end))
}

/// Reads the Zip64 locator just before the end record and the Zip64 end record it points at,
/// which must end exactly where the locator starts.
fn find_zip64(
    bytes: &[u8],
    end_offset: u64,
) -> Result<Option<(Zip64Locator, Zip64End, u64)>, ArchiveProblem> {
    let Some(locator_offset) = end_offset.checked_sub(ZIP64_LOCATOR_LEN as u64) else {
        return Ok(None);
    };
    let Some(locator) = slice(bytes, locator_offset, ZIP64_LOCATOR_LEN as u64)
        .and_then(|b| b.first_chunk::<ZIP64_LOCATOR_LEN>())
        .and_then(Zip64Locator::parse)
    else {
        return Ok(None);
    };
    let record_offset = locator.record_offset;
    let record = slice(bytes, record_offset, ZIP64_END_LEN as u64)
        .and_then(|b| b.first_chunk::<ZIP64_END_LEN>())
        .and_then(Zip64End::parse)
        .ok_or(ArchiveProblem::UnexpectedRecord {
            offset: record_offset,
            expected: "the Zip64 end of central directory record",
        })?;
    let record_end = record
        .extensible_len()
        .and_then(|extra| record_offset.checked_add(ZIP64_END_LEN as u64 + extra));
    match record_end {
        Some(end) if end == locator_offset => Ok(Some((locator, record, record_offset))),
        Some(end) if end < locator_offset => Err(ArchiveProblem::HiddenBytes {
            offset: end,
            len: locator_offset - end,
        }),
        _ => Err(ArchiveProblem::InconsistentEnd {
            offset: record_offset,
            detail: "the Zip64 end record runs into its locator",
        }),
    }
}

/// `bytes[offset..offset + len]`, or `None` when out of range.
fn slice(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}
