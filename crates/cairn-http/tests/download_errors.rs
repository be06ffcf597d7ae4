//! Failures against a real HTTP server: status errors, retries, broken and stalled bodies,
//! silent servers, refused connections, and credentials that must never be shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::http_server;

use std::io;
use std::time::Duration;

use cairn_http::{Attempts, BodyFailure, ClientSettings, DownloadError, Fetched, HttpClient};
use http_server::{Response, TestServer, refused_url};
use tokio::io::AsyncReadExt;

fn client(settings: ClientSettings) -> HttpClient {
    HttpClient::new(settings).unwrap()
}

fn fast_settings() -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        retries: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        ..ClientSettings::default()
    }
}

/// Fetches `url` expecting a body, reads it to the end, and returns the read error.
async fn body_read_error(http: &HttpClient, url: &url::Url) -> io::Error {
    let Fetched::Body(download) = http.get(url, None).await.unwrap() else {
        panic!("expected a body");
    };
    let mut bytes = Vec::new();
    download
        .into_async_read()
        .read_to_end(&mut bytes)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn not_found_is_not_retried_and_says_so() {
    let server = TestServer::start().await;
    let url = server.url("/files/missing-1.0-py3-none-any.whl");
    let err = client(fast_settings()).get(&url, None).await.unwrap_err();
    assert!(
        matches!(err, DownloadError::Status { status: 404, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(url.as_str()), "{message}");
    assert!(message.contains("not found"), "{message}");
    assert!(message.contains("404"), "{message}");
    assert!(!err.is_retryable());
    assert_eq!(server.hits("/files/missing-1.0-py3-none-any.whl"), 1);
}

#[tokio::test]
async fn forbidden_points_at_the_credentials() {
    let server = TestServer::start().await;
    server.route("/private.whl", Response::status(403));
    let err = client(fast_settings())
        .get(&server.url("/private.whl"), None)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("403 Forbidden"), "{message}");
    assert!(message.contains("credentials"), "{message}");
    assert_eq!(server.hits("/private.whl"), 1);
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let server = TestServer::start().await;
    server.route_script(
        "/flaky.whl",
        [
            Response::status(500),
            Response::status(502),
            Response::ok("finally"),
        ],
    );
    let Fetched::Body(download) = client(fast_settings())
        .get(&server.url("/flaky.whl"), None)
        .await
        .unwrap()
    else {
        panic!("expected a body");
    };
    let mut bytes = Vec::new();
    download
        .into_async_read()
        .read_to_end(&mut bytes)
        .await
        .unwrap();
    assert_eq!(bytes, b"finally");
    assert_eq!(server.hits("/flaky.whl"), 3);
}

#[tokio::test]
async fn retry_after_is_honoured_within_the_cap() {
    let server = TestServer::start().await;
    // The server asks for an hour; the cap (10 ms here) keeps the test fast.
    server.route_script(
        "/busy",
        [Response::status(503).retry_after(3600), Response::ok("ok")],
    );
    let fetched = client(fast_settings())
        .get(&server.url("/busy"), None)
        .await
        .unwrap();
    assert!(matches!(fetched, Fetched::Body(_)), "{fetched:?}");
    assert_eq!(server.hits("/busy"), 2);
}

#[tokio::test]
async fn persistent_server_errors_fail_after_every_attempt() {
    let server = TestServer::start().await;
    server.route("/down", Response::status(500));
    let err = client(ClientSettings {
        retries: 2,
        ..fast_settings()
    })
    .get(&server.url("/down"), None)
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            DownloadError::ServerError {
                status: 500,
                attempts: Attempts(3),
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("3 attempts"), "{message}");
    assert!(message.contains("500 Internal Server Error"), "{message}");
    assert!(message.contains(server.url("/down").as_str()), "{message}");
    assert!(err.is_retryable());
    assert_eq!(server.hits("/down"), 3);
}

#[tokio::test]
async fn rate_limiting_is_retried_and_reported() {
    let server = TestServer::start().await;
    server.route("/limited", Response::status(429).retry_after(0));
    let err = client(ClientSettings {
        retries: 1,
        ..fast_settings()
    })
    .get(&server.url("/limited"), None)
    .await
    .unwrap_err();
    assert!(
        matches!(err, DownloadError::ServerError { status: 429, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("2 attempts"), "{err}");
    assert_eq!(server.hits("/limited"), 2);
}

#[tokio::test]
async fn zero_retries_means_one_attempt() {
    let server = TestServer::start().await;
    server.route("/down", Response::status(503));
    let err = client(ClientSettings {
        retries: 0,
        ..fast_settings()
    })
    .get(&server.url("/down"), None)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("1 attempt)"), "{err}");
    assert_eq!(server.hits("/down"), 1);
}

#[tokio::test]
async fn a_connection_closed_mid_body_is_a_retryable_body_error() {
    let server = TestServer::start().await;
    server.route(
        "/cut.whl",
        Response::ok(vec![7u8; 100_000])
            .close_after(5_000)
            .chunk_size(1_000),
    );
    let url = server.url("/cut.whl");
    let err = body_read_error(&client(fast_settings()), &url).await;

    let inner = DownloadError::from_io_error(&err).expect("a download error inside");
    let DownloadError::Body {
        received, reason, ..
    } = inner
    else {
        panic!("expected a body error, got {inner:?}");
    };
    assert!(*received <= 5_000, "received {received}");
    assert!(matches!(reason, BodyFailure::Transport(_)), "{reason:?}");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    assert!(inner.is_retryable());
    let message = err.to_string();
    assert!(message.contains(url.as_str()), "{message}");
    assert!(message.contains("broke off"), "{message}");
    // Not retried here: the caller may already have consumed bytes.
    assert_eq!(server.hits("/cut.whl"), 1);
}

#[tokio::test]
async fn a_stalled_body_hits_the_read_timeout() {
    let server = TestServer::start().await;
    server.route(
        "/slow.whl",
        Response::ok(vec![1u8; 100_000]).stall_after(1_000),
    );
    let http = client(ClientSettings {
        read_timeout: Duration::from_millis(300),
        ..fast_settings()
    });
    let err = body_read_error(&http, &server.url("/slow.whl")).await;

    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    let inner = DownloadError::from_io_error(&err).unwrap();
    assert!(
        matches!(
            inner,
            DownloadError::Body {
                reason: BodyFailure::Stalled(_),
                ..
            }
        ),
        "{inner:?}"
    );
    assert!(inner.is_retryable());
    assert!(err.to_string().contains("stalled"), "{err}");
}

#[tokio::test]
async fn a_reader_that_failed_keeps_failing() {
    let server = TestServer::start().await;
    server.route(
        "/cut",
        Response::ok(vec![0u8; 50_000])
            .close_after(10)
            .chunk_size(10),
    );
    let Fetched::Body(download) = client(fast_settings())
        .get(&server.url("/cut"), None)
        .await
        .unwrap()
    else {
        panic!("expected a body");
    };
    let mut reader = download.into_async_read();
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.unwrap_err();
    let again = reader.read_to_end(&mut bytes).await.unwrap_err();
    assert!(
        matches!(
            DownloadError::from_io_error(&again),
            Some(DownloadError::Body {
                reason: BodyFailure::AlreadyFailed,
                ..
            })
        ),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_after_every_attempt() {
    let server = TestServer::start().await;
    server.route("/silent", Response::no_response());
    let http = client(ClientSettings {
        read_timeout: Duration::from_millis(200),
        retries: 1,
        ..fast_settings()
    });
    let err = http.get(&server.url("/silent"), None).await.unwrap_err();
    assert!(
        matches!(
            err,
            DownloadError::Timeout {
                attempts: Attempts(2),
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("no response"), "{message}");
    assert!(message.contains("2 attempts"), "{message}");
    assert!(err.is_retryable());
    assert_eq!(server.hits("/silent"), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let url = refused_url("/a.whl").await;
    let err = client(ClientSettings {
        retries: 2,
        ..fast_settings()
    })
    .get(&url, None)
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            DownloadError::Connect {
                attempts: Attempts(3),
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("cannot connect to"), "{message}");
    assert!(message.contains(url.as_str()), "{message}");
    assert!(err.is_connect() && !err.is_timeout());
    // The cause is the error's source, from deep in the transport's chain rather than just
    // reqwest's "error sending request", and the message does not repeat it.
    let cause = std::error::Error::source(&err).expect("a cause");
    assert!(
        cause.to_string().to_lowercase().contains("refused"),
        "{cause}"
    );
    assert!(!message.to_lowercase().contains("refused"), "{message}");
    // A report that walks the chain prints it once: the cause has no source of its own.
    assert!(cause.source().is_none(), "{cause:?}");
    assert!(err.is_retryable());
}

fn assert_redacted(err: &dyn std::fmt::Debug, message: &str) {
    let debug = format!("{err:?}");
    for text in [message, debug.as_str()] {
        assert!(!text.contains("s3cret"), "password leaked: {text}");
        assert!(!text.contains("alice"), "user name leaked: {text}");
    }
    assert!(message.contains("****"), "{message}");
}

#[tokio::test]
async fn credentials_are_sent_but_never_shown() {
    let server = TestServer::start().await;
    server.route("/private.whl", Response::status(401));
    server.route("/cut.whl", Response::ok(vec![0u8; 10_000]).close_after(100));
    let http = client(ClientSettings {
        retries: 0,
        ..fast_settings()
    });

    let url = server.url_with_credentials("alice", "s3cret", "/private.whl");
    let err = http.get(&url, None).await.unwrap_err();
    assert_redacted(&err, &err.to_string());
    assert!(err.to_string().contains("/private.whl"), "{err}");
    // base64("alice:s3cret")
    assert_eq!(
        server.requests("/private.whl")[0].header("authorization"),
        Some("Basic YWxpY2U6czNjcmV0")
    );

    let cut = server.url_with_credentials("alice", "s3cret", "/cut.whl");
    let err = body_read_error(&http, &cut).await;
    assert_redacted(&err, &err.to_string());

    let mut refused = refused_url("/a.whl").await;
    refused.set_username("alice").unwrap();
    refused.set_password(Some("s3cret")).unwrap();
    let err = http.get(&refused, None).await.unwrap_err();
    assert_redacted(&err, &err.to_string());

    let offline = client(ClientSettings {
        offline: true,
        ..fast_settings()
    });
    let err = offline.get(&url, None).await.unwrap_err();
    assert_redacted(&err, &err.to_string());
}
