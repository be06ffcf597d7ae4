//! PEP 610: `direct_url.json`, where a wheel installed from a path or a URL came from.
//!
//! Installers write it into the `.dist-info` directory of a project installed from a direct
//! reference (`pip install ./dist/app-1.0-py3-none-any.whl`, `app @ https://…/app.whl`), and not
//! for one found on an index. `pip freeze` then prints `app @ file:///…` instead of a version
//! pin that no index could satisfy, and tools such as `pip list --format json` show it.
//!
//! The JSON is written byte for byte as pip writes it (`json.dumps(…, sort_keys=True)`: keys
//! sorted, `", "` and `": "` separators, every character outside printable ASCII escaped), so a
//! cairn install and a pip install of one wheel from one path give the same file.

use std::fmt::{self, Write as _};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// The name of the file in the `.dist-info` directory.
pub(crate) const DIRECT_URL_FILE: &str = "direct_url.json";

/// Where a wheel installed from a path or a URL came from (PEP 610's archive form), written
/// as `direct_url.json`.
///
/// ```
/// use cairn_install::{ArchiveHash, DirectUrl};
/// use std::path::Path;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let local = DirectUrl::for_file(Path::new("/wheels/app-1.0+local-py3-none-any.whl"))?;
/// assert_eq!(local.url, "file:///wheels/app-1.0%2Blocal-py3-none-any.whl");
///
/// let hash: ArchiveHash = "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".parse()?;
/// let remote = DirectUrl::new("https://example.com/app-1.0-py3-none-any.whl").with_archive_hash(hash);
/// assert!(remote.archive_hash.is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirectUrl {
    /// The wheel's URL: `file://` and the absolute path for a local file, the download URL
    /// (without credentials or fragment) for a remote one. Written as given.
    pub url: String,
    /// The wheel file's hash, when the caller knows it (PEP 610's `archive_info.hash`).
    pub archive_hash: Option<ArchiveHash>,
    /// What the URL names when it is not an archive: a VCS checkout or a local directory.
    pub kind: DirectKind,
}

/// What a direct URL names (PEP 610's `archive_info`, `vcs_info` or `dir_info`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirectKind {
    /// An archive: a wheel or a source distribution.
    #[default]
    Archive,
    /// A git repository at a commit (`vcs_info`).
    Git {
        /// The full commit hash built.
        commit_id: String,
        /// The branch, tag or commit asked for, if any.
        requested_revision: Option<String>,
    },
    /// A local directory (`dir_info`), not editable.
    Directory,
}

