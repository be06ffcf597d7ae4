//! One pass over the cache's records and archive names: what every maintenance command starts
//! from.
//!
//! Directories are listed once and classified by their `d_type`, with no `stat`. Records are
//! read in parallel, relative to their open directory (see `walk::Dir`); archive shards are
//! listed in parallel. Nothing inside an archive is read: archive contents are wheel files,
//! whose names mean nothing here (a wheel may well contain a file called `.tmp-x`).
//!
//! Records are scanned before archives. Under the shared lock fetches run alongside, but they
//! only ever add, and they write a pointer or an index entry after its archive is in place: a
//! record seen here therefore names an archive the later archive scan sees, and no record is
//! mistaken for dangling.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use cairn_cache_key::normalize_package_name;
use cairn_fs::{ContentDigest, FsError, TEMP_PREFIX};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::MaintenanceError;
use super::record::PointerSummary;
use super::walk::{Dir, Kind, Opened, for_each_entry};
use crate::{CacheBucket, IndexRecord, MANIFEST_EXTENSION, SourceKind};

/// A pointer file.
#[derive(Debug)]
pub(crate) struct PointerFile {
    pub(crate) path: PathBuf,
    pub(crate) kind: SourceKind,
    /// The record, when it is a usable pointer of the current format with a valid archive name.
    pub(crate) pointer: Option<PointerSummary>,
    /// Whether an HTTP policy lies beside it (never looked for in a [`Scope::Pointers`] scan).
    pub(crate) has_policy: bool,
}

impl PointerFile {
    /// The normalised package name, when the record is readable.
    pub(crate) fn package(&self) -> Option<String> {
        self.pointer
            .as_ref()
            .map(|pointer| normalize_package_name(&pointer.name))
    }

    /// The archive the record names, when it is readable.
    pub(crate) fn archive(&self) -> Option<&str> {
        self.pointer
            .as_ref()
            .map(|pointer| pointer.archive.as_str())
    }

    /// The HTTP policy beside it (`<stem>.http` beside `<stem>.json`), if there is one.
    pub(crate) fn policy(&self) -> Option<PathBuf> {
        self.has_policy.then(|| self.path.with_extension("http"))
    }
}

/// An entry of the published-digest index.
#[derive(Debug)]
pub(crate) struct IndexFile {
    pub(crate) path: PathBuf,
    /// The archive it names, when the entry reads as an [`IndexRecord`](crate::IndexRecord).
    pub(crate) archive: Option<String>,
}

/// A file of the simple bucket: a project page or its HTTP policy.
#[derive(Debug)]
pub(crate) struct SimpleFile {
    pub(crate) path: PathBuf,
    /// The normalised project the file belongs to (its name without the extension).
    pub(crate) project: String,
}

/// How much of the cache a scan covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Everything: records, archive names, the simple bucket, leftovers.
    Everything,
    /// The pointers, which is all listing needs: their HTTP policies, the index, the simple
    /// bucket and the archives are not scanned, and their fields stay empty (`has_policy` false).
    Pointers,
}

/// Everything maintenance needs to know about a cache, from one pass.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) pointers: Vec<PointerFile>,
    /// HTTP policies without a pointer beside them.
    pub(crate) orphan_policies: Vec<PathBuf>,
    pub(crate) index_entries: Vec<IndexFile>,
    /// Archive digest → archive directory.
    pub(crate) archives: FxHashMap<String, PathBuf>,
    /// Archive digest → manifest file.
    pub(crate) manifests: FxHashMap<String, PathBuf>,
    /// `.tmp-*` entries wherever cairn creates them (never inside archives).
    pub(crate) temps: Vec<PathBuf>,
    /// `<bucket>-vN` directories of known buckets at another version.
    pub(crate) stale_buckets: Vec<PathBuf>,
    pub(crate) simple_files: Vec<SimpleFile>,
    /// The bucket directories that exist, current versions only.
    pub(crate) buckets: HashMap<CacheBucket, PathBuf>,
}

impl Scan {
    /// Scans the cache at `root`.
    pub(crate) fn new(root: &Path) -> Result<Self, MaintenanceError> {
        Self::covering(root, Scope::Everything)
    }

