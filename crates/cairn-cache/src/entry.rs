use std::path::{Path, PathBuf};

/// A directory inside a bucket that groups related entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheShard(PathBuf);

impl CacheShard {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self(path)
    }

    /// The shard's directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// An entry (a file) in this shard.
    pub fn entry(&self, file: impl AsRef<Path>) -> CacheEntry {
        CacheEntry(self.0.join(file))
    }

    /// A nested shard.
    pub fn shard(&self, dir: impl AsRef<Path>) -> CacheShard {
        CacheShard(self.0.join(dir))
    }
}

/// A file in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheEntry(PathBuf);

impl CacheEntry {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self(path)
    }

    /// The entry's file.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The directory holding the entry.
    pub fn dir(&self) -> &Path {
        self.0.parent().unwrap_or(&self.0)
    }

    /// A sibling entry with a different extension, e.g. the HTTP policy beside a pointer.
    pub fn with_extension(&self, extension: &str) -> CacheEntry {
        CacheEntry(self.0.with_extension(extension))
    }
}
