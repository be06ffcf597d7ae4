//! What can be wrong with a requirements file or a requirement argument.

use std::fmt;
use std::path::PathBuf;

use super::location::Location;
use cairn_hash::ParseDigestError;
use cairn_types::SourceError;

/// A requirements file or requirement that cairn cannot use. Every variant names where the
/// problem was written (file and line, or the command line).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequirementsError {
    /// A requirements file could not be read.
    #[error("cannot read the requirements file `{}`{}", path.display(), IncludedFrom(included_from.as_ref()))]
    Read {
        /// The file.
        path: PathBuf,
        /// The `-r`/`-c` line that named it, if any.
        included_from: Option<Location>,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A requirements file is larger than cairn reads, or the files it includes add up to more.
    #[error(
        "the requirements file `{}`{} is larger than {} MiB{}, the most cairn reads; a pinned \
         requirements file is far smaller: check that it names the right file",
        path.display(),
        IncludedFrom(included_from.as_ref()),
        cap / (1024 * 1024),
        if *with_includes { " together with the files read before it" } else { "" }
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The `-r`/`-c` line that named it, if any.
        included_from: Option<Location>,
        /// The cap, in bytes.
        cap: u64,
        /// Whether the cap is the one on all the files of one parse together.
        with_includes: bool,
    },
    /// A requirements file is not UTF-8 text.
    #[error("{location}: the requirements file is not UTF-8 text; save it as UTF-8")]
    NotUtf8 {
        /// The file and the first line with invalid bytes.
        location: Location,
    },
    /// One line is wrong.
    #[error("{location}: {problem}\n    {text}")]
    Line {
        /// Where.
        location: Location,
        /// The line as written (continuations joined, credentials masked).
        text: String,
        /// What is wrong (boxed: it is the largest part of the error).
        problem: Box<LineProblem>,
    },
    /// Files include each other (`-r`/`-c`) in a cycle.
    #[error(
        "requirements files include each other in a cycle: {} -> `{}`; remove one of these \
         includes",
        Chain(chain),
        repeated.display()
    )]
    IncludeCycle {
        /// The `-r`/`-c` lines of the cycle, from the first read of `repeated` on.
        chain: Vec<Location>,
        /// The file included again while it was being read.
        repeated: PathBuf,
    },
    /// Two lines pin the same project differently.
    #[error(
        "`{name}` is pinned twice, differently: {first_pin} at {first} and {second_pin} at \
         {second}; keep one of them"
    )]
    ConflictingPins {
        /// The normalised project name.
        name: Box<str>,
        /// The first line.
        first: Location,
        /// Its pin (`==1.0` or a URL).
        first_pin: Box<str>,
        /// The second line.
        second: Location,
        /// Its pin.
        second_pin: Box<str>,
    },
    /// Two lines give the same project sets of hashes with nothing in common, so no file
    /// could match both.
    #[error(
        "`{name}` has --hash values at {first} and at {second} with none in common, so no file \
         can match both; keep one set"
    )]
    DisjointHashes {
        /// The normalised project name.
        name: Box<str>,
        /// The first line.
        first: Location,
        /// The second line.
        second: Location,
    },
    /// Two lines name different primary indexes.
    #[error(
        "two different index URLs: `{first_url}` at {first} and `{second_url}` at {second}; keep \
         one `--index-url` and add others with `--extra-index-url`"
    )]
    ConflictingIndexUrls {
        /// The first line.
        first: Location,
        /// Its URL (credentials masked).
        first_url: Box<str>,
        /// The second line.
        second: Location,
        /// Its URL (credentials masked).
        second_url: Box<str>,
    },
    /// A pin does not satisfy a constraint (`-c`).
    #[error(
        "{requirement}: `{name}` is pinned to {pin}, which the constraint at {constraint} does \
         not allow ({constraint_text})"
    )]
    ConstraintViolated {
        /// The normalised project name.
        name: Box<str>,
        /// The requirement's line.
        requirement: Location,
        /// Its pin.
        pin: Box<str>,
        /// The constraint's line.
        constraint: Location,
        /// The constraint (credentials masked).
        constraint_text: Box<str>,
    },
    /// Hash-checking mode is on and a requirement has no hash.
    #[error(
        "{location}: `{requirement}` has no --hash, but hash-checking mode is on ({reason}); \
         every requirement needs one (`pip-compile --generate-hashes` and `uv pip compile \
         --generate-hashes` write them)"
    )]
    MissingHash {
        /// The requirement's line.
        location: Location,
        /// The requirement (credentials masked).
        requirement: Box<str>,
        /// Why the mode is on: the line that turned it on.
        reason: Box<str>,
    },
}

