//! One module per command.

mod build;
mod cache;
mod environment;
mod fetch;
mod hash;
mod install;
mod list;
mod remote;
mod uninstall;

use std::process::ExitCode;

use cairn_cache::{Cache, CacheSettings};
use cairn_distribution::StoreSettings;

use crate::cli::{Cli, Command, GlobalArgs};

/// Runs the parsed command line.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Fetch(args) => fetch::run(&cli.global, args).await,
        Command::Hash(args) => hash::run(args),
        Command::Cache(args) => cache::run(&cli.global, args.command).await,
        Command::Install(args) => install::run(&cli.global, *args).await,
        Command::List(args) => list::run(&cli.global, args),
        Command::Uninstall(args) => uninstall::run(&cli.global, args),
    }
}

/// Opens the cache the global options choose.
pub(crate) fn open_cache(global: &GlobalArgs) -> anyhow::Result<Cache> {
    Ok(Cache::open(&cache_settings(global))?)
}

/// The lower caches `--cache-lower` names, opened for reading, except the cache `upper` itself
/// (opening it twice could wait on itself behind waiting maintenance). Each must exist.
pub(crate) fn open_lower_caches(global: &GlobalArgs, upper: &Cache) -> anyhow::Result<Vec<Cache>> {
    let upper_root = std::fs::canonicalize(upper.root()).ok();
    let mut lower = Vec::with_capacity(global.cache_lower.len());
    for dir in global
        .cache_lower
        .iter()
        .filter(|d| !d.as_os_str().is_empty())
    {
        if !dir.is_dir() {
            anyhow::bail!(
                "the lower cache `{}` (--cache-lower, CAIRN_CACHE_LOWER) is not a directory; name \
                 an existing cairn cache",
                dir.display()
            );
        }
        if std::fs::canonicalize(dir).ok() == upper_root {
            continue;
        }
        lower.push(Cache::open(&CacheSettings {
            dir: Some(dir.clone()),
            no_cache: false,
            ..cache_settings(global)
        })?);
    }
    Ok(lower)
}

pub(crate) use remote::open_remote;

/// The fetch settings the global options and the `CAIRN_HTTP_*` variables choose.
pub(crate) fn store_settings(global: &GlobalArgs) -> anyhow::Result<StoreSettings> {
    let mut settings = StoreSettings::from_env()?;
    settings.http.offline = global.offline;
    if let Some(unpacks) = global.concurrent_unpacks {
        settings.concurrent_unpacks = unpacks.get();
    }
    if let Some(downloads) = global.concurrent_downloads {
        settings.concurrent_downloads = downloads.get();
    }
    Ok(settings)
}

/// The cache settings the global options choose.
pub(crate) fn cache_settings(global: &GlobalArgs) -> CacheSettings {
    CacheSettings {
        dir: global.cache_dir.clone(),
        no_cache: global.no_cache,
        ..CacheSettings::default()
    }
}
