//! URLs with their credentials hidden, the only form in which a URL reaches an error or a log.

use std::fmt;

use url::Url;

/// A URL whose user name and password, if any, are replaced by `****`.
///
/// Built from the URL being fetched; displaying it can never leak the credentials that the
/// request itself sends as basic auth.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedactedUrl(Url);

/// What replaces a user name or a password.
const MASK: &str = "****";

impl RedactedUrl {
    /// Hides the credentials of `url`.
    pub fn new(url: &Url) -> Self {
        let mut redacted = url.clone();
        // Both setters only fail for URLs that cannot carry credentials at all (`mailto:`,
        // `file:`), which then have none to hide.
        if !url.username().is_empty() {
            let _ = redacted.set_username(MASK);
        }
        if url.password().is_some() {
            let _ = redacted.set_password(Some(MASK));
        }
        Self(redacted)
    }

    /// The redacted URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl From<&Url> for RedactedUrl {
    fn from(url: &Url) -> Self {
        Self::new(url)
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        let url = Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        RedactedUrl::new(&url).to_string()
    }

    #[test]
    fn hides_user_and_password() {
        assert_eq!(
            redact("https://alice:s3cret@example.org/simple/"),
            "https://****:****@example.org/simple/"
        );
    }

    #[test]
    fn hides_a_token_given_as_user_name() {
        assert_eq!(
            redact("https://ghp_abc@example.org/a.whl"),
            "https://****@example.org/a.whl"
        );
    }

    #[test]
    fn hides_a_password_without_user_name() {
        assert_eq!(
            redact("https://:s3cret@example.org/"),
            "https://:****@example.org/"
        );
    }

    #[test]
    fn leaves_a_url_without_credentials_alone() {
        assert_eq!(
            redact("https://example.org/a.whl?x=1#sha256=00"),
            "https://example.org/a.whl?x=1#sha256=00"
        );
    }
}
