//! `RECORD`: the CSV list of an installed project's files, their hashes and sizes.
//!
//! Rows are `path,algorithm=urlsafe-base64-nopad-digest,size`, quoted the way Python's `csv`
//! module quotes (a field holding `,`, `"` or a line break is wrapped in `"`, inner `"` doubled).
//! `RECORD` lists itself with empty hash and size. Lines may end in `\n` or `\r\n` (pip writes
//! the latter); cairn writes `\n`, as wheel builders do.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// One row of a `RECORD` file, as written: the path is not yet checked. Fields borrow from the
/// text unless quoting forced a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordRow<'a> {
    /// The path relative to the root the `RECORD` describes.
    pub(crate) path: Cow<'a, str>,
    /// `sha256=…`, or empty.
    pub(crate) hash: Cow<'a, str>,
    /// The size in bytes as text, or empty.
    pub(crate) size: Cow<'a, str>,
}

/// A row that is not `path[,hash[,size]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordSyntaxError {
    /// 1-based line where the row starts.
    pub(crate) line: usize,
    pub(crate) problem: &'static str,
}

/// Parses a whole `RECORD`. Blank lines are skipped.
pub(crate) fn parse(text: &str) -> Result<Vec<RecordRow<'_>>, RecordSyntaxError> {
    // Rows of real wheels are 60–150 bytes long.
    let mut rows = Vec::with_capacity(text.len() / 64);
    let mut rest = text;
    let mut line = 1;
    while !rest.is_empty() {
        let start_line = line;
        let line_end = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
        let first_line = &rest[..line_end];
        // Almost every row is unquoted: its fields are borrowed, with no allocation.
        let row = if memchr::memchr(b'"', first_line.as_bytes()).is_none() {
            rest = &rest[(line_end + 1).min(rest.len())..];
            line += 1;
            let first_line = first_line.strip_suffix('\r').unwrap_or(first_line);
            if first_line.is_empty() {
                continue;
            }
            row_of(first_line.splitn(4, ',').map(Cow::Borrowed))
        } else {
            let quoted = parse_quoted_row(rest).map_err(|problem| RecordSyntaxError {
                line: start_line,
                problem,
            })?;
            rest = &rest[quoted.consumed..];
            line += quoted.lines;
            if let [only] = quoted.fields.as_slice()
                && only.is_empty()
            {
                continue;
            }
            row_of(quoted.fields.into_iter().map(Cow::Owned))
        };
        rows.push(row.map_err(|problem| RecordSyntaxError {
            line: start_line,
            problem,
        })?);
    }
    Ok(rows)
}

/// The row made of `fields`: a path, then an optional hash and size.
fn row_of<'a>(
    mut fields: impl Iterator<Item = Cow<'a, str>>,
) -> Result<RecordRow<'a>, &'static str> {
    let path = fields.next().unwrap_or_default();
    let hash = fields.next().unwrap_or_default();
    let size = fields.next().unwrap_or_default();
    if fields.next().is_some() {
        return Err("it has more than three fields");
    }
    if path.is_empty() {
        return Err("its path is empty");
    }
    Ok(RecordRow { path, hash, size })
}

/// A row with quoted fields, read from the start of the text.
struct QuotedRow {
    fields: Vec<String>,
    /// Bytes consumed, the line end included.
    consumed: usize,
    /// Line ends consumed (a quoted field may hold some).
    lines: usize,
}

