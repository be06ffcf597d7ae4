//! A shared tier behind the store's caches: a remote object store, say, that other machines
//! fill.
//!
//! The store asks its tier after its own cache and its lower caches, and before an index page or
//! a download: a hit is unpacked into the store's own cache, its `.dist-info` checked against
//! the wheel's name, and recorded like a download. A wheel the store unpacked itself is offered
//! to the tier, which may publish it without delaying the fetch. A tier never fails a fetch: one
//! that cannot answer (down, slow, garbage) answers nothing, and the normal path runs. The
//! `cairn-remote` crate implements one on an S3-compatible object store.

use std::sync::Arc;

use cairn_cache::{Cache, IndexRecord, ManifestEntry};
use cairn_fs::ContentDigest;
use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm};
use cairn_types::{PackageName, WheelFilename};
use futures_util::future::BoxFuture;
use tempfile::TempDir;

use super::{FetchError, FetchOutcome, FetchedWheel, WheelStore, dist_info, record};

/// One wheel a tier holds, as its lookup found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierEntry {
    /// The wheel file's name, size and archive digest (the BLAKE3 of the wheel file).
    pub record: IndexRecord,
    /// The expected digests the tier holds this wheel under.
    pub matched: Vec<Digest>,
    /// What the tier fetches for this entry (its object's name, say); opaque to the store.
    pub object: String,
}

/// A wheel a tier unpacked into a temp directory of the store's cache, not yet published.
#[derive(Debug)]
pub struct TierUnpacked {
    /// The unpacked tree, made with [`Cache::temp_dir`].
    pub temp: TempDir,
    /// Its files, as the archive's manifest lists them.
    pub entries: Vec<ManifestEntry>,
}

/// A shared tier a [`WheelStore`] reads through and writes back to (see the module docs).
/// Implementations are `Send + Sync` and never fail a fetch: what they cannot do they log and
/// answer with nothing.
pub trait RemoteTier: Send + Sync {
    /// The wheels of `project` the tier holds under any of `expected`'s digests.
    fn lookup<'a>(
        &'a self,
        project: &'a PackageName,
        expected: &'a ExpectedHashes,
    ) -> BoxFuture<'a, Vec<TierEntry>>;

    /// Unpacks `entry` into a temp directory of `cache` after checking what the tier sent; the
    /// store checks the `.dist-info` and publishes it. `None` when it cannot.
    fn fetch<'a>(
        &'a self,
        cache: &'a Cache,
        entry: &'a TierEntry,
    ) -> BoxFuture<'a, Option<TierUnpacked>>;

    /// Called once for each wheel the store unpacked itself (from a download or a file): the
    /// tier may publish it. Must return at once; work it starts is the tier's to finish.
    fn offer(&self, cache: &Cache, wheel: &FetchedWheel);
}

impl WheelStore {
    /// Reads wheels that neither its own cache nor a lower cache holds from `tier` before
    /// downloading them, and offers it each wheel it unpacks (see [`RemoteTier`]).
    pub fn with_remote_tier(mut self, tier: Arc<dyn RemoteTier>) -> Self {
        self.tier = Some(tier);
        self
    }

    /// The wheel `name==version` pinned to `expected` from the remote tier, as
    /// [`find_pinned`](Self::find_pinned) finds it in the caches: among the wheels the tier holds
    /// under the pinned digests, those `rank` accepts, the first it ranks. `None` without a
    /// tier, or when it holds none (or cannot answer): fetch from the source as usual.
    pub async fn find_pinned_remote(
        &self,
        name: &PackageName,
        version: &str,
        expected: &ExpectedHashes,
        rank: impl Fn(&WheelFilename) -> Option<usize>,
    ) -> Result<Option<FetchedWheel>, FetchError> {
        let Some(tier) = &self.tier else {
            return Ok(None);
        };
        if expected.is_empty() || self.settings.http.offline {
            return Ok(None);
        }
        let wanted = version.parse::<pep440_rs::Version>().ok();
        let best = tier
            .lookup(name, expected)
            .await
            .into_iter()
            .filter(|entry| expected.is_covered_by(&entry.matched))
            .filter_map(|entry| {
                let filename: WheelFilename = entry.record.filename.parse().ok()?;
                let same_version = match (&wanted, filename.version.parse::<pep440_rs::Version>()) {
                    (Some(wanted), Ok(found)) => *wanted == found,
                    _ => filename.version == version,
                };
                if filename.normalized_name() != *name || !same_version {
                    return None;
                }
                Some((rank(&filename)?, entry, filename))
            })
            .min_by_key(|(priority, _, _)| *priority);
        let Some((_, entry, filename)) = best else {
            return Ok(None);
        };
        let shown = filename.to_string();
        self.unpack_from_tier(tier.as_ref(), entry, &filename, &shown)
            .await
    }

