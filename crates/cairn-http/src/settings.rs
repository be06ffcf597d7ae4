//! What the caller can tune about the HTTP client.

use std::time::Duration;

/// Settings for an [`HttpClient`](super::HttpClient).
///
/// There is deliberately no total timeout: a large wheel on a slow link may take minutes, and the
/// read timeout already catches a transfer that has stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// How long establishing a connection (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long a request may wait for its response headers (connecting included), and then
    /// for each further piece of the body.
    pub read_timeout: Duration,
    /// How many times a failed request is tried again (so `retries + 1` attempts in all).
    pub retries: u32,
    /// The delay before the first retry; each further retry doubles it, up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts, also the cap on a server's `Retry-After`.
    pub max_backoff: Duration,
    /// Never touch the network: answer only from the cache.
    pub offline: bool,
    /// The `User-Agent` header sent with every request.
    pub user_agent: String,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            offline: false,
            user_agent: concat!("cairn/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}
