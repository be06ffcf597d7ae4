//! Fetching wheels over HTTP into the store, against a real server on 127.0.0.1: streaming,
//! freshness, revalidation, the published-hash index, failures, fallbacks, offline mode and
//! processes racing for one URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::http_server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_cache::Cache;
use cairn_distribution::{FetchError, FetchOutcome, StoreSettings, WheelSource, WheelStore};
use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm, HasherSet};
use cairn_http::{ClientSettings, HttpClient};
use cairn_test_support::child;
use cairn_test_support::wheel::WheelBuilder;
use http_server::{Response, TestServer};

const WHEEL: &str = "demo-1.0-py3-none-any.whl";

fn settings(offline: bool) -> StoreSettings {
    StoreSettings {
        http: ClientSettings {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(10),
            offline,
            ..ClientSettings::default()
        },
        ..StoreSettings::default()
    }
}

fn store(root: &Path, offline: bool) -> WheelStore {
    WheelStore::new(Cache::at(root).unwrap(), settings(offline))
}

fn wheel_bytes() -> Vec<u8> {
    let mut builder = WheelBuilder::new("demo", "1.0");
    for index in 0..50 {
        builder = builder.file(
            &format!("demo/m{index}.py"),
            format!("VALUE = {index}\n").repeat(200),
        );
    }
    builder.to_bytes()
}

fn sha256(bytes: &[u8]) -> Digest {
    let mut hasher = HasherSet::new(&[HashAlgorithm::Sha256]);
    hasher.update(bytes);
    *hasher.finalize().get(HashAlgorithm::Sha256).unwrap()
}

fn pinned(digest: Digest) -> ExpectedHashes {
    [digest].into_iter().collect()
}

async fn fetch(
    store: &WheelStore,
    url: &url::Url,
    expected: &ExpectedHashes,
) -> Result<cairn_distribution::FetchedWheel, FetchError> {
    store.fetch(&WheelSource::Url(url.clone()), expected).await
}

fn archive_count(root: &Path) -> usize {
    let Ok(shards) = std::fs::read_dir(root.join("archive-v0")) else {
        return 0;
    };
    // Archives are directories; their manifests sit beside them as files.
    shards
        .map(|shard| {
            std::fs::read_dir(shard.unwrap().path())
                .unwrap()
                .filter(|entry| entry.as_ref().unwrap().path().is_dir())
                .count()
        })
        .sum()
}

fn leftovers(root: &Path) -> usize {
    std::fs::read_dir(root)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .count()
}

#[tokio::test]
async fn streams_then_answers_from_the_pointer_while_fresh() {
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    server.route(
        &path,
        Response::ok(wheel_bytes()).cache_control("max-age=3600"),
    );
    let root = tempfile::tempdir().unwrap();
    let store = store(root.path(), false);
    let url = server.url(&path);

    let first = fetch(&store, &url, &ExpectedHashes::default())
        .await
        .unwrap();
    assert_eq!(first.outcome, FetchOutcome::Unpacked);
    assert_eq!(first.size, wheel_bytes().len() as u64);
    assert!(first.archive.path().join("demo").join("m7.py").is_file());
    assert!(
        first
            .hashes
            .iter()
            .all(|d| d.algorithm() != HashAlgorithm::Sha256),
        "a download with no pin computes BLAKE3 only, like a local file"
    );

    let second = fetch(&store, &url, &ExpectedHashes::default())
        .await
        .unwrap();
    assert_eq!(second.outcome, FetchOutcome::PointerHit);
    assert_eq!(second.archive, first.archive);
    assert_eq!(
        server.hits(&path),
        1,
        "a fresh response is not requested again"
    );
}

#[tokio::test]
async fn a_stale_pointer_is_revalidated_with_a_304() {
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    server.route(
        &path,
        Response::ok(wheel_bytes())
            .etag("\"v1\"")
            .cache_control("no-cache"),
    );
    let root = tempfile::tempdir().unwrap();
    let store = store(root.path(), false);
    let url = server.url(&path);
    fetch(&store, &url, &ExpectedHashes::default())
        .await
        .unwrap();
    let again = fetch(&store, &url, &ExpectedHashes::default())
        .await
        .unwrap();
    assert_eq!(again.outcome, FetchOutcome::PointerHit);
    let requests = server.requests(&path);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(archive_count(root.path()), 1);
}

