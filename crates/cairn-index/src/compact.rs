//! The compact form of a project page, as the simple bucket stores it: only what choosing a
//! wheel needs, serialized with rkyv and read in place.
//!
//! A page is parsed once, when it arrives from the index. Its files are then stored as
//! fixed-size records of integers that point into one byte string holding every name, URL,
//! specifier and digest; and a table from each distinct version (normalised, see
//! [`version_key`]) to its files, sorted by key. Validating the archive (bytecheck: a corrupt
//! or foreign file is an error, never a panic) is then a matter of bounds, not of walking
//! thousands of strings; choosing the wheel of a pinned version finds the version by binary
//! search and builds an [`IndexFile`] only for its files, checking their text as it does.
//!
//! File URLs are stored without the prefix they all share (`https://files.pythonhosted.org/`
//! `packages/` on PyPI) and, when they end in the file's name, without the name.

use pep440_rs::Version;
use rkyv::util::AlignedVec;
use url::Url;

use super::file::{IndexFile, MetadataLink};
use cairn_hash::{Digest, HashAlgorithm};

/// The alignment of the buffer a compact page is read into; rkyv reads in place and every
/// archived field is aligned to at most this.
pub(crate) const ALIGN: usize = 16;

/// A buffer aligned for reading a compact page in place.
pub(crate) type Aligned = AlignedVec<ALIGN>;

/// A project page reduced to what selection needs. Only ever written by [`encode`]; read back
/// as its archived form, [`ArchivedCompactPage`].
#[derive(rkyv::Archive, rkyv::Serialize)]
pub(crate) struct CompactPage {
    /// The normalised project name the page is for: a page stored under another name is a miss.
    project: String,
    /// The URL the page came from, after redirects.
    url: String,
    /// The prefix every file URL starts with, up to a `/`; the records hold the rest.
    url_base: String,
    /// The text and digests the records point into.
    text: Vec<u8>,
    /// Every file of the page, in page order.
    files: Vec<FileRecord>,
    /// The distinct versions of the project's wheels and source distributions, sorted by key.
    versions: Vec<VersionRecord>,
    /// The files of each version, by index into `files`, in runs that `versions` points to.
    version_files: Vec<u32>,
}

/// A run of bytes in [`CompactPage::text`].
#[derive(Clone, Copy, rkyv::Archive, rkyv::Serialize)]
struct Span {
    start: u32,
    len: u32,
}

/// One file of the page; every span is UTF-8 text except the digests.
#[derive(rkyv::Archive, rkyv::Serialize)]
struct FileRecord {
    filename: Span,
    /// The URL after [`CompactPage::url_base`], without the fragment, and without the file
    /// name when `url_has_filename` is false.
    url: Span,
    /// Whether the URL is `url` alone; otherwise it is `url` followed by the file name.
    url_has_filename: bool,
    /// The published digests: each an algorithm code ([`algorithm_code`]) and its bytes.
    hashes: Span,
    requires_python: Option<Span>,
    /// `Some(reason)` when yanked; the reason may be empty.
    yanked: Option<Span>,
    size: Option<u64>,
    /// `Some(digests)`, encoded as `hashes`, when the index serves the core metadata alone.
    core_metadata: Option<Span>,
}

/// The files whose version has this key: `version_files[first..first + count]`.
#[derive(rkyv::Archive, rkyv::Serialize)]
struct VersionRecord {
    key: Span,
    first: u32,
    count: u32,
}

/// The key under which a version is stored: the version without its local label and without
/// trailing zeros in its release, normalised (`1.0.0+cpu` and `1.0` share the key `1`).
///
/// Every version that an `==V` specifier admits has the key of `V`, so looking the key up finds
/// every candidate; the specifier itself then decides among them.
pub(crate) fn version_key(version: &Version) -> String {
    let release = version.release();
    let kept = release
        .iter()
        .rposition(|&number| number != 0)
        .map_or(1, |last| last + 1);
    let without_local = version.clone().without_local();
    match release.get(..kept) {
        Some(trimmed) if !trimmed.is_empty() => without_local.with_release(trimmed).to_string(),
        _ => without_local.to_string(),
    }
}

/// The stored code of a digest algorithm; part of the format, so spelled out.
fn algorithm_code(algorithm: HashAlgorithm) -> u8 {
    match algorithm {
        HashAlgorithm::Blake3 => 1,
        HashAlgorithm::Sha256 => 2,
        HashAlgorithm::Sha384 => 3,
        HashAlgorithm::Sha512 => 4,
    }
}

fn algorithm_of(code: u8) -> Option<HashAlgorithm> {
    match code {
        1 => Some(HashAlgorithm::Blake3),
        2 => Some(HashAlgorithm::Sha256),
        3 => Some(HashAlgorithm::Sha384),
        4 => Some(HashAlgorithm::Sha512),
        _ => None,
    }
}

