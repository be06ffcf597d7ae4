//! Project names: validated, then PEP 503 normalised, before they name a URL or a cache file.

use super::error::IndexError;
use cairn_types::PackageName;

/// The PEP 503 normalised form of `name`, after checking that it is a valid project name
/// (PEP 508: ASCII letters and digits, with `-`, `_` and `.` inside), so that it is safe in a
/// URL path and a file name.
pub(crate) fn normalized(name: &str) -> Result<PackageName, IndexError> {
    PackageName::validated(name).map_err(|_| IndexError::InvalidName {
        name: name.to_owned(),
    })
}
