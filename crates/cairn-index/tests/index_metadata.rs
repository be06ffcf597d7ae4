//! What a resolver reads from an index: each file's kind and version, read once with the page,
//! and its core metadata on its own (PEP 658 / PEP 714), fetched, verified and parsed, from a
//! real HTTP server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use cairn_cache::Cache;
use cairn_hash::{Digest, HashAlgorithm, HasherSet};
use cairn_http::{ClientSettings, HttpClient};
use cairn_index::{FileKind, IndexClient, IndexFile, MetadataFetchError, MetadataLink, Version};
use cairn_test_support::http_server::{Response, TestServer};

/// black's real METADATA (headers whole, description cut short), from cairn-python's fixtures.
fn black_metadata() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cairn-python/tests/data/metadata/black-26.10.1.METADATA");
    std::fs::read(path).unwrap()
}

const BLACK_WHEEL: &str = "black-26.10.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl";

fn sha256_of(bytes: &[u8]) -> Digest {
    let mut hasher = HasherSet::new(&[HashAlgorithm::Sha256]);
    hasher.update(bytes);
    *hasher.finalize().get(HashAlgorithm::Sha256).unwrap()
}

fn http() -> HttpClient {
    HttpClient::new(ClientSettings {
        retries: 0,
        read_timeout: Duration::from_secs(10),
        ..ClientSettings::default()
    })
    .unwrap()
}

fn index(server: &TestServer, cache: Cache) -> IndexClient {
    IndexClient::new(http(), cache, server.url("/simple/"))
}

fn by_name<'a>(files: &'a [IndexFile], name: &str) -> &'a IndexFile {
    files
        .iter()
        .find(|file| file.filename == name)
        .unwrap_or_else(|| panic!("{name} not listed in {files:#?}"))
}

fn version(text: &str) -> Option<Version> {
    Some(text.parse().unwrap())
}

#[tokio::test]
async fn files_carry_their_kind_and_version() {
    let server = TestServer::start().await;
    server.route(
        "/simple/demo-pkg/",
        Response::ok(
            r#"<html><body>
            <a href="/p/Demo_Pkg-1.0.post1-py3-none-any.whl">w</a>
            <a href="/p/demo.pkg-2.0rc1.tar.gz">s</a>
            <a href="/p/demo_pkg-3.0.zip">z</a>
            <a href="/p/demo_pkg-weird_version-py3-none-any.whl">legacy</a>
            <a href="/p/demo_pkg-1.0.exe">installer</a>
            <a href="/p/other-1.0-py3-none-any.whl">another project</a>
            <a href="/p/not-a-wheel.whl">unparsable</a>
            </body></html>"#,
        ),
    );
    let files = index(&server, Cache::temporary().unwrap())
        .files("Demo_Pkg")
        .await
        .unwrap();
    assert_eq!(files.len(), 7);

    let wheel = by_name(&files, "Demo_Pkg-1.0.post1-py3-none-any.whl");
    let FileKind::Wheel(filename) = &wheel.kind else {
        panic!("{wheel:?}");
    };
    assert_eq!(filename.name, "Demo_Pkg");
    assert_eq!(wheel.wheel(), Some(filename));
    assert_eq!(wheel.version, version("1.0.post1"));

    let sdist = by_name(&files, "demo.pkg-2.0rc1.tar.gz");
    assert_eq!(sdist.kind, FileKind::Sdist);
    assert_eq!(sdist.version, version("2.0rc1"));
    assert_eq!(sdist.wheel(), None);
    assert_eq!(by_name(&files, "demo_pkg-3.0.zip").kind, FileKind::Sdist);

    // A wheel whose version is not PEP 440 is still a wheel, without a version.
    let legacy = by_name(&files, "demo_pkg-weird_version-py3-none-any.whl");
    assert!(matches!(legacy.kind, FileKind::Wheel(_)), "{legacy:?}");
    assert_eq!(legacy.version, None);

    for other in [
        "demo_pkg-1.0.exe",
        "other-1.0-py3-none-any.whl",
        "not-a-wheel.whl",
    ] {
        let file = by_name(&files, other);
        assert_eq!(file.kind, FileKind::Other, "{other}");
        assert_eq!(file.version, None, "{other}");
    }
}

