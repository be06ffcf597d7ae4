//! A requirements file and the files it includes, parsed for one environment.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pep508_rs::pep440_rs::Version;

use super::error::{LineProblem, RequirementsError};
use super::lines::{DanglingContinuation, LogicalLine, expand_env_vars, logical_lines};
use super::location::Location;
use super::marker::MarkerEnvironment;
use super::options::{IncludeKind, LineOption, split_line};
use super::redact::quote_line;
use super::requirement::{ParsedRequirement, Pin, Requirement};
use cairn_hash::Digest;
use cairn_types::{PackageName, WheelSource, redact_text};

/// The largest requirements file cairn reads, in bytes. A pinned file with a hash for every
/// wheel of hundreds of projects stays far below it; the cap stops `-r /dev/zero` or a wrong
/// file from taking all memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The most one parse reads across a file and everything it includes, in bytes, so that a
/// file including another many times cannot multiply the cap.
pub const MAX_TOTAL_BYTES: u64 = 4 * MAX_FILE_BYTES;

/// A pinned requirements file, as `pip-compile --generate-hashes` and
/// `uv pip compile --generate-hashes` write them, with the files it includes.
///
/// Only the lines whose environment marker holds for the [`MarkerEnvironment`] given to the
/// parser are kept. Each project appears once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementsFile {
    /// The requirements, in file order (an included file's at its `-r` line).
    pub requirements: Vec<Requirement>,
    /// `-i/--index-url`; `None` means the default index.
    pub index_url: Option<String>,
    /// `--extra-index-url`s, in order, without repeats.
    pub extra_index_urls: Vec<String>,
    /// `-f/--find-links` URLs and paths (relative paths joined to the file's directory).
    pub find_links: Vec<String>,
    /// `--no-index`: use no index, only `find_links` and wheel paths.
    pub no_index: bool,
    /// pip's hash-checking mode is on: a requirement line carries `--hash`, or the file says
    /// `--require-hashes`. [`RequirementsFile::check_hash_mode`] enforces it.
    pub hash_checking: bool,
    /// The line that turned hash-checking mode on.
    pub hash_checking_cause: Option<Location>,
    /// Requirement lines that had no digest, with their text: a line merged into a duplicate
    /// that has hashes is still one the user wrote without any.
    unhashed_lines: Vec<(Location, String)>,
}

impl RequirementsFile {
    /// Parses `text`, the contents of the requirements file `origin`, for `env`.
    ///
    /// `-r`/`--requirement` and `-c`/`--constraint` files are read from disk, relative to
    /// `origin`'s directory. Constraints add no requirement; a pin they do not allow is an
    /// error, and hashes they carry narrow the pin's.
    pub fn parse(
        text: &str,
        origin: &Path,
        env: &MarkerEnvironment,
    ) -> Result<Self, RequirementsError> {
        let mut parser = Parser::new(env);
        parser.parse_text(text, origin, IncludeKind::Requirements, None)?;
        parser.finish()
    }

    /// Reads and parses the requirements file at `path` for `env`; see [`Self::parse`].
    pub fn read(path: &Path, env: &MarkerEnvironment) -> Result<Self, RequirementsError> {
        let text = read_text(path, None)?;
        Self::parse(&text, path, env)
    }

    /// Enforces pip's hash-checking mode: when it is on, every requirement must carry a hash
    /// (a `--hash`, or a `#sha256=` fragment of its wheel URL) and be pinned (which parsing
    /// already guarantees). The error names the first offending line.
    pub fn check_hash_mode(&self) -> Result<(), RequirementsError> {
        if !self.hash_checking {
            return Ok(());
        }
        let reason = match &self.hash_checking_cause {
            Some(location) => format!("turned on at {location}"),
            None => "it was turned on".to_owned(),
        };
        let unhashed = self
            .requirements
            .iter()
            .filter(|requirement| requirement.hashes.is_empty())
            .map(|requirement| (&requirement.source, requirement.to_string()));
        let merged = self
            .unhashed_lines
            .iter()
            .map(|(location, text)| (location, text.clone()));
        match unhashed.chain(merged).next() {
            Some((location, requirement)) => Err(RequirementsError::MissingHash {
                location: location.clone(),
                requirement: requirement.into(),
                reason: reason.into(),
            }),
            None => Ok(()),
        }
    }
}

