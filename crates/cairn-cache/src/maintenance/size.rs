//! How much space the cache takes: in total, and per archive.

use std::collections::HashMap;
use std::path::Path;

use cairn_fs::{ContentDigest, FsError, TEMP_PREFIX};
use rayon::prelude::*;

use super::MaintenanceError;
use super::walk::{Tally, Usage, entry_metadata, for_each_entry, tally_contents};
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

/// Measures the cache at `root`, and each archive on the way, in one walk.
pub(crate) fn measure(root: &Path) -> Result<Measure, MaintenanceError> {
    let mut tally = Tally::default();
    // The root itself may be a link the user chose (`--cache-dir`): measure what it points to.
    let metadata = std::fs::metadata(root).map_err(|e| FsError::new("inspect", root, e))?;
    tally.add(&metadata);
    let mut archives = HashMap::new();
    let mut subdirs = Vec::new();
    for_each_entry(root, |entry| {
        let Some(metadata) = entry_metadata(entry)? else {
            return Ok(());
        };
        tally.add(&metadata);
        if metadata.is_dir() {
            subdirs.push((entry.file_name(), entry.path()));
        }
        Ok(())
    })?;
    for (name, dir) in subdirs {
        if name == CacheBucket::Archive.dir_name() {
            let (bucket, per_archive) = measure_archive_bucket(&dir)?;
            tally.merge(bucket);
            archives = per_archive;
        } else {
            tally.merge(tally_contents(&dir)?);
        }
    }
    Ok(Measure {
        total: tally.usage(),
        archives,
    })
}

type ShardTally = (Tally, Vec<(String, Tally)>);

/// Measures everything under `archive-v0`, keeping each archive's share apart.
fn measure_archive_bucket(bucket: &Path) -> Result<(Tally, HashMap<String, Usage>), FsError> {
    let mut tally = Tally::default();
    let mut shards = Vec::new();
    for_each_entry(bucket, |entry| {
        let Some(metadata) = entry_metadata(entry)? else {
            return Ok(());
        };
        tally.add(&metadata);
        if metadata.is_dir() {
            shards.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
        Ok(())
    })?;
    let measured = shards
        .par_iter()
        .map(|(prefix, shard)| measure_shard(prefix, shard))
        .collect::<Result<Vec<ShardTally>, FsError>>()?;
    let mut archives = HashMap::new();
    for (shard, per_archive) in measured {
        tally.merge(shard);
        for (digest, archive) in per_archive {
            archives.insert(digest, archive.usage());
            tally.merge(archive);
        }
    }
    Ok((tally, archives))
}

/// Measures one shard: its own entries in the first tally, each archive's tree apart.
fn measure_shard(prefix: &str, shard: &Path) -> Result<ShardTally, FsError> {
    let mut tally = Tally::default();
    let mut archive_dirs = Vec::new();
    let mut other_dirs = Vec::new();
    for_each_entry(shard, |entry| {
        let Some(metadata) = entry_metadata(entry)? else {
            return Ok(());
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let digest = format!("{prefix}{name}");
        if metadata.is_dir()
            && !name.starts_with(TEMP_PREFIX)
            && ContentDigest::hex(&digest).is_ok()
        {
            archive_dirs.push((digest, entry.path(), metadata));
        } else {
            tally.add(&metadata);
            if metadata.is_dir() {
                other_dirs.push(entry.path());
            }
        }
        Ok(())
    })?;
    for dir in other_dirs {
        tally.merge(tally_contents(&dir)?);
    }
    let archives = archive_dirs
        .into_par_iter()
        .map(|(digest, path, metadata)| {
            let mut archive = Tally::default();
            archive.add(&metadata);
            archive.merge(tally_contents(&path)?);
            Ok((digest, archive))
        })
        .collect::<Result<Vec<_>, FsError>>()?;
    Ok((tally, archives))
}

/// The space one archive directory takes.
pub(crate) fn archive_usage(dir: &Path) -> Result<Usage, FsError> {
    Ok(super::walk::tally_path(dir)?.usage())
}
