//! Why a download failed. Every error names the URL, with its credentials hidden, and says what
//! the user can do.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use cairn_types::RedactedUrl;

/// A failed download.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The URL is not one this client fetches (`file:` and other non-HTTP schemes, or no host).
    #[error("cannot download {url}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: RedactedUrl,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The resource is not cached and the client was told not to use the network.
    #[error(
        "{url} is not in the cache and offline mode forbids downloading it: drop --offline to \
         fetch it"
    )]
    Offline {
        /// The URL.
        url: RedactedUrl,
    },
    /// No connection could be established (DNS, refused, TLS, connect timeout).
    #[error("cannot connect to {url} ({attempts}); check the URL, your network and proxy settings")]
    Connect {
        /// The URL.
        url: RedactedUrl,
        /// How many times it was tried.
        attempts: Attempts,
        /// What the transport reported on the last attempt.
        #[source]
        source: TransportError,
    },
    /// The server accepted the connection but sent no response within the read timeout.
    #[error(
        "{url} sent no response within {timeout:?} ({attempts}): the server or the network is \
         slow or down; try again later or raise the read timeout"
    )]
    Timeout {
        /// The URL.
        url: RedactedUrl,
        /// How many times it was tried.
        attempts: Attempts,
        /// The read timeout that expired.
        timeout: Duration,
        /// What the transport reported on the last attempt.
        #[source]
        source: TransportError,
    },
    /// The request failed after connecting, before a response arrived (a protocol error or a
    /// connection reset).
    #[error("the request for {url} failed ({attempts})")]
    Request {
        /// The URL.
        url: RedactedUrl,
        /// How many times it was tried.
        attempts: Attempts,
        /// What the transport reported on the last attempt.
        #[source]
        source: TransportError,
    },
    /// Following the redirects failed (a loop, too many hops, or an unusable `Location`).
    #[error("cannot follow the redirects of {url}; check the URL")]
    Redirect {
        /// The URL.
        url: RedactedUrl,
        /// What went wrong.
        #[source]
        source: TransportError,
    },
    /// The server answered with a status that retrying will not change (`4xx`, or a status
    /// that makes no sense for a GET).
    #[error("{}", status_message(url, *status))]
    Status {
        /// The URL.
        url: RedactedUrl,
        /// The HTTP status code.
        status: u16,
    },
    /// The server kept answering `5xx` or `429` until the retries ran out.
    #[error(
        "{url} answered HTTP {} on every attempt ({attempts}): the server is failing or \
         overloaded; try again later",
        StatusText(*status)
    )]
    ServerError {
        /// The URL.
        url: RedactedUrl,
        /// The status of the last answer.
        status: u16,
        /// How many times it was tried.
        attempts: Attempts,
    },
    /// The body broke off after the response had started: the caller may have consumed part
    /// of it, so only restarting the whole fetch can help.
    #[error("the download of {url} broke off after {received} bytes: {reason}; try again")]
    Body {
        /// The URL.
        url: RedactedUrl,
        /// How many body bytes had arrived.
        received: u64,
        /// What went wrong.
        reason: BodyFailure,
    },
    /// The HTTP client could not be built (TLS configuration or system certificates).
    #[error(
        "cannot set up the HTTP client; check the system's CA certificates and the TLS settings"
    )]
    ClientBuild {
        /// What the TLS setup or reqwest reported.
        #[source]
        source: TransportError,
    },
    /// [`HttpClient::get`](super::HttpClient::get) was polled outside a Tokio runtime, which
    /// the connections, the timeouts and the retry delays all need.
    #[error(
        "cannot download {url}: no Tokio runtime is running; call it from within a Tokio \
         runtime built with timers enabled (`enable_all`)"
    )]
    NoRuntime {
        /// The URL.
        url: RedactedUrl,
    },
}

