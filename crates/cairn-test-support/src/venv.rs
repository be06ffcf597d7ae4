//! Virtual environments made by the machine's own `python3 -m venv`, for tests that install
//! into environments or ask them about themselves.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether a made environment has pip in it (`ensurepip`, a few seconds) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pip {
    /// `--without-pip`.
    Without,
    /// pip installed, for tests that run `python -m pip` inside.
    With,
}

/// Makes a virtual environment at `dir` with `python3 -m venv` and returns its interpreter,
/// `dir/bin/python`. Panics, naming the directory, when `python3` cannot make one.
pub fn create(dir: &Path, pip: Pip) -> PathBuf {
    let mut command = Command::new("python3");
    command.args(["-m", "venv"]);
    if pip == Pip::Without {
        command.arg("--without-pip");
    }
    let status = command
        .arg(dir)
        .status()
        .unwrap_or_else(|error| panic!("cannot run python3 -m venv: {error}"));
    assert!(
        status.success(),
        "python3 -m venv {} failed: {status}",
        dir.display()
    );
    dir.join("bin").join("python")
}
