//! Fetching a wheel from an `http(s)` URL: answered from the published-hash index or a pointer
//! when possible, else downloaded once, hashed and unpacked while the bytes arrive.

use std::path::Path;
use std::time::SystemTime;

use cairn_cache::{ArchivePath, CacheEntry, Pointer, PointerKey};
use cairn_cache_key::CanonicalUrl;
use futures_util::TryStreamExt;
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncWriteExt};
use url::Url;

use super::progress;
use super::{FetchError, FetchOutcome, FetchedWheel, WheelStore, dist_info, record};
use cairn_hash::{
    Digest, ExpectedHashes, HashAlgorithm, HasherSet, Hashes, HashingAsyncReader, HashingStream,
};
use cairn_http::{
    CachePolicy, Download, DownloadError, Fetched, Freshness, RedactedUrl, RetryBudget,
};
use cairn_types::WheelFilename;
use cairn_zip::{ExtractReport, extract_chunks, extract_file};

/// One URL request and where its records live.
struct Request<'a> {
    url: &'a Url,
    /// The URL as shown in messages: credentials redacted.
    shown: String,
    canonical: CanonicalUrl,
    filename: &'a WheelFilename,
    expected: &'a ExpectedHashes,
    pointer: CacheEntry,
    /// The HTTP cache policy of the downloaded wheel, beside the pointer.
    policy: CacheEntry,
}

/// What the URL's pointer says.
enum PointerCheck {
    Hit(Box<FetchedWheel>),
    Miss,
    /// Revalidation found a new version: here is its body.
    Changed(Box<Download>),
}

pub(super) async fn fetch_url(
    store: &WheelStore,
    url: &Url,
    filename: &WheelFilename,
    expected: &ExpectedHashes,
) -> Result<FetchedWheel, FetchError> {
    let canonical = CanonicalUrl::new(url.clone());
    let pointer = store.cache().pointer_entry(&PointerKey::url(&canonical));
    let request = Request {
        url,
        shown: RedactedUrl::new(url).as_str().to_owned(),
        canonical,
        filename,
        expected,
        policy: pointer.with_extension("http"),
        pointer,
    };

    // A hash-pinned request whose content is already unpacked needs no network at all.
    if let Some(hit) = from_index(store, &request)? {
        return Ok(hit);
    }
    // `from_index` found nothing in this cache: a lower cache may hold it.
    if let Some(hit) = store.find_in_lower(filename, expected, &request.shown)? {
        return Ok(hit);
    }
    // Every attempt at this URL, whichever layer makes it, comes out of one budget.
    let mut budget = store.client().await?.retry_budget();
    if let PointerCheck::Hit(hit) = from_pointer(store, &request, false, &mut budget).await? {
        return Ok(*hit);
    }
    // No cache holds it: the remote tier may, before any download.
    if let Some(hit) = store
        .find_in_remote(filename, expected, &request.shown)
        .await?
    {
        let FetchedWheel {
            archive,
            hashes,
            size,
            ..
        } = hit;
        return publish(
            store,
            &request,
            archive,
            hashes,
            size,
            None,
            FetchOutcome::RemoteHit,
        );
    }

    // A turn among the store's downloads, then one process downloads a URL at a time; the
    // others wait, then find its pointer.
    let _turn = store
        .downloads
        .acquire()
        .await
        .map_err(|error| FetchError::Task {
            source_name: request.shown.clone(),
            message: error.to_string(),
        })?;
    let lock_store = store.clone();
    let lock_key = request.canonical.as_str().to_owned();
    let _lock = tokio::task::spawn_blocking(move || {
        let timeout = lock_store.settings.lock_timeout;
        lock_store
            .cache()
            .lock(&("url", lock_key.as_str()), timeout)
    })
    .await
    .map_err(|error| task_error(&request.shown, &error))??;
    let mut body = match from_pointer(store, &request, true, &mut budget).await? {
        PointerCheck::Hit(hit) => return Ok(*hit),
        PointerCheck::Miss => None,
        PointerCheck::Changed(body) => Some(*body),
    };

    // Only a body that started and broke off is started again here: failures before a body
    // (no connection, no response, 5xx) were already retried by the client, from this budget.
    loop {
        let error = match download(store, &request, body.take(), &mut budget).await {
            Ok(fetched) => return Ok(fetched),
            Err(error) => error,
        };
        let Some(DownloadError::Body {
            received, reason, ..
        }) = broken_body(&error)
        else {
            return Err(error);
        };
        let Some(delay) = budget.next_delay(None) else {
            tracing::debug!(url = %request.shown, attempts = budget.attempts(), "retry budget spent");
            return Err(error);
        };
        tracing::warn!(
            url = %request.shown,
            attempt = budget.attempts(),
            max_attempts = budget.max_attempts(),
            received,
            %reason,
            "the download broke off after its body started; starting it again"
        );
        tokio::time::sleep(delay).await;
    }
}

