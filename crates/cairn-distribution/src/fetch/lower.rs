//! Lower caches: read-only tiers under the store's own cache.
//!
//! A lower cache is another cairn cache this store only reads (one baked into a container
//! image, on a read-only or network mount, or another user's). When the store's own cache does
//! not hold a wheel whose expected digests the lower cache's published-hash index knows, the
//! lower cache's unpacked archive is used as it is: nothing is copied and nothing is written,
//! in either cache. Digests name immutable bytes, so an index entry answers for any source of
//! those bytes; the archive's `.dist-info` is still checked against the wheel's name, as for
//! every hit by digest. Pointers of a lower cache are not consulted: a source without expected
//! digests (an unhashed local file) is fetched into the store's own cache.

use cairn_cache::Cache;
use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm};
use cairn_types::WheelFilename;

use super::{FetchError, FetchOutcome, FetchedWheel, WheelStore, dist_info, record};

impl WheelStore {
    /// Reads wheels that its own cache does not hold from `caches` too, in order (see
    /// [`FetchOutcome::LowerHit`]). Each is opened by the caller, typically with
    /// [`Cache::open`], which needs no write access to it.
    pub fn with_lower_caches(mut self, caches: impl IntoIterator<Item = Cache>) -> Self {
        self.lower = caches.into_iter().collect();
        self
    }

    /// The lower caches, in the order they are asked.
    pub fn lower_caches(&self) -> &[Cache] {
        &self.lower
    }

    /// The wheel `filename` matching `expected` from the first lower cache that holds it. The
    /// caller has found it missing from the store's own cache.
    pub(super) fn find_in_lower(
        &self,
        filename: &WheelFilename,
        expected: &ExpectedHashes,
        shown: &str,
    ) -> Result<Option<FetchedWheel>, FetchError> {
        if self.lower.is_empty() || expected.is_empty() {
            return Ok(None);
        }
        for lower in self.lower.iter() {
            let Some((archive, size, mut hashes)) = record::find_by_expected(lower, expected)
            else {
                continue;
            };
            dist_info::check(archive.path(), filename, shown)?;
            if let Ok(blake3) = Digest::from_hex(HashAlgorithm::Blake3, archive.digest().as_str()) {
                hashes.insert(0, blake3);
            }
            tracing::debug!(
                wheel = %filename,
                lower = %lower.root().display(),
                archive = %archive.digest(),
                "found in a lower cache"
            );
            return Ok(Some(FetchedWheel {
                source: shown.to_owned(),
                filename: filename.clone(),
                archive,
                hashes,
                size,
                outcome: FetchOutcome::LowerHit,
            }));
        }
        Ok(None)
    }
}