/// One CSV row with at least one `"` from the start of `text`, unquoting its fields.
fn parse_quoted_row(text: &str) -> Result<QuotedRow, &'static str> {
    let bytes = text.as_bytes();
    let mut fields = Vec::with_capacity(3);
    let mut field = String::new();
    let mut position = 0;
    let mut lines = 0;
    loop {
        if bytes.get(position) == Some(&b'"') {
            position += 1;
            loop {
                let Some(offset) = text[position..].find('"') else {
                    return Err("a quoted field is never closed");
                };
                let chunk = &text[position..position + offset];
                lines += chunk.matches('\n').count();
                field.push_str(chunk);
                position += offset + 1;
                if bytes.get(position) == Some(&b'"') {
                    field.push('"');
                    position += 1;
                } else {
                    break;
                }
            }
        } else {
            let end = text[position..]
                .find([',', '\n', '"'])
                .map_or(text.len(), |offset| position + offset);
            if bytes.get(end) == Some(&b'"') {
                return Err("a quote appears inside an unquoted field");
            }
            field.push_str(&text[position..end]);
            position = end;
        }
        let consumed = match bytes.get(position) {
            Some(b',') => {
                fields.push(std::mem::take(&mut field));
                position += 1;
                continue;
            }
            Some(b'\n') => position + 1,
            Some(b'\r') if bytes.get(position + 1) == Some(&b'\n') => position + 2,
            None => position,
            Some(_) => return Err("a quoted field is followed by text"),
        };
        fields.push(field);
        return Ok(QuotedRow {
            fields,
            consumed,
            lines: lines + 1,
        });
    }
}

/// Appends one row to `out`, quoting fields that need it.
pub(crate) fn write_row(out: &mut String, path: &str, hash: &str, size: &str) {
    write_field(out, path);
    out.push(',');
    write_field(out, hash);
    out.push(',');
    write_field(out, size);
    out.push('\n');
}

fn write_field(out: &mut String, field: &str) {
    if field
        .bytes()
        .any(|byte| matches!(byte, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// The `RECORD` hash field of `bytes`: `sha256=` and the digest in urlsafe base64 without
/// padding.
pub(crate) fn sha256_field(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut field = String::with_capacity(7 + 43);
    field.push_str("sha256=");
    encode_base64url(&digest, &mut field);
    field
}

/// RFC 4648 §5 base64url without padding.
fn encode_base64url(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (i, &byte)| {
            word | u32::from(byte) << (16 - 8 * i)
        });
        // n bytes carry 8n bits: 2, 3 or 4 sextets.
        for sextet in 0..=chunk.len() {
            let index = (word >> (18 - 6 * sextet)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row<'a>(path: &'a str, hash: &'a str, size: &'a str) -> RecordRow<'a> {
        RecordRow {
            path: path.into(),
            hash: hash.into(),
            size: size.into(),
        }
    }

    #[test]
    fn parses_plain_quoted_and_crlf_rows() {
        let text = "a/b.py,sha256=abc,12\r\n\"we,ird\"\"name\",,\nx/RECORD,,\n\nlast";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                row("a/b.py", "sha256=abc", "12"),
                row("we,ird\"name", "", ""),
                row("x/RECORD", "", ""),
                row("last", "", ""),
            ]
        );
    }

    #[test]
    fn quoted_line_breaks_count_lines() {
        let text = "\"a\nb\",,\nbad\"x,,\n";
        let error = parse(text).unwrap_err();
        assert_eq!(error.line, 3);
    }

    #[test]
    fn malformed_rows_are_refused() {
        assert!(parse("a,b,c,d\n").is_err());
        assert!(parse("\"open,,\n").is_err());
        assert!(parse("\"a\"b,,\n").is_err());
        assert!(parse(",sha256=x,1\n").is_err());
    }

    #[test]
    fn written_rows_parse_back() {
        let mut out = String::new();
        write_row(&mut out, "p,q\"r", "sha256=x", "3");
        write_row(&mut out, "plain", "", "");
        assert_eq!(out, "\"p,q\"\"r\",sha256=x,3\nplain,,\n");
        assert_eq!(
            parse(&out).unwrap(),
            vec![row("p,q\"r", "sha256=x", "3"), row("plain", "", "")]
        );
    }

    #[test]
    fn hash_field_matches_python() {
        // python3 -c "import hashlib,base64;print(base64.urlsafe_b64encode(
        //     hashlib.sha256(b'cairn\n').digest()).rstrip(b'=').decode())"
        assert_eq!(
            sha256_field(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        let mut out = String::new();
        encode_base64url(b"\xfb\xff", &mut out);
        assert_eq!(out, "-_8");
        out.clear();
        encode_base64url(b"f", &mut out);
        assert_eq!(out, "Zg");
        out.clear();
        encode_base64url(b"foob", &mut out);
        assert_eq!(out, "Zm9vYg");
    }
}
