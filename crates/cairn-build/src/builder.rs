//! [`Builder`]: an sdist in, a wheel out, built once per sdist, interpreter and build settings.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cairn_cache::{Cache, CacheBucket};
use cairn_distribution::WheelStore;
use cairn_index::IndexClient;
use cairn_install::{InstallRequest, InstallSettings, Installer, Linker, Scheme};
use cairn_python::requirements::MarkerEnvironment;
use cairn_python::tags::{Interpreter, Tags};
use cairn_types::{PackageName, WheelFilename};
use cairn_zip::Limits;
use pep440_rs::Version;

use crate::error::BuildError;
use crate::pyproject::BuildSystem;
use crate::resolve::{Pinned, Resolver, parse_requirement};
use crate::sdist::{SdistFilename, unpack_sdist};

/// The hook runner, written next to each build.
const HOOKS: &str = include_str!("hooks.py");

/// The format of the build keys and of `builds-v0`'s entries.
const BUILD_FORMAT: &str = "cairn-build-1";

/// How builds are done.
#[derive(Debug, Clone, Default)]
pub struct BuildSettings {
    /// Versions of build requirements pinned by `--build-constraint`.
    pub constraints: HashMap<PackageName, Version>,
    /// `--config-setting KEY=VALUE`, passed to the backend's hooks.
    pub config_settings: BTreeMap<String, String>,
    /// Limits on what an sdist may unpack to (those of wheels).
    pub limits: Limits,
    /// Show the backend's output live on stderr (`-v`) instead of only its end on failure.
    pub show_output: bool,
    /// How long to wait for another process building the same sdist.
    pub lock_timeout: Option<Duration>,
    /// Use only git commits fetched before (`--offline`).
    pub offline: bool,
}

/// A wheel built from an sdist (or found built in the cache).
#[derive(Debug, Clone)]
pub struct BuiltWheel {
    /// The wheel file, in the cache's `builds-v0` bucket.
    pub path: PathBuf,
    /// Its file name.
    pub filename: WheelFilename,
    /// Whether it was built before: no backend ran.
    pub cached: bool,
}

/// Builds source distributions for one interpreter. `Send + Sync`.
pub struct Builder {
    cache: Cache,
    store: WheelStore,
    index: IndexClient,
    interpreter: Arc<Interpreter>,
    tags: Tags,
    markers: MarkerEnvironment,
    python: Version,
    settings: BuildSettings,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("python", &self.interpreter.path)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder for `interpreter` (which also runs the backends), fetching build requirements
    /// through `index` into `store`'s cache.
    ///
    /// # Errors
    ///
    /// [`BuildError::Venv`] when the interpreter's marker values are unusable.
    pub fn new(
        store: WheelStore,
        index: IndexClient,
        interpreter: Arc<Interpreter>,
        settings: BuildSettings,
    ) -> Result<Self, BuildError> {
        let markers = interpreter
            .marker_environment()
            .map_err(|error| BuildError::Venv {
                package: String::new(),
                python: interpreter.path.display().to_string(),
                detail: error.to_string(),
            })?;
        let python = markers.python_full_version().parse().unwrap_or_else(|_| {
            Version::new([
                u64::from(interpreter.version.0),
                u64::from(interpreter.version.1),
            ])
        });
        Ok(Self {
            cache: store.cache().clone(),
            tags: Tags::from_interpreter(&interpreter),
            store,
            index,
            interpreter,
            markers,
            python,
            settings,
        })
    }

    /// The key of a build of `source` (the sdist's SHA-256, a git commit) here: the
    /// interpreter (its executable, tags and ABI) and the build settings. The build
    /// environment's exact pins are recorded beside the wheel but are not part of the key, so
    /// that a built wheel is found again without asking the index which versions are newest.
    fn build_key(&self, source: &str) -> String {
        let interpreter = &self.interpreter;
        let mut text = format!(
            "{BUILD_FORMAT}\n{source}\n{}\n{}\n{}\n{:?}\n",
            interpreter.executable.display(),
            interpreter.interpreter_tag,
            interpreter.abi_tags.join(","),
            interpreter.platform,
        );
        let mut constraints: Vec<_> = self.settings.constraints.iter().collect();
        constraints.sort();
        for (name, version) in constraints {
            text.push_str(&format!("constraint {name}=={version}\n"));
        }
        for (key, value) in &self.settings.config_settings {
            text.push_str(&format!("config {key}={value}\n"));
        }
        blake3::hash(text.as_bytes()).to_hex()[..32].to_owned()
    }

