//! Maintenance while other processes keep installing from the same cache: real `cairn`
//! processes on both sides. Every install succeeds, every prune and clean succeeds, and the
//! cache verifies clean afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::wheel::WheelBuilder;

mod support;

const FETCHERS: usize = 3;
const ROUNDS: usize = 12;

fn succeed(cache: &Path, args: &[&str]) -> String {
    support::ok(cache, args)
}

fn content(name: &str, size: usize) -> Vec<u8> {
    let seed = name.len() * 31;
    (0..size).map(|i| ((i * 13 + seed) % 251) as u8).collect()
}

fn build(dir: &Path, name: &str, size: usize) -> PathBuf {
    WheelBuilder::new(name, "1.0")
        .file(&format!("{name}/__init__.py"), "X = 1\n")
        .file(&format!("{name}/data.bin"), content(name, size))
        .executable(&format!("{name}/tool.sh"), "#!/bin/sh\n")
        .build(dir)
}

#[test]
fn prune_and_clean_while_other_processes_fetch() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start());
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let mut sources = Vec::new();
    for (index, name) in ["alpha", "beta", "gamma", "delta"].into_iter().enumerate() {
        sources.push(
            build(work.path(), name, 20_000 * (index + 1))
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    for name in ["remote_one", "remote_two"] {
        let wheel = build(work.path(), name, 60_000);
        let path = format!("/w/{}", wheel.file_name().unwrap().to_str().unwrap());
        server.route(&path, Response::ok(std::fs::read(&wheel).unwrap()));
        sources.push(server.url(&path).to_string());
    }
    let sources = Arc::new(sources);

    let finished = Arc::new(AtomicUsize::new(0));
    let fetched = Arc::new(AtomicUsize::new(0));
    let fetchers: Vec<_> = (0..FETCHERS)
        .map(|worker| {
            let (cache, sources) = (cache.clone(), sources.clone());
            let (finished, fetched) = (finished.clone(), fetched.clone());
            let targets = cache.with_file_name(format!("targets-{worker}"));
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    // Each round installs every wheel into a new target, from the cache when
                    // maintenance left the archives, else fetching them again.
                    let target = targets.join(round.to_string());
                    let mut args = vec!["install", "--link-mode", "hardlink", "--target"];
                    args.push(target.to_str().unwrap());
                    args.extend(sources.iter().map(String::as_str));
                    succeed(&cache, &args);
                    for name in [
                        "alpha",
                        "beta",
                        "gamma",
                        "delta",
                        "remote_one",
                        "remote_two",
                    ] {
                        let data = target.join(name).join("data.bin");
                        assert_eq!(
                            std::fs::read(&data).unwrap(),
                            content(name, std::fs::metadata(&data).unwrap().len() as usize)
                        );
                    }
                    fetched.fetch_add(1, Ordering::SeqCst);
                }
                finished.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();

    // Maintenance in a loop while the fetchers run: every run must succeed. Each removes
    // what the fetchers wrote (`--max-age 0s` expires every pointer), so the fetchers that
    // come after it must fetch again.
    let mut runs = 0;
    let mut overlapped = 0;
    while finished.load(Ordering::SeqCst) < FETCHERS {
        let args: &[&str] = match runs % 3 {
            0 => &["cache", "prune", "--max-age", "0s", "--lock-timeout", "300"],
            1 => &[
                "cache",
                "clean",
                "gamma",
                "remote-one",
                "--lock-timeout",
                "300",
            ],
            _ => &["cache", "prune", "--max-size", "0", "--lock-timeout", "300"],
        };
        let summary = succeed(&cache, args);
        runs += 1;
        if !summary.starts_with("Removed 0 files")
            && fetched.load(Ordering::SeqCst) < FETCHERS * ROUNDS
        {
            overlapped += 1;
        }
    }
    for fetcher in fetchers {
        fetcher.join().unwrap();
    }
    // Waiting maintenance goes ahead of newcomers, so runs alternate with the fetchers rather
    // than starving until they are done.
    assert!(
        overlapped >= 3,
        "only {overlapped} of {runs} maintenance runs removed something while fetches were \
         still to come"
    );

    // One last round, then the cache must verify clean and hold the right bytes.
    let mut args = vec!["fetch"];
    args.extend(sources.iter().map(String::as_str));
    let archives = succeed(&cache, &args);
    let report = succeed(&cache, &["cache", "verify"]);
    assert!(
        report.starts_with("Checked 6 archives (36 files), 6 pointers, 0 index entries:"),
        "{report}"
    );
    assert!(
        report.ends_with(": 0 corrupt, 0 missing, 0 orphaned, 0 unverifiable\n"),
        "{report}"
    );
    let first = PathBuf::from(archives.lines().next().unwrap());
    assert_eq!(
        std::fs::read(first.join("alpha/data.bin")).unwrap(),
        content("alpha", 20_000)
    );
}
