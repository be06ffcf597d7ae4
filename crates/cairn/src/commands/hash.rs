//! `cairn hash`: digests of files, printed like `sha256sum`.

use std::process::ExitCode;

use anyhow::Context;
use cairn_hash::{HashAlgorithm, digest_file};

use crate::cli::HashArgs;
use crate::output;

pub(crate) fn run(args: HashArgs) -> anyhow::Result<ExitCode> {
    let algorithms = args
        .algorithm
        .iter()
        .map(|name| name.parse::<HashAlgorithm>())
        .collect::<Result<Vec<_>, _>>()?;
    for file in &args.files {
        // Only what was asked is computed: BLAKE3 beside SHA-256 would halve its cores.
        let digests = digest_file(file, &algorithms)
            .with_context(|| format!("failed to hash `{}`", file.display()))?;
        for digest in &digests {
            let prefix = if digests.len() > 1 {
                format!("{}:", digest.algorithm())
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
    Ok(ExitCode::SUCCESS)
}
