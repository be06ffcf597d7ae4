//! Where a wheel comes from: a local file or a URL.

use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use crate::WheelFilename;
use crate::redact::{RedactedUrl, redact_text};
use cairn_hash::{Digest, ExpectedHashes};

/// A wheel's location as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WheelSource {
    /// A wheel file on disk (absolute path).
    Path(PathBuf),
    /// A wheel at an `http` or `https` URL.
    Url(Url),
}

/// An input that names no usable wheel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Not a wheel file name.
    #[error(transparent)]
    Filename(#[from] crate::FilenameError),
    /// A URL with an unsupported scheme or no file name.
    #[error("unsupported wheel location `{input}`: {reason}")]
    Unsupported {
        /// The input, with credentials removed.
        input: String,
        /// Why it is not supported.
        reason: &'static str,
    },
    /// The path could not be made absolute.
    #[error("cannot resolve the path `{}`", path.display())]
    Path {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A URL fragment carried a malformed hash.
    #[error("invalid hash in the URL fragment of `{input}`")]
    FragmentHash {
        /// The input, with credentials removed.
        input: String,
        /// The parse error.
        #[source]
        source: cairn_hash::ParseDigestError,
    },
}

impl WheelSource {
    /// Parses a CLI input: `http(s)://` URLs stay URLs, `file://` URLs and everything else are
    /// paths. A URL fragment such as `#sha256=<hex>` becomes an expected hash, as with pip.
    pub fn parse(input: &str) -> Result<(Self, ExpectedHashes), SourceError> {
        let mut expected = ExpectedHashes::default();
        // A one-letter "scheme" is a Windows drive (`C:\\wheels\\a.whl`), not a URL.
        let parsed = Url::parse(input).ok().filter(|url| url.scheme().len() > 1);
        let source = if let Some(mut url) = parsed {
            if let Some(fragment) = url.fragment() {
                for part in fragment.split('&') {
                    if part.contains('=')
                        && !part.starts_with("egg=")
                        && !part.starts_with("subdirectory=")
                    {
                        let digest: Digest =
                            part.parse().map_err(|source| SourceError::FragmentHash {
                                input: redact_text(input),
                                source,
                            })?;
                        expected.insert(digest);
                    }
                }
            }
            url.set_fragment(None);
            match url.scheme() {
                "http" | "https" => Self::Url(url),
                "file" => {
                    Self::Path(url.to_file_path().map_err(|()| SourceError::Unsupported {
                        input: redact_text(input),
                        reason: "it is not a local file URL",
                    })?)
                }
                _ => {
                    return Err(SourceError::Unsupported {
                        input: redact_text(input),
                        reason: "only http, https and file URLs are supported",
                    });
                }
            }
        } else if input.contains("://") {
            // Taken as a path, it would be shown in errors with its credentials.
            return Err(SourceError::Unsupported {
                input: redact_text(input),
                reason: "it looks like a URL but is not a valid one",
            });
        } else {
            Self::Path(PathBuf::from(input))
        };
        let source = match source {
            Self::Path(path) => Self::Path(
                std::path::absolute(&path).map_err(|source| SourceError::Path { path, source })?,
            ),
            url => url,
        };
        source.filename()?;
        Ok((source, expected))
    }

    /// Parses `input` as [`WheelSource::parse`] does and adds `pins` to the digests of its URL
    /// fragment: the wheel and every digest it must match, the user's pins (`--hash`, a
    /// requirement's hashes) and the URL's alike. The one place that joins the two.
    pub fn parse_pinned<'a>(
        input: &str,
        pins: impl IntoIterator<Item = &'a Digest>,
    ) -> Result<(Self, ExpectedHashes), SourceError> {
        let (source, fragment) = Self::parse(input)?;
        let mut expected: ExpectedHashes = pins.into_iter().copied().collect();
        expected.extend(fragment.iter().copied());
        Ok((source, expected))
    }

    /// The wheel's file name: the last path segment.
    pub fn filename(&self) -> Result<WheelFilename, SourceError> {
        let name = match self {
            Self::Path(path) => path.file_name().and_then(|name| name.to_str()),
            Self::Url(url) => url
                .path_segments()
                .and_then(|mut segments| segments.next_back()),
        };
        let name =
            name.filter(|name| !name.is_empty())
                .ok_or_else(|| SourceError::Unsupported {
                    input: self.to_string(),
                    reason: "it does not end in a file name",
                })?;
        // URLs percent-encode `+` in local versions; the file name is the decoded form.
        let decoded = match self {
            Self::Path(_) => name.to_owned(),
            Self::Url(_) => percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .into_owned(),
        };
        Ok(decoded.parse()?)
    }

    /// The local path, if this is a file.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            Self::Path(path) => Some(path),
            Self::Url(_) => None,
        }
    }
}

impl fmt::Display for WheelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(path) => write!(f, "{}", path.display()),
            Self::Url(url) => f.write_str(RedactedUrl::new(url).as_str()),
        }
    }
}
