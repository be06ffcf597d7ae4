//! Filesystem primitives for the cairn package cache.
//!
//! - [`ContentDigest`]: a validated digest and its sharded content-addressed path (`ab/cdef…`);
//! - [`write_atomic`]: durable, all-or-nothing file writes (temp file, fsync, rename, fsync dir);
//! - [`persist_dir`]: publish a fully written temp directory under its final name, once;
//! - [`LockedFile`]: cross-process shared and exclusive file locks with timeouts.
//!
//! This crate knows nothing of buckets, pointers or wheels: it deals in paths and bytes.

mod atomic;
mod digest;
mod error;
mod lock;
mod persist;

pub use atomic::{TEMP_PREFIX, write_atomic};
pub use digest::{ContentDigest, DigestEncoding, DigestError};
pub use error::FsError;
pub use lock::{LockError, LockMode, LockedFile};
pub use persist::{PersistOutcome, persist_dir};