    /// The wheel `filename` matching `expected` from the remote tier, unpacked into the store's
    /// own cache. The caller found it in no cache.
    pub(super) async fn find_in_remote(
        &self,
        filename: &WheelFilename,
        expected: &ExpectedHashes,
        shown: &str,
    ) -> Result<Option<FetchedWheel>, FetchError> {
        let Some(tier) = &self.tier else {
            return Ok(None);
        };
        if expected.is_empty() || self.settings.http.offline {
            return Ok(None);
        }
        let wanted = filename.to_string();
        let project = filename.normalized_name();
        let entry = tier
            .lookup(&project, expected)
            .await
            .into_iter()
            .find(|entry| {
                entry.record.filename == wanted && expected.is_covered_by(&entry.matched)
            });
        let Some(entry) = entry else {
            return Ok(None);
        };
        self.unpack_from_tier(tier.as_ref(), entry, filename, shown)
            .await
    }

    /// Unpacks `entry` into the store's cache (unless its archive is there already), checks its
    /// `.dist-info` against `filename`, and records its digests in the published-hash index.
    async fn unpack_from_tier(
        &self,
        tier: &dyn RemoteTier,
        entry: TierEntry,
        filename: &WheelFilename,
        shown: &str,
    ) -> Result<Option<FetchedWheel>, FetchError> {
        let archive = match self.cache().find_archive(&entry.record.archive) {
            Some(archive) => archive,
            None => {
                let Some(unpacked) = tier.fetch(self.cache(), &entry).await else {
                    return Ok(None);
                };
                if let Err(error) = dist_info::check(unpacked.temp.path(), filename, shown) {
                    tracing::warn!(
                        wheel = %shown,
                        %error,
                        "the remote tier's copy is not this wheel; ignoring it"
                    );
                    return Ok(None);
                }
                let cache = self.cache().clone();
                let digest: ContentDigest = entry.record.archive.clone();
                tokio::task::spawn_blocking(move || {
                    cache.persist_unpacked(unpacked.temp, &digest, unpacked.entries)
                })
                .await
                .map_err(|error| FetchError::Task {
                    source_name: shown.to_owned(),
                    message: error.to_string(),
                })??
                .0
            }
        };
        let mut hashes = entry.matched;
        record::write_index(
            self.cache(),
            &archive,
            &hashes,
            entry.record.wheel_size,
            filename,
        )?;
        if let Ok(blake3) = Digest::from_hex(HashAlgorithm::Blake3, archive.digest().as_str()) {
            hashes.insert(0, blake3);
        }
        tracing::debug!(wheel = %filename, archive = %archive.digest(), "fetched from the remote tier");
        Ok(Some(FetchedWheel {
            source: shown.to_owned(),
            filename: filename.clone(),
            archive,
            hashes,
            size: entry.record.wheel_size,
            outcome: FetchOutcome::RemoteHit,
        }))
    }

    /// Offers a wheel this store unpacked itself to the remote tier.
    pub(super) fn offer_to_remote(&self, wheel: &FetchedWheel) {
        if let (Some(tier), FetchOutcome::Unpacked) = (&self.tier, wheel.outcome) {
            tier.offer(self.cache(), wheel);
        }
    }
}
