//! One requirement: `name[extras]==version ; marker`, `name @ url`, or a bare wheel path or URL.

use std::convert::Infallible;
use std::fmt;
use std::path::Path;

use pep508_rs::pep440_rs::{Operator, VersionSpecifiers};
use pep508_rs::{MarkerTree, Pep508Error, Pep508Url, VersionOrUrl};

use super::error::{LineProblem, RequirementsError};
use super::location::Location;
use super::marker::{Marker, MarkerEnvironment};
use super::redact::quote_line;
use cairn_hash::{Digest, ExpectedHashes};
use cairn_types::{PackageName, WheelSource, redact_text};

/// A pinned requirement: one exact version from an index, or one wheel file.
///
/// Exactly one of [`version`](Self::version) and [`url`](Self::url) is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The project name as written (for a bare wheel path or URL: as in the file name).
    pub name: String,
    /// The PEP 503 normalised name, which identifies the project.
    pub normalized: PackageName,
    /// The extras asked for (`pkg[a,b]`), normalised. In a compiled file their dependencies are
    /// listed as requirements of their own; they are kept for reporting.
    pub extras: Vec<String>,
    /// The version of `==X` (or `===X`), in PEP 440 normal form (`1.0-post1` → `1.0.post1`).
    pub version: Option<String>,
    /// The wheel of `name @ url` or of a bare path or URL line. Relative paths in a file are
    /// joined to that file's directory; a `#sha256=` fragment is kept here and also parsed into
    /// [`hashes`](Self::hashes). Pass it to [`WheelSource::parse`].
    pub url: Option<String>,
    /// The environment marker. In a parsed file it is true for the environment it was parsed
    /// for (lines whose marker is false are left out); from the command line it is unevaluated:
    /// see [`Requirement::applies_to`].
    pub marker: Option<Marker>,
    /// The acceptable digests: every `--hash` of the line and the URL fragment's, deduplicated.
    pub hashes: Vec<Digest>,
    /// Where it was written.
    pub source: Location,
}

impl Requirement {
    /// The digests as a set to verify a download against.
    pub fn expected_hashes(&self) -> ExpectedHashes {
        self.hashes.iter().copied().collect()
    }

    /// Whether the requirement applies in `env` (no marker: always).
    pub fn applies_to(&self, env: &MarkerEnvironment) -> bool {
        self.marker
            .as_ref()
            .is_none_or(|marker| marker.evaluate(env))
    }

    /// The pin as text: `==1.0` or `@ URL` (credentials masked), for messages.
    pub fn pin(&self) -> String {
        match (&self.version, &self.url) {
            (Some(version), _) => format!("=={version}"),
            (None, Some(url)) => format!("@ {}", redact_text(url)),
            (None, None) => String::new(),
        }
    }
}

impl fmt::Display for Requirement {
    /// `name[extras]==version` or `name @ url`, credentials masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.extras.is_empty() {
            write!(f, "[{}]", self.extras.join(","))?;
        }
        match (&self.version, &self.url) {
            (None, Some(_)) => write!(f, " {}", self.pin()),
            _ => f.write_str(&self.pin()),
        }
    }
}

/// Parses a command-line requirement: `name==version`, `name[extra]==version ; marker`,
/// `name @ url`, or a wheel path or URL.
///
/// The marker is kept, not evaluated (see [`Requirement::applies_to`]); relative paths are left
/// relative, to the working directory.
pub fn parse_requirement_arg(arg: &str) -> Result<Requirement, RequirementsError> {
    let line_error = |problem| RequirementsError::Line {
        location: Location::CommandLine,
        text: quote_line(arg),
        problem: Box::new(problem),
    };
    let parsed = ParsedRequirement::parse(arg.trim(), None).map_err(line_error)?;
    parsed
        .into_requirement(Vec::new(), Location::CommandLine)
        .map_err(line_error)
}

/// What a requirement's version part says.
#[derive(Debug, Clone)]
pub(super) enum Pin {
    /// `==X` or `===X`, normalised.
    Version(String),
    /// A wheel path or URL.
    Url(String),
    /// Anything else: no specifier, a range, a wildcard or several specifiers.
    Unpinned(VersionSpecifiers),
}

/// A requirement's text, parsed, before the pinning rules are applied.
#[derive(Debug, Clone)]
pub(super) struct ParsedRequirement {
    pub(super) name: String,
    pub(super) normalized: PackageName,
    pub(super) extras: Vec<String>,
    pub(super) pin: Pin,
    pub(super) marker: Option<Marker>,
    /// The text as written, credentials masked.
    pub(super) text: String,
}

