//! Credentials hidden, the only form in which a URL reaches an error or a log: [`RedactedUrl`]
//! for a parsed URL, [`redact_text`] for text that may hold URLs but may not parse as one (a
//! requirement line, an input that was refused).

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

/// Replaces the user-info part of every `scheme://user:password@host` in `text` with `****`.
///
/// For text that is not one well-formed URL: requirement lines quoted in errors (index URLs
/// often carry a token, `--index-url https://__token__:SECRET@host/simple`), or an input that
/// failed to parse. The text around the credentials is kept as written; a URL that parses is
/// better shown as a [`RedactedUrl`].
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let (before, after) = rest.split_at(scheme_end + 3);
        out.push_str(before);
        // The authority ends at the first `/`, `?`, `#` or whitespace; user info at its last `@`.
        let authority_len = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_len];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_len..];
    }
    out.push_str(rest);
    out
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

    /// An index URL as the index client shows it in its errors.
    #[test]
    fn hides_the_token_of_an_index_url() {
        assert_eq!(
            redact("https://__token__:pypi-AgEI@pypi.example.org/simple/numpy/"),
            "https://****:****@pypi.example.org/simple/numpy/"
        );
    }

    #[test]
    fn leaves_a_url_without_credentials_alone() {
        assert_eq!(
            redact("https://example.org/a.whl?x=1#sha256=00"),
            "https://example.org/a.whl?x=1#sha256=00"
        );
    }

    #[test]
    fn user_info_is_masked_in_text_and_the_rest_kept() {
        assert_eq!(
            redact_text("-i https://__token__:s3cret@host/simple x @ http://u@h/a.whl"),
            "-i https://****@host/simple x @ http://****@h/a.whl"
        );
        assert_eq!(redact_text("a==1 ://"), "a==1 ://");
        assert_eq!(redact_text("https://host/p@q"), "https://host/p@q");
    }

    /// A requirement line, as the requirements parser quotes it in an error.
    #[test]
    fn hides_credentials_in_a_requirement_line() {
        assert_eq!(
            redact_text("demo @ https://user:pw@host/demo-1.0-py3-none-any.whl ; os_name == 'nt'"),
            "demo @ https://****@host/demo-1.0-py3-none-any.whl ; os_name == 'nt'"
        );
    }

    /// A wheel location that was refused, possibly because it does not parse as a URL.
    #[test]
    fn hides_credentials_in_an_input_that_is_not_a_url() {
        assert_eq!(
            redact_text("https://user:s3cret@exa mple.org/a.whl"),
            "https://****@exa mple.org/a.whl"
        );
        assert!(Url::parse("https://user:s3cret@exa mple.org/a.whl").is_err());
        assert_eq!(
            redact_text("ftp://user:s3cret@example.org/a.whl#sha256=zz"),
            "ftp://****@example.org/a.whl#sha256=zz"
        );
    }
}
