//! The real `cairn` binary given inputs that must not fool it: the same relative
//! `--find-links` from two directories, a wheel whose contents contradict its file name, a
//! server's HTML page where a wheel was expected, and requirements files that are too big,
//! unfinished or full of hashes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::wheel::WheelBuilder;
use cairn_test_support::zipgen::{Entry, ZipBuilder};
use support::{cairn, command, stderr};

#[track_caller]
fn success(output: &Output) -> String {
    let text = stderr(output);
    assert!(output.status.success(), "cairn failed: {text}");
    text
}

#[track_caller]
fn failure(output: &Output) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}

/// A `demo 1.0` wheel with stored entries, so that two values give two wheels of one size.
fn demo(value: u8) -> Vec<u8> {
    ZipBuilder::new()
        .entry(Entry::stored("demo/__init__.py", format!("VALUE = {value}\n")))
        .entry(Entry::stored(
            "demo-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        ))
        .entry(Entry::stored(
            "demo-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ))
        .entry(Entry::stored(
            "demo-1.0.dist-info/RECORD",
            "demo/__init__.py,,\ndemo-1.0.dist-info/METADATA,,\ndemo-1.0.dist-info/WHEEL,,\ndemo-1.0.dist-info/RECORD,,\n",
        ))
        .build()
}

#[test]
fn a_relative_find_links_installs_the_wheel_of_the_current_directory() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let (first, second) = (demo(1), demo(2));
    assert_eq!(first.len(), second.len(), "the test needs equal sizes");
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for (dir, bytes) in [("a", &first), ("b", &second)] {
        let links = work.path().join(dir).join("fl");
        std::fs::create_dir_all(&links).unwrap();
        let wheel = links.join("demo-1.0-py3-none-any.whl");
        std::fs::write(&wheel, bytes).unwrap();
        let file = std::fs::File::options().write(true).open(&wheel).unwrap();
        file.set_modified(mtime).unwrap();
    }
    for (dir, expected) in [("a", "VALUE = 1\n"), ("b", "VALUE = 2\n")] {
        let cwd = work.path().join(dir);
        let output = command(
            &cache,
            &[
                "--offline",
                "install",
                "demo==1.0",
                "--find-links",
                "fl",
                "--target",
                "target",
            ],
        )
        .current_dir(&cwd)
        .output()
        .unwrap();
        success(&output);
        let installed = std::fs::read_to_string(cwd.join("target/demo/__init__.py")).unwrap();
        assert_eq!(installed, expected, "installed into {dir}");
    }
}

/// tomli 2.5.0's bytes, written under the file name `name` in `dir`.
fn tomli_as(dir: &Path, name: &str) {
    let bytes = WheelBuilder::new("tomli", "2.5.0")
        .file("tomli/__init__.py", "__version__ = '2.5.0'\n")
        .to_bytes();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Every file the cache holds under its archive, pointer and index buckets.
fn cached_files(cache: &Path) -> usize {
    let mut count = 0;
    let mut stack: Vec<_> = ["archive-v0", "wheels-v0", "hashes-v1"]
        .iter()
        .map(|bucket| cache.join(bucket))
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
                count += 1;
            }
        }
    }
    count
}

#[test]
fn a_wheel_whose_contents_contradict_its_file_name_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let links = work.path().join("fl");
    std::fs::create_dir(&links).unwrap();
    tomli_as(&links, "tomli-9.9.9-py3-none-any.whl");
    let target = work.path().join("target");
    let output = cairn(
        &cache,
        &[
            "--offline",
            "install",
            "tomli==9.9.9",
            "--find-links",
            links.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    );
    let text = failure(&output);
    for part in ["tomli-9.9.9-py3-none-any.whl", "tomli 2.5.0", "tomli 9.9.9"] {
        assert!(text.contains(part), "`{part}` missing: {text}");
    }
    assert_eq!(cached_files(&cache), 0, "{text}");
    assert!(!target.join("tomli").exists());

    // `fetch` of the same bytes under numpy's name.
    let numpy = "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl";
    tomli_as(work.path(), numpy);
    let output = cairn(
        &cache,
        &["fetch", work.path().join(numpy).to_str().unwrap()],
    );
    let text = failure(&output);
    for part in [numpy, "tomli 2.5.0", "numpy 2.4.6"] {
        assert!(text.contains(part), "`{part}` missing: {text}");
    }
    assert_eq!(cached_files(&cache), 0, "{text}");
}

#[test]
fn an_html_page_where_a_wheel_was_expected_is_named() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start());
    let path = "/files/demo-1.0-py3-none-any.whl";
    server.route(
        path,
        Response::ok("<!doctype html><html><body><h1>Sign in</h1></body></html>")
            .header("Content-Type", "text/html"),
    );
    let work = tempfile::tempdir().unwrap();
    let output = cairn(
        &work.path().join("cache"),
        &["fetch", server.url(path).as_str()],
    );
    let text = failure(&output);
    assert!(text.contains("sent an HTML page, not a wheel"), "{text}");
    assert!(!text.contains("offset 0"), "{text}");
    assert_eq!(server.hits(path), 1);
}

