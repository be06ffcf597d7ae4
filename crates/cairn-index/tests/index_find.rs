//! `IndexClient::find_wheel` against a real HTTP server and real find-links directories:
//! choosing the best wheel, version matching, yanked files, and the errors when nothing fits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use cairn_cache::Cache;
use cairn_hash::Digest;
use cairn_http::{ClientSettings, HttpClient};
use cairn_index::{FoundWheel, IndexClient, IndexError};
use cairn_python::tags::Tags;
use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::wheel::WheelBuilder;

const SHA: &str = "32a7b79ac57a2e83670ce329ccf675798bc5a2094783a63676866b70503f2e2b";

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

fn tags() -> Tags {
    Tags::for_target((3, 11), "manylinux_2_28_x86_64").unwrap()
}

/// An HTML page linking `files`, each `(filename, extra attributes)`.
fn html(files: &[(&str, &str)]) -> String {
    let links: String = files
        .iter()
        .map(|(name, attributes)| {
            format!("<a href=\"/files/{name}#sha256={SHA}\" {attributes}>{name}</a>\n")
        })
        .collect();
    format!("<!DOCTYPE html><html><body>\n{links}</body></html>")
}

fn serve(server: &TestServer, project: &str, files: &[(&str, &str)]) {
    server.route(&format!("/simple/{project}/"), Response::ok(html(files)));
}

fn found_name(found: &FoundWheel) -> String {
    found.filename().to_string()
}

#[tokio::test]
async fn the_most_preferred_compatible_wheel_wins() {
    let server = TestServer::start().await;
    serve(
        &server,
        "numpy",
        &[
            ("numpy-2.4.6-cp311-cp311-win_amd64.whl", ""),
            (
                "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
                "",
            ),
            ("numpy-2.4.6-cp311-cp311-manylinux2014_x86_64.whl", ""),
            ("numpy-2.4.6-cp312-cp312-manylinux_2_28_x86_64.whl", ""),
            ("numpy-2.4.6-py3-none-any.whl", ""),
            ("numpy-2.4.6.tar.gz", ""),
            ("numpy-2.4.5-cp311-cp311-manylinux_2_28_x86_64.whl", ""),
        ],
    );
    let found = index(&server)
        .find_wheel("NumPy", "2.4.6", &tags())
        .await
        .unwrap();
    let FoundWheel::Url {
        url,
        filename,
        hashes,
    } = &found
    else {
        panic!("{found:?}");
    };
    assert_eq!(
        filename.to_string(),
        "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
    );
    assert_eq!(
        url,
        &server
            .url("/files/numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl")
    );
    assert_eq!(
        hashes,
        &[format!("sha256:{SHA}").parse::<Digest>().unwrap()]
    );
}