impl DownloadError {
    /// Whether the failure is transient, so that fetching again later may succeed.
    ///
    /// [`HttpClient::get`](super::HttpClient::get) has already retried connection failures,
    /// timeouts and server errors before returning them; a caller that restarts a fetch (after
    /// [`DownloadError::Body`], typically) should do so a bounded number of times.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::Request { .. }
            | Self::ServerError { .. }
            | Self::Body { .. } => true,
            Self::InvalidUrl { .. }
            | Self::Offline { .. }
            | Self::Redirect { .. }
            | Self::Status { .. }
            | Self::ClientBuild { .. }
            | Self::NoRuntime { .. } => false,
        }
    }

    /// The HTTP status of the answer that failed, if the server answered at all
    /// ([`DownloadError::Status`] and [`DownloadError::ServerError`]).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::ServerError { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the failure is a timeout: no response within the read timeout, or a body that
    /// stalled, or a connection that was not established within the connect timeout.
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Timeout { .. }
            | Self::Body {
                reason: BodyFailure::Stalled(_),
                ..
            } => true,
            Self::Connect { source, .. } => source.is_timeout(),
            _ => false,
        }
    }

    /// Whether no connection could be established ([`DownloadError::Connect`]).
    pub fn is_connect(&self) -> bool {
        matches!(self, Self::Connect { .. })
    }

    /// The download error inside an I/O error returned by a [`Download`](super::Download)'s
    /// reader, if it is one.
    pub fn from_io_error(err: &io::Error) -> Option<&Self> {
        err.get_ref()?.downcast_ref::<Self>()
    }

    /// The URL that failed, if the error concerns one.
    pub fn url(&self) -> Option<&RedactedUrl> {
        match self {
            Self::InvalidUrl { url, .. }
            | Self::Offline { url }
            | Self::Connect { url, .. }
            | Self::Timeout { url, .. }
            | Self::Request { url, .. }
            | Self::Redirect { url, .. }
            | Self::Status { url, .. }
            | Self::ServerError { url, .. }
            | Self::Body { url, .. }
            | Self::NoRuntime { url } => Some(url),
            Self::ClientBuild { .. } => None,
        }
    }
}

/// Why a response body broke off.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyFailure {
    /// No bytes arrived for longer than the read timeout.
    #[error("no data arrived for {0:?}, the server stalled")]
    Stalled(Duration),
    /// The stream ended cleanly but short of its announced `Content-Length`.
    #[error("the body ended before its announced length of {expected} bytes")]
    Truncated {
        /// The `Content-Length`.
        expected: u64,
    },
    /// The connection failed or the server closed it midway.
    #[error("{0}")]
    Transport(TransportError),
    /// The body was read again after an earlier read had failed.
    #[error("an earlier read of this body failed")]
    AlreadyFailed,
}

/// A [`CachePolicy`](super::CachePolicy) could not be turned into bytes or read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyBytesError {
    /// The bytes do not start with the policy format tag: another file, or a policy written by
    /// a different version of cairn.
    #[error(
        "the stored cache policy is not in the format this version of cairn writes; the entry \
         will be fetched again"
    )]
    UnknownFormat,
    /// The bytes carry the right tag but fail validation.
    #[error("the stored cache policy is corrupt; the entry will be fetched again")]
    Corrupt {
        /// What validation found.
        #[source]
        source: PolicyCodecError,
    },
    /// Serialising the policy failed.
    #[error("cannot serialise a cache policy")]
    Encode {
        /// What the serialiser reported.
        #[source]
        source: PolicyCodecError,
    },
}

/// What the transport (reqwest, hyper, rustls, the operating system) reported for a failed
/// request, connection or client setup.
///
/// Its message is the whole chain of causes the transport reported, each said once: the
/// outermost ("error sending request") is vague, the useful part ("connection refused",
/// "invalid peer certificate") is deeper. Because the message already holds them, it reports
/// no [`source`](StdError::source) of its own, so that a report that prints the chain of an
/// error shows each cause once. URLs are never part of it: the error that holds it names the
/// URL, with its credentials hidden.
#[derive(Debug)]
// Boxed, one pointer: every failing variant of `DownloadError` holds one.
pub struct TransportError(Box<TransportRepr>);

#[derive(Debug)]
enum TransportRepr {
    Reqwest(reqwest::Error),
    Tls(rustls::Error),
}

impl TransportError {
    pub(crate) fn reqwest(err: reqwest::Error) -> Self {
        // reqwest stores the URL in its error and prints it; ours is the redacted one.
        Self(Box::new(TransportRepr::Reqwest(err.without_url())))
    }

