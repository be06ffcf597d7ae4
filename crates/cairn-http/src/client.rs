//! [`HttpClient::get`]: one GET with cache revalidation and bounded retries.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use url::Url;

use super::body::Download;
use super::error::{Attempts, Chain, DownloadError};
use super::policy::{CachePolicy, Freshness};
use super::retry::{self, Backoff};
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

/// An HTTP(S) client for wheels and index pages. Cheap to clone: clones share one connection
/// pool.
#[derive(Debug, Clone)]
pub struct HttpClient {
    /// Built on the first request: building loads the system certificates, which an offline
    /// command or one served wholly from the cache never needs.
    client: Arc<OnceLock<reqwest::Client>>,
    settings: Arc<ClientSettings>,
}

impl HttpClient {
    /// A client with `settings`; make one and clone it, since its first request loads the
    /// system certificates. Nothing is loaded until then.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for settings that can be checked up front.
    pub fn new(settings: ClientSettings) -> Result<Self, DownloadError> {
        Ok(Self {
            client: Arc::new(OnceLock::new()),
            settings: Arc::new(settings),
        })
    }

    /// The reqwest client, built on first use. Two threads may both build one; the first to
    /// finish is kept.
    fn client(&self) -> Result<&reqwest::Client, DownloadError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        // reqwest is built without a default crypto provider; install ring as the process
        // default unless the application already installed one, which then wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let built = reqwest::Client::builder()
            .connect_timeout(self.settings.connect_timeout)
            .read_timeout(self.settings.read_timeout)
            .user_agent(self.settings.user_agent.as_str())
            .build()
            .map_err(|source| DownloadError::ClientBuild { source })?;
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
    /// Connection failures, timeouts before the response and `5xx`/`429` answers are retried
    /// up to [`ClientSettings::retries`] times with backoff (honouring `Retry-After`); `4xx`
    /// answers fail at once. Only `http` and `https` URLs are accepted: local files are the
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
    pub async fn get_accepting(
        &self,
        url: &Url,
        cached: Option<&CachePolicy>,
        accept: Option<&'static str>,
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

        let client = self.client()?;
        let backoff = Backoff {
            initial: self.settings.initial_backoff,
            max: self.settings.max_backoff,
        };
        let max_attempts = self.settings.retries.saturating_add(1);
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(client, url, &redacted, cached, accept).await {
                Ok(fetched) => return Ok(fetched),
                Err(failure) => failure,
            };
            if !failure.is_retryable() || attempt >= max_attempts {
                return Err(failure.into_error(redacted, Attempts(attempt), &self.settings));
            }
            let delay = backoff.delay(attempt, failure.retry_after());
            tracing::warn!(
                url = %redacted,
                attempt,
                max_attempts,
                ?delay,
                problem = %failure,
                "retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
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
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        if let Some(policy) = cached {
            request = request.headers(policy.conditional_headers());
        }
        tracing::debug!(url = %redacted, conditional = cached.is_some(), "GET");
        let response = match request.send().await {
            Ok(response) => response,
            // reqwest stores the URL in its error and prints it; ours is the redacted one.
            Err(err) => return Err(Failure::Transport(err.without_url())),
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
    Transport(reqwest::Error),
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
            Self::Transport(err) => write!(f, "{}", Chain(err)),
            Self::ServerStatus { status, .. } | Self::Status(status) => write!(f, "HTTP {status}"),
        }
    }
}