/// Answers from the published-hash index when the expected digests name unpacked content.
fn from_index(
    store: &WheelStore,
    request: &Request<'_>,
) -> Result<Option<FetchedWheel>, FetchError> {
    let Some((archive, size, mut hashes)) =
        record::find_by_expected(store.cache(), request.expected)
    else {
        return Ok(None);
    };
    // The pinned bytes may have been cached under another file name: they must be this wheel.
    dist_info::check(archive.path(), request.filename, &request.shown)?;
    if let Ok(blake3) = Digest::from_hex(HashAlgorithm::Blake3, archive.digest().as_str()) {
        hashes.insert(0, blake3);
    }
    // Record the URL too, so it is answered by its pointer next time, pinned or not.
    publish(
        store,
        request,
        archive,
        hashes,
        size,
        None,
        FetchOutcome::ContentHit,
    )
    .map(Some)
}

/// Checks this URL's pointer. The archive it names is current when its hashes cover the
/// expected ones (pinned content never changes), or the HTTP cache policy says so, after a
/// revalidation if `revalidate`.
async fn from_pointer(
    store: &WheelStore,
    request: &Request<'_>,
    revalidate: bool,
    budget: &mut RetryBudget,
) -> Result<PointerCheck, FetchError> {
    let Some((pointer, archive)) = store.cache().read_pointer(&request.pointer) else {
        return Ok(PointerCheck::Miss);
    };
    let known = record::pointer_hashes(&pointer);
    let expected = request.expected;
    if !expected.is_empty() && expected.is_covered_by(&known) {
        expected.verify_digests(&known, &request.shown)?;
        return Ok(PointerCheck::Hit(Box::new(pointer_hit(
            request, pointer, archive, known,
        ))));
    }
    let Some(policy) = std::fs::read(request.policy.path())
        .ok()
        .and_then(|bytes| CachePolicy::from_bytes(&bytes).ok())
    else {
        return Ok(PointerCheck::Miss);
    };
    let fresh = policy.freshness(SystemTime::now()) == Freshness::Fresh;
    if !(store.settings.http.offline || fresh) {
        if !revalidate {
            return Ok(PointerCheck::Miss);
        }
        // The request's own URL: the pointer's canonical form has no credentials.
        match store
            .client()
            .await?
            .get_with_budget(request.url, Some(&policy), None, budget)
            .await?
        {
            Fetched::Fresh => {}
            Fetched::NotModified { policy } => write_policy(&request.policy, &policy)?,
            Fetched::Body(body) => return Ok(PointerCheck::Changed(Box::new(body))),
        }
    }
    if !expected.is_covered_by(&known) {
        return Ok(PointerCheck::Miss);
    }
    expected.verify_digests(&known, &request.shown)?;
    Ok(PointerCheck::Hit(Box::new(pointer_hit(
        request, pointer, archive, known,
    ))))
}

fn pointer_hit(
    request: &Request<'_>,
    pointer: Pointer,
    archive: ArchivePath,
    known: Vec<Digest>,
) -> FetchedWheel {
    FetchedWheel {
        source: request.shown.clone(),
        filename: request.filename.clone(),
        archive,
        hashes: known,
        size: pointer.size,
        outcome: FetchOutcome::PointerHit,
    }
}

