//! Filesystem primitives for the cairn package cache.
//!
//! - [`ContentDigest`]: a validated digest and its sharded content-addressed path (`ab/cdef…`);
//! - [`write_atomic`]: durable, all-or-nothing file writes (temp file, fsync, rename, fsync dir);
//! - [`persist_dir`]: publish a fully written temp directory under its final name, once;
//! - [`LockedFile`]: cross-process shared and exclusive file locks with timeouts;
//! - [`create_dir_all`], [`temp_dir_in`]: directories never writable by other users whatever
//!   the umask, and writable by the group inside a shared (setgid, group-writable) directory;
//! - [`mark_top_of_hierarchies`]: ask ext4 to spread a directory's subtrees over the disk;
//! - [`link`]: link files and trees from the cache into a target (clone, hardlink, copy,
//!   symlink) with a fallback ladder decided once per operation.
//!
//! This crate knows nothing of buckets, pointers or wheels: it deals in paths and bytes.
//!
//! Publish a directory under its content digest, then link it into a target:
//!
//! ```
//! use cairn_fs::{ContentDigest, LinkMode, PersistOutcome, link_tree, persist_dir};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = tempfile::tempdir()?;
//! let digest = ContentDigest::hex("ab12cd34ef567890")?;
//! let dest = digest.sharded_path(&root.path().join("archives"));
//!
//! // Written in full under a temporary name in the same filesystem, then renamed once.
//! let temp = tempfile::tempdir_in(root.path())?;
//! std::fs::create_dir(temp.path().join("demo"))?;
//! std::fs::write(temp.path().join("demo/__init__.py"), "VALUE = 1\n")?;
//! assert_eq!(persist_dir(temp, &dest)?, PersistOutcome::Persisted);
//!
//! // Clone if the filesystem can, else hard-link, else copy.
//! let target = root.path().join("site-packages");
//! let outcome = link_tree(&dest, &target, LinkMode::Clone)?;
//! assert_eq!(outcome.files, 1);
//! assert!(target.join("demo/__init__.py").is_file());
//! # Ok(())
//! # }
//! ```

mod atomic;
mod digest;
mod error;
pub mod link;
mod lock;
mod permissions;
mod persist;
mod placement;
mod relative;

pub use atomic::{TEMP_PREFIX, write_atomic};
pub use digest::{ContentDigest, DigestEncoding, DigestError};
pub use error::FsError;
pub use link::{Link, LinkDir, LinkError, LinkMode, LinkOutcome, Linker, link_file, link_tree};
pub use lock::{LockError, LockMode, LockedFile};
pub use permissions::{create_dir_all, is_shared, is_shared_dir, share, share_tree, temp_dir_in};
pub use persist::{PersistOutcome, persist_dir};
pub use placement::mark_top_of_hierarchies;
pub use relative::relative_inside;
