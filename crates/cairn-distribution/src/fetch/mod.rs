//! Fetching wheels into the content-addressed store, exactly once.
//!
//! [`WheelStore::fetch`] turns a [`WheelSource`] and its expected hashes into an unpacked archive
//! in the cache. The archive key is the BLAKE3 digest of the wheel file (see `docs/layout.md`);
//! pointers from each source (and an index from published hashes) make repeat requests cost a
//! pointer read and a `stat`. Work that two processes could duplicate happens under a per-key
//! lock in the cache, and archives are published with an atomic rename, so N processes fetching
//! one wheel leave one copy and all succeed.

mod bytes;
mod dist_info;
mod error;
mod local;
mod lower;
mod pinned;
mod progress;
mod record;
mod remote;
mod tier;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn_cache::{ArchivePath, Cache};

pub use error::FetchError;
pub use progress::{Reporter, Silent};
pub use tier::{RemoteTier, TierEntry, TierUnpacked};

use crate::WheelSource;
use cairn_hash::{Digest, ExpectedHashes};
use cairn_http::{ClientSettings, HttpClient};
use cairn_types::WheelFilename;
use cairn_zip::Limits;

/// How a fetch was satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// A pointer for this source matched: no hashing, no download, no unpacking.
    PointerHit,
    /// The content was already unpacked (found by its digest); only a pointer was written.
    ContentHit,
    /// The wheel was unpacked by this call.
    Unpacked,
    /// A lower cache held the unpacked wheel (found by its digest), and its archive is used
    /// where it is; nothing was written (see [`WheelStore::with_lower_caches`]).
    LowerHit,
    /// The remote tier held the wheel: its copy was checked and unpacked into this cache with
    /// no download (see [`WheelStore::with_remote_tier`]).
    RemoteHit,
}

impl FetchOutcome {
    /// Whether the cache already held the unpacked wheel.
    pub fn is_hit(self) -> bool {
        !matches!(self, Self::Unpacked | Self::RemoteHit)
    }
}

/// A wheel available in the store.
#[derive(Debug, Clone)]
pub struct FetchedWheel {
    /// The source, as displayed (credentials removed).
    pub source: String,
    /// The wheel's file name.
    pub filename: WheelFilename,
    /// The unpacked archive.
    pub archive: ArchivePath,
    /// Every digest known for the wheel file (BLAKE3 first).
    pub hashes: Vec<Digest>,
    /// Size of the wheel file in bytes.
    pub size: u64,
    /// How the fetch was satisfied.
    pub outcome: FetchOutcome,
}

/// Settings of a [`WheelStore`].
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Limits applied when unpacking.
    pub limits: Limits,
    /// How long to wait for another process unpacking the same wheel.
    pub lock_timeout: Option<Duration>,
    /// HTTP client settings (timeouts, retries, offline mode).
    pub http: ClientSettings,
    /// Local wheels hashed and unpacked at once (at least one); the others wait their turn.
    /// Each already spreads over every core, so more at once gains nothing and multiplies the
    /// memory they map (docs/benchmarks.md has the peak memory measured without this bound).
    /// Downloads are not counted: they wait on the network.
    pub concurrent_unpacks: usize,
    /// Downloads in flight at once (at least one), each unpacked as it arrives; the others
    /// wait their turn. Bounds the memory and connections of a cold install of hundreds of
    /// wheels. Hits of the cache take no turn.
    pub concurrent_downloads: usize,
}

/// Downloads in flight at once by default, as uv's `UV_CONCURRENT_DOWNLOADS`.
pub const DEFAULT_CONCURRENT_DOWNLOADS: usize = 50;

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            lock_timeout: Some(Duration::from_secs(30 * 60)),
            http: ClientSettings::default(),
            concurrent_unpacks: std::thread::available_parallelism()
                .map_or(2, std::num::NonZeroUsize::get),
            concurrent_downloads: DEFAULT_CONCURRENT_DOWNLOADS,
        }
    }
}

impl StoreSettings {
    /// The defaults, with the HTTP retry budget and read timeout the environment sets
    /// (`CAIRN_HTTP_RETRIES`, `CAIRN_HTTP_TIMEOUT`, `CAIRN_HTTP_RETRY_WINDOW`; see
    /// [`ClientSettings::from_env`]). A command line reads its settings through this.
    ///
    /// # Errors
    ///
    /// [`SettingsError`](cairn_http::SettingsError) naming a variable that is set to something
    /// that is not a valid value.
    pub fn from_env() -> Result<Self, cairn_http::SettingsError> {
        Ok(Self {
            http: ClientSettings::from_env()?,
            ..Self::default()
        })
    }
}

