//! [`HttpClient::get`]: one GET with cache revalidation and bounded retries.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use rustls::pki_types::CertificateDer;
use url::Url;

use super::body::Download;
use super::error::{Attempts, DownloadError, TransportError};
use super::policy::{CachePolicy, Freshness};
use super::retry::{self, RetryBudget};
use super::settings::ClientSettings;
use cairn_types::RedactedUrl;

/// What a GET produced.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per request and matched at once; boxing would allocate for the \
              common case, a body"
)]
pub enum Fetched {
    /// The cached response is still fresh (or the client is offline): no request was made.
    Fresh,
    /// The server confirmed the cached response (`304`): keep the cached body and store this
    /// refreshed policy in place of the old one.
    NotModified {
        /// The cached policy updated with the `304`'s headers.
        policy: CachePolicy,
    },
    /// A new body, to be streamed.
    Body(Download),
}

/// An HTTP(S) client for wheels and index pages. Cheap to clone: clones share one reqwest
/// client, and so one connection pool.
///
/// [`HttpClient::new`] uses cairn's own reqwest client, built on the first request;
/// [`HttpClient::from_reqwest`] uses the caller's (with a proxy, extra root certificates,
/// default headers or authentication), typically started from [`HttpClient::client_builder`].
///
/// # Runtime
///
/// Requests run on Tokio: await [`HttpClient::get`] and [`HttpClient::get_accepting`], and read
/// the bodies they return, inside a Tokio runtime with both its I/O and time drivers enabled
/// (`Builder::enable_all`, or `#[tokio::main]`). Outside any Tokio runtime they return
/// [`DownloadError::NoRuntime`]. In a runtime built without timers the connect and read
/// timeouts and the delays between retries panic, which Tokio gives no way to detect
/// beforehand.
#[derive(Debug, Clone)]
pub struct HttpClient {
    /// Built on the first request unless the caller gave one: building loads the system
    /// certificates, which an offline command or one served wholly from the cache never needs.
    client: Arc<OnceLock<reqwest::Client>>,
    settings: Arc<ClientSettings>,
}

impl HttpClient {
    /// A client with `settings` over a reqwest client of cairn's own, made by
    /// [`HttpClient::client_builder`] on the first request: nothing is loaded until then, and
    /// clones share it, so make one and clone it.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for settings that can be checked up front. A
    /// client that cannot be built (no usable system certificates) fails its first request
    /// with [`DownloadError::ClientBuild`].
    pub fn new(settings: ClientSettings) -> Result<Self, DownloadError> {
        Ok(Self {
            client: Arc::new(OnceLock::new()),
            settings: Arc::new(settings),
        })
    }

    /// A client that sends its requests through `client`, the caller's.
    ///
    /// `settings` still decide retries, backoff and offline mode, and their `read_timeout` is
    /// the one named in errors; but timeouts, the `User-Agent` and TLS are properties of
    /// `client` itself, so its builder must set them. Start from
    /// [`HttpClient::client_builder`] to keep cairn's: a reqwest client has no timeouts by
    /// default, and a stalled server would then hang a download forever.
    ///
    /// reqwest, as cairn-http enables it, has no crypto provider of its own: building a
    /// client from a bare `reqwest::Client::builder()` panics unless it is given a TLS
    /// configuration (`tls_backend_preconfigured`), or the application installed a rustls
    /// provider process-wide, or it enables reqwest's `rustls` feature (which brings
    /// aws-lc-rs). [`HttpClient::client_builder`] needs none of these.
    pub fn from_reqwest(client: reqwest::Client, settings: ClientSettings) -> Self {
        Self {
            client: Arc::new(OnceLock::from(client)),
            settings: Arc::new(settings),
        }
    }

    /// The reqwest builder [`HttpClient::new`] uses, for callers who add to it (a proxy,
    /// default headers, a local address) and pass the result to [`HttpClient::from_reqwest`].
    ///
    /// It sets the connect and read timeouts and the `User-Agent` of `settings`, and a TLS
    /// configuration of its own: certificates are checked by the platform's verifier
    /// (`rustls-platform-verifier`, against the system's trust store, as reqwest does by
    /// default), and the cryptography is rustls' process-wide default provider if
    /// the application installed one, or else *ring*, passed explicitly: no process-wide state
    /// is set. Because TLS comes preconfigured, reqwest's own TLS options on the returned
    /// builder (`tls_certs_merge`, `tls_version_min`, …) have no effect: add root certificates
    /// with [`HttpClient::client_builder_with_roots`].
    ///
    /// Loads the system certificates, so call it once and share the client.
    ///
    /// # Errors
    ///
    /// [`DownloadError::ClientBuild`] if the TLS configuration cannot be made, typically
    /// because the system has no CA certificates.
    pub fn client_builder(
        settings: &ClientSettings,
    ) -> Result<reqwest::ClientBuilder, DownloadError> {
        Self::client_builder_with_roots(settings, std::iter::empty())
    }

