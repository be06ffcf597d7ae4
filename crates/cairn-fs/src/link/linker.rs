//! The linker: one fallback ladder shared by every file of an operation.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

use super::failure::{Failure, classify};
use super::file_op::{Pair, link_pair};
use super::{LinkDir, LinkError, LinkMode, LinkOutcome, tree};

/// How an installer makes one cached file appear in its target: the seam a caller implements to
/// link another way (to count or log links, or to use a method of its own). [`Linker`] is
/// cairn's implementation, with the clone → hardlink → copy ladder.
///
/// Implementations are shared by reference across the threads of an install.
pub trait Link: std::fmt::Debug + Send + Sync {
    /// The mode the next file will be linked with; reported for wheels that linked no file.
    fn mode(&self) -> LinkMode;

    /// Makes the regular file named `src` in `src_dir` appear as the new name `dst` in
    /// `dst_dir`, and returns the mode that produced it. `dst` must not exist.
    ///
    /// # Errors
    ///
    /// A [`LinkError`] naming both paths. An installer undoes the whole install on error.
    fn link_at(
        &self,
        src_dir: &LinkDir,
        src: &OsStr,
        dst_dir: &LinkDir,
        dst: &OsStr,
    ) -> Result<LinkMode, LinkError>;
}

impl Link for Linker {
    fn mode(&self) -> LinkMode {
        Self::mode(self)
    }

    fn link_at(
        &self,
        src_dir: &LinkDir,
        src: &OsStr,
        dst_dir: &LinkDir,
        dst: &OsStr,
    ) -> Result<LinkMode, LinkError> {
        Self::link_at(self, src_dir, src, dst_dir, dst)
    }
}

/// Links files and trees from the cache into targets, deciding the fallback ladder once.
///
/// A linker starts on the rung of the requested mode. The first file whose transfer fails
/// because the filesystem cannot do that mode (no reflink support, two different filesystems,
/// no hard links) moves the linker down one rung, clone → hardlink → copy, and every later
/// file, in this tree or any other linked through the same linker, starts on the new rung: an
/// install of many archives pays for the failed attempt once, not per file. Requested
/// [`LinkMode::Copy`] never links and requested [`LinkMode::Symlink`] never falls back.
///
/// A file whose inode has reached the filesystem's hard-link limit is copied instead, without
/// moving the ladder.
///
/// Until the first file is linked, a clone or hardlink linker links files one at a time, so
/// that threads starting together on a filesystem that cannot clone spend one failed attempt
/// between them, not one each. After that the linker takes no lock.
///
/// The linker is `Sync`; share one by reference across the threads of an install.
#[derive(Debug)]
pub struct Linker {
    requested: LinkMode,
    /// The rung every new file starts on; it only ever moves down.
    rung: AtomicU8,
    /// Set once a file has been linked: the rung it settled on is then known to work.
    settled: AtomicBool,
    /// Held while probing, before `settled`.
    probe: Mutex<()>,
}

impl Default for Linker {
    fn default() -> Self {
        Self::new(LinkMode::default())
    }
}

/// How one file ended up linked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linked {
    /// The mode that produced the destination.
    pub(crate) mode: LinkMode,
    /// The file was copied because its inode hit the hard-link limit.
    pub(crate) after_link_limit: bool,
    /// Attempts that failed because the filesystem cannot do a mode.
    pub(crate) fallbacks: u64,
}

impl Linker {
    /// A linker that starts on `requested`.
    pub const fn new(requested: LinkMode) -> Self {
        Self {
            requested,
            rung: AtomicU8::new(requested.to_u8()),
            // With nowhere to fall, there is nothing to probe.
            settled: AtomicBool::new(requested.fallback().is_none()),
            probe: Mutex::new(()),
        }
    }

    /// The mode this linker was asked for.
    pub const fn requested(&self) -> LinkMode {
        self.requested
    }

    /// The mode the next file will be tried with: the requested one until a filesystem refused
    /// it, then the rung the ladder settled on.
    pub fn mode(&self) -> LinkMode {
        LinkMode::from_u8(self.rung.load(Ordering::Acquire))
    }

    /// Link the regular file `src` to `dst`, which must not exist, and return the mode that
    /// produced `dst` ([`LinkMode::Copy`] also when the hard-link limit forced a copy).
    ///
    /// # Errors
    ///
    /// [`LinkError::UnsupportedSourceEntry`] if `src` is a directory, symlink or special file;
    /// [`LinkError::DestinationExists`] if anything exists at `dst`; otherwise any failure that
    /// the ladder does not absorb.
    pub fn link_file(&self, src: &Path, dst: &Path) -> Result<LinkMode, LinkError> {
        let read_error = |source| LinkError::ReadSource {
            path: src.to_path_buf(),
            source,
        };
        let metadata = fs::symlink_metadata(src).map_err(read_error)?;
        if !metadata.is_file() {
            return Err(LinkError::UnsupportedSourceEntry {
                path: src.to_path_buf(),
                kind: tree::kind_name(metadata.file_type()),
            });
        }
        self.link_listed_file(src, dst)
    }

