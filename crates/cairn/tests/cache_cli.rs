//! `cairn cache …` end to end: the real binary, real wheels, a real HTTP server; output
//! formats and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cairn_cache::maintenance::format_size;
use cairn_test_support::child;
use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::wheel::WheelBuilder;
use support::{cairn, command, ok, stderr, stdout};

fn wheel(dir: &Path, name: &str, size: usize) -> PathBuf {
    let content: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    WheelBuilder::new(name, "1.0")
        .file(&format!("{name}/data.bin"), content)
        .build(dir)
}

fn du(path: &Path) -> u64 {
    let output = Command::new("du").arg("-sB1").arg(path).output().unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Every path under `root` with its content (files) or `None` (directories).
fn listing(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut nodes = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path.clone());
                nodes.insert(path, None);
            } else {
                nodes.insert(path.clone(), Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    nodes
}

/// `Removed 12 files, 96.0 KiB` (or `Would remove …`): the file count.
fn removed_files(line: &str, verb: &str) -> u64 {
    let rest = line
        .strip_prefix(verb)
        .unwrap_or_else(|| panic!("{line:?} does not start with {verb:?}"));
    let (count, rest) = rest.trim_start().split_once(' ').unwrap();
    assert!(rest.starts_with("file"), "{line}");
    let size = rest.split_once(", ").unwrap().1;
    assert!(
        size.ends_with(" B") || size.ends_with("iB"),
        "a human size: {line}"
    );
    count.parse().unwrap()
}

#[test]
fn cache_dir_follows_the_flag_the_environment_and_no_cache() {
    let work = tempfile::tempdir().unwrap();
    let by_flag = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .current_dir(work.path())
        .args(["--cache-dir", "relative/cache", "cache", "dir"])
        .env_remove("CAIRN_CACHE_DIR")
        .output()
        .unwrap();
    assert!(by_flag.status.success(), "{}", stderr(&by_flag));
    assert_eq!(
        stdout(&by_flag).trim_end(),
        work.path().join("relative/cache").to_str().unwrap()
    );
    assert!(
        !work.path().join("relative").exists(),
        "`dir` creates nothing"
    );

    let by_env = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["cache", "dir"])
        .env("CAIRN_CACHE_DIR", work.path().join("from-env"))
        .output()
        .unwrap();
    assert_eq!(
        stdout(&by_env).trim_end(),
        work.path().join("from-env").to_str().unwrap()
    );

    let temporary = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["--no-cache", "cache", "dir"])
        .env_remove("CAIRN_CACHE_DIR")
        .output()
        .unwrap();
    assert!(temporary.status.success(), "{}", stderr(&temporary));
    let path = PathBuf::from(stdout(&temporary).trim_end());
    assert!(path.starts_with(std::env::temp_dir()), "{}", path.display());
    assert!(
        path.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("cairn-cache-")
    );
    assert!(
        !path.exists(),
        "the temporary cache is gone with the command"
    );
}

#[test]
fn cache_size_prints_bytes_when_piped_and_human_units_with_h() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    ok(
        &cache,
        &[
            "fetch",
            wheel(work.path(), "alpha", 300_000).to_str().unwrap(),
        ],
    );

    let bytes: u64 = ok(&cache, &["cache", "size"]).trim_end().parse().unwrap();
    assert_eq!(bytes, du(&cache));
    assert_eq!(
        ok(&cache, &["cache", "size", "-H"]),
        format!("{}\n", format_size(bytes))
    );
    assert!(ok(&cache, &["cache", "size", "--human"]).ends_with("KiB\n"));
    // `--exact` walks every archive file instead of reading the recorded usage: the same here.
    assert_eq!(
        ok(&cache, &["cache", "size", "--exact"]),
        format!("{bytes}\n")
    );
}

