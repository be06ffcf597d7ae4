//! Project names: validated, then PEP 503 normalised, before they name a URL or a cache file.

use super::error::IndexError;
use cairn_types::normalize_name;

/// The PEP 503 normalised form of `name`, after checking that it is a valid project name
/// (PEP 508: ASCII letters and digits, with `-`, `_` and `.` inside), so that it is safe in a
/// URL path and a file name.
pub(crate) fn normalized(name: &str) -> Result<String, IndexError> {
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if !valid {
        return Err(IndexError::InvalidName {
            name: name.to_owned(),
        });
    }
    Ok(normalize_name(name))
}
