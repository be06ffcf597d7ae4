//! `cairn install`: pinned wheels from an index, find-links directories, files or URLs, linked
//! from the cache into an environment, a target directory or a prefix.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};
use cairn_cache::{Cache, Refresh};
use cairn_distribution::{FetchedWheel, WheelStore};
use cairn_http::HttpClient;
use cairn_index::IndexClient;
use cairn_index::IndexError;
use cairn_index::locate::{LocateError, check_hash_mode, locate, prefetchable};
use cairn_install::{
    ArchiveHash, DirectUrl, InstallRequest, InstallSettings, Installer, Link, Linker,
};
use cairn_python::Version;
use cairn_python::metadata::{check_requires_python, read_dist_info_metadata};
use cairn_python::requirements::{Requirement, RequirementsFile, parse_requirement_arg};
use cairn_python::tags::{Interpreter, Tags};
use cairn_types::{WheelFilename, WheelSource};
use futures_util::future::{BoxFuture, FutureExt, Shared, TryFutureExt};
use url::Url;

use super::environment::{Destination, find_python};
use crate::cli::{GlobalArgs, InstallArgs};
use crate::progress::Bars;

pub(crate) async fn run(global: &GlobalArgs, args: InstallArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let cache = super::open_cache(global)?;
    let destination = Destination::new(args.target.as_deref(), args.prefix.as_deref());
    let python = find_python(
        args.python.as_deref(),
        args.system,
        !matches!(destination, Destination::Environment),
    )?;
    // On a cold cache the interpreter runs for tens of milliseconds: read the requirements and
    // start fetching the wheels that need no tags to find meanwhile. Its one run answers both
    // the marker environment of the requirements files and the target's tags.
    let interpreter: SharedInterpreter = {
        let cache = cache.clone();
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
        let explicit_version = explicit.is_some();
        async move {
            let interpreter = interpreter.await.map_err(shared_error)?;
            let (tags, python) = match explicit {
                Some((version, platform)) => {
                    let (major, minor) = parse_python_version(&version)?;
                    let python = Version::new([u64::from(major), u64::from(minor)]);
                    (Tags::for_target((major, minor), &platform)?, python)
                }
                None => (
                    Tags::from_interpreter(&interpreter),
                    interpreter_version(&interpreter),
                ),
            };
            Ok(Arc::new(Target {
                interpreter,
                tags,
                python,
                explicit_version,
            }))
        }
        .map_err(Arc::new)
        .boxed()
        .shared()
    };

    let settings = super::store_settings(global)?;
    // One client for index pages and downloads: the certificates load once, connections pool.
    let http = HttpClient::new(settings.http.clone())?;
    let store = WheelStore::new(cache.clone(), settings)
        .with_reporter(Arc::new(Bars::new(global.quiet)))
        .with_http_client(http.clone())
        .with_lower_caches(super::open_lower_caches(global, &cache)?);
    let remote = super::open_remote(global)?;
    let store = match &remote {
        Some(remote) => store.with_remote_tier(Arc::new(remote.clone())),
        None => store,
    };
    let builds =
        super::build::Builds::new(&args, http.clone(), global.verbose > 0, global.offline)?;
    let index = index_client(&args, file_index, &cache, http)?;

    // Find and fetch every wheel at once: index pages and downloads overlap.
    let fetches = requirements
        .iter()
        .map(|requirement| fetch(&store, &index, &builds, target.clone(), requirement));
    let mut wheels = Vec::with_capacity(requirements.len());
    for result in futures_util::future::join_all(fetches).await {
        wheels.push(result?);
    }
    let target_facts = target.await.map_err(shared_error)?;
    let (interpreter, python) = (
        target_facts.interpreter.clone(),
        target_facts.python.clone(),
    );
    destination.check_managed(&interpreter, args.break_system_packages)?;
    if args.compile_bytecode && target_facts.explicit_version {
        let (major, minor) = interpreter.version;
        let wanted = args.python_version.as_deref().unwrap_or_default();
        if wanted != format!("{major}.{minor}") {
            bail!(
                "--compile-bytecode compiles with {} (Python {major}.{minor}), whose bytecode \
                 Python {wanted} cannot load: pass --python with a Python {wanted} interpreter, \
                 or leave out --compile-bytecode",
                interpreter.path.display()
            );
        }
    }

    let link_mode = match &args.link_mode {
        Some(mode) => mode.parse().map_err(|error| anyhow::anyhow!("{error}"))?,
        None => Default::default(),
    };
    let settings = InstallSettings {
        link_mode,
        compile_bytecode: args.compile_bytecode,
        overwrite: args.overwrite,
        ..InstallSettings::new(interpreter.shebang_path().to_owned())
    };
    let scheme = destination.scheme(&interpreter);
    // Every requirement was named by the user (there are no dependencies to pull in), so each
    // is REQUESTED; those given by path or URL also record it in direct_url.json.
    let direct_urls = requirements
        .iter()
        .zip(&wheels)
        .map(|(requirement, (wheel, _))| direct_url(requirement, wheel, &builds))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        for (wheel, filename) in &wheels {
            check_python(wheel, filename, &python)?;
        }
        let linker: Arc<dyn Link> = Arc::new(Linker::new(settings.link_mode));
        let installer = Installer::with_scheme(&scheme, settings, linker)?;
        let manifests: Vec<_> = wheels
            .iter()
            .map(|(wheel, _)| cache.manifest_path(wheel.archive.digest()))
            .collect();
        let requests: Vec<InstallRequest<'_>> = wheels
            .iter()
            .zip(&manifests)
            .zip(&direct_urls)
            .map(
                |(((wheel, filename), manifest), direct_url)| InstallRequest {
                    archive: wheel.archive.path(),
                    filename,
                    manifest: Some(manifest),
                    direct_url: direct_url.as_ref(),
                    requested: true,
                },
            )
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
        if let Some(bytecode) = &report.bytecode {
            let skipped = if bytecode.failed == 0 {
                String::new()
            } else {
                format!(" ({} did not compile: skipped)", bytecode.failed)
            };
            report_line(format_args!(
                "Bytecode compiled {} file{}{skipped}",
                bytecode.compiled,
                if bytecode.compiled == 1 { "" } else { "s" },
            ));
        }
    }
    super::remote::finish(remote.as_ref(), global.quiet).await;
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stderr)]
fn report_line(text: std::fmt::Arguments<'_>) {
    eprintln!("{text}");
}