impl ParsedRequirement {
    /// Parses `text` (without options). Relative wheel paths are joined to `base_dir` if given.
    pub(super) fn parse(text: &str, base_dir: Option<&Path>) -> Result<Self, LineProblem> {
        if is_bare_location(text) {
            return Self::parse_bare(text, base_dir);
        }
        refuse_names_pep508_panics_on(text)?;
        super::refuse_non_ascii_in_marker::<WrittenUrl>(text, false).map_err(|e| syntax(&e))?;
        let requirement = pep508_rs::Requirement::<WrittenUrl>::parse(text, "")
            .map_err(|error| syntax(&error))?;
        // pep508 normalises the name; keep it as written for messages.
        let written_name_len = text
            .trim_start()
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
            .unwrap_or(text.trim_start().len());
        let name = text.trim_start()[..written_name_len].to_owned();
        let normalized = PackageName::new(&name);
        let extras = requirement.extras.iter().map(ToString::to_string).collect();
        let marker = Marker::new(requirement.marker);
        let pin = match requirement.version_or_url {
            None => Pin::Unpinned(VersionSpecifiers::empty()),
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => pin_of(specifiers),
            Some(VersionOrUrl::Url(WrittenUrl(url))) => {
                let (url, named) = resolve_reference(&url, base_dir)?;
                if let Some(named) = named
                    && named.normalized != normalized
                {
                    return Err(LineProblem::NameMismatch {
                        name,
                        filename: named.filename,
                        wheel_name: named.name,
                    });
                }
                Pin::Url(url)
            }
        };
        Ok(Self {
            name,
            normalized,
            extras,
            pin,
            marker,
            text: redact_text(text),
        })
    }

    /// A wheel path or URL without a name: `./dist/a-1.0-py3-none-any.whl ; marker`.
    fn parse_bare(text: &str, base_dir: Option<&Path>) -> Result<Self, LineProblem> {
        let (location, marker_text) = split_bare_marker(text);
        let marker = match marker_text {
            Some(marker_text) => {
                super::refuse_non_ascii_in_marker::<WrittenUrl>(marker_text, true)
                    .map_err(|e| syntax(&e))?;
                Marker::new(
                    MarkerTree::parse_str::<WrittenUrl>(marker_text).map_err(|e| syntax(&e))?,
                )
            }
            None => None,
        };
        // `./a.whl[extra]`: extras after a path, as pip allows.
        let (location, extras) = match pep508_rs::split_extras(location) {
            Some((location, extras)) => (location, parse_extras(extras)?),
            None => (location, Vec::new()),
        };
        let (url, named) = resolve_reference(location, base_dir)?;
        let Some(named) = named else {
            return Err(LineProblem::Syntax {
                message: format!(
                    "`{location}` names no project by its file name: write `name @ {location}`"
                ),
            });
        };
        Ok(Self {
            normalized: named.normalized,
            name: named.name,
            extras,
            pin: Pin::Url(url),
            marker,
            text: redact_text(text),
        })
    }

    /// The digests the requirement's wheel must match: `pins` (the line's `--hash` values)
    /// and, for a wheel URL, its fragment's, without repeats.
    pub(super) fn hashes_with(&self, pins: Vec<Digest>) -> Result<Vec<Digest>, LineProblem> {
        match &self.pin {
            // A git source or a directory has no digest to check.
            Pin::Url(url) if is_source_tree(url) => Ok(pins),
            Pin::Url(url) => match sdist_reference(url) {
                // A source distribution: the fragment's digest, if any, joins the pins.
                Some((_, fragment)) => {
                    let mut hashes = pins;
                    if let Some(digest) = fragment
                        && !hashes.contains(&digest)
                    {
                        hashes.push(digest);
                    }
                    Ok(hashes)
                }
                None => {
                    let (_, expected) =
                        WheelSource::parse_pinned(url, &pins).map_err(LineProblem::Source)?;
                    Ok(expected.iter().copied().collect())
                }
            },
            Pin::Version(_) | Pin::Unpinned(_) => Ok(pins),
        }
    }

    /// Applies the pinning rule and adds the `--hash` digests.
    pub(super) fn into_requirement(
        self,
        line_hashes: Vec<Digest>,
        source: Location,
    ) -> Result<Requirement, LineProblem> {
        let hashes = self.hashes_with(line_hashes)?;
        let (version, url) = match self.pin {
            Pin::Version(version) => (Some(version), None),
            Pin::Url(url) => (None, Some(url)),
            Pin::Unpinned(_) => {
                return Err(LineProblem::Unpinned {
                    requirement: self.text,
                });
            }
        };
        Ok(Requirement {
            name: self.name,
            normalized: self.normalized,
            extras: self.extras,
            version,
            url,
            marker: self.marker,
            hashes,
            source,
        })
    }
}