impl DirectUrl {
    /// A direct URL with no known hash. `url` must not hold credentials: PEP 610 forbids
    /// storing them, and the file is readable by everyone who can read the target.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            archive_hash: None,
            kind: DirectKind::Archive,
        }
    }

    /// The `file://` URL of the wheel at `path`, as pip spells it: the path normalised without
    /// touching the filesystem (`.` and `..` components folded, as `os.path.normpath` does) and
    /// percent-encoded as `urllib`'s `pathname2url` does (every byte other than ASCII letters,
    /// digits, `_.-~` and `/`).
    ///
    /// # Errors
    ///
    /// [`DirectUrlError::RelativePath`] when `path` is not absolute.
    pub fn for_file(path: &Path) -> Result<Self, DirectUrlError> {
        if !path.is_absolute() {
            return Err(DirectUrlError::RelativePath {
                path: path.to_path_buf(),
            });
        }
        Ok(Self::new(file_url(&normalize(path))))
    }

    /// The same direct URL with the wheel file's hash.
    #[must_use]
    pub fn with_archive_hash(mut self, hash: ArchiveHash) -> Self {
        self.archive_hash = Some(hash);
        self
    }

    /// The content of `direct_url.json`, as pip writes it.
    /// A git checkout of `url` (without `git+`) at `commit_id`, asked for as
    /// `requested_revision` (PEP 610's `vcs_info`).
    pub fn git(
        url: impl Into<String>,
        commit_id: impl Into<String>,
        requested_revision: Option<String>,
    ) -> Self {
        Self {
            kind: DirectKind::Git {
                commit_id: commit_id.into(),
                requested_revision,
            },
            ..Self::new(url)
        }
    }

    /// The local directory `path` (absolute), built and installed (PEP 610's `dir_info`).
    pub fn directory(path: &Path) -> Result<Self, DirectUrlError> {
        Ok(Self {
            kind: DirectKind::Directory,
            ..Self::for_file(path)?
        })
    }

    pub(crate) fn to_json(&self) -> String {
        match &self.kind {
            DirectKind::Archive => {}
            DirectKind::Directory => {
                let mut json = String::from("{\"dir_info\": {}, \"url\": ");
                push_json_string(&mut json, &self.url);
                json.push('}');
                return json;
            }
            DirectKind::Git {
                commit_id,
                requested_revision,
            } => {
                let mut json = String::from("{\"url\": ");
                push_json_string(&mut json, &self.url);
                json.push_str(", \"vcs_info\": {\"commit_id\": ");
                push_json_string(&mut json, commit_id);
                if let Some(revision) = requested_revision {
                    json.push_str(", \"requested_revision\": ");
                    push_json_string(&mut json, revision);
                }
                json.push_str(", \"vcs\": \"git\"}}");
                return json;
            }
        }
        let mut json = String::from("{\"archive_info\": {");
        if let Some(hash) = &self.archive_hash {
            // Both spellings, as pip writes them: `hash` (PEP 610's first form, still read by
            // older tools) and `hashes`.
            json.push_str("\"hash\": ");
            push_json_string(&mut json, &hash.to_string());
            json.push_str(", \"hashes\": {");
            push_json_string(&mut json, &hash.algorithm);
            json.push_str(": ");
            push_json_string(&mut json, &hash.hex);
            json.push('}');
        }
        json.push_str("}, \"url\": ");
        push_json_string(&mut json, &self.url);
        json.push('}');
        json
    }
}

/// A wheel file's hash as PEP 610 records it: `algorithm=hex` (`sha256=9f86…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArchiveHash {
    algorithm: String,
    hex: String,
}

impl ArchiveHash {
    /// A hash from a `hashlib` algorithm name (`sha256`) and its hexadecimal digest, which is
    /// stored in lowercase.
    ///
    /// # Errors
    ///
    /// [`DirectUrlError::InvalidHash`] when the algorithm is not a lowercase `hashlib` name
    /// (letters, digits and `_`) or the digest is not hexadecimal.
    pub fn new(algorithm: &str, hex: &str) -> Result<Self, DirectUrlError> {
        let invalid = |problem| DirectUrlError::InvalidHash {
            text: format!("{algorithm}={hex}"),
            problem,
        };
        let name_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if algorithm.is_empty() || !algorithm.chars().all(name_ok) {
            return Err(invalid(
                "the algorithm is not a hashlib name such as `sha256`",
            ));
        }
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid("the digest is not hexadecimal"));
        }
        Ok(Self {
            algorithm: algorithm.to_owned(),
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The algorithm's name (`sha256`).
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The digest in lowercase hexadecimal.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl FromStr for ArchiveHash {
    type Err = DirectUrlError;

    /// Parses `algorithm=hex`, the form of PEP 610's `hash` and of URL fragments.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (algorithm, hex) = text
            .split_once('=')
            .ok_or_else(|| DirectUrlError::InvalidHash {
                text: text.to_owned(),
                problem: "it is not `algorithm=hex`",
            })?;
        Self::new(algorithm, hex)
    }
}

impl fmt::Display for ArchiveHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.algorithm, self.hex)
    }
}

/// Why a [`DirectUrl`] or an [`ArchiveHash`] cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectUrlError {
    /// A `file://` URL needs an absolute path.
    #[error(
        "the wheel path {} is not absolute; a file URL needs the absolute path",
        path.display()
    )]
    RelativePath {
        /// The path given.
        path: PathBuf,
    },
    /// The hash is not `algorithm=hex`.
    #[error("`{text}` is not a wheel hash for direct_url.json: {problem}")]
    InvalidHash {
        /// The hash as given.
        text: String,
        /// What is wrong.
        problem: &'static str,
    },
}

