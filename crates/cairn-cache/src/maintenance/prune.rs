//! `cairn cache prune`: remove what nothing uses, and optionally what was not used lately,
//! what is cheap to download again, or the least recently used until the cache fits a size.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustc_hash::FxHashMap;

use super::MaintenanceError;
use super::plan::{Plan, Reason};
use super::scan::{PointerFile, Scan};
use super::size::{ArchiveSizes, measure};
use super::walk::Usage;
use crate::{Cache, CacheBucket, SourceKind};

/// How old a `.tmp-*` entry must be before prune removes it.
///
/// Prune holds the exclusive lock, and every cairn process holds the shared lock while it uses
/// the cache, so no temporary entry can belong to a running process: every one is a leftover.
/// The exception is the moment a process opens the cache, when it writes `CACHEDIR.TAG` or
/// `.gitignore` through a `.tmp-*` file before taking the lock (only when they are missing). A
/// minute covers that write with a wide margin, and a crashed process's leftover simply goes on
/// the next prune.
pub const TEMP_GRACE: Duration = Duration::from_secs(60);

/// What `cairn cache prune` removes beyond unused entries.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Also remove what is cheap to fetch again and keep what is costly (for a CI cache that is
    /// saved and restored between runs): see [`plan_prune`].
    pub ci: bool,
    /// Also remove pointers last used this long ago or longer, then the archives only they used.
    pub max_age: Option<Duration>,
    /// Then evict least recently used pointers, and the archives only they used, until the
    /// whole cache takes at most this many bytes.
    pub max_size: Option<u64>,
    /// The time ages are measured from (now, except in tests).
    pub now: SystemTime,
    /// How old a `.tmp-*` entry must be to be removed: [`TEMP_GRACE`] by default.
    pub temp_grace: Duration,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            ci: false,
            max_age: None,
            max_size: None,
            now: SystemTime::now(),
            temp_grace: TEMP_GRACE,
        }
    }
}

/// Plans `cairn cache prune`.
///
/// Always removed:
/// - pointers that do not read as records of the current format, and pointers whose archive is
///   gone (both are misses for every reader), with their HTTP policies;
/// - archives no remaining pointer names, with their manifests;
/// - index entries (`hashes-v1`) that do not read as one, or whose archive goes or is gone;
/// - HTTP policies whose pointer is gone, and manifests whose archive is gone;
/// - `.tmp-*` leftovers older than `temp_grace` (see [`TEMP_GRACE`]);
/// - directories `<bucket>-vN` of a known bucket at a version other than the current one
///   (unknown directories are left alone);
/// - the lock files in `locks-v0` (recreated on demand; nobody holds one under the exclusive
///   lock).
///
/// With `max_age`, pointers whose `last_used` is at least that long before `now` go too.
/// `last_used` is refreshed at most hourly on a hit, so it may lag by up to an hour. An archive
/// that a pinned install used through the published-hash index alone within `max_age` (see
/// [`Cache::mark_used`](crate::Cache::mark_used)) stays, with its index entries.
///
/// With `ci`, what came from the network goes: URL pointers and their policies, the archives no
/// local-path pointer names, and the project pages of the simple bucket. What came from local
/// files stays: their archives are what a CI run built itself (a wheel built in the job is
/// unpacked from a local path), and interpreter facts stay too, since gathering them runs the
/// interpreter.
///
/// With `max_size`, after all of the above, the remaining pointers are evicted least recently
/// used first (ties by path), each with its policy and, once no remaining pointer names its
/// archive, the archive with its manifest and index entries, until the cache measured as
/// [`super::cache_size`] minus the planned removals is at most `max_size` bytes.
pub fn plan_prune(cache: &Cache, options: &PruneOptions) -> Result<Plan, MaintenanceError> {
    super::io_pool::run(|| plan_prune_here(cache, options))
}

/// Whether the directory `dir` was modified less than `max_age` before `now`.
fn used_within(dir: &Path, now: std::time::SystemTime, max_age: std::time::Duration) -> bool {
    std::fs::symlink_metadata(dir)
        .and_then(|metadata| metadata.modified())
        .is_ok_and(|modified| {
            now.duration_since(modified)
                .map_or(true, |age| age < max_age)
        })
}

