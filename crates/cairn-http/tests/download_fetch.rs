//! Successful fetches against a real HTTP server: streamed bodies, cache freshness,
//! revalidation, redirects and offline mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::http_server;

use std::time::{Duration, SystemTime};

use cairn_http::{
    CachePolicy, ClientSettings, Download, DownloadError, Fetched, Freshness, HttpClient,
};
use http_server::{Response, TestServer};
use tokio::io::AsyncReadExt;

fn client(settings: ClientSettings) -> HttpClient {
    HttpClient::new(settings).unwrap()
}

fn fast_settings() -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        ..ClientSettings::default()
    }
}

/// Bytes that differ at every offset, so a dropped or repeated chunk cannot go unnoticed.
fn patterned_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn expect_body(fetched: Fetched) -> Download {
    match fetched {
        Fetched::Body(download) => download,
        other => panic!("expected a body, got {other:?}"),
    }
}

async fn read_all(download: Download) -> Vec<u8> {
    let mut bytes = Vec::new();
    download
        .into_async_read()
        .read_to_end(&mut bytes)
        .await
        .unwrap();
    bytes
}

#[tokio::test]
async fn streams_a_200_body_to_the_end() {
    let server = TestServer::start().await;
    let body = patterned_bytes(3 * 1024 * 1024 + 17);
    server.route(
        "/pkg-1.0-py3-none-any.whl",
        Response::ok(body.clone()).etag("v1").chunk_size(16 * 1024),
    );
    let url = server.url("/pkg-1.0-py3-none-any.whl");

    let download = expect_body(client(fast_settings()).get(&url, None).await.unwrap());
    assert_eq!(download.content_length, Some(body.len() as u64));
    assert_eq!(download.final_url, url);
    assert_eq!(
        download.policy.as_ref().unwrap().etag.as_deref(),
        Some("\"v1\"")
    );
    assert_eq!(read_all(download).await, body);

    let request = &server.requests("/pkg-1.0-py3-none-any.whl")[0];
    assert!(request.header("user-agent").unwrap().starts_with("cairn/"));
    // Wheels are served as they are: no content coding may be negotiated.
    assert_eq!(request.header("accept-encoding"), Some("identity"));
    assert_eq!(request.header("if-none-match"), None);
}

#[tokio::test]
async fn streams_a_chunked_body_without_a_length() {
    let server = TestServer::start().await;
    let body = patterned_bytes(200_000);
    server.route(
        "/chunked",
        Response::ok(body.clone())
            .chunked_encoding()
            .chunk_size(7_000),
    );

    let download = expect_body(
        client(fast_settings())
            .get(&server.url("/chunked"), None)
            .await
            .unwrap(),
    );
    assert_eq!(download.content_length, None);
    assert_eq!(read_all(download).await, body);
}

#[tokio::test]
async fn serves_a_file_from_disk_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.whl");
    let body = patterned_bytes(1_000_003);
    std::fs::write(&path, &body).unwrap();
    let server = TestServer::start().await;
    server.route("/a.whl", Response::file(&path).chunk_size(4096));

    let download = expect_body(
        client(fast_settings())
            .get(&server.url("/a.whl"), None)
            .await
            .unwrap(),
    );
    assert_eq!(download.content_length, Some(body.len() as u64));
    assert_eq!(read_all(download).await, body);
}

#[tokio::test]
async fn a_fresh_policy_answers_without_a_request() {
    let server = TestServer::start().await;
    server.route(
        "/simple/pkg/",
        Response::ok("index")
            .etag("v1")
            .cache_control("max-age=3600"),
    );
    let url = server.url("/simple/pkg/");
    let http = client(fast_settings());

    let policy = expect_body(http.get(&url, None).await.unwrap())
        .policy
        .unwrap();
    assert_eq!(policy.max_age, Some(3600));
    assert_eq!(policy.freshness(SystemTime::now()), Freshness::Fresh);
    assert_eq!(server.hits("/simple/pkg/"), 1);

    let fetched = http.get(&url, Some(&policy)).await.unwrap();
    assert!(matches!(fetched, Fetched::Fresh), "{fetched:?}");
    assert_eq!(
        server.hits("/simple/pkg/"),
        1,
        "a fresh entry must not cause a request"
    );
}

