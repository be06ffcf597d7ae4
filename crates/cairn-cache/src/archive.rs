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

    /// Records that `archive` was used without a pointer (a pinned digest answered by the
    /// published-hash index): its directory's modification time is set to now when it is an
    /// hour or more old, so that `prune --max-age` keeps an archive in use even after the
    /// pointers that first named it expired. Failing to record it is only logged.
    pub fn mark_used(&self, archive: &ArchivePath) {
        const GRANULARITY: std::time::Duration = std::time::Duration::from_secs(60 * 60);
        let now = std::time::SystemTime::now();
        let stale = std::fs::metadata(&archive.path)
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| {
                now.duration_since(modified)
                    .is_ok_and(|age| age >= GRANULARITY)
            });
        if !stale {
            return;
        }
        let touched = std::fs::File::open(&archive.path).and_then(|dir| dir.set_modified(now));
        if let Err(error) = touched {
            tracing::debug!(archive = %archive.path.display(), %error, "cannot mark the archive used");
        }
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
        // In a shared cache every member may have to remove it (`clean`, `prune`).
        cairn_fs::share_tree(temp.path())
            .map_err(|e| cairn_fs::FsError::new("share the unpacked archive", temp.path(), e))?;
        let outcome = persist_dir(temp, &archive.path)?;
        Ok((archive, outcome))
    }
}