/// PEP 610's record of where a wheel named by a path or URL came from: its `file://` URL or
/// its URL without credentials, and its SHA-256 when the fetch knows it (a pin, a `#sha256=`
/// fragment, or an earlier fetch that checked one). `None` for a wheel found on an index or in
/// a find-links directory, as pip does. The wheel is not hashed for this: a warm install of a
/// local wheel does not read it.
fn direct_url(
    requirement: &Requirement,
    wheel: &FetchedWheel,
    builds: &super::build::Builds,
) -> anyhow::Result<Option<DirectUrl>> {
    let Some(url) = &requirement.url else {
        return Ok(None);
    };
    if let Some(git) = cairn_build::GitReference::parse(url) {
        let commit = builds.commit_of(url).unwrap_or_default();
        return Ok(Some(DirectUrl::git(git.url, commit, git.rev)));
    }
    if cairn_python::requirements::is_source_tree(url) {
        let path = match Url::parse(url) {
            Ok(parsed) if parsed.scheme() == "file" => parsed
                .to_file_path()
                .map_err(|()| anyhow::anyhow!("`{url}` is not a local path"))?,
            _ => std::path::absolute(url)?,
        };
        return Ok(Some(DirectUrl::directory(&path)?));
    }
    if super::build::is_sdist_reference(url) {
        // PEP 610 records the source distribution the wheel was built from.
        let direct = match Url::parse(url) {
            Ok(parsed) if parsed.scheme() != "file" => {
                let mut parsed = parsed;
                let _ = parsed.set_username("");
                let _ = parsed.set_password(None);
                // The digest goes in `archive_info`, not in the URL.
                parsed.set_fragment(None);
                DirectUrl::new(parsed.as_str())
            }
            Ok(parsed) => DirectUrl::for_file(
                &parsed
                    .to_file_path()
                    .map_err(|()| anyhow::anyhow!("`{url}` is not a local path"))?,
            )?,
            Err(_) => DirectUrl::for_file(&std::path::absolute(url)?)?,
        };
        let sha256 = requirement
            .hashes
            .iter()
            .find(|digest| digest.algorithm() == cairn_hash::HashAlgorithm::Sha256);
        return Ok(Some(match sha256 {
            Some(digest) => direct.with_archive_hash(ArchiveHash::new("sha256", &digest.to_hex())?),
            None => direct,
        }));
    }
    let (source, _) = WheelSource::parse(url)?;
    let direct = match source {
        WheelSource::Path(path) => DirectUrl::for_file(&path)?,
        WheelSource::Url(mut url) => {
            // PEP 610: no credentials in the file. Neither call fails on an http(s) URL.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            DirectUrl::new(url.as_str())
        }
    };
    let sha256 = wheel
        .hashes
        .iter()
        .find(|digest| digest.algorithm() == cairn_hash::HashAlgorithm::Sha256);
    Ok(Some(match sha256 {
        Some(digest) => direct.with_archive_hash(ArchiveHash::new("sha256", &digest.to_hex())?),
        None => direct,
    }))
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
    /// The Python version wheels' `Requires-Python` must admit: `--python-version`'s `X.Y`, else
    /// the interpreter's full version.
    python: Version,
    /// Whether `--python-version` chose the version instead of the interpreter.
    explicit_version: bool,
}

