use crate::{CacheKey, CacheKeyHasher};

/// The short, lowercase, filesystem-safe digest of a cache key: 16 hex characters.
///
/// ```
/// assert_eq!(cairn_cache_key::cache_digest(&"numpy"), cairn_cache_key::cache_digest(&"numpy"));
/// ```
pub fn cache_digest<K: CacheKey + ?Sized>(key: &K) -> String {
    let mut hasher = CacheKeyHasher::new();
    key.cache_key(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Lowercase hexadecimal encoding of `bytes`.
///
/// ```
/// assert_eq!(cairn_cache_key::hex_lower(&[0x00, 0xab, 0x7f]), "00ab7f");
/// ```
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}
