//! The digests a file is expected to have, and checking computed digests against them.

use super::algorithm::HashAlgorithm;
use super::digest::Digest;
use super::error::HashMismatch;
use super::hashes::Hashes;

/// The digests a file is expected to have: from the index, from the user's pins, or both.
///
/// An algorithm may have several acceptable digests (pip lets a requirement list several
/// `--hash` values, e.g. one per platform wheel); the file passes an algorithm's check if it
/// matches any one of them. Every algorithm that has expectations must pass: unlike pip, which
/// accepts a match in any one algorithm, a stale SHA-512 pin is not hidden by a good SHA-256.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedHashes {
    /// Deduplicated; the sets are tiny (a handful of digests), so a vector beats a map.
    digests: Vec<Digest>,
}

impl ExpectedHashes {
    /// An empty set, which every file passes.
    pub const fn new() -> Self {
        Self {
            digests: Vec::new(),
        }
    }

    /// Adds `digest` as acceptable for its algorithm.
    pub fn insert(&mut self, digest: Digest) {
        if !self.digests.contains(&digest) {
            self.digests.push(digest);
        }
    }

    /// Whether nothing is expected.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The algorithms to compute to verify a file, each once, in [`HashAlgorithm::ALL`] order.
    /// Pass them to [`HasherSet::new`](super::HasherSet::new) or [`hash_file`](super::hash_file).
    pub fn algorithms(&self) -> Vec<HashAlgorithm> {
        HashAlgorithm::ALL
            .into_iter()
            .filter(|&algorithm| self.digests_for(algorithm).next().is_some())
            .collect()
    }

    /// The acceptable digests of `algorithm`.
    pub fn digests_for(&self, algorithm: HashAlgorithm) -> impl Iterator<Item = &Digest> {
        self.digests
            .iter()
            .filter(move |digest| digest.algorithm() == algorithm)
    }

    /// Every expected digest.
    pub fn iter(&self) -> impl Iterator<Item = &Digest> {
        self.digests.iter()
    }

    /// Checks `actual`, the digests of `file`, against the expectations: for each algorithm
    /// with expectations, the actual digest must equal one of them. `file` names the file in the
    /// error (a file name, path or URL).
    pub fn verify(&self, actual: &Hashes, file: &str) -> Result<(), HashMismatch> {
        let digests: Vec<Digest> = actual.iter().copied().collect();
        self.verify_digests(&digests, file)
    }

    /// [`Self::verify`] against any collection of digests, e.g. those recorded in the cache for
    /// a wheel. An algorithm with expectations but no digest among `actual` fails; check
    /// [`Self::is_covered_by`] first to tell "unknown" from "wrong".
    pub fn verify_digests(&self, actual: &[Digest], file: &str) -> Result<(), HashMismatch> {
        for algorithm in self.algorithms() {
            let computed = actual.iter().find(|d| d.algorithm() == algorithm);
            let mut accepted = self.digests_for(algorithm);
            if computed.is_some_and(|computed| accepted.any(|expected| expected == computed)) {
                continue;
            }
            return Err(HashMismatch {
                file: file.to_owned(),
                algorithm,
                expected: self.digests_for(algorithm).copied().collect(),
                actual: computed.copied(),
            });
        }
        Ok(())
    }

    /// Whether `known` has a digest for every algorithm with expectations, so that
    /// [`Self::verify_digests`] can decide without hashing anything.
    pub fn is_covered_by(&self, known: &[Digest]) -> bool {
        self.algorithms()
            .into_iter()
            .all(|algorithm| known.iter().any(|d| d.algorithm() == algorithm))
    }
}

impl FromIterator<Digest> for ExpectedHashes {
    fn from_iter<I: IntoIterator<Item = Digest>>(digests: I) -> Self {
        let mut expected = Self::new();
        expected.extend(digests);
        expected
    }
}

impl Extend<Digest> for ExpectedHashes {
    /// Linear in the number of digests: past a handful, repeats are found with a set (a
    /// requirement may carry thousands of `--hash` options).
    fn extend<I: IntoIterator<Item = Digest>>(&mut self, digests: I) {
        const LINEAR_UP_TO: usize = 16;
        let mut seen: Option<std::collections::HashSet<Digest>> = None;
        for digest in digests {
            if self.digests.len() < LINEAR_UP_TO {
                self.insert(digest);
                continue;
            }
            let seen = seen.get_or_insert_with(|| self.digests.iter().copied().collect());
            if seen.insert(digest) {
                self.digests.push(digest);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sha256(n: u32) -> Digest {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&n.to_le_bytes());
        Digest::from_bytes(HashAlgorithm::Sha256, &bytes).unwrap()
    }

    #[test]
    fn many_digests_are_deduplicated_in_order() {
        // 200k digests with every one repeated: quadratic deduplication would take minutes.
        let digests = (0..100_000).chain(0..100_000).map(sha256);
        let expected: ExpectedHashes = digests.collect();
        let kept: Vec<Digest> = expected.iter().copied().collect();
        assert_eq!(kept.len(), 100_000);
        assert!(kept.iter().zip(0..).all(|(digest, n)| *digest == sha256(n)));
        let mut small = ExpectedHashes::new();
        small.extend([sha256(1), sha256(2), sha256(1)]);
        assert_eq!(small.iter().count(), 2);
    }
}
