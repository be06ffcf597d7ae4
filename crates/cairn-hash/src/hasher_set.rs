//! Several hash algorithms fed from one pass over the bytes.

use rayon::iter::{IntoParallelRefMutIterator as _, ParallelIterator as _};
use sha2::Digest as _;

use super::algorithm::HashAlgorithm;
use super::digest::Digest;
use super::hashes::Hashes;

/// BLAKE3 plus any extra algorithms, all updated by each call, so the bytes are read once.
///
/// BLAKE3 is always computed because it is the content address of the cache; the extras are
/// whatever the index or the user's pins need (usually SHA-256). BLAKE3's SIMD code hashes many
/// 1 KiB chunks at once, so callers should feed large slices (64 KiB or more) when they can.
#[derive(Clone)]
pub struct HasherSet {
    blake3: blake3::Hasher,
    extras: Vec<ExtraHasher>,
    bytes_seen: u64,
}

impl HasherSet {
    /// A set computing BLAKE3 and each algorithm of `extra` once (BLAKE3 and repeats in `extra`
    /// are ignored).
    pub fn new(extra: &[HashAlgorithm]) -> Self {
        let extras = HashAlgorithm::ALL
            .into_iter()
            .filter(|algorithm| extra.contains(algorithm))
            .filter_map(ExtraHasher::new)
            .collect();
        Self {
            blake3: blake3::Hasher::new(),
            extras,
            bytes_seen: 0,
        }
    }

    /// Feeds `bytes` to every algorithm.
    pub fn update(&mut self, bytes: &[u8]) {
        self.blake3.update(bytes);
        for extra in &mut self.extras {
            extra.update(bytes);
        }
        self.bytes_seen += bytes.len() as u64;
    }

    /// Feeds `bytes` to every algorithm using rayon's thread pool: BLAKE3 splits the input across
    /// threads while the extra algorithms (which are sequential by nature) run beside it.
    ///
    /// Worth it only for large inputs (hundreds of KiB and up); see [`hash_file`](super::hash_file).
    pub fn update_parallel(&mut self, bytes: &[u8]) {
        let Self { blake3, extras, .. } = self;
        if extras.is_empty() {
            blake3.update_rayon(bytes);
        } else {
            rayon::join(
                || blake3.update_rayon(bytes),
                || extras.par_iter_mut().for_each(|extra| extra.update(bytes)),
            );
        }
        self.bytes_seen += bytes.len() as u64;
    }

    /// How many bytes have been fed so far.
    pub const fn bytes_seen(&self) -> u64 {
        self.bytes_seen
    }

    /// The algorithms this set computes, BLAKE3 first.
    pub fn algorithms(&self) -> impl Iterator<Item = HashAlgorithm> {
        std::iter::once(HashAlgorithm::Blake3).chain(self.extras.iter().map(ExtraHasher::algorithm))
    }

    /// Finishes every algorithm.
    pub fn finalize(self) -> Hashes {
        Hashes {
            blake3: Digest::from_computed(HashAlgorithm::Blake3, self.blake3.finalize().as_bytes()),
            others: self.extras.into_iter().map(ExtraHasher::finalize).collect(),
            bytes: self.bytes_seen,
        }
    }
}

impl std::fmt::Debug for HasherSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HasherSet")
            .field("algorithms", &self.algorithms().collect::<Vec<_>>())
            .field("bytes_seen", &self.bytes_seen)
            .finish()
    }
}

/// One of the sequential SHA-2 hashers.
#[derive(Clone)]
pub(super) enum ExtraHasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl ExtraHasher {
    /// A hasher for `algorithm`, or `None` for BLAKE3 (which [`HasherSet`] always has).
    pub(super) fn new(algorithm: HashAlgorithm) -> Option<Self> {
        match algorithm {
            HashAlgorithm::Blake3 => None,
            HashAlgorithm::Sha256 => Some(Self::Sha256(sha2::Sha256::new())),
            HashAlgorithm::Sha384 => Some(Self::Sha384(sha2::Sha384::new())),
            HashAlgorithm::Sha512 => Some(Self::Sha512(sha2::Sha512::new())),
        }
    }

    fn algorithm(&self) -> HashAlgorithm {
        match self {
            Self::Sha256(_) => HashAlgorithm::Sha256,
            Self::Sha384(_) => HashAlgorithm::Sha384,
            Self::Sha512(_) => HashAlgorithm::Sha512,
        }
    }

    pub(super) fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(hasher) => hasher.update(bytes),
            Self::Sha384(hasher) => hasher.update(bytes),
            Self::Sha512(hasher) => hasher.update(bytes),
        }
    }

    pub(super) fn finalize(self) -> Digest {
        let algorithm = self.algorithm();
        match self {
            Self::Sha256(hasher) => Digest::from_computed(algorithm, &hasher.finalize()),
            Self::Sha384(hasher) => Digest::from_computed(algorithm, &hasher.finalize()),
            Self::Sha512(hasher) => Digest::from_computed(algorithm, &hasher.finalize()),
        }
    }
}