#[tokio::test]
async fn a_fresh_immutable_policy_never_touches_the_server() {
    let server = TestServer::start().await;
    let policy = CachePolicy {
        etag: Some("\"x\"".to_owned()),
        stored_at: 0,
        immutable: true,
        ..CachePolicy::default()
    };
    let fetched = client(fast_settings())
        .get(&server.url("/files/a.whl"), Some(&policy))
        .await
        .unwrap();
    assert!(matches!(fetched, Fetched::Fresh), "{fetched:?}");
    assert_eq!(server.total_hits(), 0);
}

#[tokio::test]
async fn a_stale_policy_is_revalidated_and_not_modified() {
    let server = TestServer::start().await;
    server.route(
        "/simple/pkg/",
        Response::ok("index").etag("v1").cache_control("max-age=0"),
    );
    let url = server.url("/simple/pkg/");
    let http = client(fast_settings());

    let download = expect_body(http.get(&url, None).await.unwrap());
    let policy = download.policy.clone().unwrap();
    assert_eq!(read_all(download).await, b"index");
    assert_eq!(policy.freshness(SystemTime::now()), Freshness::Stale);

    let fetched = http.get(&url, Some(&policy)).await.unwrap();
    let Fetched::NotModified { policy: refreshed } = fetched else {
        panic!("expected 304, got {fetched:?}");
    };
    assert_eq!(refreshed.etag.as_deref(), Some("\"v1\""));
    assert_eq!(refreshed.max_age, Some(0));
    assert!(refreshed.stored_at >= policy.stored_at);
    let requests = server.requests("/simple/pkg/");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
}

#[tokio::test]
async fn a_policy_with_only_last_modified_revalidates_by_date() {
    let server = TestServer::start().await;
    let modified = SystemTime::now() - Duration::from_secs(86_400);
    server.route("/a.whl", Response::ok("wheel").last_modified(modified));
    let url = server.url("/a.whl");
    let http = client(fast_settings());

    let policy = expect_body(http.get(&url, None).await.unwrap())
        .policy
        .unwrap();
    assert_eq!(policy.etag, None);
    assert!(policy.can_revalidate());

    let fetched = http.get(&url, Some(&policy)).await.unwrap();
    assert!(
        matches!(fetched, Fetched::NotModified { .. }),
        "{fetched:?}"
    );
    assert_eq!(
        server.requests("/a.whl")[1].header("if-modified-since"),
        Some(httpdate::fmt_http_date(modified).as_str())
    );
}

#[tokio::test]
async fn a_changed_etag_returns_the_new_body() {
    let server = TestServer::start().await;
    server.route("/simple/pkg/", Response::ok("old").etag("v1"));
    let url = server.url("/simple/pkg/");
    let http = client(fast_settings());
    let old_policy = expect_body(http.get(&url, None).await.unwrap())
        .policy
        .unwrap();

    server.route("/simple/pkg/", Response::ok("new").etag("v2"));
    let download = expect_body(http.get(&url, Some(&old_policy)).await.unwrap());
    assert_eq!(
        download.policy.as_ref().unwrap().etag.as_deref(),
        Some("\"v2\"")
    );
    assert_eq!(read_all(download).await, b"new");
    assert_eq!(
        server.requests("/simple/pkg/")[1].header("if-none-match"),
        Some("\"v1\"")
    );
}

#[tokio::test]
async fn no_store_gives_a_body_without_a_policy() {
    let server = TestServer::start().await;
    server.route(
        "/secret",
        Response::ok("x").etag("v1").cache_control("no-store"),
    );
    let download = expect_body(
        client(fast_settings())
            .get(&server.url("/secret"), None)
            .await
            .unwrap(),
    );
    assert!(download.policy.is_none());
}