    /// Where the wheels built from `source` (a directory name: the sdist's SHA-256, `git-…`)
    /// with `key` live.
    fn built_dir(&self, source: &str, key: &str) -> PathBuf {
        self.cache
            .bucket(CacheBucket::Builds)
            .join("wheels")
            .join(source)
            .join(key)
    }

    /// The wheel built from the sdist at `sdist` (whose SHA-256 is `sdist_sha256`, checked by
    /// the caller), building it unless this cache built it before for this interpreter and these
    /// settings. Concurrent builds of one sdist wait for each other and build once.
    pub async fn build(
        &self,
        sdist: &Path,
        name: &SdistFilename,
        sdist_sha256: &str,
    ) -> Result<BuiltWheel, BuildError> {
        let key = self.build_key(sdist_sha256);
        let dir = self.built_dir(sdist_sha256, &key);
        let normalized = name.normalized_name();
        if let Some(found) = find_wheel(&dir, &normalized) {
            return Ok(found);
        }
        let _lock = self.lock(&format!("build {sdist_sha256} {key}")).await?;
        if let Some(found) = find_wheel(&dir, &normalized) {
            return Ok(found);
        }
        let package = format!("{} {}", name.name, name.version);
        let work = self.cache.temp_dir()?;
        let unpacked = work.path().join("src");
        cairn_fs::create_dir_all(&unpacked).map_err(|source| BuildError::Io {
            action: format!("create `{}`", unpacked.display()),
            source,
        })?;
        let project = unpack_sdist(sdist, name.format, &unpacked, &self.settings.limits)?;
        let source = sdist.file_name().map(|n| n.to_string_lossy().into_owned());
        self.build_project(&project, &package, &normalized, source, &dir)
            .await
    }

    /// The wheel built from the git source `reference` of project `name`, building it unless
    /// this cache built that commit before; also returns the commit.
    pub async fn build_git(
        &self,
        reference: &crate::git::GitReference,
        name: &PackageName,
    ) -> Result<(BuiltWheel, String), BuildError> {
        let repositories = crate::git::Repositories::new(&self.cache, self.settings.offline);
        let commit = repositories.resolve(reference).await?;
        let source = format!(
            "git {} {commit} {}",
            reference.url,
            reference.subdirectory.as_deref().unwrap_or("")
        );
        let id = format!("git-{}", &blake3::hash(source.as_bytes()).to_hex()[..32]);
        let key = self.build_key(&source);
        let dir = self.built_dir(&id, &key);
        if let Some(found) = find_wheel(&dir, name) {
            return Ok((found, commit));
        }
        let _lock = self.lock(&format!("build {id} {key}")).await?;
        if let Some(found) = find_wheel(&dir, name) {
            return Ok((found, commit));
        }
        let checkout = repositories.checkout(reference, &commit).await?;
        let project = match &reference.subdirectory {
            Some(sub) => {
                checkout.join(cairn_fs::relative_inside(Path::new(sub)).ok_or_else(|| {
                    BuildError::Git {
                        url: reference.url.clone(),
                        reason: format!(
                            "`subdirectory={sub}` is not a directory inside the repository"
                        ),
                    }
                })?)
            }
            None => checkout,
        };
        let package = format!(
            "{name} @ {}@{}",
            reference.url,
            &commit[..12.min(commit.len())]
        );
        let built = self
            .build_project(&project, &package, name, Some(reference.url.clone()), &dir)
            .await?;
        Ok((built, commit))
    }

