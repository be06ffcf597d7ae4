//! Project pages stored in their compact form, against a real HTTP server on 127.0.0.1: every
//! field selection uses reads back as the page parser made it, from JSON and from HTML; a page
//! file of an older format, a truncated or a damaged one is a miss, never misread; and page
//! requests are bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{index, offline_index};

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use cairn_cache::{Cache, CacheBucket};
use cairn_cache_key::{CanonicalUrl, cache_digest};
use cairn_hash::Digest;
use cairn_http::CachePolicy;
use cairn_index::{FoundWheel, IndexClient, IndexError, IndexFile, bench};
use cairn_python::tags::Tags;
use cairn_test_support::http_server::{Response, TestServer};

const SHA_A: &str = "3741efca34206284bca4fbd2efc35473654d02a2d278aebcb3938753ba18ad5b";
const SHA_B: &str = "95a99cf2d58345297b3e56d99fdb6d8f18d3b04cde686e77eb34750a57560281";
const SHA_C: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn sha256(hex: &str) -> Digest {
    format!("sha256:{hex}").parse().unwrap()
}

fn tags() -> Tags {
    Tags::for_target((3, 12), "manylinux_2_28_x86_64").unwrap()
}

fn by_name<'a>(files: &'a [IndexFile], name: &str) -> &'a IndexFile {
    files
        .iter()
        .find(|file| file.filename == name)
        .unwrap_or_else(|| panic!("{name} not listed in {files:#?}"))
}

/// A PEP 691 page in PyPI's shape, with every field cairn reads, in its various spellings.
fn json_page(host: &str) -> String {
    format!(
        r#"{{
  "meta": {{"api-version": "1.1", "_last-serial": 42}},
  "name": "demo",
  "versions": ["0.9", "1.0", "1.0.0+cpu", "2.0"],
  "files": [
    {{"filename": "demo-0.9.tar.gz", "url": "https://files.example.org/packages/aa/bb/cc/demo-0.9.tar.gz",
      "hashes": {{"md5": "0123", "sha256": "{SHA_A}"}}, "requires-python": "", "size": 10,
      "upload-time": "2020-01-01T00:00:00.000000Z", "yanked": false}},
    {{"filename": "demo-1.0-py3-none-any.whl", "url": "https://files.example.org/packages/dd/ee/ff/demo-1.0-py3-none-any.whl",
      "hashes": {{"sha256": "{SHA_A}", "sha512": "{SHA_C}{SHA_C}"}}, "requires-python": ">=3.8, <4",
      "size": 12345, "yanked": "broken on Windows", "core-metadata": {{"sha256": "{SHA_B}"}},
      "data-dist-info-metadata": {{"sha256": "{SHA_B}"}}}},
    {{"filename": "demo-1.0.0+cpu-cp312-cp312-manylinux_2_17_x86_64.whl",
      "url": "https://files.example.org/packages/11/22/33/demo-1.0.0%2Bcpu-cp312-cp312-manylinux_2_17_x86_64.whl",
      "hashes": {{"sha256": "{SHA_B}"}}, "requires-python": ">=3.12", "size": 99, "yanked": true,
      "dist-info-metadata": true}},
    {{"filename": "demo-2.0-py3-none-any.whl", "url": "../../mirror/demo-2.0-py3-none-any.whl?raw=1",
      "hashes": {{}}, "core-metadata": false}},
    {{"filename": "other-2.0-py3-none-any.whl", "url": "{host}/elsewhere/other-2.0-py3-none-any.whl",
      "hashes": {{"sha256": "{SHA_C}"}}}}
  ]
}}"#
    )
}

