//! Child-process harness: a test re-runs its own test binary as a separate process, so locks,
//! crashes and races are exercised between real processes.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};

const CHILD_ENV: &str = "CAIRN_TEST_CHILD";

/// The role this process was started in, if it is a child.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Starts this test binary again, running only the test `entry` with `role` and `args`
/// (passed through the environment as `CAIRN_TEST_ARGS`, separated by newlines).
pub fn spawn_child(entry: &str, role: &str, args: &[&str]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            entry,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, role)
        .env("CAIRN_TEST_ARGS", args.join("\n"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The arguments given to [`spawn_child`].
pub fn child_args() -> Vec<String> {
    std::env::var("CAIRN_TEST_ARGS")
        .unwrap_or_default()
        .split('\n')
        .map(str::to_owned)
        .collect()
}

/// Reads stdout lines of `child` until one equals `line` (a readiness signal), so tests wait
/// for an event rather than sleeping.
pub fn wait_for_line(child: &mut Child, line: &str) {
    use std::io::BufRead;
    let stdout = child.stdout.as_mut().unwrap();
    let mut reader = std::io::BufReader::new(stdout);
    let mut buffer = String::new();
    loop {
        buffer.clear();
        let read = reader.read_line(&mut buffer).unwrap();
        assert!(read > 0, "child exited before printing `{line}`");
        // libtest prints "test NAME ... " without a newline before the child's own output.
        if buffer.trim_end().ends_with(line) {
            return;
        }
    }
}
