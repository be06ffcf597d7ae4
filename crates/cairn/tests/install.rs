//! `cairn install` end to end: a real index on 127.0.0.1, real wheels, a real python3 importing
//! what was installed and running its console script.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::venv::{self, Pip};
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
fn a_pinned_requirement_whose_archive_is_cached_needs_no_index_request() {
    let wheel = demo_wheel();
    let index = Index::start(&wheel);
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    // The pins of a `--generate-hashes` file: every wheel of the version, most for other
    // platforms than this one.
    let pinned = work.path().join("pinned.txt");
    std::fs::write(
        &pinned,
        format!(
            "demo-app==1.0 \\\n    --hash=sha256:{} \\\n    --hash=sha256:{}\n",
            "1".repeat(64),
            index.sha256
        ),
    )
    .unwrap();
    let index_url = index.url();
    let install = |target: &str, extra: &[&str]| {
        let target = work.path().join(target);
        let mut args = vec![
            "install",
            "-r",
            pinned.to_str().unwrap(),
            "--index-url",
            &index_url,
            "--target",
            target.to_str().unwrap(),
        ];
        args.extend(extra);
        let output = cairn(&cache, &args);
        (output, target)
    };
    let (output, _) = install("first", &[]);
    success(&output);
    let served = index.server.total_hits();
    assert!(
        served >= 2,
        "the first install read the page and downloaded"
    );

    // The index now fails every request; even with --refresh nothing is asked of it.
    index
        .server
        .route("/simple/demo-app/", Response::status(500));
    let (output, target) = install("second", &["--refresh"]);
    success(&output);
    assert_eq!(index.server.total_hits(), served, "no request was made");
    assert_eq!(python(&target, "import demo_app; print('ok')"), "ok\n");

    // Without a pin the page is still needed, and its failure is reported.
    let (output, _) = {
        let target = work.path().join("third");
        let output = cairn(
            &cache,
            &[
                "install",
                "demo-app==1.0",
                "--index-url",
                &index.url(),
                "--refresh",
                "--target",
                target.to_str().unwrap(),
            ],
        );
        (output, target)
    };
    assert!(!output.status.success());
    assert!(index.server.total_hits() > served);
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

/// Real wheels of the test corpus (`cairn_test_support::pypi::corpus`).
#[test]
fn real_corpus_wheels_import() {
    let wheels = cairn_test_support::pypi::corpus(&["numpy-", "tomli-"]);
    if wheels.is_empty() {
        return;
    }
    // The wheels may sit in two directories ($CAIRN_WHEEL_CORPUS, the download cache).
    let mut find_links: Vec<&str> = wheels
        .iter()
        .map(|wheel| wheel.parent().unwrap().to_str().unwrap())
        .collect();
    find_links.dedup();
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
            find_links[0],
            "--find-links",
            find_links[find_links.len() - 1],
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

/// `python3 -c EXPR`'s output, trimmed.
fn python3_says(code: &str) -> String {
    let output = Command::new("python3").args(["-c", code]).output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Every path under `dir` with its bytes (a directory's are empty), sorted; nothing for a
/// missing `dir`.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = if path.is_dir() {
                pending.push(path.clone());
                Vec::new()
            } else {
                std::fs::read(&path).unwrap()
            };
            found.push((path.strip_prefix(dir).unwrap().to_owned(), bytes));
        }
    }
    found.sort();
    found
}