/// `path` with `.` and `..` components folded away lexically, as Python's `os.path.normpath`
/// (which pip applies) does: `/a/b/../c` → `/a/c`, `/..` → `/`.
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// `file://` and the percent-encoded absolute `path`.
fn file_url(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    let mut url = String::with_capacity(bytes.len() + 8);
    url.push_str("file://");
    #[cfg(windows)]
    if !bytes.starts_with(b"/") && !bytes.starts_with(b"\\") {
        // `C:\wheels\a.whl` → `file:///C:/wheels/a.whl`.
        url.push('/');
    }
    for &byte in bytes {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' | b'/' => {
                url.push(char::from(byte));
            }
            #[cfg(windows)]
            b'\\' => url.push('/'),
            #[cfg(windows)]
            b':' => url.push(':'),
            _ => {
                let _ = write!(url, "%{byte:02X}");
            }
        }
    }
    url
}

/// `text` as a JSON string the way Python's `json.dumps` writes it by default: `"` and `\`
/// escaped, the short escapes for control characters, every other character outside printable
/// ASCII as `\uXXXX` (UTF-16, so surrogate pairs above the BMP).
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn json_is_written_as_pip_writes_it() {
        let plain = DirectUrl::new("https://example.com/a-1.0-py3-none-any.whl");
        assert_eq!(
            plain.to_json(),
            "{\"archive_info\": {}, \"url\": \"https://example.com/a-1.0-py3-none-any.whl\"}"
        );
        let hashed = DirectUrl::new("file:///w/a.whl")
            .with_archive_hash(format!("sha256={HEX}").parse().unwrap());
        assert_eq!(
            hashed.to_json(),
            format!(
                "{{\"archive_info\": {{\"hash\": \"sha256={HEX}\", \"hashes\": {{\"sha256\": \
                 \"{HEX}\"}}}}, \"url\": \"file:///w/a.whl\"}}"
            )
        );
    }

    #[test]
    fn json_strings_escape_like_python() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é😀\u{7f}");
        assert_eq!(
            out,
            "\"a\\\"b\\\\c\\nd\\u0001\\u00e9\\ud83d\\ude00\\u007f\""
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_urls_are_percent_encoded_as_pathname2url_does() {
        let url = DirectUrl::for_file(Path::new("/w/my dir/a-1.0+cpu-py3-none-any.whl"))
            .unwrap()
            .url;
        assert_eq!(url, "file:///w/my%20dir/a-1.0%2Bcpu-py3-none-any.whl");
        assert_eq!(
            DirectUrl::for_file(Path::new("/é~_.-")).unwrap().url,
            "file:///%C3%A9~_.-"
        );
        assert_eq!(
            DirectUrl::for_file(Path::new("/w/./x/../a.whl"))
                .unwrap()
                .url,
            "file:///w/a.whl"
        );
        assert_eq!(
            DirectUrl::for_file(Path::new("/../a.whl")).unwrap().url,
            "file:///a.whl"
        );
        assert!(matches!(
            DirectUrl::for_file(Path::new("rel/a.whl")),
            Err(DirectUrlError::RelativePath { .. })
        ));
    }

    #[test]
    fn hashes_are_checked_and_lowercased() {
        let hash: ArchiveHash = format!("sha256={}", HEX.to_uppercase()).parse().unwrap();
        assert_eq!(hash.algorithm(), "sha256");
        assert_eq!(hash.hex(), HEX);
        assert_eq!(hash.to_string(), format!("sha256={HEX}"));
        for bad in [
            "sha256",
            "=abc",
            "SHA256=abc",
            "sha256=xyz",
            "sha256=",
            "sha-256=ab",
        ] {
            assert!(bad.parse::<ArchiveHash>().is_err(), "{bad}");
        }
    }
}