#[tokio::test]
async fn html_pages_say_which_files_have_metadata() {
    let server = TestServer::start().await;
    let sha = sha256_of(b"x").to_hex();
    server.route(
        "/simple/demo/",
        Response::ok(format!(
            r#"<html><body>
            <a href="/p/demo-1.0-py3-none-any.whl" data-core-metadata="sha256={sha}">new name</a>
            <a href="/p/demo-1.1-py3-none-any.whl" data-dist-info-metadata="true">old name</a>
            <a href="/p/demo-1.2-py3-none-any.whl" data-core-metadata="sha256={sha}"
               data-dist-info-metadata="true">both</a>
            <a href="/p/demo-1.3-py3-none-any.whl" data-core-metadata>bare</a>
            <a href="/p/demo-1.4-py3-none-any.whl" data-core-metadata="md5=0123">unknown digest</a>
            <a href="/p/demo-1.5-py3-none-any.whl" data-core-metadata="false">false</a>
            <a href="/p/demo-1.6-py3-none-any.whl">none</a>
            </body></html>"#
        )),
    );
    let files = index(&server, Cache::temporary().unwrap())
        .files("demo")
        .await
        .unwrap();
    let link = |name: &str| by_name(&files, name).core_metadata.clone();
    let with_hash = Some(MetadataLink {
        hashes: vec![sha256_of(b"x")],
    });
    let without = Some(MetadataLink::default());
    assert_eq!(link("demo-1.0-py3-none-any.whl"), with_hash);
    assert_eq!(link("demo-1.1-py3-none-any.whl"), without);
    assert_eq!(
        link("demo-1.2-py3-none-any.whl"),
        with_hash,
        "PEP 714's name wins"
    );
    assert_eq!(link("demo-1.3-py3-none-any.whl"), without);
    assert_eq!(link("demo-1.4-py3-none-any.whl"), without);
    assert_eq!(link("demo-1.5-py3-none-any.whl"), None);
    assert_eq!(link("demo-1.6-py3-none-any.whl"), None);
}

#[tokio::test]
async fn json_pages_say_which_files_have_metadata() {
    let server = TestServer::start().await;
    let sha = sha256_of(b"x").to_hex();
    server.route(
        "/simple/demo/",
        Response::ok(format!(
            r#"{{"meta": {{"api-version": "1.1"}}, "name": "demo", "files": [
              {{"filename": "demo-1.0-py3-none-any.whl", "url": "/p/demo-1.0-py3-none-any.whl",
                "hashes": {{}}, "core-metadata": {{"sha256": "{sha}", "md5": "0123"}}}},
              {{"filename": "demo-1.1-py3-none-any.whl", "url": "/p/demo-1.1-py3-none-any.whl",
                "hashes": {{}}, "dist-info-metadata": true}},
              {{"filename": "demo-1.2-py3-none-any.whl", "url": "/p/demo-1.2-py3-none-any.whl",
                "hashes": {{}}, "core-metadata": false, "dist-info-metadata": true}},
              {{"filename": "demo-1.3-py3-none-any.whl", "url": "/p/demo-1.3-py3-none-any.whl",
                "hashes": {{}}, "core-metadata": 7}},
              {{"filename": "demo-1.4-py3-none-any.whl", "url": "/p/demo-1.4-py3-none-any.whl",
                "hashes": {{}}}}
            ]}}"#
        )),
    );
    let files = index(&server, Cache::temporary().unwrap())
        .files("demo")
        .await
        .unwrap();
    assert_eq!(files.len(), 5, "an odd value does not lose the page");
    let link = |name: &str| by_name(&files, name).core_metadata.clone();
    assert_eq!(
        link("demo-1.0-py3-none-any.whl"),
        Some(MetadataLink {
            hashes: vec![sha256_of(b"x")]
        })
    );
    assert_eq!(
        link("demo-1.1-py3-none-any.whl"),
        Some(MetadataLink::default())
    );
    assert_eq!(
        link("demo-1.2-py3-none-any.whl"),
        None,
        "PEP 714's name wins"
    );
    assert_eq!(link("demo-1.3-py3-none-any.whl"), None);
    assert_eq!(link("demo-1.4-py3-none-any.whl"), None);
}

