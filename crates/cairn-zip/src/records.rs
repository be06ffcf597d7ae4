//! Byte layouts of the zip records a wheel is made of (PKWARE APPNOTE 4.3), decoded without
//! trusting them: callers check every value against the others.

use super::error::{ArchiveProblem, EntryProblem};

pub(crate) const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;
pub(crate) const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
pub(crate) const DATA_DESCRIPTOR_SIGNATURE: u32 = 0x0807_4b50;
pub(crate) const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
pub(crate) const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
pub(crate) const END_SIGNATURE: u32 = 0x0605_4b50;

/// Fixed part of a local file header, signature included.
pub(crate) const LOCAL_HEADER_LEN: usize = 30;
/// Fixed part of a central directory header, signature included.
pub(crate) const CENTRAL_HEADER_LEN: usize = 46;
/// End of central directory record without its comment.
pub(crate) const END_LEN: usize = 22;
/// Zip64 end of central directory locator.
pub(crate) const ZIP64_LOCATOR_LEN: usize = 20;
/// Zip64 end of central directory record without its extensible data.
pub(crate) const ZIP64_END_LEN: usize = 56;

/// General purpose flag bits (APPNOTE 4.4.4) that matter here.
pub(crate) mod flags {
    /// Bit 0: the entry is encrypted.
    pub(crate) const ENCRYPTED: u16 = 1 << 0;
    /// Bits 1 and 2: the deflate compression level the writer used (normal, maximum, fast,
    /// super fast); a hint that changes nothing about how the data is read.
    pub(crate) const DEFLATE_LEVEL: u16 = (1 << 1) | (1 << 2);
    /// Bit 3: CRC and sizes follow the data in a data descriptor.
    pub(crate) const DATA_DESCRIPTOR: u16 = 1 << 3;
    /// Bit 6: strong encryption.
    pub(crate) const STRONG_ENCRYPTION: u16 = 1 << 6;
    /// Bit 11: the name (and comment) are UTF-8; names must be UTF-8 whatever it says.
    pub(crate) const UTF8: u16 = 1 << 11;
    /// Bit 13: the local header's values are masked (central directory encryption).
    pub(crate) const MASKED_HEADER: u16 = 1 << 13;
    /// The bits whose meaning is implemented: every other bit (encryption, bit 4 enhanced
    /// deflating, bit 5 patched data, bit 12 enhanced compression, the unused and reserved
    /// bits) is refused.
    pub(crate) const IMPLEMENTED: u16 = DEFLATE_LEVEL | DATA_DESCRIPTOR | UTF8;
}

/// The highest "version needed to extract" (APPNOTE 4.4.3, the low byte: major * 10 + minor)
/// whose features are implemented: 1.0 stored, 2.0 deflate, directories and data descriptors,
/// 4.5 Zip64. The next ones are 4.6 (bzip2), 5.x (encryption) and 6.x (LZMA, PPMd, masked
/// headers).
pub(crate) const MAX_VERSION_NEEDED: u8 = 45;

/// A size or offset field that defers to the Zip64 extra field.
pub(crate) const ZIP64_U32: u32 = u32::MAX;
/// A count or disk field that defers to the Zip64 records.
pub(crate) const ZIP64_U16: u16 = u16::MAX;

const ZIP64_EXTRA_TAG: u16 = 0x0001;
const UNICODE_PATH_EXTRA_TAG: u16 = 0x7075;

/// Reads little-endian fields front to back from a slice whose length the caller checked; a
/// short slice yields zeros rather than a panic.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                *head
            }
            None => {
                self.rest = &[];
                [0; N]
            }
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

/// Reads a little-endian u32, for signatures.
pub(crate) fn read_u32(bytes: &[u8]) -> Option<u32> {
    bytes.first_chunk::<4>().map(|b| u32::from_le_bytes(*b))
}

/// The fixed part of a local file header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalHeader {
    pub(crate) version_needed: u16,
    pub(crate) flags: u16,
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    pub(crate) compressed_size: u32,
    pub(crate) uncompressed_size: u32,
    pub(crate) name_len: u16,
    pub(crate) extra_len: u16,
}

