//! [`IndexClient`]: a project's files from a Simple API index, cached and revalidated.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use cairn_cache::{Cache, Refresh, RefreshState};
use tokio::io::AsyncReadExt;
use url::Url;

use super::compact::ArchivedCompactPage;
use super::error::IndexError;
use super::file::IndexFile;
use super::page_cache::{PageBytes, PageEntries};
use super::{html, json, project};
use cairn_http::{CachePolicy, DownloadError, Fetched, Freshness, HttpClient};
use cairn_types::RedactedUrl;

/// The largest project page cairn reads by default; PyPI's largest are tens of megabytes. A
/// server sending more (or never ending its body) is refused rather than exhausting memory.
pub const MAX_PAGE_BYTES: u64 = 512 * 1024 * 1024;

/// How many project pages an [`IndexClient`] requests at once by default. The requests share
/// the HTTP client's connection pool (one HTTP/2 connection to hosts that offer it), and each
/// body is held in memory until it is parsed: a few megabytes for the largest projects' pages,
/// so fewer at once than downloads, which stream.
pub const DEFAULT_CONCURRENT_REQUESTS: usize = 16;

/// A client of one Simple API index (PEP 503 / PEP 691), with find-links directories searched
/// before it.
#[derive(Debug, Clone)]
pub struct IndexClient {
    pub(super) http: HttpClient,
    pub(super) cache: Cache,
    pub(super) index_url: Url,
    pub(super) find_links: Vec<PathBuf>,
    pub(super) refresh: Refresh,
    /// The largest page read, from the server or the cache ([`MAX_PAGE_BYTES`] by default).
    pub(super) max_page_bytes: u64,
    /// Turns for page requests, shared by clones.
    pub(super) requests: Arc<tokio::sync::Semaphore>,
    /// Turns for parsing pages, one per core, shared by clones: a page's parse takes several
    /// times its size in memory, so that many pages arriving at once are parsed a few at a
    /// time rather than all together.
    pub(super) parses: Arc<tokio::sync::Semaphore>,
}

impl IndexClient {
    /// The default index, PyPI.
    pub const DEFAULT_INDEX: &str = "https://pypi.org/simple/";

