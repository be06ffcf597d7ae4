//! [`Interpreter::query`]: run a Python interpreter once to learn its tags, its environment
//! markers and its real executable, then remember them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_cache::{Cache, CacheBucket, CacheEntry};
use cairn_cache_key::cache_digest;
use serde::{Deserialize, Serialize};

use super::environment::Environment;
use super::error::TagsError;
use super::facts::Facts;
use super::platform::Platform;
use crate::requirements::{InterpreterMarkers, MarkerEnvironment, MarkerEnvironmentError};

/// The script that makes an interpreter describe itself, as JSON on stdout.
const QUERY_SCRIPT: &str = include_str!("query.py");

/// The version of the interpreter cache record; a record of another version is a miss. (A change
/// of the facts also bumps the bucket's version, `interpreter-vN`, so that older cairn releases
/// sharing the cache root do not misread it.)
const RECORD_FORMAT: u32 = 3;

/// How long a process waits for another one's query of the same interpreter before running
/// its own; an interpreter answers in well under a second.
const QUERY_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of the interpreter's stderr an error quotes.
const STDERR_TAIL: usize = 2000;

/// A Python interpreter, described by what decides which wheels it can load and which
/// requirements apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The interpreter as it was asked for, made absolute (a `PATH` entry, a launcher script or
    /// a virtual environment's symlink stay as they are).
    pub path: PathBuf,
    /// The interpreter binary that actually runs: its `sys.executable` with every symlink
    /// resolved (behind a pyenv shim, `~/.pyenv/versions/3.11.7/bin/python3.11`). A virtual
    /// environment's `bin/python` resolves to its base interpreter, so use
    /// [`path`](Self::path) to name the environment, and
    /// [`shebang_path`](Self::shebang_path) for the interpreter scripts should run on.
    pub executable: PathBuf,
    /// `sys.implementation.name`: `cpython`, `pypy`, …
    pub implementation: String,
    /// The Python language version, `(3, 11)`.
    pub version: (u8, u8),
    /// The interpreter tag of its own wheels: `cp311`, `pp310`.
    pub interpreter_tag: String,
    /// The ABI tags it loads besides `abi3` and `none`, most preferred first: `cp311`;
    /// `cp311d` then `cp311` for a debug build; `cp313t` for a free-threaded one.
    pub abi_tags: Vec<String>,
    /// Where it runs.
    pub platform: Platform,
    /// Its PEP 508 environment marker values; [`Interpreter::marker_environment`] evaluates
    /// markers against them.
    pub markers: InterpreterMarkers,
    /// Its environment: prefix, virtual or not, install scheme.
    pub environment: Environment,
}

/// What the interpreter cache stores: the facts, and how to tell that the binary changed.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    format: u32,
    /// The interpreter as asked for, made absolute (the record's key).
    asked: PathBuf,
    /// The canonical path of the interpreter.
    path: PathBuf,
    size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    modified: i128,
    /// The modification time of the `pyvenv.cfg` beside the path asked for, if there is one:
    /// a virtual environment made, removed or remade there changes the environment's facts
    /// while the base interpreter stays the same file.
    venv_config: Option<i128>,
    facts: Facts,
}

impl Interpreter {
    /// Describes the interpreter at `python` (a path, or a bare name looked up on `PATH`): its
    /// tag facts, its environment markers and its real executable, from one run.
    ///
    /// The interpreter runs once (an embedded script printing JSON); the answer is cached in
    /// the interpreter bucket under the path as asked for (made absolute, not resolved: a
    /// virtual environment's `bin/python` is a symlink to its base interpreter, but answers
    /// with the environment's prefix and scheme), and reused while the path still resolves to
    /// the same file and that file's size and modification time are unchanged (and, on Linux, while the kernel
    /// release and version that `platform_release` and `platform_version` report are). Failing
    /// to write the cache is not an error: the answer is only slower next time.
    ///
    /// A launcher script (a pyenv shim, say) is keyed by the script itself: switching the
    /// version it launches without touching it is not noticed. Pass the real interpreter.
    pub fn query(python: &Path, cache: &Cache) -> Result<Self, TagsError> {
        let path = locate(python)?;
        let not_found = |source| TagsError::NotFound {
            path: python.to_owned(),
            source,
        };
        let canonical = std::fs::canonicalize(&path).map_err(not_found)?;
        let metadata = std::fs::metadata(&canonical).map_err(not_found)?;
        let size = metadata.len();
        let modified = metadata.modified().map_or(0, nanos_since_epoch);
        let entry = cache.entry(
            CacheBucket::Interpreter,
            "",
            format!("{}.json", cache_digest(&path)),
        );

        let venv_config = venv_config_modified(&path);
        let cached = || {
            let facts = read_record(&entry, &path, &canonical, size, modified)?;
            (facts.0 == venv_config).then_some(facts.1)
        };
        // Processes started together (a CI matrix, a race on one wheel) would each start the
        // interpreter: one does while the others wait for its record. The lock only saves
        // work, so failing to take it means querying anyway.
        let _lock;
        let facts = match cached() {
            Some(facts) => Some(facts),
            None => {
                _lock = cache
                    .lock(
                        &("interpreter", canonical.as_path()),
                        Some(QUERY_LOCK_TIMEOUT),
                    )
                    .inspect_err(|error| tracing::debug!(%error, "querying without the lock"))
                    .ok();
                cached()
            }
        };
        match facts {
            Some(facts) => {
                tracing::debug!(python = %canonical.display(), "interpreter facts from the cache");
                facts
                    .interpreter(path.clone(), &canonical)
                    .map_err(|reason| TagsError::BadAnswer { path, reason })
            }
            None => {
                let facts = run_query(&path)?;
                // Only an answer that makes sense is cached.
                let interpreter = match facts.interpreter(path.clone(), &canonical) {
                    Ok(interpreter) => interpreter,
                    Err(reason) => return Err(TagsError::BadAnswer { path, reason }),
                };
                let record = Record {
                    format: RECORD_FORMAT,
                    asked: path,
                    path: canonical,
                    size,
                    modified,
                    venv_config,
                    facts,
                };
                write_record(&entry, &record);
                Ok(interpreter)
            }
        }
    }

