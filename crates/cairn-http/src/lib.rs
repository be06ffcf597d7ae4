//! The HTTP layer: one GET with timeouts, bounded retries and cache revalidation, streamed.
//!
//! [`HttpClient::get`] turns a URL and the [`CachePolicy`] stored with an earlier response into
//! a [`Fetched`]: the cached copy is still fresh and no request was made, or the server said
//! `304 Not Modified`, or a new body arrives as a [`Download`] whose bytes are read as they come
//! through [`Download::into_async_read`], never buffered whole.
//!
//! Connection failures, timeouts before the response and `5xx`/`429` answers are retried with
//! exponential backoff and jitter; `4xx` answers are not. A body that breaks off midway is not
//! retried here, because the caller has already consumed part of it: it surfaces as
//! [`DownloadError::Body`], which is [retryable](DownloadError::is_retryable) by restarting the
//! whole fetch. One [`RetryBudget`] per request, shared by the client's retries and the
//! caller's restarts ([`HttpClient::get_with_budget`]), bounds the attempts and the time spent
//! retrying; `CAIRN_HTTP_RETRIES` and `CAIRN_HTTP_TIMEOUT` set them
//! ([`ClientSettings::from_env`]).
//!
//! A request that negotiates a format ([`HttpClient::get_accepting`]: index pages) accepts a
//! gzip-compressed answer and reads it inflated; any other request (wheels, already compressed,
//! whose digests and `Content-Length` are of the stored bytes) asks for `identity`.
//!
//! Credentials in a URL (`https://user:token@host/`) are sent as basic auth and replaced by
//! `****` wherever a URL is shown: errors and logs only ever hold a [`RedactedUrl`].
//!
//! The requests go through a reqwest client: cairn's own ([`HttpClient::new`]), whose TLS
//! configuration passes its crypto provider explicitly and installs nothing process-wide, or
//! the caller's ([`HttpClient::from_reqwest`]), for a proxy, extra root certificates or
//! authentication. Either way they run on Tokio, in a runtime with timers enabled (see
//! [`HttpClient`]'s documentation).
//!
//! Errors name what failed and keep the cause as their [`source`](std::error::Error::source),
//! so that printing the chain shows each cause once. What the transport reported is a
//! [`TransportError`], which says whether it was a timeout or a connection failure.
//!
//! Building a client touches neither the network nor the system certificates; an offline
//! client answers only from what the caller cached:
//!
//! ```
//! use cairn_http::{ClientSettings, DownloadError, HttpClient};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = ClientSettings { offline: true, ..ClientSettings::default() };
//! let client = HttpClient::new(settings)?;
//! let url = "https://user:token@files.example.org/demo-1.0-py3-none-any.whl".parse()?;
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let error = runtime.block_on(client.get(&url, None)).unwrap_err();
//! assert!(matches!(error, DownloadError::Offline { .. }));
//! assert!(!error.is_retryable());
//! assert!(!error.to_string().contains("token"));
//! # Ok(())
//! # }
//! ```
//!
//! A download, streamed to a file as it arrives (this one needs a server):
//!
//! ```no_run
//! use cairn_http::{ClientSettings, Fetched, HttpClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = HttpClient::new(ClientSettings::default())?;
//! let url = "https://files.example.org/demo-1.0-py3-none-any.whl".parse()?;
//! if let Fetched::Body(download) = client.get(&url, None).await? {
//!     let mut body = download.into_async_read();
//!     let mut file = tokio::fs::File::create("demo-1.0-py3-none-any.whl").await?;
//!     tokio::io::copy(&mut body, &mut file).await?;
//! }
//! # Ok(())
//! # }
//! ```

mod body;
mod client;
mod error;
mod policy;
mod retry;
mod settings;

pub use body::Download;
pub use cairn_types::RedactedUrl;
pub use client::{Fetched, HttpClient};
pub use error::{
    Attempts, BodyFailure, DownloadError, PolicyBytesError, PolicyCodecError, TransportError,
};
pub use policy::{CachePolicy, Freshness};
pub use retry::RetryBudget;
pub use settings::{ClientSettings, SettingsError};
