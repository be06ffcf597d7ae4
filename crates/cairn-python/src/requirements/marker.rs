//! Environment markers (`; python_version < "3.12"`) and the interpreter they are judged for.
//!
//! Parsing and evaluation are `pep508_rs`'s; this module wraps its types so that cairn's public
//! API does not change with that crate's, and builds the environment from a description of a
//! real interpreter ([`InterpreterMarkers`]). The interpreter query
//! ([`Interpreter::query`](crate::tags::Interpreter::query)) asks Python for that description
//! in the same run as its tag facts, and caches it with them.

use std::fmt;

use pep508_rs::{MarkerEnvironmentBuilder, MarkerTree};
use serde::{Deserialize, Serialize};

/// The values of the PEP 508 marker variables for one interpreter, as Python reports them.
///
/// The field names are the marker variables'. `python_version` may be left empty: it is then
/// derived from `python_full_version` (`3.12.4` → `3.12`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterpreterMarkers {
    /// `sys.implementation.name`, e.g. `cpython`.
    pub implementation_name: String,
    /// `sys.implementation.version` in PEP 440 form, e.g. `3.12.4`.
    pub implementation_version: String,
    /// `os.name`, e.g. `posix`.
    pub os_name: String,
    /// `platform.machine()`, e.g. `x86_64`.
    pub platform_machine: String,
    /// `platform.python_implementation()`, e.g. `CPython`.
    pub platform_python_implementation: String,
    /// `platform.release()`, e.g. `6.8.0`.
    pub platform_release: String,
    /// `platform.system()`, e.g. `Linux`.
    pub platform_system: String,
    /// `platform.version()`.
    pub platform_version: String,
    /// `platform.python_version()`, e.g. `3.12.4`.
    pub python_full_version: String,
    /// `major.minor`, e.g. `3.12`.
    #[serde(default)]
    pub python_version: String,
    /// `sys.platform`, e.g. `linux`.
    pub sys_platform: String,
}

/// The interpreter description could not be had or is not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MarkerEnvironmentError {
    /// A version field is not a PEP 440 version.
    #[error("the interpreter's {field} `{value}` is not a PEP 440 version")]
    Version {
        /// The marker variable.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// The description is not the JSON of an [`InterpreterMarkers`].
    #[error("invalid interpreter description")]
    Json(#[from] serde_json::Error),
}

impl InterpreterMarkers {
    /// Parses a JSON object whose keys are the marker variables' names.
    pub fn from_json(json: &str) -> Result<Self, MarkerEnvironmentError> {
        Ok(serde_json::from_str(json)?)
    }
}

/// The environment that markers are evaluated in: one interpreter on one machine.
///
/// A pre-release or development interpreter is judged as its final release (`3.14.0a1` as
/// `3.14.0`): pep508_rs compares marker versions by their release segments only, which makes
/// `python_version == "3.14"` hold on 3.14.0a1 as it does for pip, at the price of
/// `python_full_version < "3.14.0"` not holding there.
#[derive(Debug, Clone)]
pub struct MarkerEnvironment {
    inner: pep508_rs::MarkerEnvironment,
    /// As the interpreter reported it (less a development build's `+`).
    python_full_version: String,
}

impl MarkerEnvironment {
    /// Builds the environment of the interpreter that `markers` describes.
    pub fn new(markers: &InterpreterMarkers) -> Result<Self, MarkerEnvironmentError> {
        // Development builds report `3.14.0a1+`; the `+` is not PEP 440 and says nothing about
        // the version, so it is dropped (as packaging tools do).
        let reported_full = markers.python_full_version.trim_end_matches('+');
        let full = release_only("python_full_version", reported_full)?;
        let short = if markers.python_version.is_empty() {
            major_minor(&full)
        } else {
            release_only("python_version", &markers.python_version)?
        };
        let implementation_version = release_only(
            "implementation_version",
            markers.implementation_version.trim_end_matches('+'),
        )?;
        let builder = MarkerEnvironmentBuilder {
            implementation_name: &markers.implementation_name,
            implementation_version: &implementation_version,
            os_name: &markers.os_name,
            platform_machine: &markers.platform_machine,
            platform_python_implementation: &markers.platform_python_implementation,
            platform_release: &markers.platform_release,
            platform_system: &markers.platform_system,
            platform_version: &markers.platform_version,
            python_full_version: &full,
            python_version: &short,
            sys_platform: &markers.sys_platform,
        };
        // Every version was parsed above, so this cannot fail; map the error all the same.
        let inner = pep508_rs::MarkerEnvironment::try_from(builder).map_err(|_| {
            MarkerEnvironmentError::Version {
                field: "python_full_version",
                value: reported_full.to_owned(),
            }
        })?;
        Ok(Self {
            inner,
            python_full_version: reported_full.to_owned(),
        })
    }

    /// The `python_full_version` the interpreter reported, e.g. `3.12.4` or `3.14.0a1`.
    pub fn python_full_version(&self) -> &str {
        &self.python_full_version
    }

    /// The `sys_platform` marker value.
    pub fn sys_platform(&self) -> &str {
        self.inner.sys_platform()
    }

    /// Whether `requirement` (a Requires-Dist entry, say) applies here when the extras
    /// `extras` of the project that declares it are requested: true without a marker.
    pub fn applies(
        &self,
        requirement: &pep508_rs::Requirement,
        extras: &[pep508_rs::ExtraName],
    ) -> bool {
        requirement.evaluate_markers(&self.inner, extras)
    }

    /// The PEP 508 environment, for evaluating markers of `pep508_rs` types directly.
    pub fn as_pep508(&self) -> &pep508_rs::MarkerEnvironment {
        &self.inner
    }
}

/// Parses `value` as a PEP 440 version and keeps its release segments (`3.14.0a1` → `3.14.0`).
fn release_only(field: &'static str, value: &str) -> Result<String, MarkerEnvironmentError> {
    let version: pep508_rs::pep440_rs::Version =
        value.parse().map_err(|_| MarkerEnvironmentError::Version {
            field,
            value: value.to_owned(),
        })?;
    Ok(version.only_release().to_string())
}

/// `3.12.4rc1` → `3.12`; a version without a minor part stays as it is.
fn major_minor(full: &str) -> String {
    let mut parts = full.splitn(3, '.');
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => {
            let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
            format!("{major}.{minor}")
        }
        _ => full.to_owned(),
    }
}