    /// [`HttpClient::client_builder`] trusting `extra_roots` (DER-encoded certificates, such as
    /// a company's proxy CA) besides the system's.
    ///
    /// # Errors
    ///
    /// [`DownloadError::ClientBuild`] if a certificate is not valid DER, or the TLS
    /// configuration cannot be made.
    pub fn client_builder_with_roots(
        settings: &ClientSettings,
        extra_roots: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<reqwest::ClientBuilder, DownloadError> {
        let tls = tls_config(extra_roots.into_iter().map(CertificateDer::from).collect())?;
        Ok(reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .user_agent(settings.user_agent.as_str()))
    }

    /// The reqwest client: the caller's, or cairn's own built on first use. Two threads may
    /// both build one; the first to finish is kept.
    fn client(&self) -> Result<&reqwest::Client, DownloadError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let built = Self::client_builder(&self.settings)?
            .build()
            .map_err(|err| DownloadError::ClientBuild {
                source: TransportError::reqwest(err),
            })?;
        Ok(self.client.get_or_init(|| built))
    }

    /// The settings the client was built with.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// GETs `url`, given the policy stored with an earlier response to it, if any.
    ///
    /// With `cached`, a fresh response is answered without a request ([`Fetched::Fresh`]); a
    /// stale one is revalidated with `If-None-Match` / `If-Modified-Since`, and a `304` gives
    /// [`Fetched::NotModified`]. Otherwise, or when the resource changed, the new body comes as
    /// [`Fetched::Body`]. Offline, the network is never used: `cached` gives `Fresh` and its
    /// absence [`DownloadError::Offline`].
    ///
    /// It must be awaited inside a Tokio runtime with timers enabled: see
    /// [the type's documentation](HttpClient#runtime).
    ///
    /// Connection failures, timeouts before the response and `5xx`/`429` answers are retried
    /// with backoff (honouring `Retry-After`) within a fresh [`RetryBudget`]: up to
    /// [`ClientSettings::retries`] times, none starting after [`ClientSettings::retry_window`];
    /// `4xx` answers fail at once. Only `http` and `https` URLs are accepted: local files are the
    /// caller's to open.
    pub async fn get(
        &self,
        url: &Url,
        cached: Option<&CachePolicy>,
    ) -> Result<Fetched, DownloadError> {
        self.get_accepting(url, cached, None).await
    }

    /// [`HttpClient::get`] with an `Accept` header, for servers that negotiate the format of
    /// their answer (a PEP 691 index serves JSON or HTML pages at one URL).
    ///
    /// It must be awaited inside a Tokio runtime with timers enabled: see
    /// [the type's documentation](HttpClient#runtime).
    pub async fn get_accepting(
        &self,
        url: &Url,
        cached: Option<&CachePolicy>,
        accept: Option<&'static str>,
    ) -> Result<Fetched, DownloadError> {
        let mut budget = self.retry_budget();
        self.get_with_budget(url, cached, accept, &mut budget).await
    }

    /// A fresh [`RetryBudget`] for one request under this client's settings.
    pub fn retry_budget(&self) -> RetryBudget {
        RetryBudget::new(&self.settings)
    }

    /// [`HttpClient::get_accepting`] drawing its attempts from `budget`, which the caller shares
    /// with its own restarts of the same request (after a body broke off), so that the whole
    /// request makes at most the budget's attempts. The error counts every attempt the budget
    /// saw.
    pub async fn get_with_budget(
        &self,
        url: &Url,
        cached: Option<&CachePolicy>,
        accept: Option<&'static str>,
        budget: &mut RetryBudget,
    ) -> Result<Fetched, DownloadError> {
        let redacted = RedactedUrl::new(url);
        check_url(url, &redacted)?;
        if self.settings.offline {
            return match cached {
                Some(_) => Ok(Fetched::Fresh),
                None => Err(DownloadError::Offline { url: redacted }),
            };
        }
        if let Some(policy) = cached
            && policy.freshness(SystemTime::now()) == Freshness::Fresh
        {
            tracing::debug!(url = %redacted, "fresh in the cache, no request");
            return Ok(Fetched::Fresh);
        }

        if tokio::runtime::Handle::try_current().is_err() {
            return Err(DownloadError::NoRuntime { url: redacted });
        }
        let client = self.client()?;
        loop {
            budget.start_attempt();
            let failure = match self.attempt(client, url, &redacted, cached, accept).await {
                Ok(fetched) => return Ok(fetched),
                Err(failure) => failure,
            };
            let attempts = Attempts(budget.attempts());
            if !failure.is_retryable() {
                return Err(failure.into_error(redacted, attempts, &self.settings));
            }
            let Some(delay) = budget.next_delay(failure.retry_after()) else {
                tracing::debug!(
                    url = %redacted,
                    attempts = budget.attempts(),
                    max_attempts = budget.max_attempts(),
                    problem = %failure,
                    "retry budget spent"
                );
                return Err(failure.into_error(redacted, attempts, &self.settings));
            };
            tracing::warn!(
                url = %redacted,
                attempt = budget.attempts(),
                max_attempts = budget.max_attempts(),
                ?delay,
                problem = %failure,
                "request failed before a response body started; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One request and the classification of its outcome.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        url: &Url,
        redacted: &RedactedUrl,
        cached: Option<&CachePolicy>,
        accept: Option<&'static str>,
    ) -> Result<Fetched, Failure> {
        let mut request = client.get(url.clone());
        match accept {
            // Index pages are text, megabytes of it: taken gzip-compressed when the server
            // offers it, and inflated on the way in (the page's size cap counts inflated bytes).
            Some(accept) => request = request.header(reqwest::header::ACCEPT, accept),
            // Wheels and other archives are compressed already, and their digests and
            // `Content-Length` are of the bytes as stored: ask for them as they are.
            None => {
                request = request.header(reqwest::header::ACCEPT_ENCODING, "identity");
            }
        }
        if let Some(policy) = cached {
            request = request.headers(policy.conditional_headers());
        }
        tracing::debug!(url = %redacted, conditional = cached.is_some(), "GET");
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return Err(Failure::Transport(TransportError::reqwest(err))),
        };
        let status = response.status();
        let received_at = SystemTime::now();
        tracing::debug!(url = %redacted, status = status.as_u16(), "response");
        if status == StatusCode::NOT_MODIFIED
            && let Some(policy) = cached
        {
            let policy = policy.refreshed(response.headers(), received_at);
            return Ok(Fetched::NotModified { policy });
        }
        if status.is_success() && status != StatusCode::PARTIAL_CONTENT {
            let policy = CachePolicy::from_response(response.headers(), received_at);
            let download = Download::new(
                response,
                policy,
                redacted.clone(),
                self.settings.read_timeout,
            );
            return Ok(Fetched::Body(download));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::ServerStatus {
                status: status.as_u16(),
                retry_after: retry::retry_after(response.headers(), received_at),
            });
        }
        Err(Failure::Status(status.as_u16()))
    }
}

