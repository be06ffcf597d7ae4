//! From file text to logical lines, the way pip reads requirements files.
//!
//! pip first joins physical lines that end in `\` (a whole-line comment ends the run, so the
//! `# via` block that pip-compile and uv write after the last `--hash` line is never glued to
//! the next requirement), then removes comments: a `#` at the start of the line or after
//! whitespace starts one, so the `#sha256=` fragment of a URL is kept. The byte-order mark and
//! CRLF endings of files written on Windows are dropped.

/// A requirement or option line with its continuations joined and its comment removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LogicalLine {
    /// The first physical line, from 1.
    pub(super) number: usize,
    /// The text, trimmed; never empty.
    pub(super) text: String,
}

/// A file whose last line ends with a `\` continuation, which nothing follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DanglingContinuation {
    /// The first physical line of the unfinished run, from 1.
    pub(super) number: usize,
    /// The run's text so far, trimmed.
    pub(super) text: String,
}

/// Splits `text` into the non-empty logical lines of a requirements file, in one pass.
///
/// A file that ends in the middle of a continuation is an error: pip takes what came before
/// the `\`, but a truncated file would then install a requirement without the hashes or the
/// marker that were meant to follow.
pub(super) fn logical_lines(text: &str) -> Result<Vec<LogicalLine>, DanglingContinuation> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = Vec::new();
    // The run being continued and the number of its first line.
    let mut pending: Option<(usize, String)> = None;
    // `str::lines` splits on `\n` and drops a `\r` before it.
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let whole_line_comment = line.trim_start().starts_with('#');
        match line.strip_suffix('\\') {
            Some(continued) if !whole_line_comment => {
                pending
                    .get_or_insert_with(|| (number, String::new()))
                    .1
                    .push_str(continued);
            }
            _ => {
                let (first, mut joined) = pending.take().unwrap_or((number, String::new()));
                joined.push_str(line);
                push_uncommented(&mut lines, first, &joined);
            }
        }
    }
    if let Some((number, joined)) = pending {
        return Err(DanglingContinuation {
            number,
            text: joined.trim().to_owned(),
        });
    }
    Ok(lines)
}

fn push_uncommented(lines: &mut Vec<LogicalLine>, number: usize, line: &str) {
    let text = strip_comment(line).trim();
    if !text.is_empty() {
        lines.push(LogicalLine {
            number,
            text: text.to_owned(),
        });
    }
}

/// Removes a comment: from a `#` at the start or after whitespace to the end of the line.
fn strip_comment(line: &str) -> &str {
    let mut previous_is_space = true;
    for (index, c) in line.char_indices() {
        if c == '#' && previous_is_space {
            return &line[..index];
        }
        previous_is_space = c.is_whitespace();
    }
    line
}

/// Replaces `${NAME}` with the environment variable `NAME` where it is set, as pip does, so
/// that credentials stay out of the file (`--extra-index-url https://${TOKEN}@host/simple`).
///
/// Like pip, only upper-case ASCII letters, digits and `_` make a name, and unset variables are
/// left as written.
pub(super) fn expand_env_vars(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains("${") {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        let value = (name_len > 0 && after[name_len..].starts_with('}'))
            .then(|| std::env::var(&after[..name_len]).ok())
            .flatten();
        match value {
            Some(value) => {
                out.push_str(&value);
                rest = &after[name_len + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<(usize, String)> {
        logical_lines(input)
            .unwrap()
            .into_iter()
            .map(|line| (line.number, line.text))
            .collect()
    }

    #[test]
    fn continuations_join_and_keep_the_first_line_number() {
        let input = "# header\n\na==1 \\\n    --hash=sha256:00 \\\n    --hash=sha256:11\n    # via b\nb==2\n";
        assert_eq!(
            texts(input),
            [
                (
                    3,
                    "a==1     --hash=sha256:00     --hash=sha256:11".to_owned()
                ),
                (7, "b==2".to_owned())
            ]
        );
    }

    #[test]
    fn a_whole_line_comment_ends_a_continuation() {
        assert_eq!(
            texts("a==1 \\\n# via x\nb==2"),
            [(1, "a==1".to_owned()), (3, "b==2".to_owned())]
        );
    }

    #[test]
    fn fragments_are_not_comments() {
        assert_eq!(
            texts("a @ https://h/a.whl#sha256=00 # comment"),
            [(1, "a @ https://h/a.whl#sha256=00".to_owned())]
        );
    }

    #[test]
    fn bom_and_crlf_are_dropped() {
        assert_eq!(
            texts("\u{feff}a==1 \\\r\n  --hash=sha256:00\r\n"),
            [(1, "a==1   --hash=sha256:00".to_owned())]
        );
    }

    #[test]
    fn a_trailing_backslash_at_the_end_of_the_file_is_an_error() {
        assert_eq!(
            logical_lines("b==2\na==1 \\\r\n  --hash=sha256:00 \\\r\n"),
            Err(DanglingContinuation {
                number: 2,
                text: "a==1   --hash=sha256:00".to_owned()
            })
        );
        assert_eq!(
            logical_lines("a==1 \\"),
            Err(DanglingContinuation {
                number: 1,
                text: "a==1".to_owned()
            })
        );
        // A blank line ends the run, as in pip.
        assert_eq!(logical_lines("a==1 \\\n\n").unwrap().len(), 1);
    }

    #[test]
    fn unset_and_malformed_variables_stay_as_written() {
        let line = "x ${CAIRN_SURELY_UNSET_VARIABLE_1} ${lower} ${ ${";
        assert_eq!(expand_env_vars(line), line);
    }
}
