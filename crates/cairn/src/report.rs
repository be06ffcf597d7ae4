//! Turning errors into a friendly report and an exit code.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Logs go to stderr; `CAIRN_LOG` (tracing's env-filter syntax) overrides the verbosity flags.
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
        .with_target(false)
        .without_time()
        .try_init();
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
