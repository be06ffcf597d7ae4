//! Requirement lines as errors quote them: credentials hidden (by
//! [`cairn_types::redact_text`], the one rule for free text), control characters escaped.

use cairn_types::redact_text;

/// A line as it is quoted in an error: credentials masked, control characters escaped.
pub(super) fn quote_line(text: &str) -> String {
    let redacted = redact_text(text);
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
    use super::quote_line;

    #[test]
    fn a_quoted_line_hides_credentials_and_escapes_control_characters() {
        assert_eq!(
            quote_line("-i https://__token__:s3cret@host/simple\tx"),
            "-i https://****@host/simple\\tx"
        );
    }
}
