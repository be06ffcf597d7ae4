//! `cairn install` end to end: a real index on 127.0.0.1, real wheels, a real python3 importing
//! what was installed and running its console script.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::wheel::WheelBuilder;
use support::cairn;

#[track_caller]
fn success(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "cairn failed: {stderr}");
    stderr
}

fn python(target: &Path, code: &str) -> String {
    let output = Command::new("python3")
        .args(["-c", code])
        .env("PYTHONPATH", target)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn demo_wheel() -> WheelBuilder {
    WheelBuilder::new("demo-app", "1.0")
        .file("demo_app/__init__.py", "GREETING = 'hello from demo'\n")
        .file("demo_app/cli.py", "import sys\nfrom demo_app import GREETING\ndef main():\n    print(GREETING, *sys.argv[1:])\n    return 3\n")
        .entry_points("[console_scripts]\ndemo-app = demo_app.cli:main\n")
}

/// A PEP 503 index with one project, serving its wheel with its SHA-256 in the link.
struct Index {
    server: TestServer,
    runtime: tokio::runtime::Runtime,
    sha256: String,
}

impl Index {
    fn start(wheel: &WheelBuilder) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = runtime.block_on(TestServer::start());
        let bytes = wheel.to_bytes();
        let sha256 = {
            let mut hasher = cairn_hash::HasherSet::new(&["sha256".parse().unwrap()]);
            hasher.update(&bytes);
            hasher
                .finalize()
                .get("sha256".parse().unwrap())
                .unwrap()
                .to_hex()
        };
        let filename = wheel.filename();
        let page = format!(
            "<html><body><a href=\"../../files/{filename}#sha256={sha256}\">{filename}</a></body></html>"
        );
        server.route(
            "/simple/demo-app/",
            Response::ok(page).header("Content-Type", "text/html"),
        );
        server.route(&format!("/files/{filename}"), Response::ok(bytes));
        Self {
            server,
            runtime,
            sha256,
        }
    }

    fn url(&self) -> String {
        self.server.url("/simple/").to_string()
    }

    fn downloads(&self, wheel: &WheelBuilder) -> usize {
        self.server.hits(&format!("/files/{}", wheel.filename()))
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
    }
}

/// Unpacked archives (directories; their manifests sit beside them as files).
fn archives(cache: &Path) -> Vec<PathBuf> {
    let Ok(shards) = std::fs::read_dir(cache.join("archive-v0")) else {
        return Vec::new();
    };
    shards
        .flat_map(|shard| std::fs::read_dir(shard.unwrap().path()).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect()
}

fn archive_count(cache: &Path) -> usize {
    archives(cache).len()
}

#[test]
fn installs_from_an_index_then_reuses_the_archive_in_every_mode() {
    let wheel = demo_wheel();
    let index = Index::start(&wheel);
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");

    for (round, mode) in ["copy", "hardlink"].into_iter().enumerate() {
        let target = work.path().join(format!("target-{mode}"));
        let stderr = success(&cairn(
            &cache,
            &[
                "install",
                "demo-app==1.0",
                "--index-url",
                &index.url(),
                "--target",
                target.to_str().unwrap(),
                "--link-mode",
                mode,
            ],
        ));
        assert!(stderr.contains("+ demo-app==1.0"), "{stderr}");
        assert_eq!(
            python(&target, "import demo_app; print(demo_app.GREETING)"),
            "hello from demo\n"
        );

        // The console script runs with the interpreter in its shebang.
        let script = target.join("bin").join("demo-app");
        let run = Command::new(&script)
            .arg("world")
            .env("PYTHONPATH", &target)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&run.stdout),
            "hello from demo world\n"
        );
        assert_eq!(run.status.code(), Some(3));

        // The second round reuses the archive: no download, no new unpack.
        assert_eq!(index.downloads(&wheel), 1, "round {round}");
        assert_eq!(archive_count(&cache), 1, "{:?}", archives(&cache));

        let installed = std::fs::metadata(target.join("demo_app").join("__init__.py")).unwrap();
        let archive = find_archive_file(&cache, "demo_app/__init__.py");
        let shared = installed.ino() == std::fs::metadata(&archive).unwrap().ino();
        assert_eq!(
            shared,
            mode == "hardlink",
            "{mode}: inode shared with the cache only for hardlinks"
        );
        let record =
            std::fs::metadata(target.join("demo_app-1.0.dist-info").join("RECORD")).unwrap();
        assert_eq!(record.nlink(), 1, "RECORD is always a real copy");
    }
}

fn find_archive_file(cache: &Path, relative: &str) -> PathBuf {
    archives(cache).remove(0).join(relative)
}