/// Why a page cannot be stored compact.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EncodeError {
    /// Its text does not fit 32-bit offsets.
    #[error("the page is too large for the compact form")]
    TooLarge,
    /// rkyv refused it.
    #[error("cannot archive the page: {0}")]
    Archive(#[from] rkyv::rancor::Error),
}
use EncodeError::TooLarge;

/// Builds [`CompactPage::text`].
#[derive(Default)]
struct TextWriter {
    text: Vec<u8>,
}

impl TextWriter {
    fn push(&mut self, bytes: &[u8]) -> Result<Span, EncodeError> {
        let start = u32::try_from(self.text.len()).map_err(|_| TooLarge)?;
        let len = u32::try_from(bytes.len()).map_err(|_| TooLarge)?;
        start.checked_add(len).ok_or(TooLarge)?;
        self.text.extend_from_slice(bytes);
        Ok(Span { start, len })
    }

    fn push_digests(&mut self, digests: &[Digest]) -> Result<Span, EncodeError> {
        let mut bytes = Vec::new();
        for digest in digests {
            bytes.push(algorithm_code(digest.algorithm()));
            bytes.extend_from_slice(digest.as_bytes());
        }
        self.push(&bytes)
    }
}

/// The longest prefix of every URL that ends in `/` (empty if they share none).
fn common_base<'a>(mut urls: impl Iterator<Item = &'a str>) -> &'a str {
    let Some(first) = urls.next() else {
        return "";
    };
    let mut len = first.len();
    for url in urls {
        len = first
            .bytes()
            .zip(url.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    first
        .get(..len)
        .and_then(|prefix| prefix.rfind('/'))
        .map_or("", |slash| &first[..=slash])
}

/// The compact form of a parsed page's `files` (already classified for `project`), as bytes
/// to store after the format line and to read with [`access`].
pub(crate) fn encode(
    project: &str,
    page_url: &Url,
    files: &[IndexFile],
) -> Result<Aligned, EncodeError> {
    let url_base = common_base(files.iter().map(|file| file.url.as_str())).to_owned();
    let mut text = TextWriter::default();
    let mut records = Vec::with_capacity(files.len());
    let mut versions: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
    for (index, file) in files.iter().enumerate() {
        let url = &file.url.as_str()[url_base.len()..];
        // The name, percent-encoded or not, is what the parser read from the URL's last
        // segment; drop it only when it is there verbatim.
        let without_name = url
            .strip_suffix(file.filename.as_str())
            .filter(|rest| rest.is_empty() || rest.ends_with('/'));
        records.push(FileRecord {
            filename: text.push(file.filename.as_bytes())?,
            url: text.push(without_name.unwrap_or(url).as_bytes())?,
            url_has_filename: without_name.is_none(),
            hashes: text.push_digests(&file.hashes)?,
            requires_python: file
                .requires_python
                .as_ref()
                .map(|text_| text.push(text_.as_bytes()))
                .transpose()?,
            yanked: file
                .yanked
                .as_ref()
                .map(|reason| text.push(reason.as_bytes()))
                .transpose()?,
            size: file.size,
            core_metadata: file
                .core_metadata
                .as_ref()
                .map(|link| text.push_digests(&link.hashes))
                .transpose()?,
        });
        if let Some(version) = &file.version {
            let index = u32::try_from(index).map_err(|_| TooLarge)?;
            versions
                .entry(version_key(version))
                .or_default()
                .push(index);
        }
    }
    let mut version_records = Vec::with_capacity(versions.len());
    let mut version_files = Vec::new();
    for (key, indexes) in versions {
        version_records.push(VersionRecord {
            key: text.push(key.as_bytes())?,
            first: u32::try_from(version_files.len()).map_err(|_| TooLarge)?,
            count: u32::try_from(indexes.len()).map_err(|_| TooLarge)?,
        });
        version_files.extend(indexes);
    }
    let page = CompactPage {
        project: project.to_owned(),
        url: page_url.as_str().to_owned(),
        url_base,
        text: text.text,
        files: records,
        versions: version_records,
        version_files,
    };
    Ok(rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(
        &page,
        Aligned::new(),
    )?)
}

/// Reads compact page bytes in place, after validating their structure and checking that the
/// page is `project`'s. Spans are checked when they are read: one out of bounds, or text that
/// is not UTF-8, makes its file unreadable, never a panic.
pub(crate) fn access<'a>(
    bytes: &'a [u8],
    project: &str,
) -> Result<&'a ArchivedCompactPage, String> {
    let page = rkyv::access::<ArchivedCompactPage, rkyv::rancor::Error>(bytes)
        .map_err(|error| error.to_string())?;
    if page.project.as_str() != project {
        return Err(format!("it is the page of `{}`", page.project.as_str()));
    }
    Ok(page)
}

