//! The remote tier: opening it from the global options, and `cairn cache push`, `pull`,
//! `keygen`, `verify --remote-tier` and `prune --remote-tier`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_distribution::WheelStore;
use cairn_python::requirements::RequirementsFile;
use cairn_python::tags::{Interpreter, Tags};
use cairn_remote::{Remote, RemoteSettings, SigningKey, TrustedKeys};
use cairn_types::PackageName;

use crate::cli::{GlobalArgs, KeygenArgs, PruneArgs, PullArgs, PushArgs};
use crate::output;

/// The remote tier the global options and `CAIRN_REMOTE_*` variables configure, if any. None
/// offline: an offline command touches no network.
pub(crate) fn open_remote(global: &GlobalArgs) -> anyhow::Result<Option<Remote>> {
    let Some(url) = global.remote.as_deref().filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    if global.offline {
        return Ok(None);
    }
    let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let signing_key = variable("CAIRN_REMOTE_SIGNING_KEY")
        .map(|text| SigningKey::parse(&text))
        .transpose()
        .context("in CAIRN_REMOTE_SIGNING_KEY")?;
    let trusted = variable("CAIRN_REMOTE_TRUSTED_KEYS")
        .map(|text| TrustedKeys::parse(&text))
        .transpose()
        .context("in CAIRN_REMOTE_TRUSTED_KEYS")?
        .unwrap_or_default();
    let mut settings = RemoteSettings {
        signing_key,
        trusted,
        write: global.remote_write,
        ..RemoteSettings::default()
    };
    if let Some(text) = variable("CAIRN_REMOTE_TIMEOUT") {
        let seconds: f64 = text
            .parse()
            .ok()
            .filter(|seconds: &f64| seconds.is_finite() && *seconds > 0.0)
            .with_context(|| {
                format!("invalid CAIRN_REMOTE_TIMEOUT `{text}`: expected seconds, e.g. 5 or 0.5")
            })?;
        settings.timeout = Duration::from_secs_f64(seconds);
    }
    Ok(Some(Remote::open(url, settings)?))
}

fn require_remote(global: &GlobalArgs) -> anyhow::Result<Remote> {
    if global.offline {
        bail!("this command uses the remote tier, which --offline (CAIRN_OFFLINE) turns off");
    }
    open_remote(global)?.context(
        "no remote tier: name one with --remote s3://BUCKET[/PREFIX] or CAIRN_REMOTE (see docs/remote.md)",
    )
}

/// `cairn cache keygen NAME`: prints a new key pair as the two variables that use them.
pub(crate) fn keygen(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let key = SigningKey::generate(&args.name)?;
    output::lines([
        "# Secret: only for the machines that publish; keep it out of logs and repositories."
            .to_owned(),
        format!("CAIRN_REMOTE_SIGNING_KEY={}", key.to_secret_text()),
        "# Public: for every machine that reads (several keys: separate them with spaces)."
            .to_owned(),
        format!("CAIRN_REMOTE_TRUSTED_KEYS={}", key.public_key()),
    ])?;
    Ok(ExitCode::SUCCESS)
}

