//! Writing results to stdout.

use std::io::Write;

/// Writes `text` followed by a newline to stdout, reporting a closed pipe as an error the
/// report layer recognises.
pub(crate) fn line(text: impl std::fmt::Display) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
}

/// Writes each of `lines` followed by a newline to stdout through one buffer: a table of
/// 100,000 rows is a few dozen `write` calls, not 100,000.
pub(crate) fn lines<T: std::fmt::Display>(
    lines: impl IntoIterator<Item = T>,
) -> std::io::Result<()> {
    let mut out = Buffered::stdout();
    for text in lines {
        out.write_fmt(format_args!("{text}\n"))?;
    }
    out.finish()
}

/// Locked stdout behind a large buffer, for output of many lines.
pub(crate) struct Buffered(std::io::BufWriter<std::io::StdoutLock<'static>>);

impl Buffered {
    /// Locks stdout for the buffer's lifetime.
    pub(crate) fn stdout() -> Self {
        Self(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout().lock(),
        ))
    }

    /// Formats into the buffer.
    pub(crate) fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
        self.0.write_fmt(args)
    }

    /// Writes `bytes` into the buffer.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes)
    }

    /// Writes out what is buffered.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
