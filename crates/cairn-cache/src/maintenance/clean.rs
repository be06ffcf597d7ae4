//! `cairn cache clean`: everything, or the named packages.

use std::collections::HashSet;

use cairn_cache_key::normalize_package_name;
use cairn_fs::FsError;

use super::MaintenanceError;
use super::plan::{Plan, Reason};
use super::scan::Scan;
use super::walk::for_each_entry;
use crate::{Cache, LOCK_FILE, MAINTENANCE_LOCK_FILE};

/// Entries of the root that `clean` keeps. The lock files must stay: processes waiting for the
/// cache wait on them, and a new file would let a newcomer lock a different inode than they do.
/// The tag files cost nothing, and a process opening the cache writes them without the lock.
const KEPT_IN_ROOT: [&str; 4] = [
    LOCK_FILE,
    MAINTENANCE_LOCK_FILE,
    "CACHEDIR.TAG",
    ".gitignore",
];

/// Plans `cairn cache clean`.
///
/// With no packages: every entry of the root except the lock files, `CACHEDIR.TAG` and
/// `.gitignore`. The root itself stays, so that processes waiting on its lock keep a valid lock.
///
/// With packages (names compared after PEP 503 normalisation): their pointers with the HTTP
/// policies beside them; the archives those pointers named that no other pointer names, with
/// their manifests and index entries; the packages' project pages in the simple bucket; and the
/// wheels built for them from source (`builds-v0/wheels`).
/// Archives another package's pointer still names stay, and so do archives that no pointer
/// named before (`cairn cache prune` removes those).
pub fn plan_clean(cache: &Cache, packages: &[String]) -> Result<Plan, MaintenanceError> {
    super::io_pool::run(|| plan_clean_here(cache, packages))
}

fn plan_clean_here(cache: &Cache, packages: &[String]) -> Result<Plan, MaintenanceError> {
    if packages.is_empty() {
        return plan_clean_all(cache);
    }
    let selected: HashSet<String> = packages
        .iter()
        .map(|name| normalize_package_name(name))
        .collect();
    let scan = Scan::new(cache.root())?;
    let mut plan = Plan::default();
    let mut references = scan.references();
    let mut freed = Vec::new();
    for pointer in &scan.pointers {
        if !pointer
            .package()
            .is_some_and(|package| selected.contains(&package))
        {
            continue;
        }
        plan.add(&pointer.path, Reason::Package)?;
        if let Some(policy) = pointer.policy() {
            plan.add(&policy, Reason::Package)?;
        }
        if let Some(archive) = pointer.archive() {
            let count = references.entry(archive).or_default();
            *count = count.saturating_sub(1);
            if *count == 0 {
                freed.push(archive);
            }
        }
    }
    freed.sort_unstable();
    freed.dedup();
    for archive in &freed {
        if let Some(dir) = scan.archives.get(*archive) {
            plan.add(dir, Reason::Package)?;
        }
        if let Some(manifest) = scan.manifests.get(*archive) {
            plan.add(manifest, Reason::Package)?;
        }
    }
    let freed: HashSet<&str> = freed.into_iter().collect();
    for entry in &scan.index_entries {
        if entry
            .archive
            .as_deref()
            .is_some_and(|archive| freed.contains(archive))
        {
            plan.add(&entry.path, Reason::Package)?;
        }
    }
    for file in &scan.simple_files {
        if selected.contains(&file.project) {
            plan.add(&file.path, Reason::Package)?;
        }
    }
    for built in built_wheel_dirs(cache, &selected) {
        plan.add(&built, Reason::Package)?;
    }
    Ok(plan)
}

/// The directories of `builds-v0/wheels/<source>/<key>/` that hold a wheel of one of
/// `selected`: what building those packages from source left in the cache.
fn built_wheel_dirs(cache: &Cache, selected: &HashSet<String>) -> Vec<std::path::PathBuf> {
    let wheels = cache.bucket(crate::CacheBucket::Builds).join("wheels");
    let read = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .collect::<Vec<_>>()
    };
    let mut found = Vec::new();
    for source in read(&wheels) {
        for key in read(&source) {
            let holds_selected = read(&key).iter().any(|file| {
                file.file_name()
                    .and_then(|name| name.to_str())
                    .and_then(|name| name.strip_suffix(".whl"))
                    .and_then(|stem| stem.split('-').next())
                    .is_some_and(|project| selected.contains(&normalize_package_name(project)))
            });
            if holds_selected {
                found.push(key);
            }
        }
    }
    found.sort();
    found
}

fn plan_clean_all(cache: &Cache) -> Result<Plan, MaintenanceError> {
    let mut entries = Vec::new();
    for_each_entry(cache.root(), |entry| {
        let name = entry.file_name();
        if !KEPT_IN_ROOT.iter().any(|kept| name == *kept) {
            entries.push(entry.path());
        }
        Ok::<(), FsError>(())
    })?;
    entries.sort();
    let mut plan = Plan::default();
    for path in entries {
        plan.add(&path, Reason::Clean)?;
    }
    Ok(plan)
}
