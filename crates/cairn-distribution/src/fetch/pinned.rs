//! [`WheelStore::find_pinned`]: a hash-pinned requirement answered from the published-hash
//! index alone, with no index page, no pointer and no network.
//!
//! A digest names immutable bytes, so an archive that the index maps one of the pinned digests
//! to is the pinned wheel, whatever index or mirror published it and however stale any page
//! is. The index entry names the wheel file too (its project, version and tags), written after
//! the archive's `.dist-info` was checked against that name; so the choice among the wheels a
//! requirement pins (one per platform) needs no archive opened.

use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm};
use cairn_types::{PackageName, WheelFilename};

use super::record::{self, IndexedCandidate};
use super::{FetchOutcome, FetchedWheel, WheelStore};

impl WheelStore {
    /// The cached wheel that a requirement `name==version` pinned to `expected` names, found
    /// through the published-hash index without its source: among the archives the index maps
    /// the pinned digests to, those whose wheel file is `name` at `version` (names normalised,
    /// versions compared as PEP 440 versions) and that `rank` accepts, the one `rank` ranks
    /// first (lowest). `rank` is the caller's tag preference, such as
    /// `cairn_python::tags::Tags::priority`.
    ///
    /// The store's own cache is asked first, then its lower caches
    /// ([`with_lower_caches`](Self::with_lower_caches)) in order.
    ///
    /// `None` when the store holds no such archive (or nothing is pinned): fetch from the
    /// source as usual. Reads a few small files; never touches the network.
    pub fn find_pinned(
        &self,
        name: &PackageName,
        version: &str,
        expected: &ExpectedHashes,
        rank: impl Fn(&WheelFilename) -> Option<usize>,
    ) -> Option<FetchedWheel> {
        if expected.is_empty() {
            return None;
        }
        let wanted_version = version.parse::<pep440_rs::Version>().ok();
        let same_version =
            |other: &str| match (&wanted_version, other.parse::<pep440_rs::Version>()) {
                (Some(wanted), Ok(other)) => *wanted == other,
                _ => version == other,
            };
        // The store's own cache first, then each lower cache in order: the first that holds
        // an acceptable wheel answers.
        let (cache, candidate, filename) = std::iter::once(self.cache())
            .chain(self.lower_caches())
            .find_map(|cache| {
                record::indexed_candidates(cache, expected)
                    .into_iter()
                    .filter_map(|candidate| {
                        let filename: WheelFilename = candidate.record.filename.parse().ok()?;
                        let acceptable =
                            filename.normalized_name() == *name && same_version(&filename.version);
                        let priority = rank(&filename).filter(|_| acceptable)?;
                        Some((priority, candidate, filename))
                    })
                    .min_by_key(|(priority, _, _)| *priority)
                    .map(|(_, candidate, filename)| (cache, candidate, filename))
            })?;
        let lower = !std::ptr::eq(cache, self.cache());
        let IndexedCandidate {
            archive,
            record,
            matched,
        } = candidate;
        let mut hashes = matched;
        if let Ok(blake3) = Digest::from_hex(HashAlgorithm::Blake3, archive.digest().as_str()) {
            hashes.insert(0, blake3);
        }
        tracing::debug!(
            wheel = %filename,
            archive = %archive.digest(),
            cache = %cache.root().display(),
            "pinned digest answered by the published-hash index"
        );
        if !lower {
            self.cache().mark_used(&archive);
        }
        Some(FetchedWheel {
            source: filename.to_string(),
            filename,
            archive,
            hashes,
            size: record.wheel_size,
            outcome: if lower {
                FetchOutcome::LowerHit
            } else {
                FetchOutcome::ContentHit
            },
        })
    }
}
