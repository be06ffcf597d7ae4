use std::fmt;

use crate::{CacheKey, CacheKeyHasher};

/// A URL reduced to the parts that identify the resource, for use in cache keys.
///
/// Canonicalisation makes equivalent spellings of one resource share a key:
///
/// - credentials (`user:password@`) and the fragment (`#sha256=…`) are dropped, so URLs that
///   differ only in credentials or in hash fragments share their key;
/// - scheme and host are lowercased, default ports dropped and `.`/`..` segments resolved
///   (by [`url::Url`]);
/// - percent-escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded and the
///   remaining escapes use uppercase hex, as RFC 3986 §6.2.2 allows; other reserved characters
///   keep their spelling because servers may tell them apart;
/// - trailing slashes and a trailing `.git` on the path are removed, and an empty query (`?`)
///   is dropped.
///
/// ```
/// use cairn_cache_key::CanonicalUrl;
///
/// let url = CanonicalUrl::parse("HTTPS://token@Example.org:443/a/%7euser/repo.git/?#frag").unwrap();
/// assert_eq!(url.as_str(), "https://example.org/a/~user/repo");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CanonicalUrl(url::Url);

/// A URL that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid URL `{input}`; URLs must be absolute, e.g. `https://example.org/a.whl`")]
pub struct UrlError {
    input: String,
    #[source]
    source: url::ParseError,
}

impl CanonicalUrl {
    /// Parses and canonicalises `input`.
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let url = url::Url::parse(input).map_err(|source| UrlError {
            input: input.to_owned(),
            source,
        })?;
        Ok(Self::new(url))
    }

    /// Canonicalises an already parsed URL.
    pub fn new(mut url: url::Url) -> Self {
        // Both setters only fail for URLs that cannot carry credentials, which have none.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);

        let mut path = normalize_percent_escapes(url.path());
        while path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
        if let Some(stripped) = path.strip_suffix(".git") {
            path.truncate(stripped.len());
        }
        if path.is_empty() && !url.cannot_be_a_base() {
            path.push('/');
        }
        url.set_path(&path);

        match url.query().map(normalize_percent_escapes) {
            Some(query) if query.is_empty() => url.set_query(None),
            Some(query) => url.set_query(Some(&query)),
            None => {}
        }
        Self(url)
    }

    /// The canonical form as a string.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The canonical form as a [`url::Url`].
    pub fn as_url(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Display for CanonicalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CacheKey for CanonicalUrl {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        self.as_str().cache_key(state);
    }
}

/// Decodes escapes of unreserved characters and uppercases the hex digits of the others.
fn normalize_percent_escapes(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && index + 2 < bytes.len()
            && let (Some(high), Some(low)) =
                (hex_value(bytes[index + 1]), hex_value(bytes[index + 2]))
        {
            let decoded = high << 4 | low;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                out.push('%');
                out.push(char::from(bytes[index + 1].to_ascii_uppercase()));
                out.push(char::from(bytes[index + 2].to_ascii_uppercase()));
            }
            index += 3;
            continue;
        }
        // Escapes are ASCII, so copying up to the next `%` keeps UTF-8 intact.
        let next = input[index + 1..]
            .find('%')
            .map_or(input.len(), |offset| index + 1 + offset);
        out.push_str(&input[index..next]);
        index = next;
    }
    out
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}
