//! Project pages in the cache: freshness, revalidation, refresh policies and offline mode,
//! against a real HTTP server that counts requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{http, index, offline_index};

use std::time::{Duration, SystemTime};

use cairn_cache::{Cache, CacheBucket, Refresh};

use cairn_index::{IndexClient, IndexError};
use cairn_test_support::http_server::{Response, TestServer};

const PATH: &str = "/simple/demo/";

fn page(versions: &[&str]) -> String {
    let links: String = versions
        .iter()
        .map(|v| format!("<a href=\"/files/demo-{v}-py3-none-any.whl\">x</a>\n"))
        .collect();
    format!("<html><body>\n{links}</body></html>")
}

async fn filenames(client: &IndexClient) -> Vec<String> {
    let files = client.files("demo").await.unwrap();
    files.into_iter().map(|file| file.filename).collect()
}

#[tokio::test]
async fn a_fresh_page_costs_no_request() {
    let server = TestServer::start().await;
    server.route(
        PATH,
        Response::ok(page(&["1.0"])).cache_control("max-age=600"),
    );
    let cache = Cache::temporary().unwrap();
    let client = index(&server, &cache);
    assert_eq!(filenames(&client).await, ["demo-1.0-py3-none-any.whl"]);
    assert_eq!(filenames(&client).await, ["demo-1.0-py3-none-any.whl"]);
    assert_eq!(server.hits(PATH), 1);
    // A new client on the same cache (another process, say) finds it too.
    assert_eq!(filenames(&index(&server, &cache)).await.len(), 1);
    assert_eq!(server.hits(PATH), 1);
}

#[tokio::test]
async fn a_stale_page_is_revalidated_and_a_304_keeps_it() {
    let server = TestServer::start().await;
    server.route(
        PATH,
        Response::ok(page(&["1.0"]))
            .etag("v1")
            .cache_control("max-age=0"),
    );
    let cache = Cache::temporary().unwrap();
    let client = index(&server, &cache);
    filenames(&client).await;
    assert_eq!(filenames(&client).await, ["demo-1.0-py3-none-any.whl"]);
    let requests = server.requests(PATH);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
    // The 304 answered without a body; the page still came from the cache.
}

#[tokio::test]
async fn a_changed_page_replaces_the_cached_one() {
    let server = TestServer::start().await;
    server.route_script(
        PATH,
        [
            Response::ok(page(&["1.0"]))
                .etag("v1")
                .cache_control("no-cache"),
            Response::ok(page(&["1.0", "1.1"]))
                .etag("v2")
                .cache_control("no-cache"),
        ],
    );
    let cache = Cache::temporary().unwrap();
    let client = index(&server, &cache);
    assert_eq!(filenames(&client).await.len(), 1);
    assert_eq!(filenames(&client).await.len(), 2);
    assert_eq!(filenames(&client).await.len(), 2, "the new page is cached");
    let requests = server.requests(PATH);
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(requests[2].header("if-none-match"), Some("\"v2\""));
}

#[tokio::test]
async fn last_modified_revalidates_too() {
    let server = TestServer::start().await;
    let modified = SystemTime::now() - Duration::from_secs(3600);
    server.route(PATH, Response::ok(page(&["1.0"])).last_modified(modified));
    let cache = Cache::temporary().unwrap();
    let client = index(&server, &cache);
    filenames(&client).await;
    assert_eq!(filenames(&client).await.len(), 1);
    let requests = server.requests(PATH);
    assert_eq!(requests.len(), 2);
    assert!(requests[1].header("if-modified-since").is_some());
}

#[tokio::test]
async fn offline_uses_the_cache_even_when_stale() {
    let server = TestServer::start().await;
    server.route(
        PATH,
        Response::ok(page(&["1.0"])).cache_control("max-age=0"),
    );
    let cache = Cache::temporary().unwrap();
    filenames(&index(&server, &cache)).await;
    let offline = offline_index(&server, &cache);
    assert_eq!(filenames(&offline).await, ["demo-1.0-py3-none-any.whl"]);
    assert_eq!(server.hits(PATH), 1);
}

