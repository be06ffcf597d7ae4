//! Progress reporting: the fetch pipeline says what it is doing; the caller decides how to
//! show it (the CLI draws bars on a terminal, libraries may ignore it).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// Receives progress events. Every method has an empty default, so implementations pick what
/// they show. Called from several threads at once.
pub trait Reporter: Send + Sync {
    /// A download of `name` started; `total` is its size if the server announced it.
    fn download_started(&self, id: u64, name: &str, total: Option<u64>) {
        let _ = (id, name, total);
    }
    /// `bytes` more bytes of download `id` arrived.
    fn download_progress(&self, id: u64, bytes: u64) {
        let _ = (id, bytes);
    }
    /// Download `id` ended (successfully or not).
    fn download_finished(&self, id: u64) {
        let _ = id;
    }
    /// Unpacking of a local wheel `name` started.
    fn unpack_started(&self, id: u64, name: &str) {
        let _ = (id, name);
    }
    /// Unpacking `id` ended (successfully or not).
    fn unpack_finished(&self, id: u64) {
        let _ = id;
    }
}

/// A reporter that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Reporter for Silent {}

/// Identifies one download or unpack in reporter calls.
pub(super) fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Reports the bytes read through it as download progress.
pub(super) struct ProgressReader<R> {
    inner: R,
    reporter: Arc<dyn Reporter>,
    id: u64,
}

impl<R> ProgressReader<R> {
    pub(super) fn new(inner: R, reporter: Arc<dyn Reporter>, id: u64) -> Self {
        Self {
            inner,
            reporter,
            id,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for ProgressReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.reporter.download_progress(self.id, read as u64);
        }
        poll
    }
}
