//! Core metadata: the `METADATA` file of a wheel's `.dist-info` directory (the same format as an
//! sdist's `PKG-INFO`, and the `.metadata` file an index serves beside a wheel, PEP 658).
//!
//! The file is a set of RFC 822 email headers, then a blank line, then the description. Only the
//! fields a resolver needs are read, and typed: [`CoreMetadata`]. The headers are read as
//! Python's `email` parser (which `packaging` and pip use) reads them:
//!
//! - a header is `Name: value`; the name is printable ASCII without `:` and matched ignoring
//!   case;
//! - a line that begins with a space or a tab continues the header before it, even if it holds
//!   nothing but whitespace; the line break is dropped and the rest kept (unfolding);
//! - an empty line ends the headers, and so does any line that is neither a header nor a
//!   continuation; what follows is the description, which is never read (it need not even be
//!   UTF-8);
//! - `\n` and `\r\n` line endings, and a UTF-8 byte-order mark, are accepted.
//!
//! [`read_dist_info_metadata`] reads the `METADATA` of an unpacked wheel, such as an archive in
//! the cache, and [`check_requires_python`] tells whether its `Requires-Python` admits the
//! interpreter it is to be installed for.

use std::str::FromStr;

use thiserror::Error;

pub use crate::metadata_python::{RequiresPythonError, check_requires_python};
pub use crate::metadata_wheel::{DistInfoError, read_dist_info_metadata};
pub use cairn_types::{InvalidPackageName, PackageName};
pub use pep440_rs::{Version, VersionSpecifiers};
pub use pep508_rs::{ExtraName, InvalidNameError, Requirement};

/// The fields of a distribution's core metadata that decide what it needs.
///
/// Built by [`CoreMetadata::parse`]; more fields may be added, so it cannot be built by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoreMetadata {
    /// `Metadata-Version`, e.g. `2.4`. Versions 1.0 to 2.x are read.
    pub metadata_version: Version,
    /// `Name`, normalised (PEP 503), after checking that it is a valid project name.
    pub name: PackageName,
    /// `Version`.
    pub version: Version,
    /// Every `Requires-Dist`, in file order, with their extras and markers (dependencies of an
    /// extra carry `extra == "…"` in their marker).
    pub requires_dist: Vec<Requirement>,
    /// `Requires-Python`, if present and not empty.
    pub requires_python: Option<VersionSpecifiers>,
    /// Every `Provides-Extra`, normalised (PEP 685), in file order without repeats.
    pub provides_extra: Vec<ExtraName>,
}

/// Why a metadata file could not be read. Every error but [`MetadataError::NotUtf8`] names the
/// field ([`MetadataError::field`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The headers are not UTF-8.
    #[error("the metadata headers are not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// The offset of the first invalid byte from the start of the file.
        offset: usize,
    },
    /// A required field is absent.
    #[error("the metadata has no `{field}` field")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// A field that may appear once appears several times.
    #[error("the metadata has {count} `{field}` fields, and may have only one")]
    Duplicate {
        /// The field.
        field: &'static str,
        /// How many there are.
        count: usize,
    },
    /// The metadata version is one cairn does not read (3.0 or later).
    #[error(
        "`Metadata-Version: {version}` is a version cairn cannot read: it reads versions 1.0 to \
         2.x"
    )]
    UnsupportedMetadataVersion {
        /// The version as written.
        version: String,
    },
    /// A field that holds a version (`Version`, `Metadata-Version`) is not a PEP 440 version.
    #[error("`{field}: {value}` is not a valid PEP 440 version")]
    InvalidVersion {
        /// The field.
        field: &'static str,
        /// The value as written.
        value: String,
        /// What the parser said.
        #[source]
        source: pep440_rs::VersionParseError,
    },
    /// `Name` is not a valid project name.
    #[error("`Name: {value}` is not a valid project name")]
    InvalidName {
        /// The value as written.
        value: String,
        /// What is wrong with it.
        #[source]
        source: InvalidPackageName,
    },
    /// A `Provides-Extra` is not a valid extra name.
    #[error(
        "`Provides-Extra: {value}` is not a valid extra name: names are letters, digits, `-`, \
         `_` and `.`, beginning and ending with a letter or digit"
    )]
    InvalidExtra {
        /// The value as written.
        value: String,
        /// What the parser said.
        #[source]
        source: InvalidNameError,
    },
    /// A `Requires-Dist` is not a PEP 508 requirement.
    #[error("`Requires-Dist: {value}` is not a valid PEP 508 requirement")]
    InvalidRequirement {
        /// The value as written.
        value: String,
        /// What the parser said.
        #[source]
        source: Box<pep508_rs::Pep508Error>,
    },
    /// `Requires-Python` is not a PEP 440 version specifier set.
    #[error("`Requires-Python: {value}` is not a valid PEP 440 version specifier")]
    InvalidRequiresPython {
        /// The value as written.
        value: String,
        /// What the parser said.
        #[source]
        source: pep440_rs::VersionSpecifiersParseError,
    },
}

impl MetadataError {
    /// The metadata field the error is about, or `None` when it is about the file as a whole.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::NotUtf8 { .. } => None,
            Self::Missing { field }
            | Self::Duplicate { field, .. }
            | Self::InvalidVersion { field, .. } => Some(field),
            Self::InvalidName { .. } => Some(NAME),
            Self::InvalidExtra { .. } => Some(PROVIDES_EXTRA),
            Self::UnsupportedMetadataVersion { .. } => Some(METADATA_VERSION),
            Self::InvalidRequirement { .. } => Some(REQUIRES_DIST),
            Self::InvalidRequiresPython { .. } => Some(REQUIRES_PYTHON),
        }
    }
}