/// The interpreter's `python_full_version` (`3.12.4`); its `X.Y` should that not parse (a
/// development build's `3.14.0a1+`).
fn interpreter_version(interpreter: &Interpreter) -> Version {
    interpreter
        .markers
        .python_full_version
        .parse()
        .unwrap_or_else(|_| {
            let (major, minor) = interpreter.version;
            Version::new([u64::from(major), u64::from(minor)])
        })
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
    builds: &super::build::Builds,
    target: SharedTarget,
    requirement: &Requirement,
) -> anyhow::Result<(FetchedWheel, WheelFilename)> {
    // A git source or a local directory is built (a git commit once per interpreter).
    if let Some(reference) = requirement
        .url
        .as_deref()
        .filter(|url| cairn_python::requirements::is_source_tree(url))
    {
        let target = target.await.map_err(shared_error)?;
        return builds
            .build_source_tree(&build_inputs(store, index, &target), requirement, reference)
            .await
            .with_context(|| format!("failed to build `{requirement}`"));
    }
    // A source distribution named by URL or path is built (once per sdist and interpreter).
    if let Some(reference) = requirement
        .url
        .as_deref()
        .filter(|url| super::build::is_sdist_reference(url))
    {
        let target = target.await.map_err(shared_error)?;
        return builds
            .build_reference(&build_inputs(store, index, &target), requirement, reference)
            .await
            .with_context(|| format!("failed to build `{requirement}`"));
    }
    // `--no-binary`: built from the index's sdist, wheels or not.
    if let (None, Some(version)) = (&requirement.url, &requirement.version)
        && builds.source_only(&requirement.normalized)
    {
        let target = target.await.map_err(shared_error)?;
        return builds
            .build_from_index(&build_inputs(store, index, &target), requirement, version)
            .await
            .with_context(|| format!("failed to build `{requirement}` from source (--no-binary)"));
    }
    let early = prefetchable(index, requirement);
    let early_fetch = async {
        match &early {
            Some((source, expected)) => Some(store.fetch(source, expected).await),
            None => None,
        }
    };
    let (target, early_fetched) = futures_util::future::join(target, early_fetch).await;
    let target = target.map_err(shared_error)?;
    // A digest names immutable bytes: a pinned requirement whose archive the published-hash
    // index knows needs no index page, online or offline.
    if let (None, Some(version)) = (&requirement.url, &requirement.version) {
        let pinned = requirement.expected_hashes();
        let rank = |f: &WheelFilename| target.tags.priority(f);
        if let Some(wheel) = store.find_pinned(&requirement.normalized, version, &pinned, rank) {
            let filename = wheel.filename.clone();
            return Ok((wheel, filename));
        }
        // Nor does one that the remote tier holds.
        if let Some(wheel) = store
            .find_pinned_remote(&requirement.normalized, version, &pinned, rank)
            .await?
        {
            let filename = wheel.filename.clone();
            return Ok((wheel, filename));
        }
    }
    let located = match locate(index, &target.tags, requirement).await {
        Ok(located) => located,
        // Only source distributions of the version (or none of its wheels fits): build one.
        Err(LocateError::Index(
            IndexError::NoWheel { .. } | IndexError::NoCompatibleWheel { .. },
        )) if builds.allowed(&requirement.normalized) && requirement.version.is_some() => {
            let version = requirement.version.as_deref().unwrap_or_default();
            return builds
                .build_from_index(&build_inputs(store, index, &target), requirement, version)
                .await
                .with_context(|| format!("failed to build `{requirement}` from source"));
        }
        Err(error) => return Err(error.into()),
    };
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

/// What building from source for `target` reads from.
fn build_inputs<'a>(
    store: &'a WheelStore,
    index: &'a IndexClient,
    target: &'a Arc<Target>,
) -> super::build::BuildInputs<'a> {
    super::build::BuildInputs {
        store,
        index,
        interpreter: &target.interpreter,
    }
}

/// Refuses a fetched wheel whose `Requires-Python` (in the `METADATA` of its archive) excludes
/// the target's Python, before anything is installed. The index's `data-requires-python`
/// already chose among its files, but wheels given by path or URL, or found in find-links
/// directories, carry theirs only inside. Blocking: called on the install's thread.
fn check_python(
    wheel: &FetchedWheel,
    filename: &WheelFilename,
    python: &Version,
) -> anyhow::Result<()> {
    let metadata = read_dist_info_metadata(wheel.archive.path(), filename)
        .with_context(|| format!("cannot read the metadata of `{filename}`"))?;
    check_requires_python(&metadata, python).with_context(|| format!("cannot install `{filename}`"))
}
