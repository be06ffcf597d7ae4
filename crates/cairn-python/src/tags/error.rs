//! Why an interpreter could not be queried or a target could not be understood.

use std::path::PathBuf;

/// A failure to learn which wheels an interpreter (or a `--python-version`/`--platform` target)
/// supports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TagsError {
    /// The interpreter path (or name on `PATH`) does not lead to a file.
    #[error(
        "cannot find the Python interpreter `{}`; pass the path of an existing \
         interpreter",
        path.display()
    )]
    NotFound {
        /// The path or name as given.
        path: PathBuf,
        /// What the filesystem reported.
        #[source]
        source: std::io::Error,
    },
    /// The interpreter could not be started.
    #[error(
        "cannot run the Python interpreter `{}`; check that it is executable",
        path.display()
    )]
    Spawn {
        /// The interpreter.
        path: PathBuf,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },
    /// The interpreter ran the query script but failed (not Python 3, or a broken install).
    #[error(
        "the Python interpreter `{}` failed to describe itself ({status}): {}; cairn needs a \
         working Python 3",
        path.display(),
        if stderr.is_empty() { "it printed nothing on stderr" } else { stderr.as_str() }
    )]
    QueryFailed {
        /// The interpreter.
        path: PathBuf,
        /// How it exited.
        status: String,
        /// The end of what it printed on stderr.
        stderr: String,
    },
    /// The interpreter's answer could not be understood.
    #[error(
        "the Python interpreter `{}` gave an answer cairn cannot read ({reason}); it may not be \
         a CPython or PyPy 3 interpreter",
        path.display()
    )]
    BadAnswer {
        /// The interpreter.
        path: PathBuf,
        /// What is wrong with the answer.
        reason: String,
    },
    /// A platform tag given as a target is not one cairn can expand.
    #[error(
        "`{platform}` is not a platform cairn knows ({reason}); use a wheel platform tag such as \
         manylinux_2_28_x86_64, manylinux2014_aarch64, musllinux_1_2_x86_64, linux_x86_64, \
         macosx_11_0_arm64, win_amd64 or win32"
    )]
    UnknownPlatform {
        /// The platform as given.
        platform: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A target Python version that no wheel can be built for.
    #[error("Python {}.{} is not a version cairn can target; use 3.x", version.0, version.1)]
    UnsupportedPython {
        /// The version as given.
        version: (u8, u8),
    },
}
