//! Filesystem primitives for the cairn package cache.
//!
//! - [`ContentDigest`]: a validated digest and its sharded content-addressed path (`ab/cdef…`);
//! - [`write_atomic`]: durable, all-or-nothing file writes (temp file, fsync, rename, fsync dir);
//! - [`persist_dir`]: publish a fully written temp directory under its final name, once;
//! - [`LockedFile`]: cross-process shared and exclusive file locks with timeouts;
//! - [`mark_top_of_hierarchies`]: ask ext4 to spread a directory's subtrees over the disk;
//! - [`link`]: link files and trees from the cache into a target (clone, hardlink, copy,
//!   symlink) with a fallback ladder decided once per operation.
//!
//! This crate knows nothing of buckets, pointers or wheels: it deals in paths and bytes.

mod atomic;
mod digest;
mod error;
pub mod link;
mod lock;
mod persist;
mod placement;

pub use atomic::{TEMP_PREFIX, write_atomic};
pub use digest::{ContentDigest, DigestEncoding, DigestError};
pub use error::FsError;
pub use link::{LinkDir, LinkError, LinkMode, LinkOutcome, Linker, link_file, link_tree};
pub use lock::{LockError, LockMode, LockedFile};
pub use persist::{PersistOutcome, persist_dir};
pub use placement::mark_top_of_hierarchies;
