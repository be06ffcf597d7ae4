//! Golden digests. Cache keys are part of the on-disk format: if one of these changes, every
//! existing cache is silently invalidated. Change them only together with a bucket version bump.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cairn_cache_key::{CacheKey, CacheKeyHasher, CanonicalUrl, cache_digest};

#[track_caller]
fn check<K: CacheKey + ?Sized>(key: &K, expected: &str) {
    assert_eq!(cache_digest(key), expected);
}

/// The digest of a raw byte encoding, computed by SeaHash directly: pins the encoding itself.
fn seahash_hex(bytes: &[u8]) -> String {
    format!("{:016x}", seahash::hash(bytes))
}

struct Wheel {
    name: &'static str,
    version: &'static str,
    tags: Vec<&'static str>,
    build: Option<u32>,
}

impl CacheKey for Wheel {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        self.name.cache_key(state);
        self.version.cache_key(state);
        self.tags.cache_key(state);
        self.build.cache_key(state);
    }
}

#[test]
fn encoding_is_length_prefixed_little_endian() {
    let mut abc = 3u64.to_le_bytes().to_vec();
    abc.extend_from_slice(b"abc");
    assert_eq!(cache_digest("abc"), seahash_hex(&abc));
    assert_eq!(cache_digest(&7u32), seahash_hex(&7u64.to_le_bytes()));
    assert_eq!(cache_digest(&7usize), seahash_hex(&7u64.to_le_bytes()));
    assert_eq!(cache_digest(&None::<u8>), seahash_hex(&[0]));
    let mut some = vec![1];
    some.extend_from_slice(&5u64.to_le_bytes());
    assert_eq!(cache_digest(&Some(5u8)), seahash_hex(&some));
    assert_eq!(cache_digest(&true), seahash_hex(&[1]));
    assert_eq!(cache_digest(&-1i32), seahash_hex(&(-1i64).to_le_bytes()));
}

#[test]
fn golden_digests() {
    check("", "1cdee552a46d795f");
    check("numpy", "f6ed370901f41700");
    check(&("numpy", "2.4.6"), "b30cee5f8d97b34c");
    check(&vec!["a", "bc"], "6377530a3f0af034");
    check(&vec!["ab", "c"], "17fd46d8d7c846a6");
    check(&Some("x"), "4679c5cc95053e46");
    check(&None::<&str>, "78d3db1f028ac5fd");
    check(&u64::MAX, "65a4beb732c73be7");
    check(Path::new("wheels/numpy"), "6962350cc56f4a56");
    let map = BTreeMap::from([("b", 2u32), ("a", 1u32)]);
    check(&map, "1b7cc57c9b21e136");
    let set = BTreeSet::from(["py3", "cp311"]);
    check(&set, "b0d546fede493859");
    let wheel = Wheel {
        name: "numpy",
        version: "2.4.6",
        tags: vec!["cp311", "cp311", "manylinux_2_28_x86_64"],
        build: None,
    };
    check(&wheel, "1c7e439835b58389");
    let url = CanonicalUrl::parse("https://pypi.org/simple/numpy/").unwrap();
    check(&url, "3337d5954b1e5b27");
}

#[test]
fn sequences_do_not_collide_across_boundaries() {
    assert_ne!(
        cache_digest(&vec!["a", "bc"]),
        cache_digest(&vec!["ab", "c"])
    );
    assert_ne!(cache_digest(&("a", "")), cache_digest(&("", "a")));
    assert_ne!(cache_digest(&Some("")), cache_digest(&None::<&str>));
}

#[test]
fn maps_are_keyed_in_sorted_order() {
    let forwards: BTreeMap<_, _> = [("a", 1u8), ("b", 2u8)].into_iter().collect();
    let backwards: BTreeMap<_, _> = [("b", 2u8), ("a", 1u8)].into_iter().collect();
    assert_eq!(cache_digest(&forwards), cache_digest(&backwards));
}