/// Refuses URLs that are not for this client, before anything else.
fn check_url(url: &Url, redacted: &RedactedUrl) -> Result<(), DownloadError> {
    let reason = match url.scheme() {
        "http" | "https" if url.host().is_some() => return Ok(()),
        "http" | "https" => "the URL has no host",
        "file" => "file: URLs name local files, which are read directly rather than downloaded",
        _ => "only http and https URLs can be downloaded",
    };
    Err(DownloadError::InvalidUrl {
        url: redacted.clone(),
        reason,
    })
}

/// Why an attempt failed, before it becomes a [`DownloadError`] that counts the attempts.
#[derive(Debug)]
enum Failure {
    /// No response: the connection, the request or the redirects failed.
    Transport(TransportError),
    /// `5xx` or `429`, with how long the server asked us to wait.
    ServerStatus {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// Any other status that is not a usable answer.
    Status(u16),
}

impl Failure {
    /// Whether another attempt might succeed.
    fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(err) => !(err.is_redirect() || err.is_builder()),
            Self::ServerStatus { .. } => true,
            Self::Status(_) => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::ServerStatus { retry_after, .. } => *retry_after,
            Self::Transport(_) | Self::Status(_) => None,
        }
    }

    fn into_error(
        self,
        url: RedactedUrl,
        attempts: Attempts,
        settings: &ClientSettings,
    ) -> DownloadError {
        match self {
            Self::Transport(source) if source.is_redirect() => {
                DownloadError::Redirect { url, source }
            }
            Self::Transport(source) if source.is_connect() => DownloadError::Connect {
                url,
                attempts,
                source,
            },
            Self::Transport(source) if source.is_timeout() => DownloadError::Timeout {
                url,
                attempts,
                timeout: settings.read_timeout,
                source,
            },
            Self::Transport(source) => DownloadError::Request {
                url,
                attempts,
                source,
            },
            Self::ServerStatus { status, .. } => DownloadError::ServerError {
                url,
                status,
                attempts,
            },
            Self::Status(status) => DownloadError::Status { url, status },
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(err) => write!(f, "{err}"),
            Self::ServerStatus { status, .. } | Self::Status(status) => write!(f, "HTTP {status}"),
        }
    }
}

/// The TLS configuration of cairn's own client: the platform's certificate verifier (plus
/// `extra_roots`) over the application's default crypto provider, or *ring*. Nothing
/// process-wide is installed.
fn tls_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, DownloadError> {
    let tls_error = |err| DownloadError::ClientBuild {
        source: TransportError::tls(err),
    };
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let verifier = platform_verifier(extra_roots, Arc::clone(&provider)).map_err(tls_error)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(tls_error)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // What reqwest offers itself when it builds the TLS configuration: HTTP/2 where the server
    // speaks it (one connection carries every download from an index host), else HTTP/1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(not(target_os = "android"))]
fn platform_verifier(
    extra_roots: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<rustls_platform_verifier::Verifier, rustls::Error> {
    if extra_roots.is_empty() {
        rustls_platform_verifier::Verifier::new(provider)
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider)
    }
}

#[cfg(target_os = "android")]
fn platform_verifier(
    extra_roots: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<rustls_platform_verifier::Verifier, rustls::Error> {
    if !extra_roots.is_empty() {
        return Err(rustls::Error::General(
            "extra root certificates are not supported on Android".to_owned(),
        ));
    }
    rustls_platform_verifier::Verifier::new(provider)
}
