//! `cairn cache`: dir, size, list, clean, prune, verify (the remote tier's subcommands are in
//! `remote.rs`).
//!
//! Reading subcommands hold the shared lock (they run beside fetches); removing ones hold the
//! exclusive lock, and say on stderr when they have to wait for it.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use cairn_cache::Cache;
use cairn_cache::maintenance::{
    self, CachedWheel, LockWait, Plan, PruneOptions, Usage, VerifyReport, format_size, write_size,
    write_timestamp,
};
use cairn_fs::LockMode;
use rayon::prelude::*;

use super::cache_settings;
use crate::cli::{
    CacheCommand, CleanArgs, GlobalArgs, ListArgs, LockArgs, PruneArgs, SizeArgs, VerifyArgs,
};
use crate::output;

/// Runs a `cairn cache` subcommand.
pub(crate) async fn run(global: &GlobalArgs, command: CacheCommand) -> anyhow::Result<ExitCode> {
    match command {
        CacheCommand::Dir => dir(global),
        CacheCommand::Size(args) => size(global, &args),
        CacheCommand::List(args) => list(global, &args),
        CacheCommand::Clean(args) => clean(global, &args),
        CacheCommand::Prune(args) if args.remote_tier => {
            return super::remote::prune(global, &args).await;
        }
        CacheCommand::Prune(args) => prune(global, &args),
        CacheCommand::Verify(args) if args.remote_tier => {
            return super::remote::verify(global).await;
        }
        CacheCommand::Verify(args) => verify(global, &args),
        CacheCommand::Push(args) => return super::remote::push(global, args).await,
        CacheCommand::Pull(args) => return super::remote::pull(global, args).await,
        CacheCommand::Keygen(args) => return super::remote::keygen(&args),
    }?;
    Ok(ExitCode::SUCCESS)
}

fn dir(global: &GlobalArgs) -> anyhow::Result<()> {
    let settings = cache_settings(global);
    if settings.no_cache {
        // The temporary cache this command would use; it is gone when the command ends.
        let cache = Cache::open(&settings)?;
        return Ok(output::line(cache.root().display())?);
    }
    Ok(output::line(settings.persistent_root()?.display())?)
}

fn size(global: &GlobalArgs, args: &SizeArgs) -> anyhow::Result<()> {
    let cache = open(global, LockMode::Shared, &args.lock)?;
    let archives = if args.exact {
        maintenance::ArchiveSizes::Walked
    } else {
        maintenance::ArchiveSizes::Recorded
    };
    let usage = maintenance::cache_size(&cache, archives)?;
    if args.human || std::io::stdout().is_terminal() {
        output::line(format_size(usage.bytes))?;
    } else {
        output::line(usage.bytes)?;
    }
    Ok(())
}

fn list(global: &GlobalArgs, args: &ListArgs) -> anyhow::Result<()> {
    let cache = open(global, LockMode::Shared, &args.lock)?;
    let mut wheels = maintenance::list(&cache, &args.packages)?;
    // The lower caches (`--cache-lower`) follow, each under its own heading in a table; in JSON
    // their rows are in the one array, told apart by their pointers' paths.
    let lower = super::open_lower_caches(global, &cache)?;
    let mut lower_rows = Vec::with_capacity(lower.len());
    for lower in &lower {
        lower_rows.push((lower.root(), maintenance::list(lower, &args.packages)?));
    }
    if args.json {
        for (_, rows) in &mut lower_rows {
            wheels.append(rows);
        }
        output::line(serde_json::to_string_pretty(&wheels)?)?;
    } else {
        print_table(&wheels)?;
        for (root, rows) in &lower_rows {
            output::line(format_args!(
                "\nLower cache {} (read-only):",
                root.display()
            ))?;
            print_table(rows)?;
        }
    }
    // The process ends now: freeing 100,000 rows, string by string, would only delay it.
    std::mem::forget(wheels);
    std::mem::forget(lower_rows);
    Ok(())
}

