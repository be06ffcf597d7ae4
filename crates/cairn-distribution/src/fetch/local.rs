//! Fetching a wheel file on disk: a `stat` on a hit, one hashing pass and a parallel unzip on
//! a miss.

use std::path::Path;
use std::time::UNIX_EPOCH;

use cairn_cache::{ArchivePath, PointerKey, SourceIdentity};
use cairn_fs::ContentDigest;

use super::{FetchError, FetchOutcome, FetchedWheel, WheelStore, dist_info, progress, record};
use cairn_hash::{ExpectedHashes, hash_file};
use cairn_types::SourceError;
use cairn_types::WheelFilename;
use cairn_zip::{ExtractReport, extract_file};

pub(super) fn fetch_path(
    store: &WheelStore,
    path: &Path,
    expected: &ExpectedHashes,
) -> Result<FetchedWheel, FetchError> {
    let cache = store.cache();
    // The name as given: a link named like a wheel may point to a file that is not.
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let filename: WheelFilename = file_name.parse().map_err(SourceError::from)?;
    // The pointer is keyed by the canonical path, so that a relative path (`--find-links fl`)
    // run from two directories names two pointers, and two spellings of one file name one.
    let canonical = std::fs::canonicalize(path).map_err(|source| FetchError::Read {
        path: path.to_owned(),
        source,
    })?;
    let state = file_state(&canonical)?;
    let source = canonical.display().to_string();
    let shown = path.display().to_string();
    let entry = cache.pointer_entry(&PointerKey::path(&canonical));

    // The same file (device and inode) with the size and mtime we recorded, asked for under
    // the same file name, is the file we unpacked and checked.
    let pointer_hit = || -> Result<Option<FetchedWheel>, FetchError> {
        let Some((pointer, identity, archive)) = cache.read_pointer_with_identity(&entry) else {
            return Ok(None);
        };
        if pointer.source != source
            || pointer.filename != file_name
            || pointer.size != state.size
            || pointer.source_modified != state.modified
            || identity != state.identity
        {
            return Ok(None);
        }
        let known = record::pointer_hashes(&pointer);
        if !expected.is_covered_by(&known) {
            return Ok(None);
        }
        expected.verify_digests(&known, &source)?;
        Ok(Some(FetchedWheel {
            source: source.clone(),
            filename: filename.clone(),
            archive,
            hashes: known,
            size: state.size,
            outcome: FetchOutcome::PointerHit,
        }))
    };
    if let Some(hit) = pointer_hit()? {
        return Ok(hit);
    }
    // A lower cache answers only what this cache cannot: content this cache holds under
    // another source is found below by its digest, after hashing.
    if !store.lower_caches().is_empty()
        && record::find_by_expected(cache, expected).is_none()
        && let Some(hit) = store.find_in_lower(&filename, expected, &shown)?
    {
        return Ok(hit);
    }
    // Processes fetching the same file wait for the first one here, then find its pointer
    // rather than each hashing the whole wheel only to learn that it is already unpacked.
    let _lock = cache.lock(&("path", source.as_str()), store.settings.lock_timeout)?;
    if let Some(hit) = pointer_hit()? {
        return Ok(hit);
    }

    let hashes = hash_file(&canonical, &expected.algorithms())?;
    expected.verify(&hashes, &source)?;
    let digest =
        ContentDigest::hex(&hashes.blake3.to_hex()).map_err(cairn_cache::CacheError::from)?;
    let (archive, outcome) = unpack_once(store, &digest, &filename, &shown, |dest| {
        let id = progress::next_id();
        store.reporter.unpack_started(id, file_name);
        let result = extract_file(&canonical, dest, &store.settings.limits);
        store.reporter.unpack_finished(id);
        let report = result?;
        // The file was read twice (hashed, then unpacked): refuse to publish if it changed in
        // between, or the archive would not match its name.
        if file_state(&canonical)? != state {
            return Err(FetchError::Read {
                path: path.to_owned(),
                source: std::io::Error::other(
                    "the file changed while it was being unpacked; try again",
                ),
            });
        }
        Ok(report)
    })?;
    let hashes = record::digests_of(&hashes);
    record::write(
        cache,
        &entry,
        record::Record {
            source: source.clone(),
            filename: &filename,
            archive: &archive,
            hashes: hashes.clone(),
            size: state.size,
            source_modified: state.modified,
            identity: state.identity,
        },
    )?;
    Ok(FetchedWheel {
        source,
        filename,
        archive,
        hashes,
        size: state.size,
        outcome,
    })
}

/// Unpacks the archive `digest` with `extract` unless it is already in the store. A per-digest
/// lock keeps concurrent processes from unpacking the same content twice: the ones that wait
/// find the archive when they get the lock.
///
/// The archive, found or made, must hold the wheel `filename` names (see [`dist_info::check`]):
/// the same bytes cached under another file name are refused rather than reused.
pub(super) fn unpack_once(
    store: &WheelStore,
    digest: &ContentDigest,
    filename: &WheelFilename,
    shown: &str,
    extract: impl FnOnce(&Path) -> Result<ExtractReport, FetchError>,
) -> Result<(ArchivePath, FetchOutcome), FetchError> {
    let cache = store.cache();
    let content_hit = |archive: ArchivePath| {
        dist_info::check(archive.path(), filename, shown)?;
        Ok((archive, FetchOutcome::ContentHit))
    };
    if let Some(archive) = cache.find_archive(digest) {
        return content_hit(archive);
    }
    let _lock = cache.lock(&("archive", digest.as_str()), store.settings.lock_timeout)?;
    if let Some(archive) = cache.find_archive(digest) {
        return content_hit(archive);
    }
    // Dropping `temp` on any error removes the partial tree: nothing half-written is published.
    let temp = cache.temp_dir()?;
    let report = extract(temp.path())?;
    let (archive, _) = record::persist(cache, temp, digest, &report, filename, shown)?;
    Ok((archive, FetchOutcome::Unpacked))
}

/// What identifies one version of a file: which file it is (device and inode), its size and
/// its modification time (ns since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileState {
    size: u64,
    modified: Option<i128>,
    identity: Option<SourceIdentity>,
}

fn file_state(path: &Path) -> Result<FileState, FetchError> {
    let metadata = std::fs::metadata(path).map_err(|source| FetchError::Read {
        path: path.to_owned(),
        source,
    })?;
    if !metadata.is_file() {
        return Err(FetchError::Read {
            path: path.to_owned(),
            source: std::io::Error::other("not a regular file"),
        });
    }
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .and_then(|elapsed| i128::try_from(elapsed.as_nanos()).ok());
    Ok(FileState {
        size: metadata.len(),
        modified,
        identity: SourceIdentity::of(&metadata),
    })
}