const HTML_PAGE: &str = r#"<!DOCTYPE html>
<html><head><title>Links for demo</title></head>
<body>
<h1>Links for demo</h1>
<a href="../../packages/demo-1.0-py3-none-any.whl#sha256=3741efca34206284bca4fbd2efc35473654d02a2d278aebcb3938753ba18ad5b" data-requires-python="&gt;=3.8" data-core-metadata="sha256=95a99cf2d58345297b3e56d99fdb6d8f18d3b04cde686e77eb34750a57560281">demo-1.0-py3-none-any.whl</a><br/>
<A HREF='https://files.example.org/demo-1.0.tar.gz#md5=0123' data-yanked="">demo-1.0.tar.gz</A><br/>
<a data-yanked="broken &amp; insecure" data-dist-info-metadata href=/packages/demo-1.1-cp312-cp312-manylinux_2_17_x86_64.whl#sha256=95a99cf2d58345297b3e56d99fdb6d8f18d3b04cde686e77eb34750a57560281>x</a>
<a href="demo%2B2.0-1.0-py3-none-any.whl">percent</a>
<a href="/packages/demo-2.0.0.0-py3-none-any.whl" data-requires-python="&lt;3">old</a>
</body></html>
"#;

/// Lists the page from the server (stored compact as it arrives), then again from the cache
/// offline, and checks that both equal what the parser reads from the body directly.
async fn round_trip(server: &TestServer, body: &[u8]) -> Vec<IndexFile> {
    let cache = Cache::temporary().unwrap();
    let online = index(server, &cache);
    let fetched = online.files("Demo").await.unwrap();
    let cached = offline_index(server, &cache).files("demo").await.unwrap();
    assert_eq!(server.hits("/simple/demo/"), 1);
    let parsed = bench::parse_page(&online, "demo", body).unwrap();
    assert_eq!(fetched, parsed, "the page read back as it arrived");
    assert_eq!(cached, parsed, "the page read back from the cache");
    parsed
}

#[tokio::test]
async fn a_json_page_round_trips_every_field() {
    let server = TestServer::start().await;
    let body = json_page(server.url("/").as_str().trim_end_matches('/'));
    server.route(
        "/simple/demo/",
        Response::ok(body.clone())
            .header("Content-Type", "application/vnd.pypi.simple.v1+json")
            .cache_control("max-age=600"),
    );
    let files = round_trip(&server, body.as_bytes()).await;
    assert_eq!(files.len(), 5);

    // The fields are really there (so that the equality above compares something).
    let sdist = by_name(&files, "demo-0.9.tar.gz");
    assert_eq!(sdist.hashes, [sha256(SHA_A)]);
    assert_eq!(sdist.requires_python, None);
    assert_eq!(sdist.size, Some(10));
    let wheel = by_name(&files, "demo-1.0-py3-none-any.whl");
    assert_eq!(wheel.hashes.len(), 2);
    assert_eq!(wheel.requires_python.as_deref(), Some(">=3.8, <4"));
    assert_eq!(wheel.yanked.as_deref(), Some("broken on Windows"));
    assert_eq!(wheel.size, Some(12345));
    assert_eq!(
        wheel.core_metadata.as_ref().unwrap().hashes,
        [sha256(SHA_B)]
    );
    assert_eq!(wheel.version.as_ref().unwrap().to_string(), "1.0");
    let local = by_name(
        &files,
        "demo-1.0.0+cpu-cp312-cp312-manylinux_2_17_x86_64.whl",
    );
    assert!(
        local
            .url
            .as_str()
            .ends_with("demo-1.0.0%2Bcpu-cp312-cp312-manylinux_2_17_x86_64.whl")
    );
    assert_eq!(local.yanked.as_deref(), Some(""));
    assert!(local.core_metadata.as_ref().unwrap().hashes.is_empty());
    let relative = by_name(&files, "demo-2.0-py3-none-any.whl");
    assert_eq!(
        relative.url.as_str(),
        server
            .url("/mirror/demo-2.0-py3-none-any.whl?raw=1")
            .as_str()
    );
    assert_eq!(relative.core_metadata, None);
    assert!(
        by_name(&files, "other-2.0-py3-none-any.whl")
            .wheel()
            .is_none()
    );
}

