//! Source distributions, with the real `cairn` binary: built once through their PEP 517
//! backend in a cached build environment, installed, and found built the next time with no
//! backend run; a failing build or a hostile sdist leaves the cache and the target as they
//! were.
//!
//! The synthetic sdists carry an in-tree backend (`backend-path`), so they build without the
//! network; the real ones (setuptools, flit_core, hatchling, poetry-core) come from PyPI, and
//! skip themselves when it cannot be reached, except under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_test_support::http_server::{Response, TestServer};
use support::{stderr, stdout};

/// A PEP 517 backend that writes a one-module wheel with `zipfile`, counting its runs in the
/// file `$CAIRN_TEST_BUILD_COUNTER` and failing when the project is named `*-fail`.
const BACKEND: &str = r#"
import base64, hashlib, os, zipfile

NAME = open(os.path.join(os.path.dirname(__file__), "NAME")).read().strip()
DIST = NAME.replace("-", "_")

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    counter = os.environ.get("CAIRN_TEST_BUILD_COUNTER")
    if counter:
        with open(counter, "a") as out:
            out.write("built\n")
    if NAME.endswith("-fail"):
        print("compiling the extension")
        print("error: the compiler exploded")
        raise SystemExit(1)
    files = {
        DIST + "/__init__.py": b"VALUE = 'built from source'\n",
        DIST + "/config.py": ("SETTINGS = %r\n" % (config_settings,)).encode(),
        DIST + "-1.0.dist-info/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % NAME).encode(),
        DIST + "-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append(DIST + "-1.0.dist-info/RECORD,,")
    files[DIST + "-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = DIST + "-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel
"#;

/// Writes `<dir>/<name>-1.0.tar.gz`, a project whose in-tree backend is [`BACKEND`].
fn synthetic_sdist(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join(format!("{name}-src"));
    let project = root.join(format!("{name}-1.0"));
    std::fs::create_dir_all(project.join("backend")).unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"demo_backend\"\nbackend-path = [\"backend\"]\n",
    )
    .unwrap();
    std::fs::write(project.join("backend/demo_backend.py"), BACKEND).unwrap();
    std::fs::write(project.join("backend/NAME"), name).unwrap();
    let sdist = dir.join(format!("{name}-1.0.tar.gz"));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&sdist)
        .arg("-C")
        .arg(&root)
        .arg(format!("{name}-1.0"))
        .status()
        .unwrap();
    assert!(status.success());
    sdist
}

