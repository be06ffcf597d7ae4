//! Project pages in the simple bucket.
//!
//! `simple-v1/<cache_digest(canonical index URL)>/<normalised project>.page` holds the page in
//! its compact form (see `compact.rs`) after a 32-byte header: the format line
//! `cairn-simple-v2\n` (16 bytes), the archive's length (8 bytes, little-endian) and 8 zero
//! bytes, so that the archive stays aligned when the file is read into an aligned buffer.
//! Beside it, `<project>.http` holds the response's [`CachePolicy`], as for wheels. Both files
//! are replaced whole. A file without the format line, of another length than its header says,
//! that fails validation or that names another project is a miss, and the page is fetched
//! again.

use std::io::Read;
use std::path::Path;

use cairn_cache::{Cache, CacheBucket, CacheEntry};
use cairn_cache_key::{CanonicalUrl, cache_digest};
use url::Url;

use super::compact::{self, Aligned, ArchivedCompactPage};
use super::error::IndexError;
use cairn_http::CachePolicy;

/// Leads every stored page, so that another file or another format is a miss.
const FORMAT_LINE: &[u8; 16] = b"cairn-simple-v2\n";

/// The format line, the archive's length and padding: a multiple of [`compact::ALIGN`], so the
/// archive after it stays aligned.
const HEADER_LEN: usize = 32;
const _: () = assert!(HEADER_LEN.is_multiple_of(compact::ALIGN));

/// A project page in its stored form: the format line and the compact archive, in a buffer
/// aligned for reading it in place.
#[derive(Debug)]
pub(crate) struct PageBytes {
    bytes: Aligned,
}

impl PageBytes {
    /// The stored form of `files` (parsed from the page at `url`, classified for `project`).
    fn encode(
        project: &str,
        url: &Url,
        files: &[crate::IndexFile],
    ) -> Result<Self, compact::EncodeError> {
        let archive = compact::encode(project, url, files)?;
        let mut bytes = Aligned::with_capacity(HEADER_LEN + archive.len());
        bytes.extend_from_slice(FORMAT_LINE);
        bytes.extend_from_slice(&(archive.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&[0; HEADER_LEN - FORMAT_LINE.len() - 8]);
        bytes.extend_from_slice(&archive);
        Ok(Self { bytes })
    }

    /// Reads bytes stored by [`encode`](Self::encode); `None` unless they start with the
    /// format line and are as long as their header says (a truncated file is a miss).
    pub(crate) fn from_reader(reader: &mut impl Read, capacity: usize) -> Option<Self> {
        let mut bytes = Aligned::with_capacity(capacity);
        bytes.extend_from_reader(reader).ok()?;
        let header = bytes.get(..HEADER_LEN)?;
        let (format, rest) = header.split_at(FORMAT_LINE.len());
        let length = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
        let complete = format == FORMAT_LINE
            && u64::try_from(bytes.len() - HEADER_LEN).is_ok_and(|actual| actual == length);
        complete.then_some(Self { bytes })
    }

    /// The page, validated, if it is `project`'s; why not otherwise.
    pub(crate) fn page(&self, project: &str) -> Result<&ArchivedCompactPage, String> {
        let archive = self.bytes.get(HEADER_LEN..).unwrap_or_default();
        compact::access(archive, project)
    }

    /// The whole stored form.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The cache files of one project's page on one index.
#[derive(Debug, Clone)]
pub(crate) struct PageEntries {
    pub(crate) page: CacheEntry,
    pub(crate) policy: CacheEntry,
}

impl PageEntries {
    pub(crate) fn new(cache: &Cache, index_url: &Url, project: &str) -> Self {
        let index_key = cache_digest(&CanonicalUrl::new(index_url.clone()));
        let page = cache.entry(CacheBucket::Simple, index_key, format!("{project}.page"));
        let policy = page.with_extension("http");
        Self { page, policy }
    }

    /// The stored page's bytes, if there is a file of at most `max_bytes` that starts with the
    /// format line (a larger file was not written by cairn, which refuses such pages: it is a
    /// miss). They are validated when read with [`PageBytes::page`].
    pub(crate) fn read_page(&self, max_bytes: u64) -> Option<PageBytes> {
        let file = std::fs::File::open(self.page.path()).ok()?;
        let size = file.metadata().ok()?.len();
        if size > max_bytes {
            tracing::debug!(path = %self.page.path().display(), "ignoring an oversized cached page");
            return None;
        }
        // The file may grow between `metadata` and the read: the cap still holds.
        let mut reader = file.take(max_bytes.saturating_add(1));
        // Room for the whole file and the read that finds its end, so the buffer never grows.
        let capacity = usize::try_from(size).ok()?.saturating_add(compact::ALIGN);
        let page = PageBytes::from_reader(&mut reader, capacity)?;
        if page.as_bytes().len() as u64 > max_bytes {
            return None;
        }
        Some(page)
    }

    /// The stored form of `files`, parsed from the page at `url` and classified for `project`.
    pub(crate) fn encode(
        &self,
        project: &str,
        url: &Url,
        files: &[crate::IndexFile],
    ) -> Result<PageBytes, IndexError> {
        PageBytes::encode(project, url, files).map_err(|error| IndexError::Cache {
            action: "encode",
            path: self.page.path().to_owned(),
            source: std::io::Error::other(error.to_string()),
        })
    }

    /// The stored policy; `None` when missing or unreadable.
    pub(crate) fn read_policy(&self) -> Option<CachePolicy> {
        let bytes = std::fs::read(self.policy.path()).ok()?;
        CachePolicy::from_bytes(&bytes).ok()
    }

    /// Stores a new page and its policy (the page first: a policy never describes a page
    /// older than itself).
    pub(crate) fn write(&self, page: &PageBytes, policy: &CachePolicy) -> Result<(), IndexError> {
        write(self.page.path(), page.as_bytes())?;
        self.write_policy(policy)
    }

    /// Replaces the policy (after a `304`).
    pub(crate) fn write_policy(&self, policy: &CachePolicy) -> Result<(), IndexError> {
        match policy.to_bytes() {
            Ok(bytes) => write(self.policy.path(), &bytes),
            Err(error) => {
                tracing::debug!(%error, "not storing the index page's cache policy");
                Ok(())
            }
        }
    }

    /// Forgets the page (the server now says `no-store`): a stale copy must not be served.
    pub(crate) fn remove(&self) {
        for entry in [&self.policy, &self.page] {
            if let Err(error) = std::fs::remove_file(entry.path())
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::debug!(path = %entry.path().display(), %error, "cannot remove");
            }
        }
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    cairn_fs::write_atomic(path, bytes).map_err(|error| IndexError::Cache {
        action: "write",
        path: path.to_owned(),
        source: std::io::Error::other(error),
    })
}
