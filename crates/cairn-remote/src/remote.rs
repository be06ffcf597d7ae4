//! [`Remote`]: the tier itself: where objects live, read-through and write-back.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_cache::{ArchiveManifest, Cache, IndexRecord};
use cairn_distribution::{FetchedWheel, RemoteTier, TierEntry, TierUnpacked};
use cairn_fs::ContentDigest;
use cairn_hash::{Digest, ExpectedHashes, HashAlgorithm};
use cairn_types::{PackageName, WheelFilename};
use cairn_zip::Limits;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use crate::error::RemoteError;
use crate::keys::{SigningKey, TrustedKeys};
use crate::pack::{self, PackError};
use crate::record::{EntryRecord, PackRef, RecordError};

/// The versioned root of everything cairn writes under a remote's prefix.
pub const REMOTE_FORMAT: &str = "cairn-remote-v1";

/// Packs up to this size are uploaded in one request; larger ones in parts of this size.
pub const MULTIPART_PART: usize = 16 << 20;

/// When a [`Remote`] publishes what the local cache unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemoteWrite {
    /// Never: the remote is only read.
    Never,
    /// In the background as each wheel is unpacked; [`Remote::finish`] waits for them.
    #[default]
    Background,
}

impl std::str::FromStr for RemoteWrite {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "never" => Ok(Self::Never),
            "background" => Ok(Self::Background),
            other => Err(format!(
                "invalid remote write mode `{other}`: expected `never` or `background`"
            )),
        }
    }
}

/// How a [`Remote`] reads and writes.
#[derive(Debug)]
pub struct RemoteSettings {
    /// Signs what this machine publishes; without it nothing is written.
    pub signing_key: Option<SigningKey>,
    /// The keys whose records are read (the signing key's own is added).
    pub trusted: TrustedKeys,
    /// When to publish.
    pub write: RemoteWrite,
    /// How long one small request, or a pause in a pack's bytes, may take before the remote is
    /// taken as down for the rest of the command.
    pub timeout: Duration,
    /// Uploads at once.
    pub concurrent_uploads: usize,
    /// Packs fetched and unpacked at once (default: two per core).
    pub concurrent_unpacks: usize,
    /// Limits on what a pack may unpack to (those of wheels).
    pub limits: Limits,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        Self {
            signing_key: None,
            trusted: TrustedKeys::default(),
            write: RemoteWrite::default(),
            timeout: Duration::from_secs(5),
            concurrent_uploads: 4,
            concurrent_unpacks: std::thread::available_parallelism()
                .map_or(2, std::num::NonZeroUsize::get)
                * 2,
            limits: Limits::default(),
        }
    }
}

/// What a [`Remote`] did during a command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteStats {
    /// Wheels unpacked from the remote.
    pub hits: u64,
    /// Packs uploaded.
    pub packs_uploaded: u64,
    /// Records written.
    pub records_written: u64,
    /// Uploads that failed (each warned about).
    pub upload_failures: u64,
    /// Objects refused: unsigned, signed by an unknown key, damaged or changed.
    pub refused: u64,
}

/// What [`Remote::push`] did for one archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Whether the pack was uploaded (not already there).
    pub uploaded_pack: bool,
    /// Records written (not already there).
    pub records: u64,
}

/// A shared remote tier on an object store. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Remote {
    inner: Arc<Inner>,
}

/// The digests one project has records for: listed once.
type Listing = tokio::sync::OnceCell<Arc<HashSet<String>>>;

