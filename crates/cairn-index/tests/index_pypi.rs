//! The real default index. Needs the network:
//! `cargo test -p cairn-index --test index_pypi -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_cache::{Cache, CacheBucket};
use cairn_hash::Digest;
use cairn_http::{ClientSettings, HttpClient};
use cairn_index::{FoundWheel, IndexClient};
use cairn_python::tags::Tags;

#[tokio::test]
#[ignore = "uses the network (pypi.org)"]
async fn finds_tomli_2_5_0_with_its_published_sha256() {
    let http = HttpClient::new(ClientSettings::default()).unwrap();
    let cache = Cache::temporary().unwrap();
    let index_url = IndexClient::DEFAULT_INDEX.parse().unwrap();
    let client = IndexClient::new(http.clone(), cache.clone(), index_url);
    // tomli also publishes compiled manylinux wheels, which a manylinux target prefers; a
    // plain linux target takes the pure wheel of the corpus.
    let tags = Tags::for_target((3, 11), "linux_x86_64").unwrap();
    let found = client.find_wheel("tomli", "2.5.0", &tags).await.unwrap();
    let FoundWheel::Url {
        url,
        filename,
        hashes,
    } = &found
    else {
        panic!("{found:?}");
    };
    // From shared/corpus.tsv.
    assert_eq!(filename.to_string(), "tomli-2.5.0-py3-none-any.whl");
    let sha256: Digest = "sha256:32a7b79ac57a2e83670ce329ccf675798bc5a2094783a63676866b70503f2e2b"
        .parse()
        .unwrap();
    assert!(hashes.contains(&sha256), "{hashes:?}");
    assert!(
        url.as_str().ends_with("/tomli-2.5.0-py3-none-any.whl"),
        "{url}"
    );

    let manylinux = Tags::for_target((3, 11), "manylinux_2_28_x86_64").unwrap();
    let compiled = client
        .find_wheel("tomli", "2.5.0", &manylinux)
        .await
        .unwrap();
    assert_eq!(compiled.filename().abi, "cp311", "{compiled:?}");

    // PyPI answered the Accept header with PEP 691 JSON, stored after two header lines.
    let shard = std::fs::read_dir(cache.bucket(CacheBucket::Simple))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let stored = std::fs::read(shard.join("tomli.page")).unwrap();
    let body = stored.splitn(3, |&byte| byte == b'\n').nth(2).unwrap();
    assert_eq!(
        body.first(),
        Some(&b'{'),
        "{}",
        String::from_utf8_lossy(&body[..100])
    );

    // The page is now cached: offline finds it again.
    let offline = HttpClient::new(ClientSettings {
        offline: true,
        ..ClientSettings::default()
    })
    .unwrap();
    let index_url = IndexClient::DEFAULT_INDEX.parse().unwrap();
    let again = IndexClient::new(offline, cache, index_url)
        .find_wheel("tomli", "2.5.0", &tags)
        .await
        .unwrap();
    assert_eq!(again, found);
}
