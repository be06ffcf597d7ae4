//! What a resolver does with the cairn crates, end to end: resolve requirements against a
//! Simple API index, pick each wheel by the interpreter's tags, fetch it into the cache and
//! install the whole set into a target directory in one transaction.
//!
//! ```text
//! cairn-resolve-example --index-url URL --target DIR [--python PY] [--cache-dir DIR] REQ...
//! ```
//!
//! `REQ` is a PEP 508 requirement (`app==1.0`, `lib>=2`). The resolution is deliberately simple:
//! each project takes the newest version that satisfies every specifier seen so far and has a
//! compatible, non-yanked wheel whose Requires-Python admits the interpreter; its dependencies
//! come from the index's PEP 658 metadata when offered, else from the METADATA of the wheel
//! fetched into the cache. A later specifier that the chosen version does not satisfy is an
//! error (there is no backtracking).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use cairn_cache::{Cache, CacheSettings};
use cairn_distribution::{FetchedWheel, StoreSettings, WheelStore};
use cairn_hash::ExpectedHashes;
use cairn_http::{ClientSettings, HttpClient};
use cairn_index::{FoundWheel, IndexClient, IndexFile};
use cairn_install::{InstallRequest, InstallSettings, Installer};
use cairn_python::metadata::{CoreMetadata, check_requires_python, read_dist_info_metadata};
use cairn_python::pep508_rs::{Requirement, VersionOrUrl};
use cairn_python::tags::{Interpreter, Tags};
use cairn_python::{Version, VersionSpecifiers};
use cairn_types::{PackageName, WheelSource};
use url::Url;

/// The command line.
struct Args {
    index_url: Url,
    target: PathBuf,
    python: PathBuf,
    cache_dir: Option<PathBuf>,
    requirements: Vec<Requirement>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut index_url = None;
    let mut target = None;
    let mut python = PathBuf::from("python3");
    let mut cache_dir = None;
    let mut requirements = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--index-url" => index_url = Some(Url::parse(&value("--index-url")?)?),
            "--target" => target = Some(PathBuf::from(value("--target")?)),
            "--python" => python = PathBuf::from(value("--python")?),
            "--cache-dir" => cache_dir = Some(PathBuf::from(value("--cache-dir")?)),
            _ => requirements.push(
                arg.parse()
                    .with_context(|| format!("invalid requirement `{arg}`"))?,
            ),
        }
    }
    Ok(Args {
        index_url: index_url.context("--index-url is required")?,
        target: target.context("--target is required")?,
        python,
        cache_dir,
        requirements,
    })
}

/// A project's chosen version, and the wheel and index entry it comes from.
struct Pick {
    version: Version,
    file: IndexFile,
    found: FoundWheel,
    /// The specifiers that led here, for the error when a later one disagrees.
    wanted_by: Vec<String>,
    /// Named on the command line (a root), not only pulled in as a dependency: the install
    /// marks it `REQUESTED`.
    requested: bool,
}

/// The parent of a root requirement in messages.
const COMMAND_LINE: &str = "the command line";

/// The resolver's view of everything: the interpreter, the index and the cache.
struct Resolver {
    interpreter: Interpreter,
    tags: Tags,
    index: IndexClient,
    store: WheelStore,
}

impl Resolver {
    /// The newest version of `name` that satisfies `specifiers` and has a wheel for this
    /// interpreter.
    async fn pick(
        &self,
        name: &PackageName,
        specifiers: &VersionSpecifiers,
    ) -> anyhow::Result<Pick> {
        let files = self.index.files(name.as_str()).await?;
        let python: Version = self.interpreter.markers.python_full_version.parse()?;
        let candidate = files
            .iter()
            .filter(|file| file.yanked.is_none())
            .filter(|file| {
                file.wheel()
                    .is_some_and(|wheel| self.tags.is_compatible(wheel))
            })
            .filter(|file| {
                file.requires_python.as_deref().is_none_or(|text| {
                    text.parse::<VersionSpecifiers>()
                        .is_ok_and(|range| range.contains(&python))
                })
            })
            .filter_map(|file| Some((file.version.clone()?, file)))
            .filter(|(version, _)| specifiers.contains(version))
            .max_by(|(a, _), (b, _)| a.cmp(b));
        let Some((version, _)) = candidate else {
            bail!(
                "no version of `{name}` satisfies `{specifiers}` with a wheel for this interpreter"
            );
        };
        // The index client picks the best wheel of that version by tag priority.
        let found = self
            .index
            .find_wheel(name.as_str(), &version.to_string(), &self.tags)
            .await?;
        let file = files
            .iter()
            .find(|file| file.wheel() == Some(found.filename()))
            .cloned()
            .context("the chosen wheel is not on the project's page")?;
        Ok(Pick {
            version,
            file,
            found,
            wanted_by: Vec::new(),
            requested: false,
        })
    }

