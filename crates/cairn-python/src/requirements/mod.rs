//! Pinned requirements files, as `pip-compile --generate-hashes` and
//! `uv pip compile --generate-hashes` write them, and requirements given on the command line.
//!
//! cairn installs exactly what it is told, so every requirement must be pinned: `name==version`
//! (from an index) or a wheel path or URL. The pip format is read as pip reads it:
//!
//! - comments (`#` at the start of a line or after whitespace; a URL's `#sha256=` is no
//!   comment), blank lines, `\` continuations, CRLF endings and a UTF-8 byte-order mark;
//! - `--hash=ALG:HEX` / `--hash ALG:HEX` after a requirement, several per requirement; any
//!   turns on pip's hash-checking mode, as does `--require-hashes`
//!   ([`RequirementsFile::check_hash_mode`]);
//! - environment markers, evaluated for a [`MarkerEnvironment`]: lines that do not apply are
//!   skipped;
//! - extras, `name @ url`, bare wheel paths and URLs (relative paths are relative to the file);
//! - `-r`/`--requirement` and `-c`/`--constraint` files, relative to the including file, with
//!   cycles reported; constraints add nothing, but a pin they forbid is an error;
//! - `-i`/`--index-url`, `--extra-index-url`, `-f`/`--find-links`, `--no-index`;
//! - `${VAR}` expanded from the environment, as pip does;
//! - `--pre`, `--prefer-binary`, `--only-binary`, `--trusted-host`, `--use-feature` and
//!   `--no-binary :none:` are accepted and ignored (logged at debug level): they cannot change
//!   which pinned wheel is installed, and cairn keeps verifying TLS whatever `--trusted-host`
//!   says;
//! - refused with a message saying why: `-e`/`--editable`, `--no-binary` for any package, build
//!   options (`--config-settings`, `--global-option`, `--install-option`), includes by URL,
//!   unpinned requirements, two different pins for one project, two different `--index-url`s.
//!
//! Unlike pip, a file whose last line ends with a `\` continuation is refused (it is
//! truncated), and a file larger than [`MAX_FILE_BYTES`] (or files that together with their
//! includes exceed [`MAX_TOTAL_BYTES`]) is refused before it is parsed. Any number of lines and
//! of `--hash` options is handled in time linear in the file's size.
//!
//! Every error names the file and line (the first line of a continued requirement), and
//! credentials in quoted lines are masked.

mod error;
mod file;
mod lines;
mod location;
mod marker;
mod options;
mod redact;
mod requirement;

pub use error::{LineProblem, RequirementsError};
pub use file::{MAX_FILE_BYTES, MAX_TOTAL_BYTES, RequirementsFile};
pub use location::Location;
use marker::refuse_non_ascii_in_marker;
pub use marker::{InterpreterMarkers, Marker, MarkerEnvironment, MarkerEnvironmentError};
pub(crate) use requirement::refuse_what_pep508_panics_on;
pub use requirement::{Requirement, is_source_tree, parse_requirement_arg};