/// Downloads the wheel (or reads `body` if a revalidation already started it), hashing and
/// unpacking it as it arrives, and publishes it.
async fn download(
    store: &WheelStore,
    request: &Request<'_>,
    body: Option<Download>,
    budget: &mut RetryBudget,
) -> Result<FetchedWheel, FetchError> {
    let body = match body {
        Some(body) => body,
        None => get_body(store, request, budget).await?,
    };
    let policy = body.policy.clone();
    let content_type = body.content_type.clone();
    let hasher = hasher_for(request.expected);
    let temp = store.cache().temp_dir()?;
    let id = progress::next_id();
    store
        .reporter
        .download_started(id, &request.filename.to_string(), body.content_length);
    let reporter = store.reporter.clone();
    let body = body
        .into_chunks()
        .inspect_ok(move |chunk| reporter.download_progress(id, chunk.len() as u64));
    let mut sniffed = Sniffed::new(body);
    let mut chunks = HashingStream::new(&mut sniffed, hasher.clone());
    let streamed = extract_chunks(
        &mut chunks,
        &request.shown,
        temp.path(),
        &store.settings.limits,
    )
    .await;
    store.reporter.download_finished(id);
    let (temp, hashes, report) = match streamed {
        Ok(report) => (temp, chunks.finish(), report),
        Err(error) if error.is_streaming_unsupported() => {
            tracing::debug!(url = %request.shown, "streaming unsupported; downloading to a file first");
            drop(temp);
            download_then_extract(store, request, hasher, budget).await?
        }
        Err(error @ cairn_zip::UnzipError::Read { .. }) => return Err(error.into()),
        Err(error) => {
            drop(chunks);
            return Err(
                not_a_wheel(request, sniffed.start(), content_type.as_deref())
                    .unwrap_or_else(|| error.into()),
            );
        }
    };
    let (archive, _, digests) = record::persist_verified(
        store.cache(),
        temp,
        &hashes,
        &report,
        request.expected,
        request.filename,
        &request.shown,
    )?;
    publish(
        store,
        request,
        archive,
        digests,
        hashes.bytes,
        policy,
        FetchOutcome::Unpacked,
    )
}

/// Writes the URL's pointer (with the published-hash index) and HTTP policy.
fn publish(
    store: &WheelStore,
    request: &Request<'_>,
    archive: ArchivePath,
    hashes: Vec<Digest>,
    size: u64,
    policy: Option<CachePolicy>,
    outcome: FetchOutcome,
) -> Result<FetchedWheel, FetchError> {
    record::write(
        store.cache(),
        &request.pointer,
        record::Record {
            source: request.canonical.to_string(),
            filename: request.filename,
            archive: &archive,
            hashes: hashes.clone(),
            size,
            source_modified: None,
            identity: None,
        },
    )?;
    if let Some(policy) = policy {
        write_policy(&request.policy, &policy)?;
    }
    Ok(FetchedWheel {
        source: request.shown.clone(),
        filename: request.filename.clone(),
        archive,
        hashes,
        size,
        outcome,
    })
}

/// An unconditional GET, whose answer is always a body.
async fn get_body(
    store: &WheelStore,
    request: &Request<'_>,
    budget: &mut RetryBudget,
) -> Result<Download, FetchError> {
    match store
        .client()
        .await?
        .get_with_budget(request.url, None, None, budget)
        .await?
    {
        Fetched::Body(body) => Ok(body),
        Fetched::Fresh | Fetched::NotModified { .. } => Err(FetchError::Task {
            source_name: request.shown.clone(),
            message: "the server answered an unconditional request with a cache hit".to_owned(),
        }),
    }
}

/// The fallback for archives that cannot be unpacked front to back: the whole file first, then
/// the parallel extractor.
async fn download_then_extract(
    store: &WheelStore,
    request: &Request<'_>,
    hasher: HasherSet,
    budget: &mut RetryBudget,
) -> Result<(TempDir, Hashes, ExtractReport), FetchError> {
    let body = get_body(store, request, budget).await?;
    let download_dir = store.cache().temp_dir()?;
    let wheel_path = download_dir.path().join("wheel.whl");
    let mut reader = HashingAsyncReader::new(body.into_async_read(), hasher);
    save(&mut reader, &wheel_path)
        .await
        .map_err(|source| FetchError::Read {
            path: wheel_path.clone(),
            source,
        })?;
    let hashes = reader.finish();
    let temp = store.cache().temp_dir()?;
    let (limits, dest) = (store.settings.limits.clone(), temp.path().to_owned());
    let report = tokio::task::spawn_blocking(move || extract_file(&wheel_path, &dest, &limits))
        .await
        .map_err(|error| task_error(&request.shown, &error))??;
    Ok((temp, hashes, report))
}

