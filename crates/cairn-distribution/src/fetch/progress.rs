//! Progress reporting: the fetch pipeline says what it is doing; the caller decides how to
//! show it (the CLI draws bars on a terminal, libraries may ignore it).

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