/// `==X` and `===X` pin; everything else does not.
fn pin_of(specifiers: VersionSpecifiers) -> Pin {
    if let [specifier] = &*specifiers
        && matches!(specifier.operator(), Operator::Equal | Operator::ExactEqual)
    {
        return Pin::Version(specifier.version().to_string());
    }
    Pin::Unpinned(specifiers)
}

/// Whether `text` is a wheel path or URL rather than a PEP 508 requirement.
fn is_bare_location(text: &str) -> bool {
    // `name @ url` and `name[extra] @ url` are PEP 508.
    let name_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        .unwrap_or(text.len());
    let after_name = text[name_len..].trim_start();
    let after_extras = match after_name.strip_prefix('[') {
        Some(extras) => extras
            .split_once(']')
            .map_or("", |(_, rest)| rest.trim_start()),
        None => after_name,
    };
    if name_len > 0 && after_extras.starts_with('@') {
        return false;
    }
    let first_word = text
        .split(|c: char| c.is_whitespace() || c == ';')
        .next()
        .unwrap_or("");
    let first_word = pep508_rs::split_extras(first_word).map_or(first_word, |(path, _)| path);
    first_word.starts_with(['.', '/', '\\', '~'])
        || first_word.contains("://")
        || first_word.starts_with("file:")
        || first_word.contains(['/', '\\'])
        || first_word.ends_with(".whl")
        || (first_word.len() >= 2 && first_word.as_bytes()[1] == b':')
}

/// Splits `location ; marker`. In a URL a `;` may belong to the URL, so as in pip only a `;`
/// next to whitespace separates the marker there.
fn split_bare_marker(text: &str) -> (&str, Option<&str>) {
    let is_url = text.contains("://");
    let bytes = text.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        if byte != b';' {
            continue;
        }
        let spaced = index
            .checked_sub(1)
            .is_some_and(|i| bytes[i].is_ascii_whitespace())
            || bytes.get(index + 1).is_some_and(u8::is_ascii_whitespace);
        if spaced || !is_url {
            return (text[..index].trim_end(), Some(text[index + 1..].trim()));
        }
    }
    (text.trim(), None)
}

fn parse_extras(extras: &str) -> Result<Vec<String>, LineProblem> {
    // Reuse pep508's rules through a dummy name.
    refuse_names_pep508_panics_on(extras)?;
    let requirement = pep508_rs::Requirement::<WrittenUrl>::parse(&format!("x{extras}"), "")
        .map_err(|error| syntax(&error))?;
    Ok(requirement.extras.iter().map(ToString::to_string).collect())
}

/// Refuses a name or extra that ends in `.`, `-` or `_` and is followed by more text.
///
/// pep508_rs 0.9.2 validates such a name only at the end of its input; elsewhere it reaches an
/// `expect` and panics (`foo- ==1`, `foo[bar-]==1`). Any run of name characters inside the
/// name-and-extras prefix that starts with a letter or digit must therefore end with one.
fn refuse_names_pep508_panics_on(text: &str) -> Result<(), LineProblem> {
    let text = text.trim_start();
    // The prefix that pep508 reads as a name and extras: up to the closing `]` if the name is
    // followed by `[`, else just the name.
    let name_len = text.find(|c: char| !is_name_char(c)).unwrap_or(text.len());
    let after_name = text[name_len..].trim_start();
    let extras = after_name.strip_prefix('[').map_or("", |rest| {
        rest.split_once(']').map_or(rest, |(inside, _)| inside)
    });
    let runs = std::iter::once(&text[..name_len]).chain(extras.split(|c: char| !is_name_char(c)));
    for run in runs {
        let starts_alphanumeric = run.starts_with(|c: char| c.is_ascii_alphanumeric());
        if starts_alphanumeric && run.ends_with(['.', '-', '_']) {
            return Err(LineProblem::Syntax {
                message: format!(
                    "the name `{run}` must end with a letter or digit, not `{}`",
                    &run[run.len() - 1..]
                ),
            });
        }
    }
    Ok(())
}