/// A page serving black's wheel with its metadata published under `digest`.
fn serve_black(server: &TestServer, digest: Option<&Digest>) {
    let attribute = match digest {
        Some(digest) => format!(r#"data-core-metadata="sha256={}""#, digest.to_hex()),
        None => r#"data-dist-info-metadata="true""#.to_owned(),
    };
    server.route(
        "/simple/black/",
        Response::ok(format!(
            r#"<a href="/files/{BLACK_WHEEL}" {attribute}>{BLACK_WHEEL}</a>
               <a href="/files/black-26.10.1.tar.gz">sdist</a>"#
        ))
        .cache_control("max-age=600"),
    );
    server.route(
        &format!("/files/{BLACK_WHEEL}.metadata"),
        Response::ok(black_metadata()),
    );
}

#[tokio::test]
async fn metadata_is_fetched_verified_and_parsed() {
    let server = TestServer::start().await;
    let digest = sha256_of(&black_metadata());
    serve_black(&server, Some(&digest));
    let cache = Cache::temporary().unwrap();
    let client = index(&server, cache.clone());
    let files = client.files("black").await.unwrap();
    let wheel = by_name(&files, BLACK_WHEEL);
    assert_eq!(
        wheel.core_metadata,
        Some(MetadataLink {
            hashes: vec![digest]
        })
    );

    let metadata = client.fetch_metadata(wheel).await.unwrap();
    assert_eq!(metadata.name.as_ref(), "black");
    assert_eq!(Some(metadata.version.clone()), wheel.version);
    assert_eq!(metadata.requires_dist.len(), 14);
    assert_eq!(metadata.provides_extra.len(), 4);
    assert_eq!(server.hits(&format!("/files/{BLACK_WHEEL}.metadata")), 1);
    assert_eq!(
        server.hits(&format!("/files/{BLACK_WHEEL}")),
        0,
        "the wheel is not downloaded"
    );

    // From the cached page (no new request for it), the file still offers its metadata.
    let again = index(&server, cache).files("black").await.unwrap();
    assert_eq!(server.hits("/simple/black/"), 1);
    assert_eq!(by_name(&again, BLACK_WHEEL), wheel);

    // Without a published digest, the metadata is taken as served.
    let server = TestServer::start().await;
    serve_black(&server, None);
    let client = index(&server, Cache::temporary().unwrap());
    let files = client.files("black").await.unwrap();
    let metadata = client
        .fetch_metadata(by_name(&files, BLACK_WHEEL))
        .await
        .unwrap();
    assert_eq!(metadata.requires_dist.len(), 14);
}

#[tokio::test]
async fn metadata_that_does_not_match_its_digest_is_refused() {
    let server = TestServer::start().await;
    serve_black(&server, Some(&sha256_of(b"other bytes")));
    let client = index(&server, Cache::temporary().unwrap());
    let files = client.files("black").await.unwrap();
    let error = client
        .fetch_metadata(by_name(&files, BLACK_WHEEL))
        .await
        .unwrap_err();
    let MetadataFetchError::HashMismatch { source, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(source.expected, [sha256_of(b"other bytes")]);
    assert_eq!(source.actual, Some(sha256_of(&black_metadata())));
    assert!(
        error.to_string().contains("does not match the digest"),
        "{error}"
    );
}

#[tokio::test]
async fn metadata_not_offered_missing_invalid_or_for_another_file_is_an_error() {
    let server = TestServer::start().await;
    serve_black(&server, None);
    let client = index(&server, Cache::temporary().unwrap());
    let files = client.files("black").await.unwrap();

    let sdist = by_name(&files, "black-26.10.1.tar.gz");
    let error = client.fetch_metadata(sdist).await.unwrap_err();
    assert!(
        matches!(error, MetadataFetchError::NotOffered { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("offers no metadata file for `black-26.10.1.tar.gz`")
    );
    assert_eq!(server.total_hits(), 1, "nothing is requested");

    let wheel = by_name(&files, BLACK_WHEEL);
    let metadata_path = format!("/files/{BLACK_WHEEL}.metadata");

    server.route(&metadata_path, Response::not_found());
    let error = client.fetch_metadata(wheel).await.unwrap_err();
    assert!(
        matches!(error, MetadataFetchError::Download { .. }),
        "{error:?}"
    );

    server.route(
        &metadata_path,
        Response::ok("Metadata-Version: 2.1\nName: black\n"),
    );
    let error = client.fetch_metadata(wheel).await.unwrap_err();
    assert!(
        matches!(error, MetadataFetchError::Invalid { .. }),
        "{error:?}"
    );

    server.route(
        &metadata_path,
        Response::ok("Metadata-Version: 2.1\nName: black\nVersion: 26.10.0\n"),
    );
    let error = client.fetch_metadata(wheel).await.unwrap_err();
    assert!(
        matches!(
            error,
            MetadataFetchError::Inconsistent {
                field: "Version",
                ..
            }
        ),
        "{error:?}"
    );

    server.route(
        &metadata_path,
        Response::ok("Metadata-Version: 2.1\nName: white\nVersion: 26.10.1\n"),
    );
    let error = client.fetch_metadata(wheel).await.unwrap_err();
    assert!(
        matches!(
            error,
            MetadataFetchError::Inconsistent { field: "Name", .. }
        ),
        "{error:?}"
    );
}
