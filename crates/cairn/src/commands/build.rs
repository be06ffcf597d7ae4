//! Source distributions in `cairn install`: a requirement whose version has no wheel for the
//! target (only an sdist on the index), or that names an sdist by URL or path, is built with
//! `cairn-build` and the built wheel installed like any other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use cairn_build::{BuildSettings, Builder, SdistFilename};
use cairn_distribution::{FetchedWheel, WheelStore};
use cairn_hash::{ExpectedHashes, HashAlgorithm, HasherSet, HashingAsyncReader};
use cairn_http::{Fetched, HttpClient};
use cairn_index::{FileKind, IndexClient};
use cairn_python::requirements::Requirement;
use cairn_python::tags::Interpreter;
use cairn_types::{PackageName, WheelFilename};
use tokio::io::AsyncWriteExt as _;
use url::Url;

use crate::cli::InstallArgs;

/// What a build reads from: the store that fetches build requirements and built wheels, the
/// index that lists them, and the interpreter that builds.
pub(crate) struct BuildInputs<'a> {
    pub(crate) store: &'a WheelStore,
    pub(crate) index: &'a IndexClient,
    pub(crate) interpreter: &'a Arc<Interpreter>,
}

/// Whether and how this command builds from source.
pub(crate) struct Builds {
    /// The commit each git source resolved to, for its `direct_url.json`.
    commits: std::sync::Mutex<std::collections::HashMap<String, String>>,
    no_build: bool,
    only_binary: Vec<String>,
    no_binary: Vec<String>,
    settings: BuildSettings,
    http: HttpClient,
    builder: tokio::sync::OnceCell<Builder>,
}