/// A line of a constraints file that applies in the environment.
struct Constraint {
    parsed: ParsedRequirement,
    /// The line's `--hash` digests and its wheel URL's fragment digests.
    hashes: Vec<Digest>,
    location: Location,
}

/// The state of one parse: the result so far and the files being read.
struct Parser<'e> {
    env: &'e MarkerEnvironment,
    /// The files being read, outermost first: how each is identified, and the line including it.
    open: Vec<(PathBuf, Option<Location>)>,
    file: RequirementsFile,
    /// Index in `file.requirements` by normalised name.
    by_name: HashMap<PackageName, usize>,
    index_url_at: Option<Location>,
    constraints: Vec<Constraint>,
    /// `extra_index_urls` and `find_links` as sets, so that repeats are dropped in constant time.
    seen_links: HashSet<(bool, String)>,
    /// Bytes of text parsed so far, across includes ([`MAX_TOTAL_BYTES`]).
    bytes_parsed: u64,
    /// The extras of each requirement (by its index) as a set, so that merging any number of
    /// lines for one project stays linear.
    seen_extras: HashSet<(usize, String)>,
}

impl<'e> Parser<'e> {
    fn new(env: &'e MarkerEnvironment) -> Self {
        Self {
            env,
            open: Vec::new(),
            file: RequirementsFile {
                requirements: Vec::new(),
                index_url: None,
                extra_index_urls: Vec::new(),
                find_links: Vec::new(),
                no_index: false,
                hash_checking: false,
                hash_checking_cause: None,
                unhashed_lines: Vec::new(),
            },
            by_name: HashMap::new(),
            index_url_at: None,
            constraints: Vec::new(),
            seen_links: HashSet::new(),
            bytes_parsed: 0,
            seen_extras: HashSet::new(),
        }
    }

    fn parse_text(
        &mut self,
        text: &str,
        path: &Path,
        kind: IncludeKind,
        included_from: Option<Location>,
    ) -> Result<(), RequirementsError> {
        let identity = identity(path);
        if let Some(first) = self.open.iter().position(|(open, _)| *open == identity) {
            let chain = self.open[first + 1..]
                .iter()
                .filter_map(|(_, from)| from.clone())
                .chain(included_from)
                .collect();
            return Err(RequirementsError::IncludeCycle {
                chain,
                repeated: path.to_path_buf(),
            });
        }
        self.bytes_parsed = self.bytes_parsed.saturating_add(text.len() as u64);
        let too_large = if text.len() as u64 > MAX_FILE_BYTES {
            Some((MAX_FILE_BYTES, false))
        } else if self.bytes_parsed > MAX_TOTAL_BYTES {
            Some((MAX_TOTAL_BYTES, true))
        } else {
            None
        };
        if let Some((cap, with_includes)) = too_large {
            return Err(RequirementsError::TooLarge {
                path: path.to_path_buf(),
                included_from,
                cap,
                with_includes,
            });
        }
        let shared_path: Arc<Path> = Arc::from(path);
        let lines = logical_lines(text).map_err(|DanglingContinuation { number, text }| {
            RequirementsError::Line {
                location: Location::file(Arc::clone(&shared_path), number),
                text: quote_line(&text),
                problem: Box::new(LineProblem::DanglingContinuation),
            }
        })?;
        self.open.push((identity, included_from));
        let result = lines
            .into_iter()
            .try_for_each(|line| self.parse_line(&line, &shared_path, kind));
        self.open.pop();
        result
    }