    /// Builds the local source tree `project` of `name` afresh (local trees change without
    /// notice, so their builds are not looked up), replacing the tree's previous wheel in
    /// `builds-v0/wheels/tree-<path hash>/`.
    pub async fn build_tree(
        &self,
        project: &Path,
        name: &PackageName,
    ) -> Result<BuiltWheel, BuildError> {
        // One entry per tree and settings, replaced by each build: a tree's old wheels are
        // never asked for again.
        let id = format!(
            "tree-{}",
            &blake3::hash(project.as_os_str().as_encoded_bytes()).to_hex()[..32]
        );
        let key = self.build_key(&id);
        let dir = self.built_dir(&id, &key);
        let _lock = self.lock(&format!("build {id} {key}")).await?;
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(BuildError::Io {
                    action: format!("remove the previous build `{}`", dir.display()),
                    source,
                });
            }
        }
        let package = format!("{name} @ {}", project.display());
        self.build_project(
            project,
            &package,
            name,
            Some(project.display().to_string()),
            &dir,
        )
        .await
    }

    async fn lock(&self, key: &str) -> Result<cairn_fs::LockedFile, BuildError> {
        let cache = self.cache.clone();
        let timeout = self.settings.lock_timeout;
        let key = key.to_owned();
        Ok(
            tokio::task::spawn_blocking(move || cache.lock(key.as_str(), timeout))
                .await
                .map_err(|error| BuildError::Io {
                    action: "wait for another build".to_owned(),
                    source: std::io::Error::other(error.to_string()),
                })??,
        )
    }

    /// Builds the project in the directory `project` and publishes its wheel at `dir`.
    async fn build_project(
        &self,
        project: &Path,
        package: &str,
        normalized: &PackageName,
        source: Option<String>,
        dir: &Path,
    ) -> Result<BuiltWheel, BuildError> {
        let package = package.to_owned();
        let work = self.cache.temp_dir()?;
        let system = BuildSystem::read(project)?;
        tracing::debug!(%package, backend = %system.backend, requires = ?system.requires, "building");
        let mut env = self.environment(&package, &system.requires).await?;

        let hooks = work.path().join("cairn_hooks.py");
        write(&hooks, HOOKS.as_bytes())?;
        let out = work.path().join("out");
        cairn_fs::create_dir_all(&out).map_err(|source| BuildError::Io {
            action: format!("create `{}`", out.display()),
            source,
        })?;
        let extra: Vec<String> = self
            .hook(
                &env,
                &hooks,
                project,
                &system,
                "get_requires_for_build_wheel",
                &out,
                &package,
            )
            .and_then(|value| {
                serde_json::from_value(value).map_err(|error| BuildError::NoWheel {
                    package: package.clone(),
                    reason: format!("get_requires_for_build_wheel returned no list: {error}"),
                })
            })?;
        let missing: Vec<&String> = extra.iter().filter(|text| !env.satisfies(text)).collect();
        if !missing.is_empty() {
            let mut all = system.requires.clone();
            all.extend(missing.into_iter().cloned());
            env = self.environment(&package, &all).await?;
        }
        let built = self.hook(
            &env,
            &hooks,
            project,
            &system,
            "build_wheel",
            &out,
            &package,
        )?;
        let Some(file) = built.as_str().map(str::to_owned) else {
            return Err(BuildError::NoWheel {
                package,
                reason: format!("build_wheel returned {built}, not a file name"),
            });
        };
        let filename: WheelFilename = file.parse().map_err(|error| BuildError::NoWheel {
            package: package.clone(),
            reason: format!("`{file}`: {error}"),
        })?;
        if filename.normalized_name() != *normalized {
            return Err(BuildError::NoWheel {
                package,
                reason: format!("`{file}` is a wheel of another project"),
            });
        }
        let wheel = out.join(&file);
        if !wheel.is_file() {
            return Err(BuildError::NoWheel {
                package,
                reason: format!("the backend returned `{file}`, which it did not write"),
            });
        }
        // Published with one rename: a directory holding the wheel and what built it.
        let staged = self.cache.temp_dir()?;
        std::fs::rename(&wheel, staged.path().join(&file)).map_err(|source| BuildError::Io {
            action: format!("move the built `{file}`"),
            source,
        })?;
        let record = serde_json::json!({
            "format": BUILD_FORMAT,
            "source": source,
            "backend": system.backend,
            "build_environment": env.pins,
        });
        write(
            &staged.path().join("build.json"),
            record.to_string().as_bytes(),
        )?;
        if let Some(parent) = dir.parent() {
            cairn_fs::create_dir_all(parent).map_err(|source| BuildError::Io {
                action: format!("create `{}`", parent.display()),
                source,
            })?;
        }
        cairn_fs::persist_dir(staged, dir).map_err(cairn_cache::CacheError::from)?;
        let path = dir.join(&file);
        Ok(BuiltWheel {
            path,
            filename,
            cached: false,
        })
    }

    /// A build environment with `requires` installed, made once per pinned set and reused.
    async fn environment(
        &self,
        package: &str,
        requires: &[String],
    ) -> Result<Environment, BuildError> {
        let resolver = Resolver {
            index: &self.index,
            store: &self.store,
            tags: &self.tags,
            markers: &self.markers,
            python: &self.python,
            constraints: &self.settings.constraints,
            package,
        };
        let pinned = resolver.resolve(requires).await?;
        let pins: Vec<String> = pinned
            .iter()
            .map(|p| p.wheel.filename.to_string())
            .collect();
        let key = {
            let text = format!(
                "{BUILD_FORMAT}\n{}\n{}\n",
                self.interpreter.executable.display(),
                pinned
                    .iter()
                    .map(|p| format!("{} {}", p.wheel.filename, p.wheel.archive.digest()))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            blake3::hash(text.as_bytes()).to_hex()[..32].to_owned()
        };
        let dir = self
            .cache
            .bucket(CacheBucket::Builds)
            .join("envs")
            .join(&key);
        let env = Environment {
            python: dir.join("bin").join("python"),
            pins,
            pinned: pinned
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect(),
        };
        if dir.join(COMPLETE).is_file() {
            return Ok(env);
        }
        let interpreter = self.interpreter.clone();
        let cache = self.cache.clone();
        let package = package.to_owned();
        let target = dir.clone();
        tokio::task::spawn_blocking(move || {
            create_environment(&cache, &interpreter, &pinned, &target, &package)
        })
        .await
        .map_err(|error| BuildError::Io {
            action: "create the build environment".to_owned(),
            source: std::io::Error::other(error.to_string()),
        })??;
        Ok(env)
    }

    /// Runs one hook of the backend in `env`, returning what it returned.
    #[allow(clippy::too_many_arguments)]
    fn hook(
        &self,
        env: &Environment,
        hooks: &Path,
        project: &Path,
        system: &BuildSystem,
        hook: &'static str,
        out: &Path,
        package: &str,
    ) -> Result<serde_json::Value, BuildError> {
        let result = out.with_file_name(format!("{hook}.json"));
        let log = out.with_file_name(format!("{hook}.log"));
        let mut command = Command::new(&env.python);
        command
            .arg(hooks)
            .arg(hook)
            .arg(&system.backend)
            .arg(serde_json::to_string(&system.backend_path).unwrap_or_else(|_| "[]".to_owned()))
            .arg(
                serde_json::to_string(&self.settings.config_settings)
                    .unwrap_or_else(|_| "{}".to_owned()),
            )
            .arg(out)
            .arg(&result)
            .current_dir(project)
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .env("PYTHONNOUSERSITE", "1")
            .stdin(Stdio::null());
        if self.settings.show_output {
            command.stdout(std::io::stderr()).stderr(Stdio::inherit());
        } else {
            let file = std::fs::File::create(&log).map_err(|source| BuildError::Io {
                action: format!("create `{}`", log.display()),
                source,
            })?;
            let copy = file.try_clone().map_err(|source| BuildError::Io {
                action: format!("open `{}`", log.display()),
                source,
            })?;
            command.stdout(file).stderr(copy);
        }
        let status = command.status().map_err(|source| BuildError::Io {
            action: format!("run `{}`", env.python.display()),
            source,
        })?;
        if !status.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            return Err(BuildError::Hook {
                package: package.to_owned(),
                backend: system.backend.clone(),
                hook,
                status: status.to_string(),
                tail: if self.settings.show_output {
                    "(shown above)".to_owned()
                } else {
                    tail
                },
            });
        }
        let text = std::fs::read_to_string(&result).map_err(|source| BuildError::Io {
            action: format!("read what `{hook}` returned"),
            source,
        })?;
        serde_json::from_str(&text).map_err(|error| BuildError::NoWheel {
            package: package.to_owned(),
            reason: format!("`{hook}` returned something unreadable: {error}"),
        })
    }
}

