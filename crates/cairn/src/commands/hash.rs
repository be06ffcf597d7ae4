//! `cairn hash`: digests of files, printed like `sha256sum`.

use std::process::ExitCode;

use anyhow::Context;
use cairn_distribution::hash::{HashAlgorithm, hash_file};

use crate::cli::HashArgs;
use crate::output;

pub(crate) fn run(args: HashArgs) -> anyhow::Result<ExitCode> {
    let algorithms = args
        .algorithm
        .iter()
        .map(|name| name.parse::<HashAlgorithm>())
        .collect::<Result<Vec<_>, _>>()?;
    for file in &args.files {
        let hashes = hash_file(file, &algorithms)
            .with_context(|| format!("failed to hash `{}`", file.display()))?;
        for algorithm in &algorithms {
            if let Some(digest) = hashes.get(*algorithm) {
                let prefix = if algorithms.len() > 1 {
                    format!("{algorithm}:")
                } else {
                    String::new()
                };
                output::line(format_args!(
                    "{prefix}{}  {}",
                    digest.to_hex(),
                    file.display()
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