    fn parse_line(
        &mut self,
        line: &LogicalLine,
        path: &Arc<Path>,
        kind: IncludeKind,
    ) -> Result<(), RequirementsError> {
        let location = Location::file(Arc::clone(path), line.number);
        // Errors quote the line as written: expanded variables may hold secrets.
        let line_error = |problem| RequirementsError::Line {
            location: location.clone(),
            text: quote_line(&line.text),
            problem: Box::new(problem),
        };
        let expanded = expand_env_vars(&line.text);
        let split = split_line(&expanded).map_err(line_error)?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        let Some(requirement_text) = split.requirement else {
            for option in split.options {
                self.apply_option(option, &location, base_dir, kind, &line_error)?;
            }
            return Ok(());
        };
        // In the order written, without repeats: a set makes any number of them linear.
        let mut hashes: Vec<Digest> = Vec::new();
        let mut seen = HashSet::new();
        for option in split.options {
            if let LineOption::Hash(value) = option {
                let digest = value
                    .parse()
                    .map_err(|source| line_error(LineProblem::Hash { value, source }))?;
                if seen.insert(digest) {
                    hashes.push(digest);
                }
            }
        }
        let parsed =
            ParsedRequirement::parse(requirement_text, Some(base_dir)).map_err(line_error)?;
        if let Some(marker) = &parsed.marker
            && !marker.evaluate(self.env)
        {
            tracing::debug!(
                "{location}: skipping `{}`: its marker `{marker}` is false",
                parsed.text
            );
            return Ok(());
        }
        if kind == IncludeKind::Constraints {
            let hashes = parsed.hashes_with(hashes).map_err(line_error)?;
            self.constraints.push(Constraint {
                parsed,
                hashes,
                location,
            });
            return Ok(());
        }
        if !hashes.is_empty() {
            self.turn_on_hash_checking(&location);
        }
        let requirement = parsed
            .into_requirement(hashes, location.clone())
            .map_err(line_error)?;
        if requirement.hashes.is_empty() {
            self.file
                .unhashed_lines
                .push((location, requirement.to_string()));
        }
        self.add(requirement)
    }

    fn turn_on_hash_checking(&mut self, location: &Location) {
        self.file.hash_checking = true;
        self.file
            .hash_checking_cause
            .get_or_insert_with(|| location.clone());
    }

    fn apply_option(
        &mut self,
        option: LineOption,
        location: &Location,
        base_dir: &Path,
        kind: IncludeKind,
        line_error: &impl Fn(LineProblem) -> RequirementsError,
    ) -> Result<(), RequirementsError> {
        match option {
            LineOption::Include(include, target) => {
                if target.contains("://") {
                    return Err(line_error(LineProblem::UnsupportedOption {
                        option: format!("-r/-c {}", redact_text(&target)),
                        reason: "cairn reads included files from disk only; download the file \
                                 and include its path",
                    }));
                }
                let included = base_dir.join(&target);
                let text = read_text(&included, Some(location))?;
                // Everything a constraints file includes is a constraint too, as in pip.
                let kind = match kind {
                    IncludeKind::Constraints => IncludeKind::Constraints,
                    IncludeKind::Requirements => include,
                };
                self.parse_text(&text, &included, kind, Some(location.clone()))?;
            }
            LineOption::IndexUrl(url) => self.set_index_url(url, location)?,
            LineOption::ExtraIndexUrl(url) => {
                if self.seen_links.insert((false, url.clone())) {
                    self.file.extra_index_urls.push(url);
                }
            }
            LineOption::FindLinks(link) => {
                let link = if link.contains("://") || Path::new(&link).is_absolute() {
                    link
                } else {
                    base_dir.join(&link).to_string_lossy().into_owned()
                };
                if self.seen_links.insert((true, link.clone())) {
                    self.file.find_links.push(link);
                }
            }
            LineOption::NoIndex => self.file.no_index = true,
            LineOption::RequireHashes => self.turn_on_hash_checking(location),
            LineOption::Ignored(what) => {
                tracing::debug!(
                    "{location}: ignoring `{what}`: it does not change what cairn installs"
                );
            }
            // `split_line` refuses `--hash` without a requirement.
            LineOption::Hash(_) => {
                return Err(line_error(LineProblem::HashWithoutRequirement));
            }
        }
        Ok(())
    }

