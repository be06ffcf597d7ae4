//! `cairn fetch`: make wheels available unpacked in the cache.

use std::process::ExitCode;
use std::sync::Arc;

use cairn_distribution::{FetchedWheel, WheelSource, WheelStore};
use cairn_hash::{Digest, ExpectedHashes};
use serde::Serialize;

use crate::cli::{FetchArgs, GlobalArgs};
use crate::output;
use crate::progress::Bars;

/// One line of `--json` output.
#[derive(Debug, Serialize)]
struct Record<'a> {
    source: &'a str,
    filename: String,
    archive: String,
    digests: Vec<String>,
    bytes: u64,
    hit: bool,
    outcome: String,
}

pub(crate) async fn run(global: &GlobalArgs, args: FetchArgs) -> anyhow::Result<ExitCode> {
    let pinned = args
        .hashes
        .iter()
        .map(|text| text.parse::<Digest>())
        .collect::<Result<Vec<_>, _>>()?;
    let mut requests = Vec::with_capacity(args.sources.len());
    for input in &args.sources {
        requests.push(WheelSource::parse_pinned(input, &pinned)?);
    }
    let cache = super::open_cache(global)?;
    let lower = super::open_lower_caches(global, &cache)?;
    let store = WheelStore::new(cache, super::store_settings(global)?)
        .with_reporter(Arc::new(Bars::new(global.quiet)))
        .with_lower_caches(lower);
    let remote = super::open_remote(global)?;
    let store = match &remote {
        Some(remote) => store.with_remote_tier(Arc::new(remote.clone())),
        None => store,
    };
    let fetches = requests
        .iter()
        .map(|(source, expected): &(WheelSource, ExpectedHashes)| store.fetch(source, expected));
    let results = futures_util::future::join_all(fetches).await;
    let mut fetched = Vec::with_capacity(results.len());
    for result in results {
        fetched.push(result?);
    }
    super::remote::finish(remote.as_ref(), global.quiet).await;
    if args.json {
        let records: Vec<Record<'_>> = fetched.iter().map(record).collect();
        output::line(serde_json::to_string_pretty(&records)?)?;
    } else {
        for wheel in &fetched {
            output::line(wheel.archive.path().display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn record(wheel: &FetchedWheel) -> Record<'_> {
    Record {
        source: &wheel.source,
        filename: wheel.filename.to_string(),
        archive: wheel.archive.path().display().to_string(),
        digests: wheel.hashes.iter().map(ToString::to_string).collect(),
        bytes: wheel.size,
        hit: wheel.outcome.is_hit(),
        outcome: format!("{:?}", wheel.outcome),
    }
}