/// A wheel's `Requires-Python` is checked whatever its source (a path, a `file://` URL, a
/// find-links directory), before anything in the target changes; a requirement the interpreter
/// meets installs.
#[test]
fn a_wheel_whose_requires_python_excludes_the_interpreter_is_refused_from_every_source() {
    let work = tempfile::tempdir().unwrap();
    let links = work.path().join("wheels");
    std::fs::create_dir(&links).unwrap();
    demo_wheel().build(&links);
    let future = WheelBuilder::new("future-only", "1.0")
        .file("future_only/__init__.py", "")
        .metadata("Requires-Python: >=3.99");
    let future_path = future.build(&links);
    let cache = work.path().join("cache");
    let target = work.path().join("target");
    let install = |source: &str| {
        cairn(
            &cache,
            &[
                "--offline",
                "install",
                source,
                "--find-links",
                links.to_str().unwrap(),
                "--target",
                target.to_str().unwrap(),
            ],
        )
    };
    success(&install("demo-app==1.0"));
    let before = tree(&target);
    assert!(!before.is_empty());

    let version = python3_says("import platform; print(platform.python_version())");
    let url = format!("file://{}", future_path.display());
    for source in [future_path.to_str().unwrap(), &url, "future-only==1.0"] {
        let output = install(source);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{source}: {stderr}");
        for expected in [
            future.filename(),
            "requires Python `>=3.99`".to_owned(),
            format!("the target interpreter is Python {version}"),
        ] {
            assert!(stderr.contains(&expected), "{source}: {expected}: {stderr}");
        }
        assert_eq!(tree(&target), before, "{source}");
    }

    // Nor does a refused wheel leave a fresh target behind.
    let fresh = work.path().join("fresh");
    let output = cairn(
        &cache,
        &[
            "--offline",
            "install",
            future_path.to_str().unwrap(),
            "--target",
            fresh.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(!fresh.exists());
    // `cairn fetch` only fills the cache, for no interpreter in particular.
    support::ok(
        &cache,
        &["--offline", "fetch", future_path.to_str().unwrap()],
    );

    let present = WheelBuilder::new("present-day", "1.0")
        .file("present_day/__init__.py", "WHEN = 'now'\n")
        .metadata("Requires-Python: >=3.8, <4");
    let present_path = present.build(&links);
    success(&install(present_path.to_str().unwrap()));
    assert_eq!(
        python(&target, "import present_day; print(present_day.WHEN)"),
        "now\n"
    );
}

/// With `--python-version`, the wheel's `Requires-Python` is judged for that version, not the
/// interpreter's.
#[test]
fn requires_python_is_judged_for_the_python_version_asked_for() {
    let work = tempfile::tempdir().unwrap();
    let links = work.path().join("wheels");
    std::fs::create_dir(&links).unwrap();
    let wheel = WheelBuilder::new("modern", "2.0")
        .file("modern/__init__.py", "")
        .metadata("Requires-Python: >=3.9");
    let path = wheel.build(&links);
    let cache = work.path().join("cache");
    let install = |source: &str, version: &str, target: &str| {
        cairn(
            &cache,
            &[
                "--offline",
                "install",
                source,
                "--find-links",
                links.to_str().unwrap(),
                "--python-version",
                version,
                "--platform",
                "manylinux_2_28_x86_64",
                "--target",
                work.path().join(target).to_str().unwrap(),
            ],
        )
    };
    for source in [path.to_str().unwrap(), "modern==2.0"] {
        let output = install(source, "3.8", "old");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{source}: {stderr}");
        assert!(
            stderr.contains(
                "modern 2.0 requires Python `>=3.9`, but the target interpreter is Python 3.8"
            ),
            "{source}: {stderr}"
        );
        assert!(!work.path().join("old").exists());
    }
    success(&install("modern==2.0", "3.9", "new"));
    assert!(work.path().join("new").join("modern").is_dir());
}

/// Behind a pyenv-style shim (a script that execs the real interpreter), console scripts name
/// the real interpreter, as `sys.executable` reports it, and run.
#[test]
fn scripts_behind_a_shim_name_the_real_interpreter() {
    use std::os::unix::fs::PermissionsExt;

    let real = python3_says("import os, sys; print(os.path.realpath(sys.executable))");
    let work = tempfile::tempdir().unwrap();
    let shim_dir = work.path().join("shim");
    std::fs::create_dir(&shim_dir).unwrap();
    let shim = shim_dir.join("python3");
    std::fs::write(&shim, format!("#!/bin/sh\nexec '{real}' \"$@\"\n")).unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (shebang, run) = install_demo_script(work.path(), &shim, &["there"]);
    assert_eq!(shebang, format!("#!{real}"));
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "hello from demo there\n"
    );
    assert_eq!(run.status.code(), Some(3));
}

/// Installs the demo wheel for `python` into a new target under `work`, and returns its console
/// script's shebang line and the output of running it with `args`.
fn install_demo_script(
    work: &Path,
    python: &Path,
    args: &[&str],
) -> (String, std::process::Output) {
    let wheel = demo_wheel().build(work);
    let target = work.join("target");
    success(&cairn(
        &work.join("cache"),
        &[
            "install",
            wheel.to_str().unwrap(),
            "--python",
            python.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    ));
    let script = target.join("bin").join("demo-app");
    let text = std::fs::read_to_string(&script).unwrap();
    let shebang = text.lines().next().unwrap_or_default().to_owned();
    let run = Command::new(&script)
        .args(args)
        .env("PYTHONPATH", &target)
        .output()
        .unwrap();
    (shebang, run)
}

/// A virtual environment's interpreter is named by its own path (not resolved to the base
/// interpreter), so that scripts run inside the environment.
#[test]
fn scripts_for_a_virtual_environment_name_its_interpreter() {
    let work = tempfile::tempdir().unwrap();
    let python = venv::create(&work.path().join("venv"), Pip::Without);
    let (shebang, run) = install_demo_script(work.path(), &python, &[]);
    assert_eq!(shebang, format!("#!{}", python.display()));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from demo\n");
}

/// Whether `bytes` hold an SGR (colour) escape sequence, `ESC [ digits/semicolons m`.
fn has_colour(bytes: &[u8]) -> bool {
    bytes.windows(2).enumerate().any(|(at, pair)| {
        pair == b"\x1b["
            && bytes[at + 2..]
                .iter()
                .find(|b| !(b.is_ascii_digit() || **b == b';'))
                == Some(&b'm')
    })
}

/// A verbose install with stderr on `stderr`, `NO_COLOR` set to `no_color` (or unset).
fn verbose_install(work: &Path, stderr: std::process::Stdio, no_color: Option<&str>) -> Command {
    let wheel = demo_wheel().build(work);
    let target = tempfile::tempdir_in(work).unwrap().keep();
    let mut command = support::command(
        &tempfile::tempdir_in(work).unwrap().keep(),
        &[
            "-vv",
            "install",
            wheel.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    );
    command.stderr(stderr).stdout(std::process::Stdio::null());
    match no_color {
        Some(value) => command.env("NO_COLOR", value),
        None => command.env_remove("NO_COLOR"),
    };
    command
}

/// Logs to a redirected stderr (a pipe, a file) are plain text, with no escape sequences.
#[test]
fn a_redirected_stderr_gets_no_escape_codes() {
    let work = tempfile::tempdir().unwrap();
    let output = verbose_install(work.path(), std::process::Stdio::piped(), None)
        .output()
        .unwrap();
    let stderr = success(&output);
    assert!(stderr.contains("DEBUG"), "{stderr}");
    assert!(
        !output.stderr.windows(2).any(|w| w == b"\x1b["),
        "{stderr:?}"
    );

    let log = work.path().join("stderr.log");
    let file = std::fs::File::create(&log).unwrap();
    let status = verbose_install(work.path(), file.into(), None)
        .status()
        .unwrap();
    assert!(status.success());
    let written = std::fs::read(&log).unwrap();
    assert!(String::from_utf8_lossy(&written).contains("DEBUG"));
    assert!(!written.windows(2).any(|w| w == b"\x1b["), "{written:?}");
}

/// Runs `command` with its stderr on a new pseudo-terminal; returns what it wrote there.
#[allow(unsafe_code)]
fn stderr_on_a_terminal(mut command: Command) -> Vec<u8> {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};

    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors it opened, which are owned from here on; the
    // name, termios and window size pointers may be null.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "{}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are open and owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // Not inherited by children that other tests start meanwhile.
        // SAFETY: an open descriptor; FD_CLOEXEC is the only descriptor flag.
        unsafe {
            libc::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(fd),
                libc::F_SETFD,
                libc::FD_CLOEXEC,
            )
        };
    }
    let reader = std::thread::spawn(move || {
        let mut master = std::fs::File::from(master);
        let (mut out, mut buffer) = (Vec::new(), [0; 4096]);
        // Reading fails with EIO once no process holds the terminal open.
        while let Ok(read @ 1..) = master.read(&mut buffer) {
            out.extend_from_slice(&buffer[..read]);
        }
        out
    });
    let status = command.stderr(slave).status().unwrap();
    drop(command);
    assert!(status.success());
    reader.join().unwrap()
}