    fn set_index_url(&mut self, url: String, location: &Location) -> Result<(), RequirementsError> {
        match (&self.file.index_url, &self.index_url_at) {
            (Some(existing), Some(first))
                if existing.trim_end_matches('/') != url.trim_end_matches('/') =>
            {
                Err(RequirementsError::ConflictingIndexUrls {
                    first: first.clone(),
                    first_url: redact_text(existing).into(),
                    second: location.clone(),
                    second_url: redact_text(&url).into(),
                })
            }
            (Some(_), _) => Ok(()),
            (None, _) => {
                self.file.index_url = Some(url);
                self.index_url_at = Some(location.clone());
                Ok(())
            }
        }
    }

    /// Adds a requirement, merging it with an earlier line for the same project.
    fn add(&mut self, requirement: Requirement) -> Result<(), RequirementsError> {
        let Some(&index) = self.by_name.get(&requirement.normalized) else {
            let index = self.file.requirements.len();
            self.by_name.insert(requirement.normalized.clone(), index);
            self.seen_extras.extend(
                requirement
                    .extras
                    .iter()
                    .map(|extra| (index, extra.clone())),
            );
            self.file.requirements.push(requirement);
            return Ok(());
        };
        let existing = &mut self.file.requirements[index];
        if !same_pin(existing, &requirement) {
            return Err(RequirementsError::ConflictingPins {
                second_pin: requirement.pin().into(),
                name: requirement.normalized.into_string().into(),
                first: existing.source.clone(),
                first_pin: existing.pin().into(),
                second: requirement.source,
            });
        }
        for extra in requirement.extras {
            if self.seen_extras.insert((index, extra.clone())) {
                existing.extras.push(extra);
            }
        }
        existing.hashes = narrow_hashes(
            &existing.hashes,
            &requirement.hashes,
            &existing.normalized,
            &existing.source,
            &requirement.source,
        )?;
        Ok(())
    }

    /// Checks the pins against the constraints and returns the result.
    fn finish(mut self) -> Result<RequirementsFile, RequirementsError> {
        for constraint in &self.constraints {
            let Some(&index) = self.by_name.get(&constraint.parsed.normalized) else {
                continue;
            };
            let requirement = &mut self.file.requirements[index];
            if !satisfies(requirement, &constraint.parsed.pin) {
                return Err(RequirementsError::ConstraintViolated {
                    name: requirement.normalized.to_string().into(),
                    requirement: requirement.source.clone(),
                    pin: requirement.pin().into(),
                    constraint: constraint.location.clone(),
                    constraint_text: constraint.parsed.text.clone().into(),
                });
            }
            requirement.hashes = narrow_hashes(
                &requirement.hashes,
                &constraint.hashes,
                &requirement.normalized,
                &requirement.source,
                &constraint.location,
            )?;
        }
        Ok(self.file)
    }
}

/// Reads a requirements file as UTF-8, refusing more than [`MAX_FILE_BYTES`] (read, not
/// `stat`ed: a device or a pipe has no size to check beforehand).
fn read_text(path: &Path, included_from: Option<&Location>) -> Result<String, RequirementsError> {
    let read_error = |source| RequirementsError::Read {
        path: path.to_path_buf(),
        included_from: included_from.cloned(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(read_error)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(RequirementsError::TooLarge {
            path: path.to_path_buf(),
            included_from: included_from.cloned(),
            cap: MAX_FILE_BYTES,
            with_includes: false,
        });
    }
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = 1 + valid.iter().filter(|&&byte| byte == b'\n').count();
        RequirementsError::NotUtf8 {
            location: Location::file(Arc::from(path), line),
        }
    })
}