#[tokio::test]
async fn offline_without_the_page_says_what_is_missing() {
    let server = TestServer::start().await;
    server.route(PATH, Response::ok(page(&["1.0"])));
    let cache = Cache::temporary().unwrap();
    let error = offline_index(&server, &cache)
        .files("Demo")
        .await
        .unwrap_err();
    assert!(matches!(error, IndexError::Offline { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("`demo`") && message.contains(server.url(PATH).as_str()),
        "{message}"
    );
    assert!(message.contains("--offline"), "{message}");
    assert_eq!(server.total_hits(), 0);
}

#[tokio::test]
async fn refresh_revalidates_a_fresh_page_once_per_operation() {
    let server = TestServer::start().await;
    server.route(
        PATH,
        Response::ok(page(&["1.0"]))
            .etag("v1")
            .cache_control("max-age=600"),
    );
    let cache = Cache::temporary().unwrap();
    filenames(&index(&server, &cache)).await;
    assert_eq!(server.hits(PATH), 1);

    // The refresh starts after the first write, and well before the files this operation
    // writes: file times come from the kernel's coarse clock, which lags the precise one by up
    // to a tick.
    std::thread::sleep(Duration::from_millis(60));
    let started = SystemTime::now() - Duration::from_millis(30);
    let refreshing = index(&server, &cache).with_refresh(Refresh::All(started));
    filenames(&refreshing).await;
    assert_eq!(
        server.hits(PATH),
        2,
        "fresh by max-age, but revalidated by --refresh"
    );
    assert_eq!(
        server.requests(PATH)[1].header("if-none-match"),
        Some("\"v1\"")
    );
    filenames(&refreshing).await;
    assert_eq!(server.hits(PATH), 2, "refreshed once per operation");

    std::thread::sleep(Duration::from_millis(60));
    let started = SystemTime::now() - Duration::from_millis(30);
    let other_package =
        index(&server, &cache).with_refresh(Refresh::Packages(vec!["other".into()], started));
    filenames(&other_package).await;
    assert_eq!(
        server.hits(PATH),
        2,
        "--refresh-package other leaves demo alone"
    );
    let this_package =
        index(&server, &cache).with_refresh(Refresh::Packages(vec!["DEMO".into()], started));
    filenames(&this_package).await;
    assert_eq!(server.hits(PATH), 3);
}

#[tokio::test]
async fn no_store_pages_are_not_kept() {
    let server = TestServer::start().await;
    server.route_script(
        PATH,
        [
            Response::ok(page(&["1.0"])).cache_control("max-age=600"),
            Response::ok(page(&["1.0", "1.1"])).cache_control("no-store"),
        ],
    );
    let cache = Cache::temporary().unwrap();
    filenames(&index(&server, &cache)).await;
    let refreshing = index(&server, &cache)
        .with_refresh(Refresh::All(SystemTime::now() + Duration::from_secs(1)));
    assert_eq!(filenames(&refreshing).await.len(), 2);
    let error = offline_index(&server, &cache)
        .files("demo")
        .await
        .unwrap_err();
    assert!(
        matches!(error, IndexError::Offline { .. }),
        "a no-store answer removes the old page: {error:?}"
    );
}

#[tokio::test]
async fn pages_of_different_indexes_are_kept_apart() {
    let server = TestServer::start().await;
    server.route(
        "/one/demo/",
        Response::ok(page(&["1.0"])).cache_control("max-age=600"),
    );
    server.route(
        "/two/demo/",
        Response::ok(page(&["2.0", "2.1"])).cache_control("max-age=600"),
    );
    let cache = Cache::temporary().unwrap();
    let one = IndexClient::new(http(false), cache.clone(), server.url("/one/"));
    let two = IndexClient::new(http(false), cache.clone(), server.url("/two/"));
    assert_eq!(filenames(&one).await.len(), 1);
    assert_eq!(filenames(&two).await.len(), 2);
    assert_eq!(filenames(&one).await.len(), 1);
    let shards = std::fs::read_dir(cache.bucket(CacheBucket::Simple))
        .unwrap()
        .count();
    assert_eq!(shards, 2);
}

#[tokio::test]
async fn a_corrupt_cached_page_is_fetched_again() {
    let server = TestServer::start().await;
    server.route(
        PATH,
        Response::ok(page(&["1.0"])).cache_control("max-age=600"),
    );
    let cache = Cache::temporary().unwrap();
    filenames(&index(&server, &cache)).await;
    let shard = std::fs::read_dir(cache.bucket(CacheBucket::Simple))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(shard.join("demo.page"), b"garbage").unwrap();
    assert_eq!(filenames(&index(&server, &cache)).await.len(), 1);
    assert_eq!(server.hits(PATH), 2);
}
