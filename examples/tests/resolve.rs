//! Runs the resolver example against a Simple API index served on 127.0.0.1: dependencies found
//! through PEP 658 metadata and through fetched wheels, markers, yanked files, Requires-Python,
//! and a conflict that a resolver without backtracking must report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::wheel::WheelBuilder;
use sha2::Digest as _;

/// One file on the index: the wheel, and the attributes of its link.
struct Listed {
    wheel: WheelBuilder,
    /// Served as `<wheel>.metadata` and announced with `data-core-metadata`.
    metadata: bool,
    attributes: &'static str,
}

fn listed(wheel: WheelBuilder) -> Listed {
    Listed {
        wheel,
        metadata: false,
        attributes: "",
    }
}

/// Serves the project `name`'s page and files.
fn serve(server: &TestServer, name: &str, files: Vec<Listed>) {
    let mut links = String::new();
    for file in files {
        let filename = file.wheel.filename();
        let bytes = file.wheel.to_bytes();
        let sha = hex(&sha2::Sha256::digest(&bytes));
        let mut attributes = file.attributes.to_owned();
        if file.metadata {
            let metadata = file.wheel.metadata_file();
            let metadata_sha = hex(&sha2::Sha256::digest(metadata.as_bytes()));
            attributes.push_str(&format!(" data-core-metadata=\"sha256={metadata_sha}\""));
            server.route(
                &format!("/files/{filename}.metadata"),
                Response::ok(metadata),
            );
        }
        server.route(&format!("/files/{filename}"), Response::ok(bytes));
        links.push_str(&format!(
            "<a href=\"/files/{filename}#sha256={sha}\"{attributes}>{filename}</a>\n"
        ));
    }
    server.route(
        &format!("/simple/{name}/"),
        Response::ok(format!("<html><body>\n{links}</body></html>")),
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The index: `app` needs `lib>=2` (and, on Python 2 only, `never`); `lib` 2.0 needs `tiny`.
fn index(server: &TestServer) {
    let app = WheelBuilder::new("app", "1.0")
        .file("app/__init__.py", "import lib\n")
        .metadata("Requires-Dist: lib>=2")
        .metadata("Requires-Dist: never; python_version < \"3\"");
    serve(
        server,
        "app",
        vec![Listed {
            metadata: true,
            ..listed(app)
        }],
    );
    let lib = |version: &str| {
        WheelBuilder::new("lib", version)
            .file("lib/__init__.py", format!("VERSION = {version:?}\n"))
            .metadata("Requires-Dist: tiny>=0.5")
    };
    serve(
        server,
        "lib",
        vec![
            listed(lib("1.0")),
            listed(lib("2.0")),
            Listed {
                attributes: " data-yanked=\"broken\"",
                ..listed(lib("2.1"))
            },
            Listed {
                attributes: " data-requires-python=\"&lt;3\"",
                ..listed(lib("3.0"))
            },
        ],
    );
    let tiny = WheelBuilder::new("tiny", "0.5").file("tiny.py", "X = 5\n");
    serve(
        server,
        "tiny",
        vec![Listed {
            metadata: true,
            ..listed(tiny)
        }],
    );
}

fn run_example(server: &TestServer, target: &Path, cache: &Path, requirements: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-resolve-example"))
        .arg("--index-url")
        .arg(server.url("/simple/").as_str())
        .arg("--target")
        .arg(target)
        .arg("--cache-dir")
        .arg(cache)
        .args(requirements)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolves_fetches_and_installs_the_dependency_closure() {
    let server = TestServer::start().await;
    index(&server);
    let work = tempfile::tempdir().unwrap();
    let (target, cache) = (work.path().join("site"), work.path().join("cache"));
    // The server runs on this test's runtime; the example is a child process.
    let output =
        tokio::task::block_in_place(|| run_example(&server, &target, &cache, &["app==1.0"]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "app==1.0\nlib==2.0\ntiny==0.5\n"
    );
    // Python sees the installed set.
    let python = Command::new("python3")
        .env("PYTHONPATH", &target)
        .args(["-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import app, lib, tiny; print(lib.VERSION, tiny.X)"])
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&python.stdout), "2.0 5\n");
    // Only the root was asked for; its dependencies are not REQUESTED. None came from a direct
    // URL.
    for (dist_info, requested) in [
        ("app-1.0.dist-info", true),
        ("lib-2.0.dist-info", false),
        ("tiny-0.5.dist-info", false),
    ] {
        let dir = target.join(dist_info);
        assert_eq!(dir.join("REQUESTED").is_file(), requested, "{dist_info}");
        assert!(!dir.join("direct_url.json").exists(), "{dist_info}");
    }
    // PEP 658 metadata spared the downloads of app and tiny until the install; the yanked and
    // the too-new lib were never fetched; the Python 2 dependency was never looked up.
    assert_eq!(server.hits("/files/app-1.0-py3-none-any.whl.metadata"), 1);
    assert_eq!(server.hits("/files/tiny-0.5-py3-none-any.whl.metadata"), 1);
    assert_eq!(server.hits("/files/lib-2.1-py3-none-any.whl"), 0);
    assert_eq!(server.hits("/files/lib-3.0-py3-none-any.whl"), 0);
    assert_eq!(server.hits("/simple/never/"), 0);
    // lib 2.0 offers no metadata: its wheel was fetched once, for its METADATA and the install.
    assert_eq!(server.hits("/files/lib-2.0-py3-none-any.whl"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_is_reported_with_both_sides() {
    let server = TestServer::start().await;
    index(&server);
    let work = tempfile::tempdir().unwrap();
    let (target, cache) = (work.path().join("site"), work.path().join("cache"));
    let output = tokio::task::block_in_place(|| {
        run_example(&server, &target, &cache, &["app==1.0", "lib<2"])
    });
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("conflict: lib 1.0 was chosen for lib<2 (from the command line)")
            && stderr.contains("lib>=2 (from app==1.0) excludes it"),
        "{stderr}"
    );
    assert!(
        !target.exists(),
        "nothing is installed after a failed resolution"
    );
}
