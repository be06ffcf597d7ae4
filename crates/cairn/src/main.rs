//! `cairn`: install pinned, hashed Python wheels fast through a content-addressed cache.
//!
//! The binary is thin glue: it parses arguments, opens the cache, calls the libraries and turns
//! their errors into a report and an exit code.

mod alloc;
mod cli;
mod commands;
mod output;
mod progress;
mod report;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    alloc::tune();
    let cli = cli::Cli::parse();
    report::init_tracing(cli.global.verbose, cli.global.quiet);
    // One thread runs every future: the commands already join their fetches on this thread and
    // send inflating, hashing of files and linking to blocking threads, so extra runtime workers
    // would only run the HTTP connections, handing each body chunk across threads (half of a
    // streamed fetch's context switches; numpy over loopback 0.15 s -> 0.13 s).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return report::error(
                &anyhow::Error::new(error).context("failed to start the async runtime"),
            );
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(error) => report::error(&error),
    }
}