/// `cairn cache push [PACKAGE…]`.
pub(crate) async fn push(global: &GlobalArgs, args: PushArgs) -> anyhow::Result<ExitCode> {
    let remote = require_remote(global)?;
    let cache = super::open_cache(global)?;
    let wanted: Vec<String> = args
        .packages
        .iter()
        .map(|name| PackageName::new(name).to_string())
        .collect();
    let report = remote
        .push_cache(&cache, |name| {
            wanted.is_empty() || wanted.iter().any(|w| w == name)
        })
        .await?;
    if !global.quiet {
        output::line(format_args!(
            "Pushed {} wheel{} to {}: {} pack{} uploaded, {} record{} written, the rest already there",
            report.wheels,
            plural(report.wheels),
            remote.shown(),
            report.packs_uploaded,
            plural(report.packs_uploaded),
            report.records_written,
            plural(report.records_written),
        ))?;
    }
    if report.failed > 0 {
        bail!(
            "{} wheel{} could not be pushed (see the warnings above)",
            report.failed,
            plural(report.failed)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `cairn cache pull -r FILE…`: every pinned requirement's wheel the remote holds, chosen by the
/// interpreter's tags, into the cache. Requirements the cache holds already are skipped.
pub(crate) async fn pull(global: &GlobalArgs, args: PullArgs) -> anyhow::Result<ExitCode> {
    let remote = require_remote(global)?;
    let cache = super::open_cache(global)?;
    let python = super::environment::find_python(args.python.as_deref(), false, true)?;
    let interpreter = {
        let cache = cache.clone();
        tokio::task::spawn_blocking(move || Interpreter::query(&python, &cache)).await??
    };
    let tags = Tags::from_interpreter(&interpreter);
    let env = interpreter.marker_environment()?;
    let mut requirements = Vec::new();
    for path in &args.requirements {
        requirements.extend(RequirementsFile::read(path, &env)?.requirements);
    }
    let store = WheelStore::new(cache.clone(), super::store_settings(global)?)
        .with_lower_caches(super::open_lower_caches(global, &cache)?)
        .with_remote_tier(Arc::new(remote.clone()));
    /// What happened to one requirement.
    enum Pulled {
        Fetched,
        Cached,
        Missing,
        Unpinned,
    }
    let pulls = requirements.iter().map(|requirement| {
        let (store, tags) = (&store, &tags);
        async move {
            let expected = requirement.expected_hashes();
            let Some(version) = requirement
                .version
                .as_deref()
                .filter(|_| !expected.is_empty())
            else {
                return Ok(Pulled::Unpinned);
            };
            let rank = |f: &cairn_types::WheelFilename| tags.priority(f);
            if store
                .find_pinned(&requirement.normalized, version, &expected, rank)
                .is_some()
            {
                return Ok(Pulled::Cached);
            }
            let found = store
                .find_pinned_remote(&requirement.normalized, version, &expected, rank)
                .await?;
            anyhow::Ok(if found.is_some() {
                Pulled::Fetched
            } else {
                Pulled::Missing
            })
        }
    });
    let (mut pulled, mut cached, mut missing, mut unpinned) = (0_u64, 0_u64, 0_u64, 0_u64);
    for result in futures_util::future::join_all(pulls).await {
        match result? {
            Pulled::Fetched => pulled += 1,
            Pulled::Cached => cached += 1,
            Pulled::Missing => missing += 1,
            Pulled::Unpinned => unpinned += 1,
        }
    }
    if !global.quiet {
        output::line(format_args!(
            "Pulled {pulled} wheel{} from {}; {cached} already cached, {missing} not on the remote{}",
            plural(pulled),
            remote.shown(),
            if unpinned > 0 {
                format!(", {unpinned} not pinned by hash (skipped)")
            } else {
                String::new()
            }
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `cairn cache verify --remote-tier`.
pub(crate) async fn verify(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let remote = require_remote(global)?;
    let cache = super::open_cache(global)?;
    let report = remote.verify(&cache).await?;
    for (object, why) in &report.damaged {
        output::line(format_args!("damaged: {object}: {why}"))?;
    }
    for object in &report.dangling {
        output::line(format_args!("dangling: {object}: its pack is missing"))?;
    }
    if !global.quiet {
        output::line(format_args!(
            "Checked {} record{} and {} pack{} on {}: {} damaged, {} dangling",
            report.records,
            plural(report.records),
            report.packs,
            plural(report.packs),
            remote.shown(),
            report.damaged.len(),
            report.dangling.len(),
        ))?;
    }
    Ok(if report.damaged.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `cairn cache prune --remote-tier --max-age D`.
pub(crate) async fn prune(global: &GlobalArgs, args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let remote = require_remote(global)?;
    let max_age = args
        .max_age
        .context("--remote-tier prunes by age: give --max-age")?;
    let report = remote.prune(max_age).await?;
    if !global.quiet {
        output::line(format_args!(
            "Removed {} record{} and {} pack{} ({}) from {}",
            report.records,
            plural(report.records),
            report.packs,
            plural(report.packs),
            cairn_cache::maintenance::format_size(report.bytes),
            remote.shown(),
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Publishes what `store`'s remote still uploads, then says what it did, unless `quiet`.
pub(crate) async fn finish(remote: Option<&Remote>, quiet: bool) {
    let Some(remote) = remote else {
        return;
    };
    let stats = remote.finish().await;
    if !quiet && stats.packs_uploaded > 0 {
        report_line(format_args!(
            "Published {} wheel{} to {}",
            stats.packs_uploaded,
            plural(stats.packs_uploaded),
            remote.shown()
        ));
    }
}

#[allow(clippy::print_stderr)]
fn report_line(text: std::fmt::Arguments<'_>) {
    eprintln!("{text}");
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}
