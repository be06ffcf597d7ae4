//! URL canonicalisation: equivalent spellings share one key, different resources do not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_cache_key::{CanonicalUrl, cache_digest};

#[track_caller]
fn check(input: &str, expected: &str) {
    assert_eq!(
        CanonicalUrl::parse(input).unwrap().as_str(),
        expected,
        "input: {input}"
    );
}

#[track_caller]
fn same_key(a: &str, b: &str) {
    let a_url = CanonicalUrl::parse(a).unwrap();
    let b_url = CanonicalUrl::parse(b).unwrap();
    assert_eq!(cache_digest(&a_url), cache_digest(&b_url), "{a} vs {b}");
}

#[track_caller]
fn different_key(a: &str, b: &str) {
    let a_url = CanonicalUrl::parse(a).unwrap();
    let b_url = CanonicalUrl::parse(b).unwrap();
    assert_ne!(cache_digest(&a_url), cache_digest(&b_url), "{a} vs {b}");
}

#[test]
fn credentials_are_stripped() {
    check(
        "https://user:secret@example.org/simple/",
        "https://example.org/simple",
    );
    check(
        "https://token@example.org/simple/",
        "https://example.org/simple",
    );
    same_key(
        "https://alice:1@example.org/a.whl",
        "https://bob:2@example.org/a.whl",
    );
}

#[test]
fn trailing_slashes_and_git_suffix_are_normalised() {
    check(
        "https://example.org/simple/numpy/",
        "https://example.org/simple/numpy",
    );
    check("https://example.org/simple//", "https://example.org/simple");
    check(
        "https://github.com/org/repo.git",
        "https://github.com/org/repo",
    );
    check(
        "https://github.com/org/repo.git/",
        "https://github.com/org/repo",
    );
    check("https://example.org/", "https://example.org/");
    check("https://example.org", "https://example.org/");
}

#[test]
fn percent_escapes_are_normalised() {
    // Unreserved characters are decoded.
    check(
        "https://example.org/%7Euser/%61.whl",
        "https://example.org/~user/a.whl",
    );
    // Reserved characters keep their escape, in uppercase hex.
    check(
        "https://example.org/torch-2.0%2bcpu.whl",
        "https://example.org/torch-2.0%2Bcpu.whl",
    );
    check("https://example.org/a%2fb", "https://example.org/a%2Fb");
    // A lone or malformed escape passes through untouched.
    check("https://example.org/100%", "https://example.org/100%");
    check("https://example.org/%zz", "https://example.org/%zz");
    same_key("https://example.org/%7e", "https://example.org/~");
    different_key("https://example.org/a%2Fb", "https://example.org/a/b");
}

#[test]
fn scheme_host_and_port_are_normalised() {
    check("HTTPS://EXAMPLE.org:443/a", "https://example.org/a");
    check("http://example.org:80/a", "http://example.org/a");
    check("http://example.org:8080/a", "http://example.org:8080/a");
    check("https://example.org/a/./b/../c", "https://example.org/a/c");
}

#[test]
fn fragment_and_empty_query_are_dropped_but_queries_kept() {
    check(
        "https://example.org/a.whl#sha256=abcd",
        "https://example.org/a.whl",
    );
    check("https://example.org/a.whl?", "https://example.org/a.whl");
    check(
        "https://example.org/a.whl?x=%7e1",
        "https://example.org/a.whl?x=~1",
    );
    different_key(
        "https://example.org/a.whl?v=1",
        "https://example.org/a.whl?v=2",
    );
}

#[test]
fn file_urls_are_supported() {
    check("file:///tmp/wheels/a.whl", "file:///tmp/wheels/a.whl");
    check("file:///tmp/wheels/", "file:///tmp/wheels");
}

#[test]
fn different_resources_get_different_keys() {
    different_key("https://example.org/a.whl", "https://example.org/b.whl");
    different_key("https://example.org/a.whl", "http://example.org/a.whl");
    different_key("https://a.example.org/x", "https://b.example.org/x");
}

#[test]
fn invalid_urls_are_errors_that_name_the_input() {
    let error = CanonicalUrl::parse("not a url").unwrap_err();
    assert!(error.to_string().contains("`not a url`"), "{error}");
}
