//! `cairn install`: pinned wheels from an index, find-links directories, files or URLs, linked
//! into a target directory from the cache.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};
use cairn_cache::{Cache, Refresh};
use cairn_distribution::{FetchedWheel, WheelStore};
use cairn_http::HttpClient;
use cairn_index::IndexClient;
use cairn_index::locate::{check_hash_mode, locate, prefetchable};
use cairn_install::{InstallRequest, InstallSettings, Installer};
use cairn_python::requirements::{Requirement, RequirementsFile, parse_requirement_arg};
use cairn_python::tags::{Interpreter, Tags};
use cairn_types::WheelFilename;
use futures_util::future::{BoxFuture, FutureExt, Shared, TryFutureExt};
use url::Url;

use crate::cli::{GlobalArgs, InstallArgs};
use crate::progress::Bars;

pub(crate) async fn run(global: &GlobalArgs, args: InstallArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let cache = super::open_cache(global)?;
    // On a cold cache the interpreter runs for tens of milliseconds: read the requirements and
    // start fetching the wheels that need no tags to find meanwhile. Its one run answers both
    // the marker environment of the requirements files and the target's tags.
    let interpreter: SharedInterpreter = {
        let (python, cache) = (args.python.clone(), cache.clone());
        let query = tokio::task::spawn_blocking(move || Interpreter::query(&python, &cache));
        async move { anyhow::Ok(Arc::new(query.await??)) }
            .map_err(Arc::new)
            .boxed()
            .shared()
    };
    let (requirements, file_index) = collect_requirements(&args, interpreter.clone()).await?;
    if requirements.is_empty() {
        bail!(
            "nothing to install: every requirement's environment marker is false for this interpreter"
        );
    }
    let target = {
        let explicit = args.python_version.clone().zip(args.platform.clone());
        async move {
            let interpreter = interpreter.await.map_err(shared_error)?;
            let tags = match explicit {
                Some((version, platform)) => {
                    Tags::for_target(parse_python_version(&version)?, &platform)?
                }
                None => Tags::from_interpreter(&interpreter),
            };
            Ok(Arc::new(Target { interpreter, tags }))
        }
        .map_err(Arc::new)
        .boxed()
        .shared()
    };

    let settings = super::store_settings(global);
    // One client for index pages and downloads: the certificates load once, connections pool.
    let http = HttpClient::new(settings.http.clone())?;
    let store = WheelStore::new(cache.clone(), settings)
        .with_reporter(Arc::new(Bars::new(global.quiet)))
        .with_http_client(http.clone());
    let index = index_client(&args, file_index, &cache, http)?;

    // Find and fetch every wheel at once: index pages and downloads overlap.
    let fetches = requirements
        .iter()
        .map(|requirement| fetch(&store, &index, target.clone(), requirement));
    let mut wheels = Vec::with_capacity(requirements.len());
    for result in futures_util::future::join_all(fetches).await {
        wheels.push(result?);
    }
    let interpreter = target.await.map_err(shared_error)?.interpreter.clone();

    let link_mode = match &args.link_mode {
        Some(mode) => mode.parse().map_err(|error| anyhow::anyhow!("{error}"))?,
        None => Default::default(),
    };
    let settings = InstallSettings {
        link_mode,
        ..InstallSettings::new(interpreter.path.clone())
    };
    let target = std::path::absolute(&args.target)
        .with_context(|| format!("cannot resolve `{}`", args.target.display()))?;
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let installer = Installer::new(&target, settings)?;
        let manifests: Vec<_> = wheels
            .iter()
            .map(|(wheel, _)| cache.manifest_path(wheel.archive.digest()))
            .collect();
        let requests: Vec<InstallRequest<'_>> = wheels
            .iter()
            .zip(&manifests)
            .map(|((wheel, filename), manifest)| InstallRequest {
                archive: wheel.archive.path(),
                filename,
                manifest: Some(manifest),
            })
            .collect();
        Ok(installer.install(&requests)?)
    })
    .await??;

    if !global.quiet {
        let elapsed = started.elapsed();
        report_line(format_args!(
            "Installed {} package{} in {:.0?}",
            report.wheels.len(),
            if report.wheels.len() == 1 { "" } else { "s" },
            elapsed
        ));
        for wheel in &report.wheels {
            match &wheel.replaced {
                Some(old) if *old != wheel.version => report_line(format_args!(
                    " - {}=={old}\n + {}=={}",
                    wheel.name, wheel.name, wheel.version
                )),
                _ => report_line(format_args!(" + {}=={}", wheel.name, wheel.version)),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stderr)]
fn report_line(text: std::fmt::Arguments<'_>) {
    eprintln!("{text}");
}

fn parse_python_version(text: &str) -> anyhow::Result<(u8, u8)> {
    let parsed = text
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
    parsed.with_context(|| {
        format!("invalid --python-version `{text}`: expected MAJOR.MINOR, e.g. 3.12")
    })
}

/// Requirements from the command line and `-r` files, and an index URL a file may name. The
/// files' markers are judged for `interpreter` (the real one, even with `--python-version`).
async fn collect_requirements(
    args: &InstallArgs,
    interpreter: SharedInterpreter,
) -> anyhow::Result<(Vec<Requirement>, Option<String>)> {
    let mut requirements = Vec::new();
    for arg in &args.packages {
        requirements.push(parse_requirement_arg(arg)?);
    }
    let mut index_url = None;
    if !args.requirements.is_empty() {
        let env = interpreter
            .await
            .map_err(shared_error)?
            .marker_environment()?;
        for path in &args.requirements {
            let file = RequirementsFile::read(path, &env)?;
            file.check_hash_mode()?;
            index_url = index_url.or(file.index_url.clone());
            requirements.extend(file.requirements);
        }
    }
    // Hash-checking mode spans the whole command, files and arguments alike.
    check_hash_mode(&requirements)?;
    Ok((requirements, index_url))
}

fn index_client(
    args: &InstallArgs,
    file_index: Option<String>,
    cache: &Cache,
    http: HttpClient,
) -> anyhow::Result<IndexClient> {
    let index_url = args
        .index_url
        .clone()
        .or(file_index)
        .unwrap_or_else(|| IndexClient::DEFAULT_INDEX.to_owned());
    let index_url =
        Url::parse(&index_url).with_context(|| format!("invalid --index-url `{index_url}`"))?;
    let refresh = if args.refresh {
        Refresh::All(SystemTime::now())
    } else if !args.refresh_package.is_empty() {
        Refresh::Packages(args.refresh_package.clone(), SystemTime::now())
    } else {
        Refresh::none()
    };
    let find_links: Vec<PathBuf> = args.find_links.clone();
    Ok(IndexClient::new(http, cache.clone(), index_url)
        .with_find_links(find_links)
        .with_refresh(refresh))
}

/// The interpreter an install is for, and the tags of the wheels it can load.
struct Target {
    interpreter: Arc<Interpreter>,
    tags: Tags,
}

/// The interpreter's query, run once and awaited for markers and for tags.
type SharedInterpreter = Shared<BoxFuture<'static, Result<Arc<Interpreter>, Arc<anyhow::Error>>>>;

/// The target, learned once and awaited by every requirement.
type SharedTarget = Shared<BoxFuture<'static, Result<Arc<Target>, Arc<anyhow::Error>>>>;

/// An error every waiter on a shared future received.
fn shared_error(error: Arc<anyhow::Error>) -> anyhow::Error {
    anyhow::anyhow!("{error:#}")
}

/// Finds the wheel a requirement names and fetches it into the cache. A wheel that can be
/// found without the target's tags is fetched while they are still being learned.
async fn fetch(
    store: &WheelStore,
    index: &IndexClient,
    target: SharedTarget,
    requirement: &Requirement,
) -> anyhow::Result<(FetchedWheel, WheelFilename)> {
    let early = prefetchable(index, requirement);
    let early_fetch = async {
        match &early {
            Some((source, expected)) => Some(store.fetch(source, expected).await),
            None => None,
        }
    };
    let (target, early_fetched) = futures_util::future::join(target, early_fetch).await;
    let target = target.map_err(shared_error)?;
    let located = locate(index, &target.tags, requirement).await?;
    let fetched = match (early, early_fetched) {
        (Some((source, expected)), Some(fetched))
            if source == located.source && expected == located.expected =>
        {
            fetched
        }
        _ => store.fetch(&located.source, &located.expected).await,
    };
    let wheel = fetched
        .with_context(|| format!("failed to fetch `{}` for `{requirement}`", located.filename))?;
    Ok((wheel, located.filename))
}