fn count(counter: &Path) -> usize {
    std::fs::read_to_string(counter)
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

/// `cairn install REQUIREMENT --target TARGET`, counting backend runs in `counter`.
fn install_one(
    cache: &Path,
    counter: &Path,
    requirement: &str,
    target: &Path,
) -> std::process::Output {
    install(
        cache,
        counter,
        &["install", requirement, "--target", target.to_str().unwrap()],
    )
}

fn install(cache: &Path, counter: &Path, args: &[&str]) -> std::process::Output {
    support::command(cache, args)
        .env("CAIRN_TEST_BUILD_COUNTER", counter)
        .output()
        .unwrap()
}

#[test]
fn an_sdist_is_built_once_then_found_built_for_every_target() {
    let work = tempfile::tempdir().unwrap();
    let sdist = synthetic_sdist(work.path(), "demo-sdist");
    let cache = work.path().join("cache");
    let counter = work.path().join("counter");
    let requirement = format!("demo-sdist @ {}", sdist.display());
    for (n, target) in ["t1", "t2", "t3"].iter().enumerate() {
        let target = work.path().join(target);
        let output = install_one(&cache, &counter, &requirement, &target);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(
            std::fs::read_to_string(target.join("demo_sdist/__init__.py")).unwrap(),
            "VALUE = 'built from source'\n"
        );
        assert_eq!(count(&counter), 1, "install {n} ran the backend again");
        let direct =
            std::fs::read_to_string(target.join("demo_sdist-1.0.dist-info/direct_url.json"))
                .unwrap();
        assert!(direct.contains("demo-sdist-1.0.tar.gz"), "{direct}");
    }
    // `cache clean PKG` removes its built wheel: the next install builds again.
    let cleaned = install(&cache, &counter, &["cache", "clean", "demo-sdist"]);
    assert!(cleaned.status.success(), "{}", stderr(&cleaned));
    let output = install_one(
        &cache,
        &counter,
        &requirement,
        &work.path().join("after-clean"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(count(&counter), 2, "clean left the built wheel");
    // The build is keyed by the sdist's bytes: another sdist of the same name builds again.
    let other = work.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let changed = synthetic_sdist(&other, "demo-sdist");
    std::fs::write(
        other.join("demo-sdist-src/demo-sdist-1.0/extra.txt"),
        "changed\n",
    )
    .unwrap();
    let _ = std::fs::remove_file(&changed);
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&changed)
        .arg("-C")
        .arg(other.join("demo-sdist-src"))
        .arg("demo-sdist-1.0")
        .status()
        .unwrap();
    assert!(status.success());
    let output = install_one(
        &cache,
        &counter,
        &format!("demo-sdist @ {}", changed.display()),
        &work.path().join("t4"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(count(&counter), 3);
}

#[test]
fn a_failed_build_names_the_package_and_hook_and_changes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let sdist = synthetic_sdist(work.path(), "demo-fail");
    let cache = work.path().join("cache");
    let counter = work.path().join("counter");
    let target = work.path().join("target");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.txt"), "kept\n").unwrap();
    let output = install_one(
        &cache,
        &counter,
        &format!("demo-fail @ {}", sdist.display()),
        &target,
    );
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("demo-fail 1.0")
            && text.contains("build_wheel")
            && text.contains("the compiler exploded"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    let names: Vec<_> = std::fs::read_dir(&target)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["keep.txt"], "the target changed");
    let built = cache.join("builds-v0/wheels");
    let entries = std::fs::read_dir(&built).map_or(0, |dir| dir.count());
    assert_eq!(
        entries,
        0,
        "a failed build left an entry in {}",
        built.display()
    );
    // Nothing half-made stays behind in the cache either.
    let temps = std::fs::read_dir(&cache)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp")
        })
        .count();
    assert_eq!(temps, 0);
}

#[test]
fn a_hostile_sdist_is_refused_before_any_build() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let counter = work.path().join("counter");
    // A tar whose member climbs out of the directory it is unpacked into.
    let sdist = work.path().join("evil-1.0.tar.gz");
    let script = format!(
        "import io, tarfile\n\
         with tarfile.open({:?}, 'w:gz') as tar:\n\
         \x20   data = b'pwned'\n\
         \x20   info = tarfile.TarInfo('evil-1.0/../../escaped.txt'); info.size = len(data)\n\
         \x20   tar.addfile(info, io.BytesIO(data))\n",
        sdist.display().to_string()
    );
    assert!(
        Command::new("python3")
            .args(["-c", &script])
            .status()
            .unwrap()
            .success()
    );
    let output = install_one(
        &cache,
        &counter,
        &format!("evil @ {}", sdist.display()),
        &work.path().join("t"),
    );
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("was refused") && text.contains(".."),
        "{text}"
    );
    assert!(!work.path().join("escaped.txt").exists());
    assert!(!cache.parent().unwrap().join("escaped.txt").exists());
    assert_eq!(count(&counter), 0);
}