impl Builds {
    pub(crate) fn new(
        args: &InstallArgs,
        http: HttpClient,
        verbose: bool,
        offline: bool,
    ) -> anyhow::Result<Self> {
        let mut settings = BuildSettings {
            show_output: verbose,
            offline,
            ..BuildSettings::default()
        };
        for path in &args.build_constraint {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the build constraints `{}`", path.display())
            })?;
            for (number, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or_default().trim();
                if line.is_empty() {
                    continue;
                }
                let pinned = line
                    .split_once("==")
                    .and_then(|(name, version)| {
                        Some((PackageName::new(name.trim()), version.trim().parse().ok()?))
                    })
                    .with_context(|| {
                        format!(
                            "{}:{}: `{line}` is not `name==version`",
                            path.display(),
                            number + 1
                        )
                    })?;
                settings.constraints.insert(pinned.0, pinned.1);
            }
        }
        let mut config = BTreeMap::new();
        for pair in &args.config_settings {
            let (key, value) = pair.split_once('=').with_context(|| {
                format!("invalid --config-setting `{pair}`: expected KEY=VALUE")
            })?;
            config.insert(key.to_owned(), value.to_owned());
        }
        settings.config_settings = config;
        Ok(Self {
            commits: std::sync::Mutex::default(),
            no_build: args.no_build,
            only_binary: normalized_list(&args.only_binary),
            no_binary: normalized_list(&args.no_binary),
            settings,
            http,
            builder: tokio::sync::OnceCell::new(),
        })
    }

    /// Whether `name` must be built from source although wheels may exist (`--no-binary`).
    pub(crate) fn source_only(&self, name: &PackageName) -> bool {
        self.no_binary
            .iter()
            .any(|entry| entry == ":all:" || entry == name.as_ref())
    }

    /// Whether `name` may be built from source.
    pub(crate) fn allowed(&self, name: &PackageName) -> bool {
        !self.no_build
            && !self
                .only_binary
                .iter()
                .any(|entry| entry == ":all:" || entry == name.as_ref())
    }

    async fn builder(&self, at: &BuildInputs<'_>) -> anyhow::Result<&Builder> {
        self.builder
            .get_or_try_init(|| async {
                Ok(Builder::new(
                    at.store.clone(),
                    at.index.clone(),
                    at.interpreter.clone(),
                    self.settings.clone(),
                )?)
            })
            .await
    }

    /// Builds the sdist the index lists for `requirement`'s pinned version, and fetches the
    /// built wheel into the store.
    pub(crate) async fn build_from_index(
        &self,
        at: &BuildInputs<'_>,
        requirement: &Requirement,
        version: &str,
    ) -> anyhow::Result<(FetchedWheel, WheelFilename)> {
        let wanted: cairn_index::Version = version
            .parse()
            .with_context(|| format!("invalid version `{version}`"))?;
        let files = at.index.files(&requirement.name).await?;
        let sdist = files
            .iter()
            .filter(|file| file.kind == FileKind::Sdist && file.version.as_ref() == Some(&wanted))
            .find_map(|file| Some((file, SdistFilename::parse(&file.filename)?)))
            .with_context(|| {
                format!(
                    "`{requirement}` has neither a wheel nor a source distribution on the index"
                )
            })?;
        let (file, name) = sdist;
        let pinned = requirement.expected_hashes();
        let expected: ExpectedHashes = if pinned.is_empty() {
            file.hashes.iter().copied().collect()
        } else {
            pinned
        };
        self.build_url(at, &file.url, &name, &expected).await
    }

    /// Builds the sdist `requirement` names by URL or path.
    pub(crate) async fn build_reference(
        &self,
        at: &BuildInputs<'_>,
        requirement: &Requirement,
        reference: &str,
    ) -> anyhow::Result<(FetchedWheel, WheelFilename)> {
        let expected = requirement.expected_hashes();
        let url = match Url::parse(reference) {
            Ok(url) if url.scheme() != "file" => url,
            Ok(url) => Url::from_file_path(
                url.to_file_path()
                    .map_err(|()| anyhow::anyhow!("`{reference}` is not a local path"))?,
            )
            .map_err(|()| anyhow::anyhow!("`{reference}` is not a local path"))?,
            Err(_) => Url::from_file_path(std::path::absolute(reference)?)
                .map_err(|()| anyhow::anyhow!("`{reference}` is not a usable path"))?,
        };
        let filename = url
            .path_segments()
            .and_then(|mut segments| segments.next_back())
            .unwrap_or_default()
            .to_owned();
        let name = SdistFilename::parse(&percent_decode(&filename))
            .with_context(|| format!("`{reference}` is not a wheel or a source distribution (`name-version.tar.gz` or `.zip`)"))?;
        self.build_url(at, &url, &name, &expected).await
    }

    /// Builds the git source or local directory `reference` of `requirement`.
    pub(crate) async fn build_source_tree(
        &self,
        at: &BuildInputs<'_>,
        requirement: &Requirement,
        reference: &str,
    ) -> anyhow::Result<(FetchedWheel, WheelFilename)> {
        if !self.allowed(&requirement.normalized) {
            bail!(
                "`{requirement}` names a source tree, which must be built, and building from \
                 source is turned off (--no-build or --only-binary)"
            );
        }
        if !requirement.hashes.is_empty() {
            bail!(
                "`{requirement}` names a git source or a directory, which has no bytes a --hash \
                 could be checked against; remove its hashes (pip refuses such requirements in \
                 hash-checking mode too)"
            );
        }
        let builder = self.builder(at).await?;
        let built = if let Some(git) = cairn_build::GitReference::parse(reference) {
            let (built, commit) = builder.build_git(&git, &requirement.normalized).await?;
            if let Ok(mut commits) = self.commits.lock() {
                commits.insert(reference.to_owned(), commit);
            }
            built
        } else {
            let path = match Url::parse(reference) {
                Ok(url) if url.scheme() == "file" => url
                    .to_file_path()
                    .map_err(|()| anyhow::anyhow!("`{reference}` is not a local path"))?,
                _ => std::path::absolute(reference)?,
            };
            builder.build_tree(&path, &requirement.normalized).await?
        };
        fetch_built(at.store, built, reference).await
    }

    /// The commit the git source `reference` was built from in this command.
    pub(crate) fn commit_of(&self, reference: &str) -> Option<String> {
        self.commits.lock().ok()?.get(reference).cloned()
    }

    async fn build_url(
        &self,
        at: &BuildInputs<'_>,
        url: &Url,
        name: &SdistFilename,
        expected: &ExpectedHashes,
    ) -> anyhow::Result<(FetchedWheel, WheelFilename)> {
        if !self.allowed(&name.normalized_name()) {
            bail!(
                "`{}` {} has no wheel for this target, only a source distribution, and building \
                 from source is turned off (--no-build or --only-binary)",
                name.name,
                name.version
            );
        }
        let temp = at.store.cache().temp_dir()?;
        let (path, sha256) = if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| anyhow::anyhow!("`{url}` is not a local path"))?;
            let mut algorithms = expected.algorithms();
            algorithms.push(HashAlgorithm::Sha256);
            let hashes = cairn_hash::hash_file(&path, &algorithms)?;
            expected.verify(&hashes, &path.display().to_string())?;
            (path, hashes)
        } else {
            let path = temp.path().join(name_of(url));
            let hashes = self.download(url, &path, expected).await?;
            (path, hashes)
        };
        let sha256 = sha256
            .get(HashAlgorithm::Sha256)
            .map(|digest| digest.to_hex())
            .context("no SHA-256 of the source distribution")?;
        let builder = self.builder(at).await?;
        let built = builder.build(&path, name, &sha256).await?;
        drop(temp);
        fetch_built(at.store, built, url.as_str()).await
    }

    /// Downloads `url` to `path`, checking `expected`; every digest of it, SHA-256 included.
    async fn download(
        &self,
        url: &Url,
        path: &Path,
        expected: &ExpectedHashes,
    ) -> anyhow::Result<cairn_hash::Hashes> {
        let Fetched::Body(body) = self.http.get(url, None).await? else {
            bail!("{url} answered an unconditional request with a cache hit");
        };
        let mut algorithms = expected.algorithms();
        algorithms.push(HashAlgorithm::Sha256);
        let mut reader =
            HashingAsyncReader::new(body.into_async_read(), HasherSet::new(&algorithms));
        let mut file = tokio::fs::File::create(path).await?;
        tokio::io::copy(&mut reader, &mut file).await?;
        file.flush().await?;
        let hashes = reader.finish();
        expected.verify(&hashes, url.as_str())?;
        Ok(hashes)
    }
}