struct Inner {
    store: Arc<dyn ObjectStore>,
    /// `<prefix>/cairn-remote-v1`.
    root: ObjectPath,
    /// The remote as shown in messages.
    shown: String,
    settings: RemoteSettings,
    trusted: TrustedKeys,
    /// Set after a failure that says the remote cannot answer: later reads are skipped.
    down: AtomicBool,
    /// The digests each project has records for, listed once per command.
    listings: Mutex<HashMap<PackageName, Arc<Listing>>>,
    /// Archives offered already.
    offered: Mutex<HashSet<ContentDigest>>,
    uploads: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    upload_turns: Arc<tokio::sync::Semaphore>,
    /// Turns for packs being fetched and unpacked: each holds a decoder window and buffers,
    /// and more at once than cores only multiplies them.
    unpack_turns: tokio::sync::Semaphore,
    runtime: Option<tokio::runtime::Handle>,
    hits: AtomicU64,
    packs_uploaded: AtomicU64,
    records_written: AtomicU64,
    upload_failures: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("remote", &self.inner.shown)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// The remote at `url`: `s3://BUCKET[/PREFIX]` (endpoint, region and credentials from the
    /// AWS environment: `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, …), `file:///DIR` (a directory,
    /// such as a shared mount) or `memory://` (for tests). Makes no request.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Url`] for another URL, [`RemoteError::Configure`] when the client cannot
    /// be built, [`RemoteError::NoKeys`] without a key to read or write with.
    pub fn open(url: &str, settings: RemoteSettings) -> Result<Self, RemoteError> {
        let bad = |reason: &str| RemoteError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = url::Url::parse(url).map_err(|error| bad(&error.to_string()))?;
        let configure = |source| RemoteError::Configure {
            url: url.to_owned(),
            source,
        };
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match parsed.scheme() {
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .filter(|host| !host.is_empty())
                    .ok_or_else(|| bad("no bucket"))?;
                // The default provider of TLS (to an https endpoint) and of request signing;
                // installing it fails only when one is installed already, which is as good.
                let _ = rustls::crypto::ring::default_provider().install_default();
                // Set key by key: replacing the client options would drop the environment's
                // (AWS_ALLOW_HTTP, say). A large pack may take minutes, so the bound on a
                // whole request is loose; a pause longer than the timeout fails the read.
                let client = |key| object_store::aws::AmazonS3ConfigKey::Client(key);
                let timeout = format!("{}ms", settings.timeout.as_millis().max(1));
                let store = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch)
                    .with_config(
                        client(object_store::ClientConfigKey::ConnectTimeout),
                        &timeout,
                    )
                    .with_config(client(object_store::ClientConfigKey::ReadTimeout), &timeout)
                    .with_config(client(object_store::ClientConfigKey::Timeout), "1h")
                    .with_retry(object_store::RetryConfig {
                        backoff: object_store::BackoffConfig {
                            init_backoff: Duration::from_millis(50),
                            max_backoff: Duration::from_millis(500),
                            base: 2.0,
                        },
                        max_retries: 2,
                        retry_timeout: settings.timeout,
                    });
                let store = with_profile(store, &crate::profile::Profile::from_env())
                    .build()
                    .map_err(configure)?;
                (Arc::new(store), parsed.path().to_owned())
            }
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| bad("not a local path"))?;
                cairn_fs::create_dir_all(&dir).map_err(|error| bad(&error.to_string()))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(configure)?;
                (Arc::new(store), String::new())
            }
            "memory" => (
                Arc::new(object_store::memory::InMemory::new()),
                String::new(),
            ),
            _ => return Err(bad("unsupported scheme")),
        };
        Self::with_store(store, &prefix, redacted(url), settings)
    }

    /// A remote on `store` (any `object_store` backend), under `prefix`, shown as `shown`.
    ///
    /// # Errors
    ///
    /// [`RemoteError::NoKeys`] without a key to read or write with; [`RemoteError::Url`] for a
    /// prefix that is not a valid object path.
    pub fn with_store(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        shown: String,
        settings: RemoteSettings,
    ) -> Result<Self, RemoteError> {
        let mut trusted = settings.trusted.clone();
        if let Some(key) = &settings.signing_key {
            trusted.insert(key.public_key());
        }
        if trusted.is_empty() {
            return Err(RemoteError::NoKeys { url: shown });
        }
        let prefix = prefix.trim_matches('/');
        let base = ObjectPath::parse(prefix).map_err(|error| RemoteError::Url {
            url: shown.clone(),
            reason: error.to_string(),
        })?;
        let root = base.join(REMOTE_FORMAT);
        let unpack_turns = tokio::sync::Semaphore::new(settings.concurrent_unpacks.max(1));
        let upload_turns = Arc::new(tokio::sync::Semaphore::new(
            settings.concurrent_uploads.max(1),
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                root,
                shown,
                trusted,
                settings,
                down: AtomicBool::new(false),
                listings: Mutex::default(),
                offered: Mutex::default(),
                uploads: Mutex::default(),
                upload_turns,
                unpack_turns,
                runtime: tokio::runtime::Handle::try_current().ok(),
                hits: AtomicU64::new(0),
                packs_uploaded: AtomicU64::new(0),
                records_written: AtomicU64::new(0),
                upload_failures: AtomicU64::new(0),
                refused: AtomicU64::new(0),
            }),
        })
    }

    /// The remote as shown in messages (credentials removed).
    pub fn shown(&self) -> &str {
        &self.inner.shown
    }

    /// The object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    /// The object name of the record for `digest` of a wheel of `project`:
    /// `<prefix>/cairn-remote-v1/index/<project>/<algorithm>/<hex>`, the project's name
    /// normalised. One listing of `index/<project>/` then answers which of a requirement's
    /// pinned digests the remote holds.
    pub fn record_path(&self, project: &PackageName, digest: &Digest) -> ObjectPath {
        self.project_dir(project)
            .join(digest.algorithm().name())
            .join(digest.to_hex().as_str())
    }

    fn project_dir(&self, project: &PackageName) -> ObjectPath {
        self.inner.root.clone().join("index").join(project.as_ref())
    }

    /// The object name of the pack `digest`: `<prefix>/cairn-remote-v1/packs/<hex>.tar.zst`.
    pub fn pack_path(&self, digest: &ContentDigest) -> ObjectPath {
        self.inner
            .root
            .clone()
            .join("packs")
            .join(format!("{digest}.tar.zst").as_str())
    }

    /// `<prefix>/cairn-remote-v1`, under which every object cairn writes lives.
    pub fn root(&self) -> &ObjectPath {
        &self.inner.root
    }

    /// The keys records are checked against.
    pub fn trusted(&self) -> &TrustedKeys {
        &self.inner.trusted
    }

    /// Whether a failure has taken the remote as down for the rest of this command.
    pub fn is_down(&self) -> bool {
        self.inner.down.load(Ordering::Relaxed)
    }

    /// What the remote did so far.
    pub fn stats(&self) -> RemoteStats {
        let inner = &self.inner;
        RemoteStats {
            hits: inner.hits.load(Ordering::Relaxed),
            packs_uploaded: inner.packs_uploaded.load(Ordering::Relaxed),
            records_written: inner.records_written.load(Ordering::Relaxed),
            upload_failures: inner.upload_failures.load(Ordering::Relaxed),
            refused: inner.refused.load(Ordering::Relaxed),
        }
    }

    /// Waits for the background uploads started so far, then returns what the remote did.
    pub async fn finish(&self) -> RemoteStats {
        loop {
            let pending: Vec<_> = match self.inner.uploads.lock() {
                Ok(mut uploads) => uploads.drain(..).collect(),
                Err(_) => Vec::new(),
            };
            if pending.is_empty() {
                break;
            }
            for upload in pending {
                if let Err(error) = upload.await {
                    tracing::warn!(%error, "a remote upload task failed");
                }
            }
        }
        self.stats()
    }

    /// Takes the remote as down after `error`, with one warning for the command.
    fn mark_down(&self, error: &RemoteError) {
        if !self.inner.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                remote = %self.inner.shown,
                error = %error_chain(error),
                "the remote tier is not answering; continuing without it for this command"
            );
        }
    }

    async fn timed<T>(
        &self,
        action: &'static str,
        object: &ObjectPath,
        work: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> Result<T, RemoteError> {
        match tokio::time::timeout(self.inner.settings.timeout, work).await {
            Ok(result) => result.map_err(|source| RemoteError::Store {
                action,
                object: object.to_string(),
                source,
            }),
            Err(_) => Err(RemoteError::Timeout {
                action,
                object: object.to_string(),
                seconds: self.inner.settings.timeout.as_secs(),
            }),
        }
    }

    /// The verified record for `digest` of a wheel of `project`; `Ok(None)` when there is none
    /// or it is refused.
    pub async fn read_record(
        &self,
        project: &PackageName,
        digest: &Digest,
    ) -> Result<Option<EntryRecord>, RemoteError> {
        let path = self.record_path(project, digest);
        let store = &self.inner.store;
        let got = self
            .timed("read", &path, async {
                let result = store.get(&path).await?;
                result.bytes().await
            })
            .await;
        let bytes = match got {
            Ok(bytes) => bytes,
            Err(RemoteError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }) => return Ok(None),
            Err(error) => return Err(error),
        };
        let verified =
            EntryRecord::verify(&bytes, digest, &self.inner.trusted).and_then(|record| {
                // A record stored under another project is refused like one for another digest.
                match record.wheel.filename.parse::<WheelFilename>() {
                    Ok(filename) if filename.normalized_name() == *project => Ok(record),
                    _ => Err(RecordError::OtherDigest {
                        wanted: format!("{project} {digest}"),
                        found: record.wheel.filename.clone(),
                    }),
                }
            });
        match verified {
            Ok(record) => Ok(Some(record)),
            Err(error) => {
                self.inner.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    object = %path,
                    %error,
                    "ignoring a record on the remote"
                );
                Ok(None)
            }
        }
    }

    /// The `algorithm:hex` names of the digests `project` has records for, listed once per
    /// command.
    async fn listing(&self, project: &PackageName) -> Result<Arc<HashSet<String>>, RemoteError> {
        // One listing per project, shared by concurrent lookups; different projects in parallel.
        let cell = match self.inner.listings.lock() {
            Ok(mut listings) => listings.entry(project.clone()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let dir = self.project_dir(project);
        let store = &self.inner.store;
        cell.get_or_try_init(|| async {
            let metas: Vec<object_store::ObjectMeta> = self
                .timed("list", &dir, store.list(Some(&dir)).try_collect())
                .await?;
            let found: HashSet<String> = metas
                .iter()
                .filter_map(|meta| {
                    let parts: Vec<_> = meta.location.prefix_match(&dir)?.collect();
                    match parts.as_slice() {
                        [algorithm, hex] => {
                            Some(format!("{}:{}", algorithm.as_ref(), hex.as_ref()))
                        }
                        _ => None,
                    }
                })
                .collect();
            Ok(Arc::new(found))
        })
        .await
        .cloned()
    }

    async fn lookup_entries(
        &self,
        project: &PackageName,
        expected: &ExpectedHashes,
    ) -> Vec<TierEntry> {
        if self.is_down() {
            return Vec::new();
        }
        let listed = match self.listing(project).await {
            Ok(listed) => listed,
            Err(error) => {
                self.mark_down(&error);
                return Vec::new();
            }
        };
        let wanted: Vec<Digest> = expected
            .iter()
            .filter(|digest| digest.algorithm() != HashAlgorithm::Blake3)
            .filter(|digest| listed.contains(&digest.to_string()))
            .copied()
            .collect();
        let reads = wanted
            .iter()
            .map(|digest| self.read_record(project, digest));
        let results = futures_util::future::join_all(reads).await;
        let mut entries: Vec<TierEntry> = Vec::new();
        for (digest, result) in wanted.iter().zip(results) {
            match result {
                Ok(Some(record)) => {
                    let object = format!("{} {}", record.pack.digest, record.pack.size);
                    match entries
                        .iter_mut()
                        .find(|entry| entry.record == record.wheel && entry.object == object)
                    {
                        Some(entry) => entry.matched.push(*digest),
                        None => entries.push(TierEntry {
                            record: record.wheel,
                            matched: vec![*digest],
                            object,
                        }),
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    self.mark_down(&error);
                    return Vec::new();
                }
            }
        }
        entries
    }

    /// Downloads the pack `pack` and unpacks it into a temp directory of `cache`, checking its
    /// digest as it streams.
    pub async fn fetch_pack(
        &self,
        cache: &Cache,
        pack: &PackRef,
    ) -> Result<TierUnpacked, RemoteError> {
        let _turn = self
            .inner
            .unpack_turns
            .acquire()
            .await
            .map_err(|error| RemoteError::Task(error.to_string()))?;
        let path = self.pack_path(&pack.digest);
        let store = self.inner.store.clone();
        let result = self.timed("read", &path, store.get(&path)).await?;
        let idle = self.inner.settings.timeout;
        let object = path.to_string();
        // A pause longer than the timeout between two chunks fails the read.
        let stream = futures_util::stream::unfold(result.into_stream(), move |mut stream| {
            let object = object.clone();
            async move {
                match tokio::time::timeout(idle, stream.next()).await {
                    Ok(Some(item)) => Some((item.map_err(std::io::Error::other), stream)),
                    Ok(None) => None,
                    Err(_) => Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("the remote stopped sending `{object}`"),
                        )),
                        stream,
                    )),
                }
            }
        })
        .boxed();
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
        let temp = cache.temp_dir()?;
        let dest = temp.path().to_owned();
        let limits = self.inner.settings.limits.clone();
        let expected = pack.clone();
        let entries = tokio::task::spawn_blocking(move || {
            let reader = std::io::BufReader::with_capacity(1 << 20, reader);
            pack::unpack(reader, &dest, &expected, &limits)
        })
        .await
        .map_err(|error| RemoteError::Task(error.to_string()))?
        .map_err(|source| RemoteError::Pack {
            archive: path.to_string(),
            source,
        })?;
        Ok(TierUnpacked { temp, entries })
    }

    /// Publishes the archive `wheel` names, with a record for each of `digests` (BLAKE3 is
    /// skipped: it names the archive already): packs it, uploads the pack unless the remote
    /// holds it, then writes each record unless one exists.
    ///
    /// # Errors
    ///
    /// [`RemoteError::NoSigningKey`] without a signing key; an error reading the archive or
    /// talking to the remote.
    pub async fn push(
        &self,
        cache: &Cache,
        wheel: &IndexRecord,
        digests: &[Digest],
    ) -> Result<PushOutcome, RemoteError> {
        let Some(key) = &self.inner.settings.signing_key else {
            return Err(RemoteError::NoSigningKey {
                url: self.inner.shown.clone(),
            });
        };
        let digests: Vec<Digest> = digests
            .iter()
            .filter(|digest| digest.algorithm() != HashAlgorithm::Blake3)
            .copied()
            .collect();
        if digests.is_empty() {
            return Ok(PushOutcome::default());
        }
        let manifest_path = cache.manifest_path(&wheel.archive);
        let manifest = std::fs::read_to_string(&manifest_path)
            .ok()
            .and_then(|text| ArchiveManifest::parse(&text).ok())
            .ok_or_else(|| RemoteError::Manifest {
                archive: wheel.archive.to_string(),
            })?;
        let archive = cache
            .find_archive(&wheel.archive)
            .ok_or_else(|| RemoteError::Manifest {
                archive: wheel.archive.to_string(),
            })?;
        let temp = cache.temp_dir()?;
        let pack_file = temp.path().join("pack.tar.zst");
        let (packed_path, archive_dir) = (pack_file.clone(), archive.path().to_owned());
        let pack = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::create(&packed_path).map_err(|source| PackError::Io {
                action: format!("create `{}`", packed_path.display()),
                source,
            })?;
            pack::pack_archive(
                &archive_dir,
                manifest.entries(),
                std::io::BufWriter::with_capacity(1 << 20, file),
            )
        })
        .await
        .map_err(|error| RemoteError::Task(error.to_string()))?
        .map_err(|source| RemoteError::Pack {
            archive: wheel.archive.to_string(),
            source,
        })?;
        let mut outcome = PushOutcome::default();
        let path = self.pack_path(&pack.digest);
        let store = &self.inner.store;
        let present = match self.timed("check", &path, store.head(&path)).await {
            Ok(_) => true,
            Err(RemoteError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }) => false,
            Err(error) => return Err(error),
        };
        if !present {
            self.upload_file(&path, &pack_file, pack.size).await?;
            outcome.uploaded_pack = true;
            self.inner.packs_uploaded.fetch_add(1, Ordering::Relaxed);
        }
        drop(temp);
        let project = wheel
            .filename
            .parse::<WheelFilename>()
            .map_err(|error| {
                RemoteError::Task(format!("cannot publish `{}`: {error}", wheel.filename))
            })?
            .normalized_name();
        for digest in digests {
            let record = EntryRecord {
                digest,
                wheel: wheel.clone(),
                pack: pack.clone(),
            };
            let text = record.to_signed_text(key);
            let path = self.record_path(&project, &digest);
            if self.put_if_absent(&path, text.into_bytes()).await? {
                outcome.records += 1;
                self.inner.records_written.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(outcome)
    }

    /// Writes `bytes` at `path` unless an object is there; whether this call wrote it. A store
    /// without conditional writes is written unconditionally: records of one digest and key
    /// are the same bytes, so the last writer changes nothing.
    async fn put_if_absent(&self, path: &ObjectPath, bytes: Vec<u8>) -> Result<bool, RemoteError> {
        let store = &self.inner.store;
        let payload = PutPayload::from(bytes);
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .timed(
                "write",
                path,
                store.put_opts(path, payload.clone(), options),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(RemoteError::Store {
                source: object_store::Error::AlreadyExists { .. },
                ..
            }) => Ok(false),
            Err(RemoteError::Store {
                source: object_store::Error::NotImplemented { .. },
                ..
            }) => {
                self.timed("write", path, store.put(path, payload)).await?;
                Ok(true)
            }
            Err(error) => Err(error),
        }
    }

    /// Uploads the file at `file` (`size` bytes) as `path`: one request for a small file,
    /// parts of [`MULTIPART_PART`] bytes for a large one.
    async fn upload_file(
        &self,
        path: &ObjectPath,
        file: &std::path::Path,
        size: u64,
    ) -> Result<(), RemoteError> {
        let store = &self.inner.store;
        let read_error = |source: std::io::Error| RemoteError::Pack {
            archive: path.to_string(),
            source: PackError::Io {
                action: format!("read `{}`", file.display()),
                source,
            },
        };
        // Uploads take as long as their size needs: a generous bound, not the request timeout.
        let bound = self.inner.settings.timeout * 12 + Duration::from_secs(size / (1 << 20));
        let store_error = |source| RemoteError::Store {
            action: "upload",
            object: path.to_string(),
            source,
        };
        let upload = async {
            if size <= MULTIPART_PART as u64 {
                let bytes = tokio::fs::read(file).await.map_err(read_error)?;
                store
                    .put(path, PutPayload::from(bytes))
                    .await
                    .map_err(store_error)?;
                return Ok(());
            }
            let upload = store.put_multipart(path).await.map_err(store_error)?;
            let mut writer =
                object_store::WriteMultipart::new_with_chunk_size(upload, MULTIPART_PART);
            let mut reader = std::fs::File::open(file).map_err(read_error)?;
            let mut buffer = vec![0_u8; MULTIPART_PART];
            loop {
                writer.wait_for_capacity(4).await.map_err(store_error)?;
                let read = read_full(&mut reader, &mut buffer).map_err(read_error)?;
                if read == 0 {
                    break;
                }
                writer.write(&buffer[..read]);
            }
            writer.finish().await.map_err(store_error)?;
            Ok(())
        };
        match tokio::time::timeout(bound, upload).await {
            Ok(result) => result,
            Err(_) => Err(RemoteError::Timeout {
                action: "upload",
                object: path.to_string(),
                seconds: bound.as_secs(),
            }),
        }
    }

    fn spawn_upload(&self, cache: &Cache, wheel: &FetchedWheel) {
        let Some(runtime) = tokio::runtime::Handle::try_current()
            .ok()
            .or_else(|| self.inner.runtime.clone())
        else {
            tracing::debug!(wheel = %wheel.filename, "no runtime to upload on; not publishing");
            return;
        };
        let first = self
            .inner
            .offered
            .lock()
            .is_ok_and(|mut offered| offered.insert(wheel.archive.digest().clone()));
        if !first {
            return;
        }
        let record = IndexRecord {
            archive: wheel.archive.digest().clone(),
            wheel_size: wheel.size,
            filename: wheel.filename.to_string(),
        };
        let digests = wheel.hashes.clone();
        let (remote, cache) = (self.clone(), cache.clone());
        let task = runtime.spawn(async move {
            let Ok(_turn) = remote.inner.upload_turns.clone().acquire_owned().await else {
                return;
            };
            if remote.is_down() {
                return;
            }
            match remote.push(&cache, &record, &digests).await {
                Ok(outcome) => tracing::debug!(
                    wheel = %record.filename,
                    uploaded_pack = outcome.uploaded_pack,
                    records = outcome.records,
                    "published to the remote tier"
                ),
                Err(error) => {
                    remote.inner.upload_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        wheel = %record.filename,
                        error = %error_chain(&error),
                        "cannot publish to the remote tier"
                    );
                    if matches!(
                        error,
                        RemoteError::Timeout { .. } | RemoteError::Store { .. }
                    ) {
                        remote.mark_down(&error);
                    }
                }
            }
        });
        if let Ok(mut uploads) = self.inner.uploads.lock() {
            uploads.push(task);
        }
    }
}