#[test]
fn a_version_with_only_an_sdist_on_the_index_is_built_unless_builds_are_off() {
    let work = tempfile::tempdir().unwrap();
    let sdist = synthetic_sdist(work.path(), "demo-sdist");
    let bytes = std::fs::read(&sdist).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start());
    server.route(
        "/simple/demo-sdist/",
        Response::ok(
            "<html><body><a href=\"../../files/demo-sdist-1.0.tar.gz\">demo-sdist-1.0.tar.gz</a></body></html>",
        )
        .header("Content-Type", "text/html"),
    );
    server.route("/files/demo-sdist-1.0.tar.gz", Response::ok(bytes));
    let index = server.url("/simple/").to_string();
    let cache = work.path().join("cache");
    let counter = work.path().join("counter");
    let target = work.path().join("t");
    let refused = install(
        &cache,
        &counter,
        &[
            "install",
            "demo-sdist==1.0",
            "--index-url",
            &index,
            "--no-build",
            "--target",
            target.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    let text = stderr(&refused);
    assert!(text.contains("--no-build"), "{text}");
    assert_eq!(count(&counter), 0);
    let output = install(
        &cache,
        &counter,
        &[
            "install",
            "demo-sdist==1.0",
            "--index-url",
            &index,
            "--target",
            target.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(count(&counter), 1);
    assert!(target.join("demo_sdist/__init__.py").is_file());

    // With a wheel on the index too, the wheel is installed, unless --no-binary names it.
    let wheel = cairn_test_support::wheel::WheelBuilder::new("demo-sdist", "1.0")
        .file("demo_sdist/__init__.py", "VALUE = 'from the wheel'\n");
    server.route(
        "/simple/demo-sdist/",
        Response::ok(format!(
            "<html><body><a href=\"../../files/demo-sdist-1.0.tar.gz\">demo-sdist-1.0.tar.gz</a>\
             <a href=\"../../files/{0}\">{0}</a></body></html>",
            wheel.filename()
        ))
        .header("Content-Type", "text/html"),
    );
    server.route(
        &format!("/files/{}", wheel.filename()),
        Response::ok(wheel.to_bytes()),
    );
    for (flag, expected) in [
        (None, "VALUE = 'from the wheel'\n"),
        (Some("--no-binary=:all:"), "VALUE = 'built from source'\n"),
    ] {
        let target = work.path().join(format!("with-wheel-{}", flag.is_some()));
        let mut args = vec![
            "install",
            "demo-sdist==1.0",
            "--index-url",
            &index,
            "--refresh",
            "--target",
            target.to_str().unwrap(),
        ];
        args.extend(flag);
        let output = install(&cache, &counter, &args);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(
            std::fs::read_to_string(target.join("demo_sdist/__init__.py")).unwrap(),
            expected,
            "{flag:?}"
        );
    }
    // The sdist's build was found built: the backend ran once in all.
    assert_eq!(count(&counter), 1);
    let _guard = runtime.enter();
    drop(server);
}

/// Real sdists from PyPI, one per common backend, pinned by SHA-256: setuptools with a legacy
/// `setup.py` (six) and with `pyproject.toml` and setuptools-scm's `[toml]` extra (pluggy),
/// flit_core (tomli), hatchling with hatch-vcs (iniconfig), poetry-core's in-tree backend.
const REAL: [(&str, &str, &str, &str); 5] = [
    (
        "pluggy",
        "pluggy",
        "https://files.pythonhosted.org/packages/96/2d/02d4312c973c6050a18b314a5ad0b3210edb65a906f868e31c111dede4a6/pluggy-1.5.0.tar.gz",
        "2cffa88e94fdc978c4c574f15f9e59b7f4201d439195c3715ca9e2486f1d0cf1",
    ),
    (
        "six",
        "six",
        "https://files.pythonhosted.org/packages/94/e7/b2c673351809dca68a0e064b6af791aa332cf192da575fd474ed7d6f16a2/six-1.17.0.tar.gz",
        "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81",
    ),
    (
        "tomli",
        "tomli",
        "https://files.pythonhosted.org/packages/c0/3f/d7af728f075fb08564c5949a9c95e44352e23dee646869fa104a3b2060a3/tomli-2.0.1.tar.gz",
        "de526c12914f0c550d15924c62d72abc48d6fe7364aa87328337a31007fe8a4f",
    ),
    (
        "iniconfig",
        "iniconfig",
        "https://files.pythonhosted.org/packages/d7/4b/cbd8e699e64a6f16ca3a8220661b5f83792b3017d0f79807cb8708d33913/iniconfig-2.0.0.tar.gz",
        "2d91e135bf72d31a410b17c16da610a82cb55f6b0477d1a902134b24a455b8b3",
    ),
    (
        "poetry-core",
        "poetry.core",
        "https://files.pythonhosted.org/packages/f2/db/20a9f9cae3f3c213a8c406deb4395698459fd96962cea8f2ccb230b1943c/poetry_core-1.9.0.tar.gz",
        "fa7a4001eae8aa572ee84f35feb510b321bd652e5cf9293249d62853e1f935a2",
    ),
];

fn pypi_reachable() -> bool {
    let reachable = Command::new("python3")
        .args([
            "-c",
            "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/six/', timeout=10)",
        ])
        .status()
        .is_ok_and(|status| status.success());
    if !reachable {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but PyPI is unreachable"
        );
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: PyPI is unreachable");
        }
    }
    reachable
}

#[test]
fn real_sdists_build_with_setuptools_flit_hatchling_and_poetry_then_never_again() {
    if !pypi_reachable() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let requirements = work.path().join("requirements.txt");
    let text: String = REAL
        .iter()
        .map(|(name, _, url, sha256)| format!("{name} @ {url} --hash=sha256:{sha256}\n"))
        .collect();
    std::fs::write(&requirements, text).unwrap();
    let run = |target: &str| {
        let target = work.path().join(target);
        let output = support::command(
            &cache,
            &[
                "install",
                "-r",
                requirements.to_str().unwrap(),
                "--target",
                target.to_str().unwrap(),
            ],
        )
        .env("CAIRN_LOG", "cairn_build=debug")
        .output()
        .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        (target, stderr(&output))
    };
    let (target, log) = run("first");
    assert_eq!(log.matches(" building").count(), REAL.len(), "{log}");
    let imports = REAL.map(|(_, module, _, _)| module).join(", ");
    let output = Command::new("python3")
        .arg("-c")
        .arg(format!("import {imports}; print('ok')"))
        .env("PYTHONPATH", &target)
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "ok\n", "{}", stderr(&output));
    // Into a new target: every wheel is found built; no backend runs.
    let (_, log) = run("second");
    assert_eq!(log.matches(" building").count(), 0, "{log}");
}