    /// Scans `scope` of the cache at `root`.
    pub(crate) fn covering(root: &Path, scope: Scope) -> Result<Self, MaintenanceError> {
        let mut scan = Scan::default();
        let Some(root_dir) = Dir::open(root)? else {
            return Ok(scan);
        };
        let mut symlinked = None;
        let mut bucket_names = Vec::new();
        for (name, kind) in root_dir.list()?.iter() {
            let Some(text) = name.to_str() else {
                continue;
            };
            if text.starts_with(TEMP_PREFIX) {
                scan.temps.push(root_dir.child_path(name));
            } else if let Some(bucket) = CacheBucket::ALL.iter().find(|b| b.dir_name() == text) {
                if kind == Kind::Symlink {
                    symlinked = Some(root_dir.child_path(name));
                } else if kind == Kind::Dir {
                    scan.buckets.insert(*bucket, root_dir.child_path(name));
                    bucket_names.push(*bucket);
                }
            } else if is_stale_bucket(text) {
                scan.stale_buckets.push(root_dir.child_path(name));
            }
        }
        if let Some(path) = symlinked {
            return Err(MaintenanceError::SymlinkedBucket { path });
        }
        scan.temps.sort();
        scan.stale_buckets.sort();
        // Opened without following links: a bucket swapped for a link since it was listed is
        // skipped, never entered.
        let open = |bucket: CacheBucket| -> Result<Option<Dir>, FsError> {
            if !bucket_names.contains(&bucket) {
                return Ok(None);
            }
            match root_dir.open_child(OsStr::new(bucket.dir_name()))? {
                Opened::Dir(dir) => Ok(Some(dir)),
                Opened::NotDir | Opened::Vanished => Ok(None),
            }
        };

        let wheels = open(CacheBucket::Wheels)?;
        if scope == Scope::Pointers {
            if let Some(dir) = wheels {
                scan.scan_wheels(&dir, scope)?;
            }
            return Ok(scan);
        }
        // Both hold records, so they are read side by side: the listing and sorting of one
        // large directory, which runs on one thread, overlaps the other's reads.
        let hashes = open(CacheBucket::Hashes)?;
        let (wheel_records, index_records) = rayon::join(
            || Scan::records(wheels.as_ref(), |part, dir| part.scan_wheels(dir, scope)),
            || Scan::records(hashes.as_ref(), Scan::scan_hashes),
        );
        scan.absorb_records(wheel_records?);
        scan.absorb_records(index_records?);
        if let Some(dir) = scan.bucket(CacheBucket::Simple) {
            scan.scan_simple(&dir)?;
        }
        if let Some(dir) = scan.bucket(CacheBucket::Interpreter) {
            let mut temps = Vec::new();
            collect_temps(&dir, &mut temps)?;
            scan.temps.extend(temps);
        }
        // Last: see the module documentation.
        if let Some(dir) = open(CacheBucket::Archive)? {
            scan.scan_archives(&dir)?;
        }
        Ok(scan)
    }

    /// The records `scan_bucket` finds in `dir` (none if there is no such bucket), apart.
    fn records(
        dir: Option<&Dir>,
        scan_bucket: impl FnOnce(&mut Scan, &Dir) -> Result<(), MaintenanceError>,
    ) -> Result<Scan, MaintenanceError> {
        let mut part = Scan::default();
        if let Some(dir) = dir {
            scan_bucket(&mut part, dir)?;
        }
        Ok(part)
    }

    /// Appends the records (and leftovers) of `part`, from [`Scan::records`].
    fn absorb_records(&mut self, part: Scan) {
        self.pointers.extend(part.pointers);
        self.orphan_policies.extend(part.orphan_policies);
        self.index_entries.extend(part.index_entries);
        self.temps.extend(part.temps);
    }

    /// Frees the scan on a pool thread. A scan of a large cache holds hundreds of thousands of
    /// strings: freeing them one by one takes a tenth of a second nobody needs to wait for.
    pub(crate) fn discard(self) {
        rayon::spawn(move || drop(self));
    }

    /// The directory of `bucket`, if it exists.
    pub(crate) fn bucket(&self, bucket: CacheBucket) -> Option<PathBuf> {
        self.buckets.get(&bucket).cloned()
    }

