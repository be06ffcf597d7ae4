//! A stream of byte chunks that hashes every chunk passing through it.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;

use super::hasher_set::HasherSet;
use super::hashes::Hashes;

/// Wraps a stream of byte chunks, such as an HTTP body's, and feeds every chunk it yields to a
/// [`HasherSet`] before passing it on unchanged: the async counterpart of
/// `HashingAsyncReader` for consumers that take chunks whole.
///
/// ```
/// use bytes::Bytes;
/// use cairn_hash::{HashAlgorithm, HasherSet, HashingStream};
/// use futures_util::{StreamExt, stream};
///
/// # futures_util::FutureExt::now_or_never(async {
/// let parts: [&'static [u8]; 2] = [b"ab", b"c"];
/// let chunks = stream::iter(parts.map(|part| Ok::<_, std::io::Error>(Bytes::from_static(part))));
/// let mut hashing = HashingStream::new(chunks, HasherSet::new(&[HashAlgorithm::Sha256]));
/// while let Some(chunk) = hashing.next().await {
///     chunk?;
/// }
/// let hashes = hashing.finish();
/// assert_eq!(hashes.bytes, 3);
/// assert_eq!(hashes.blake3.to_hex(), blake3::hash(b"abc").to_hex().as_str());
/// # Ok::<_, std::io::Error>(())
/// # }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct HashingStream<S> {
    inner: S,
    hashers: HasherSet,
}

impl<S> HashingStream<S> {
    /// Hashes what `inner` yields with `hashers`.
    pub const fn new(inner: S, hashers: HasherSet) -> Self {
        Self { inner, hashers }
    }

    /// How many bytes have passed (and been hashed) so far.
    pub const fn bytes_seen(&self) -> u64 {
        self.hashers.bytes_seen()
    }

    /// The digests of everything that passed. Poll the stream to its end first to hash it all.
    pub fn finish(self) -> Hashes {
        self.hashers.finalize()
    }
}

impl<S, B, E> Stream for HashingStream<S>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    type Item = Result<B, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &poll {
            this.hashers.update(chunk.as_ref());
        }
        poll
    }
}
