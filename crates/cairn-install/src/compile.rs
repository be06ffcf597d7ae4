//! Compiling the installed `.py` files to bytecode with the target interpreter, as
//! `uv pip install --compile-bytecode` does.
//!
//! Worker processes of the interpreter (one per core, fewer for a few files) each run
//! `compile.py`, which reads absolute paths on stdin and answers each with one line on stdout.
//! Each worker's thread takes the next path from one shared list, so a worker that meets a
//! large module does not hold up the others, and keeps up to [`WINDOW`] paths in flight, so a
//! worker never waits for the next path. The window bounds both pipes: at most [`WINDOW`]
//! short answers are ever unread, so neither side can block the other.
//!
//! A file that does not compile (a syntax error in vendored Python 2 code, say) is logged at
//! debug and counted, not an error: pip and uv ignore such files too. An interpreter that
//! cannot start, or a worker that dies or answers something else, is a [`BytecodeError`].
//!
//! The `.pyc` files are not listed in `RECORD`, as with uv: PEP 491 lets installers leave
//! them out, and uninstallers (pip, uv, cairn's upgrades) remove `__pycache__` entries of
//! the modules they remove.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The worker script.
const WORKER: &str = include_str!("compile.py");

/// Paths a worker may have been sent and not yet answered.
const WINDOW: usize = 16;

/// Files a worker is started for: a few files are not worth another interpreter start.
const FILES_PER_WORKER: usize = 32;

/// How much of a failed worker's stderr an error keeps.
const STDERR_KEPT: usize = 4096;

/// What compiling the installed files' bytecode did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BytecodeReport {
    /// `.py` files compiled to a `.pyc`.
    pub compiled: u64,
    /// `.py` files the interpreter could not compile (logged at debug), as pip and uv allow.
    pub failed: u64,
}

/// Why bytecode could not be compiled. A file that does not compile is not one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BytecodeError {
    /// The interpreter could not be started.
    #[error(
        "cannot start {} to compile bytecode; check that it is the target environment's python",
        python.display()
    )]
    Spawn {
        /// The interpreter.
        python: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// Writing paths to a worker or reading its answers failed.
    #[error("cannot talk to the bytecode compiler {}", python.display())]
    Pipe {
        /// The interpreter.
        python: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A worker exited early, or answered something other than the protocol's lines.
    #[error(
        "the bytecode compiler {} {problem}{}{stderr}",
        python.display(),
        if stderr.is_empty() { "" } else { "; its stderr: " }
    )]
    Worker {
        /// The interpreter.
        python: PathBuf,
        /// What went wrong.
        problem: String,
        /// The start of what the worker wrote to stderr.
        stderr: String,
    },
}

/// Compiles `sources` (absolute paths of `.py` files) with `python`.
pub(crate) fn compile(python: &Path, sources: &[PathBuf]) -> Result<BytecodeReport, BytecodeError> {
    if sources.is_empty() {
        return Ok(BytecodeReport::default());
    }
    let parallelism = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = sources
        .len()
        .div_ceil(FILES_PER_WORKER)
        .clamp(1, parallelism);
    let shared = Shared {
        python,
        sources,
        next: AtomicUsize::new(0),
        compiled: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    };
    tracing::debug!(
        files = sources.len(),
        workers,
        python = %python.display(),
        "compiling bytecode"
    );
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| scope.spawn(|| shared.run_worker()))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(shared.worker_error("panicked".to_owned(), String::new()))
                })
            })
            .collect::<Result<Vec<()>, _>>()
    })?;
    Ok(BytecodeReport {
        compiled: shared.compiled.into_inner(),
        failed: shared.failed.into_inner(),
    })
}

/// What the workers' threads share.
struct Shared<'a> {
    python: &'a Path,
    sources: &'a [PathBuf],
    /// The index of the next source to hand out.
    next: AtomicUsize,
    compiled: AtomicU64,
    failed: AtomicU64,
}

