/// PEP 503 normalisation of a Python project name: lowercase, with every run of `-`, `_` and
/// `.` replaced by one `-`, so that `Typing_Extensions` and `typing.extensions` key alike.
///
/// ```
/// assert_eq!(cairn_cache_key::normalize_package_name("Typing__Extensions"), "typing-extensions");
/// ```
pub fn normalize_package_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}
