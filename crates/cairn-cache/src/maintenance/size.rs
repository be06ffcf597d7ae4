//! How much space the cache takes: in total, and per archive.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;

use cairn_fs::{ContentDigest, FsError, TEMP_PREFIX};
use rayon::prelude::*;

use super::MaintenanceError;
use super::walk::{
    Dir, Kind, Opened, Tally, Usage, tally_child_dir, tally_dir, tally_entries, tally_path,
};
use crate::{ArchiveManifest, Cache, CacheBucket, MANIFEST_EXTENSION, MANIFEST_USAGE_PREFIX_LEN};

/// How archives are measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArchiveSizes {
    /// Take each archive's usage from its manifest, where cairn recorded it when the archive
    /// was unpacked (archives are never written after that), and walk only archives whose
    /// manifest is missing or of the first format. One small read per archive instead of a
    /// `stat` per file: what makes `size` and `list` fast on a large cache.
    #[default]
    Recorded,
    /// Walk every file of every archive, like `du`: exact even if something changed an
    /// archive behind cairn's back (or hard-linked files between archives), and slower.
    Walked,
}

/// The space the whole cache takes on disk, like `du -s` of its root: allocated blocks of every
/// file and directory, hard-linked files counted once, symbolic links never followed; archives
/// as `archives` says.
///
/// Safe beside running fetches (it only reads); the answer then reflects some moment of the
/// walk.
///
/// ```
/// use cairn_cache::maintenance::{ArchiveSizes, cache_size};
/// use cairn_cache::{Cache, CacheSettings};
///
/// let dir = tempfile::tempdir()?;
/// let settings = CacheSettings {
///     dir: Some(dir.path().to_owned()),
///     ..CacheSettings::default()
/// };
/// let cache = Cache::open(&settings)?;
/// let usage = cache_size(&cache, ArchiveSizes::Recorded)?;
/// assert_eq!(usage, cache_size(&cache, ArchiveSizes::Walked)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn cache_size(cache: &Cache, archives: ArchiveSizes) -> Result<Usage, MaintenanceError> {
    super::io_pool::run(|| Ok(measure(cache.root(), archives)?.total))
}

/// The space `path` takes on disk, and everything under it if it is a directory (links are not
/// followed, hard-linked files count once): what [`Cache::persist_unpacked`] records in an
/// archive's manifest before it publishes the archive. A path that does not exist takes
/// nothing.
///
/// [`Cache::persist_unpacked`]: crate::Cache::persist_unpacked
pub fn measure_tree(path: &Path) -> Result<Usage, FsError> {
    Ok(tally_path(path)?.usage())
}

/// A measurement of the cache.
#[derive(Debug, Default)]
pub(crate) struct Measure {
    /// The whole cache.
    pub(crate) total: Usage,
    /// Each archive directory (by digest) and everything in it.
    pub(crate) archives: HashMap<String, Usage>,
}

/// Measures the cache at `root`, and each archive on the way, in one walk: the archive bucket
/// and the rest of the cache in parallel.
pub(crate) fn measure(root: &Path, sizes: ArchiveSizes) -> Result<Measure, MaintenanceError> {
    // The root itself may be a link the user chose (`--cache-dir`): measure what it points to.
    let root_dir = Dir::open(root)?
        .ok_or_else(|| FsError::new("inspect", root, io::Error::from(io::ErrorKind::NotFound)))?;
    let mut tally = Tally::default();
    tally.add(&root_dir.stat()?);
    let listing = root_dir.list()?;
    let (archive_bucket, others): (Vec<_>, Vec<_>) = listing
        .iter()
        .partition(|(name, kind)| *kind == Kind::Dir && is_archive_bucket(name));
    let (archives, rest) = rayon::join(
        || match archive_bucket.first() {
            Some((name, _)) => measure_archive_bucket(&root_dir, name, sizes, Shares::AndBucket),
            None => Ok((Tally::default(), Vec::new())),
        },
        || tally_entries(&root_dir, &others),
    );
    let (bucket, per_archive) = archives?;
    tally.merge(bucket);
    tally.merge(rest?);
    let mut archives = HashMap::with_capacity(per_archive.len());
    for (digest, archive) in per_archive {
        archives.insert(digest, archive.usage());
        tally.merge(archive);
    }
    Ok(Measure {
        total: tally.usage(),
        archives,
    })
}

/// The space each archive takes (by digest), from one walk of the archive bucket.
pub(crate) fn archive_usages(
    root: &Path,
    sizes: ArchiveSizes,
) -> Result<HashMap<String, Usage>, MaintenanceError> {
    let Some(root_dir) = Dir::open(root)? else {
        return Ok(HashMap::new());
    };
    let name = OsStr::new(CacheBucket::Archive.dir_name());
    let (_, per_archive) = measure_archive_bucket(&root_dir, name, sizes, Shares::ArchivesOnly)?;
    Ok(per_archive
        .into_iter()
        .map(|(digest, archive)| (digest, archive.usage()))
        .collect())
}

fn is_archive_bucket(name: &OsStr) -> bool {
    name == CacheBucket::Archive.dir_name()
}

/// The bucket's own entries, and each archive's tree apart.
type BucketTally = (Tally, Vec<(String, Tally)>);

/// What a measurement of the archive bucket covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shares {
    /// Each archive, and the bucket's and shards' own entries (manifests, leftovers).
    AndBucket,
    /// Each archive only: the bucket's tally stays empty, and manifests are read, not
    /// inspected (a `stat` each, which listing has no use for).
    ArchivesOnly,
}

