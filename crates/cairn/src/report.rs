//! Turning errors into a friendly report and an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Logs go to stderr, in colour only where [`stderr_colors`] says; `CAIRN_LOG` (tracing's
/// env-filter syntax) overrides the verbosity flags.
pub(crate) fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,cairn=debug",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_env("CAIRN_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(stderr_colors())
        .with_target(false)
        .without_time()
        .try_init();
}

/// Whether stderr output may use colours: only on a terminal, and not when `NO_COLOR` is set
/// to a non-empty value (<https://no-color.org>). A redirected stderr (a file, a pipe, a CI log)
/// gets plain text.
fn stderr_colors() -> bool {
    colors(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// [`stderr_colors`] for a stream that is a terminal or not, and a value of `NO_COLOR`.
fn colors(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Prints `error` with its chain of causes to stderr and returns the failure exit code.
#[allow(clippy::print_stderr)]
pub(crate) fn error(error: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(error) {
        // `cairn … | head` closing the pipe early is not a failure.
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    ExitCode::FAILURE
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colors;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colors(true, None));
        assert!(colors(true, Some(OsStr::new(""))));
        assert!(!colors(true, Some(OsStr::new("1"))));
        assert!(!colors(false, None));
        assert!(!colors(false, Some(OsStr::new(""))));
    }
}
