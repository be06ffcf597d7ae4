//! A response body read as it arrives, with failures turned into [`DownloadError::Body`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncRead;
use tokio_util::io::StreamReader;
use url::Url;

use super::error::{BodyFailure, DownloadError, TransportError};
use super::policy::CachePolicy;
use cairn_types::RedactedUrl;

/// A `200` response whose body has not been read yet.
///
/// Read it inside the Tokio runtime that made the request, with timers enabled: the read
/// timeout runs on Tokio's timer (see [`HttpClient`](super::HttpClient#runtime)).
#[derive(Debug)]
pub struct Download {
    /// What to store with the body to revalidate it later; `None` if the server forbade storing
    /// it (`Cache-Control: no-store`).
    pub policy: Option<CachePolicy>,
    /// The body's length, if the server announced it.
    pub content_length: Option<u64>,
    /// The URL the body came from, after redirects (without credentials).
    pub final_url: Url,
    /// The response's `Content-Type`, if it sent one that is text: says what a body that is
    /// not what was asked for (an HTML error page) is.
    pub content_type: Option<String>,
    response: reqwest::Response,
    url: RedactedUrl,
    read_timeout: Duration,
}

impl Download {
    pub(crate) fn new(
        response: reqwest::Response,
        policy: Option<CachePolicy>,
        url: RedactedUrl,
        read_timeout: Duration,
    ) -> Self {
        Self {
            policy,
            content_length: response.content_length(),
            final_url: response.url().clone(),
            content_type: response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            response,
            url,
            read_timeout,
        }
    }

    /// The body as a reader that yields bytes as they arrive, holding at most one network
    /// chunk in memory.
    ///
    /// A failure (no bytes for longer than the read timeout, a connection closed midway, a
    /// body shorter than its `Content-Length`) is an [`io::Error`] wrapping a
    /// [`DownloadError::Body`] that names the URL; get it back with
    /// [`DownloadError::from_io_error`]. The reader then keeps failing rather than report a
    /// premature end of file.
    pub fn into_async_read(self) -> impl AsyncRead + Send + Unpin {
        StreamReader::new(self.into_chunks())
    }

    /// The body as the chunks the connection delivers, handed on without copying them; the
    /// failures are those of [`Download::into_async_read`].
    pub fn into_chunks(self) -> impl Stream<Item = io::Result<Bytes>> + Send + Unpin {
        CheckedBody {
            chunks: self.response.bytes_stream(),
            url: self.url,
            received: 0,
            expected: self.content_length,
            read_timeout: self.read_timeout,
            failed: false,
        }
    }
}

/// Body chunks with their errors mapped and their total checked against `Content-Length`.
struct CheckedBody<S> {
    chunks: S,
    url: RedactedUrl,
    received: u64,
    expected: Option<u64>,
    read_timeout: Duration,
    failed: bool,
}

impl<S> CheckedBody<S> {
    fn fail(&mut self, reason: BodyFailure) -> io::Error {
        self.failed = true;
        let kind = match &reason {
            BodyFailure::Stalled(_) => io::ErrorKind::TimedOut,
            BodyFailure::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            BodyFailure::Transport(err) => err.io_error_kind().unwrap_or(io::ErrorKind::Other),
            _ => io::ErrorKind::Other,
        };
        tracing::debug!(url = %self.url, received = self.received, %reason, "body failed");
        io::Error::new(
            kind,
            DownloadError::Body {
                url: self.url.clone(),
                received: self.received,
                reason,
            },
        )
    }
}

impl<S, B> Stream for CheckedBody<S>
where
    S: Stream<Item = reqwest::Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    type Item = io::Result<B>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(Some(Err(this.fail(BodyFailure::AlreadyFailed))));
        }
        match ready!(Pin::new(&mut this.chunks).poll_next(cx)) {
            Some(Ok(chunk)) => {
                this.received += chunk.as_ref().len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(err)) => {
                let reason = if err.is_timeout() {
                    BodyFailure::Stalled(this.read_timeout)
                } else {
                    BodyFailure::Transport(TransportError::reqwest(err))
                };
                Poll::Ready(Some(Err(this.fail(reason))))
            }
            None => match this.expected {
                // hyper already refuses a short HTTP/1.1 body; this catches any other path.
                Some(expected) if this.received < expected => {
                    Poll::Ready(Some(Err(this.fail(BodyFailure::Truncated { expected }))))
                }
                _ => Poll::Ready(None),
            },
        }
    }
}
