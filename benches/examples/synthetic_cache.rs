//! Prints the path of the synthetic 100,000-entry cache of the maintenance benchmarks, building
//! it first if this target directory does not hold it yet, so the real CLI can be timed on it:
//!
//! ```sh
//! BIG=$(cargo run --release -p cairn-benches --example synthetic_cache)
//! /usr/bin/time cairn --cache-dir "$BIG" cache size
//! ```
//!
//! `--scale N` builds a cache N times smaller (e.g. for a quick look). Only use the cache with
//! commands that change nothing (`size`, `list`, `verify`, `prune --dry-run`): later benchmark
//! runs reuse it as it is.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Instant;

use cairn_benches::{CacheShape, synthetic_cache};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut shape = CacheShape::ENTRIES_100K;
    while let Some(arg) = args.next() {
        match (
            arg.as_str(),
            args.next().map(|value| value.parse::<usize>()),
        ) {
            ("--scale", Some(Ok(divisor))) if divisor > 0 => {
                shape = shape.scaled_down(divisor);
            }
            _ => {
                eprintln!("usage: synthetic_cache [--scale N]");
                return ExitCode::from(2);
            }
        }
    }
    let started = Instant::now();
    match synthetic_cache(&shape) {
        Ok(root) => {
            eprintln!(
                "synthetic cache of {} entries ready in {:.1} s",
                shape.pointers,
                started.elapsed().as_secs_f64()
            );
            println!("{}", root.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot build the synthetic cache: {error}");
            ExitCode::FAILURE
        }
    }
}