/// What is wrong with one line.
#[derive(Debug, thiserror::Error)]
pub enum LineProblem {
    /// Not PEP 508 and not a wheel path or URL.
    #[error("invalid requirement: {message}")]
    Syntax {
        /// The parser's explanation.
        message: String,
    },
    /// A requirement without an exact version.
    #[error(
        "`{requirement}` is not pinned: cairn installs pinned requirements only (`name==version`, \
         or a wheel URL or path); pin it, e.g. with `uv pip compile --generate-hashes`"
    )]
    Unpinned {
        /// The requirement (credentials masked).
        requirement: String,
    },
    /// A wheel URL or path that is not usable.
    #[error(transparent)]
    Source(SourceError),
    /// `name @ url` whose wheel is of another project.
    #[error("the wheel `{filename}` is of the project `{wheel_name}`, not `{name}`")]
    NameMismatch {
        /// The name before `@`.
        name: String,
        /// The wheel file name.
        filename: String,
        /// The project name in the file name.
        wheel_name: String,
    },
    /// `--hash` with a malformed value.
    #[error("invalid --hash `{value}`; expected e.g. `--hash=sha256:<64 hex digits>`")]
    Hash {
        /// The value.
        value: String,
        /// The parse error.
        #[source]
        source: ParseDigestError,
    },
    /// `--hash` on a line without a requirement.
    #[error(
        "`--hash` belongs to the requirement on its line; write it after `name==version`, \
         continuing the line with `\\`"
    )]
    HashWithoutRequirement,
    /// An option that needs a value has none.
    #[error("the option `{option}` needs a value")]
    MissingValue {
        /// The option.
        option: String,
    },
    /// A flag given a value (`--pre=yes`).
    #[error("the option `{option}` takes no value")]
    UnexpectedValue {
        /// The option.
        option: String,
    },
    /// An option that pip does not know either.
    #[error("unknown option `{option}`")]
    UnknownOption {
        /// The option.
        option: String,
    },
    /// A pip option whose meaning cairn does not provide.
    #[error("the option `{option}` is not supported: {reason}")]
    UnsupportedOption {
        /// The option.
        option: String,
        /// Why, and what to do instead.
        reason: &'static str,
    },
    /// The file's last line ends with a `\` continuation: the rest of the requirement is
    /// missing (a truncated file, or a line deleted after it).
    #[error(
        "the line ends with `\\`, continuing onto a next line, but the file ends there; \
         remove the `\\` or restore the rest of the requirement"
    )]
    DanglingContinuation,
    /// An option that only makes sense on its own line came after a requirement.
    #[error("the option `{option}` applies to the whole file; put it on a line of its own")]
    FileOptionAfterRequirement {
        /// The option.
        option: String,
    },
}

/// Formats ` (included from a.txt:3)` when there is an including line.
struct IncludedFrom<'a>(Option<&'a Location>);

impl fmt::Display for IncludedFrom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(location) => write!(f, " (included from {location})"),
            None => Ok(()),
        }
    }
}

/// Formats a chain of includes as `a.txt:1 -> b.txt:4 -> a.txt`.
struct Chain<'a>(&'a [Location]);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, location) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{location}")?;
        }
        Ok(())
    }
}