fn plan_prune_here(cache: &Cache, options: &PruneOptions) -> Result<Plan, MaintenanceError> {
    let scan = Scan::new(cache.root())?;
    let now = options
        .now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let mut plan = Plan::default();

    let mut kept: Vec<&PointerFile> = Vec::new();
    for pointer in &scan.pointers {
        let reason = match &pointer.pointer {
            None => Some(Reason::InvalidPointer),
            Some(record) if !scan.archives.contains_key(&record.archive) => {
                Some(Reason::DanglingPointer)
            }
            Some(record)
                if options.max_age.is_some_and(|max_age| {
                    now.saturating_sub(record.last_used) >= max_age.as_secs()
                }) =>
            {
                Some(Reason::Expired)
            }
            Some(_) if options.ci && pointer.kind == SourceKind::Url => Some(Reason::Downloaded),
            Some(_) => None,
        };
        match reason {
            Some(reason) => {
                remove_pointer(&mut plan, pointer, reason)?;
            }
            None => kept.push(pointer),
        }
    }

    let mut references: FxHashMap<&str, usize> = FxHashMap::default();
    for archive in kept.iter().filter_map(|pointer| pointer.archive()) {
        *references.entry(archive).or_default() += 1;
    }
    // An archive a pinned install used through the published-hash index alone (its directory's
    // mtime, see `Cache::mark_used`) within `max_age` stays, with its index entries, although
    // the pointers that first named it expired.
    if let Some(max_age) = options.max_age.filter(|_| !options.ci) {
        for (digest, dir) in &scan.archives {
            if !references.contains_key(digest.as_str()) && used_within(dir, options.now, max_age) {
                references.insert(digest.as_str(), 0);
            }
        }
    }
    let mut unreferenced: Vec<(&String, &std::path::PathBuf)> = scan
        .archives
        .iter()
        .filter(|(digest, _)| !references.contains_key(digest.as_str()))
        .collect();
    unreferenced.sort_unstable();
    for (digest, dir) in unreferenced {
        plan.add(dir, Reason::UnreferencedArchive)?;
        if let Some(manifest) = scan.manifests.get(digest) {
            plan.add(manifest, Reason::UnreferencedArchive)?;
        }
    }
    // Which entries belong to which archive matters only to eviction.
    let mut index_by_archive: FxHashMap<&str, Vec<&Path>> = FxHashMap::default();
    for entry in &scan.index_entries {
        match entry.archive.as_deref() {
            Some(archive) if references.contains_key(archive) => {
                if options.max_size.is_some() {
                    index_by_archive
                        .entry(archive)
                        .or_default()
                        .push(&entry.path);
                }
            }
            _ => {
                plan.add(&entry.path, Reason::OrphanIndexEntry)?;
            }
        }
    }
    for policy in &scan.orphan_policies {
        plan.add(policy, Reason::OrphanPolicy)?;
    }
    let mut orphan_manifests: Vec<(&String, &std::path::PathBuf)> = scan
        .manifests
        .iter()
        .filter(|(digest, _)| !scan.archives.contains_key(*digest))
        .collect();
    orphan_manifests.sort_unstable();
    for (_, manifest) in orphan_manifests {
        plan.add(manifest, Reason::OrphanManifest)?;
    }
    // Whole directories first, so that nothing inside them is planned (and counted) twice.
    if options.ci
        && let Some(simple) = scan.bucket(CacheBucket::Simple)
    {
        plan.add(&simple, Reason::Downloaded)?;
    }
    for temp in &scan.temps {
        if is_older_than(temp, options.now, options.temp_grace) {
            plan.add(temp, Reason::TempLeftover)?;
        }
    }
    for bucket in &scan.stale_buckets {
        plan.add(bucket, Reason::StaleBucket)?;
    }
    if let Some(locks) = scan.bucket(CacheBucket::Locks) {
        plan.add(&locks, Reason::LockFiles)?;
    }

    if let Some(max_size) = options.max_size {
        let lru = Eviction {
            scan: &scan,
            references,
            index_by_archive,
        };
        lru.evict(cache, &mut plan, kept, max_size)?;
    }
    scan.discard();
    Ok(plan)
}

/// Plans the removal of a pointer and the HTTP policy beside it.
fn remove_pointer(
    plan: &mut Plan,
    pointer: &PointerFile,
    reason: Reason,
) -> Result<Usage, MaintenanceError> {
    let mut usage = plan.add(&pointer.path, reason)?;
    if let Some(policy) = pointer.policy() {
        usage = usage.plus(plan.add(&policy, reason)?);
    }
    Ok(usage)
}

/// Least-recently-used eviction for `--max-size`.
struct Eviction<'a> {
    scan: &'a Scan,
    /// Remaining pointers per archive.
    references: FxHashMap<&'a str, usize>,
    index_by_archive: FxHashMap<&'a str, Vec<&'a Path>>,
}

impl<'a> Eviction<'a> {
    fn evict(
        mut self,
        cache: &Cache,
        plan: &mut Plan,
        mut kept: Vec<&'a PointerFile>,
        max_size: u64,
    ) -> Result<(), MaintenanceError> {
        let measured = measure(cache.root(), ArchiveSizes::Recorded)?;
        let mut size = measured.total.bytes.saturating_sub(plan.usage().bytes);
        kept.sort_by(|a, b| {
            let last_used = |pointer: &PointerFile| pointer.pointer.as_ref().map(|p| p.last_used);
            last_used(a)
                .cmp(&last_used(b))
                .then_with(|| a.path.cmp(&b.path))
        });
        for pointer in kept {
            if size <= max_size {
                break;
            }
            let mut freed = remove_pointer(plan, pointer, Reason::Evicted)?;
            let Some(archive) = pointer.archive() else {
                continue;
            };
            let Some(count) = self.references.get_mut(archive) else {
                continue;
            };
            *count = count.saturating_sub(1);
            if *count > 0 {
                size = size.saturating_sub(freed.bytes);
                continue;
            }
            if let Some(dir) = self.scan.archives.get(archive) {
                let usage = measured.archives.get(archive).copied().unwrap_or_default();
                if !plan.contains(dir) {
                    plan.add_measured(dir, Reason::Evicted, usage);
                    freed = freed.plus(usage);
                }
            }
            if let Some(manifest) = self.scan.manifests.get(archive) {
                freed = freed.plus(plan.add(manifest, Reason::Evicted)?);
            }
            for entry in self.index_by_archive.remove(archive).unwrap_or_default() {
                freed = freed.plus(plan.add(entry, Reason::Evicted)?);
            }
            size = size.saturating_sub(freed.bytes);
        }
        Ok(())
    }
}

/// Whether `path` was last modified at least `grace` before `now`. An entry that vanished or
/// whose time is unreadable is not old; one dated in the future is young.
fn is_older_than(path: &Path, now: SystemTime, grace: Duration) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
        .and_then(|modified| now.duration_since(modified).ok())
        .is_some_and(|age| age >= grace)
}
