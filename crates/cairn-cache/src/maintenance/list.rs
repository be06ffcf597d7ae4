//! `cairn cache list`: one row per pointer.

use std::collections::HashSet;
use std::path::PathBuf;

use cairn_cache_key::normalize_package_name;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::MaintenanceError;
use super::scan::{Scan, Scope};
use super::size::{ArchiveSizes, archive_usages, existing_archive_usage};
use crate::{Cache, SourceKind};

/// A wheel the cache knows: one pointer and the archive it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CachedWheel {
    /// The project name as written in the wheel's file name.
    pub name: String,
    /// The version as written in the wheel's file name.
    pub version: String,
    /// The wheel's file name.
    pub filename: String,
    /// The canonical URL or the absolute path it came from.
    pub source: String,
    /// Whether the source is a local path or a URL.
    pub kind: SourceKind,
    /// The archive's name: the BLAKE3 digest of the wheel file, in hex.
    pub archive: String,
    /// The space the unpacked archive takes on disk; `None` when the archive is gone (the
    /// pointer is dangling, and `cairn cache prune` removes it).
    pub archive_bytes: Option<u64>,
    /// When the pointer was last used, in seconds since the Unix epoch (refreshed at most
    /// hourly).
    pub last_used: u64,
    /// The pointer file.
    pub pointer: PathBuf,
}

/// Lists the cache's pointers, optionally only those of `packages` (compared after PEP 503
/// normalisation), sorted by normalised name, version and source (then pointer path).
/// Unreadable pointers are not listed (`cairn cache verify` reports them).
///
/// Each archive is measured once, in parallel, however many pointers name it: all of them in
/// one walk of the archive bucket (beside the reading of the pointers) when every package is
/// listed, only those named otherwise.
pub fn list(cache: &Cache, packages: &[String]) -> Result<Vec<CachedWheel>, MaintenanceError> {
    super::io_pool::run(|| list_here(cache, packages))
}

fn list_here(cache: &Cache, packages: &[String]) -> Result<Vec<CachedWheel>, MaintenanceError> {
    let selected: HashSet<String> = packages
        .iter()
        .map(|name| normalize_package_name(name))
        .collect();
    // Listing everything, the archive bucket is measured while the pointers are read: both
    // are mostly system calls on many small files, and each has stretches on one thread that
    // the other fills.
    let (scan, all_sizes) = if selected.is_empty() {
        rayon::join(
            || Scan::covering(cache.root(), Scope::Pointers),
            || archive_usages(cache.root(), ArchiveSizes::Recorded).map(Some),
        )
    } else {
        (Scan::covering(cache.root(), Scope::Pointers), Ok(None))
    };
    let mut rows: Vec<(String, CachedWheel)> = scan?
        .pointers
        .into_iter()
        .filter_map(|file| {
            let pointer = file.pointer?;
            let package = normalize_package_name(&pointer.name);
            if !selected.is_empty() && !selected.contains(&package) {
                return None;
            }
            Some((
                package,
                CachedWheel {
                    name: pointer.name,
                    version: pointer.version,
                    filename: pointer.filename,
                    source: pointer.source,
                    kind: file.kind,
                    archive: pointer.archive,
                    archive_bytes: None,
                    last_used: pointer.last_used,
                    pointer: file.path,
                },
            ))
        })
        .collect();
    let mut sizes: FxHashMap<String, u64> = all_sizes?
        .unwrap_or_default()
        .into_iter()
        .map(|(digest, usage)| (digest, usage.bytes))
        .collect();
    // Archives measured one by one: those of the selected packages, and any a fetch published
    // while the bucket was being walked, which a pointer read since names. An archive is in
    // place before a pointer names it, so each is found here and no live pointer looks
    // dangling. (A dangling pointer's archive is looked for once more here, and not found.)
    let wanted: HashSet<&str> = rows
        .iter()
        .map(|(_, row)| row.archive.as_str())
        .filter(|archive| !sizes.contains_key(*archive))
        .collect();
    let measured: Vec<(String, u64)> = wanted
        .into_par_iter()
        .filter_map(|digest| {
            existing_archive_usage(cache, digest, ArchiveSizes::Recorded)
                .map(|usage| Some((digest.to_owned(), usage?.bytes)))
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    sizes.extend(measured);
    for (_, row) in &mut rows {
        row.archive_bytes = sizes.get(&row.archive).copied();
    }
    // In parallel: sorting 100,000 rows by strings is a tenth of a second on one core. The path
    // breaks ties, so the order never depends on the sort.
    rows.par_sort_unstable_by(|(a_package, a), (b_package, b)| {
        (a_package, &a.version, &a.source, &a.pointer)
            .cmp(&(b_package, &b.version, &b.source, &b.pointer))
    });
    // Sequential, so that the rows are moved within their own allocation (tens of megabytes
    // on a large cache) rather than into a new one.
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}
