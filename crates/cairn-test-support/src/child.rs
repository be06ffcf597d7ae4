//! Child-process harness: a test re-runs its own test binary as a separate process, so locks,
//! crashes and races are exercised between real processes.
//!
//! A test file declares one `#[ignore]`d entry test that dispatches on [`child_role`]; other
//! tests start it with [`spawn_child`] and talk to it over stdin and stdout.

use std::process::{Child, Command, Stdio};

const CHILD_ENV: &str = "CAIRN_TEST_CHILD";

/// The role this process was started in, if it is a child.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Starts this test binary again, running only the test `entry` with `role` and `args`
/// (passed through the environment as `CAIRN_TEST_ARGS`, separated by newlines).
pub fn spawn_child(entry: &str, role: &str, args: &[&str]) -> Child {
    child_command(entry, role, args).spawn().unwrap()
}

/// The command [`spawn_child`] runs, for callers that need to adjust its environment first.
/// Stdin and stdout are piped, stderr is inherited.
pub fn child_command(entry: &str, role: &str, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
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
        .stderr(Stdio::inherit());
    command
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

/// Collects the child's whole stdout and asserts it exited successfully.
pub fn finish(child: Child) -> String {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "child failed: {:?}", output.status);
    String::from_utf8(output.stdout).unwrap()
}
