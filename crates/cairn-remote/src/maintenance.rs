//! Commands over the whole remote: publish a cache, check every object, remove old ones.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use cairn_cache::Cache;
use cairn_fs::ContentDigest;
use cairn_hash::Digest;
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::ObjectStoreExt as _;
use object_store::path::Path as ObjectPath;

use crate::error::RemoteError;
use crate::record::{EntryRecord, PackRef};
use crate::remote::{Remote, error_chain};

/// What [`Remote::push_cache`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Wheels whose archive is in the cache and were offered.
    pub wheels: u64,
    /// Packs uploaded (the others were on the remote already).
    pub packs_uploaded: u64,
    /// Records written.
    pub records_written: u64,
    /// Wheels that could not be pushed (each warned about).
    pub failed: u64,
}

/// What [`Remote::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records read and verified.
    pub records: u64,
    /// Packs downloaded and checked.
    pub packs: u64,
    /// Objects that failed their check, each with why.
    pub damaged: Vec<(String, String)>,
    /// Records whose pack is missing.
    pub dangling: Vec<String>,
}

/// What [`Remote::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Records removed.
    pub records: u64,
    /// Packs removed.
    pub packs: u64,
    /// Bytes of the packs removed.
    pub bytes: u64,
}

impl Remote {
    /// Publishes every wheel of `cache` whose archive is present and which the published-hash
    /// index knows by SHA-256 (what pins name), or only those whose normalised project name
    /// `keep` accepts.
    ///
    /// # Errors
    ///
    /// [`RemoteError::NoSigningKey`] without a signing key; failures of single wheels are
    /// counted in the report, not returned.
    pub async fn push_cache(
        &self,
        cache: &Cache,
        keep: impl Fn(&str) -> bool,
    ) -> Result<PushReport, RemoteError> {
        let mut by_archive: Vec<(cairn_cache::IndexRecord, Vec<Digest>)> = Vec::new();
        for (key, record) in cache.index_records("sha256") {
            let name = record.filename.split('-').next().unwrap_or_default();
            if !keep(cairn_types::PackageName::new(name).as_ref())
                || cache.find_archive(&record.archive).is_none()
            {
                continue;
            }
            let Ok(digest) = format!("sha256:{}", key.digest()).parse::<Digest>() else {
                continue;
            };
            match by_archive.iter_mut().find(|(known, _)| *known == record) {
                Some((_, digests)) => digests.push(digest),
                None => by_archive.push((record, vec![digest])),
            }
        }
        let mut report = PushReport::default();
        let pushes =
            futures_util::stream::iter(by_archive.iter())
                .map(|(record, digests)| async move {
                    (record, self.push(cache, record, digests).await)
                })
                .buffer_unordered(4);
        let results: Vec<_> = pushes.collect().await;
        for (record, result) in results {
            report.wheels += 1;
            match result {
                Ok(outcome) => {
                    report.packs_uploaded += u64::from(outcome.uploaded_pack);
                    report.records_written += outcome.records;
                }
                Err(error @ RemoteError::NoSigningKey { .. }) => return Err(error),
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(
                        wheel = %record.filename,
                        error = %error_chain(&error),
                        "cannot push"
                    );
                }
            }
        }
        Ok(report)
    }

    async fn list_under(&self, dir: &str) -> Result<Vec<object_store::ObjectMeta>, RemoteError> {
        let prefix = self.root().clone().join(dir);
        self.store()
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| RemoteError::Store {
                action: "list",
                object: prefix.to_string(),
                source,
            })
    }

    /// The project and digest a record's object name stands for
    /// (`index/<project>/<algorithm>/<hex>`).
    fn record_key(&self, path: &ObjectPath) -> Option<(cairn_types::PackageName, Digest)> {
        let parts: Vec<_> = path.parts().collect();
        let [.., project, algorithm, hex] = parts.as_slice() else {
            return None;
        };
        let digest = format!("{}:{}", algorithm.as_ref(), hex.as_ref())
            .parse()
            .ok()?;
        Some((cairn_types::PackageName::new(project.as_ref()), digest))
    }

    /// The pack a pack object's name stands for, with its listed size.
    fn pack_of(meta: &object_store::ObjectMeta) -> Option<PackRef> {
        let name = meta.location.filename()?;
        Some(PackRef {
            digest: ContentDigest::hex(name.strip_suffix(".tar.zst")?).ok()?,
            size: meta.size,
        })
    }

    /// Checks every object: each record's signature (against the trusted keys) and the pack it
    /// names; each pack's bytes against its name, by downloading and unpacking it into a
    /// temp directory of `cache` (nothing is published).
    ///
    /// # Errors
    ///
    /// Listing the remote failed.
    pub async fn verify(&self, cache: &Cache) -> Result<VerifyReport, RemoteError> {
        let mut report = VerifyReport::default();
        let packs = self.list_under("packs").await?;
        let present: HashSet<ContentDigest> = packs
            .iter()
            .filter_map(Self::pack_of)
            .map(|pack| pack.digest)
            .collect();
        for meta in self.list_under("index").await? {
            report.records += 1;
            let shown = meta.location.to_string();
            let Some((project, digest)) = self.record_key(&meta.location) else {
                report
                    .damaged
                    .push((shown, "not a record's name".to_owned()));
                continue;
            };
            let bytes = match self.store().get(&meta.location).await {
                Ok(result) => result.bytes().await,
                Err(error) => Err(error),
            };
            let bytes = bytes.map_err(|source| RemoteError::Store {
                action: "read",
                object: shown.clone(),
                source,
            })?;
            let verified = EntryRecord::verify(&bytes, &digest, self.trusted()).and_then(
                |record| match record.wheel.filename.parse::<cairn_types::WheelFilename>() {
                    Ok(filename) if filename.normalized_name() == project => Ok(record),
                    _ => Err(crate::record::RecordError::Malformed(
                        "stored under another project",
                    )),
                },
            );
            match verified {
                Ok(record) if !present.contains(&record.pack.digest) => {
                    report.dangling.push(shown);
                }
                Ok(_) => {}
                Err(error) => report.damaged.push((shown, error.to_string())),
            }
        }
        for meta in &packs {
            report.packs += 1;
            let shown = meta.location.to_string();
            let Some(pack) = Self::pack_of(meta) else {
                report.damaged.push((shown, "not a pack's name".to_owned()));
                continue;
            };
            match self.fetch_pack(cache, &pack).await {
                Ok(unpacked) => drop(unpacked),
                Err(error @ RemoteError::Pack { .. }) => {
                    report.damaged.push((shown, error_chain(&error)));
                }
                Err(error) => return Err(error),
            }
        }
        Ok(report)
    }

    /// Removes records older than `max_age`, then packs older than `max_age` that no remaining
    /// record names. Object ages are the store's last-modified times; a pack a newer record
    /// names is kept, however old.
    ///
    /// # Errors
    ///
    /// Listing, reading or deleting failed.
    pub async fn prune(&self, max_age: Duration) -> Result<PruneReport, RemoteError> {
        let cutoff = SystemTime::now()
            .checked_sub(max_age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let old = |meta: &object_store::ObjectMeta| SystemTime::from(meta.last_modified) < cutoff;
        let mut report = PruneReport::default();
        let mut kept = HashSet::new();
        for meta in self.list_under("index").await? {
            if old(&meta) {
                self.delete(&meta.location).await?;
                report.records += 1;
                continue;
            }
            let Some((project, digest)) = self.record_key(&meta.location) else {
                continue;
            };
            // A record that does not verify names nothing worth keeping.
            if let Ok(Some(record)) = self.read_record(&project, &digest).await {
                kept.insert(record.pack.digest);
            }
        }
        for meta in self.list_under("packs").await? {
            let Some(pack) = Self::pack_of(&meta) else {
                continue;
            };
            if old(&meta) && !kept.contains(&pack.digest) {
                self.delete(&meta.location).await?;
                report.packs += 1;
                report.bytes += pack.size;
            }
        }
        Ok(report)
    }

    async fn delete(&self, path: &ObjectPath) -> Result<(), RemoteError> {
        match self.store().delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(RemoteError::Store {
                action: "delete",
                object: path.to_string(),
                source,
            }),
        }
    }
}
