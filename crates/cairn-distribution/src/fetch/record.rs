//! Pointers and the published-hash index: how repeat requests find an archive cheaply.

use cairn_cache::{
    ArchivePath, Cache, CacheEntry, IndexKey, IndexRecord, ManifestEntry, POINTER_FORMAT, Pointer,
    SourceIdentity,
};
use cairn_fs::{ContentDigest, PersistOutcome};
use tempfile::TempDir;

use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm, Hashes};
use cairn_types::WheelFilename;
use cairn_zip::ExtractReport;

use super::{FetchError, dist_info};

/// The published-hash index entry for `digest`; `None` for BLAKE3 (an archive name already,
/// never indexed) or a digest that cannot name an entry.
fn index_key(digest: &Digest) -> Option<IndexKey> {
    if digest.algorithm() == HashAlgorithm::Blake3 {
        return None;
    }
    IndexKey::parse(digest.algorithm().name(), &digest.to_hex()).ok()
}

/// Finds an archive, and the size of the wheel it came from, through the published-hash
/// index, without touching the source. Index entries hold `<archive digest> <wheel size>`.
///
/// Returns the digests that matched: the archive is used only when the matches cover every
/// expected algorithm, so an unverified pin is never recorded as known.
pub(super) fn find_by_expected(
    cache: &Cache,
    expected: &ExpectedHashes,
) -> Option<(ArchivePath, u64, Vec<Digest>)> {
    let mut found: Option<(ArchivePath, u64)> = None;
    let mut matched = Vec::new();
    for digest in expected.iter() {
        let Some((archive, size)) = index_key(digest).and_then(|key| cache.find_indexed(&key))
        else {
            continue;
        };
        match &found {
            Some((first, _)) if *first != archive => continue,
            Some(_) => {}
            None => found = Some((archive, size)),
        }
        matched.push(*digest);
    }
    let (archive, size) = found?;
    expected
        .is_covered_by(&matched)
        .then_some((archive, size, matched))
}

/// One archive the published-hash index names for some of the expected digests.
pub(super) struct IndexedCandidate {
    pub(super) archive: ArchivePath,
    pub(super) record: IndexRecord,
    /// The expected digests whose entries name this archive.
    pub(super) matched: Vec<Digest>,
}

/// Every archive in the store that the published-hash index names for one of `expected`'s
/// digests, each with the digests that name it: a requirement pinned with the hashes of all
/// its wheels (one per platform) may find several. Only archives whose matches cover every
/// expected algorithm are returned, so an unverified pin is never taken as known.
pub(super) fn indexed_candidates(
    cache: &Cache,
    expected: &ExpectedHashes,
) -> Vec<IndexedCandidate> {
    let mut candidates: Vec<IndexedCandidate> = Vec::new();
    for digest in expected.iter() {
        let Some(key) = index_key(digest) else {
            continue;
        };
        let Some(record) = cache.read_index(&key) else {
            continue;
        };
        if let Some(known) = candidates
            .iter_mut()
            .find(|candidate| candidate.record.archive == record.archive)
        {
            known.matched.push(*digest);
            continue;
        }
        let Some(archive) = cache.find_archive(&record.archive) else {
            continue;
        };
        candidates.push(IndexedCandidate {
            archive,
            record,
            matched: vec![*digest],
        });
    }
    candidates.retain(|candidate| expected.is_covered_by(&candidate.matched));
    candidates
}

/// The digests a pointer records, parsed; unparsable ones are skipped.
pub(super) fn pointer_hashes(pointer: &Pointer) -> Vec<Digest> {
    pointer
        .hashes
        .iter()
        .filter_map(|text| text.parse().ok())
        .collect()
}

/// What to write into a pointer.
pub(super) struct Record<'a> {
    pub(super) source: String,
    pub(super) filename: &'a WheelFilename,
    pub(super) archive: &'a ArchivePath,
    pub(super) hashes: Vec<Digest>,
    pub(super) size: u64,
    pub(super) source_modified: Option<i128>,
    /// The device and inode of a local source file.
    pub(super) identity: Option<SourceIdentity>,
}

/// Writes the pointer at `entry` and index entries for every non-BLAKE3 digest.
pub(super) fn write(
    cache: &Cache,
    entry: &CacheEntry,
    record: Record<'_>,
) -> Result<(), FetchError> {
    let archive_hex = record.archive.digest().as_str();
    write_index(
        cache,
        record.archive,
        &record.hashes,
        record.size,
        record.filename,
    )?;
    let pointer = Pointer {
        format: POINTER_FORMAT,
        source: record.source,
        filename: record.filename.to_string(),
        name: record.filename.name.clone(),
        version: record.filename.version.clone(),
        tags: record.filename.tags(),
        archive: archive_hex.to_owned(),
        hashes: record.hashes.iter().map(ToString::to_string).collect(),
        size: record.size,
        source_modified: record.source_modified,
        last_used: unix_now(),
    };
    cache.write_pointer_with_identity(entry, &pointer, record.identity)?;
    Ok(())
}

/// Writes index entries for every non-BLAKE3 digest in `hashes`, naming `archive`, the size
/// of the wheel file and its name.
pub(super) fn write_index(
    cache: &Cache,
    archive: &ArchivePath,
    hashes: &[Digest],
    size: u64,
    filename: &WheelFilename,
) -> Result<(), FetchError> {
    let indexed = IndexRecord {
        archive: archive.digest().clone(),
        wheel_size: size,
        filename: filename.to_string(),
    };
    for key in hashes.iter().filter_map(index_key) {
        cache.write_index(&key, &indexed)?;
    }
    Ok(())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// All digests of `hashes`, BLAKE3 first.
pub(super) fn digests_of(hashes: &Hashes) -> Vec<Digest> {
    hashes.iter().copied().collect()
}

/// Publishes `temp` as the archive `digest` with the manifest of what the extractor wrote
/// (`cairn cache verify` checks the tree against it; `size` and `list` read its usage), once
/// its `.dist-info` is found to match `filename` (`shown` names the wheel in the error).
pub(super) fn persist(
    cache: &Cache,
    temp: TempDir,
    digest: &ContentDigest,
    report: &ExtractReport,
    filename: &WheelFilename,
    shown: &str,
) -> Result<(ArchivePath, PersistOutcome), FetchError> {
    dist_info::check(temp.path(), filename, shown)?;
    let entries = report
        .written
        .iter()
        .map(|file| ManifestEntry {
            path: file.path.clone(),
            size: file.size,
            crc32: file.crc32,
            executable: file.executable,
        })
        .collect();
    Ok(cache.persist_unpacked(temp, digest, entries)?)
}

/// Checks the bytes a stream delivered (`hashes`) against `expected` and its `.dist-info`
/// against `filename`, then publishes `temp`,
/// unpacked from them, under their BLAKE3 digest; returns the archive, the outcome and every
/// digest known for the bytes (BLAKE3 first).
pub(super) fn persist_verified(
    cache: &Cache,
    temp: TempDir,
    hashes: &Hashes,
    report: &ExtractReport,
    expected: &ExpectedHashes,
    filename: &WheelFilename,
    shown: &str,
) -> Result<(ArchivePath, PersistOutcome, Vec<Digest>), FetchError> {
    expected.verify(hashes, shown)?;
    let digest =
        ContentDigest::hex(&hashes.blake3.to_hex()).map_err(cairn_cache::CacheError::from)?;
    let (archive, persisted) = persist(cache, temp, &digest, report, filename, shown)?;
    Ok((archive, persisted, digests_of(hashes)))
}
