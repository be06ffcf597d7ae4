//! An async reader that hashes every byte passing through it (the `tokio` feature).
//!
//! Like [`HashingReader`](crate::HashingReader), it passes the caller's buffer straight to the
//! inner reader and hashes exactly the bytes it filled.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::hasher_set::HasherSet;
use super::hashes::Hashes;

/// Wraps a [`tokio::io::AsyncRead`] and feeds every byte read through it to a [`HasherSet`].
#[derive(Debug)]
pub struct HashingAsyncReader<R> {
    inner: R,
    hashers: HasherSet,
}

impl<R: AsyncRead + Unpin> HashingAsyncReader<R> {
    /// Hashes what is read from `inner` with `hashers`.
    pub const fn new(inner: R, hashers: HasherSet) -> Self {
        Self { inner, hashers }
    }

    /// How many bytes have been read (and hashed) so far.
    pub const fn bytes_seen(&self) -> u64 {
        self.hashers.bytes_seen()
    }

    /// The inner reader. Reading from it directly bypasses the hashers.
    pub const fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The digests of everything read so far. Read to the end first to hash the whole stream.
    pub fn finish(self) -> Hashes {
        self.hashers.finalize()
    }

    /// The inner reader and the digests of everything read so far.
    pub fn into_parts(self) -> (R, Hashes) {
        (self.inner, self.hashers.finalize())
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HashingAsyncReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let already_filled = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            // Only the bytes this call added: the caller may pass a partly filled buffer.
            if let Some(added) = buf.filled().get(already_filled..) {
                this.hashers.update(added);
            }
        }
        poll
    }
}