/// Measures everything under `archive-v0` (the entry `name` of `root`), keeping each archive's
/// share apart, or only each archive's as `shares` says. Shards, and archives within a shard,
/// are measured in parallel.
fn measure_archive_bucket(
    root: &Dir,
    name: &OsStr,
    sizes: ArchiveSizes,
    shares: Shares,
) -> Result<BucketTally, FsError> {
    let bucket = match root.open_child(name)? {
        Opened::Dir(bucket) => bucket,
        // Swapped for a file or a link since it was listed: measure it as any other entry.
        Opened::NotDir => return Ok((tally_child_dir(root, name)?, Vec::new())),
        Opened::Vanished => return Ok((Tally::default(), Vec::new())),
    };
    let mut tally = Tally::default();
    tally.add(&bucket.stat()?);
    let listing = bucket.list()?;
    // Only `<ab>` directories hold archives; anything else is measured as it is.
    let (shards, others): (Vec<_>, Vec<_>) = listing
        .iter()
        .partition(|(name, kind)| *kind == Kind::Dir && name.len() == ContentDigest::SHARD_LEN);
    if shares == Shares::AndBucket {
        tally.merge(tally_entries(&bucket, &others)?);
    }
    let measured = shards
        .par_iter()
        .map(|(name, _)| measure_shard(&bucket, name, sizes, shares))
        .collect::<Result<Vec<BucketTally>, FsError>>()?;
    let mut archives = Vec::new();
    for (shard, per_archive) in measured {
        tally.merge(shard);
        archives.extend(per_archive);
    }
    Ok((tally, archives))
}

/// Measures one shard (the entry `name` of `bucket`): its own entries in the first tally (if
/// `shares` says so), each archive's tree apart.
fn measure_shard(
    bucket: &Dir,
    name: &OsStr,
    sizes: ArchiveSizes,
    shares: Shares,
) -> Result<BucketTally, FsError> {
    let shard = match bucket.open_child(name)? {
        Opened::Dir(shard) => shard,
        Opened::NotDir => return Ok((tally_child_dir(bucket, name)?, Vec::new())),
        Opened::Vanished => return Ok((Tally::default(), Vec::new())),
    };
    let prefix = name.to_string_lossy();
    let mut tally = Tally::default();
    tally.add(&shard.stat()?);
    let listing = shard.list()?;
    let mut archive_dirs = Vec::new();
    let mut others = Vec::new();
    for (name, kind) in listing.iter() {
        let rest = name.to_string_lossy();
        let mut digest = String::with_capacity(prefix.len() + rest.len());
        digest.push_str(&prefix);
        digest.push_str(&rest);
        if kind == Kind::Dir
            && !rest.starts_with(TEMP_PREFIX)
            && ContentDigest::hex(&digest).is_ok()
        {
            archive_dirs.push((digest, name));
        } else {
            others.push((name, kind));
        }
    }
    if shares == Shares::AndBucket {
        tally.merge(tally_entries(&shard, &others)?);
    }
    let manifests: HashSet<&OsStr> = match sizes {
        ArchiveSizes::Recorded => others
            .iter()
            .filter(|(_, kind)| *kind == Kind::File)
            .map(|(name, _)| *name)
            .collect(),
        ArchiveSizes::Walked => HashSet::new(),
    };
    let archives = archive_dirs
        .into_par_iter()
        .map_init(Vec::new, |buffer, (digest, name)| {
            let manifest = manifest_name(name);
            let recorded = if manifests.contains(manifest.as_os_str()) {
                recorded_usage(&shard, &manifest, buffer)?
            } else {
                None
            };
            let tally = match recorded {
                Some(usage) => Tally::recorded(usage),
                None => tally_child_dir(&shard, name)?,
            };
            Ok((digest, tally))
        })
        .collect::<Result<Vec<_>, FsError>>()?;
    Ok((tally, archives))
}

/// The name of the manifest beside the archive directory `name`: `<name>.manifest`.
fn manifest_name(name: &OsStr) -> OsString {
    let mut manifest = name.to_owned();
    manifest.push(".");
    manifest.push(MANIFEST_EXTENSION);
    manifest
}

/// The usage the manifest `name` of `shard` recorded, read from its first bytes; `None` if it
/// recorded none or is gone.
fn recorded_usage(
    shard: &Dir,
    name: &OsStr,
    buffer: &mut Vec<u8>,
) -> Result<Option<Usage>, FsError> {
    match shard.read_child_prefix(name, buffer, MANIFEST_USAGE_PREFIX_LEN) {
        Ok(true) => Ok(ArchiveManifest::usage_from_prefix(buffer)),
        Ok(false) => Ok(None),
        Err(error) => Err(FsError::new("read", shard.child_path(name), error)),
    }
}

/// The space the archive `digest` takes, or `None` if it is not in the store (or `digest` is no
/// archive name); its recorded usage when `sizes` says so and its manifest has one.
pub(crate) fn existing_archive_usage(
    cache: &Cache,
    digest: &str,
    sizes: ArchiveSizes,
) -> Result<Option<Usage>, FsError> {
    let Ok(digest) = ContentDigest::hex(digest) else {
        return Ok(None);
    };
    let dir = match Dir::open_nofollow(cache.archive(&digest).path())? {
        Opened::Dir(dir) => dir,
        Opened::NotDir | Opened::Vanished => return Ok(None),
    };
    if sizes == ArchiveSizes::Recorded {
        let manifest = cache.manifest_path(&digest);
        if let (Some(shard), Some(name)) = (manifest.parent(), manifest.file_name())
            && let Opened::Dir(shard) = Dir::open_nofollow(shard)?
            && let Some(usage) = recorded_usage(&shard, name, &mut Vec::new())?
        {
            return Ok(Some(usage));
        }
    }
    Ok(Some(tally_dir(&dir)?.usage()))
}
