//! One pass over the cache's records and archive names: what every maintenance command starts
//! from.
//!
//! Directories are listed with `read_dir` and classified by their `d_type` (`file_type`), with
//! no `stat`. Records are read in parallel; archive shards are listed in parallel. Nothing
//! inside an archive is read: archive contents are wheel files, whose names mean nothing here
//! (a wheel may well contain a file called `.tmp-x`).
//!
//! Records are scanned before archives. Under the shared lock fetches run alongside, but they
//! only ever add, and they write a pointer or an index entry after its archive is in place: a
//! record seen here therefore names an archive the later archive scan sees, and no record is
//! mistaken for dangling.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use cairn_cache_key::normalize_package_name;
use cairn_fs::{ContentDigest, FsError, TEMP_PREFIX};
use rayon::prelude::*;
use serde::Serialize;

use super::MaintenanceError;
use super::walk::{for_each_entry, vanished};
use crate::{CacheBucket, MANIFEST_EXTENSION, POINTER_FORMAT, Pointer};

/// Where a pointer's source is: its directory under `wheels-v0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A local file (`wheels-v0/path/`).
    Path,
    /// An http(s) URL (`wheels-v0/url/`).
    Url,
}

impl SourceKind {
    fn dir_name(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Url => "url",
        }
    }
}

/// A pointer file.
#[derive(Debug)]
pub(crate) struct PointerFile {
    pub(crate) path: PathBuf,
    pub(crate) kind: SourceKind,
    /// The record, when it is a usable pointer of the current format with a valid archive name.
    pub(crate) pointer: Option<Pointer>,
    /// The HTTP policy beside it, if there is one.
    pub(crate) policy: Option<PathBuf>,
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
}

/// An entry of the published-digest index.
#[derive(Debug)]
pub(crate) struct IndexFile {
    pub(crate) path: PathBuf,
    /// The archive it names, when the entry reads as `<archive> <size>`.
    pub(crate) archive: Option<String>,
}

/// A file of the simple bucket: a project page or its HTTP policy.
#[derive(Debug)]
pub(crate) struct SimpleFile {
    pub(crate) path: PathBuf,
    /// The normalised project the file belongs to (its name without the extension).
    pub(crate) project: String,
}