/// Runs `git ARGS` in `dir` as a test committer; its stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
    stdout(&output).trim().to_owned()
}

/// A git repository at `dir` holding a project `demo-git` with the in-tree backend, on branch
/// `main`, tagged `v1`; the commit's hash.
fn git_repo(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("backend")).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(
        dir.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"demo_backend\"\nbackend-path = [\"backend\"]\n",
    )
    .unwrap();
    std::fs::write(dir.join("backend/demo_backend.py"), BACKEND).unwrap();
    std::fs::write(dir.join("backend/NAME"), "demo-git").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "first"]);
    git(dir, &["tag", "v1"]);
    git(dir, &["rev-parse", "HEAD"])
}

/// Commits a change to the backend's module text, so the built wheel differs; the new hash.
fn push_commit(dir: &Path) -> String {
    let path = dir.join("backend/demo_backend.py");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("built from source", "built from the second commit");
    std::fs::write(&path, text).unwrap();
    git(dir, &["commit", "-qam", "second"]);
    git(dir, &["rev-parse", "HEAD"])
}

#[test]
fn git_sources_at_a_branch_a_tag_and_a_commit_build_once_and_fetch_once() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let first = git_repo(&repo);
    let cache = work.path().join("cache");
    let counter = work.path().join("counter");
    let url = format!("git+file://{}", repo.display());
    let run = |reference: &str, target: &str, extra: &[&str]| {
        let target = work.path().join(target);
        let requirement = format!("demo-git @ {reference}");
        let mut args = vec![
            "install",
            &requirement,
            "--target",
            target.to_str().unwrap(),
        ];
        args.extend(extra);
        let output = support::command(&cache, &args)
            .env("CAIRN_TEST_BUILD_COUNTER", &counter)
            .env("CAIRN_LOG", "cairn_build=debug")
            .output()
            .unwrap();
        (output, target)
    };
    let (output, target) = run(&format!("{url}@main"), "branch", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stderr(&output)
            .matches("fetching the git repository")
            .count(),
        1
    );
    assert_eq!(
        std::fs::read_to_string(target.join("demo_git/__init__.py")).unwrap(),
        "VALUE = 'built from source'\n"
    );
    let direct =
        std::fs::read_to_string(target.join("demo_git-1.0.dist-info/direct_url.json")).unwrap();
    assert!(
        direct.contains(&format!("\"commit_id\": \"{first}\""))
            && direct.contains("\"requested_revision\": \"main\"")
            && direct.contains("\"vcs\": \"git\""),
        "{direct}"
    );
    assert_eq!(count(&counter), 1);
    // The tag and the commit name the same commit: no fetch, no build.
    for (reference, name) in [
        (format!("{url}@v1"), "tag"),
        (format!("{url}@{first}"), "commit"),
    ] {
        let (output, target) = run(&reference, name, &[]);
        assert!(output.status.success(), "{}", stderr(&output));
        let log = stderr(&output);
        assert_eq!(
            log.matches("fetching the git repository").count(),
            0,
            "{name}: {log}"
        );
        assert!(target.join("demo_git/__init__.py").is_file());
    }
    assert_eq!(count(&counter), 1);
    // Offline, a fetched commit still installs.
    let (output, _) = run(&format!("{url}@{first}"), "offline", &["--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));

    // A pushed commit is seen (with --refresh, as after any change): fetched and built.
    let second = push_commit(&repo);
    let (output, target) = run(&format!("{url}@main"), "pushed", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(target.join("demo_git/__init__.py")).unwrap(),
        "VALUE = 'built from the second commit'\n"
    );
    assert_eq!(count(&counter), 2);
    let direct =
        std::fs::read_to_string(target.join("demo_git-1.0.dist-info/direct_url.json")).unwrap();
    assert!(direct.contains(&second), "{direct}");
    let (output, _) = run(&format!("{url}@main"), "refreshed", &["--refresh"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(count(&counter), 2);
    // Offline, a commit never fetched is an error that says so.
    let (output, _) = run(
        &format!("{url}@{}", "0".repeat(40)),
        "never",
        &["--offline"],
    );
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--offline"), "{}", stderr(&output));
}

#[test]
fn a_local_source_tree_is_built_on_every_install() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("project");
    git_repo(&repo);
    let cache = work.path().join("cache");
    let counter = work.path().join("counter");
    for (n, target) in ["t1", "t2"].iter().enumerate() {
        let target = work.path().join(target);
        let requirement = format!("demo-git @ {}", repo.display());
        let output = install_one(&cache, &counter, &requirement, &target);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(count(&counter), n + 1);
        let direct =
            std::fs::read_to_string(target.join("demo_git-1.0.dist-info/direct_url.json")).unwrap();
        assert!(direct.contains("\"dir_info\": {}"), "{direct}");
    }
    // Each build replaces the tree's previous wheel: one entry, whatever the number of builds.
    let trees = std::fs::read_dir(cache.join("builds-v0/wheels"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("tree-")
        })
        .count();
    assert_eq!(trees, 1);
    // A --hash cannot be checked against a tree: refused, not ignored.
    let requirements = work.path().join("requirements.txt");
    let line = format!(
        "demo-git @ {} --hash=sha256:{}\n",
        repo.display(),
        "ab".repeat(32)
    );
    std::fs::write(&requirements, line).unwrap();
    let target = work.path().join("t3");
    let output = install(
        &cache,
        &counter,
        &[
            "install",
            "-r",
            requirements.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("has no bytes a --hash"),
        "{}",
        stderr(&output)
    );
    assert_eq!(count(&counter), 2);
}

#[test]
fn config_settings_reach_the_backend_and_key_the_build() {
    let work = tempfile::tempdir().unwrap();
    let sdist = synthetic_sdist(work.path(), "demo-sdist");
    let cache = work.path().join("cache");
    let counter = work.path().join("counter");
    let requirement = format!("demo-sdist @ {}", sdist.display());
    for (target, extra, settings) in [
        ("plain", vec![], "SETTINGS = None\n"),
        (
            "configured",
            vec!["-C", "mode=fast"],
            "SETTINGS = {'mode': 'fast'}\n",
        ),
        (
            "again",
            vec!["--config-setting", "mode=fast"],
            "SETTINGS = {'mode': 'fast'}\n",
        ),
    ] {
        let target = work.path().join(target);
        let mut args = vec![
            "install",
            &requirement,
            "--target",
            target.to_str().unwrap(),
        ];
        args.extend(extra);
        let output = install(&cache, &counter, &args);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(
            std::fs::read_to_string(target.join("demo_sdist/config.py")).unwrap(),
            settings
        );
    }
    // Other settings are another build; the same settings again are found built.
    assert_eq!(count(&counter), 2);
}

#[test]
fn build_constraints_pin_the_build_environment() {
    if !pypi_reachable() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let constraints = work.path().join("constraints.txt");
    std::fs::write(
        &constraints,
        "# pinned for reproducible builds\nflit-core==3.9.0\n",
    )
    .unwrap();
    let (name, _, url, sha256) = REAL[2];
    assert_eq!(name, "tomli");
    let requirement = format!("tomli @ {url}#sha256={sha256}");
    let constrained = |cache: &Path, target: &str| {
        let target = work.path().join(target);
        let args = [
            "install",
            requirement.as_str(),
            "--build-constraint",
            constraints.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ];
        support::command(cache, &args).output().unwrap()
    };
    let output = constrained(&cache, "t");
    assert!(output.status.success(), "{}", stderr(&output));
    let records: Vec<String> = walk_files(&cache.join("builds-v0/wheels"))
        .into_iter()
        .filter(|path| path.ends_with("build.json"))
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    assert_eq!(records.len(), 1);
    assert!(records[0].contains("flit_core-3.9.0-"), "{}", records[0]);
    // A constraint no version satisfies is an error that says what to do.
    std::fs::write(&constraints, "flit-core==0.0.1\n").unwrap();
    let output = constrained(&work.path().join("cache2"), "t2");
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("constrained to 0.0.1") && text.contains("--build-constraint"),
        "{text}"
    );
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}