/// On a terminal, logs are in colour unless `NO_COLOR` is set to a non-empty value.
#[test]
fn colours_on_a_terminal_unless_no_color() {
    let work = tempfile::tempdir().unwrap();
    let null = std::process::Stdio::null;
    let coloured = stderr_on_a_terminal(verbose_install(work.path(), null(), None));
    assert!(String::from_utf8_lossy(&coloured).contains("DEBUG"));
    assert!(
        has_colour(&coloured),
        "{:?}",
        String::from_utf8_lossy(&coloured)
    );
    let empty = stderr_on_a_terminal(verbose_install(work.path(), null(), Some("")));
    assert!(has_colour(&empty));

    let plain = stderr_on_a_terminal(verbose_install(work.path(), null(), Some("1")));
    assert!(String::from_utf8_lossy(&plain).contains("DEBUG"));
    assert!(!has_colour(&plain), "{:?}", String::from_utf8_lossy(&plain));
}

/// `python3 -m pip install --target target wheel`, isolated from any pip configuration.
fn pip_install_target(wheel: &Path, target: &Path) {
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            "--no-compile",
        ])
        .args(["--disable-pip-version-check", "--quiet", "--target"])
        .arg(target)
        .arg(wheel)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// PEP 610: a wheel named by its path records its `file://` URL (and its SHA-256 when cairn knows
