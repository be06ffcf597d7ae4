//! Index pages are read up to a cap, against a real server on 127.0.0.1: a larger page is
//! refused with an error naming the cap, and nothing is cached.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_cache::Cache;
use cairn_http::{ClientSettings, HttpClient};
use cairn_index::{IndexClient, IndexError};
use cairn_test_support::http_server::{Response, TestServer};

fn index(server: &TestServer, cache: Cache) -> IndexClient {
    let http = HttpClient::new(ClientSettings {
        retries: 0,
        read_timeout: Duration::from_secs(10),
        ..ClientSettings::default()
    })
    .unwrap();
    IndexClient::new(http, cache, server.url("/simple/"))
}

#[tokio::test]
async fn a_page_larger_than_the_cap_is_refused_naming_the_cap() {
    let server = TestServer::start().await;
    let link = "<a href=\"/f/demo-1.0-py3-none-any.whl\">demo-1.0-py3-none-any.whl</a>\n";
    let page = format!("<html><body>\n{}</body></html>\n", link.repeat(40_000));
    assert!(page.len() > 2 << 20);
    server.route(
        "/simple/demo/",
        Response::ok(page).header("Content-Type", "text/html"),
    );
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(cache_dir.path()).unwrap();
    let error = index(&server, cache.clone())
        .with_max_page_bytes(2 << 20)
        .files("demo")
        .await
        .unwrap_err();
    assert!(matches!(error, IndexError::BadPage { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("larger than 2 MiB"), "{message}");
    assert!(message.contains("/simple/demo/"), "{message}");
    assert_eq!(
        walk(&cache.bucket(cairn_cache::CacheBucket::Simple)),
        Vec::<PathBuf>::new()
    );

    // Under the default cap the same page is read.
    let files = index(&server, cache).files("demo").await.unwrap();
    assert_eq!(files.len(), 40_000);
}

/// Every file under `dir` (none if it does not exist).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