async fn save(reader: &mut (impl AsyncRead + Unpin), path: &Path) -> std::io::Result<()> {
    let mut file = tokio::fs::File::create(path).await?;
    tokio::io::copy(reader, &mut file).await?;
    file.flush().await
}

/// BLAKE3 (the content address) and the expected algorithms, as for a local file. Indexes
/// publish SHA-256 with their links, so a wheel found through one is indexed under it anyway;
/// computing it for a hash-less URL too would take CPU from the inflating workers, which need
/// every core on a fast link.
pub(super) fn hasher_for(expected: &ExpectedHashes) -> HasherSet {
    HasherSet::new(&expected.algorithms())
}

fn write_policy(entry: &CacheEntry, policy: &CachePolicy) -> Result<(), FetchError> {
    match policy.to_bytes() {
        Ok(bytes) => {
            cairn_fs::write_atomic(entry.path(), &bytes).map_err(cairn_cache::CacheError::from)?
        }
        Err(error) => tracing::debug!(%error, "not storing the HTTP cache policy"),
    }
    Ok(())
}

/// The body failure inside `error`, if the download failed because a body that had started
/// broke off (cut, stalled, shorter than announced): the one failure worth starting again.
fn broken_body(error: &FetchError) -> Option<&DownloadError> {
    let download = match error {
        FetchError::Download(error) => error,
        FetchError::Unzip(cairn_zip::UnzipError::Read { source, .. })
        | FetchError::Read { source, .. } => DownloadError::from_io_error(source)?,
        _ => return None,
    };
    matches!(download, DownloadError::Body { .. }).then_some(download)
}

/// How many leading bytes of a body are kept to say what it is when it is not a wheel.
const SNIFF_BYTES: usize = 64;

/// A body stream that keeps its first [`SNIFF_BYTES`] bytes.
struct Sniffed<S> {
    inner: S,
    start: Vec<u8>,
}

impl<S> Sniffed<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            start: Vec::with_capacity(SNIFF_BYTES),
        }
    }

    fn start(&self) -> &[u8] {
        &self.start
    }
}

impl<S> futures_util::Stream for Sniffed<S>
where
    S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
{
    type Item = std::io::Result<bytes::Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_next(cx);
        if let std::task::Poll::Ready(Some(Ok(chunk))) = &polled {
            let wanted = SNIFF_BYTES
                .saturating_sub(this.start.len())
                .min(chunk.len());
            this.start.extend_from_slice(&chunk[..wanted]);
        }
        polled
    }
}

/// The error for a body that is plainly not a zip archive, such as an HTML error or login page
/// served with status 200, named from its `Content-Type` and first bytes; `None` when it may
/// be a damaged wheel, which the extractor's error describes better.
fn not_a_wheel(
    request: &Request<'_>,
    start: &[u8],
    content_type: Option<&str>,
) -> Option<FetchError> {
    if start.starts_with(b"PK") {
        return None;
    }
    let media = content_type
        .and_then(|value| value.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(start);
    let leading = text.trim_start_matches('\u{feff}').trim_start();
    let lower = leading.to_ascii_lowercase();
    let what = if start.is_empty() {
        "an empty body"
    } else if media.contains("html")
        || ["<!doctype html", "<html", "<head", "<body", "<!--"]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
    {
        "an HTML page"
    } else if media.contains("json") || lower.starts_with('{') || lower.starts_with('[') {
        "a JSON document"
    } else if media.contains("xml") || lower.starts_with("<?xml") {
        "an XML document"
    } else if media.starts_with("text/") {
        "text"
    } else {
        return None;
    };
    let shown_start: String = leading
        .chars()
        .take(40)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Some(FetchError::NotAWheel {
        url: request.shown.clone(),
        what,
        content_type: content_type
            .map_or_else(|| "unknown".to_owned(), |value| format!("`{value}`")),
        start: shown_start,
    })
}

fn task_error(shown: &str, error: &tokio::task::JoinError) -> FetchError {
    FetchError::Task {
        source_name: shown.to_owned(),
        message: error.to_string(),
    }
}