    /// Pointers (`*.json`) and, unless `scope` is only the pointers, HTTP policies (`*.http`)
    /// under `wheels-v0/{path,url}/`, in path order.
    fn scan_wheels(&mut self, bucket: &Dir, scope: Scope) -> Result<(), MaintenanceError> {
        // `path` sorts before `url`, so pointers sorted by name within each directory, path
        // pointers first, are sorted by path.
        for kind in SourceKind::ALL {
            let Opened::Dir(dir) = bucket.open_child(OsStr::new(kind.dir_name()))? else {
                continue;
            };
            let listing = dir.list()?;
            let mut pointer_names: Vec<(&str, &OsStr)> = Vec::new();
            let mut policies: FxHashSet<&str> = FxHashSet::default();
            for (name, _) in listing.iter() {
                let Some(text) = name.to_str() else {
                    continue;
                };
                if text.starts_with(TEMP_PREFIX) {
                    self.temps.push(dir.child_path(name));
                } else if let Some(stem) = text.strip_suffix(".json") {
                    pointer_names.push((stem, name));
                } else if let Some(stem) = text.strip_suffix(".http")
                    && scope == Scope::Everything
                {
                    policies.insert(stem);
                }
            }
            pointer_names.sort_unstable_by_key(|(_, name)| *name);
            let pointers: Vec<PointerFile> = pointer_names
                .par_iter()
                .map_init(Vec::new, |buffer, &(stem, name)| PointerFile {
                    path: dir.child_path(name),
                    kind,
                    pointer: read_pointer(&dir, name, buffer),
                    has_policy: policies.contains(stem),
                })
                .collect();
            let with_pointer: FxHashSet<&str> =
                pointer_names.iter().map(|(stem, _)| *stem).collect();
            let mut orphans: Vec<PathBuf> = policies
                .iter()
                .filter(|stem| !with_pointer.contains(*stem))
                .map(|stem| dir.child_path(OsStr::new(&format!("{stem}.http"))))
                .collect();
            orphans.sort();
            self.orphan_policies.extend(orphans);
            self.pointers.extend(pointers);
        }
        Ok(())
    }

    /// Index entries: `hashes-v1/<algorithm>/<ab>/<rest>`, read in parallel by shard, in path
    /// order.
    fn scan_hashes(&mut self, bucket: &Dir) -> Result<(), MaintenanceError> {
        let mut algorithms = Vec::new();
        for (name, kind) in bucket.list()?.iter() {
            if name.to_string_lossy().starts_with(TEMP_PREFIX) {
                self.temps.push(bucket.child_path(name));
            } else if kind == Kind::Dir {
                algorithms.push(name.to_owned());
            }
        }
        // Shards sorted by algorithm then name, and entries by name within each shard, give the
        // entries in path order.
        algorithms.sort_unstable();
        let mut algorithm_dirs = Vec::new();
        let mut shards: Vec<(usize, OsString)> = Vec::new();
        for algorithm in &algorithms {
            let Opened::Dir(dir) = bucket.open_child(algorithm)? else {
                continue;
            };
            let mut names: Vec<OsString> = dir
                .list()?
                .iter()
                .filter(|(_, kind)| *kind == Kind::Dir)
                .map(|(name, _)| name.to_owned())
                .collect();
            names.sort_unstable();
            shards.extend(names.into_iter().map(|name| (algorithm_dirs.len(), name)));
            algorithm_dirs.push(dir);
        }
        let found = shards
            .par_iter()
            .map_init(Vec::new, |buffer, (algorithm, name)| {
                let Opened::Dir(shard) = algorithm_dirs[*algorithm].open_child(name)? else {
                    return Ok((Vec::new(), Vec::new()));
                };
                let listing = shard.list()?;
                let mut names: Vec<&OsStr> = Vec::new();
                let mut temps = Vec::new();
                for (name, kind) in listing.iter() {
                    if name.to_string_lossy().starts_with(TEMP_PREFIX) {
                        temps.push(shard.child_path(name));
                    } else if kind != Kind::Dir {
                        names.push(name);
                    }
                }
                names.sort_unstable();
                let entries: Vec<IndexFile> = names
                    .into_iter()
                    .map(|name| IndexFile {
                        archive: read_index_entry(&shard, name, buffer),
                        path: shard.child_path(name),
                    })
                    .collect();
                Ok::<_, FsError>((entries, temps))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (entries, temps) in found {
            self.index_entries.extend(entries);
            self.temps.extend(temps);
        }
        Ok(())
    }

    /// Project pages and their policies: `simple-v1/<index>/<project>.{page,http}`.
    fn scan_simple(&mut self, bucket: &Path) -> Result<(), MaintenanceError> {
        for_each_entry(bucket, |index| {
            if index.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                self.temps.push(index.path());
                return Ok(());
            }
            if !is_dir(index) {
                return Ok(());
            }
            for_each_entry(&index.path(), |entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(TEMP_PREFIX) {
                    self.temps.push(entry.path());
                } else if let Some((project, _)) = name.rsplit_once('.') {
                    self.simple_files.push(SimpleFile {
                        path: entry.path(),
                        project: normalize_package_name(project),
                    });
                }
                Ok(())
            })
        })?;
        Ok(())
    }