/// Everything maintenance needs to know about a cache, from one pass.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) pointers: Vec<PointerFile>,
    /// HTTP policies without a pointer beside them.
    pub(crate) orphan_policies: Vec<PathBuf>,
    pub(crate) index_entries: Vec<IndexFile>,
    /// Archive digest → archive directory.
    pub(crate) archives: HashMap<String, PathBuf>,
    /// Archive digest → manifest file.
    pub(crate) manifests: HashMap<String, PathBuf>,
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
        let mut scan = Scan::default();
        let mut symlinked = None;
        for_each_entry(root, |entry| {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Ok(());
            };
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(error) if vanished(&error) => return Ok(()),
                Err(error) => return Err(FsError::new("inspect", entry.path(), error)),
            };
            if name.starts_with(TEMP_PREFIX) {
                scan.temps.push(entry.path());
            } else if let Some(bucket) = CacheBucket::ALL.iter().find(|b| b.dir_name() == name) {
                if file_type.is_symlink() {
                    symlinked = Some(entry.path());
                } else if file_type.is_dir() {
                    scan.buckets.insert(*bucket, entry.path());
                }
            } else if is_stale_bucket(&name) {
                scan.stale_buckets.push(entry.path());
            }
            Ok(())
        })?;
        if let Some(path) = symlinked {
            return Err(MaintenanceError::SymlinkedBucket { path });
        }
        scan.temps.sort();
        scan.stale_buckets.sort();

        if let Some(dir) = scan.bucket(CacheBucket::Wheels) {
            scan.scan_wheels(&dir)?;
        }
        if let Some(dir) = scan.bucket(CacheBucket::Hashes) {
            scan.scan_hashes(&dir)?;
        }
        if let Some(dir) = scan.bucket(CacheBucket::Simple) {
            scan.scan_simple(&dir)?;
        }
        if let Some(dir) = scan.bucket(CacheBucket::Interpreter) {
            let mut temps = Vec::new();
            collect_temps(&dir, &mut temps)?;
            scan.temps.extend(temps);
        }
        // Last: see the module documentation.
        if let Some(dir) = scan.bucket(CacheBucket::Archive) {
            scan.scan_archives(&dir)?;
        }
        Ok(scan)
    }

    /// The directory of `bucket`, if it exists.
    pub(crate) fn bucket(&self, bucket: CacheBucket) -> Option<PathBuf> {
        self.buckets.get(&bucket).cloned()
    }

    /// Pointers (`*.json`) and HTTP policies (`*.http`) under `wheels-v0/{path,url}/`.
    fn scan_wheels(&mut self, bucket: &Path) -> Result<(), MaintenanceError> {
        for kind in [SourceKind::Path, SourceKind::Url] {
            let dir = bucket.join(kind.dir_name());
            let mut pointer_paths = Vec::new();
            let mut policies: HashSet<String> = HashSet::new();
            for_each_entry(&dir, |entry| {
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    return Ok(());
                };
                if name.starts_with(TEMP_PREFIX) {
                    self.temps.push(entry.path());
                } else if let Some(stem) = name.strip_suffix(".json") {
                    pointer_paths.push((stem.to_owned(), entry.path()));
                } else if let Some(stem) = name.strip_suffix(".http") {
                    policies.insert(stem.to_owned());
                }
                Ok(())
            })?;
            let pointers: Vec<PointerFile> = pointer_paths
                .par_iter()
                .map(|(stem, path)| PointerFile {
                    path: path.clone(),
                    kind,
                    pointer: read_pointer(path),
                    policy: policies
                        .contains(stem)
                        .then(|| dir.join(format!("{stem}.http"))),
                })
                .collect();
            let with_pointer: HashSet<&str> = pointer_paths
                .iter()
                .map(|(stem, _)| stem.as_str())
                .collect();
            let mut orphans: Vec<PathBuf> = policies
                .iter()
                .filter(|stem| !with_pointer.contains(stem.as_str()))
                .map(|stem| dir.join(format!("{stem}.http")))
                .collect();
            orphans.sort();
            self.orphan_policies.extend(orphans);
            self.pointers.extend(pointers);
        }
        self.pointers.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(())
    }

    /// Index entries: `hashes-v0/<algorithm>/<ab>/<rest>`, read in parallel by shard.
    fn scan_hashes(&mut self, bucket: &Path) -> Result<(), MaintenanceError> {
        let mut shards = Vec::new();
        for_each_entry(bucket, |algorithm| {
            if algorithm
                .file_name()
                .to_string_lossy()
                .starts_with(TEMP_PREFIX)
            {
                self.temps.push(algorithm.path());
                return Ok(());
            }
            if is_dir(algorithm) {
                for_each_entry(&algorithm.path(), |shard| {
                    if is_dir(shard) {
                        shards.push(shard.path());
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
        let found = shards
            .par_iter()
            .map(|shard| {
                let mut entries = Vec::new();
                let mut temps = Vec::new();
                for_each_entry(shard, |entry| {
                    if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                        temps.push(entry.path());
                    } else if !is_dir(entry) {
                        entries.push(entry.path());
                    }
                    Ok(())
                })?;
                let entries: Vec<IndexFile> = entries
                    .into_iter()
                    .map(|path| IndexFile {
                        archive: read_index_entry(&path),
                        path,
                    })
                    .collect();
                Ok::<_, FsError>((entries, temps))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (entries, temps) in found {
            self.index_entries.extend(entries);
            self.temps.extend(temps);
        }
        self.index_entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(())
    }

    /// Project pages and their policies: `simple-v0/<index>/<project>.{page,http}`.
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
    fn scan_archives(&mut self, bucket: &Path) -> Result<(), MaintenanceError> {
        let mut shards = Vec::new();
        for_each_entry(bucket, |shard| {
            let name = shard.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) {
                self.temps.push(shard.path());
            } else if name.len() == ContentDigest::SHARD_LEN && is_dir(shard) {
                shards.push((name, shard.path()));
            }
            Ok(())
        })?;
        type Found = (Vec<(String, PathBuf)>, Vec<(String, PathBuf)>, Vec<PathBuf>);
        let found = shards
            .par_iter()
            .map(|(prefix, shard)| {
                let (mut archives, mut manifests, mut temps) = Found::default();
                for_each_entry(shard, |entry| {
                    let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                        return Ok(());
                    };
                    if name.starts_with(TEMP_PREFIX) {
                        temps.push(entry.path());
                        return Ok(());
                    }
                    let (rest, is_manifest) = match name.rsplit_once('.') {
                        Some((rest, MANIFEST_EXTENSION)) => (rest, true),
                        Some(_) => return Ok(()),
                        None => (name.as_str(), false),
                    };
                    let digest = format!("{prefix}{rest}");
                    if ContentDigest::hex(&digest).is_err() {
                        return Ok(());
                    }
                    match (is_manifest, is_dir(entry)) {
                        (true, false) => manifests.push((digest, entry.path())),
                        (false, true) => archives.push((digest, entry.path())),
                        _ => {}
                    }
                    Ok(())
                })?;
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
    pub(crate) fn references(&self) -> HashMap<&str, usize> {
        let mut references: HashMap<&str, usize> = HashMap::new();
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

/// The pointer at `path`, if it is a usable record of the current format; `None` for anything
/// `Cache::read_pointer` would treat as a miss for its content (the archive's presence aside).
fn read_pointer(path: &Path) -> Option<Pointer> {
    let bytes = std::fs::read(path).ok()?;
    let pointer: Pointer = serde_json::from_slice(&bytes).ok()?;
    (pointer.format == POINTER_FORMAT && pointer.archive_digest().is_ok()).then_some(pointer)
}

/// The archive an index entry (`<archive> <size>\n`) names, if it reads as one.
fn read_index_entry(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let (archive, size) = text.strip_suffix('\n')?.split_once(' ')?;
    size.parse::<u64>().ok()?;
    ContentDigest::hex(archive).ok()?;
    Some(archive.to_owned())
}
