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
//! whole fetch.
//!
//! Credentials in a URL (`https://user:token@host/`) are sent as basic auth and replaced by
//! `****` wherever a URL is shown: errors and logs only ever hold a [`RedactedUrl`].

mod body;
mod client;
mod error;
mod policy;
mod retry;
mod settings;

pub use body::Download;
pub use cairn_types::RedactedUrl;
pub use client::{Fetched, HttpClient};
pub use error::{Attempts, BodyFailure, DownloadError, PolicyBytesError};
pub use policy::{CachePolicy, Freshness};
pub use settings::ClientSettings;