impl LocalHeader {
    /// Decodes the fixed part; `None` when the signature is wrong.
    pub(crate) fn parse(bytes: &[u8; LOCAL_HEADER_LEN]) -> Option<Self> {
        let mut f = Fields::new(bytes);
        if f.u32() != LOCAL_HEADER_SIGNATURE {
            return None;
        }
        let version_needed = f.u16();
        let flags = f.u16();
        let method = f.u16();
        let _mod_time = f.u16();
        let _mod_date = f.u16();
        Some(Self {
            version_needed,
            flags,
            method,
            crc32: f.u32(),
            compressed_size: f.u32(),
            uncompressed_size: f.u32(),
            name_len: f.u16(),
            extra_len: f.u16(),
        })
    }

    /// Length of the name and extra field that follow the fixed part.
    pub(crate) fn variable_len(&self) -> usize {
        usize::from(self.name_len) + usize::from(self.extra_len)
    }

    /// The real sizes and whether a Zip64 extra field is present (which makes a data descriptor
    /// carry 8-byte sizes).
    pub(crate) fn sizes(&self, extra: &[u8]) -> Result<LocalSizes, EntryProblem> {
        let zip64 = find_extra(extra, ZIP64_EXTRA_TAG);
        let mut compressed = u64::from(self.compressed_size);
        let mut uncompressed = u64::from(self.uncompressed_size);
        let needs_uncompressed = self.uncompressed_size == ZIP64_U32;
        let needs_compressed = self.compressed_size == ZIP64_U32;
        if needs_uncompressed || needs_compressed {
            let field = zip64.ok_or(EntryProblem::MissingZip64Field)?;
            // APPNOTE 4.5.3: a local header's Zip64 field carries both sizes; read it in order
            // when it is shorter (a writer that followed the central directory rule).
            let mut f = Fields::new(field);
            if field.len() >= 16 {
                let (u, c) = (f.u64(), f.u64());
                if needs_uncompressed {
                    uncompressed = u;
                }
                if needs_compressed {
                    compressed = c;
                }
            } else {
                let wanted = 8 * (usize::from(needs_uncompressed) + usize::from(needs_compressed));
                if field.len() < wanted {
                    return Err(EntryProblem::MissingZip64Field);
                }
                if needs_uncompressed {
                    uncompressed = f.u64();
                }
                if needs_compressed {
                    compressed = f.u64();
                }
            }
        }
        Ok(LocalSizes {
            compressed,
            uncompressed,
            zip64: zip64.is_some(),
        })
    }
}

/// Sizes from a local header after Zip64 resolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalSizes {
    pub(crate) compressed: u64,
    pub(crate) uncompressed: u64,
    /// A Zip64 extra field is present: a data descriptor then has 8-byte sizes.
    pub(crate) zip64: bool,
}

/// The fixed part of a central directory header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CentralHeader {
    pub(crate) version_made_by: u16,
    pub(crate) version_needed: u16,
    pub(crate) flags: u16,
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    pub(crate) compressed_size: u32,
    pub(crate) uncompressed_size: u32,
    pub(crate) name_len: u16,
    pub(crate) extra_len: u16,
    pub(crate) comment_len: u16,
    pub(crate) disk_start: u16,
    pub(crate) external_attributes: u32,
    pub(crate) local_header_offset: u32,
}

impl CentralHeader {
    /// Decodes the fixed part; `None` when the signature is wrong.
    pub(crate) fn parse(bytes: &[u8; CENTRAL_HEADER_LEN]) -> Option<Self> {
        let mut f = Fields::new(bytes);
        if f.u32() != CENTRAL_HEADER_SIGNATURE {
            return None;
        }
        let version_made_by = f.u16();
        let version_needed = f.u16();
        let flags = f.u16();
        let method = f.u16();
        let _mod_time = f.u16();
        let _mod_date = f.u16();
        let crc32 = f.u32();
        let compressed_size = f.u32();
        let uncompressed_size = f.u32();
        let name_len = f.u16();
        let extra_len = f.u16();
        let comment_len = f.u16();
        let disk_start = f.u16();
        let _internal_attributes = f.u16();
        Some(Self {
            version_made_by,
            version_needed,
            flags,
            method,
            crc32,
            compressed_size,
            uncompressed_size,
            name_len,
            extra_len,
            comment_len,
            disk_start,
            external_attributes: f.u32(),
            local_header_offset: f.u32(),
        })
    }

    /// Length of the name, extra field and comment that follow the fixed part.
    pub(crate) fn variable_len(&self) -> usize {
        usize::from(self.name_len) + usize::from(self.extra_len) + usize::from(self.comment_len)
    }