#[cfg(unix)]
#[test]
fn an_endless_requirements_file_is_refused_at_the_cap() {
    let work = tempfile::tempdir().unwrap();
    let output = cairn(
        &work.path().join("cache"),
        &[
            "--offline",
            "install",
            "-r",
            "/dev/zero",
            "--target",
            work.path().join("t").to_str().unwrap(),
        ],
    );
    let text = failure(&output);
    assert!(text.contains("/dev/zero"), "{text}");
    assert!(text.contains("larger than 16 MiB"), "{text}");
}

#[test]
fn a_trailing_backslash_names_the_file_and_line() {
    let work = tempfile::tempdir().unwrap();
    let requirements = work.path().join("requirements.txt");
    std::fs::write(&requirements, "demo==1.0 \\\n    --hash=sha256:00 \\\n").unwrap();
    let output = cairn(
        &work.path().join("cache"),
        &[
            "--offline",
            "install",
            "-r",
            requirements.to_str().unwrap(),
            "--target",
            work.path().join("t").to_str().unwrap(),
        ],
    );
    let text = failure(&output);
    assert!(
        text.contains(&format!("{}:1:", requirements.display())),
        "{text}"
    );
    assert!(text.contains("the file ends there"), "{text}");
}

#[test]
fn the_retry_budget_comes_from_the_environment() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start());
    let path = "/files/demo-1.0-py3-none-any.whl";
    server.route(path, Response::status(500));
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let url = server.url(path);
    let output = command(&cache, &["fetch", url.as_str()])
        .env("CAIRN_HTTP_RETRIES", "1")
        .output()
        .unwrap();
    failure(&output);
    assert_eq!(server.hits(path), 2, "one attempt and one retry");

    let output = command(&cache, &["fetch", url.as_str()])
        .env("CAIRN_HTTP_RETRIES", "lots")
        .output()
        .unwrap();
    let text = failure(&output);
    assert!(text.contains("CAIRN_HTTP_RETRIES"), "{text}");
    assert_eq!(server.hits(path), 2, "nothing fetched with a bad setting");
}

#[cfg(unix)]
#[test]
fn a_cache_dir_that_is_a_dangling_symlink_is_named() {
    let work = tempfile::tempdir().unwrap();
    let link = work.path().join("cache");
    std::os::unix::fs::symlink(work.path().join("gone"), &link).unwrap();
    let wheel = WheelBuilder::new("demo", "1.0").build(work.path());
    let text = failure(&cairn(&link, &["fetch", wheel.to_str().unwrap()]));
    assert!(text.contains("symlink") && text.contains("gone"), "{text}");
    assert!(!text.contains("File exists"), "{text}");
}