/// Fetches the wheel `built` from `from` into the store, like a local wheel file.
async fn fetch_built(
    store: &WheelStore,
    built: cairn_build::BuiltWheel,
    from: &str,
) -> anyhow::Result<(FetchedWheel, WheelFilename)> {
    let wheel = store
        .fetch(
            &cairn_distribution::WheelSource::Path(built.path.clone()),
            &ExpectedHashes::default(),
        )
        .await
        .with_context(|| format!("failed to fetch `{}` built from `{from}`", built.filename))?;
    tracing::debug!(wheel = %built.filename, cached = built.cached, "built from source");
    Ok((wheel, built.filename))
}

/// Package names normalised, `:all:` kept.
fn normalized_list(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|name| {
            if name == ":all:" {
                name.clone()
            } else {
                PackageName::new(name).to_string()
            }
        })
        .collect()
}

fn name_of(url: &Url) -> PathBuf {
    PathBuf::from(percent_decode(
        url.path_segments()
            .and_then(|mut segments| segments.next_back())
            .unwrap_or("sdist"),
    ))
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether a requirement's URL or path names a source distribution.
pub(crate) fn is_sdist_reference(reference: &str) -> bool {
    let last = reference.rsplit(['/', '\\']).next().unwrap_or(reference);
    let last = last.split(['#', '?']).next().unwrap_or(last);
    SdistFilename::parse(&percent_decode(last)).is_some()
}