    /// Sizes and offset after Zip64 resolution (APPNOTE 4.5.3: only the fields saturated in the
    /// header appear in the extra field, in this order).
    pub(crate) fn resolve(&self, extra: &[u8]) -> Result<CentralValues, EntryProblem> {
        let mut values = CentralValues {
            uncompressed: u64::from(self.uncompressed_size),
            compressed: u64::from(self.compressed_size),
            local_header_offset: u64::from(self.local_header_offset),
        };
        let saturated = [
            self.uncompressed_size == ZIP64_U32,
            self.compressed_size == ZIP64_U32,
            self.local_header_offset == ZIP64_U32,
            self.disk_start == ZIP64_U16,
        ];
        if !saturated.contains(&true) {
            return Ok(values);
        }
        let field = find_extra(extra, ZIP64_EXTRA_TAG).ok_or(EntryProblem::MissingZip64Field)?;
        let wanted =
            8 * saturated[..3].iter().filter(|s| **s).count() + if saturated[3] { 4 } else { 0 };
        if field.len() < wanted {
            return Err(EntryProblem::MissingZip64Field);
        }
        let mut f = Fields::new(field);
        if saturated[0] {
            values.uncompressed = f.u64();
        }
        if saturated[1] {
            values.compressed = f.u64();
        }
        if saturated[2] {
            values.local_header_offset = f.u64();
        }
        Ok(values)
    }
}

/// A central directory entry's sizes and offset after Zip64 resolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CentralValues {
    pub(crate) uncompressed: u64,
    pub(crate) compressed: u64,
    pub(crate) local_header_offset: u64,
}

/// The end of central directory record (without its comment).
#[derive(Debug, Clone, Copy)]
pub(crate) struct End {
    pub(crate) disk: u16,
    pub(crate) directory_disk: u16,
    pub(crate) entries_on_disk: u16,
    pub(crate) entries: u16,
    pub(crate) directory_size: u32,
    pub(crate) directory_offset: u32,
    pub(crate) comment_len: u16,
}

impl End {
    /// Decodes the record; `None` when the signature is wrong.
    pub(crate) fn parse(bytes: &[u8; END_LEN]) -> Option<Self> {
        let mut f = Fields::new(bytes);
        if f.u32() != END_SIGNATURE {
            return None;
        }
        Some(Self {
            disk: f.u16(),
            directory_disk: f.u16(),
            entries_on_disk: f.u16(),
            entries: f.u16(),
            directory_size: f.u32(),
            directory_offset: f.u32(),
            comment_len: f.u16(),
        })
    }
}

/// The Zip64 end of central directory locator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Zip64Locator {
    pub(crate) record_disk: u32,
    pub(crate) record_offset: u64,
    pub(crate) total_disks: u32,
}

impl Zip64Locator {
    /// Decodes the locator; `None` when the signature is wrong.
    pub(crate) fn parse(bytes: &[u8; ZIP64_LOCATOR_LEN]) -> Option<Self> {
        let mut f = Fields::new(bytes);
        if f.u32() != ZIP64_LOCATOR_SIGNATURE {
            return None;
        }
        Some(Self {
            record_disk: f.u32(),
            record_offset: f.u64(),
            total_disks: f.u32(),
        })
    }
}

/// The Zip64 end of central directory record (without its extensible data).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Zip64End {
    /// Size of the record after this field: 44 plus the extensible data.
    pub(crate) record_size: u64,
    pub(crate) version_needed: u16,
    pub(crate) disk: u32,
    pub(crate) directory_disk: u32,
    pub(crate) entries_on_disk: u64,
    pub(crate) entries: u64,
    pub(crate) directory_size: u64,
    pub(crate) directory_offset: u64,
}

impl Zip64End {
    /// Decodes the record; `None` when the signature is wrong.
    pub(crate) fn parse(bytes: &[u8; ZIP64_END_LEN]) -> Option<Self> {
        let mut f = Fields::new(bytes);
        if f.u32() != ZIP64_END_SIGNATURE {
            return None;
        }
        let record_size = f.u64();
        let _version_made_by = f.u16();
        let version_needed = f.u16();
        Some(Self {
            record_size,
            version_needed,
            disk: f.u32(),
            directory_disk: f.u32(),
            entries_on_disk: f.u64(),
            entries: f.u64(),
            directory_size: f.u64(),
            directory_offset: f.u64(),
        })
    }

    /// Length of the extensible data after the fixed record, if the declared size is sane.
    pub(crate) fn extensible_len(&self) -> Option<u64> {
        self.record_size.checked_sub((ZIP64_END_LEN - 12) as u64)
    }
}

