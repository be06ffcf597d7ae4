//! A caller's own reqwest client, cairn's default one, and the runtime they need, against a
//! real HTTP server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::http_server;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use cairn_http::{ClientSettings, DownloadError, Fetched, HttpClient};
use http_server::{Response, TestServer};
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::io::AsyncReadExt;

fn fast_settings() -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        retries: 0,
        ..ClientSettings::default()
    }
}

fn marked_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-cairn-test", HeaderValue::from_static("from-the-caller"));
    headers
}

async fn read_body(http: &HttpClient, url: &url::Url) -> Vec<u8> {
    let Fetched::Body(download) = http.get(url, None).await.unwrap() else {
        panic!("expected a body");
    };
    let mut bytes = Vec::new();
    download
        .into_async_read()
        .read_to_end(&mut bytes)
        .await
        .unwrap();
    bytes
}

#[tokio::test]
async fn requests_go_through_the_callers_client() {
    let server = TestServer::start().await;
    server.route("/a.whl", Response::ok(b"wheel".to_vec()));
    // reqwest comes without a default crypto provider: a caller building from scratch brings
    // its own TLS configuration (or installs a process-wide provider, which this binary must
    // not, see below).
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let reqwest_client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .default_headers(marked_headers())
        .user_agent("caller-agent/1.0")
        .build()
        .unwrap();
    let http = HttpClient::from_reqwest(reqwest_client, fast_settings());

    assert_eq!(read_body(&http, &server.url("/a.whl")).await, b"wheel");
    // Clones share the caller's client too.
    assert_eq!(
        read_body(&http.clone(), &server.url("/a.whl")).await,
        b"wheel"
    );

    let requests = server.requests("/a.whl");
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.header("x-cairn-test"), Some("from-the-caller"));
        assert_eq!(request.header("user-agent"), Some("caller-agent/1.0"));
    }
}

#[tokio::test]
async fn cairns_builder_keeps_its_settings_under_the_callers_additions() {
    let server = TestServer::start().await;
    server.route("/a.whl", Response::ok(b"wheel".to_vec()));
    let settings = ClientSettings {
        user_agent: "cairn-under-test".to_owned(),
        ..fast_settings()
    };
    let reqwest_client = HttpClient::client_builder(&settings)
        .unwrap()
        .default_headers(marked_headers())
        .build()
        .unwrap();
    let http = HttpClient::from_reqwest(reqwest_client, settings);

    assert_eq!(read_body(&http, &server.url("/a.whl")).await, b"wheel");
    let request = &server.requests("/a.whl")[0];
    assert_eq!(request.header("x-cairn-test"), Some("from-the-caller"));
    assert_eq!(request.header("user-agent"), Some("cairn-under-test"));
}

#[tokio::test]
async fn the_default_client_installs_no_process_wide_crypto_provider() {
    let server = TestServer::start().await;
    server.route("/a.whl", Response::ok(b"wheel".to_vec()));
    let http = HttpClient::new(fast_settings()).unwrap();

    assert_eq!(read_body(&http, &server.url("/a.whl")).await, b"wheel");
    assert_eq!(
        server.requests("/a.whl")[0].header("user-agent"),
        Some(fast_settings().user_agent.as_str())
    );
    // No test in this binary installs one, so none may be there.
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}

#[test]
fn extra_roots_that_are_not_certificates_are_refused() {
    let err =
        HttpClient::client_builder_with_roots(&fast_settings(), [b"not a certificate".to_vec()])
            .unwrap_err();
    assert!(matches!(err, DownloadError::ClientBuild { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some(), "{err:?}");
}

#[test]
fn outside_a_tokio_runtime_get_fails_instead_of_panicking() {
    let http = HttpClient::new(fast_settings()).unwrap();
    // Nothing listens there, and nothing connects: the runtime check comes first.
    let url = url::Url::parse("http://127.0.0.1:9/a.whl").unwrap();
    let mut get = pin!(http.get(&url, None));
    let Poll::Ready(result) = get.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("expected an answer without waiting");
    };
    let err = result.unwrap_err();
    assert!(matches!(err, DownloadError::NoRuntime { .. }), "{err:?}");
    assert!(err.to_string().contains("Tokio runtime"), "{err}");
}