#[test]
fn requirements_files_with_hashes_are_enforced() {
    let wheel = demo_wheel();
    let index = Index::start(&wheel);
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let target = work.path().join("target");

    let good = work.path().join("good.txt");
    std::fs::write(&good, format!("# pinned\ndemo-app==1.0 \\\n    --hash=sha256:{}\nnever==1 ; sys_platform == 'win32'\n", index.sha256)).unwrap();
    success(&cairn(
        &cache,
        &[
            "install",
            "-r",
            good.to_str().unwrap(),
            "--index-url",
            &index.url(),
            "--target",
            target.to_str().unwrap(),
        ],
    ));
    assert_eq!(python(&target, "import demo_app; print('ok')"), "ok\n");

    let bad = work.path().join("bad.txt");
    std::fs::write(
        &bad,
        format!("demo-app==1.0 --hash=sha256:{}\n", "0".repeat(64)),
    )
    .unwrap();
    let other = work.path().join("other-target");
    let output = cairn(
        &cache,
        &[
            "install",
            "-r",
            bad.to_str().unwrap(),
            "--index-url",
            &index.url(),
            "--target",
            other.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("hash mismatch"), "{stderr}");
    assert!(!other.join("demo_app").exists());
}

#[test]
fn find_links_and_offline_need_no_index() {
    let wheel = demo_wheel();
    let work = tempfile::tempdir().unwrap();
    let links = work.path().join("wheels");
    std::fs::create_dir(&links).unwrap();
    wheel.build(&links);
    let target = work.path().join("target");
    let output = cairn(
        &work.path().join("cache"),
        &[
            "--offline",
            "install",
            "demo-app==1.0",
            "--find-links",
            links.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    );
    success(&output);
    assert_eq!(python(&target, "import demo_app; print('ok')"), "ok\n");
}

#[test]
fn an_incompatible_or_missing_wheel_is_a_clear_error() {
    let work = tempfile::tempdir().unwrap();
    let links = work.path().join("wheels");
    std::fs::create_dir(&links).unwrap();
    demo_wheel().tags("cp27-cp27m-win32").build(&links);
    let output = cairn(
        &work.path().join("cache"),
        &[
            "--offline",
            "install",
            "demo-app==1.0",
            "--find-links",
            links.to_str().unwrap(),
            "--target",
            work.path().join("t").to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("demo"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Real wheels from the corpus (`scripts/fetch-corpus.sh`), when present.
#[test]
fn real_corpus_wheels_import() {
    let corpus = std::env::var_os("CAIRN_WHEEL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus"));
    if !corpus
        .join("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl")
        .is_file()
    {
        eprintln!(
            "skipped: no corpus at {} (run scripts/fetch-corpus.sh)",
            corpus.display()
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    success(&cairn(
        &work.path().join("cache"),
        &[
            "--offline",
            "install",
            "numpy==2.4.6",
            "tomli==2.5.0",
            "--find-links",
            corpus.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    ));
    let out = python(
        &target,
        "import numpy, tomli; print(numpy.__version__, numpy.arange(4).sum(), tomli.loads('a = 1')['a'])",
    );
    assert_eq!(out, "2.4.6 6 1\n");
}

/// A script in `dir` that appends a line to `dir/python.runs` each time it runs, sleeps for
/// `sleep` (shell syntax), then runs the real `python3`: returns the script and the log.
fn counting_python(dir: &Path, sleep: &str) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;

    let real = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap();
    let runs = dir.join("python.runs");
    let python = dir.join("python");
    std::fs::write(
        &python,
        format!(
            "#!/bin/sh\necho run >> '{}'\nsleep {sleep}\nexec '{}' \"$@\"\n",
            runs.display(),
            real.trim()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    (python, runs)
}

/// Installs started together on a cold cache start the interpreter once: the others wait for
/// its record instead of each running their own query. The wrapper sleeps so that they overlap.
#[test]
fn processes_started_together_query_the_interpreter_once() {
    let work = tempfile::tempdir().unwrap();
    let links = work.path().join("wheels");
    std::fs::create_dir(&links).unwrap();
    demo_wheel().build(&links);
    let (python, runs) = counting_python(work.path(), "0.5");

    let cache = work.path().join("cache");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let target = work.path().join(format!("target-{i}"));
            support::command(
                &cache,
                &[
                    "--offline",
                    "install",
                    "demo-app==1.0",
                    "--find-links",
                    links.to_str().unwrap(),
                    "--python",
                    python.to_str().unwrap(),
                    "--target",
                    target.to_str().unwrap(),
                ],
            )
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        success(&child.wait_with_output().unwrap());
    }
    let count = std::fs::read_to_string(&runs).unwrap().lines().count();
    assert_eq!(count, 1, "the interpreter ran {count} times for 4 installs");
}

/// A requirements file with markers costs one run of the interpreter: the same query answers
/// the marker environment and the tags (and a second install, none).
#[test]
fn an_install_from_a_file_with_markers_runs_the_interpreter_once() {
    let work = tempfile::tempdir().unwrap();
    let links = work.path().join("wheels");
    std::fs::create_dir(&links).unwrap();
    demo_wheel().build(&links);
    let (wrapper, runs) = counting_python(work.path(), "0");
    let requirements = work.path().join("requirements.txt");
    std::fs::write(
        &requirements,
        "demo-app==1.0 ; python_version >= '3'\nnever==1 ; sys_platform == 'win32'\n",
    )
    .unwrap();

    let cache = work.path().join("cache");
    let run_count = || {
        std::fs::read_to_string(&runs)
            .map(|text| text.lines().count())
            .unwrap_or(0)
    };
    for (i, expected_runs) in [(0, 1), (1, 1)] {
        let target = work.path().join(format!("target-{i}"));
        success(&cairn(
            &cache,
            &[
                "--offline",
                "install",
                "-r",
                requirements.to_str().unwrap(),
                "--find-links",
                links.to_str().unwrap(),
                "--python",
                wrapper.to_str().unwrap(),
                "--target",
                target.to_str().unwrap(),
            ],
        ));
        assert_eq!(python(&target, "import demo_app; print('ok')"), "ok\n");
        assert_eq!(run_count(), expected_runs, "install {i}");
    }
}
