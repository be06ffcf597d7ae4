//! The result of hashing: every digest computed over one byte stream, and its length.

use super::algorithm::HashAlgorithm;
use super::digest::Digest;

/// The digests of one byte stream: always BLAKE3 (the content address), plus the extra
/// algorithms that were asked for, plus the number of bytes hashed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hashes {
    /// The BLAKE3 digest, cairn's content address for these bytes.
    pub blake3: Digest,
    /// The digests of the extra algorithms, in [`HashAlgorithm::ALL`] order, one per algorithm.
    pub others: Vec<Digest>,
    /// How many bytes were hashed.
    pub bytes: u64,
}

impl Hashes {
    /// The digest computed with `algorithm`, or `None` if that algorithm was not asked for.
    pub fn get(&self, algorithm: HashAlgorithm) -> Option<&Digest> {
        self.iter().find(|digest| digest.algorithm() == algorithm)
    }

    /// Every digest, BLAKE3 first.
    pub fn iter(&self) -> impl Iterator<Item = &Digest> {
        std::iter::once(&self.blake3).chain(&self.others)
    }
}
