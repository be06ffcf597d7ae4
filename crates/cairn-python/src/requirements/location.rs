//! Where a requirement or an option was written: a file and line, or the command line.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where a requirement or an option was written, for error messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A line of a requirements file. `line` counts from 1 and is the first physical line of a
    /// requirement continued over several lines with `\`.
    File {
        /// The file as it was named (the origin given to the parser, or joined to the including
        /// file's directory for `-r` and `-c`). Shared by all the file's locations.
        path: Arc<Path>,
        /// The line number, from 1.
        line: usize,
    },
    /// A command-line argument.
    CommandLine,
}

impl Location {
    /// A line of the file `path`.
    pub fn file(path: Arc<Path>, line: usize) -> Self {
        Self::File { path, line }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, line } => write!(f, "{}:{line}", path.display()),
            Self::CommandLine => f.write_str("command-line argument"),
        }
    }
}