/// Fetches wheels into a [`Cache`]. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct WheelStore {
    cache: Cache,
    settings: StoreSettings,
    reporter: Arc<dyn Reporter>,
    // Built on first use: local-only runs never load TLS roots.
    client: Arc<tokio::sync::OnceCell<HttpClient>>,
    /// Turns for hashing and unpacking local wheels (`StoreSettings::concurrent_unpacks`).
    unpacks: Arc<tokio::sync::Semaphore>,
    /// Turns for downloads (`StoreSettings::concurrent_downloads`).
    downloads: Arc<tokio::sync::Semaphore>,
    /// Read-only caches asked after this one (see [`WheelStore::with_lower_caches`]).
    lower: Arc<[Cache]>,
    /// The shared tier read after the caches (see [`WheelStore::with_remote_tier`]).
    tier: Option<Arc<dyn RemoteTier>>,
}

impl std::fmt::Debug for WheelStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WheelStore")
            .field("cache", &self.cache)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl WheelStore {
    /// A store over `cache`.
    pub fn new(cache: Cache, settings: StoreSettings) -> Self {
        let unpacks = Arc::new(tokio::sync::Semaphore::new(
            settings.concurrent_unpacks.max(1),
        ));
        let downloads = Arc::new(tokio::sync::Semaphore::new(
            settings.concurrent_downloads.max(1),
        ));
        Self {
            cache,
            settings,
            reporter: Arc::new(Silent),
            client: Arc::default(),
            unpacks,
            downloads,
            lower: Arc::new([]),
            tier: None,
        }
    }

    /// Reports downloads and unpacking to `reporter` (e.g. progress bars).
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// Downloads through `client` (a clone of the one an index client uses, say), so that one
    /// command loads the system certificates once and shares one connection pool. Without it the
    /// store makes its own client from its settings on first use.
    pub fn with_http_client(mut self, client: HttpClient) -> Self {
        self.client = Arc::new(tokio::sync::OnceCell::new_with(Some(client)));
        self
    }

    /// The cache this store writes to.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Makes the wheel at `source` available unpacked in the cache, checking `expected` hashes
    /// before anything is published. At most `StoreSettings::concurrent_unpacks` local wheels are
    /// handled at once across the store's clones; calls beyond wait.
    ///
    /// Must be awaited within a Tokio runtime with time enabled (`enable_all`): local wheels are
    /// unpacked on its blocking pool, and downloads run with timeouts. Without a runtime, use
    /// [`fetch_blocking`](Self::fetch_blocking).
    pub async fn fetch(
        &self,
        source: &WheelSource,
        expected: &ExpectedHashes,
    ) -> Result<FetchedWheel, FetchError> {
        match source {
            WheelSource::Path(path) => {
                let _turn = self
                    .unpacks
                    .acquire()
                    .await
                    .map_err(|error| FetchError::Task {
                        source_name: source.to_string(),
                        message: error.to_string(),
                    })?;
                let store = self.clone();
                let path = path.clone();
                let expected = expected.clone();
                let name = source.to_string();
                tokio::task::spawn_blocking(move || store.fetch_path(&path, &expected))
                    .await
                    .map_err(|error| FetchError::Task {
                        source_name: name,
                        message: error.to_string(),
                    })?
            }
            WheelSource::Url(url) => {
                let fetched = remote::fetch_url(self, url, &source.filename()?, expected).await?;
                self.offer_to_remote(&fetched);
                Ok(fetched)
            }
        }
    }

    /// The HTTP client, built on first use.
    async fn client(&self) -> Result<&HttpClient, FetchError> {
        let settings = self.settings.http.clone();
        Ok(self
            .client
            .get_or_try_init(|| async move { HttpClient::new(settings) })
            .await?)
    }

    /// [`fetch`](Self::fetch) for callers without an async runtime: a local file is fetched on
    /// the calling thread, a URL on a single-threaded runtime made for the call.
    ///
    /// # Errors
    ///
    /// As [`fetch`](Self::fetch); [`FetchError::Task`] if called from within a Tokio runtime
    /// (await [`fetch`](Self::fetch) there) or if the runtime cannot be made.
    pub fn fetch_blocking(
        &self,
        source: &WheelSource,
        expected: &ExpectedHashes,
    ) -> Result<FetchedWheel, FetchError> {
        let url = match source {
            WheelSource::Path(path) => return self.fetch_path(path, expected),
            WheelSource::Url(url) => url,
        };
        let task_error = |message: String| FetchError::Task {
            source_name: source.to_string(),
            message,
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(task_error(
                "fetch_blocking was called within a Tokio runtime; await fetch() instead"
                    .to_owned(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| task_error(format!("cannot start a Tokio runtime: {error}")))?;
        let filename = source.filename()?;
        let fetched = runtime.block_on(remote::fetch_url(self, url, &filename, expected))?;
        self.offer_to_remote(&fetched);
        Ok(fetched)
    }

    /// [`Self::fetch`] for a local file, on the calling thread. A wheel it unpacks is offered to
    /// the remote tier, as by [`fetch`](Self::fetch).
    pub fn fetch_path(
        &self,
        path: &Path,
        expected: &ExpectedHashes,
    ) -> Result<FetchedWheel, FetchError> {
        let fetched = local::fetch_path(self, path, expected)?;
        self.offer_to_remote(&fetched);
        Ok(fetched)
    }
}