    /// The wheel's metadata: from the index when it publishes it (no download), else from the
    /// wheel, fetched into the cache (the install then reuses the fetch).
    async fn metadata(&self, pick: &Pick) -> anyhow::Result<CoreMetadata> {
        let metadata = if pick.file.core_metadata.is_some() {
            self.index.fetch_metadata(&pick.file).await?
        } else {
            let fetched = self.fetch(&pick.found).await?;
            read_dist_info_metadata(fetched.archive.path(), pick.found.filename())?
        };
        // The index's `data-requires-python` may be missing or disagree with the wheel's own.
        let python: Version = self.interpreter.markers.python_full_version.parse()?;
        check_requires_python(&metadata, &python)?;
        Ok(metadata)
    }

    async fn fetch(&self, found: &FoundWheel) -> anyhow::Result<FetchedWheel> {
        let (source, expected) = match found {
            FoundWheel::Url { url, hashes, .. } => (
                WheelSource::Url(url.clone()),
                hashes.iter().copied().collect::<ExpectedHashes>(),
            ),
            FoundWheel::Path { path, .. } => {
                (WheelSource::Path(path.clone()), ExpectedHashes::default())
            }
        };
        Ok(self.store.fetch(&source, &expected).await?)
    }
}

/// Resolves `roots` to one pick per project.
async fn resolve(
    resolver: &Resolver,
    roots: Vec<Requirement>,
) -> anyhow::Result<BTreeMap<PackageName, Pick>> {
    let env = resolver.interpreter.marker_environment()?;
    let mut picks: BTreeMap<PackageName, Pick> = BTreeMap::new();
    let mut queue: VecDeque<(Requirement, String)> = roots
        .into_iter()
        .map(|root| (root, COMMAND_LINE.to_owned()))
        .collect();
    while let Some((requirement, parent)) = queue.pop_front() {
        if !env.applies(&requirement, &[]) {
            continue;
        }
        let name: PackageName = requirement.name.as_ref().parse()?;
        let specifiers = match &requirement.version_or_url {
            None => VersionSpecifiers::empty(),
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers.clone(),
            Some(VersionOrUrl::Url(_)) => {
                bail!("`{requirement}`: direct URLs are not resolved here")
            }
        };
        let wanted = format!("{requirement} (from {parent})");
        if let Some(pick) = picks.get_mut(&name) {
            if !specifiers.contains(&pick.version) {
                bail!(
                    "conflict: {name} {} was chosen for {}, but {wanted} excludes it",
                    pick.version,
                    pick.wanted_by.join(", ")
                );
            }
            pick.wanted_by.push(wanted);
            pick.requested |= parent == COMMAND_LINE;
            continue;
        }
        let mut pick = resolver.pick(&name, &specifiers).await?;
        pick.wanted_by.push(wanted);
        pick.requested = parent == COMMAND_LINE;
        let metadata = resolver.metadata(&pick).await?;
        let from = format!("{name}=={}", pick.version);
        queue.extend(
            metadata
                .requires_dist
                .into_iter()
                .map(|dependency| (dependency, from.clone())),
        );
        picks.insert(name, pick);
    }
    Ok(picks)
}

async fn run() -> anyhow::Result<()> {
    let args = parse_args()?;
    let cache = match &args.cache_dir {
        Some(dir) => Cache::open(&CacheSettings {
            dir: Some(dir.clone()),
            ..CacheSettings::default()
        })?,
        None => Cache::temporary()?,
    };
    let interpreter = Interpreter::query(&args.python, &cache)?;
    let tags = Tags::from_interpreter(&interpreter);
    // One HTTP client for index pages, metadata and downloads.
    let http = HttpClient::new(ClientSettings::default())?;
    let index = IndexClient::new(http.clone(), cache.clone(), args.index_url.clone());
    let store = WheelStore::new(cache.clone(), StoreSettings::default()).with_http_client(http);
    let resolver = Resolver {
        interpreter,
        tags,
        index,
        store,
    };

    let picks = resolve(&resolver, args.requirements).await?;
    let mut fetched: Vec<(FetchedWheel, bool)> = Vec::new();
    for pick in picks.values() {
        fetched.push((resolver.fetch(&pick.found).await?, pick.requested));
    }
    let python = resolver.interpreter.shebang_path().to_owned();
    let target = args.target.clone();
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let installer = Installer::new(&target, InstallSettings::new(python))?;
        let manifests: Vec<_> = fetched
            .iter()
            .map(|(wheel, _)| cache.manifest_path(wheel.archive.digest()))
            .collect();
        let requests: Vec<InstallRequest<'_>> = fetched
            .iter()
            .zip(&manifests)
            .map(|((wheel, requested), manifest)| InstallRequest {
                archive: wheel.archive.path(),
                filename: &wheel.filename,
                manifest: Some(manifest),
                // Index wheels: no direct URL. Only the roots were asked for.
                direct_url: None,
                requested: *requested,
            })
            .collect();
        Ok(installer.install(&requests)?)
    })
    .await??;
    let mut out = std::io::stdout().lock();
    for wheel in &report.wheels {
        std::io::Write::write_fmt(
            &mut out,
            format_args!("{}=={}\n", wheel.name, wheel.version),
        )?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report(&anyhow::Error::from(error));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stderr)]
fn report(error: &anyhow::Error) {
    eprintln!("error: {error:#}");
}