const METADATA_VERSION: &str = "Metadata-Version";
const NAME: &str = "Name";
const VERSION: &str = "Version";
const REQUIRES_DIST: &str = "Requires-Dist";
const REQUIRES_PYTHON: &str = "Requires-Python";
const PROVIDES_EXTRA: &str = "Provides-Extra";

impl CoreMetadata {
    /// Parses a `METADATA` / `PKG-INFO` file. The description after the headers is ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, MetadataError> {
        let headers = Headers::parse(bytes)?;

        let metadata_version_text = headers.required(METADATA_VERSION)?;
        let metadata_version = parse_version(METADATA_VERSION, metadata_version_text)?;
        if !matches!(metadata_version.release().first(), Some(1 | 2)) {
            return Err(MetadataError::UnsupportedMetadataVersion {
                version: metadata_version_text.to_owned(),
            });
        }

        let name_text = headers.required(NAME)?;
        let name =
            PackageName::validated(name_text).map_err(|source| MetadataError::InvalidName {
                value: name_text.to_owned(),
                source,
            })?;
        let version = parse_version(VERSION, headers.required(VERSION)?)?;

        let requires_dist = headers
            .all(REQUIRES_DIST)
            .map(|value| {
                crate::requirements::refuse_what_pep508_panics_on(value)
                    .and_then(|()| Requirement::from_str(value))
                    .map_err(|source| MetadataError::InvalidRequirement {
                        value: value.to_owned(),
                        source: Box::new(source),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let requires_python = match headers.optional(REQUIRES_PYTHON)? {
            Some(value) if !value.is_empty() => {
                Some(VersionSpecifiers::from_str(value).map_err(|source| {
                    MetadataError::InvalidRequiresPython {
                        value: value.to_owned(),
                        source,
                    }
                })?)
            }
            _ => None,
        };

        let mut provides_extra: Vec<ExtraName> = Vec::new();
        for value in headers.all(PROVIDES_EXTRA) {
            let extra =
                ExtraName::from_str(value).map_err(|source| MetadataError::InvalidExtra {
                    value: value.to_owned(),
                    source,
                })?;
            if !provides_extra.contains(&extra) {
                provides_extra.push(extra);
            }
        }

        Ok(Self {
            metadata_version,
            name,
            version,
            requires_dist,
            requires_python,
            provides_extra,
        })
    }
}

impl FromStr for CoreMetadata {
    type Err = MetadataError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text.as_bytes())
    }
}

fn parse_version(field: &'static str, value: &str) -> Result<Version, MetadataError> {
    Version::from_str(value).map_err(|source| MetadataError::InvalidVersion {
        field,
        value: value.to_owned(),
        source,
    })
}

/// The headers of an email-style file: names as written, values unfolded and trimmed.
struct Headers<'a> {
    fields: Vec<(&'a str, String)>,
}

impl<'a> Headers<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, MetadataError> {
        let file_len = bytes.len();
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let header_bytes = &bytes[..header_end(bytes)];
        let text = std::str::from_utf8(header_bytes).map_err(|error| MetadataError::NotUtf8 {
            // Counted from the start of the file, byte-order mark included.
            offset: error.valid_up_to() + (file_len - bytes.len()),
        })?;
        let mut fields: Vec<(&str, String)> = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with([' ', '\t']) {
                // `header_end` stopped before any continuation without a header above it.
                if let Some((_, value)) = fields.last_mut() {
                    value.push_str(line);
                }
                continue;
            }
            if let Some((name, value)) = header_line(line) {
                fields.push((name, value.to_owned()));
            }
        }
        Ok(Self { fields })
    }

    /// Every value of field `name`, trimmed, in file order.
    fn all(&self, name: &'static str) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
    }

    /// The value of a field that may appear at most once.
    fn optional(&self, name: &'static str) -> Result<Option<&str>, MetadataError> {
        let mut values = self.all(name);
        let first = values.next();
        let more = values.count();
        if more > 0 {
            return Err(MetadataError::Duplicate {
                field: name,
                count: more + 1,
            });
        }
        Ok(first)
    }

    /// The value of a field that must appear exactly once, and not be empty.
    fn required(&self, name: &'static str) -> Result<&str, MetadataError> {
        match self.optional(name)? {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(MetadataError::Missing { field: name }),
        }
    }
}

/// `Name: value` split at the colon, if `line` is a header line.
fn header_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    is_field_name(name.as_bytes()).then_some((name, value))
}

/// The length of the header section: up to the empty line, or the first line that is neither a
/// header nor a continuation of one (the email parser starts the body there).
fn header_end(bytes: &[u8]) -> usize {
    let mut start = 0;
    let mut seen_header = false;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |at| start + at + 1);
        let line = &bytes[start..end];
        let content = line
            .strip_suffix(b"\n")
            .map(|rest| rest.strip_suffix(b"\r").unwrap_or(rest))
            .unwrap_or(line);
        let is_continuation =
            seen_header && content.first().is_some_and(|&b| b == b' ' || b == b'\t');
        let is_header = content
            .iter()
            .position(|&b| b == b':')
            .is_some_and(|colon| is_field_name(&content[..colon]));
        if !(is_continuation || is_header) {
            return start;
        }
        seen_header = true;
        start = end;
    }
    bytes.len()
}

/// A field name: one or more printable ASCII characters other than `:` (RFC 822).
fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| (0x21..=0x7E).contains(b))
}