/// Prints one row per wheel, columns padded to their widest cell. A cache can list 100,000
/// rows: they are formatted in parallel, in chunks, with no allocation per row, and written
/// through one buffer.
fn print_table(wheels: &[CachedWheel]) -> anyhow::Result<()> {
    const HEADER: [&str; 6] = [
        "NAME",
        "VERSION",
        "SIZE",
        "LAST USED (UTC)",
        "ARCHIVE",
        "SOURCE",
    ];
    const ROWS_PER_CHUNK: usize = 4096;
    /// The cells of `wheel`, with the computed ones formatted into `scratch`.
    fn cells<'a>(wheel: &'a CachedWheel, scratch: &'a mut (String, String)) -> [&'a str; 6] {
        let (size, used) = scratch;
        size.clear();
        used.clear();
        // Writing into a `String` cannot fail.
        let _ = match wheel.archive_bytes {
            Some(bytes) => write_size(size, bytes),
            None => size.write_str("-"),
        };
        let _ = write_timestamp(used, wheel.last_used);
        [
            wheel.name.as_str(),
            wheel.version.as_str(),
            size.as_str(),
            used.as_str(),
            wheel.archive.get(..12).unwrap_or(&wheel.archive),
            wheel.source.as_str(),
        ]
    }
    let widths = wheels
        .par_iter()
        .map_init(Default::default, |scratch, wheel| {
            cells(wheel, scratch).map(|cell| cell.chars().count())
        })
        .reduce(
            || HEADER.map(str::len),
            |a, b| std::array::from_fn(|column| a[column].max(b[column])),
        );
    let write_row = |out: &mut Vec<u8>, row: [&str; 6]| {
        let (last, padded) = row.split_last().unwrap_or((&"", &[]));
        for (cell, width) in padded.iter().zip(widths) {
            // Writing into a `Vec` cannot fail.
            let _ = write!(out, "{cell:<width$}  ");
        }
        let _ = writeln!(out, "{last}");
    };
    let mut header = Vec::new();
    write_row(&mut header, HEADER);
    let chunks: Vec<Vec<u8>> = wheels
        .par_chunks(ROWS_PER_CHUNK)
        .map(|wheels| {
            let mut out = Vec::with_capacity(wheels.len() * 160);
            let mut scratch = Default::default();
            for wheel in wheels {
                write_row(&mut out, cells(wheel, &mut scratch));
            }
            out
        })
        .collect();
    let mut out = output::Buffered::stdout();
    out.write_all(&header)?;
    for chunk in chunks {
        out.write_all(&chunk)?;
    }
    Ok(out.finish()?)
}

fn clean(global: &GlobalArgs, args: &CleanArgs) -> anyhow::Result<()> {
    let cache = open(global, LockMode::Exclusive, &args.lock)?;
    let plan = maintenance::plan_clean(&cache, &args.packages)?;
    let removed = maintenance::remove(&cache, &plan)?;
    print_summary("Removed", removed)
}

fn prune(global: &GlobalArgs, args: &PruneArgs) -> anyhow::Result<()> {
    // A dry run removes nothing, so it reads beside running fetches.
    let mode = if args.dry_run {
        LockMode::Shared
    } else {
        LockMode::Exclusive
    };
    let cache = open(global, mode, &args.lock)?;
    let options = PruneOptions {
        ci: args.ci,
        max_age: args.max_age,
        max_size: args.max_size,
        ..PruneOptions::default()
    };
    let plan = maintenance::plan_prune(&cache, &options)?;
    if args.dry_run {
        print_plan(cache.root(), &plan)?;
        return print_summary("Would remove", plan.usage());
    }
    for removal in plan.removals() {
        tracing::info!(path = %removal.path.display(), reason = %removal.reason, "removing");
    }
    let removed = maintenance::remove(&cache, &plan)?;
    print_summary("Removed", removed)
}