impl ArchivedCompactPage {
    /// The bytes of `span`, if it lies within the text.
    fn bytes(&self, span: &ArchivedSpan) -> Option<&[u8]> {
        let start = usize::try_from(span.start.to_native()).ok()?;
        let len = usize::try_from(span.len.to_native()).ok()?;
        self.text.get(start..start.checked_add(len)?)
    }

    /// The text of `span`, if it lies within the text and is UTF-8.
    fn str(&self, span: &ArchivedSpan) -> Option<&str> {
        std::str::from_utf8(self.bytes(span)?).ok()
    }

    fn digests(&self, span: &ArchivedSpan) -> Option<Vec<Digest>> {
        let mut bytes = self.bytes(span)?;
        let mut digests = Vec::new();
        while let Some((&code, rest)) = bytes.split_first() {
            let algorithm = algorithm_of(code)?;
            let (digest, rest) = rest.split_at_checked(algorithm.output_len())?;
            digests.push(Digest::from_bytes(algorithm, digest).ok()?);
            bytes = rest;
        }
        Some(digests)
    }

    /// The file as the page parser made it, classified for the project; `None` if the record
    /// does not read back (a damaged page).
    fn file(&self, record: &ArchivedFileRecord) -> Option<IndexFile> {
        let filename = self.str(&record.filename)?;
        let rest = self.str(&record.url)?;
        let mut url = String::with_capacity(self.url_base.len() + rest.len() + filename.len());
        url.push_str(self.url_base.as_str());
        url.push_str(rest);
        if !record.url_has_filename {
            url.push_str(filename);
        }
        let url = Url::parse(&url).ok()?;
        let mut file = IndexFile::new(filename.to_owned(), url, self.digests(&record.hashes)?);
        // `None` for a damaged span, `Some(None)` for an absent one.
        let text = |span: Option<&ArchivedSpan>| match span {
            None => Some(None),
            Some(span) => self.str(span).map(|text| Some(text.to_owned())),
        };
        file.requires_python = text(record.requires_python.as_ref())?;
        file.yanked = text(record.yanked.as_ref())?;
        file.size = record.size.as_ref().map(|size| size.to_native());
        file.core_metadata = match record.core_metadata.as_ref() {
            Some(span) => Some(MetadataLink {
                hashes: self.digests(span)?,
            }),
            None => None,
        };
        file.classify(self.project.as_str());
        Some(file)
    }

    /// The file at `index`, built, or `None` (with a note in the log) if it does not read back.
    fn file_at(&self, index: usize) -> Option<IndexFile> {
        let file = self.files.get(index).and_then(|record| self.file(record));
        if file.is_none() {
            tracing::debug!(
                project = self.project.as_str(),
                index,
                "skipping a damaged file record of a cached page"
            );
        }
        file
    }

    /// Every file of the page, built in full.
    pub(crate) fn files(&self) -> Vec<IndexFile> {
        (0..self.files.len())
            .filter_map(|index| self.file_at(index))
            .collect()
    }

    /// The indexes of the files of the version at `record`.
    fn files_of(&self, record: &ArchivedVersionRecord) -> &[rkyv::Archived<u32>] {
        let first = usize::try_from(record.first.to_native()).unwrap_or(usize::MAX);
        let count = usize::try_from(record.count.to_native()).unwrap_or(0);
        first
            .checked_add(count)
            .and_then(|end| self.version_files.get(first..end))
            .unwrap_or_default()
    }

    /// The files whose version may equal `version` (those with its [`version_key`]), built in
    /// full; the others are not read.
    pub(crate) fn candidates(&self, version: &Version) -> Vec<IndexFile> {
        let key = version_key(version);
        let found = self.versions.binary_search_by(|record| {
            self.bytes(&record.key)
                .unwrap_or_default()
                .cmp(key.as_bytes())
        });
        let Some(record) = found.ok().and_then(|index| self.versions.get(index)) else {
            return Vec::new();
        };
        self.files_of(record)
            .iter()
            .filter_map(|index| self.file_at(usize::try_from(index.to_native()).ok()?))
            .collect()
    }

    /// The version of every file that has one, for an error that lists what exists.
    pub(crate) fn versions(&self) -> Vec<Version> {
        self.versions
            .iter()
            .flat_map(|record| self.files_of(record))
            .filter_map(|index| self.file_at(usize::try_from(index.to_native()).ok()?))
            .filter_map(|file| file.version)
            .collect()
    }
}
