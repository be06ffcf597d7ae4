//! How much space the cache takes: in total, and per archive.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::path::Path;

use cairn_fs::{ContentDigest, FsError, TEMP_PREFIX};
use rayon::prelude::*;

use super::MaintenanceError;
use super::walk::{Dir, Kind, Opened, Tally, Usage, tally_child_dir, tally_dir, tally_entries};
use crate::{Cache, CacheBucket};

/// The space the whole cache takes on disk, like `du -s` of its root: allocated blocks of every
/// file and directory, hard-linked files counted once, symbolic links never followed.
///
/// Safe beside running fetches (it only reads); the answer then reflects some moment of the
/// walk.
pub fn cache_size(cache: &Cache) -> Result<Usage, MaintenanceError> {
    Ok(measure(cache.root())?.total)
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
pub(crate) fn measure(root: &Path) -> Result<Measure, MaintenanceError> {
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
            Some((name, _)) => measure_archive_bucket(&root_dir, name),
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
pub(crate) fn archive_usages(root: &Path) -> Result<HashMap<String, Usage>, MaintenanceError> {
    let Some(root_dir) = Dir::open(root)? else {
        return Ok(HashMap::new());
    };
    let name = OsStr::new(CacheBucket::Archive.dir_name());
    let (_, per_archive) = measure_archive_bucket(&root_dir, name)?;
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

/// Measures everything under `archive-v0` (the entry `name` of `root`), keeping each archive's
/// share apart. Shards, and archives within a shard, are measured in parallel.
fn measure_archive_bucket(root: &Dir, name: &OsStr) -> Result<BucketTally, FsError> {
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
    tally.merge(tally_entries(&bucket, &others)?);
    let measured = shards
        .par_iter()
        .map(|(name, _)| measure_shard(&bucket, name))
        .collect::<Result<Vec<BucketTally>, FsError>>()?;
    let mut archives = Vec::new();
    for (shard, per_archive) in measured {
        tally.merge(shard);
        archives.extend(per_archive);
    }
    Ok((tally, archives))
}

/// Measures one shard (the entry `name` of `bucket`): its own entries in the first tally, each
/// archive's tree apart.
fn measure_shard(bucket: &Dir, name: &OsStr) -> Result<BucketTally, FsError> {
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
    tally.merge(tally_entries(&shard, &others)?);
    let archives = archive_dirs
        .into_par_iter()
        .map(|(digest, name)| Ok((digest, tally_child_dir(&shard, name)?)))
        .collect::<Result<Vec<_>, FsError>>()?;
    Ok((tally, archives))
}

/// The space the archive `digest` takes, or `None` if it is not in the store (or `digest` is no
/// archive name).
pub(crate) fn existing_archive_usage(
    cache: &Cache,
    digest: &str,
) -> Result<Option<Usage>, FsError> {
    let Ok(digest) = ContentDigest::hex(digest) else {
        return Ok(None);
    };
    match Dir::open_nofollow(cache.archive(&digest).path())? {
        Opened::Dir(dir) => Ok(Some(tally_dir(&dir)?.usage())),
        Opened::NotDir | Opened::Vanished => Ok(None),
    }
}