#[tokio::test]
async fn urls_sharing_a_prefix_round_trip() {
    let server = TestServer::start().await;
    let body = format!(
        r#"{{"meta": {{"api-version": "1.0"}}, "files": [
          {{"filename": "demo-1.0-py3-none-any.whl", "url": "https://files.example.org/packages/aa/demo-1.0-py3-none-any.whl", "hashes": {{"sha256": "{SHA_A}"}}}},
          {{"filename": "demo-1.0.tar.gz", "url": "https://files.example.org/packages/ab/demo-1.0.tar.gz#sha256={SHA_B}", "hashes": {{}}}},
          {{"filename": "demo-1.1.tar.gz", "url": "https://files.example.org/packages/ab/get?name=demo-1.1.tar.gz", "hashes": {{}}}},
          {{"filename": "demo-1.1-py3-none-any.whl", "url": "https://files.example.org/packages/demo-1.1-py3-none-any.whl.download", "hashes": {{}}}}
        ]}}"#
    );
    server.route(
        "/simple/demo/",
        Response::ok(body.clone()).cache_control("max-age=600"),
    );
    let files = round_trip(&server, body.as_bytes()).await;
    assert_eq!(files.len(), 4);
    assert_eq!(
        by_name(&files, "demo-1.0.tar.gz").url.as_str(),
        "https://files.example.org/packages/ab/demo-1.0.tar.gz"
    );
}

#[tokio::test]
async fn an_html_page_round_trips_every_field() {
    let server = TestServer::start().await;
    server.route(
        "/simple/demo/",
        Response::ok(HTML_PAGE)
            .header("Content-Type", "text/html")
            .cache_control("max-age=600"),
    );
    let files = round_trip(&server, HTML_PAGE.as_bytes()).await;
    assert_eq!(files.len(), 5);
    let wheel = by_name(&files, "demo-1.0-py3-none-any.whl");
    assert_eq!(wheel.url, server.url("/packages/demo-1.0-py3-none-any.whl"));
    assert_eq!(wheel.hashes, [sha256(SHA_A)]);
    assert_eq!(wheel.requires_python.as_deref(), Some(">=3.8"));
    assert_eq!(
        wheel.core_metadata.as_ref().unwrap().hashes,
        [sha256(SHA_B)]
    );
    let yanked = by_name(&files, "demo-1.1-cp312-cp312-manylinux_2_17_x86_64.whl");
    assert_eq!(yanked.yanked.as_deref(), Some("broken & insecure"));
    assert!(yanked.core_metadata.is_some());
    assert_eq!(
        by_name(&files, "demo-1.0.tar.gz").yanked.as_deref(),
        Some("")
    );
    assert_eq!(
        by_name(&files, "demo+2.0-1.0-py3-none-any.whl").url,
        server.url("/simple/demo/demo%2B2.0-1.0-py3-none-any.whl")
    );
}

