//! Project pages in the simple bucket.
//!
//! `simple-v0/<cache_digest(canonical index URL)>/<normalised project>.page` holds the page as
//! the server sent it, after one header line and the URL it came from (relative links resolve
//! against it): `cairn-simple-1\n<final URL>\n<body>`. Beside it, `<project>.http` holds the
//! response's [`CachePolicy`], as for wheels. The raw body is kept, rather than a parsed form,
//! so that a better parser needs no new bucket version. Both files are replaced whole.

use std::path::Path;

use cairn_cache::{Cache, CacheBucket, CacheEntry};
use cairn_cache_key::{CanonicalUrl, cache_digest};
use url::Url;

use super::error::IndexError;
use cairn_http::CachePolicy;

/// Leads every stored page, so that another file or an older format is a miss.
const FORMAT_LINE: &[u8] = b"cairn-simple-1\n";

/// A project page: where it came from and its bytes.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// The URL the body came from, after redirects.
    pub(crate) url: Url,
    /// The body, JSON or HTML.
    pub(crate) body: Vec<u8>,
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

    /// The stored page, if there is a readable one whose body is at most `max_body` bytes (a
    /// larger file was not written by cairn, which refuses such pages: it is a miss).
    pub(crate) fn read_page(&self, max_body: u64) -> Option<Page> {
        use std::io::Read;
        // The header: the format line and a URL, which URL parsing bounds well below this.
        const MAX_HEADER: u64 = 64 * 1024;
        let cap = max_body.saturating_add(MAX_HEADER);
        let mut bytes = Vec::new();
        std::fs::File::open(self.page.path())
            .ok()?
            .take(cap.saturating_add(1))
            .read_to_end(&mut bytes)
            .ok()?;
        if bytes.len() as u64 > cap {
            tracing::debug!(path = %self.page.path().display(), "ignoring an oversized cached page");
            return None;
        }
        let rest = bytes.strip_prefix(FORMAT_LINE)?;
        let newline = rest.iter().position(|&byte| byte == b'\n')?;
        let url = std::str::from_utf8(&rest[..newline]).ok()?;
        let url = Url::parse(url).ok()?;
        Some(Page {
            url,
            body: rest[newline + 1..].to_vec(),
        })
    }

    /// The stored policy; `None` when missing or unreadable.
    pub(crate) fn read_policy(&self) -> Option<CachePolicy> {
        let bytes = std::fs::read(self.policy.path()).ok()?;
        CachePolicy::from_bytes(&bytes).ok()
    }

    /// Stores a new page and its policy (the page first: a policy never describes a page
    /// older than itself).
    pub(crate) fn write(&self, page: &Page, policy: &CachePolicy) -> Result<(), IndexError> {
        let mut bytes =
            Vec::with_capacity(FORMAT_LINE.len() + page.url.as_str().len() + 1 + page.body.len());
        bytes.extend_from_slice(FORMAT_LINE);
        bytes.extend_from_slice(page.url.as_str().as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&page.body);
        write(self.page.path(), &bytes)?;
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