fn read_full(reader: &mut std::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}

/// `error` and its causes on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `builder` with what the AWS profile sets and no variable does: the key, the region, the
/// endpoint (plain http allowed when the profile names an http endpoint).
fn with_profile(
    mut builder: object_store::aws::AmazonS3Builder,
    profile: &crate::profile::Profile,
) -> object_store::aws::AmazonS3Builder {
    let unset = |name: &str| std::env::var_os(name).is_none_or(|value| value.is_empty());
    if unset("AWS_ACCESS_KEY_ID")
        && let (Some(id), Some(secret)) = (
            profile.get("aws_access_key_id"),
            profile.get("aws_secret_access_key"),
        )
    {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
        if let Some(token) = profile.get("aws_session_token") {
            builder = builder.with_token(token);
        }
    }
    if unset("AWS_REGION")
        && unset("AWS_DEFAULT_REGION")
        && let Some(region) = profile.get("region")
    {
        builder = builder.with_region(region);
    }
    if unset("AWS_ENDPOINT_URL")
        && unset("AWS_ENDPOINT")
        && let Some(endpoint) = profile.get("endpoint_url")
    {
        builder = builder
            .with_allow_http(endpoint.starts_with("http://"))
            .with_endpoint(endpoint);
    }
    builder
}

/// `url` without credentials or query, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