#[tokio::test]
async fn a_pinned_hash_finds_content_from_any_url_without_network() {
    let server = TestServer::start().await;
    let bytes = wheel_bytes();
    server.route(&format!("/a/{WHEEL}"), Response::ok(bytes.clone()));
    server.route(&format!("/b/{WHEEL}"), Response::ok(bytes.clone()));
    let root = tempfile::tempdir().unwrap();
    let store = store(root.path(), false);
    let expected = pinned(sha256(&bytes));
    let first = fetch(&store, &server.url(&format!("/a/{WHEEL}")), &expected)
        .await
        .unwrap();
    assert_eq!(first.outcome, FetchOutcome::Unpacked);
    let other = fetch(&store, &server.url(&format!("/b/{WHEEL}")), &expected)
        .await
        .unwrap();
    assert_eq!(other.outcome, FetchOutcome::ContentHit);
    assert_eq!(other.archive, first.archive);
    assert_eq!(server.hits(&format!("/b/{WHEEL}")), 0);
    // The same pin also works offline.
    let offline = store_offline(root.path());
    let third = fetch(&offline, &server.url(&format!("/c/{WHEEL}")), &expected)
        .await
        .unwrap();
    assert_eq!(third.archive, first.archive);
}

/// A URL first fetched without a pin has no SHA-256 on record: pinning it later costs one more
/// download to check the pin (not another unpack), after which the published-hash index answers
/// it.
#[tokio::test]
async fn pinning_a_url_fetched_without_a_pin_downloads_it_once_more() {
    let server = TestServer::start().await;
    let bytes = wheel_bytes();
    let path = format!("/files/{WHEEL}");
    server.route(&path, Response::ok(bytes.clone()));
    let root = tempfile::tempdir().unwrap();
    let store = store(root.path(), false);
    let url = server.url(&path);
    let first = fetch(&store, &url, &ExpectedHashes::default())
        .await
        .unwrap();
    let expected = pinned(sha256(&bytes));
    let pinned_fetch = fetch(&store, &url, &expected).await.unwrap();
    assert_eq!(
        server.hits(&path),
        2,
        "the pin is checked against the bytes"
    );
    assert_eq!(pinned_fetch.archive, first.archive);
    assert_eq!(archive_count(root.path()), 1);
    // The published-hash index, checked before the pointer, now answers the pin.
    let again = fetch(&store, &url, &expected).await.unwrap();
    assert_eq!(again.outcome, FetchOutcome::ContentHit);
    assert_eq!(server.hits(&path), 2);
}

fn store_offline(root: &Path) -> WheelStore {
    store(root, true)
}

#[tokio::test]
async fn a_hash_mismatch_publishes_nothing() {
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    server.route(&path, Response::ok(wheel_bytes()));
    let root = tempfile::tempdir().unwrap();
    let store = store(root.path(), false);
    let wrong: Digest = format!("sha256:{}", "0".repeat(64)).parse().unwrap();
    let error = fetch(&store, &server.url(&path), &pinned(wrong))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::HashMismatch(_)), "{error}");
    assert!(error.to_string().contains(WHEEL), "{error}");
    assert_eq!(archive_count(root.path()), 0);
    assert_eq!(leftovers(root.path()), 0);
    assert!(!root.path().join("wheels-v0").exists());
}

#[tokio::test]
async fn not_found_is_an_error_naming_the_url() {
    let server = TestServer::start().await;
    let root = tempfile::tempdir().unwrap();
    let store = store(root.path(), false);
    let url = server.url(&format!("/missing/{WHEEL}"));
    let error = fetch(&store, &url, &ExpectedHashes::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("/missing/"), "{error}");
    assert!(error.to_string().contains("404"), "{error}");
    assert_eq!(archive_count(root.path()), 0);
}

#[tokio::test]
async fn server_errors_then_success_is_retried() {
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    server.route_script(
        &path,
        [
            Response::status(500),
            Response::status(503),
            Response::ok(wheel_bytes()),
        ],
    );
    let root = tempfile::tempdir().unwrap();
    let fetched = fetch(
        &store(root.path(), false),
        &server.url(&path),
        &ExpectedHashes::default(),
    )
    .await
    .unwrap();
    assert_eq!(fetched.outcome, FetchOutcome::Unpacked);
    assert_eq!(server.hits(&path), 3);
}