/// Where the central directory is and how many entries it lists, once the end records agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirectoryExtent {
    pub(crate) entries: u64,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// Combines the end record (at `end_offset`) with the Zip64 records (if any: the locator, the
/// record and the record's offset) into one extent, rejecting multi-disk archives and fields that
/// disagree.
pub(crate) fn directory_extent(
    end: &End,
    end_offset: u64,
    zip64: Option<(&Zip64Locator, &Zip64End, u64)>,
) -> Result<DirectoryExtent, ArchiveProblem> {
    let multi_disk = ArchiveProblem::MultiDisk { offset: end_offset };
    if end.disk != 0 && end.disk != ZIP64_U16
        || end.directory_disk != 0 && end.directory_disk != ZIP64_U16
        || end.entries_on_disk != end.entries
    {
        return Err(multi_disk);
    }
    let Some((locator, record, record_offset)) = zip64 else {
        if end.disk != 0 || end.directory_disk != 0 {
            return Err(multi_disk);
        }
        return Ok(DirectoryExtent {
            entries: u64::from(end.entries),
            offset: u64::from(end.directory_offset),
            size: u64::from(end.directory_size),
        });
    };
    if locator.record_disk != 0
        || locator.total_disks > 1
        || record.disk != 0
        || record.directory_disk != 0
        || record.entries_on_disk != record.entries
    {
        return Err(ArchiveProblem::MultiDisk {
            offset: record_offset,
        });
    }
    // Version 6.2 would mean an encrypted central directory (APPNOTE 7.3.4).
    let [version, _] = record.version_needed.to_le_bytes();
    if version > MAX_VERSION_NEEDED {
        return Err(ArchiveProblem::UnsupportedVersion {
            offset: record_offset,
            version,
        });
    }
    // Each classic field either repeats the Zip64 value or defers to it.
    let agrees = |classic: u64, saturated: u64, wide: u64| classic == saturated || classic == wide;
    if !agrees(u64::from(end.entries), u64::from(ZIP64_U16), record.entries)
        || !agrees(
            u64::from(end.directory_size),
            u64::from(ZIP64_U32),
            record.directory_size,
        )
        || !agrees(
            u64::from(end.directory_offset),
            u64::from(ZIP64_U32),
            record.directory_offset,
        )
    {
        return Err(ArchiveProblem::InconsistentEnd {
            offset: end_offset,
            detail: "the classic and Zip64 end records disagree",
        });
    }
    Ok(DirectoryExtent {
        entries: record.entries,
        offset: record.directory_offset,
        size: record.directory_size,
    })
}

/// A data descriptor's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DataDescriptor {
    pub(crate) crc32: u32,
    pub(crate) compressed: u64,
    pub(crate) uncompressed: u64,
}

/// Length of a data descriptor after its optional signature.
pub(crate) fn data_descriptor_body_len(zip64: bool) -> usize {
    if zip64 { 20 } else { 12 }
}

/// Decodes a data descriptor body (after the optional signature).
pub(crate) fn parse_data_descriptor_body(bytes: &[u8], zip64: bool) -> DataDescriptor {
    let mut f = Fields::new(bytes);
    let crc32 = f.u32();
    let (compressed, uncompressed) = if zip64 {
        (f.u64(), f.u64())
    } else {
        (u64::from(f.u32()), u64::from(f.u32()))
    };
    DataDescriptor {
        crc32,
        compressed,
        uncompressed,
    }
}

/// Finds the data of the extra field with `tag`; a malformed tail ends the search.
pub(crate) fn find_extra(mut extra: &[u8], tag: u16) -> Option<&[u8]> {
    while let Some((header, rest)) = extra.split_first_chunk::<4>() {
        let mut f = Fields::new(header);
        let (field_tag, len) = (f.u16(), usize::from(f.u16()));
        let data = rest.get(..len)?;
        if field_tag == tag {
            return Some(data);
        }
        extra = rest.get(len..)?;
    }
    None
}

/// The name carried by an Info-ZIP Unicode Path extra field (version 1), if any.
pub(crate) fn unicode_path(extra: &[u8]) -> Option<&[u8]> {
    let field = find_extra(extra, UNICODE_PATH_EXTRA_TAG)?;
    // Version byte, then the CRC-32 of the header name, then the UTF-8 name.
    field.get(5..)
}