/// The marker of a finished build environment.
const COMPLETE: &str = ".cairn-complete";

/// A build environment: its interpreter and what is installed in it.
struct Environment {
    python: PathBuf,
    pins: Vec<String>,
    pinned: HashMap<PackageName, Version>,
}

impl Environment {
    /// Whether the requirement `text` is met by what is installed.
    fn satisfies(&self, text: &str) -> bool {
        let Ok(requirement) = parse_requirement(text) else {
            return false;
        };
        let name = PackageName::new(requirement.name.as_ref());
        match (self.pinned.get(&name), &requirement.version_or_url) {
            (Some(version), Some(pep508_rs::VersionOrUrl::VersionSpecifier(spec))) => {
                spec.contains(version)
            }
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// Makes the environment at `dir`: a venv without pip, the pinned wheels linked in from the
/// cache, then published with one rename.
fn create_environment(
    cache: &Cache,
    interpreter: &Interpreter,
    pinned: &[Pinned],
    dir: &Path,
    package: &str,
) -> Result<(), BuildError> {
    // The venv is made in an empty temp directory and published with one rename: `bin/python`
    // links to the base interpreter and `pyvenv.cfg` names it, so the move keeps it working.
    let temp = cache.temp_dir()?;
    let venv = temp.path().to_owned();
    let output = Command::new(&interpreter.path)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BuildError::Io {
            action: format!("run `{}`", interpreter.path.display()),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Venv {
            package: package.to_owned(),
            python: interpreter.path.display().to_string(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let (major, minor) = interpreter.version;
    let site = venv
        .join("lib")
        .join(format!("python{major}.{minor}"))
        .join("site-packages");
    let installer = Installer::with_scheme(
        &Scheme::target(&site),
        InstallSettings::new(dir.join("bin").join("python")),
        Arc::new(Linker::new(Default::default())),
    )
    .map_err(|error| BuildError::Venv {
        package: package.to_owned(),
        python: interpreter.path.display().to_string(),
        detail: error.to_string(),
    })?;
    let manifests: Vec<PathBuf> = pinned
        .iter()
        .map(|p| cache.manifest_path(p.wheel.archive.digest()))
        .collect();
    let requests: Vec<InstallRequest<'_>> = pinned
        .iter()
        .zip(&manifests)
        .map(|(p, manifest)| InstallRequest {
            archive: p.wheel.archive.path(),
            filename: &p.wheel.filename,
            manifest: Some(manifest),
            direct_url: None,
            requested: false,
        })
        .collect();
    installer
        .install(&requests)
        .map_err(|error| BuildError::Venv {
            package: package.to_owned(),
            python: interpreter.path.display().to_string(),
            detail: error.to_string(),
        })?;
    write(&venv.join(COMPLETE), b"")?;
    if let Some(parent) = dir.parent() {
        cairn_fs::create_dir_all(parent).map_err(|source| BuildError::Io {
            action: format!("create `{}`", parent.display()),
            source,
        })?;
    }
    cairn_fs::persist_dir(temp, dir).map_err(cairn_cache::CacheError::from)?;
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    std::fs::write(path, bytes).map_err(|source| BuildError::Io {
        action: format!("write `{}`", path.display()),
        source,
    })
}

/// The wheel a finished build left in `dir`.
fn find_wheel(dir: &Path, name: &PackageName) -> Option<BuiltWheel> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries.flatten().find_map(|entry| {
        let file = entry.file_name().into_string().ok()?;
        let filename: WheelFilename = file.parse().ok()?;
        (filename.normalized_name() == *name).then(|| BuiltWheel {
            path: entry.path(),
            filename,
            cached: true,
        })
    })
}