#[test]
fn cache_list_prints_a_table_or_json_filtered_by_package() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let alpha = wheel(work.path(), "alpha", 10_000);
    let beta = wheel(work.path(), "Beta_Two", 100);
    ok(
        &cache,
        &["fetch", alpha.to_str().unwrap(), beta.to_str().unwrap()],
    );

    let table = ok(&cache, &["cache", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "VERSION",
            "SIZE",
            "LAST USED (UTC)",
            "ARCHIVE",
            "SOURCE"
        ]
    );
    assert!(lines[1].starts_with("alpha "), "{table}");
    assert!(lines[1].ends_with(alpha.to_str().unwrap()), "{table}");
    assert!(lines[2].starts_with("Beta_Two "), "{table}");
    // Columns line up: every row's version starts where the header's does.
    let column = lines[0].find("VERSION").unwrap();
    for row in &lines[1..] {
        assert_eq!(&row[column..column + 5], "1.0  ", "{table}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&ok(&cache, &["cache", "list", "--json"])).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "alpha");
    assert_eq!(rows[0]["kind"], "path");
    assert_eq!(rows[0]["source"], alpha.to_str().unwrap());
    assert_eq!(rows[0]["archive"].as_str().unwrap().len(), 64);
    let archive_bytes = rows[0]["archive_bytes"].as_u64().unwrap();
    assert!(archive_bytes >= 10_000, "{archive_bytes}");
    assert!(rows[0]["last_used"].as_u64().unwrap() > 1_700_000_000);

    let filtered: serde_json::Value =
        serde_json::from_str(&ok(&cache, &["cache", "list", "--json", "beta-two"])).unwrap();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["name"], "Beta_Two");
    assert_eq!(ok(&cache, &["cache", "list", "gamma"]).lines().count(), 1);
    assert_eq!(
        ok(&cache, &["cache", "list", "--json", "gamma"]).trim(),
        "[]"
    );
}

