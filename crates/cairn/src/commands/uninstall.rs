//! `cairn uninstall`: removes projects from an environment, a target or a prefix, as one
//! transaction.

use std::process::ExitCode;
use std::time::Instant;

use cairn_types::PackageName;

use crate::cli::{GlobalArgs, UninstallArgs};

pub(crate) fn run(global: &GlobalArgs, args: UninstallArgs) -> anyhow::Result<ExitCode> {
    let installed = super::list::installed_at(global, &args.location)?;
    let names: Vec<PackageName> = args
        .packages
        .iter()
        .map(|name| PackageName::new(name))
        .collect();
    let started = Instant::now();
    let report = installed.uninstall(&names)?;
    for path in &report.kept_shared {
        tracing::info!(path, "kept: another installed project lists it too");
    }
    if !global.quiet {
        let count = report.uninstalled.len();
        report_line(format_args!(
            "Uninstalled {count} package{} in {:.0?}",
            if count == 1 { "" } else { "s" },
            started.elapsed()
        ));
        for dist in &report.uninstalled {
            report_line(format_args!(" - {}=={}", dist.name, dist.version));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stderr)]
fn report_line(text: std::fmt::Arguments<'_>) {
    eprintln!("{text}");
}
