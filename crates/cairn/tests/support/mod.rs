//! Running the real `cairn` binary from tests, isolated from the caller's environment.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod remote;

use std::path::Path;
use std::process::{Command, Output};

/// `cairn --cache-dir CACHE ARGS…`, with every `CAIRN_*` variable that would change behaviour
/// removed.
pub fn command(cache: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
    command.arg("--cache-dir").arg(cache).args(args);
    for variable in [
        "CAIRN_CACHE_DIR",
        "CAIRN_OFFLINE",
        "CAIRN_LOG",
        "CAIRN_INDEX_URL",
        "CAIRN_LINK_MODE",
        "CAIRN_CONCURRENT_UNPACKS",
        "CAIRN_CONCURRENT_DOWNLOADS",
        "CAIRN_COMPILE_BYTECODE",
        "CAIRN_BREAK_SYSTEM_PACKAGES",
        "CAIRN_HTTP_RETRIES",
        "CAIRN_HTTP_TIMEOUT",
        "CAIRN_HTTP_RETRY_WINDOW",
        "CAIRN_CACHE_LOWER",
        "CAIRN_REMOTE",
        "CAIRN_REMOTE_WRITE",
        "CAIRN_REMOTE_SIGNING_KEY",
        "CAIRN_REMOTE_TRUSTED_KEYS",
        "CAIRN_REMOTE_TIMEOUT",
        // An active virtual environment would be the default destination.
        "VIRTUAL_ENV",
    ] {
        command.env_remove(variable);
    }
    command
}

/// Runs [`command`] to completion.
pub fn cairn(cache: &Path, args: &[&str]) -> Output {
    command(cache, args).output().unwrap()
}

/// The output's stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The output's stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Runs, asserts success and returns stdout.
#[track_caller]
pub fn ok(cache: &Path, args: &[&str]) -> String {
    let output = cairn(cache, args);
    assert!(
        output.status.success(),
        "cairn {args:?} failed: {}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}