    /// Archive directories and manifests in `archive-v0/<ab>/`, shards in parallel.
    fn scan_archives(&mut self, bucket: &Dir) -> Result<(), MaintenanceError> {
        let mut shards = Vec::new();
        for (name, kind) in bucket.list()?.iter() {
            let name_text = name.to_string_lossy();
            if name_text.starts_with(TEMP_PREFIX) {
                self.temps.push(bucket.child_path(name));
            } else if name_text.len() == ContentDigest::SHARD_LEN && kind == Kind::Dir {
                shards.push((name_text.into_owned(), name.to_owned()));
            }
        }
        type Found = (Vec<(String, PathBuf)>, Vec<(String, PathBuf)>, Vec<PathBuf>);
        let found = shards
            .par_iter()
            .map(|(prefix, name)| {
                let (mut archives, mut manifests, mut temps) = Found::default();
                let Opened::Dir(shard) = bucket.open_child(name)? else {
                    return Ok((archives, manifests, temps));
                };
                for (name, kind) in shard.list()?.iter() {
                    let Some(text) = name.to_str() else {
                        continue;
                    };
                    if text.starts_with(TEMP_PREFIX) {
                        temps.push(shard.child_path(name));
                        continue;
                    }
                    let (rest, is_manifest) = match text.rsplit_once('.') {
                        Some((rest, MANIFEST_EXTENSION)) => (rest, true),
                        Some(_) => continue,
                        None => (text, false),
                    };
                    let mut digest = String::with_capacity(prefix.len() + rest.len());
                    digest.push_str(prefix);
                    digest.push_str(rest);
                    if ContentDigest::hex(&digest).is_err() {
                        continue;
                    }
                    match (is_manifest, kind == Kind::Dir) {
                        (true, false) => manifests.push((digest, shard.child_path(name))),
                        (false, true) => archives.push((digest, shard.child_path(name))),
                        _ => {}
                    }
                }
                Ok::<_, FsError>((archives, manifests, temps))
            })
            .collect::<Result<Vec<Found>, _>>()?;
        for (archives, manifests, temps) in found {
            self.archives.extend(archives);
            self.manifests.extend(manifests);
            self.temps.extend(temps);
        }
        Ok(())
    }

    /// How many readable pointers name each archive.
    pub(crate) fn references(&self) -> FxHashMap<&str, usize> {
        let mut references: FxHashMap<&str, usize> = FxHashMap::default();
        for archive in self.pointers.iter().filter_map(PointerFile::archive) {
            *references.entry(archive).or_default() += 1;
        }
        references
    }
}

/// Whether the entry is a directory itself (a link to one is not).
fn is_dir(entry: &std::fs::DirEntry) -> bool {
    entry.file_type().is_ok_and(|t| t.is_dir())
}

/// `.tmp-*` entries anywhere under `dir`, which holds only records (never wheel contents).
fn collect_temps(dir: &Path, temps: &mut Vec<PathBuf>) -> Result<(), FsError> {
    let mut subdirs = Vec::new();
    for_each_entry(dir, |entry| {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            temps.push(entry.path());
        } else if is_dir(entry) {
            subdirs.push(entry.path());
        }
        Ok(())
    })?;
    for subdir in subdirs {
        collect_temps(&subdir, temps)?;
    }
    Ok(())
}

/// `<base>-v<digits>` for a known bucket base, other than the bucket's current directory.
fn is_stale_bucket(name: &str) -> bool {
    let Some((base, version)) = name.rsplit_once("-v") else {
        return false;
    };
    !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_digit())
        && CacheBucket::ALL
            .iter()
            .any(|bucket| bucket.base_name() == base && bucket.dir_name() != name)
}

/// The pointer `name` in `dir`, if it is a usable record of the current format; `None` for
/// anything `Cache::read_pointer` would treat as a miss for its content (the archive's presence
/// aside). `buffer` is scratch space, reused across records.
fn read_pointer(dir: &Dir, name: &OsStr, buffer: &mut Vec<u8>) -> Option<PointerSummary> {
    if !dir.read_child(name, buffer).ok()? {
        return None;
    }
    PointerSummary::parse(buffer)
}

/// The archive the index entry `name` in `dir` names, if it reads as an [`IndexRecord`].
/// `buffer` is scratch space, reused across records.
fn read_index_entry(dir: &Dir, name: &OsStr, buffer: &mut Vec<u8>) -> Option<String> {
    if !dir.read_child(name, buffer).ok()? {
        return None;
    }
    IndexRecord::parse(buffer).map(|record| record.archive.as_str().to_owned())
}
