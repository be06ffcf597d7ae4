//! Fetching a wheel from an `http(s)` URL: answered from the published-hash index or a pointer
//! when possible, else downloaded once, hashed and unpacked while the bytes arrive.

use std::path::Path;
use std::time::SystemTime;

use cairn_cache::CacheEntry;
use cairn_cache_key::CanonicalUrl;
use cairn_fs::ContentDigest;
use tokio::io::{AsyncRead, AsyncWriteExt};
use url::Url;

use super::progress::{self, ProgressReader};
use super::{FetchError, FetchOutcome, FetchedWheel, WheelStore, record};
use crate::WheelFilename;
use crate::download::{CachePolicy, DownloadError, Fetched, RedactedUrl};
use crate::hash::{ExpectedHashes, HashAlgorithm, HasherSet, Hashes, HashingAsyncReader};
use crate::unzip::{extract_file, extract_stream};

/// Where a URL's pointer and HTTP cache policy live.
struct Entries {
    pointer: CacheEntry,
    policy: CacheEntry,
}

pub(super) async fn fetch_url(
    store: &WheelStore,
    url: &Url,
    filename: &WheelFilename,
    expected: &ExpectedHashes,
) -> Result<FetchedWheel, FetchError> {
    let cache = store.cache();
    let shown = RedactedUrl::new(url).as_str().to_owned();
    let canonical = CanonicalUrl::new(url.clone());
    let pointer = record::pointer_entry(cache, "url", &canonical);
    let entries = Entries {
        policy: pointer.with_extension("http"),
        pointer,
    };

    // A hash-pinned request whose content is already unpacked needs no network at all.
    if let Some(hit) = from_index(store, &entries, &canonical, filename, expected, &shown)? {
        return Ok(hit);
    }
    if let Some(hit) = from_pointer(store, url, &entries, expected, &shown, false).await? {
        return Ok(hit);
    }

    // One process downloads a URL at a time; the others wait, then find its pointer.
    let lock_store = store.clone();
    let lock_key = canonical.as_str().to_owned();
    let _lock = tokio::task::spawn_blocking(move || {
        lock_store.cache().lock(
            &("url", lock_key.as_str()),
            lock_store.settings.lock_timeout,
        )
    })
    .await
    .map_err(|error| task_error(&shown, &error))??;
    if let Some(hit) = from_pointer(store, url, &entries, expected, &shown, true).await? {
        return Ok(hit);
    }

    let retries = store.settings.http.retries;
    let mut attempt = 0;
    loop {
        match download(store, url, &entries, &canonical, filename, expected, &shown).await {
            Err(error) if attempt < retries && is_retryable(&error) => {
                attempt += 1;
                tracing::warn!(url = %shown, attempt, %error, "download broke off; starting again");
            }
            result => return result,
        }
    }
}

/// Answers from the published-hash index when an expected digest names unpacked content.
fn from_index(
    store: &WheelStore,
    entries: &Entries,
    canonical: &CanonicalUrl,
    filename: &WheelFilename,
    expected: &ExpectedHashes,
    shown: &str,
) -> Result<Option<FetchedWheel>, FetchError> {
    let Some((archive, size, mut hashes)) = record::find_by_expected(store.cache(), expected)
    else {
        return Ok(None);
    };
    if let Ok(blake3) =
        crate::hash::Digest::from_hex(HashAlgorithm::Blake3, archive.digest().as_str())
    {
        hashes.insert(0, blake3);
    }
    // Record the URL too, so `cairn cache list` shows where the wheel was asked for.
    record::write(
        store.cache(),
        &entries.pointer,
        record::Record {
            source: canonical.to_string(),
            filename,
            archive: &archive,
            hashes: hashes.clone(),
            size,
            source_modified: None,
        },
    )?;
    Ok(Some(FetchedWheel {
        source: shown.to_owned(),
        filename: filename.to_string(),
        archive,
        hashes,
        size,
        outcome: FetchOutcome::ContentHit,
    }))
}

/// Answers from this URL's pointer when the content is known to be current: its hashes cover
/// the expected ones (pinned content never changes), or the HTTP cache policy says so, after a
/// revalidation if needed (`revalidate`).
async fn from_pointer(
    store: &WheelStore,
    url: &Url,
    entries: &Entries,
    expected: &ExpectedHashes,
    shown: &str,
    revalidate: bool,
) -> Result<Option<FetchedWheel>, FetchError> {
    let Some((pointer, archive)) = store.cache().read_pointer(&entries.pointer) else {
        return Ok(None);
    };
    let known = record::pointer_hashes(&pointer);
    let hit = |known: Vec<_>| FetchedWheel {
        source: shown.to_owned(),
        filename: pointer.filename.clone(),
        archive: archive.clone(),
        hashes: known,
        size: pointer.size,
        outcome: FetchOutcome::PointerHit,
    };
    if !expected.is_empty() && expected.is_covered_by(&known) {
        expected.verify_digests(&known, shown)?;
        return Ok(Some(hit(known)));
    }
    let policy = std::fs::read(entries.policy.path())
        .ok()
        .and_then(|bytes| CachePolicy::from_bytes(&bytes).ok());
    let Some(policy) = policy else {
        return Ok(None);
    };
    let fresh = policy.freshness(SystemTime::now()) == crate::download::Freshness::Fresh;
    let current = if store.settings.http.offline || fresh {
        true
    } else if revalidate {
        let client = store.client().await?;
        // The request's own URL: the pointer's canonical form has no credentials.
        match client.get(url, Some(&policy)).await? {
            Fetched::Fresh => true,
            Fetched::NotModified { policy } => {
                write_policy(&entries.policy, &policy)?;
                true
            }
            // Changed upstream: the caller downloads it again (a second request, but rare).
            Fetched::Body(_) => false,
        }
    } else {
        false
    };
    if !current {
        return Ok(None);
    }
    if expected.is_covered_by(&known) {
        expected.verify_digests(&known, shown)?;
        Ok(Some(hit(known)))
    } else {
        Ok(None)
    }
}

