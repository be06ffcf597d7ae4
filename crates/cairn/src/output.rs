//! Writing results to stdout.

use std::io::Write;

/// Writes `text` followed by a newline to stdout, reporting a closed pipe as an error the
/// report layer recognises.
pub(crate) fn line(text: impl std::fmt::Display) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
}