    /// The environment that requirement markers are evaluated in for this interpreter.
    pub fn marker_environment(&self) -> Result<MarkerEnvironment, MarkerEnvironmentError> {
        MarkerEnvironment::new(&self.markers)
    }

    /// The interpreter that installed scripts name in their shebangs, as pip and uv name
    /// `sys.executable`:
    ///
    /// - in a virtual environment, the environment's own `sys.executable`, symlinks not
    ///   resolved: its `bin/python` is a symlink to the base interpreter, which would not see
    ///   the environment's packages (a pyenv-virtualenv shim runs that `bin/python` too);
    /// - otherwise the real [`executable`](Self::executable), behind launcher scripts and
    ///   symlinks: the scripts of a pyenv shim's interpreter keep running on the interpreter
    ///   they were installed for, whichever version the shim picks later.
    pub fn shebang_path(&self) -> &Path {
        if self.environment.is_virtual() {
            &self.environment.sys_executable
        } else {
            &self.executable
        }
    }
}

/// The modification time of the `pyvenv.cfg` of the virtual environment `python` (absolute)
/// would belong to: beside it or one directory up, where `site` looks (PEP 405).
fn venv_config_modified(python: &Path) -> Option<i128> {
    let bin = python.parent()?;
    [Some(bin), bin.parent()]
        .into_iter()
        .flatten()
        .find_map(|dir| std::fs::metadata(dir.join("pyvenv.cfg")).ok())
        .map(|metadata| metadata.modified().map_or(0, nanos_since_epoch))
}

/// `python` made absolute; a bare name (no separator) is searched for on `PATH`, as a shell
/// would.
fn locate(python: &Path) -> Result<PathBuf, TagsError> {
    let is_bare_name = python.components().count() == 1 && !python.is_absolute();
    if is_bare_name && let Some(dirs) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&dirs) {
            let candidate = dir.join(python);
            if candidate.is_file() {
                return std::path::absolute(&candidate).map_err(|source| TagsError::NotFound {
                    path: python.to_owned(),
                    source,
                });
            }
        }
    }
    std::path::absolute(python).map_err(|source| TagsError::NotFound {
        path: python.to_owned(),
        source,
    })
}

/// The cached facts, if the record is readable, of this format and of this very file.
fn read_record(
    entry: &CacheEntry,
    asked: &Path,
    canonical: &Path,
    size: u64,
    modified: i128,
) -> Option<(Option<i128>, Facts)> {
    let bytes = std::fs::read(entry.path()).ok()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    (record.format == RECORD_FORMAT
        && record.asked == asked
        && record.path == canonical
        && record.size == size
        && record.modified == modified
        && same_kernel(&record.facts.markers))
    .then_some((record.venv_config, record.facts))
}

/// Whether the kernel is still the one the record's `platform_release` and `platform_version`
/// describe. They come from `uname`, which changes with a kernel upgrade while the interpreter
/// binary does not; Linux shows the same two strings in `/proc`, which costs no process to
/// read. Elsewhere (or without `/proc`) the recorded values are trusted.
fn same_kernel(markers: &InterpreterMarkers) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let current = |name: &str| {
        std::fs::read_to_string(Path::new("/proc/sys/kernel").join(name))
            .ok()
            .map(|text| text.trim_end_matches('\n').to_owned())
    };
    [
        ("osrelease", &markers.platform_release),
        ("version", &markers.platform_version),
    ]
    .into_iter()
    .all(|(name, recorded)| current(name).is_none_or(|current| current == *recorded))
}

fn write_record(entry: &CacheEntry, record: &Record) {
    let written = serde_json::to_vec(record)
        .map_err(|e| e.to_string())
        .and_then(|bytes| cairn_fs::write_atomic(entry.path(), &bytes).map_err(|e| e.to_string()));
    if let Err(error) = written {
        tracing::debug!(%error, "not caching the interpreter facts");
    }
}

/// Runs the query script in isolated mode (`-I`: no user site, no `PYTHON*` variables, no
/// current directory on `sys.path`), so the answer depends only on the interpreter.
fn run_query(python: &Path) -> Result<Facts, TagsError> {
    tracing::debug!(python = %python.display(), "querying the interpreter");
    let output = Command::new(python)
        .args(["-I", "-S", "-c", QUERY_SCRIPT])
        .output()
        .map_err(|source| TagsError::Spawn {
            path: python.to_owned(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let trimmed = stderr.trim();
        let start = trimmed.len().saturating_sub(STDERR_TAIL);
        let start = (start..=trimmed.len())
            .find(|&i| trimmed.is_char_boundary(i))
            .unwrap_or(trimmed.len());
        return Err(TagsError::QueryFailed {
            path: python.to_owned(),
            status: output.status.to_string(),
            stderr: trimmed[start..].to_owned(),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(|error| TagsError::BadAnswer {
        path: python.to_owned(),
        reason: error.to_string(),
    })
}

fn nanos_since_epoch(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}