/// Refuses, as a pep508_rs error, the PEP 508 text pep508_rs 0.9.2 panics on instead of
/// refusing (see `refuse_names_pep508_panics_on` and `refuse_non_ascii_in_marker`): for
/// requirements that are not read as lines, such as the `Requires-Dist` of core metadata.
pub(crate) fn refuse_what_pep508_panics_on<T: Pep508Url>(text: &str) -> Result<(), Pep508Error<T>> {
    if let Err(problem) = refuse_names_pep508_panics_on(text) {
        return Err(Pep508Error {
            message: pep508_rs::Pep508ErrorSource::String(problem.to_string()),
            start: 0,
            len: text.len(),
            input: text.to_owned(),
        });
    }
    super::refuse_non_ascii_in_marker(text, false)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// The project a direct reference names, from its file name.
struct Named {
    name: String,
    normalized: PackageName,
    filename: String,
}

/// The file name of a source distribution reference (`…/name-1.0.tar.gz#sha256=…`, a path or
/// a URL) and its fragment's digest; `None` when it does not end in `.tar.gz` or `.zip`, or
/// names no `name-version`.
pub(super) fn sdist_reference(reference: &str) -> Option<(String, Option<Digest>)> {
    let (without_fragment, fragment) = match reference.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (reference, None),
    };
    let without_query = without_fragment
        .split('?')
        .next()
        .unwrap_or(without_fragment);
    let last = without_query.rsplit(['/', '\\']).next()?;
    let last = percent_encoding::percent_decode_str(last)
        .decode_utf8()
        .ok()?
        .into_owned();
    let stem = last
        .strip_suffix(".tar.gz")
        .or_else(|| last.strip_suffix(".zip"))?;
    let (name, version) = stem.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() {
        return None;
    }
    let digest = fragment.and_then(|fragment| fragment.parse::<Digest>().ok());
    Some((last, digest))
}

/// Whether `reference` names a source tree rather than a file: a `git+` URL, or a local
/// directory (a path or a `file://` URL).
pub fn is_source_tree(reference: &str) -> bool {
    if reference.starts_with("git+") {
        return true;
    }
    let path = match url::Url::parse(reference) {
        Ok(url) if url.scheme() == "file" => match url.to_file_path() {
            Ok(path) => path,
            Err(()) => return false,
        },
        Ok(url) if url.scheme().len() > 1 => return false,
        _ => Path::new(reference).to_path_buf(),
    };
    path.is_dir()
}

/// Checks that `location` names a wheel (and that its fragment's digests parse), a source
/// distribution, a `git+` URL or a local directory; returns it (a relative path joined to
/// `base_dir`) and the project its file name names (`None` for a git source or a directory,
/// whose name is the requirement's).
fn resolve_reference(
    location: &str,
    base_dir: Option<&Path>,
) -> Result<(String, Option<Named>), LineProblem> {
    let has_scheme = url::Url::parse(location).is_ok_and(|url| url.scheme().len() > 1);
    let resolved = match base_dir {
        Some(dir) if !has_scheme && Path::new(location).is_relative() => {
            let joined = dir.join(location);
            match joined.to_str() {
                Some(joined) => joined.to_owned(),
                None => {
                    return Err(LineProblem::Syntax {
                        message: format!("the path `{}` is not valid UTF-8", joined.display()),
                    });
                }
            }
        }
        _ => location.to_owned(),
    };
    if is_source_tree(&resolved) {
        return Ok((resolved, None));
    }
    let fetchable = url::Url::parse(&resolved).map_or(true, |url| {
        matches!(url.scheme(), "http" | "https" | "file") || url.scheme().len() == 1
    });
    if let Some((filename, _)) = sdist_reference(&resolved).filter(|_| fetchable) {
        let stem = filename
            .strip_suffix(".tar.gz")
            .or_else(|| filename.strip_suffix(".zip"))
            .unwrap_or(&filename);
        let name = stem
            .rsplit_once('-')
            .map_or(stem, |(name, _)| name)
            .to_owned();
        return Ok((
            resolved,
            Some(Named {
                normalized: PackageName::new(&name),
                name,
                filename,
            }),
        ));
    }
    let (source, _) = WheelSource::parse(&resolved).map_err(LineProblem::Source)?;
    let filename = source.filename().map_err(LineProblem::Source)?;
    Ok((
        resolved,
        Some(Named {
            normalized: filename.normalized_name(),
            filename: filename.to_string(),
            name: filename.name,
        }),
    ))
}

/// A pep508 error as a message, with the column. `Pep508Error`'s own `Display` is avoided: it
/// asserts on its span and could panic on unusual input.
fn syntax<T: Pep508Url>(error: &Pep508Error<T>) -> LineProblem {
    let column = error
        .input
        .get(..error.start)
        .map_or(1, |before| before.chars().count() + 1);
    LineProblem::Syntax {
        message: redact_text(&format!("{} (at column {column})", error.message)),
    }
}

/// The URL of `name @ url`, kept exactly as written: pep508's own URL type would expand
/// environment variables and resolve paths against the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WrittenUrl(String);

impl fmt::Display for WrittenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Pep508Url for WrittenUrl {
    type Err = Infallible;

    fn parse_url(url: &str, _working_dir: Option<&Path>) -> Result<Self, Self::Err> {
        Ok(Self(url.to_owned()))
    }
}
