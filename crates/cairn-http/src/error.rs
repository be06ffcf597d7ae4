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
    #[error(
        "cannot connect to {url} ({attempts}): {}; check the URL, your network and proxy \
         settings",
        Chain(.source)
    )]
    Connect {
        /// The URL.
        url: RedactedUrl,
        /// How many times it was tried.
        attempts: Attempts,
        /// What the transport reported on the last attempt.
        source: reqwest::Error,
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
        source: reqwest::Error,
    },
    /// The request failed after connecting, before a response arrived (a protocol error or a
    /// connection reset).
    #[error("request for {url} failed ({attempts}): {}", Chain(.source))]
    Request {
        /// The URL.
        url: RedactedUrl,
        /// How many times it was tried.
        attempts: Attempts,
        /// What the transport reported on the last attempt.
        source: reqwest::Error,
    },
    /// Following the redirects failed (a loop, too many hops, or an unusable `Location`).
    #[error("cannot follow the redirects of {url}: {}; check the URL", Chain(.source))]
    Redirect {
        /// The URL.
        url: RedactedUrl,
        /// What went wrong.
        source: reqwest::Error,
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
    #[error("cannot set up the HTTP client: {}", Chain(.source))]
    ClientBuild {
        /// What reqwest reported.
        source: reqwest::Error,
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
            | Self::ClientBuild { .. } => false,
        }
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
            | Self::Body { url, .. } => Some(url),
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
    #[error("{}", Chain(.0))]
    Transport(reqwest::Error),
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
    #[error("the stored cache policy is corrupt ({source}); the entry will be fetched again")]
    Corrupt {
        /// What validation found.
        source: rkyv::rancor::Error,
    },
    /// Serialising the policy failed.
    #[error("cannot serialise a cache policy: {source}")]
    Encode {
        /// What rkyv reported.
        source: rkyv::rancor::Error,
    },
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