#[tokio::test]
async fn selection_reads_the_compact_page_as_pep_440_says() {
    let server = TestServer::start().await;
    let body = json_page(server.url("/").as_str().trim_end_matches('/'));
    server.route(
        "/simple/demo/",
        Response::ok(body).cache_control("max-age=600"),
    );
    let cache = Cache::temporary().unwrap();
    index(&server, &cache).files("demo").await.unwrap();
    let offline = offline_index(&server, &cache);
    let found = |version: &'static str| {
        let offline = offline.clone();
        async move { offline.find_wheel("demo", version, &tags()).await }
    };
    // `==1` admits 1.0 and 1.0.0+cpu: the platform wheel wins on its tags, although yanked
    // files lose to others (both are yanked here).
    let FoundWheel::Url {
        filename,
        hashes,
        url,
    } = found("1").await.unwrap()
    else {
        panic!("not from the index");
    };
    assert_eq!(
        filename.to_string(),
        "demo-1.0.0+cpu-cp312-cp312-manylinux_2_17_x86_64.whl"
    );
    assert_eq!(hashes, [sha256(SHA_B)]);
    assert!(
        url.as_str()
            .ends_with("%2Bcpu-cp312-cp312-manylinux_2_17_x86_64.whl")
    );
    // A local label must match exactly when asked for; 1.0 has only the pure wheel.
    let FoundWheel::Url { filename, .. } = found("1.0+cpu").await.unwrap() else {
        panic!("not from the index");
    };
    assert_eq!(filename.version, "1.0.0+cpu");
    let error = found("1.0+cu118").await.unwrap_err();
    assert!(
        matches!(error, IndexError::VersionNotFound { .. }),
        "{error:?}"
    );
    // The error lists every version of the page, read from the compact form.
    let message = error.to_string();
    assert!(message.contains("0.9, 1.0, 1.0.0+cpu, 2.0"), "{message}");
    let error = found("0.9.0").await.unwrap_err();
    assert!(matches!(error, IndexError::NoWheel { .. }), "{error:?}");
    assert_eq!(server.hits("/simple/demo/"), 1);
}

/// The page file and its policy of project `demo` on the server's `/simple/` index, under the
/// simple bucket named `bucket` (the current one or an older one).
fn page_files(server: &TestServer, cache: &Cache, bucket: &str) -> (PathBuf, PathBuf) {
    let root = cache
        .bucket(CacheBucket::Simple)
        .parent()
        .unwrap()
        .to_owned();
    let shard = root
        .join(bucket)
        .join(cache_digest(&CanonicalUrl::new(server.url("/simple/"))));
    std::fs::create_dir_all(&shard).unwrap();
    (shard.join("demo.page"), shard.join("demo.http"))
}

fn fresh_policy() -> Vec<u8> {
    let stored_at = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    CachePolicy {
        max_age: Some(600),
        stored_at,
        ..CachePolicy::default()
    }
    .to_bytes()
    .unwrap()
}

fn html(versions: &[&str]) -> String {
    let links: String = versions
        .iter()
        .map(|v| format!("<a href=\"/files/demo-{v}-py3-none-any.whl\">x</a>\n"))
        .collect();
    format!("<html><body>\n{links}</body></html>")
}

async fn filenames(client: &IndexClient) -> Result<Vec<String>, IndexError> {
    let files = client.files("demo").await?;
    Ok(files.into_iter().map(|file| file.filename).collect())
}

#[tokio::test]
async fn a_page_of_an_older_format_is_fetched_again_not_misread() {
    let server = TestServer::start().await;
    server.route(
        "/simple/demo/",
        Response::ok(html(&["1.0"])).cache_control("max-age=600"),
    );
    let old = format!(
        "cairn-simple-1\n{}\n{}",
        server.url("/simple/demo/"),
        html(&["9.9"])
    );
    let cache = Cache::temporary().unwrap();

    // A page the previous layout stored, in its own bucket; then the same raw page in the
    // current bucket (written by an older cairn, or copied). Each with a fresh policy: a miss.
    let mut page = PathBuf::new();
    for (round, bucket) in ["simple-v0", CacheBucket::Simple.dir_name()]
        .into_iter()
        .enumerate()
    {
        let (old_page, policy) = page_files(&server, &cache, bucket);
        std::fs::write(&old_page, &old).unwrap();
        std::fs::write(&policy, fresh_policy()).unwrap();
        let error = filenames(&offline_index(&server, &cache))
            .await
            .unwrap_err();
        assert!(
            matches!(error, IndexError::Offline { .. }),
            "{bucket}: {error:?}"
        );
        assert_eq!(
            filenames(&index(&server, &cache)).await.unwrap(),
            ["demo-1.0-py3-none-any.whl"]
        );
        assert_eq!(server.hits("/simple/demo/"), round + 1, "{bucket}");
        page = old_page;
    }
    assert!(
        std::fs::read(&page)
            .unwrap()
            .starts_with(b"cairn-simple-v2\n")
    );
}