/// it, here from the URL fragment: then the file is the one pip writes), and every requirement
/// the user named is `REQUESTED`; a wheel from an index gets no `direct_url.json`.
#[test]
fn a_wheel_installed_by_path_records_its_file_url_and_is_requested() {
    let wheel = demo_wheel();
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let wheels = work.path().join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    let path = wheel.build(&wheels);
    let url = format!("file://{}", path.display());
    let dist_info = |target: &Path| target.join("demo_app-1.0.dist-info");

    let by_path = work.path().join("by-path");
    let args = ["--offline", "install", path.to_str().unwrap(), "--target"];
    success(&cairn(
        &cache,
        &[&args[..], &[by_path.to_str().unwrap()]].concat(),
    ));
    assert_eq!(
        std::fs::read_to_string(dist_info(&by_path).join("direct_url.json")).unwrap(),
        format!("{{\"archive_info\": {{}}, \"url\": \"{url}\"}}")
    );
    assert_eq!(
        std::fs::read_to_string(dist_info(&by_path).join("REQUESTED")).unwrap(),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(dist_info(&by_path).join("INSTALLER")).unwrap(),
        "cairn\n"
    );
    let record = std::fs::read_to_string(dist_info(&by_path).join("RECORD")).unwrap();
    for name in ["direct_url.json", "REQUESTED"] {
        assert!(
            record.contains(&format!("demo_app-1.0.dist-info/{name},sha256=")),
            "{record}"
        );
    }

    let sha256 = cairn_hash::hash_file(&path, &["sha256".parse().unwrap()])
        .unwrap()
        .get("sha256".parse().unwrap())
        .unwrap()
        .to_hex();
    let pinned = work.path().join("pinned");
    let with_hash = format!("{url}#sha256={sha256}");
    success(&cairn(
        &cache,
        &[
            "--offline",
            "install",
            &with_hash,
            "--target",
            pinned.to_str().unwrap(),
        ],
    ));
    let pips = work.path().join("pip");
    pip_install_target(&path, &pips);
    assert_eq!(
        std::fs::read_to_string(dist_info(&pinned).join("direct_url.json")).unwrap(),
        std::fs::read_to_string(dist_info(&pips).join("direct_url.json")).unwrap(),
    );

    let index = Index::start(&wheel);
    let from_index = work.path().join("from-index");
    success(&cairn(
        &cache,
        &[
            "install",
            "demo-app==1.0",
            "--index-url",
            &index.url(),
            "--target",
            from_index.to_str().unwrap(),
        ],
    ));
    assert!(!dist_info(&from_index).join("direct_url.json").exists());
    assert!(dist_info(&from_index).join("REQUESTED").is_file());
}