/// The environment marker of a requirement (the part after `;`), parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Marker {
    tree: MarkerTree,
}

impl Marker {
    /// `None` for a marker that is always true.
    pub(super) fn new(tree: MarkerTree) -> Option<Self> {
        (!tree.is_true()).then_some(Self { tree })
    }

    /// Whether the requirement applies in `env`. Extras are not known in a requirements file,
    /// so `extra == "..."` is false, as with pip.
    pub fn evaluate(&self, env: &MarkerEnvironment) -> bool {
        self.tree.evaluate(&env.inner, &[])
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `MarkerTree`'s own `Display` panics on a marker that is always true; `try_to_string`
        // does not, and such markers are not stored anyway.
        f.write_str(self.tree.try_to_string().as_deref().unwrap_or("true"))
    }
}

/// Refuses a non-ASCII character outside the quoted values of the environment marker of the
/// PEP 508 requirement `text` (`marker_only`: `text` is a marker alone), before pep508_rs
/// parses it.
///
/// pep508_rs 0.9.2 measures the word after each marker expression in characters and then
/// slices its input with that count as bytes (`parse_marker_op`), so a multi-byte character
/// there panics. Outside its quotes a marker is ASCII (variables, operators, `and`, `or`,
/// parentheses), so no valid marker is refused. Requirement lines and the `Requires-Dist` of
/// metadata an index serves both reach that code.
pub(crate) fn refuse_non_ascii_in_marker<T: pep508_rs::Pep508Url>(
    text: &str,
    marker_only: bool,
) -> Result<(), pep508_rs::Pep508Error<T>> {
    let start = if marker_only {
        0
    } else {
        match marker_start(text) {
            Some(start) => start,
            None => return Ok(()),
        }
    };
    let mut quote = None;
    for (offset, c) in text[start..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, _) if !c.is_ascii() => {
                return Err(pep508_rs::Pep508Error {
                    message: pep508_rs::Pep508ErrorSource::String(format!(
                        "unexpected character `{c}` in the environment marker (outside quotes a \
                         marker is ASCII)"
                    )),
                    start: start + offset,
                    len: c.len_utf8(),
                    input: text.to_owned(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where the marker of the PEP 508 requirement `text` starts: after the first `;`, or for
/// `name @ url`, after the first `;` past the URL (which runs to the next whitespace and may
/// hold `;`). Neither a name, extras nor a version specifier holds `@` or `;`.
fn marker_start(text: &str) -> Option<usize> {
    let separator = text.find(['@', ';'])?;
    if text[separator..].starts_with(';') {
        return Some(separator + 1);
    }
    let after_at = separator + 1;
    let rest = &text[after_at..];
    let url_start = after_at + (rest.len() - rest.trim_start().len());
    let url_end = text[url_start..]
        .find(char::is_whitespace)
        .map_or(text.len(), |end| url_start + end);
    text[url_end..].find(';').map(|at| url_end + at + 1)
}