#[test]
fn cache_clean_reports_what_it_removed() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let alpha = wheel(work.path(), "alpha", 10_000);
    let beta = wheel(work.path(), "beta", 10_000);
    ok(
        &cache,
        &["fetch", alpha.to_str().unwrap(), beta.to_str().unwrap()],
    );

    let one = ok(&cache, &["cache", "clean", "ALPHA"]);
    // The pointer, the archive's four files and its manifest.
    assert_eq!(removed_files(one.trim_end(), "Removed"), 6, "{one}");
    let names: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&ok(&cache, &["cache", "list", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["name"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(names, ["beta"]);

    let all = ok(&cache, &["cache", "clean"]);
    assert!(removed_files(all.trim_end(), "Removed") >= 6, "{all}");
    let mut left: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [".gitignore", ".lock", ".maintenance.lock", "CACHEDIR.TAG"]
    );
    assert_eq!(ok(&cache, &["cache", "clean"]), "Removed 0 files, 0 B\n");
}

#[test]
fn cache_prune_dry_run_lists_what_would_go_and_changes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let alpha = wheel(work.path(), "alpha", 10_000);
    let beta = wheel(work.path(), "beta", 10_000);
    ok(
        &cache,
        &["fetch", alpha.to_str().unwrap(), beta.to_str().unwrap()],
    );
    let rows: serde_json::Value =
        serde_json::from_str(&ok(&cache, &["cache", "list", "--json", "alpha"])).unwrap();
    std::fs::remove_file(rows[0]["pointer"].as_str().unwrap()).unwrap();
    std::fs::create_dir(cache.join("wheels-v1")).unwrap();
    let before = listing(&cache);

    let dry = ok(&cache, &["cache", "prune", "--dry-run"]);
    let lines: Vec<&str> = dry.lines().collect();
    let archive = rows[0]["archive"].as_str().unwrap();
    let archive_line = format!("archive-v0/{}/{}", &archive[..2], &archive[2..]);
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("unreferenced archive")
                && line.ends_with(&archive_line)
                && line.contains(" KiB  ")),
        "{dry}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("old bucket version") && line.ends_with("  wheels-v1"))
    );
    assert!(lines.iter().any(|line| line.starts_with("lock files")));
    let would = removed_files(lines.last().unwrap(), "Would remove");
    assert_eq!(listing(&cache), before, "a dry run changes nothing");

    let real = ok(&cache, &["cache", "prune"]);
    assert_eq!(real.lines().count(), 1, "{real}");
    assert_eq!(removed_files(real.trim_end(), "Removed"), would);
    assert!(!cache.join(&archive_line).exists());
    assert!(!cache.join("wheels-v1").exists());
    assert_eq!(
        ok(&cache, &["cache", "prune", "--dry-run"]),
        "Would remove 0 files, 0 B\n"
    );

    // max-age and max-size take durations and sizes; anything else is a usage error.
    ok(
        &cache,
        &["cache", "prune", "--max-age", "30d", "--max-size", "1.5GiB"],
    );
    for (flag, value, message) in [
        ("--max-age", "30x", "invalid duration `30x`"),
        ("--max-age", "1.5d", "invalid duration `1.5d`"),
        ("--max-size", "10 parsecs", "invalid size `10 parsecs`"),
    ] {
        let output = cairn(&cache, &["cache", "prune", flag, value]);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&output).contains(message), "{}", stderr(&output));
    }
    let both = cairn(
        &cache,
        &["cache", "prune", "--no-wait", "--lock-timeout", "5"],
    );
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn cache_verify_exits_1_on_damage_and_0_once_repaired() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let alpha = wheel(work.path(), "alpha", 10_000);
    let archive = PathBuf::from(ok(&cache, &["fetch", alpha.to_str().unwrap()]).trim_end());

    let healthy = ok(&cache, &["cache", "verify"]);
    assert_eq!(
        healthy,
        "Checked 1 archive (4 files), 1 pointer, 0 index entries: 0 corrupt, 0 missing, \
         0 orphaned, 0 unverifiable\n"
    );

    let data = archive.join("alpha/data.bin");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[5000] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();
    let damaged = cairn(&cache, &["cache", "verify"]);
    assert_eq!(damaged.status.code(), Some(1));
    let report = stdout(&damaged);
    let relative = archive.strip_prefix(&cache).unwrap().display().to_string();
    assert!(
        report.starts_with(&format!(
            "corrupt      {relative}: `alpha/data.bin`: content differs"
        )),
        "{report}"
    );
    assert!(report.contains(": 1 corrupt, 0 missing"), "{report}");
    assert!(
        stderr(&damaged).starts_with("error: the cache is damaged (1 problem above)"),
        "{}",
        stderr(&damaged)
    );

    let repaired = ok(&cache, &["cache", "verify", "--repair"]);
    assert!(
        repaired
            .lines()
            .last()
            .unwrap()
            .starts_with("Repaired: removed 6 files, "),
        "{repaired}"
    );
    assert!(ok(&cache, &["cache", "verify"]).starts_with("Checked 0 archives"));
    let refetch: serde_json::Value =
        serde_json::from_str(&ok(&cache, &["fetch", "--json", alpha.to_str().unwrap()])).unwrap();
    assert_eq!(refetch[0]["hit"], false);
    assert!(ok(&cache, &["cache", "verify"]).contains(": 0 corrupt, 0 missing"));
}