    /// A client of the index at `index_url` (its root, e.g. `https://pypi.org/simple/`).
    /// Offline mode comes from the `http` client's settings.
    pub fn new(http: HttpClient, cache: Cache, mut index_url: Url) -> Self {
        // Project pages are `<index>/<name>/`: without the slash, joining would replace the
        // index's last segment.
        if !index_url.path().ends_with('/') {
            let path = format!("{}/", index_url.path());
            index_url.set_path(&path);
        }
        Self {
            http,
            cache,
            index_url,
            find_links: Vec::new(),
            refresh: Refresh::none(),
            max_page_bytes: MAX_PAGE_BYTES,
            requests: Arc::new(tokio::sync::Semaphore::new(DEFAULT_CONCURRENT_REQUESTS)),
            parses: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            )),
        }
    }

    /// Requests at most `requests` project pages at once (default
    /// [`DEFAULT_CONCURRENT_REQUESTS`]; 0 counts as 1). Pages read from the cache without a
    /// request do not wait for a turn.
    pub fn with_concurrent_requests(mut self, requests: usize) -> Self {
        self.requests = Arc::new(tokio::sync::Semaphore::new(requests.max(1)));
        self
    }

    /// Refuses project pages larger than `bytes` (default [`MAX_PAGE_BYTES`]).
    pub fn with_max_page_bytes(mut self, bytes: u64) -> Self {
        self.max_page_bytes = bytes;
        self
    }

    /// Searches these directories for wheels before the index.
    pub fn with_find_links(mut self, dirs: Vec<PathBuf>) -> Self {
        self.find_links = dirs;
        self
    }

    /// Revalidates cached pages as `refresh` says (`--refresh`, `--refresh-package`).
    pub fn with_refresh(mut self, refresh: Refresh) -> Self {
        self.refresh = refresh;
        self
    }

    /// The index root, ending in `/`.
    pub fn index_url(&self) -> &Url {
        &self.index_url
    }

    /// Every distribution file the index lists for project `name`.
    ///
    /// Asks for PEP 691 JSON and reads PEP 503 HTML if that is what comes. The page is cached
    /// in the simple bucket with its HTTP cache policy: a fresh page costs no request, a stale
    /// one a conditional request. Under a [`Refresh`] that covers the project, a page stored
    /// before the refresh began is revalidated whatever its policy says. Offline, only the
    /// cache is used.
    pub async fn files(&self, name: &str) -> Result<Vec<IndexFile>, IndexError> {
        let project = project::normalized(name)?;
        self.with_page(&project, ArchivedCompactPage::files).await
    }

    /// Runs `read` on the project's page in its compact form, from the cache or the index.
    ///
    /// A cached page is read and validated once, on the calling task: only the files of the
    /// version asked for are decoded, which keeps it cheap enough not to need a blocking
    /// thread. A page from the index is parsed, reduced and stored on a blocking thread, since
    /// a large one takes long to parse.
    /// At most [`with_concurrent_requests`](Self::with_concurrent_requests) requests for pages
    /// are in flight at once; reading the cache waits for none.
    pub(super) async fn with_page<R>(
        &self,
        project: &str,
        read: impl FnOnce(&ArchivedCompactPage) -> R,
    ) -> Result<R, IndexError> {
        let url = self.project_url(project)?;
        let entries = PageEntries::new(&self.cache, &self.index_url, project);
        let refresh = self.refresh.state_of(&entries.policy, Some(project));
        let stored = entries.read_page(self.max_page_bytes);
        let cached = stored.as_ref().and_then(|bytes| match bytes.page(project) {
            Ok(page) => Some(page),
            Err(reason) => {
                tracing::debug!(
                    path = %entries.page.path().display(),
                    %reason,
                    "ignoring an unreadable cached page"
                );
                None
            }
        });
        let cached_policy = match cached {
            // Stored by this very operation, after the refresh began: already refreshed.
            Some(page)
                if refresh == RefreshState::Fresh && self.refresh.applies_to(Some(project)) =>
            {
                return Ok(read(page));
            }
            Some(_) => {
                // A page whose policy is lost is still good offline; online it is fetched
                // again, since a default policy is stale and has no validators.
                let mut policy = entries.read_policy().unwrap_or_default();
                if refresh == RefreshState::Stale {
                    policy.no_cache = true;
                }
                Some(policy)
            }
            None => None,
        };

        // A turn only for what may reach the network: a page fresh by its policy is answered
        // by the HTTP client at once, and must not wait behind revalidations. The semaphore
        // is never closed; without a permit the request would simply be unbounded.
        let fresh = cached_policy
            .as_ref()
            .is_some_and(|policy| policy.freshness(SystemTime::now()) == Freshness::Fresh);
        let permit = if fresh {
            None
        } else {
            self.requests.acquire().await.ok()
        };
        let fetched = self
            .http
            .get_accepting(&url, cached_policy.as_ref(), Some(json::ACCEPT))
            .await
            .map_err(|source| self.download_error(project, &url, source))?;
        match (fetched, cached) {
            (Fetched::Fresh, Some(page)) => {
                tracing::debug!(project, "index page fresh in the cache");
                Ok(read(page))
            }
            (Fetched::NotModified { policy }, Some(page)) => {
                tracing::debug!(project, "index page not modified");
                entries.write_policy(&policy)?;
                Ok(read(page))
            }
            (Fetched::Body(download), _) => {
                let policy = download.policy.clone();
                let page_url = download.final_url.clone();
                let mut body = Vec::new();
                let cap = self.max_page_bytes;
                let mut reader = download.into_async_read().take(cap.saturating_add(1));
                reader
                    .read_to_end(&mut body)
                    .await
                    .map_err(|error| self.body_error(project, &url, error))?;
                if body.len() as u64 > cap {
                    return Err(IndexError::BadPage {
                        name: project.to_owned(),
                        url: RedactedUrl::new(&url).to_string(),
                        reason: format!(
                            "it is larger than {}, the most cairn reads of one project page \
                             (the server may be sending an endless body)",
                            size_text(cap)
                        ),
                    });
                }
                // The request's turn is kept until the page is parsed, so that at most that
                // many bodies wait in memory for a parse.
                let parse_turn = self.parses.acquire().await.ok();
                let bytes = store(project, page_url.clone(), body, policy, entries).await?;
                drop((parse_turn, permit));
                let page = bytes.page(project).map_err(|reason| IndexError::BadPage {
                    name: project.to_owned(),
                    url: RedactedUrl::new(&page_url).to_string(),
                    reason: format!("its compact form does not read back ({reason})"),
                })?;
                Ok(read(page))
            }
            // The client only answers `Fresh` or `304` when it was given a cached policy, which
            // exists only with a cached page.
            (Fetched::Fresh | Fetched::NotModified { .. }, None) => Err(IndexError::BadPage {
                name: project.to_owned(),
                url: RedactedUrl::new(&url).to_string(),
                reason: "the HTTP client reused a page that is not cached".to_owned(),
            }),
        }
    }

    /// `<index>/<project>/`.
    pub(crate) fn project_url(&self, project: &str) -> Result<Url, IndexError> {
        self.index_url
            .join(&format!("{project}/"))
            .map_err(|error| IndexError::BadPage {
                name: project.to_owned(),
                url: RedactedUrl::new(&self.index_url).to_string(),
                reason: format!("no project URL can be made from the index URL: {error}"),
            })
    }

    /// A failure while reading a page's body: the download error inside, if it is one.
    fn body_error(&self, project: &str, url: &Url, error: std::io::Error) -> IndexError {
        let text = error.to_string();
        match error
            .into_inner()
            .map(|inner| inner.downcast::<DownloadError>())
        {
            Some(Ok(download)) => self.download_error(project, url, *download),
            _ => IndexError::BadPage {
                name: project.to_owned(),
                url: RedactedUrl::new(url).to_string(),
                reason: text,
            },
        }
    }

    fn download_error(&self, project: &str, url: &Url, source: DownloadError) -> IndexError {
        match source {
            DownloadError::Offline { .. } => IndexError::Offline {
                name: project.to_owned(),
                url: RedactedUrl::new(url).to_string(),
            },
            DownloadError::Status {
                status: 404 | 410, ..
            } => IndexError::ProjectNotFound {
                name: project.to_owned(),
                index: RedactedUrl::new(&self.index_url).to_string(),
                find_links: self.find_links.clone(),
            },
            source => IndexError::Download {
                name: project.to_owned(),
                source: Box::new(source),
            },
        }
    }
}