#[tokio::test]
async fn a_body_cut_off_midway_restarts_the_fetch() {
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    let bytes = wheel_bytes();
    server.route_script(
        &path,
        [
            Response::ok(bytes.clone()).close_after(bytes.len() as u64 / 2),
            Response::ok(bytes),
        ],
    );
    let root = tempfile::tempdir().unwrap();
    let fetched = fetch(
        &store(root.path(), false),
        &server.url(&path),
        &ExpectedHashes::default(),
    )
    .await
    .unwrap();
    assert_eq!(fetched.outcome, FetchOutcome::Unpacked);
    assert_eq!(server.hits(&path), 2);
    assert_eq!(
        leftovers(root.path()),
        0,
        "the broken attempt's partial unpack was removed"
    );
}

#[tokio::test]
async fn a_body_that_always_breaks_fails_cleanly() {
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    let bytes = wheel_bytes();
    server.route(&path, Response::ok(bytes.clone()).close_after(100));
    let root = tempfile::tempdir().unwrap();
    let error = fetch(
        &store(root.path(), false),
        &server.url(&path),
        &ExpectedHashes::default(),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains(WHEEL), "{error}");
    assert_eq!(archive_count(root.path()), 0);
    assert_eq!(leftovers(root.path()), 0);
}

#[tokio::test]
async fn archives_that_cannot_stream_fall_back_to_a_file() {
    // A stored entry with a data descriptor has no size up front: only the central directory
    // says where it ends.
    let bytes = cairn_test_support::zipgen::ZipBuilder::new()
        .entry(
            cairn_test_support::zipgen::Entry::stored("demo/data.bin", vec![7u8; 10_000])
                .descriptor(true),
        )
        .file("demo-1.0.dist-info/METADATA", "Name: demo\n")
        .build();
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    server.route(&path, Response::ok(bytes));
    let root = tempfile::tempdir().unwrap();
    let wheels = store(root.path(), false);
    let fetched = fetch(&wheels, &server.url(&path), &ExpectedHashes::default())
        .await
        .unwrap();
    assert_eq!(fetched.outcome, FetchOutcome::Unpacked);
    assert_eq!(
        std::fs::read(fetched.archive.path().join("demo").join("data.bin")).unwrap(),
        vec![7u8; 10_000]
    );
    // The fallback records the archive's manifest too.
    let report = cairn_cache::maintenance::verify(wheels.cache()).unwrap();
    assert_eq!((report.archives, report.files), (1, 2), "{report:?}");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        server.hits(&path),
        2,
        "one streaming attempt, one download to a file"
    );
    assert_eq!(leftovers(root.path()), 0);
}

#[tokio::test]
async fn offline_uses_only_the_cache_and_says_what_is_missing() {
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    server.route(
        &path,
        Response::ok(wheel_bytes())
            .cache_control("no-cache")
            .etag("\"x\""),
    );
    let root = tempfile::tempdir().unwrap();
    let url = server.url(&path);
    let error = fetch(
        &store_offline(root.path()),
        &url,
        &ExpectedHashes::default(),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("offline"), "{error}");
    fetch(&store(root.path(), false), &url, &ExpectedHashes::default())
        .await
        .unwrap();
    let hit = fetch(
        &store_offline(root.path()),
        &url,
        &ExpectedHashes::default(),
    )
    .await
    .unwrap();
    assert_eq!(hit.outcome, FetchOutcome::PointerHit);
    assert_eq!(server.hits(&path), 1);
}

#[tokio::test]
async fn a_client_given_to_the_store_is_the_one_it_downloads_with() {
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    server.route(&path, Response::ok(wheel_bytes()));
    let root = tempfile::tempdir().unwrap();
    // An online store handed an offline client: it must not reach the server.
    let offline_client = HttpClient::new(settings(true).http).unwrap();
    let store = store(root.path(), false).with_http_client(offline_client);
    let error = fetch(&store, &server.url(&path), &ExpectedHashes::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("offline"), "{error}");
    assert_eq!(server.hits(&path), 0);
}