#[tokio::test]
async fn redirects_are_followed_and_the_final_url_reported() {
    let server = TestServer::start().await;
    server.route("/old", Response::redirect("/files/new.whl"));
    server.route("/files/new.whl", Response::ok("moved"));
    let download = expect_body(
        client(fast_settings())
            .get(&server.url("/old"), None)
            .await
            .unwrap(),
    );
    assert_eq!(download.final_url, server.url("/files/new.whl"));
    assert_eq!(read_all(download).await, b"moved");
}

#[tokio::test]
async fn a_redirect_loop_fails_without_retrying() {
    let server = TestServer::start().await;
    server.route("/loop", Response::redirect("/loop"));
    let err = client(fast_settings())
        .get(&server.url("/loop"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::Redirect { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("/loop"), "{err}");
    assert!(
        server.hits("/loop") <= 11,
        "{} requests",
        server.hits("/loop")
    );
}

#[tokio::test]
async fn file_and_other_schemes_are_refused() {
    let http = client(fast_settings());
    let file = url::Url::parse("file:///tmp/a.whl").unwrap();
    let err = http.get(&file, None).await.unwrap_err();
    assert!(matches!(err, DownloadError::InvalidUrl { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("file:///tmp/a.whl") && message.contains("local files"),
        "{message}"
    );

    let ftp = url::Url::parse("ftp://example.org/a.whl").unwrap();
    let err = http.get(&ftp, None).await.unwrap_err();
    assert!(err.to_string().contains("only http and https"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn offline_answers_from_the_cache_or_says_what_to_do() {
    let server = TestServer::start().await;
    server.route("/a.whl", Response::ok("wheel"));
    let url = server.url("/a.whl");
    let offline = client(ClientSettings {
        offline: true,
        ..fast_settings()
    });

    // Even a stale policy is served from the cache: offline means no network at all.
    let stale = CachePolicy {
        etag: Some("\"v1\"".to_owned()),
        no_cache: true,
        ..CachePolicy::default()
    };
    let fetched = offline.get(&url, Some(&stale)).await.unwrap();
    assert!(matches!(fetched, Fetched::Fresh), "{fetched:?}");

    let err = offline.get(&url, None).await.unwrap_err();
    assert!(matches!(err, DownloadError::Offline { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(url.as_str()), "{message}");
    assert!(message.contains("not in the cache"), "{message}");
    assert!(message.contains("--offline"), "{message}");
    assert!(!err.is_retryable());
    assert_eq!(server.total_hits(), 0);
}

#[tokio::test]
async fn an_unsolicited_304_is_an_error() {
    let server = TestServer::start().await;
    server.route("/weird", Response::status(304));
    let err = client(fast_settings())
        .get(&server.url("/weird"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DownloadError::Status { status: 304, .. }),
        "{err:?}"
    );
    assert_eq!(server.hits("/weird"), 1);
}

/// `text` gzip-compressed.
fn gzip(text: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn an_index_page_is_taken_gzip_encoded_and_read_inflated() {
    let server = TestServer::start().await;
    let page = br#"{"meta": {"api-version": "1.1"}, "name": "demo", "files": []}"#.repeat(200);
    server.route(
        "/simple/demo/",
        Response::ok(gzip(&page)).header("Content-Encoding", "gzip"),
    );
    let client = client(fast_settings());
    let fetched = client
        .get_accepting(
            &server.url("/simple/demo/"),
            None,
            Some("application/vnd.pypi.simple.v1+json"),
        )
        .await
        .unwrap();
    assert_eq!(read_all(expect_body(fetched)).await, page);
    let request = &server.requests("/simple/demo/")[0];
    assert!(
        request
            .header("accept-encoding")
            .is_some_and(|value| value.contains("gzip")),
        "{:?}",
        request.headers
    );
}
