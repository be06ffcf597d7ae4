//! The `cairn` binary end to end: real processes, real files, a real HTTP server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::wheel::WheelBuilder;
use support::{cairn, stderr, stdout};

#[test]
fn fetch_prints_the_archive_and_json_reports_hits() {
    let work = tempfile::tempdir().unwrap();
    let wheel = WheelBuilder::new("demo", "1.0")
        .file("demo/__init__.py", "X = 1\n")
        .build(work.path());
    let cache = work.path().join("cache");
    let wheel_arg = wheel.to_str().unwrap();

    let first = cairn(&cache, &["fetch", wheel_arg]);
    assert!(first.status.success(), "{}", stderr(&first));
    let archive = stdout(&first).trim().to_owned();
    assert!(
        archive.starts_with(cache.join("archive-v0").to_str().unwrap()),
        "{archive}"
    );
    assert!(
        Path::new(&archive)
            .join("demo")
            .join("__init__.py")
            .is_file()
    );

    let second = cairn(&cache, &["fetch", "--json", wheel_arg]);
    assert!(second.status.success(), "{}", stderr(&second));
    let records: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let record = &records[0];
    assert_eq!(record["hit"], true);
    assert_eq!(record["archive"], archive.as_str());
    assert_eq!(record["filename"], "demo-1.0-py3-none-any.whl");
    assert_eq!(record["bytes"], std::fs::metadata(&wheel).unwrap().len());
    assert!(
        record["digests"][0]
            .as_str()
            .unwrap()
            .starts_with("blake3:")
    );
}

#[test]
fn a_wrong_hash_fails_with_a_report_and_exit_code_1() {
    let work = tempfile::tempdir().unwrap();
    let wheel = WheelBuilder::new("demo", "1.0").build(work.path());
    let cache = work.path().join("cache");
    let wrong = format!("sha256:{}", "a".repeat(64));
    let output = cairn(
        &cache,
        &["fetch", wheel.to_str().unwrap(), "--hash", &wrong],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with("error: hash mismatch for "),
        "{message}"
    );
    assert!(message.contains(&"a".repeat(64)), "{message}");
    assert!(!cache.join("archive-v0").exists());
}

#[test]
fn bad_input_is_reported_not_panicked_on() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    for (args, expected) in [
        (
            vec!["fetch", "/nonexistent/demo-1.0-py3-none-any.whl"],
            "cannot read the wheel",
        ),
        (
            vec!["fetch", "/tmp/not-a-wheel.txt"],
            "not a wheel file name",
        ),
        (
            vec!["fetch", "demo-1.0-py3-none-any.whl", "--hash", "md5:00"],
            "md5",
        ),
        (vec!["hash", "-a", "crc32", "/etc/hostname"], "crc32"),
    ] {
        let output = cairn(&cache, &args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{message}");
    }
}

#[test]
fn a_zero_unpack_count_is_refused_by_the_argument_parser() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    for value in ["0", "many"] {
        let output = cairn(
            &cache,
            &[
                "--concurrent-unpacks",
                value,
                "fetch",
                "/tmp/demo-1.0-py3-none-any.whl",
            ],
        );
        assert_eq!(output.status.code(), Some(2), "{value}");
        let message = stderr(&output);
        assert!(
            message.contains("--concurrent-unpacks"),
            "{value}: {message}"
        );
    }
}

#[test]
fn hash_prints_like_sha256sum() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("abc.txt");
    std::fs::write(&file, "abc").unwrap();
    let output = cairn(
        &work.path().join("cache"),
        &["hash", file.to_str().unwrap()],
    );
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        format!(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  {}\n",
            file.display()
        )
    );
    let both = cairn(
        &work.path().join("cache"),
        &["hash", "-a", "blake3,sha256", file.to_str().unwrap()],
    );
    let text = stdout(&both);
    assert!(
        text.starts_with(
            "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85  "
        ),
        "{text}"
    );
    assert!(text.contains("\nsha256:ba7816bf"), "{text}");
}

#[test]
fn fetch_over_http_then_offline() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start());
    let bytes = WheelBuilder::new("demo", "1.0")
        .file("demo/__init__.py", "X = 1\n")
        .to_bytes();
    server.route(
        "/w/demo-1.0-py3-none-any.whl",
        Response::ok(bytes).etag("\"1\"").cache_control("no-cache"),
    );
    let url = server.url("/w/demo-1.0-py3-none-any.whl").to_string();
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");

    let offline_miss = cairn(&cache, &["--offline", "fetch", &url]);
    assert_eq!(offline_miss.status.code(), Some(1));
    assert!(
        stderr(&offline_miss).contains("offline"),
        "{}",
        stderr(&offline_miss)
    );

    let online = cairn(&cache, &["fetch", &url]);
    assert!(online.status.success(), "{}", stderr(&online));
    let offline_hit = cairn(&cache, &["--offline", "fetch", "--json", &url]);
    assert!(offline_hit.status.success(), "{}", stderr(&offline_hit));
    let records: serde_json::Value = serde_json::from_slice(&offline_hit.stdout).unwrap();
    assert_eq!(records[0]["hit"], true);
    assert_eq!(server.hits("/w/demo-1.0-py3-none-any.whl"), 1);
}