/// Parses a page from the index, reduces it to its compact form and stores that with `policy`
/// (or forgets the page when there is no policy: `no-store`), on a blocking thread.
async fn store(
    project: &str,
    page_url: Url,
    body: Vec<u8>,
    policy: Option<CachePolicy>,
    entries: PageEntries,
) -> Result<PageBytes, IndexError> {
    let name = project.to_owned();
    let redacted = RedactedUrl::new(&page_url).to_string();
    let task = tokio::task::spawn_blocking(move || {
        let files = parse(&body, &page_url, &name)?;
        let bytes = entries.encode(&name, &page_url, &files)?;
        match policy {
            Some(policy) => entries.write(&bytes, &policy)?,
            None => entries.remove(),
        }
        Ok(bytes)
    });
    task.await.map_err(|error| IndexError::BadPage {
        name: project.to_owned(),
        url: redacted,
        reason: format!("reading it failed: {error}"),
    })?
}

/// The files of a page, each classified by its name (kind and version) once, here.
pub(crate) fn parse(body: &[u8], url: &Url, project: &str) -> Result<Vec<IndexFile>, IndexError> {
    let mut files = parse_page(body, url, project)?;
    for file in &mut files {
        file.classify(project);
    }
    Ok(files)
}

/// The files of a page: JSON if it looks like JSON (PEP 691 servers label it, but a body that
/// opens with `{` cannot be HTML anyway), HTML otherwise.
fn parse_page(body: &[u8], url: &Url, project: &str) -> Result<Vec<IndexFile>, IndexError> {
    let bad_page = |reason: String| IndexError::BadPage {
        name: project.to_owned(),
        url: RedactedUrl::new(url).to_string(),
        reason,
    };
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first == Some(&b'{') {
        return json::parse(body, url).map_err(bad_page);
    }
    let text = std::str::from_utf8(body)
        .map_err(|error| bad_page(format!("it is not UTF-8 HTML ({error})")))?;
    Ok(html::parse(text, url))
}

/// `bytes` in MiB when it is a whole number of them, else in bytes.
fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}
