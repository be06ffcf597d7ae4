//! Fetching a wheel file on disk: a `stat` on a hit, one hashing pass and a parallel unzip on
//! a miss.

use std::path::Path;
use std::time::UNIX_EPOCH;

use cairn_cache::{ArchivePath, PointerKey};
use cairn_fs::ContentDigest;

use super::{FetchError, FetchOutcome, FetchedWheel, WheelStore, progress, record};
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
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let filename: WheelFilename = file_name.parse().map_err(SourceError::from)?;
    let (size, modified) = file_identity(path)?;
    let source = path.display().to_string();
    let entry = cache.pointer_entry(&PointerKey::path(path));

    // A file with the size and mtime we recorded is the file we unpacked.
    let pointer_hit = || -> Result<Option<FetchedWheel>, FetchError> {
        let Some((pointer, archive)) = cache.read_pointer(&entry) else {
            return Ok(None);
        };
        if pointer.source != source || pointer.size != size || pointer.source_modified != modified {
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
            size,
            outcome: FetchOutcome::PointerHit,
        }))
    };
    if let Some(hit) = pointer_hit()? {
        return Ok(hit);
    }
    // Processes fetching the same file wait for the first one here, then find its pointer
    // rather than each hashing the whole wheel only to learn that it is already unpacked.
    let _lock = cache.lock(&("path", source.as_str()), store.settings.lock_timeout)?;
    if let Some(hit) = pointer_hit()? {
        return Ok(hit);
    }

    let hashes = hash_file(path, &expected.algorithms())?;
    expected.verify(&hashes, &source)?;
    let digest =
        ContentDigest::hex(&hashes.blake3.to_hex()).map_err(cairn_cache::CacheError::from)?;
    let (archive, outcome) = unpack_once(store, &digest, |dest| {
        let id = progress::next_id();
        store.reporter.unpack_started(id, file_name);
        let result = extract_file(path, dest, &store.settings.limits);
        store.reporter.unpack_finished(id);
        let report = result?;
        // The file was read twice (hashed, then unpacked): refuse to publish if it changed in
        // between, or the archive would not match its name.
        if file_identity(path)? != (size, modified) {
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
            size,
            source_modified: modified,
        },
    )?;
    Ok(FetchedWheel {
        source,
        filename,
        archive,
        hashes,
        size,
        outcome,
    })
}

/// Unpacks the archive `digest` with `extract` unless it is already in the store. A per-digest
/// lock keeps concurrent processes from unpacking the same content twice: the ones that wait
/// find the archive when they get the lock.
pub(super) fn unpack_once(
    store: &WheelStore,
    digest: &ContentDigest,
    extract: impl FnOnce(&Path) -> Result<ExtractReport, FetchError>,
) -> Result<(ArchivePath, FetchOutcome), FetchError> {
    let cache = store.cache();
    if let Some(archive) = cache.find_archive(digest) {
        return Ok((archive, FetchOutcome::ContentHit));
    }
    let _lock = cache.lock(&("archive", digest.as_str()), store.settings.lock_timeout)?;
    if let Some(archive) = cache.find_archive(digest) {
        return Ok((archive, FetchOutcome::ContentHit));
    }
    // Dropping `temp` on any error removes the partial tree: nothing half-written is published.
    let temp = cache.temp_dir()?;
    let report = extract(temp.path())?;
    let (archive, _) = record::persist(cache, temp, digest, &report)?;
    Ok((archive, FetchOutcome::Unpacked))
}

/// The size and modification time (ns since the epoch) that identify a version of a file.
fn file_identity(path: &Path) -> Result<(u64, Option<i128>), FetchError> {
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
    Ok((metadata.len(), modified))
}
