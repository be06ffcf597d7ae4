//! Project pages served by a real HTTP server: PEP 691 JSON and PEP 503 HTML, with relative
//! and absolute links, digests, yanked files and Requires-Python.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cairn_cache::Cache;
use cairn_hash::Digest;
use cairn_http::{ClientSettings, HttpClient};
use cairn_index::{IndexClient, IndexError, IndexFile};
use cairn_test_support::http_server::{Response, TestServer};

const SHA_A: &str = "3741efca34206284bca4fbd2efc35473654d02a2d278aebcb3938753ba18ad5b";
const SHA_B: &str = "95a99cf2d58345297b3e56d99fdb6d8f18d3b04cde686e77eb34750a57560281";

fn http() -> HttpClient {
    HttpClient::new(ClientSettings {
        retries: 0,
        read_timeout: Duration::from_secs(10),
        ..ClientSettings::default()
    })
    .unwrap()
}

fn index(server: &TestServer) -> IndexClient {
    IndexClient::new(http(), Cache::temporary().unwrap(), server.url("/simple/"))
}

fn sha256(hex: &str) -> Digest {
    format!("sha256:{hex}").parse().unwrap()
}

fn by_name<'a>(files: &'a [IndexFile], name: &str) -> &'a IndexFile {
    files
        .iter()
        .find(|file| file.filename == name)
        .unwrap_or_else(|| panic!("{name} not listed in {files:#?}"))
}

const HTML_PAGE: &str = r#"<!DOCTYPE html>
<html><head><title>Links for demo</title></head>
<body>
<h1>Links for demo</h1>
<!-- <a href="/commented-out/demo-0.1-py3-none-any.whl">demo-0.1-py3-none-any.whl</a> -->
<a href="../../packages/demo-1.0-py3-none-any.whl#sha256=3741efca34206284bca4fbd2efc35473654d02a2d278aebcb3938753ba18ad5b" data-requires-python="&gt;=3.8">demo-1.0-py3-none-any.whl</a><br/>
<A HREF='https://files.example.org/demo-1.0.tar.gz#md5=0123' data-yanked="">demo-1.0.tar.gz</A><br/>
<a data-yanked="broken &amp; insecure" href=/packages/demo-1.1-cp311-cp311-manylinux_2_17_x86_64.whl#sha256=95a99cf2d58345297b3e56d99fdb6d8f18d3b04cde686e77eb34750a57560281>x</a>
<a href="demo%2B2.0-1.0-py3-none-any.whl">percent</a>
<a name="anchor-without-href">nothing</a>
</body></html>
"#;

#[tokio::test]
async fn html_page_links_resolve_and_carry_their_metadata() {
    let server = TestServer::start().await;
    server.route(
        "/simple/demo/",
        Response::ok(HTML_PAGE).header("Content-Type", "text/html"),
    );
    let files = index(&server).files("Demo").await.unwrap();
    assert_eq!(files.len(), 4, "{files:#?}");

    let wheel = by_name(&files, "demo-1.0-py3-none-any.whl");
    assert_eq!(wheel.url, server.url("/packages/demo-1.0-py3-none-any.whl"));
    assert_eq!(wheel.hashes, [sha256(SHA_A)]);
    assert_eq!(wheel.requires_python.as_deref(), Some(">=3.8"));
    assert_eq!(wheel.yanked, None);
    assert_eq!(wheel.size, None);

    let sdist = by_name(&files, "demo-1.0.tar.gz");
    assert_eq!(
        sdist.url.as_str(),
        "https://files.example.org/demo-1.0.tar.gz"
    );
    assert!(sdist.hashes.is_empty(), "md5 is not a digest cairn checks");
    assert_eq!(sdist.yanked.as_deref(), Some(""));

    let yanked = by_name(&files, "demo-1.1-cp311-cp311-manylinux_2_17_x86_64.whl");
    assert_eq!(yanked.yanked.as_deref(), Some("broken & insecure"));
    assert_eq!(yanked.hashes, [sha256(SHA_B)]);
    assert_eq!(
        yanked.url,
        server.url("/packages/demo-1.1-cp311-cp311-manylinux_2_17_x86_64.whl")
    );

    let decoded = by_name(&files, "demo+2.0-1.0-py3-none-any.whl");
    assert_eq!(
        decoded.url,
        server.url("/simple/demo/demo%2B2.0-1.0-py3-none-any.whl")
    );
}

#[tokio::test]
async fn a_base_tag_moves_relative_links() {
    let server = TestServer::start().await;
    server.route(
        "/simple/demo/",
        Response::ok(
            r#"<html><head><base href="/mirror/files/"></head><body>
            <a href="demo-1.0-py3-none-any.whl">demo-1.0-py3-none-any.whl</a></body></html>"#,
        ),
    );
    let files = index(&server).files("demo").await.unwrap();
    assert_eq!(
        files[0].url,
        server.url("/mirror/files/demo-1.0-py3-none-any.whl")
    );
}