impl Shared<'_> {
    /// Starts one worker and feeds it sources until none is left.
    fn run_worker(&self) -> Result<(), BytecodeError> {
        let mut child = Command::new(self.python)
            // Isolated: no user site, no PYTHON* variables (PYTHONPYCACHEPREFIX would send
            // the .pyc files elsewhere), no current directory on sys.path.
            .args(["-I", "-c", WORKER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BytecodeError::Spawn {
                python: self.python.to_path_buf(),
                source,
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            // Piped above, so always present.
            return Err(self.finish(child, None, "has no pipes".to_owned()));
        };
        // Read stderr beside the work, so a worker writing much of it never blocks.
        std::thread::scope(|scope| {
            let stderr = scope.spawn(|| read_stderr(stderr));
            let fed = self.feed(BufWriter::new(stdin), BufReader::new(stdout));
            let stderr = stderr.join().ok();
            match fed {
                Ok(()) => {
                    let status = child.wait().map_err(|source| self.pipe_error(source))?;
                    if status.success() {
                        Ok(())
                    } else {
                        Err(self.worker_error(exited(status), stderr.unwrap_or_default()))
                    }
                }
                Err(Fed::Pipe(source)) => Err(self.finish(child, stderr, format!("{source}"))),
                Err(Fed::Protocol(problem)) => Err(self.finish(child, stderr, problem)),
            }
        })
    }

    /// Sends sources to one worker and reads its answers; closes its stdin at the end.
    fn feed(
        &self,
        mut stdin: BufWriter<std::process::ChildStdin>,
        mut stdout: BufReader<std::process::ChildStdout>,
    ) -> Result<(), Fed> {
        let mut line = Vec::new();
        read_answer(&mut stdout, &mut line)?;
        if line != b"ready" {
            return Err(unexpected("instead of starting", &line));
        }
        let mut in_flight = VecDeque::with_capacity(WINDOW);
        let mut exhausted = false;
        loop {
            while !exhausted && in_flight.len() < WINDOW {
                let index = self.next.fetch_add(1, Ordering::Relaxed);
                let Some(source) = self.sources.get(index) else {
                    exhausted = true;
                    break;
                };
                let bytes = source.as_os_str().as_bytes();
                if bytes.contains(&b'\n') {
                    tracing::debug!(
                        path = %source.display(),
                        "not compiled: a newline in its path"
                    );
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                stdin.write_all(bytes).map_err(write_error)?;
                stdin.write_all(b"\n").map_err(write_error)?;
                in_flight.push_back(source);
            }
            stdin.flush().map_err(write_error)?;
            let Some(source) = in_flight.pop_front() else {
                break;
            };
            read_answer(&mut stdout, &mut line)?;
            if line == b"ok" {
                self.compiled.fetch_add(1, Ordering::Relaxed);
            } else if let Some(message) = line.strip_prefix(b"error ") {
                tracing::debug!(
                    path = %source.display(),
                    error = %String::from_utf8_lossy(message),
                    "not compiled"
                );
                self.failed.fetch_add(1, Ordering::Relaxed);
            } else {
                return Err(unexpected("instead of a result", &line));
            }
        }
        drop(stdin);
        Ok(())
    }

    /// Kills a worker that failed, reaps it, and describes it with its stderr.
    fn finish(&self, mut child: Child, stderr: Option<String>, problem: String) -> BytecodeError {
        // It may have exited already; either way it is reaped below.
        let _ = child.kill();
        let problem = match child.wait() {
            Ok(status) if !status.success() => format!("{problem} ({})", exited(status)),
            _ => problem,
        };
        self.worker_error(problem, stderr.unwrap_or_default())
    }

    fn worker_error(&self, problem: String, stderr: String) -> BytecodeError {
        BytecodeError::Worker {
            python: self.python.to_path_buf(),
            problem,
            stderr,
        }
    }

    fn pipe_error(&self, source: io::Error) -> BytecodeError {
        BytecodeError::Pipe {
            python: self.python.to_path_buf(),
            source,
        }
    }
}

/// Why feeding a worker stopped.
enum Fed {
    Pipe(io::Error),
    Protocol(String),
}

/// Reads one answer line, without its newline; end of output is a protocol error.
fn read_answer(stdout: &mut impl BufRead, line: &mut Vec<u8>) -> Result<(), Fed> {
    line.clear();
    if stdout.read_until(b'\n', line).map_err(Fed::Pipe)? == 0 {
        return Err(Fed::Protocol("exited before answering".to_owned()));
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(())
}

/// A failed write to a worker: a broken pipe means it exited, which its exit status then tells.
fn write_error(error: io::Error) -> Fed {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Fed::Protocol("exited before answering".to_owned())
    } else {
        Fed::Pipe(error)
    }
}

fn unexpected(when: &str, line: &[u8]) -> Fed {
    let shown: String = String::from_utf8_lossy(line).chars().take(200).collect();
    Fed::Protocol(format!("wrote `{shown}` {when}"))
}

fn exited(status: ExitStatus) -> String {
    format!("exited with {status}")
}

/// The start of a worker's stderr, trimmed; the rest is read and dropped.
fn read_stderr(stderr: ChildStderr) -> String {
    let mut kept = Vec::new();
    let mut reader = stderr;
    let _ = (&mut reader)
        .take(STDERR_KEPT as u64)
        .read_to_end(&mut kept);
    let _ = io::copy(&mut reader, &mut io::sink());
    String::from_utf8_lossy(&kept).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interpreter_names_itself() {
        let python = Path::new("/nonexistent/python3");
        let error = compile(python, &[PathBuf::from("/tmp/x.py")]).unwrap_err();
        assert!(matches!(error, BytecodeError::Spawn { .. }), "{error:?}");
        assert!(
            error.to_string().contains("/nonexistent/python3"),
            "{error}"
        );
    }

    #[test]
    fn a_program_that_is_not_python_is_an_error() {
        // `/bin/true` ignores its arguments and exits before answering.
        let error = compile(Path::new("/bin/true"), &[PathBuf::from("/tmp/x.py")]).unwrap_err();
        let BytecodeError::Worker { problem, .. } = &error else {
            panic!("{error:?}");
        };
        assert!(problem.contains("exited before answering"), "{error:?}");
    }

    #[test]
    fn a_worker_that_dies_is_an_error_with_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("python");
        std::fs::write(&fake, "#!/bin/sh\necho ready\necho boom >&2\nexit 3\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let error = compile(&fake, &[PathBuf::from("/tmp/x.py")]).unwrap_err();
        let BytecodeError::Worker {
            problem, stderr, ..
        } = &error
        else {
            panic!("{error:?}");
        };
        assert!(problem.contains("exited before answering"), "{error:?}");
        assert!(problem.contains("exit status: 3"), "{error:?}");
        assert_eq!(stderr, "boom");
        assert!(error.to_string().contains(&fake.display().to_string()));
    }

    #[test]
    fn no_sources_start_no_worker() {
        // `/bin/true` would fail as a worker: it never says it is ready.
        let report = compile(Path::new("/bin/true"), &[]).unwrap();
        assert_eq!(report, BytecodeReport::default());
    }
}