/// A wheel whose RECORD lists a file it does not contain installs with a warning that names the
/// wheel and the file, and not the cache, as pip and uv install it.
#[test]
fn a_wheel_whose_record_lists_a_missing_file_installs_with_a_warning() {
    const ADD_ROW: &str = r#"
import sys, zipfile
source, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(source) as old, zipfile.ZipFile(dest, "w") as new:
    for info in old.infolist():
        data = old.read(info)
        if info.filename.endswith(".dist-info/RECORD"):
            data = b"demo_app/missing_module.py,,\n" + data
        new.writestr(info, data)
"#;
    let wheel = demo_wheel();
    let work = tempfile::tempdir().unwrap();
    let built = wheel.build(work.path());
    let dir = work.path().join("inconsistent");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join(wheel.filename());
    let status = Command::new("python3")
        .args(["-c", ADD_ROW])
        .arg(&built)
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());

    let target = work.path().join("target");
    let stderr = success(&cairn(
        &work.path().join("cache"),
        &[
            "--offline",
            "install",
            path.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    ));
    let warning = stderr
        .lines()
        .find(|line| line.contains("WARN"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    for expected in [
        "demo_app-1.0-py3-none-any.whl",
        "demo_app/missing_module.py",
    ] {
        assert!(warning.contains(expected), "{warning}");
    }
    assert!(!warning.contains("cache"), "{warning}");
    assert_eq!(python(&target, "import demo_app; print('ok')"), "ok\n");
    let record =
        std::fs::read_to_string(target.join("demo_app-1.0.dist-info").join("RECORD")).unwrap();
    assert!(!record.contains("missing_module"), "{record}");
}

/// The `__pycache__` files under `dir`, relative to it, sorted.
fn bytecode_files(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = tree(dir)
        .into_iter()
        .map(|(path, _)| path.to_str().unwrap().to_owned())
        .filter(|path| path.contains("__pycache__/"))
        .collect();
    found.sort();
    found
}

#[test]
fn compile_bytecode_from_the_flag_or_the_environment() {
    let wheel = demo_wheel().file("demo_app/legacy.py", "print \"python 2\"\n");
    let work = tempfile::tempdir().unwrap();
    let built = wheel.build(work.path());
    let cache = work.path().join("cache");
    let tag = python3_says("import sys; print(sys.implementation.cache_tag)");
    let expected = vec![
        format!("demo_app/__pycache__/__init__.{tag}.pyc"),
        format!("demo_app/__pycache__/cli.{tag}.pyc"),
    ];
    let install = |target: &Path, flag: Option<&str>, env: Option<&str>| {
        let mut args = vec![
            "--offline",
            "install",
            built.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ];
        args.extend(flag);
        let mut command = support::command(&cache, &args);
        if let Some(value) = env {
            command.env("CAIRN_COMPILE_BYTECODE", value);
        }
        success(&command.output().unwrap())
    };

    let flagged = work.path().join("flagged");
    let stderr = install(&flagged, Some("--compile-bytecode"), None);
    assert_eq!(bytecode_files(&flagged), expected);
    assert!(
        stderr.contains("Bytecode compiled 2 files (1 did not compile: skipped)"),
        "{stderr}"
    );
    // The .pyc files are valid for their sources: Python takes the code from them.
    let verbose = Command::new("python3")
        .args(["-v", "-c", "import demo_app.cli"])
        .env("PYTHONPATH", &flagged)
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env_remove("PYTHONPYCACHEPREFIX")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&verbose.stderr);
    for pyc in &expected {
        let line = format!("# code object from '{}'", flagged.join(pyc).display());
        assert!(log.contains(&line), "{line} not in:\n{log}");
    }

    let from_env = work.path().join("from-env");
    install(&from_env, None, Some("1"));
    assert_eq!(bytecode_files(&from_env), expected);

    for (name, env) in [("plain", None), ("env-off", Some("false"))] {
        let target = work.path().join(name);
        let stderr = install(&target, None, env);
        assert_eq!(bytecode_files(&target), Vec::<String>::new(), "{name}");
        assert!(!stderr.contains("Bytecode"), "{name}: {stderr}");
    }
}
