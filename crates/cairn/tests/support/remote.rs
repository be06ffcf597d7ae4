//! The remote tier's test harness: backends (a `file://` directory, the environment's S3
//! remote), key pairs, a counting index and machines that run the real `cairn` binary.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_remote::{Remote, RemoteSettings, SigningKey};
use cairn_test_support::http_server::{Response, TestServer};
use cairn_test_support::wheel::WheelBuilder;
use futures_util::TryStreamExt as _;

use super::{stderr, stdout};

/// A remote for one test: its URL and the environment a command needs to reach it.
pub struct Backend {
    pub url: String,
    pub env: Vec<(String, String)>,
    pub dir: Option<tempfile::TempDir>,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Backend {
    pub fn file() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            url: format!("file://{}", dir.path().join("remote").display()),
            env: Vec::new(),
            dir: Some(dir),
        }
    }

    /// The S3 remote of the environment under a prefix of its own, if there is one.
    pub fn s3() -> Option<Self> {
        let Ok(base) = std::env::var("CAIRN_REMOTE") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but no S3 remote: run `eval \"$(scripts/remote-up.sh)\"` first"
            );
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "skipping the S3 half: no CAIRN_REMOTE (eval \"$(scripts/remote-up.sh)\")"
                );
            }
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let url = format!(
            "{}/t{}-{nanos}-{}",
            base.trim_end_matches('/'),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let env = std::env::vars()
            .filter(|(name, _)| name.starts_with("AWS_"))
            .collect();
        Some(Self {
            url,
            env,
            dir: None,
        })
    }

    pub fn all() -> Vec<Self> {
        std::iter::once(Self::file()).chain(Self::s3()).collect()
    }

    /// A client of the remote with the writer's key, as a test reaches into the bucket. An S3
    /// backend's variables are this process's own, which the client reads.
    pub fn client(&self, key: &SigningKey) -> Remote {
        Remote::open(
            &self.url,
            RemoteSettings {
                signing_key: Some(SigningKey::parse(&key.to_secret_text()).unwrap()),
                ..RemoteSettings::default()
            },
        )
        .unwrap()
    }
}

/// One writer's key pair, as `cairn cache keygen` prints it.
pub struct Keys {
    pub key: SigningKey,
}

impl Keys {
    pub fn new(name: &str) -> Self {
        Self {
            key: SigningKey::generate(name).unwrap(),
        }
    }
}

/// A PEP 503 index with one project, counting its requests.
pub struct Index {
    pub server: TestServer,
    pub runtime: tokio::runtime::Runtime,
    /// The first wheel's SHA-256.
    pub sha256: String,
    /// Every wheel's SHA-256.
    pub sha256s: Vec<String>,
}

impl Index {
    /// An index serving `wheel` as the project `demo-app`.
    pub fn start(wheel: &WheelBuilder) -> Self {
        Self::start_many(&[("demo-app", wheel)])
    }

    /// An index serving each wheel as its project, with every wheel's SHA-256 kept in order.
    pub fn start_many(wheels: &[(&str, &WheelBuilder)]) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = runtime.block_on(TestServer::start());
        let mut sha256s = Vec::new();
        for (project, wheel) in wheels {
            let bytes = wheel.to_bytes();
            let sha256 = sha256_hex(&bytes);
            let filename = wheel.filename();
            let page = format!(
                "<html><body><a href=\"../../files/{filename}#sha256={sha256}\">{filename}</a></body></html>"
            );
            server.route(
                &format!("/simple/{project}/"),
                Response::ok(page).header("Content-Type", "text/html"),
            );
            server.route(&format!("/files/{filename}"), Response::ok(bytes));
            sha256s.push(sha256);
        }
        Self {
            server,
            runtime,
            sha256: sha256s[0].clone(),
            sha256s,
        }
    }

    pub fn url(&self) -> String {
        self.server.url("/simple/").to_string()
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut hasher = cairn_hash::HasherSet::new(&["sha256".parse().unwrap()]);
    hasher.update(bytes);
    hasher
        .finalize()
        .get("sha256".parse().unwrap())
        .unwrap()
        .to_hex()
}

pub fn demo_wheel(greeting: &str) -> WheelBuilder {
    WheelBuilder::new("demo-app", "1.0")
        .file("demo_app/__init__.py", format!("GREETING = '{greeting}'\n"))
}

/// A machine: its own cache, and the remote with a key to sign or trust.
pub struct Machine<'a> {
    pub cache: PathBuf,
    pub backend: &'a Backend,
    pub signing: Option<String>,
    pub trusted: String,
}

impl<'a> Machine<'a> {
    pub fn writer(work: &Path, name: &str, backend: &'a Backend, keys: &Keys) -> Self {
        Self {
            cache: work.join(name),
            backend,
            signing: Some(keys.key.to_secret_text()),
            trusted: String::new(),
        }
    }

    pub fn reader(work: &Path, name: &str, backend: &'a Backend, keys: &Keys) -> Self {
        Self {
            cache: work.join(name),
            backend,
            signing: None,
            trusted: keys.key.public_key().to_string(),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = super::command(&self.cache, args);
        command.env("CAIRN_REMOTE", &self.backend.url);
        command.envs(self.backend.env.iter().map(|(k, v)| (k, v)));
        if let Some(secret) = &self.signing {
            command.env("CAIRN_REMOTE_SIGNING_KEY", secret);
        }
        if !self.trusted.is_empty() {
            command.env("CAIRN_REMOTE_TRUSTED_KEYS", &self.trusted);
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `cairn install -r pins --index-url … --target target`, to run.
    pub fn install_command(&self, pins: &Path, index: &str, target: &Path) -> Command {
        self.command(&[
            "install",
            "-r",
            pins.to_str().unwrap(),
            "--index-url",
            index,
            "--target",
            target.to_str().unwrap(),
        ])
    }

    /// Runs [`Machine::install_command`].
    pub fn install(&self, pins: &Path, index: &str, target: &Path) -> Output {
        self.install_command(pins, index, target).output().unwrap()
    }
}

#[track_caller]
pub fn success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        stdout(output),
        stderr(output)
    );
    stderr(output)
}

pub fn pins(work: &Path, sha256: &str) -> PathBuf {
    let path = work.join("pins.txt");
    // As `--generate-hashes` writes them: other platforms' wheels are pinned too.
    std::fs::write(
        &path,
        format!(
            "demo-app==1.0 \\\n    --hash=sha256:{} \\\n    --hash=sha256:{sha256}\n",
            "1".repeat(64)
        ),
    )
    .unwrap();
    path
}

pub fn greeting(target: &Path) -> String {
    std::fs::read_to_string(target.join("demo_app/__init__.py")).unwrap()
}

/// Every object under the remote's root, by name.
pub fn objects(remote: &Remote) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut names: Vec<String> = runtime
        .block_on(
            remote
                .store()
                .list(Some(remote.root()))
                .map_ok(|meta| meta.location.to_string())
                .try_collect::<Vec<_>>(),
        )
        .unwrap();
    names.sort();
    names
}

pub fn packs(remote: &Remote) -> Vec<String> {
    objects(remote)
        .into_iter()
        .filter(|name| name.contains("/packs/"))
        .collect()
}