    pub(crate) fn tls(err: rustls::Error) -> Self {
        Self(Box::new(TransportRepr::Tls(err)))
    }

    /// Whether a timeout expired (the connect timeout, or the read timeout).
    pub fn is_timeout(&self) -> bool {
        match &*self.0 {
            TransportRepr::Reqwest(err) => err.is_timeout(),
            TransportRepr::Tls(_) => false,
        }
    }

    /// Whether the failure happened while connecting (DNS, refused, TLS handshake).
    pub fn is_connect(&self) -> bool {
        match &*self.0 {
            TransportRepr::Reqwest(err) => err.is_connect(),
            TransportRepr::Tls(_) => false,
        }
    }

    /// Whether following a redirect failed.
    pub fn is_redirect(&self) -> bool {
        match &*self.0 {
            TransportRepr::Reqwest(err) => err.is_redirect(),
            TransportRepr::Tls(_) => false,
        }
    }

    /// Whether the client or the request could not be built (a configuration problem rather
    /// than a network one, so retrying will not help).
    pub fn is_builder(&self) -> bool {
        match &*self.0 {
            TransportRepr::Reqwest(err) => err.is_builder(),
            TransportRepr::Tls(_) => true,
        }
    }

    /// The kind of the first I/O error among the causes (hyper reports a body cut short as
    /// `UnexpectedEof`, a reset as `ConnectionReset`), if there is one.
    pub fn io_error_kind(&self) -> Option<io::ErrorKind> {
        let mut source = self.inner().source();
        while let Some(inner) = source {
            if let Some(io_err) = inner.downcast_ref::<io::Error>() {
                return Some(io_err.kind());
            }
            source = inner.source();
        }
        None
    }

    fn inner(&self) -> &(dyn StdError + 'static) {
        match &*self.0 {
            TransportRepr::Reqwest(err) => err,
            TransportRepr::Tls(err) => err,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Chain(self.inner()).fmt(f)
    }
}

impl StdError for TransportError {}

/// What the serialiser reported when a [`CachePolicy`](super::CachePolicy) could not be turned
/// into bytes or read back.
#[derive(Debug)]
pub struct PolicyCodecError(rkyv::rancor::Error);

impl PolicyCodecError {
    pub(crate) fn new(err: rkyv::rancor::Error) -> Self {
        Self(err)
    }
}

impl fmt::Display for PolicyCodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for PolicyCodecError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

/// A number of attempts, displayed as "1 attempt" or "4 attempts".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Attempts(pub u32);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 attempt"),
            n => write!(f, "{n} attempts"),
        }
    }
}

/// An error followed by its sources, `: `-separated.
///
/// reqwest's own message is as vague as "error sending request"; the useful part ("connection
/// refused", "invalid peer certificate") is further down the chain, where a plain `Display`
/// never looks.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.0.to_string();
        f.write_str(&previous)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            let text = err.to_string();
            // Wrappers often repeat their inner error's text verbatim; say it once.
            if !previous.contains(&text) {
                write!(f, ": {text}")?;
            }
            previous = text;
            source = err.source();
        }
        Ok(())
    }
}

/// A status code with its reason phrase, "404 Not Found".
struct StatusText(u16);

impl fmt::Display for StatusText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = reqwest::StatusCode::from_u16(self.0)
            .ok()
            .and_then(|status| status.canonical_reason());
        match reason {
            Some(reason) => write!(f, "{} {reason}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

fn status_message(url: &RedactedUrl, status: u16) -> String {
    let status_text = StatusText(status);
    match status {
        404 | 410 => format!(
            "{url} was not found (HTTP {status_text}): check the URL, the package name and \
             version, and the index"
        ),
        401 | 403 | 407 => format!(
            "{url} refused access (HTTP {status_text}): check the URL and the credentials for \
             this index"
        ),
        400..=499 => format!(
            "{url} rejected the request (HTTP {status_text}): check the URL and the credentials \
             for this index"
        ),
        _ => format!("{url} answered HTTP {status_text}, which a download cannot use"),
    }
}