#[test]
fn downloads_are_verified_and_prune_ci_drops_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start());
    let work = tempfile::tempdir().unwrap();
    let remote = wheel(work.path(), "remote", 50_000);
    server.route(
        "/w/remote-1.0-py3-none-any.whl",
        Response::ok(std::fs::read(&remote).unwrap())
            .etag("\"1\"")
            .cache_control("max-age=600"),
    );
    let url = server.url("/w/remote-1.0-py3-none-any.whl").to_string();
    let local = wheel(work.path(), "local", 1000);
    let cache = work.path().join("cache");
    ok(&cache, &["fetch", &url, local.to_str().unwrap()]);

    // The streaming extractor recorded a manifest: nothing is unverifiable.
    assert!(ok(&cache, &["cache", "verify"]).starts_with(
        "Checked 2 archives (8 files), 2 pointers, 0 index entries: 0 corrupt, 0 missing, \
             0 orphaned, 0 unverifiable"
    ));
    let rows: serde_json::Value =
        serde_json::from_str(&ok(&cache, &["cache", "list", "--json"])).unwrap();
    assert_eq!(rows[1]["kind"], "url");
    assert_eq!(rows[1]["source"], url.as_str());
    let pointer = PathBuf::from(rows[1]["pointer"].as_str().unwrap());
    assert!(pointer.with_extension("http").is_file());

    let dry = ok(&cache, &["cache", "prune", "--ci", "--dry-run"]);
    assert!(dry.lines().any(|line| line.starts_with("downloaded (--ci)")
        && line.ends_with(pointer.strip_prefix(&cache).unwrap().to_str().unwrap())));
    ok(&cache, &["cache", "prune", "--ci"]);
    assert!(!pointer.exists());
    assert!(!pointer.with_extension("http").exists());
    let rows: serde_json::Value =
        serde_json::from_str(&ok(&cache, &["cache", "list", "--json"])).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local"]);
    assert_eq!(
        ok(&cache, &["cache", "verify"]),
        "Checked 1 archive (4 files), 1 pointer, 0 index entries: 0 corrupt, 0 missing, \
         0 orphaned, 0 unverifiable\n"
    );
    let again: serde_json::Value =
        serde_json::from_str(&ok(&cache, &["fetch", "--json", &url])).unwrap();
    assert_eq!(again[0]["hit"], false);
    assert_eq!(server.hits("/w/remote-1.0-py3-none-any.whl"), 2);
}

#[test]
#[ignore = "child-process entry point, run by other tests"]
fn child_entry() {
    let Some(role) = child::child_role() else {
        return;
    };
    assert_eq!(role, "hold");
    let args = child::child_args();
    let _cache = cairn_cache::Cache::at(&args[0]).unwrap();
    println!("holding");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
}

#[test]
fn maintenance_waits_for_other_processes_and_says_so() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let alpha = wheel(work.path(), "alpha", 1000);
    ok(&cache, &["fetch", alpha.to_str().unwrap()]);
    let mut user = child::spawn_child("child_entry", "hold", &[cache.to_str().unwrap()]);
    child::wait_for_line(&mut user, "holding");

    let busy = cairn(&cache, &["cache", "clean", "--no-wait"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(
        stderr(&busy).contains("is in use by another cairn process"),
        "{}",
        stderr(&busy)
    );
    let timed_out = cairn(&cache, &["cache", "prune", "--lock-timeout", "1"]);
    assert_eq!(timed_out.status.code(), Some(1));
    let message = stderr(&timed_out);
    assert!(
        message.starts_with("waiting for other cairn processes to finish with the cache"),
        "{message}"
    );
    assert!(message.contains("at most 1 s"), "{message}");
    assert!(message.contains("error: timed out after 1 s"), "{message}");
    // Readers do not wait for users.
    ok(&cache, &["cache", "list", "--no-wait"]);
    ok(&cache, &["cache", "verify", "--no-wait"]);

    // A maintenance command that waits goes ahead once the user is gone.
    let mut clean = command(&cache, &["cache", "clean"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr_lines = std::io::BufReader::new(clean.stderr.take().unwrap()).lines();
    let first = stderr_lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("waiting for other cairn processes"),
        "{first}"
    );
    assert_eq!(
        std::fs::read_dir(cache.join("archive-v0")).unwrap().count(),
        1,
        "nothing is removed while the user holds the cache"
    );
    user.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    child::finish(user);
    let output = clean.wait_with_output().unwrap();
    assert!(output.status.success());
    assert!(
        stdout(&output).starts_with("Removed "),
        "{}",
        stdout(&output)
    );
    assert!(!cache.join("archive-v0").exists());
}