#[tokio::test]
async fn versions_match_as_pep_440_says() {
    let server = TestServer::start().await;
    serve(
        &server,
        "demo",
        &[
            ("demo-2.4.6.0-py3-none-any.whl", ""),
            ("demo-2.4.60-cp311-cp311-manylinux_2_28_x86_64.whl", ""),
        ],
    );
    let client = index(&server);
    for asked in ["2.4.6", "2.4.6.0", "v2.4.6", "2.4.6.0.0"] {
        let found = client.find_wheel("demo", asked, &tags()).await.unwrap();
        assert_eq!(
            found_name(&found),
            "demo-2.4.6.0-py3-none-any.whl",
            "{asked}"
        );
    }
    let error = client
        .find_wheel("demo", "not a version", &tags())
        .await
        .unwrap_err();
    assert!(
        matches!(error, IndexError::InvalidVersion { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_local_version_label_matches_its_public_version() {
    let server = TestServer::start().await;
    serve(
        &server,
        "torch",
        &[("torch-2.5.0+cpu-cp311-cp311-linux_x86_64.whl", "")],
    );
    let found = index(&server)
        .find_wheel("torch", "2.5.0", &tags())
        .await
        .unwrap();
    assert_eq!(
        found_name(&found),
        "torch-2.5.0+cpu-cp311-cp311-linux_x86_64.whl"
    );
}

#[tokio::test]
async fn a_higher_build_tag_wins_among_equal_tags() {
    let server = TestServer::start().await;
    serve(
        &server,
        "demo",
        &[
            ("demo-1.0-py3-none-any.whl", ""),
            ("demo-1.0-2-py3-none-any.whl", ""),
            ("demo-1.0-10b-py3-none-any.whl", ""),
        ],
    );
    let found = index(&server)
        .find_wheel("demo", "1.0", &tags())
        .await
        .unwrap();
    assert_eq!(found_name(&found), "demo-1.0-10b-py3-none-any.whl");
}

#[tokio::test]
async fn yanked_wheels_are_used_only_when_nothing_else_fits() {
    let server = TestServer::start().await;
    serve(
        &server,
        "demo",
        &[
            (
                "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                "data-yanked=\"segfaults\"",
            ),
            ("demo-1.0-py3-none-any.whl", ""),
            ("demo-2.0-py3-none-any.whl", "data-yanked=\"\""),
        ],
    );
    let client = index(&server);
    let found = client.find_wheel("demo", "1.0", &tags()).await.unwrap();
    assert_eq!(
        found_name(&found),
        "demo-1.0-py3-none-any.whl",
        "the unyanked one wins"
    );
    let found = client.find_wheel("demo", "2.0", &tags()).await.unwrap();
    assert_eq!(
        found_name(&found),
        "demo-2.0-py3-none-any.whl",
        "pinned: yanked is usable"
    );
}

#[tokio::test]
async fn requires_python_passes_over_wheels_for_other_pythons() {
    let server = TestServer::start().await;
    serve(
        &server,
        "demo",
        &[
            (
                "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                "data-requires-python=\"&gt;=3.12\"",
            ),
            (
                "demo-1.0-py3-none-any.whl",
                "data-requires-python=\"&gt;=3.11.4,&lt;4\"",
            ),
            (
                "demo-2.0-py3-none-any.whl",
                "data-requires-python=\"&gt;=3.12\"",
            ),
            (
                "demo-3.0-py3-none-any.whl",
                "data-requires-python=\"not a specifier\"",
            ),
        ],
    );
    let client = index(&server);
    let found = client.find_wheel("demo", "1.0", &tags()).await.unwrap();
    assert_eq!(found_name(&found), "demo-1.0-py3-none-any.whl");
    let error = client.find_wheel("demo", "2.0", &tags()).await.unwrap_err();
    assert!(
        matches!(error, IndexError::RequiresPython { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(">=3.12") && message.contains("3.11"),
        "{message}"
    );
    let found = client.find_wheel("demo", "3.0", &tags()).await.unwrap();
    assert_eq!(
        found_name(&found),
        "demo-3.0-py3-none-any.whl",
        "invalid specifiers are ignored"
    );
}

#[tokio::test]
async fn a_missing_version_lists_the_versions_seen() {
    let server = TestServer::start().await;
    let names: Vec<String> = (0..30)
        .map(|minor| format!("demo-1.{minor}-py3-none-any.whl"))
        .chain([
            "demo-0.9.tar.gz".to_owned(),
            "other-5.0-py3-none-any.whl".to_owned(),
        ])
        .collect();
    let files: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "")).collect();
    serve(&server, "demo", &files);
    let error = index(&server)
        .find_wheel("demo", "7.0", &tags())
        .await
        .unwrap_err();
    assert!(
        matches!(error, IndexError::VersionNotFound { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("no version 7.0"), "{message}");
    assert!(
        message.contains("1.18, 1.19, 1.20") && message.ends_with("1.29 (and 19 older)"),
        "{message}"
    );
    assert!(
        !message.contains("5.0"),
        "another project's file is not a version: {message}"
    );
}

#[tokio::test]
async fn an_sdist_only_version_says_cairn_does_not_build() {
    let server = TestServer::start().await;
    serve(
        &server,
        "demo",
        &[
            ("demo-1.0.tar.gz", ""),
            ("demo-1.0.zip", ""),
            ("demo-2.0-py3-none-any.whl", ""),
        ],
    );
    let error = index(&server)
        .find_wheel("demo", "1.0", &tags())
        .await
        .unwrap_err();
    assert!(matches!(error, IndexError::NoWheel { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("no wheel") && message.contains("building from source is turned off"),
        "{message}"
    );
    assert!(
        message.contains("demo-1.0.tar.gz, demo-1.0.zip"),
        "{message}"
    );
}

#[tokio::test]
async fn no_compatible_wheel_lists_the_wheels_and_the_tags_wanted() {
    let server = TestServer::start().await;
    serve(
        &server,
        "demo",
        &[
            ("demo-1.0-cp312-cp312-manylinux_2_28_x86_64.whl", ""),
            ("demo-1.0-cp311-cp311-win_amd64.whl", ""),
            ("demo-1.0-cp311-cp311-macosx_11_0_arm64.whl", ""),
        ],
    );
    let error = index(&server)
        .find_wheel("demo", "1.0", &tags())
        .await
        .unwrap_err();
    assert!(
        matches!(error, IndexError::NoCompatibleWheel { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("demo-1.0-cp311-cp311-win_amd64.whl"),
        "{message}"
    );
    assert!(
        message.contains("cp311-cp311-linux_x86_64, cp311-cp311-manylinux_2_28_x86_64"),
        "{message}"
    );
    assert!(
        message.contains(&format!("({} tags in all)", tags().len())),
        "{message}"
    );
    assert!(
        message.len() < 1000,
        "trimmed to a readable length: {message}"
    );
}

#[tokio::test]
async fn find_links_are_searched_before_the_index() {
    let server = TestServer::start().await;
    serve(
        &server,
        "demo",
        &[("demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", "")],
    );
    let dir = tempfile::tempdir().unwrap();
    let local = WheelBuilder::new("Demo", "1.0").build(dir.path());
    WheelBuilder::new("demo", "1.0")
        .tags("cp311-cp311-win_amd64")
        .build(dir.path());
    WheelBuilder::new("other", "1.0").build(dir.path());
    std::fs::create_dir(dir.path().join("demo-9.0-py3-none-any.whl")).unwrap();

    let client = index(&server).with_find_links(vec![dir.path().to_owned()]);
    let found = client.find_wheel("demo", "1.0", &tags()).await.unwrap();
    assert_eq!(
        found,
        FoundWheel::Path {
            path: local.clone(),
            filename: local
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        }
    );
    assert_eq!(server.total_hits(), 0, "the index is not asked");

    // A version only the index has is found there.
    serve(&server, "demo", &[("demo-2.0-py3-none-any.whl", "")]);
    let found = client.find_wheel("demo", "2.0", &tags()).await.unwrap();
    assert!(matches!(found, FoundWheel::Url { .. }), "{found:?}");

    // A directory entry named like a wheel is not a wheel.
    let error = client.find_wheel("demo", "9.0", &tags()).await.unwrap_err();
    assert!(
        matches!(error, IndexError::VersionNotFound { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn find_links_work_offline_and_a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    WheelBuilder::new("demo", "1.0").build(dir.path());
    let offline = HttpClient::new(ClientSettings {
        offline: true,
        ..ClientSettings::default()
    })
    .unwrap();
    let index_url = "https://pypi.org/simple/".parse().unwrap();
    let client = IndexClient::new(offline, Cache::temporary().unwrap(), index_url)
        .with_find_links(vec![dir.path().to_owned()]);
    let found = client.find_wheel("demo", "1.0", &tags()).await.unwrap();
    assert!(matches!(found, FoundWheel::Path { .. }), "{found:?}");
    let error = client.find_wheel("demo", "2.0", &tags()).await.unwrap_err();
    assert!(matches!(error, IndexError::Offline { .. }), "{error:?}");

    let missing: PathBuf = dir.path().join("nope");
    let client = client.with_find_links(vec![missing.clone()]);
    let error = client.find_wheel("demo", "1.0", &tags()).await.unwrap_err();
    assert!(matches!(error, IndexError::FindLinks { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&missing.display().to_string()),
        "{error}"
    );
}

/// An index URL's credentials never show in an error that names the index.
#[tokio::test]
async fn an_index_url_with_credentials_is_shown_redacted() {
    let server = TestServer::start().await;
    let mut url = server.url("/simple/");
    url.set_username("__token__").unwrap();
    url.set_password(Some("s3cret")).unwrap();
    let client = IndexClient::new(http(), Cache::temporary().unwrap(), url);
    let error = client
        .find_wheel("missing", "1.0", &tags())
        .await
        .unwrap_err();
    assert!(
        matches!(error, IndexError::ProjectNotFound { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        !message.contains("s3cret") && !message.contains("__token__"),
        "{message}"
    );
    assert!(message.contains("****:****@"), "{message}");
}
