use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::CacheKeyHasher;

/// A value that can be written into a [`CacheKeyHasher`] with a deterministic encoding.
///
/// Implementations must write every field that distinguishes two values, in a fixed order, and
/// use the length-prefixed writers for anything of variable size so that `("ab", "c")` and
/// `("a", "bc")` differ.
///
/// ```
/// use cairn_cache_key::{cache_digest, CacheKey, CacheKeyHasher};
///
/// struct WheelKey<'a> { name: &'a str, version: &'a str }
///
/// impl CacheKey for WheelKey<'_> {
///     fn cache_key(&self, state: &mut CacheKeyHasher) {
///         self.name.cache_key(state);
///         self.version.cache_key(state);
///     }
/// }
///
/// let key = WheelKey { name: "numpy", version: "2.4.6" };
/// assert_eq!(cache_digest(&key), cache_digest(&("numpy", "2.4.6")));
/// ```
pub trait CacheKey {
    /// Writes this value into `state`.
    fn cache_key(&self, state: &mut CacheKeyHasher);
}

impl CacheKey for bool {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        state.write_u8(u8::from(*self));
    }
}

macro_rules! impl_unsigned {
    ($($ty:ty),*) => {$(
        impl CacheKey for $ty {
            fn cache_key(&self, state: &mut CacheKeyHasher) {
                state.write_u64(u64::from(*self));
            }
        }
    )*};
}
impl_unsigned!(u8, u16, u32, u64);

macro_rules! impl_signed {
    ($($ty:ty),*) => {$(
        impl CacheKey for $ty {
            fn cache_key(&self, state: &mut CacheKeyHasher) {
                state.write_raw(&i64::from(*self).to_le_bytes());
            }
        }
    )*};
}
impl_signed!(i8, i16, i32, i64);

impl CacheKey for usize {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        state.write_len(*self);
    }
}

impl CacheKey for str {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        state.write_bytes(self.as_bytes());
    }
}

impl CacheKey for String {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        self.as_str().cache_key(state);
    }
}

impl CacheKey for Cow<'_, str> {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        self.as_ref().cache_key(state);
    }
}

impl CacheKey for Path {
    /// Paths are keyed by their UTF-8 form (lossily for non-UTF-8 paths) with `/` separators,
    /// so the same relative path gives the same key on every platform.
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        let text = self.to_string_lossy();
        if std::path::MAIN_SEPARATOR == '/' {
            text.as_ref().cache_key(state);
        } else {
            text.replace(std::path::MAIN_SEPARATOR, "/")
                .cache_key(state);
        }
    }
}

impl CacheKey for PathBuf {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        self.as_path().cache_key(state);
    }
}

impl<T: CacheKey + ?Sized> CacheKey for &T {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        (**self).cache_key(state);
    }
}

impl<T: CacheKey + ?Sized> CacheKey for Box<T> {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        (**self).cache_key(state);
    }
}

impl<T: CacheKey> CacheKey for Option<T> {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        match self {
            None => state.write_u8(0),
            Some(value) => {
                state.write_u8(1);
                value.cache_key(state);
            }
        }
    }
}

impl<T: CacheKey> CacheKey for [T] {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        state.write_len(self.len());
        for item in self {
            item.cache_key(state);
        }
    }
}

impl<T: CacheKey, const N: usize> CacheKey for [T; N] {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        self.as_slice().cache_key(state);
    }
}

impl<T: CacheKey> CacheKey for Vec<T> {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        self.as_slice().cache_key(state);
    }
}

impl<T: CacheKey> CacheKey for BTreeSet<T> {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        state.write_len(self.len());
        for item in self {
            item.cache_key(state);
        }
    }
}

impl<K: CacheKey, V: CacheKey> CacheKey for BTreeMap<K, V> {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        state.write_len(self.len());
        for (key, value) in self {
            key.cache_key(state);
            value.cache_key(state);
        }
    }
}

macro_rules! impl_tuple {
    ($($name:ident),+) => {
        impl<$($name: CacheKey),+> CacheKey for ($($name,)+) {
            #[allow(non_snake_case)]
            fn cache_key(&self, state: &mut CacheKeyHasher) {
                let ($($name,)+) = self;
                $($name.cache_key(state);)+
            }
        }
    };
}
impl_tuple!(A);
impl_tuple!(A, B);
impl_tuple!(A, B, C);
impl_tuple!(A, B, C, D);
impl_tuple!(A, B, C, D, E);
impl_tuple!(A, B, C, D, E, F);
