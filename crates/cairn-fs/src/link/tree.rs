//! Linking a whole tree: every directory is a task, so listing, creating directories and
//! linking files all run in parallel.
//!
//! A directory's task lists the source directory once, taking each entry's type from
//! `read_dir` itself (`d_type` on Linux, so no file is stat'ed), creates its subdirectories in
//! the target and hands each to a new task, then links its own files; a directory with many
//! files (a package of generated headers) splits them into several tasks. Parents are created
//! before their children's tasks exist, so no file ever waits for its directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::linker::Linked;
use super::{LinkError, LinkMode, LinkOutcome, Linker};

/// Files linked by one task; a directory with more is split so that one huge directory does
/// not leave the other threads idle.
const FILES_PER_TASK: usize = 256;

pub(crate) fn link_tree(linker: &Linker, src: &Path, dst: &Path) -> Result<LinkOutcome, LinkError> {
    let source_error = |source| LinkError::ReadSource {
        path: src.to_path_buf(),
        source,
    };
    // The root may be reached through symlinks (a cache directory moved elsewhere); only
    // entries inside the tree are refused when they are symlinks.
    if !fs::metadata(src).map_err(source_error)?.is_dir() {
        return Err(LinkError::SourceNotDirectory {
            src: src.to_path_buf(),
        });
    }
    // Symlinks must point at absolute paths; resolving the root once makes every entry's path
    // absolute for free.
    let src_root = if linker.requested() == LinkMode::Symlink {
        fs::canonicalize(src).map_err(source_error)?
    } else {
        src.to_path_buf()
    };
    create_root(dst)?;

    let walk = TreeWalk::new(linker);
    let dst_root = dst.to_path_buf();
    rayon::scope(|scope| walk.directory(scope, src_root, dst_root));
    walk.finish()
}

/// The shared state of one tree's tasks.
struct TreeWalk<'linker> {
    linker: &'linker Linker,
    files: AtomicU64,
    dirs: AtomicU64,
    copied_after_link_limit: AtomicU64,
    fallbacks: AtomicU64,
    /// Set on the first error so that queued tasks return without doing anything.
    failed: AtomicBool,
    /// The first error; later ones are consequences or noise.
    error: Mutex<Option<LinkError>>,
}

impl<'linker> TreeWalk<'linker> {
    fn new(linker: &'linker Linker) -> Self {
        Self {
            linker,
            files: AtomicU64::new(0),
            dirs: AtomicU64::new(0),
            copied_after_link_limit: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    /// The task for one directory.
    fn directory<'scope>(
        &'scope self,
        scope: &rayon::Scope<'scope>,
        src_dir: PathBuf,
        dst_dir: PathBuf,
    ) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        if let Err(error) = self.try_directory(scope, &src_dir, &dst_dir) {
            self.fail(error);
        }
    }

    fn try_directory<'scope>(
        &'scope self,
        scope: &rayon::Scope<'scope>,
        src_dir: &Path,
        dst_dir: &Path,
    ) -> Result<(), LinkError> {
        let read_error = |source| LinkError::ReadSource {
            path: src_dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in fs::read_dir(src_dir).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let src = entry.path();
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(source) => return Err(LinkError::ReadSource { path: src, source }),
            };
            let dst = dst_dir.join(entry.file_name());
            if file_type.is_file() {
                files.push((src, dst));
            } else if file_type.is_dir() {
                create_dir(&dst)?;
                self.dirs.fetch_add(1, Ordering::Relaxed);
                scope.spawn(move |scope| self.directory(scope, src, dst));
            } else {
                return Err(LinkError::UnsupportedSourceEntry {
                    path: src,
                    kind: kind_name(file_type),
                });
            }
        }
        while files.len() > FILES_PER_TASK {
            let batch = files.split_off(files.len() - FILES_PER_TASK);
            scope.spawn(move |_| self.files(&batch));
        }
        self.try_files(&files)
    }

    /// The task for a batch of files.
    fn files(&self, batch: &[(PathBuf, PathBuf)]) {
        if let Err(error) = self.try_files(batch) {
            self.fail(error);
        }
    }

    fn try_files(&self, batch: &[(PathBuf, PathBuf)]) -> Result<(), LinkError> {
        for (src, dst) in batch {
            if self.failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            self.count(self.linker.link_regular_file(src, dst)?);
        }
        Ok(())
    }

    fn count(&self, linked: Linked) {
        self.files.fetch_add(1, Ordering::Relaxed);
        if linked.after_link_limit {
            self.copied_after_link_limit.fetch_add(1, Ordering::Relaxed);
        }
        if linked.fallbacks > 0 {
            self.fallbacks
                .fetch_add(linked.fallbacks, Ordering::Relaxed);
        }
    }

    fn fail(&self, error: LinkError) {
        self.failed.store(true, Ordering::Relaxed);
        let mut first = self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        first.get_or_insert(error);
    }

    fn finish(self) -> Result<LinkOutcome, LinkError> {
        let error = self
            .error
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(error) = error {
            return Err(error);
        }
        Ok(LinkOutcome {
            mode_used: self.linker.mode(),
            files: self.files.into_inner(),
            dirs: self.dirs.into_inner(),
            copied_after_link_limit: self.copied_after_link_limit.into_inner(),
            fallbacks: self.fallbacks.into_inner(),
        })
    }
}

/// Create the target root and any missing parents. The root is the caller's choice and may be
/// reached through symlinks (a virtual environment's `lib64 -> lib`); it must end up a
/// directory.
fn create_root(dst: &Path) -> Result<(), LinkError> {
    match fs::create_dir_all(dst) {
        Ok(()) => Ok(()),
        Err(_) if dst.exists() && !dst.is_dir() => Err(LinkError::DestinationNotDirectory {
            path: dst.to_path_buf(),
        }),
        Err(source) => Err(LinkError::CreateDirectory {
            path: dst.to_path_buf(),
            source,
        }),
    }
}

/// Create one directory of the target, merging with an existing real directory. `mkdir` never
/// follows a symlink at its path, and `symlink_metadata` tells a directory from a symlink to one.
fn create_dir(path: &Path) -> Result<(), LinkError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(source) if source.kind() == io::ErrorKind::AlreadyExists => {
            match fs::symlink_metadata(path) {
                Ok(metadata) if metadata.is_dir() => Ok(()),
                Ok(_) => Err(LinkError::DestinationNotDirectory {
                    path: path.to_path_buf(),
                }),
                Err(source) => Err(LinkError::CreateDirectory {
                    path: path.to_path_buf(),
                    source,
                }),
            }
        }
        Err(source) => Err(LinkError::CreateDirectory {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A word for a source entry that is neither a regular file nor, where one was expected, a
/// directory.
pub(crate) fn kind_name(file_type: fs::FileType) -> &'static str {
    if file_type.is_symlink() {
        "symlink"
    } else if file_type.is_dir() {
        "directory"
    } else {
        "special file"
    }
}