/// Downloads the wheel, hashing and unpacking it as it arrives, and publishes it.
async fn download(
    store: &WheelStore,
    url: &Url,
    entries: &Entries,
    canonical: &CanonicalUrl,
    filename: &WheelFilename,
    expected: &ExpectedHashes,
    shown: &str,
) -> Result<FetchedWheel, FetchError> {
    let cache = store.cache();
    let client = store.client().await?;
    let Fetched::Body(body) = client.get(url, None).await? else {
        return Err(FetchError::Task {
            source_name: shown.to_owned(),
            message: "the server answered an unconditional request with a cache hit".to_owned(),
        });
    };
    let policy = body.policy.clone();
    let hasher = hasher_for(expected);
    let temp = cache.temp_dir()?;
    let id = progress::next_id();
    store
        .reporter
        .download_started(id, &filename.to_string(), body.content_length);
    let body = ProgressReader::new(body.into_async_read(), store.reporter.clone(), id);
    let mut reader = HashingAsyncReader::new(body, hasher.clone());
    let streamed = extract_stream(&mut reader, shown, temp.path(), &store.settings.limits).await;
    store.reporter.download_finished(id);
    let (temp, hashes) = match streamed {
        Ok(_) => (temp, reader.finish()),
        Err(error) if error.is_streaming_unsupported() => {
            tracing::debug!(url = %shown, "streaming unsupported; downloading to a file first");
            drop(temp);
            download_then_extract(store, url, hasher, shown).await?
        }
        Err(error) => return Err(error.into()),
    };
    expected.verify(&hashes, shown)?;
    let digest =
        ContentDigest::hex(&hashes.blake3.to_hex()).map_err(cairn_cache::CacheError::from)?;
    let (archive, _) = cache.persist(temp, &digest)?;
    let digests = record::digests_of(&hashes);
    record::write(
        cache,
        &entries.pointer,
        record::Record {
            source: canonical.to_string(),
            filename,
            archive: &archive,
            hashes: digests.clone(),
            size: hashes.bytes,
            source_modified: None,
        },
    )?;
    if let Some(policy) = policy {
        write_policy(&entries.policy, &policy)?;
    }
    Ok(FetchedWheel {
        source: shown.to_owned(),
        filename: filename.to_string(),
        archive,
        hashes: digests,
        size: hashes.bytes,
        outcome: FetchOutcome::Unpacked,
    })
}

/// The fallback for archives that cannot be unpacked front to back: the whole file first, then
/// the parallel extractor.
async fn download_then_extract(
    store: &WheelStore,
    url: &Url,
    hasher: HasherSet,
    shown: &str,
) -> Result<(tempfile::TempDir, Hashes), FetchError> {
    let cache = store.cache();
    let client = store.client().await?;
    let Fetched::Body(body) = client.get(url, None).await? else {
        return Err(FetchError::Task {
            source_name: shown.to_owned(),
            message: "the server answered an unconditional request with a cache hit".to_owned(),
        });
    };
    let download_dir = cache.temp_dir()?;
    let wheel_path = download_dir.path().join("wheel.whl");
    let mut reader = HashingAsyncReader::new(body.into_async_read(), hasher);
    save(&mut reader, &wheel_path)
        .await
        .map_err(|source| FetchError::Read {
            path: wheel_path.clone(),
            source,
        })?;
    let hashes = reader.finish();
    let temp = cache.temp_dir()?;
    let (limits, dest, shown_owned) = (
        store.settings.limits.clone(),
        temp.path().to_owned(),
        shown.to_owned(),
    );
    tokio::task::spawn_blocking(move || extract_file(&wheel_path, &dest, &limits))
        .await
        .map_err(|error| task_error(&shown_owned, &error))??;
    drop(download_dir);
    Ok((temp, hashes))
}

async fn save(reader: &mut (impl AsyncRead + Unpin), path: &Path) -> std::io::Result<()> {
    let mut file = tokio::fs::File::create(path).await?;
    tokio::io::copy(reader, &mut file).await?;
    file.flush().await
}

/// BLAKE3 (the content address), the expected algorithms, and SHA-256 for the published-hash
/// index: the CPU is mostly idle while bytes arrive, so this costs no wall time.
fn hasher_for(expected: &ExpectedHashes) -> HasherSet {
    let mut algorithms = expected.algorithms();
    if !algorithms.contains(&HashAlgorithm::Sha256) {
        algorithms.push(HashAlgorithm::Sha256);
    }
    HasherSet::new(&algorithms)
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

fn is_retryable(error: &FetchError) -> bool {
    match error {
        FetchError::Download(error) => error.is_retryable(),
        FetchError::Unzip(crate::unzip::UnzipError::Read { source, .. }) => {
            DownloadError::from_io_error(source).is_some_and(DownloadError::is_retryable)
        }
        _ => false,
    }
}

fn task_error(shown: &str, error: &tokio::task::JoinError) -> FetchError {
    FetchError::Task {
        source_name: shown.to_owned(),
        message: error.to_string(),
    }
}
