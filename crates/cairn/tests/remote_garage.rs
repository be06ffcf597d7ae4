//! The remote tier on Garage instances these tests start and kill themselves
//! (`scripts/remote-up.sh`): a remote that dies in the middle of an install costs the install
//! nothing, and a three-node cluster with one node killed still serves reads and takes writes.
//!
//! Needs the `garage` binary (PATH or ~/.cargo/bin; `.ci/run` installs it). Without it the tests
//! say so and pass, except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cairn_test_support::http_server::Response;
use cairn_test_support::wheel::WheelBuilder;
use support::remote::{Backend, Index, Keys, Machine, success};
use support::stdout;

/// A Garage instance of this test's own, stopped and removed on drop.
struct Garage {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/remote-up.sh")
}

fn garage_available() -> bool {
    let on_path = Command::new("garage")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    let in_cargo = std::env::var_os("HOME")
        .map(|home| Path::new(&home).join(".cargo/bin/garage"))
        .is_some_and(|path| path.is_file());
    on_path || in_cargo
}

impl Garage {
    fn start(nodes: u8) -> Option<Self> {
        if !garage_available() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but no garage binary: .ci/run installs it"
            );
            #[allow(clippy::print_stderr)]
            {
                eprintln!("skipping: no garage binary (cargo install garage, or run .ci/run)");
            }
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("garage");
        let output = Command::new("bash")
            .arg(script())
            .args([
                "--dir",
                state.to_str().unwrap(),
                "--nodes",
                &nodes.to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "remote-up.sh failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let env = stdout(&output)
            .lines()
            .filter_map(|line| line.strip_prefix("export "))
            .filter_map(|line| line.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.trim_matches('\'').to_owned()))
            .collect();
        Some(Self { dir, env })
    }

    fn var(&self, name: &str) -> &str {
        &self
            .env
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("remote-up.sh printed no {name}"))
            .1
    }

    /// A backend on this instance, under a prefix of its own.
    fn backend(&self, prefix: &str) -> Backend {
        Backend {
            url: format!("{}/{prefix}", self.var("CAIRN_REMOTE")),
            env: self
                .env
                .iter()
                .filter(|(name, _)| name.starts_with("AWS_"))
                .cloned()
                .collect(),
            dir: None,
        }
    }

    /// SIGKILLs node `index` (0 is the node whose endpoint the backend uses).
    fn kill(&self, index: usize) {
        let pid = self.var("CAIRN_REMOTE_PIDS").split(',').nth(index).unwrap();
        let status = Command::new("kill").args(["-9", pid]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["--stop", self.dir.path().join("garage").to_str().unwrap()])
            .output();
    }
}

/// `count` small wheels `pkg-0` … and the pins file of all of them.
fn wheels(work: &Path, count: usize) -> (Index, PathBuf) {
    let built: Vec<(String, WheelBuilder)> = (0..count)
        .map(|n| {
            let project = format!("pkg-{n}");
            let wheel = WheelBuilder::new(&project, "1.0")
                .file(&format!("pkg_{n}/__init__.py"), format!("N = {n}\n"));
            (project, wheel)
        })
        .collect();
    let pairs: Vec<(&str, &WheelBuilder)> = built.iter().map(|(p, w)| (p.as_str(), w)).collect();
    let index = Index::start_many(&pairs);
    let pins = work.join("pins.txt");
    let text: String = built
        .iter()
        .zip(&index.sha256s)
        .map(|((project, _), sha)| format!("{project}==1.0 --hash=sha256:{sha}\n"))
        .collect();
    std::fs::write(&pins, text).unwrap();
    (index, pins)
}

fn check_target(target: &Path, count: usize) {
    for n in 0..count {
        assert_eq!(
            std::fs::read_to_string(target.join(format!("pkg_{n}/__init__.py"))).unwrap(),
            format!("N = {n}\n")
        );
    }
}

#[test]
fn a_remote_killed_during_an_install_costs_the_install_nothing() {
    let Some(garage) = Garage::start(1) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let keys = Keys::new("ci-1");
    let backend = garage.backend("killed");
    let (index, pins) = wheels(work.path(), 12);
    let a = Machine::writer(work.path(), "a", &backend, &keys);
    let out = success(&a.install(&pins, &index.url(), &work.path().join("ta")));
    assert!(out.contains("Published 12 wheels"), "{out}");

    // B starts reading from the remote; the remote dies while it runs.
    let b = Machine::reader(work.path(), "b", &backend, &keys);
    let target = work.path().join("tb");
    let child = b
        .install_command(&pins, &index.url(), &target)
        .env("CAIRN_REMOTE_TIMEOUT", "2")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    garage.kill(0);
    success(&child.wait_with_output().unwrap());
    check_target(&target, 12);

    // With the remote gone, the next machine installs from the index after one warning.
    let c = Machine::reader(work.path(), "c", &backend, &keys);
    let target = work.path().join("tc");
    let output = c
        .install_command(&pins, &index.url(), &target)
        .env("CAIRN_REMOTE_TIMEOUT", "2")
        .output()
        .unwrap();
    let out = success(&output);
    assert_eq!(out.matches("not answering").count(), 1, "{out}");
    check_target(&target, 12);
    // A writer whose remote is gone still installs, and says it could not publish.
    let d = Machine::writer(work.path(), "d", &backend, &keys);
    let output = d
        .install_command(&pins, &index.url(), &work.path().join("td"))
        .env("CAIRN_REMOTE_TIMEOUT", "2")
        .output()
        .unwrap();
    success(&output);
}

#[test]
fn a_three_node_cluster_with_one_node_killed_serves_reads_and_writes() {
    let Some(garage) = Garage::start(3) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let keys = Keys::new("ci-1");
    let backend = garage.backend("cluster");
    let (index, pins) = wheels(work.path(), 2);
    let first = work.path().join("first.txt");
    let second = work.path().join("second.txt");
    let text = std::fs::read_to_string(&pins).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&first, format!("{}\n", lines[0])).unwrap();
    std::fs::write(&second, format!("{}\n", lines[1])).unwrap();
    let a = Machine::writer(work.path(), "a", &backend, &keys);
    // Garage may stall its first requests after a node dies: a generous timeout.
    let run = |machine: &Machine<'_>, pins: &Path, target: &str| {
        machine
            .install_command(pins, &index.url(), &work.path().join(target))
            .env("CAIRN_REMOTE_TIMEOUT", "20")
            .output()
            .unwrap()
    };
    let out = success(&run(&a, &first, "ta"));
    assert!(out.contains("Published 1 wheel"), "{out}");

    garage.kill(1);
    // A write with one node down: published, no warning.
    let out = success(&run(&a, &second, "ta2"));
    assert!(out.contains("Published 1 wheel"), "{out}");
    assert!(!out.contains("WARN"), "{out}");

    // Reads of both, with the index refusing everything: no request reaches it.
    let served = index.server.total_hits();
    for n in 0..2 {
        index
            .server
            .route(&format!("/simple/pkg-{n}/"), Response::status(500));
    }
    let b = Machine::reader(work.path(), "b", &backend, &keys);
    let out = success(&run(&b, &pins, "tb"));
    assert!(!out.contains("WARN"), "{out}");
    assert_eq!(index.server.total_hits(), served);
    check_target(&work.path().join("tb"), 2);
}
