//! A reader that hashes every byte passing through it.
//!
//! It passes the caller's buffer straight to the inner reader and hashes exactly the bytes it
//! filled: no copy, no buffer of its own, and no splitting of reads into smaller ones (BLAKE3
//! needs large slices to use its widest SIMD).

use std::io;

use super::hasher_set::HasherSet;
use super::hashes::Hashes;

/// Wraps a [`std::io::Read`] and feeds every byte read through it to a [`HasherSet`].
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hashers: HasherSet,
}

impl<R: io::Read> HashingReader<R> {
    /// Hashes what is read from `inner` with `hashers`.
    pub const fn new(inner: R, hashers: HasherSet) -> Self {
        Self { inner, hashers }
    }

    /// How many bytes have been read (and hashed) so far.
    pub const fn bytes_seen(&self) -> u64 {
        self.hashers.bytes_seen()
    }

    /// The inner reader. Reading from it directly bypasses the hashers.
    pub const fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The digests of everything read so far. Read to the end first to hash the whole stream.
    pub fn finish(self) -> Hashes {
        self.hashers.finalize()
    }

    /// The inner reader and the digests of everything read so far.
    pub fn into_parts(self) -> (R, Hashes) {
        (self.inner, self.hashers.finalize())
    }
}

impl<R: io::Read> io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let filled = self.inner.read(buf)?;
        // A reader that claims more than the buffer holds breaks `Read`'s contract; hash what
        // the buffer can hold rather than panic on the slice.
        self.hashers.update(&buf[..filled.min(buf.len())]);
        Ok(filled)
    }
}
