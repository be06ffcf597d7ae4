//! A requirements file and the files it includes, parsed for one environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pep508_rs::pep440_rs::Version;

use super::error::{LineProblem, RequirementsError};
use super::lines::{LogicalLine, expand_env_vars, logical_lines};
use super::location::Location;
use super::marker::MarkerEnvironment;
use super::options::{IncludeKind, LineOption, split_line};
use super::redact::quote_line;
use super::requirement::{ParsedRequirement, Pin, Requirement};
use cairn_hash::Digest;
use cairn_types::{PackageName, WheelSource, redact_text};

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
        self.open.push((identity, included_from));
        let shared_path: Arc<Path> = Arc::from(path);
        let result = logical_lines(text)
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
        let mut hashes: Vec<Digest> = Vec::new();
        for option in split.options {
            if let LineOption::Hash(value) = option {
                let digest = value
                    .parse()
                    .map_err(|source| line_error(LineProblem::Hash { value, source }))?;
                if !hashes.contains(&digest) {
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
            LineOption::ExtraIndexUrl(url) => push_new(&mut self.file.extra_index_urls, url),
            LineOption::FindLinks(link) => {
                let link = if link.contains("://") || Path::new(&link).is_absolute() {
                    link
                } else {
                    base_dir.join(&link).to_string_lossy().into_owned()
                };
                push_new(&mut self.file.find_links, link);
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
            self.by_name
                .insert(requirement.normalized.clone(), self.file.requirements.len());
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
            push_new(&mut existing.extras, extra);
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

/// Reads a requirements file as UTF-8.
fn read_text(path: &Path, included_from: Option<&Location>) -> Result<String, RequirementsError> {
    let bytes = std::fs::read(path).map_err(|source| RequirementsError::Read {
        path: path.to_path_buf(),
        included_from: included_from.cloned(),
        source,
    })?;
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

fn push_new(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
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