impl RemoteTier for Remote {
    fn lookup<'a>(
        &'a self,
        project: &'a PackageName,
        expected: &'a ExpectedHashes,
    ) -> BoxFuture<'a, Vec<TierEntry>> {
        self.lookup_entries(project, expected).boxed()
    }

    fn fetch<'a>(
        &'a self,
        cache: &'a Cache,
        entry: &'a TierEntry,
    ) -> BoxFuture<'a, Option<TierUnpacked>> {
        async move {
            if self.is_down() {
                return None;
            }
            let pack = entry.object.split_once(' ').and_then(|(digest, size)| {
                Some(PackRef {
                    digest: ContentDigest::hex(digest).ok()?,
                    size: size.parse().ok()?,
                })
            })?;
            match self.fetch_pack(cache, &pack).await {
                Ok(unpacked) => {
                    self.inner.hits.fetch_add(1, Ordering::Relaxed);
                    Some(unpacked)
                }
                Err(error @ RemoteError::Pack { .. }) => {
                    let broken_connection = matches!(
                        &error,
                        RemoteError::Pack { source: PackError::Io { source, .. }, .. }
                            if source.kind() == std::io::ErrorKind::TimedOut
                    );
                    if broken_connection {
                        self.mark_down(&error);
                    } else {
                        self.inner.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            wheel = %entry.record.filename,
                            error = %error_chain(&error),
                            "the remote's copy is damaged or was changed; skipping it"
                        );
                    }
                    None
                }
                Err(error) => {
                    self.mark_down(&error);
                    None
                }
            }
        }
        .boxed()
    }

    fn offer(&self, cache: &Cache, wheel: &FetchedWheel) {
        if self.inner.settings.write == RemoteWrite::Never
            || self.inner.settings.signing_key.is_none()
            || self.is_down()
        {
            return;
        }
        self.spawn_upload(cache, wheel);
    }
}