    /// [`link_file`](Self::link_file) for a source the caller already knows to be a regular
    /// file, e.g. from the entry type `read_dir` reported while listing an unpacked archive:
    /// saves a `stat` per file, which is a tenth of the system calls of a hard-link install.
    ///
    /// # Errors
    ///
    /// As [`link_file`](Self::link_file); given a symlink instead, hard-link and copy modes
    /// would act on the link or its target, so list the source first.
    pub fn link_listed_file(&self, src: &Path, dst: &Path) -> Result<LinkMode, LinkError> {
        let linked = if self.requested == LinkMode::Symlink {
            let absolute = fs::canonicalize(src).map_err(|source| LinkError::ReadSource {
                path: src.to_path_buf(),
                source,
            })?;
            self.link_regular_file(&absolute, dst)?
        } else {
            self.link_regular_file(src, dst)?
        };
        Ok(linked.mode)
    }

    /// [`link_listed_file`](Self::link_listed_file) for the file named `src` in `src_dir`, linked
    /// to the new name `dst` in `dst_dir`: each call resolves one name in each directory rather
    /// than two full paths, so open each directory once and link all its files through it.
    /// Errors name the full paths (the directory's path joined with the name).
    ///
    /// On Linux the source is never followed if it is a symlink: copy and clone modes refuse it,
    /// and hardlink mode links the symlink itself, as `link(2)` does. Symlink linkers resolve
    /// the source by path, as [`link_listed_file`](Self::link_listed_file) does.
    ///
    /// # Errors
    ///
    /// As [`link_file`](Self::link_file).
    pub fn link_at(
        &self,
        src_dir: &LinkDir,
        src: &OsStr,
        dst_dir: &LinkDir,
        dst: &OsStr,
    ) -> Result<LinkMode, LinkError> {
        if self.requested == LinkMode::Symlink {
            // A symlink must hold an absolute, resolved path, which only the path gives.
            return self.link_listed_file(&src_dir.path().join(src), &dst_dir.path().join(dst));
        }
        let pair = Pair::At {
            src_dir,
            src,
            dst_dir,
            dst,
        };
        Ok(self.link_pair(pair)?.mode)
    }

    /// Link every file under the directory `src` into `dst`; see [`link_tree`](super::link_tree).
    ///
    /// # Errors
    ///
    /// See [`link_tree`](super::link_tree).
    pub fn link_tree(&self, src: &Path, dst: &Path) -> Result<LinkOutcome, LinkError> {
        tree::link_tree(self, src, dst)
    }

    /// Link one file known to be regular (absolute if this is a symlink linker), walking down
    /// the ladder as the filesystem demands.
    pub(crate) fn link_regular_file(&self, src: &Path, dst: &Path) -> Result<Linked, LinkError> {
        self.link_pair(Pair::Paths { src, dst })
    }

    /// [`link_regular_file`](Self::link_regular_file) for either kind of pair.
    fn link_pair(&self, pair: Pair<'_>) -> Result<Linked, LinkError> {
        if !self.settled.load(Ordering::Acquire) {
            // Nothing is protected by the lock but the order of first attempts, so a poisoned
            // lock is as good as a healthy one.
            let _probing = self.probe.lock().unwrap_or_else(PoisonError::into_inner);
            if !self.settled.load(Ordering::Acquire) {
                let linked = self.descend_as_needed(pair)?;
                self.settled.store(true, Ordering::Release);
                return Ok(linked);
            }
        }
        self.descend_as_needed(pair)
    }

    /// Try the current rung, stepping down for as long as the filesystem cannot do it.
    fn descend_as_needed(&self, pair: Pair<'_>) -> Result<Linked, LinkError> {
        let mut fallbacks = 0;
        loop {
            let mode = self.mode();
            let Err(failure) = link_pair(mode, pair) else {
                return Ok(Linked {
                    mode,
                    after_link_limit: false,
                    fallbacks,
                });
            };
            match classify(mode, &failure) {
                Failure::Unsupported => {
                    if let Some(next) = mode.fallback() {
                        fallbacks += 1;
                        self.step_down(mode, next, &failure.error);
                        continue;
                    }
                }
                Failure::LinkLimit => {
                    tracing::debug!(
                        src = %pair.src_path().display(),
                        "hard-link limit reached, copying this file instead"
                    );
                    link_pair(LinkMode::Copy, pair).map_err(|copy_failure| {
                        error_for(LinkMode::Copy, pair, copy_failure.error)
                    })?;
                    return Ok(Linked {
                        mode: LinkMode::Copy,
                        after_link_limit: true,
                        fallbacks,
                    });
                }
                Failure::Exists | Failure::Other => {}
            }
            return Err(error_for(mode, pair, failure.error));
        }
    }

    /// Move from `from` to `next` unless another thread already moved the ladder: two files
    /// failing together on one rung move it once.
    fn step_down(&self, from: LinkMode, next: LinkMode, cause: &std::io::Error) {
        let moved = self
            .rung
            .compare_exchange(
                from.to_u8(),
                next.to_u8(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if moved {
            tracing::debug!(%cause, "cannot {from} here; falling back to {next}");
        }
    }
}

fn error_for(mode: LinkMode, pair: Pair<'_>, source: std::io::Error) -> LinkError {
    let (src, dst) = (pair.src_path(), pair.dst_path());
    if source.kind() == std::io::ErrorKind::AlreadyExists {
        LinkError::DestinationExists { src, dst, mode }
    } else {
        LinkError::Link {
            src,
            dst,
            mode,
            source,
        }
    }
}