#[tokio::test]
async fn a_truncated_or_damaged_page_is_a_miss_never_a_panic() {
    let server = TestServer::start().await;
    let body = json_page(server.url("/").as_str().trim_end_matches('/'));
    server.route(
        "/simple/demo/",
        Response::ok(body).cache_control("max-age=600"),
    );
    let cache = Cache::temporary().unwrap();
    let expected = filenames(&index(&server, &cache)).await.unwrap();
    let (page, _) = page_files(&server, &cache, CacheBucket::Simple.dir_name());
    let good = std::fs::read(&page).unwrap();
    let offline = offline_index(&server, &cache);
    assert_eq!(filenames(&offline).await.unwrap(), expected);

    // Every truncation is a miss: offline, the page is missing; online, fetched again.
    for len in (0..good.len()).step_by(7).chain([good.len() - 1]) {
        std::fs::write(&page, &good[..len]).unwrap();
        let error = filenames(&offline).await.unwrap_err();
        assert!(
            matches!(error, IndexError::Offline { .. }),
            "{len}: {error:?}"
        );
    }
    let hits = server.hits("/simple/demo/");
    assert_eq!(filenames(&index(&server, &cache)).await.unwrap(), expected);
    assert_eq!(server.hits("/simple/demo/"), hits + 1);
    assert_eq!(
        std::fs::read(&page).unwrap(),
        good,
        "the page is stored again"
    );

    // A page of another project under this name is a miss too.
    let other = std::fs::read(&page).unwrap();
    let (other_page, _) = page_files(&server, &cache, CacheBucket::Simple.dir_name());
    std::fs::write(other_page.with_file_name("other.page"), &other).unwrap();
    std::fs::copy(
        other_page.with_extension("http"),
        other_page.with_file_name("other.http"),
    )
    .unwrap();
    let error = offline.files("other").await.unwrap_err();
    assert!(matches!(error, IndexError::Offline { .. }), "{error:?}");

    // Damage anywhere: whatever it hits, reading never panics; where
    // validation catches it the page is a miss, and the files that do read back are whole.
    let mut misses = 0;
    for position in 0..good.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut damaged = good.clone();
            damaged[position] ^= flip;
            std::fs::write(&page, &damaged).unwrap();
            match offline.files("demo").await {
                Err(IndexError::Offline { .. }) => misses += 1,
                Err(error) => panic!("{position}: {error:?}"),
                Ok(files) => assert!(files.len() <= expected.len()),
            }
        }
    }
    assert!(misses > 0, "some damage is caught by validation");
}

#[tokio::test]
async fn page_requests_are_bounded() {
    let server = TestServer::start().await;
    let projects = ["a", "b", "c", "d", "e", "f"];
    // Each page takes at least 13 × 25 ms to send.
    for project in projects {
        server.route(
            &format!("/simple/{project}/"),
            Response::ok("<html></html>")
                .chunk_size(1)
                .chunk_delay(Duration::from_millis(25)),
        );
    }
    let cache = Cache::temporary().unwrap();
    let run = |limit: usize| {
        let client = index(&server, &cache).with_concurrent_requests(limit);
        async move {
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for project in projects {
                let client = client.clone();
                tasks.spawn(async move { client.files(project).await });
            }
            while let Some(files) = tasks.join_next().await {
                assert!(files.unwrap().unwrap().is_empty());
            }
            started.elapsed()
        }
    };
    let one_page = Duration::from_millis(13 * 25);
    // Two at a time: three rounds at least.
    let bounded = run(2).await;
    assert!(bounded >= one_page * 3, "{bounded:?}");
    // All at once: well under the six rounds one at a time would take.
    let unbounded = run(6).await;
    assert!(unbounded < one_page * 6, "{unbounded:?}");
    assert_eq!(server.total_hits(), 12);
}
