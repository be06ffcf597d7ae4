//! One retry budget per request, against a real server on 127.0.0.1: a budget shared by two
//! calls is spent once, and the retry window bounds the time even when the server asks for
//! longer waits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use cairn_http::{ClientSettings, DownloadError, HttpClient};
use cairn_test_support::http_server::{Response, TestServer};

fn settings(retries: u32) -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        retries,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..ClientSettings::default()
    }
}

#[tokio::test]
async fn calls_sharing_a_budget_share_its_attempts() {
    let server = TestServer::start().await;
    let path = "/files/demo-1.0-py3-none-any.whl";
    server.route_script(
        path,
        [
            Response::status(500),
            Response::status(500),
            Response::ok(b"PK".to_vec()),
        ],
    );
    let http = HttpClient::new(settings(2)).unwrap();
    let mut budget = http.retry_budget();
    http.get_with_budget(&server.url(path), None, None, &mut budget)
        .await
        .unwrap();
    assert_eq!(server.hits(path), 3);
    assert_eq!(budget.attempts(), 3);
    // The budget is spent: a caller that asks before restarting (after a broken body) is told
    // to stop.
    assert_eq!(budget.next_delay(None), None);
}

#[tokio::test]
async fn the_retry_window_caps_a_servers_retry_after() {
    let server = TestServer::start().await;
    let path = "/simple/demo/";
    server.route(path, Response::status(429).retry_after(30));
    let http = HttpClient::new(ClientSettings {
        retry_window: Duration::from_millis(300),
        max_backoff: Duration::from_secs(60),
        ..settings(10)
    })
    .unwrap();
    let started = Instant::now();
    let error = http.get(&server.url(path), None).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(error, DownloadError::ServerError { status: 429, .. }),
        "{error:?}"
    );
    // One wait, cut to the window, then the window is over.
    assert_eq!(server.hits(path), 2, "{error}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(error.to_string().contains("2 attempts"), "{error}");
}
