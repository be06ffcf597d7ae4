use std::path::{Path, PathBuf};

use cairn_fs::{ContentDigest, PersistOutcome, persist_dir};
use tempfile::TempDir;

use crate::{Cache, CacheBucket, CacheError};

/// An unpacked archive in the content-addressed store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArchivePath {
    digest: ContentDigest,
    path: PathBuf,
}

impl ArchivePath {
    /// The content digest naming the archive.
    pub fn digest(&self) -> &ContentDigest {
        &self.digest
    }

    /// The archive's directory: `<root>/archive-v0/<shard>/<rest>`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Cache {
    /// Where the archive with `digest` lives (whether or not it exists).
    pub fn archive(&self, digest: &ContentDigest) -> ArchivePath {
        ArchivePath {
            digest: digest.clone(),
            path: digest.sharded_path(&self.bucket(CacheBucket::Archive)),
        }
    }

    /// The archive with `digest`, if it is in the store.
    pub fn find_archive(&self, digest: &ContentDigest) -> Option<ArchivePath> {
        let archive = self.archive(digest);
        archive.path.is_dir().then_some(archive)
    }

    /// Publishes a fully unpacked temp directory (from [`Cache::temp_dir`]) as the archive
    /// `digest`. Concurrent persists of one digest leave exactly one copy and all succeed; the
    /// outcome says whether this call's copy was kept.
    pub fn persist(
        &self,
        temp: TempDir,
        digest: &ContentDigest,
    ) -> Result<(ArchivePath, PersistOutcome), CacheError> {
        let archive = self.archive(digest);
        let outcome = persist_dir(temp, &archive.path)?;
        Ok((archive, outcome))
    }
}
