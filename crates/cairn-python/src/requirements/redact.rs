//! Hiding credentials in requirement lines before they reach an error message or a log.

/// Replaces the user-info part of every `scheme://user:password@host` in `text` with `****`.
///
/// Requirement lines are quoted in errors, and index URLs often carry a token
/// (`--index-url https://__token__:SECRET@host/simple`).
pub(super) fn redact_credentials(text: &str) -> String {
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
                out.push_str("****");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_len..];
    }
    out.push_str(rest);
    out
}

/// A line as it is quoted in an error: credentials masked, control characters escaped.
pub(super) fn quote_line(text: &str) -> String {
    let redacted = redact_credentials(text);
    if !redacted.chars().any(char::is_control) {
        return redacted;
    }
    redacted
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::redact_credentials;

    #[test]
    fn user_info_is_masked_and_the_rest_kept() {
        assert_eq!(
            redact_credentials("-i https://__token__:s3cret@host/simple x @ http://u@h/a.whl"),
            "-i https://****@host/simple x @ http://****@h/a.whl"
        );
        assert_eq!(redact_credentials("a==1 ://"), "a==1 ://");
        assert_eq!(redact_credentials("https://host/p@q"), "https://host/p@q");
    }
}
