use std::hash::Hasher;

/// The stable hasher behind every cache key.
///
/// Wraps SeaHash and only exposes writes with a fixed encoding, so a digest depends on the
/// logical value alone, never on the platform.
#[derive(Clone, Default)]
pub struct CacheKeyHasher {
    inner: seahash::SeaHasher,
}

impl CacheKeyHasher {
    /// A hasher in its initial state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes raw bytes without a length prefix. Prefer the typed writers; this exists for
    /// [`CacheKey`](crate::CacheKey) implementations of fixed-size values.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.inner.write(bytes);
    }

    /// Writes a length (or any `usize`) as 8 little-endian bytes, whatever the platform.
    pub fn write_len(&mut self, len: usize) {
        // `usize` is at most 64 bits on every supported platform.
        self.write_u64(len as u64);
    }

    /// Writes a `u8`.
    pub fn write_u8(&mut self, value: u8) {
        self.inner.write(&[value]);
    }

    /// Writes a `u64` as 8 little-endian bytes.
    pub fn write_u64(&mut self, value: u64) {
        self.inner.write(&value.to_le_bytes());
    }

    /// Writes a length-prefixed byte string.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.write_len(bytes.len());
        self.inner.write(bytes);
    }

    /// Returns the 64-bit digest of everything written so far.
    pub fn finish(&self) -> u64 {
        self.inner.finish()
    }
}

impl std::fmt::Debug for CacheKeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheKeyHasher")
            .field("state", &self.finish())
            .finish()
    }
}