/// What identifies a file for cycle detection: its canonical path when it exists.
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Whether two requirements pin the same thing (`==1.0` equals `==1.0.0`, as in PEP 440).
fn same_pin(a: &Requirement, b: &Requirement) -> bool {
    match (&a.version, &b.version, &a.url, &b.url) {
        (Some(x), Some(y), _, _) => {
            x == y || parse_version(x).is_some_and(|x| Some(x) == parse_version(y))
        }
        (None, None, Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn parse_version(text: &str) -> Option<Version> {
    text.parse().ok()
}

/// The version a requirement installs: its pin, or its wheel's file name.
fn installed_version(requirement: &Requirement) -> Option<Version> {
    match (&requirement.version, &requirement.url) {
        (Some(version), _) => parse_version(version),
        (None, Some(url)) => {
            if let Some((filename, _)) = super::requirement::sdist_reference(url) {
                let stem = filename
                    .strip_suffix(".tar.gz")
                    .or_else(|| filename.strip_suffix(".zip"))?;
                return parse_version(stem.rsplit_once('-')?.1);
            }
            let (source, _) = WheelSource::parse(url).ok()?;
            parse_version(&source.filename().ok()?.version)
        }
        (None, None) => None,
    }
}

/// Whether `requirement` is allowed by a constraint's version part.
fn satisfies(requirement: &Requirement, constraint: &Pin) -> bool {
    match constraint {
        Pin::Url(url) => requirement.url.as_ref() == Some(url),
        Pin::Version(version) => installed_version(requirement)
            .is_some_and(|installed| Some(installed) == parse_version(version)),
        Pin::Unpinned(specifiers) => {
            specifiers.is_empty()
                || installed_version(requirement)
                    .is_some_and(|installed| specifiers.contains(&installed))
        }
    }
}

/// The digests acceptable to both lines: one set if the other is empty, else the common ones.
fn narrow_hashes(
    first: &[Digest],
    second: &[Digest],
    name: &str,
    first_at: &Location,
    second_at: &Location,
) -> Result<Vec<Digest>, RequirementsError> {
    if second.is_empty() {
        return Ok(first.to_vec());
    }
    if first.is_empty() {
        return Ok(second.to_vec());
    }
    let second: HashSet<&Digest> = second.iter().collect();
    let common: Vec<Digest> = first
        .iter()
        .filter(|d| second.contains(d))
        .copied()
        .collect();
    if common.is_empty() {
        return Err(RequirementsError::DisjointHashes {
            name: name.to_owned().into(),
            first: first_at.clone(),
            second: second_at.clone(),
        });
    }
    Ok(common)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::InterpreterMarkers;

    fn env() -> MarkerEnvironment {
        MarkerEnvironment::new(&InterpreterMarkers {
            implementation_name: "cpython".into(),
            implementation_version: "3.11.7".into(),
            os_name: "posix".into(),
            platform_machine: "x86_64".into(),
            platform_python_implementation: "CPython".into(),
            platform_release: "6.8.0".into(),
            platform_system: "Linux".into(),
            platform_version: "#1".into(),
            python_full_version: "3.11.7".into(),
            python_version: String::new(),
            sys_platform: "linux".into(),
        })
        .unwrap()
    }

    #[test]
    fn a_file_larger_than_the_cap_is_refused_naming_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requirements.txt");
        let mut text = "# padding\n".repeat((MAX_FILE_BYTES / 10) as usize);
        text.push_str("demo==1.0\n");
        std::fs::write(&path, &text).unwrap();
        let error = RequirementsFile::read(&path, &env()).unwrap_err();
        assert!(
            matches!(error, RequirementsError::TooLarge { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("larger than 16 MiB"), "{message}");
        assert!(message.contains("requirements.txt"), "{message}");
        // Text handed in directly is held to the same cap.
        let error = RequirementsFile::parse(&text, &path, &env()).unwrap_err();
        assert!(
            matches!(error, RequirementsError::TooLarge { .. }),
            "{error:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_file_is_refused_at_the_cap() {
        let error = RequirementsFile::read(Path::new("/dev/zero"), &env()).unwrap_err();
        assert!(
            matches!(error, RequirementsError::TooLarge { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("/dev/zero"), "{error}");
    }

    #[test]
    fn includes_together_are_held_to_the_total_cap() {
        let dir = tempfile::tempdir().unwrap();
        // One long comment line: within the per-file cap, and cheap to parse.
        let big = format!("#{}\n", "x".repeat((MAX_FILE_BYTES - 16) as usize));
        std::fs::write(dir.path().join("big.txt"), big).unwrap();
        let includes = MAX_TOTAL_BYTES / MAX_FILE_BYTES + 1;
        let top = dir.path().join("requirements.txt");
        std::fs::write(&top, "-r big.txt\n".repeat(includes as usize)).unwrap();
        let error = RequirementsFile::read(&top, &env()).unwrap_err();
        match &error {
            RequirementsError::TooLarge {
                with_includes,
                included_from,
                ..
            } => {
                assert!(with_includes);
                assert_eq!(
                    included_from.as_ref().map(|location| location.to_string()),
                    Some(format!("{}:{includes}", top.display()))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(error.to_string().contains("64 MiB"), "{error}");
    }

    #[test]
    fn a_trailing_backslash_is_an_error_naming_the_file_and_line() {
        let path = Path::new("/project/requirements.txt");
        let error = RequirementsFile::parse("a==1 \\\n  --hash=sha256:00\nb==2 \\\n", path, &env())
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("/project/requirements.txt:3: "),
            "{message}"
        );
        assert!(message.contains("the file ends there"), "{message}");
        assert!(message.contains("b==2"), "{message}");
    }

    #[test]
    fn a_hundred_thousand_hashes_on_one_requirement_parse_in_linear_time() {
        let count = 100_000;
        let mut text = String::from("demo==1.0");
        for index in 0..count {
            text.push_str(&format!(" \\\n    --hash=sha256:{index:064x}"));
        }
        // A repeat is dropped, keeping the first place.
        text.push_str(&format!(" \\\n    --hash=sha256:{:064x}\n", 7));
        let started = std::time::Instant::now();
        let file =
            RequirementsFile::parse(&text, Path::new("/project/requirements.txt"), &env()).unwrap();
        let elapsed = started.elapsed();
        let hashes = &file.requirements[0].hashes;
        assert_eq!(hashes.len(), count);
        assert_eq!(hashes[7].to_hex(), format!("{:064x}", 7));
        // Pairwise comparison of this many digests takes minutes; a linear pass well under this.
        assert!(elapsed < std::time::Duration::from_secs(20), "{elapsed:?}");
    }

    #[test]
    fn many_lines_for_one_project_merge_in_linear_time() {
        let count = 100_000;
        let text: String = (0..count)
            .map(|index| format!("demo[extra{index}]==1.0\n"))
            .chain(std::iter::once("demo[extra7]==1.0\n".to_owned()))
            .collect();
        let started = std::time::Instant::now();
        let file =
            RequirementsFile::parse(&text, Path::new("/project/requirements.txt"), &env()).unwrap();
        assert_eq!(file.requirements.len(), 1);
        assert_eq!(file.requirements[0].extras.len(), count);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn hash_sets_narrow_in_linear_time() {
        let count = 50_000;
        let line = |start: usize| {
            let mut text = String::from("demo==1.0");
            for index in start..start + count {
                text.push_str(&format!(" --hash=sha256:{index:064x}"));
            }
            text.push('\n');
            text
        };
        let text = format!("{}{}", line(0), line(count / 2));
        let started = std::time::Instant::now();
        let file =
            RequirementsFile::parse(&text, Path::new("/project/requirements.txt"), &env()).unwrap();
        assert_eq!(file.requirements[0].hashes.len(), count / 2);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