fn verify(global: &GlobalArgs, args: &VerifyArgs) -> anyhow::Result<()> {
    let mode = if args.repair {
        LockMode::Exclusive
    } else {
        LockMode::Shared
    };
    let cache = open(global, mode, &args.lock)?;
    // Lower caches (`--cache-lower`) are checked too, and reported, never repaired: cairn does
    // not write to them.
    let mut lower_damaged = 0;
    for lower in super::open_lower_caches(global, &cache)? {
        let report = maintenance::verify(&lower)?;
        for problem in &report.problems {
            output::line(format!(
                "{:<13}{}: {}",
                problem.kind.label(),
                problem.path.display(),
                problem.detail
            ))?;
        }
        output::line(format!(
            "Lower cache {} (read-only): {}",
            lower.root().display(),
            verify_summary(&report)
        ))?;
        lower_damaged += report
            .problems
            .iter()
            .filter(|problem| problem.kind.is_damage())
            .count();
    }
    let report = maintenance::verify(&cache)?;
    for problem in &report.problems {
        output::line(format!(
            "{:<13}{}: {}",
            problem.kind.label(),
            relative(cache.root(), &problem.path),
            problem.detail
        ))?;
    }
    output::line(verify_summary(&report))?;
    if report.is_healthy() {
        if lower_damaged > 0 {
            bail!(
                "a lower cache is damaged ({lower_damaged} {} above); repair it with `cairn cache \
                 verify --repair` where it is writable (cairn never writes to a lower cache)",
                plural(lower_damaged, "problem", "problems")
            );
        }
        return Ok(());
    }
    let damaged = report
        .problems
        .iter()
        .filter(|problem| problem.kind.is_damage())
        .count();
    if !args.repair {
        bail!(
            "the cache is damaged ({damaged} {} above); `cairn cache verify --repair` removes \
             the damaged entries so that the next fetch recreates them",
            plural(damaged, "problem", "problems")
        );
    }
    let removed = maintenance::remove(&cache, &report.repair)?;
    output::line(format!(
        "Repaired: removed {} {}, {}",
        removed.files,
        plural_u64(removed.files, "file", "files"),
        format_size(removed.bytes)
    ))?;
    Ok(())
}

fn verify_summary(report: &VerifyReport) -> String {
    use maintenance::ProblemKind::{Corrupt, Missing, Orphaned, Unverifiable};
    format!(
        "Checked {} {} ({} {}), {} {}, {} index {}: {} corrupt, {} missing, {} orphaned, \
         {} unverifiable",
        report.archives,
        plural_u64(report.archives, "archive", "archives"),
        report.files,
        plural_u64(report.files, "file", "files"),
        report.pointers,
        plural_u64(report.pointers, "pointer", "pointers"),
        report.index_entries,
        plural_u64(report.index_entries, "entry", "entries"),
        report.count(Corrupt),
        report.count(Missing),
        report.count(Orphaned),
        report.count(Unverifiable),
    )
}

/// Prints each planned removal: reason, size, path relative to the root.
fn print_plan(root: &Path, plan: &Plan) -> anyhow::Result<()> {
    Ok(output::lines(plan.removals().iter().map(|removal| {
        format!(
            "{:<22}{:>10}  {}",
            removal.reason.label(),
            format_size(removal.usage.bytes),
            relative(root, &removal.path)
        )
    }))?)
}

fn print_summary(verb: &str, usage: Usage) -> anyhow::Result<()> {
    Ok(output::line(format!(
        "{verb} {} {}, {}",
        usage.files,
        plural_u64(usage.files, "file", "files"),
        format_size(usage.bytes)
    ))?)
}

/// Opens the cache with the root lock in `mode`, telling the user on stderr when another
/// process is in the way.
fn open(global: &GlobalArgs, mode: LockMode, lock: &LockArgs) -> anyhow::Result<Cache> {
    let wait = if lock.no_wait {
        LockWait::NoWait
    } else {
        LockWait::Timeout(Duration::from_secs(lock.lock_timeout))
    };
    let quiet = global.quiet;
    let timeout = lock.lock_timeout;
    let cache = maintenance::open_cache(&cache_settings(global), mode, wait, |root| {
        if !quiet {
            announce_wait(root, mode, timeout);
        }
    })?;
    Ok(cache)
}

#[allow(clippy::print_stderr)]
fn announce_wait(root: &Path, mode: LockMode, timeout: u64) {
    let who = match mode {
        LockMode::Exclusive => "other cairn processes to finish",
        LockMode::Shared => "cairn cache maintenance to finish",
    };
    eprintln!(
        "waiting for {who} with the cache `{}` (at most {timeout} s; --lock-timeout to change, \
         --no-wait to fail instead)…",
        root.display()
    );
}

/// `path` relative to the cache root, for shorter lines.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

fn plural_u64<'a>(count: u64, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}
