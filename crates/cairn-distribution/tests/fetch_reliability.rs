//! The store serves the bytes a request names, and spends one retry budget per request: path
//! pointers keyed by canonical path and checked against the file's identity, wheels whose
//! `.dist-info` contradicts their file name refused from every source, a server's HTML page
//! named as such, and requests counted on a real server on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use cairn_cache::Cache;
use cairn_distribution::{FetchError, FetchOutcome, StoreSettings, WheelSource, WheelStore};
use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm, HasherSet};
use cairn_http::ClientSettings;
use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::wheel::WheelBuilder;

fn store(root: &Path, http: ClientSettings) -> WheelStore {
    WheelStore::new(
        Cache::at(root).unwrap(),
        StoreSettings {
            http,
            ..StoreSettings::default()
        },
    )
}

fn fast_http(retries: u32) -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        retries,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..ClientSettings::default()
    }
}

fn local_store(root: &Path) -> WheelStore {
    store(root, fast_http(0))
}

/// Every file under the archive, pointer and hash-index buckets: what a refused fetch must not
/// add to.
fn published(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = ["archive-v0", "wheels-v0", "hashes-v1"]
        .iter()
        .map(|bucket| root.join(bucket))
        .collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The error and its sources, as the CLI prints them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn sha256(bytes: &[u8]) -> Digest {
    let mut hasher = HasherSet::new(&[HashAlgorithm::Sha256]);
    hasher.update(bytes);
    *hasher.finalize().get(HashAlgorithm::Sha256).unwrap()
}

/// Writes `bytes` at `path` with the modification time `mtime`.
fn write_with_mtime(path: &Path, bytes: &[u8], mtime: SystemTime) {
    std::fs::write(path, bytes).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(mtime).unwrap();
}

/// A demo wheel whose entries are stored, so that wheels differing in one byte of content have
/// the same size.
fn demo(value: u8) -> Vec<u8> {
    use cairn_test_support::zipgen::{Entry, ZipBuilder};
    ZipBuilder::new()
        .entry(Entry::stored(
            "demo/__init__.py",
            format!("VALUE = {value}\n"),
        ))
        .entry(Entry::stored(
            "demo-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        ))
        .build()
}

fn value_in(fetched: &cairn_distribution::FetchedWheel) -> String {
    std::fs::read_to_string(fetched.archive.path().join("demo/__init__.py")).unwrap()
}

#[test]
fn a_different_file_with_the_same_path_size_and_mtime_is_not_taken_for_the_cached_one() {
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (first, second) = (demo(1), demo(2));
    assert_eq!(first.len(), second.len(), "the test needs equal sizes");
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let wheel = work.path().join("demo-1.0-py3-none-any.whl");
    write_with_mtime(&wheel, &first, mtime);
    let wheels = local_store(cache.path());
    let fetched = wheels
        .fetch_path(&wheel, &ExpectedHashes::default())
        .unwrap();
    assert_eq!(value_in(&fetched), "VALUE = 1\n");
    assert_eq!(
        wheels
            .fetch_path(&wheel, &ExpectedHashes::default())
            .unwrap()
            .outcome,
        FetchOutcome::PointerHit
    );

    // Another file (another inode) renamed over it, with the same size and mtime.
    let staged = work.path().join("staged");
    write_with_mtime(&staged, &second, mtime);
    std::fs::rename(&staged, &wheel).unwrap();
    let fetched = wheels
        .fetch_path(&wheel, &ExpectedHashes::default())
        .unwrap();
    assert_eq!(fetched.outcome, FetchOutcome::Unpacked);
    assert_eq!(value_in(&fetched), "VALUE = 2\n");
}

#[cfg(unix)]
#[test]
fn path_pointers_are_keyed_by_the_canonical_path() {
    // `fl` resolving to two directories in turn stands for one relative path run from two
    // working directories: each must get its own bytes.
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (first, second) = (demo(1), demo(2));
    assert_eq!(first.len(), second.len(), "the test needs equal sizes");
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for (dir, bytes) in [("a", &first), ("b", &second)] {
        std::fs::create_dir(work.path().join(dir)).unwrap();
        write_with_mtime(
            &work.path().join(dir).join("demo-1.0-py3-none-any.whl"),
            bytes,
            mtime,
        );
    }
    let link = work.path().join("fl");
    let via_link = link.join("demo-1.0-py3-none-any.whl");
    let wheels = local_store(cache.path());

    std::os::unix::fs::symlink(work.path().join("a"), &link).unwrap();
    let fetched = wheels
        .fetch_path(&via_link, &ExpectedHashes::default())
        .unwrap();
    assert_eq!(value_in(&fetched), "VALUE = 1\n");
    let canonical_a =
        std::fs::canonicalize(work.path().join("a/demo-1.0-py3-none-any.whl")).unwrap();
    assert_eq!(fetched.source, canonical_a.display().to_string());

    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(work.path().join("b"), &link).unwrap();
    let fetched = wheels
        .fetch_path(&via_link, &ExpectedHashes::default())
        .unwrap();
    assert_eq!(fetched.outcome, FetchOutcome::Unpacked);
    assert_eq!(value_in(&fetched), "VALUE = 2\n");

    // The pointer records the canonical path and the file's identity.
    let pointers: Vec<_> = std::fs::read_dir(cache.path().join("wheels-v0/path"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(pointers.len(), 2);
    for pointer in pointers {
        assert!(pointer.contains("\"source_inode\""), "{pointer}");
        assert!(!pointer.contains("/fl/"), "{pointer}");
    }
}

/// tomli 2.5.0's bytes under the file name `name`.
fn tomli_as(dir: &Path, name: &str) -> PathBuf {
    let bytes = WheelBuilder::new("tomli", "2.5.0")
        .file("tomli/__init__.py", "VERSION = '2.5.0'\n")
        .to_bytes();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn assert_refused_as(error: &FetchError, wheel: &str, inside: &str, named: &str) {
    assert!(
        matches!(error, FetchError::NotTheNamedWheel { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    for part in [wheel, inside, named, "nothing was cached"] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
}

#[test]
fn a_local_wheel_whose_dist_info_contradicts_its_file_name_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let wheel = tomli_as(work.path(), "tomli-9.9.9-py3-none-any.whl");
    let error = local_store(cache.path())
        .fetch_path(&wheel, &ExpectedHashes::default())
        .unwrap_err();
    assert_refused_as(
        &error,
        "tomli-9.9.9-py3-none-any.whl",
        "tomli 2.5.0",
        "tomli 9.9.9",
    );
    assert_eq!(published(cache.path()), Vec::<PathBuf>::new());
}

#[test]
fn cached_content_is_not_reused_under_another_wheels_name() {
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let wheels = local_store(cache.path());
    let real = tomli_as(work.path(), "tomli-2.5.0-py3-none-any.whl");
    wheels
        .fetch_path(&real, &ExpectedHashes::default())
        .unwrap();
    let before = published(cache.path());

    // The same bytes (so the same archive) under numpy's name: a content hit must not vouch.
    let numpy = "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl";
    let fake = tomli_as(work.path(), numpy);
    let error = wheels
        .fetch_path(&fake, &ExpectedHashes::default())
        .unwrap_err();
    assert_refused_as(&error, numpy, "tomli 2.5.0", "numpy 2.4.6");

    // Nor stored from bytes the caller reads.
    let filename = numpy.parse().unwrap();
    let bytes = std::fs::read(&fake).unwrap();
    let error = wheels
        .store_reader(&filename, bytes.as_slice(), &ExpectedHashes::default())
        .unwrap_err();
    assert_refused_as(&error, numpy, "tomli 2.5.0", "numpy 2.4.6");
    assert_eq!(published(cache.path()), before);
}

#[test]
fn a_wheel_without_a_dist_info_directory_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let bytes = cairn_test_support::zipgen::ZipBuilder::new()
        .file("demo/__init__.py", "VALUE = 1\n")
        .build();
    let wheel = work.path().join("demo-1.0-py3-none-any.whl");
    std::fs::write(&wheel, bytes).unwrap();
    let error = local_store(cache.path())
        .fetch_path(&wheel, &ExpectedHashes::default())
        .unwrap_err();
    assert!(
        error.to_string().contains("no top-level `.dist-info`"),
        "{error}"
    );
    assert_eq!(published(cache.path()), Vec::<PathBuf>::new());
}

#[test]
fn versions_are_compared_as_pep_440_versions() {
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let bytes = WheelBuilder::new("Demo_Pkg", "1.0.0")
        .file("demo_pkg/__init__.py", "")
        .to_bytes();
    let wheel = work.path().join("demo.pkg-1.0-py3-none-any.whl");
    std::fs::write(&wheel, bytes).unwrap();
    let fetched = local_store(cache.path())
        .fetch_path(&wheel, &ExpectedHashes::default())
        .unwrap();
    assert_eq!(fetched.outcome, FetchOutcome::Unpacked);
}

#[tokio::test]
async fn a_downloaded_wheel_whose_dist_info_contradicts_its_url_is_refused() {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(tomli_as(work.path(), "t.whl")).unwrap();
    let numpy = "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl";
    let (real_path, fake_path) = (
        "/a/tomli-2.5.0-py3-none-any.whl".to_owned(),
        format!("/b/{numpy}"),
    );
    server.route(&real_path, Response::ok(bytes.clone()));
    server.route(&fake_path, Response::ok(bytes.clone()));
    let cache = tempfile::tempdir().unwrap();
    let wheels = store(cache.path(), fast_http(0));

    let fake = WheelSource::Url(server.url(&fake_path));
    let error = wheels
        .fetch(&fake, &ExpectedHashes::default())
        .await
        .unwrap_err();
    assert_refused_as(&error, &fake_path, "tomli 2.5.0", "numpy 2.4.6");
    assert_eq!(published(cache.path()), Vec::<PathBuf>::new());

    // Pinned to the same digest, the published-hash index finds the real wheel's archive: it
    // must not answer for numpy either.
    let pin: ExpectedHashes = [sha256(&bytes)].into_iter().collect();
    wheels
        .fetch(&WheelSource::Url(server.url(&real_path)), &pin)
        .await
        .unwrap();
    let error = wheels.fetch(&fake, &pin).await.unwrap_err();
    assert_refused_as(&error, &fake_path, "tomli 2.5.0", "numpy 2.4.6");
}

#[tokio::test]
async fn an_html_page_served_with_200_is_named_as_such() {
    let server = TestServer::start().await;
    let path = "/files/demo-1.0-py3-none-any.whl";
    server.route(
        path,
        Response::ok("<!DOCTYPE html>\n<html><body>Please log in</body></html>\n")
            .header("Content-Type", "text/html; charset=utf-8"),
    );
    let json_path = "/files/other-1.0-py3-none-any.whl";
    server.route(json_path, Response::ok(r#"{"error": "not found"}"#));
    let cache = tempfile::tempdir().unwrap();
    let wheels = store(cache.path(), fast_http(3));

    let error = wheels
        .fetch(
            &WheelSource::Url(server.url(path)),
            &ExpectedHashes::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::NotAWheel { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("sent an HTML page, not a wheel"),
        "{message}"
    );
    assert!(message.contains("text/html"), "{message}");
    assert!(!message.contains("offset 0"), "{message}");

    let error = wheels
        .fetch(
            &WheelSource::Url(server.url(json_path)),
            &ExpectedHashes::default(),
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("sent a JSON document"),
        "{error}"
    );
    // A page is an answer, not a failure: asked once each.
    assert_eq!(server.hits(path), 1);
    assert_eq!(server.hits(json_path), 1);
    assert_eq!(published(cache.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_server_that_always_fails_gets_retries_plus_one_requests_in_all() {
    let server = TestServer::start().await;
    let path = "/files/demo-1.0-py3-none-any.whl";
    server.route(path, Response::status(500));
    let cache = tempfile::tempdir().unwrap();
    let error = store(cache.path(), fast_http(3))
        .fetch(
            &WheelSource::Url(server.url(path)),
            &ExpectedHashes::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(server.hits(path), 4, "{error}");
    assert!(error.to_string().contains("4 attempts"), "{error}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_tried_once_per_attempt_of_the_budget() {
    let server = TestServer::start().await;
    let path = "/files/demo-1.0-py3-none-any.whl";
    server.route(path, Response::no_response());
    let cache = tempfile::tempdir().unwrap();
    let http = ClientSettings {
        read_timeout: Duration::from_millis(300),
        ..fast_http(2)
    };
    let started = Instant::now();
    let error = store(cache.path(), http)
        .fetch(
            &WheelSource::Url(server.url(path)),
            &ExpectedHashes::default(),
        )
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(server.hits(path), 3, "{error}");
    assert!(error.to_string().contains("sent no response"), "{error}");
    assert!(!error.to_string().contains("broke off"), "{error}");
    // Three read timeouts and short backoffs, not nine.
    assert!(elapsed < Duration::from_millis(2_000), "{elapsed:?}");
}

#[tokio::test]
async fn no_retry_starts_after_the_retry_window() {
    let server = TestServer::start().await;
    let path = "/files/demo-1.0-py3-none-any.whl";
    server.route(path, Response::status(503));
    let cache = tempfile::tempdir().unwrap();
    let http = ClientSettings {
        retry_window: Duration::from_millis(300),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(50),
        ..fast_http(1_000)
    };
    let started = Instant::now();
    store(cache.path(), http)
        .fetch(
            &WheelSource::Url(server.url(path)),
            &ExpectedHashes::default(),
        )
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    let hits = server.hits(path);
    assert!((2..=12).contains(&hits), "{hits} requests");
    assert!(elapsed < Duration::from_millis(1_500), "{elapsed:?}");
}

#[tokio::test]
async fn broken_bodies_and_failed_requests_share_one_budget() {
    let server = TestServer::start().await;
    let path = "/files/demo-1.0-py3-none-any.whl";
    let bytes = demo(1);
    // A 500, a body cut short, another 500, another cut body: four attempts of a budget of
    // four, whichever layer retried them; a fifth (the good answer) is never asked for.
    server.route_script(
        path,
        [
            Response::status(500),
            Response::ok(bytes.clone()).close_after(40),
            Response::status(500),
            Response::ok(bytes.clone()).close_after(40),
            Response::ok(bytes.clone()),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let error = store(cache.path(), fast_http(3))
        .fetch(
            &WheelSource::Url(server.url(path)),
            &ExpectedHashes::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(server.hits(path), 4, "{error:?}");
    assert!(
        chain(&error).contains("broke off after 40 bytes"),
        "{error:?}"
    );

    // With one more retry the same script succeeds on the fifth request.
    let server = TestServer::start().await;
    server.route_script(
        path,
        [
            Response::status(500),
            Response::ok(bytes.clone()).close_after(40),
            Response::status(500),
            Response::ok(bytes.clone()).close_after(40),
            Response::ok(bytes),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let fetched = store(cache.path(), fast_http(4))
        .fetch(
            &WheelSource::Url(server.url(path)),
            &ExpectedHashes::default(),
        )
        .await
        .unwrap();
    assert_eq!(fetched.outcome, FetchOutcome::Unpacked);
    assert_eq!(server.hits(path), 5);
}

/// Fetches two URLs at once with `concurrent_downloads`, the first stalling after its headers
/// until its read timeout: whether the second was requested while the first held its turn.
fn second_requested_while_first_stalls(concurrent_downloads: usize) -> bool {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = TestServer::start().await;
        let stalled = "/files/stalled-1.0-py3-none-any.whl";
        let other = "/files/other-1.0-py3-none-any.whl";
        server.route(stalled, Response::ok(vec![0u8; 4096]).stall_after(10));
        let wheel = WheelBuilder::new("other", "1.0").file("other.py", "");
        server.route(other, Response::ok(wheel.to_bytes()));
        let work = tempfile::tempdir().unwrap();
        let store = WheelStore::new(
            Cache::at(work.path().join("cache")).unwrap(),
            StoreSettings {
                http: ClientSettings {
                    read_timeout: Duration::from_secs(2),
                    ..fast_http(0)
                },
                concurrent_downloads,
                ..StoreSettings::default()
            },
        );
        let none = ExpectedHashes::new();
        let (first, second) = (
            WheelSource::Url(server.url(stalled)),
            WheelSource::Url(server.url(other)),
        );
        let fetches = futures_util::future::join(store.fetch(&first, &none), async {
            // The stalled download starts first and holds its turn.
            while server.hits(stalled) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let fetched = store.fetch(&second, &none);
            tokio::pin!(fetched);
            let early = tokio::select! {
                result = &mut fetched => { result.unwrap(); true }
                () = tokio::time::sleep(Duration::from_millis(500)) => server.hits(other) > 0,
            };
            if !early {
                fetched.await.unwrap();
            }
            early
        });
        let (stalled_result, early) = fetches.await;
        assert!(stalled_result.is_err(), "the stalled download times out");
        assert_eq!(server.hits(other), 1);
        early
    })
}

#[test]
fn concurrent_downloads_bound_the_downloads_in_flight() {
    assert!(!second_requested_while_first_stalls(1));
    assert!(second_requested_while_first_stalls(2));
}