#[tokio::test]
async fn json_page_is_asked_for_and_read() {
    let server = TestServer::start().await;
    let page = format!(
        r#"{{
          "meta": {{"api-version": "1.1"}},
          "name": "demo",
          "versions": ["1.0", "1.1"],
          "files": [
            {{"filename": "demo-1.0-py3-none-any.whl",
              "url": "../../packages/demo-1.0-py3-none-any.whl",
              "hashes": {{"sha256": "{SHA_A}", "md5": "0123"}},
              "requires-python": ">=3.8", "size": 8562, "yanked": false,
              "upload-time": "2021-05-27T22:30:12.767785Z"}},
            {{"filename": "demo-1.1.tar.gz",
              "url": "https://files.example.org/demo-1.1.tar.gz",
              "hashes": {{}}, "requires-python": null, "yanked": true}},
            {{"filename": "demo-1.1-py3-none-any.whl",
              "url": "/packages/demo-1.1-py3-none-any.whl#sha256={SHA_B}",
              "hashes": {{"sha256": "{SHA_B}"}}, "yanked": "bad metadata",
              "core-metadata": {{"sha256": "{SHA_A}"}}}}
          ]
        }}"#
    );
    server.route(
        "/simple/demo/",
        Response::ok(page).header("Content-Type", "application/vnd.pypi.simple.v1+json"),
    );
    let files = index(&server).files("DEMO").await.unwrap();
    let accept = server.requests("/simple/demo/")[0]
        .header("accept")
        .unwrap()
        .to_owned();
    assert!(
        accept.starts_with("application/vnd.pypi.simple.v1+json"),
        "{accept}"
    );
    assert!(
        accept.contains("text/html"),
        "HTML is accepted as a fallback: {accept}"
    );

    assert_eq!(files.len(), 3);
    let first = by_name(&files, "demo-1.0-py3-none-any.whl");
    assert_eq!(first.url, server.url("/packages/demo-1.0-py3-none-any.whl"));
    assert_eq!(first.hashes, [sha256(SHA_A)]);
    assert_eq!(first.size, Some(8562));
    assert_eq!(first.requires_python.as_deref(), Some(">=3.8"));
    assert_eq!(first.yanked, None);
    assert_eq!(
        by_name(&files, "demo-1.1.tar.gz").yanked.as_deref(),
        Some("")
    );
    let last = by_name(&files, "demo-1.1-py3-none-any.whl");
    assert_eq!(last.yanked.as_deref(), Some("bad metadata"));
    assert_eq!(
        last.hashes,
        [sha256(SHA_B)],
        "the same digest twice is listed once"
    );
    assert_eq!(last.url, server.url("/packages/demo-1.1-py3-none-any.whl"));
}

#[tokio::test]
async fn names_are_normalised_in_the_url() {
    let server = TestServer::start().await;
    server.route("/simple/typing-extensions/", Response::ok("<html></html>"));
    let client = index(&server);
    assert!(client.files("Typing_Extensions").await.unwrap().is_empty());
    assert!(client.files("typing.extensions").await.unwrap().is_empty());
    assert_eq!(server.hits("/simple/typing-extensions/"), 2);
}

#[tokio::test]
async fn an_index_url_without_a_trailing_slash_still_works() {
    let server = TestServer::start().await;
    server.route("/simple/demo/", Response::ok("<html></html>"));
    let client = IndexClient::new(http(), Cache::temporary().unwrap(), server.url("/simple"));
    assert_eq!(client.index_url().as_str(), server.url("/simple/").as_str());
    client.files("demo").await.unwrap();
    assert_eq!(server.hits("/simple/demo/"), 1);
}

#[tokio::test]
async fn bad_names_and_pages_are_refused_clearly() {
    let server = TestServer::start().await;
    let client = index(&server);
    for name in ["", "../etc", "demo/", "-demo", "dé"] {
        let error = client.files(name).await.unwrap_err();
        assert!(
            matches!(error, IndexError::InvalidName { .. }),
            "{name}: {error:?}"
        );
    }
    assert_eq!(server.total_hits(), 0);

    server.route(
        "/simple/future/",
        Response::ok(r#"{"meta": {"api-version": "2.0"}, "files": []}"#),
    );
    let error = client.files("future").await.unwrap_err();
    assert!(matches!(error, IndexError::BadPage { .. }), "{error:?}");
    assert!(error.to_string().contains("version 2.0"), "{error}");

    server.route("/simple/broken/", Response::ok(r#"{"meta": "#));
    let error = client.files("broken").await.unwrap_err();
    assert!(error.to_string().contains("broken"), "{error}");

    let error = client.files("missing").await.unwrap_err();
    assert!(
        matches!(error, IndexError::ProjectNotFound { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("`missing`") && message.contains("/simple/"),
        "{message}"
    );
}