#[test]
#[ignore = "child-process entry point, run by other tests"]
fn child_entry() {
    let Some(role) = child::child_role() else {
        return;
    };
    assert_eq!(role, "fetch-url");
    let args = child::child_args();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = store(Path::new(&args[0]), false);
    let url: url::Url = args[1].parse().unwrap();
    println!("ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let fetched = runtime
        .block_on(fetch(&store, &url, &ExpectedHashes::default()))
        .unwrap();
    println!("outcome={:?}", fetched.outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_processes_fetching_one_url_download_and_unpack_once() {
    const PROCESSES: usize = 6;
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    // Slow enough that every process asks while the first is still downloading.
    server.route(
        &path,
        Response::ok(wheel_bytes())
            .cache_control("max-age=3600")
            .chunk_size(4096)
            .chunk_delay(Duration::from_millis(2)),
    );
    let root = tempfile::tempdir().unwrap();
    let root_path: PathBuf = root.path().to_owned();
    let url = server.url(&path).to_string();
    let outputs = tokio::task::spawn_blocking(move || {
        let args = [root_path.to_str().unwrap(), url.as_str()];
        let mut children: Vec<_> = (0..PROCESSES)
            .map(|_| child::spawn_child("child_entry", "fetch-url", &args))
            .collect();
        for process in &mut children {
            child::wait_for_line(process, "ready");
        }
        for process in &mut children {
            process.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
        }
        children.into_iter().map(child::finish).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let unpacked = outputs
        .iter()
        .filter(|out| out.contains("outcome=Unpacked"))
        .count();
    assert_eq!(unpacked, 1, "{outputs:#?}");
    assert_eq!(server.hits(&path), 1, "one download for all processes");
    assert_eq!(archive_count(root.path()), 1);
    assert_eq!(leftovers(root.path()), 0);
}

#[tokio::test]
async fn the_index_never_vouches_for_an_algorithm_it_did_not_check() {
    let server = TestServer::start().await;
    let bytes = wheel_bytes();
    server.route(&format!("/a/{WHEEL}"), Response::ok(bytes.clone()));
    server.route(&format!("/b/{WHEEL}"), Response::ok(bytes.clone()));
    let root = tempfile::tempdir().unwrap();
    let store = store(root.path(), false);
    let right = sha256(&bytes);
    fetch(&store, &server.url(&format!("/a/{WHEEL}")), &pinned(right))
        .await
        .unwrap();
    // A correct SHA-256 pin plus a wrong SHA-512 pin: the index knows only the SHA-256, so the
    // wheel is downloaded and the SHA-512 checked, which fails.
    let wrong: Digest = format!("sha512:{}", "0".repeat(128)).parse().unwrap();
    let expected: ExpectedHashes = [right, wrong].into_iter().collect();
    let error = fetch(&store, &server.url(&format!("/b/{WHEEL}")), &expected)
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::HashMismatch(ref m) if m.algorithm == HashAlgorithm::Sha512),
        "{error}"
    );
    assert_eq!(server.hits(&format!("/b/{WHEEL}")), 1);
}

#[tokio::test]
async fn a_changed_upstream_file_is_downloaded_once_on_revalidation() {
    let server = TestServer::start().await;
    let path = format!("/files/{WHEEL}");
    let newer = WheelBuilder::new("demo", "1.0")
        .file("demo/__init__.py", "NEW = 1\n")
        .to_bytes();
    server.route_script(
        &path,
        [
            Response::ok(wheel_bytes())
                .etag("\"v1\"")
                .cache_control("no-cache"),
            Response::ok(newer).etag("\"v2\"").cache_control("no-cache"),
        ],
    );
    let root = tempfile::tempdir().unwrap();
    let store = store(root.path(), false);
    let url = server.url(&path);
    let first = fetch(&store, &url, &ExpectedHashes::default())
        .await
        .unwrap();
    let second = fetch(&store, &url, &ExpectedHashes::default())
        .await
        .unwrap();
    assert_eq!(second.outcome, FetchOutcome::Unpacked);
    assert_ne!(second.archive, first.archive);
    assert!(
        second
            .archive
            .path()
            .join("demo")
            .join("__init__.py")
            .is_file()
    );
    assert_eq!(
        server.hits(&path),
        2,
        "the revalidation's new body is used, not requested again"
    );
}

#[test]
fn fetch_blocking_downloads_without_a_runtime_of_the_callers_and_refuses_inside_one() {
    // The server runs on its own runtime's threads; the test thread has no runtime.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = server_runtime.block_on(TestServer::start());
    server.route(
        "/demo-1.0-py3-none-any.whl",
        Response::ok(wheel_bytes()).cache_control("max-age=3600"),
    );
    let work = tempfile::tempdir().unwrap();
    let store = store(work.path(), false);
    let source = WheelSource::Url(server.url("/demo-1.0-py3-none-any.whl"));
    let none = ExpectedHashes::default();

    let fetched = store.fetch_blocking(&source, &none).unwrap();
    assert_eq!(fetched.outcome, FetchOutcome::Unpacked);
    assert_eq!(
        store.fetch_blocking(&source, &none).unwrap().outcome,
        FetchOutcome::PointerHit
    );

    let error = server_runtime
        .block_on(async { store.fetch_blocking(&source, &none) })
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Task { message, .. } if message.contains("await fetch()")),
        "{error:?}"
    );
}
