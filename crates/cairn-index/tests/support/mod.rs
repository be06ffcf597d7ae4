//! An index client of a test server, online or offline, shared by the cache tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use cairn_cache::Cache;
use cairn_http::{ClientSettings, HttpClient};
use cairn_index::IndexClient;
use cairn_test_support::http_server::TestServer;

/// An HTTP client that does not retry, offline or not.
pub fn http(offline: bool) -> HttpClient {
    HttpClient::new(ClientSettings {
        retries: 0,
        offline,
        read_timeout: Duration::from_secs(10),
        ..ClientSettings::default()
    })
    .unwrap()
}

/// A client of `server`'s `/simple/` index caching in `cache`.
pub fn index(server: &TestServer, cache: &Cache) -> IndexClient {
    IndexClient::new(http(false), cache.clone(), server.url("/simple/"))
}

/// The same, offline: only what `cache` holds.
pub fn offline_index(server: &TestServer, cache: &Cache) -> IndexClient {
    IndexClient::new(http(true), cache.clone(), server.url("/simple/"))
}
