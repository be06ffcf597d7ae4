//! Shared by the `maintenance_*` tests: caches built from real wheels through this crate's own
//! record API (the way the fetch pipeline builds them), and full listings of a cache directory
//! to compare before and after.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_cache::maintenance::{self, CachedWheel, LockWait, Plan, Reason};
use cairn_cache::{
    ArchivePath, Cache, CacheSettings, IndexKey, IndexRecord, ManifestEntry, POINTER_FORMAT,
    Pointer, PointerKey,
};
use cairn_fs::{ContentDigest, LockMode};
use cairn_hash::HashAlgorithm;
pub use cairn_test_support::noise::noise;
use cairn_test_support::wheel::WheelBuilder;

/// How a [`Fixture::fetch`] found or put the wheel, as the fetch pipeline reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The source's pointer matched the file: nothing was hashed or unpacked.
    PointerHit,
    /// The content was in the store already; only records were written.
    ContentHit,
    /// The wheel was unpacked.
    Unpacked,
}

impl Outcome {
    pub fn is_hit(self) -> bool {
        self != Outcome::Unpacked
    }
}

/// A wheel in the store.
#[derive(Debug, Clone)]
pub struct Stored {
    pub archive: ArchivePath,
    pub outcome: Outcome,
}

/// A work directory with a cache root and a place for wheels.
pub struct Fixture {
    pub work: tempfile::TempDir,
    pub root: PathBuf,
    pub wheels: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let work = tempfile::tempdir().unwrap();
        let root = work.path().join("cache");
        let wheels = work.path().join("wheels");
        std::fs::create_dir(&wheels).unwrap();
        Self { work, root, wheels }
    }

    pub fn settings(&self) -> CacheSettings {
        CacheSettings {
            dir: Some(self.root.clone()),
            lock_timeout: Some(Duration::from_secs(60)),
            ..CacheSettings::default()
        }
    }

    /// A shared handle, as fetches and readers use.
    pub fn shared(&self) -> Cache {
        Cache::open(&self.settings()).unwrap()
    }

    /// The exclusive handle removal needs; drop every shared handle of this process first.
    pub fn exclusive(&self) -> Cache {
        maintenance::open_cache(
            &self.settings(),
            LockMode::Exclusive,
            LockWait::NoWait,
            |_| panic!("another handle holds the cache"),
        )
        .unwrap()
    }

    /// Builds a wheel in the wheels directory: `name-version` with `files` of the given
    /// sizes (incompressible content, so archive sizes are predictable in blocks).
    pub fn wheel(&self, name: &str, version: &str, files: &[(&str, usize)]) -> PathBuf {
        let mut builder = WheelBuilder::new(name, version);
        for (index, (path, size)) in files.iter().enumerate() {
            builder = builder.file(path, noise(*size, index as u64 + seed(name)));
        }
        builder.build(&self.wheels)
    }

    /// Puts the local `wheel` in the cache as a fetch of it does, through a short-lived handle
    /// (so no shared handle lingers).
    pub fn fetch(&self, wheel: &Path) -> Stored {
        self.fetch_hashed(wheel, &[])
    }

    /// [`Fixture::fetch`], also computing and indexing the digests of `extra` algorithms (as a
    /// request pinned to them does).
    ///
    /// The same steps and records as the fetch pipeline's: the pointer of the path when the
    /// file's size and mtime match it; else, under the path's lock, the BLAKE3 digest; the
    /// archive if it is in the store, else an unpack under the archive's lock with its manifest;
    /// then the index entries and the pointer.
    pub fn fetch_hashed(&self, wheel: &Path, extra: &[HashAlgorithm]) -> Stored {
        let cache = self.shared();
        let source = wheel.display().to_string();
        let metadata = std::fs::metadata(wheel).unwrap();
        let size = metadata.len();
        let modified = Some(
            metadata
                .modified()
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i128,
        );
        let entry = cache.pointer_entry(&PointerKey::path(wheel));
        let pointer_hit = || {
            let (pointer, archive) = cache.read_pointer(&entry)?;
            let matches = pointer.source == source
                && pointer.size == size
                && pointer.source_modified == modified
                && extra
                    .iter()
                    .all(|algorithm| pointer.hash(algorithm.name()).is_some());
            matches.then_some(Stored {
                archive,
                outcome: Outcome::PointerHit,
            })
        };
        if let Some(hit) = pointer_hit() {
            return hit;
        }
        let _lock = cache.lock(&("path", source.as_str()), None).unwrap();
        if let Some(hit) = pointer_hit() {
            return hit;
        }

        let hashes = cairn_hash::hash_file(wheel, extra).unwrap();
        let digest = ContentDigest::hex(&hashes.blake3.to_hex()).unwrap();
        let (archive, outcome) = match cache.find_archive(&digest) {
            Some(archive) => (archive, Outcome::ContentHit),
            None => {
                let _lock = cache.lock(&("archive", digest.as_str()), None).unwrap();
                let temp = cache.temp_dir().unwrap();
                let report =
                    cairn_zip::extract_file(wheel, temp.path(), &cairn_zip::Limits::default())
                        .unwrap();
                let entries = report
                    .written
                    .iter()
                    .map(|file| ManifestEntry {
                        path: file.path.clone(),
                        size: file.size,
                        crc32: file.crc32,
                        executable: file.executable,
                    })
                    .collect();
                let (archive, _) = cache.persist_unpacked(temp, &digest, entries).unwrap();
                (archive, Outcome::Unpacked)
            }
        };

        let indexed = IndexRecord {
            archive: digest.clone(),
            wheel_size: size,
            filename: wheel.file_name().unwrap().to_str().unwrap().to_owned(),
        };
        for published in hashes.others.iter() {
            let key = IndexKey::parse(published.algorithm().name(), &published.to_hex()).unwrap();
            cache.write_index(&key, &indexed).unwrap();
        }
        let filename = wheel.file_name().unwrap().to_str().unwrap().to_owned();
        let stem = filename.strip_suffix(".whl").unwrap();
        let [name, version, tags] = stem.splitn(3, '-').collect::<Vec<_>>()[..] else {
            panic!("not a simple wheel name: {filename}");
        };
        let pointer = Pointer {
            format: POINTER_FORMAT,
            source,
            name: name.to_owned(),
            version: version.to_owned(),
            tags: tags.to_owned(),
            filename,
            archive: digest.as_str().to_owned(),
            hashes: hashes.iter().map(ToString::to_string).collect(),
            size,
            source_modified: modified,
            last_used: now(),
        };
        cache.write_pointer(&entry, &pointer).unwrap();
        Stored { archive, outcome }
    }

    /// The listed row whose source is `wheel`.
    pub fn row(&self, wheel: &Path) -> CachedWheel {
        let source = wheel.display().to_string();
        maintenance::list(&self.shared(), &[])
            .unwrap()
            .into_iter()
            .find(|row| row.source == source)
            .unwrap_or_else(|| panic!("no pointer for {source}"))
    }

    /// The pointer file of `wheel`.
    pub fn pointer_path(&self, wheel: &Path) -> PathBuf {
        self.row(wheel).pointer
    }

    /// Rewrites `last_used` in the pointer of `wheel`.
    pub fn set_last_used(&self, wheel: &Path, last_used: u64) {
        let path = self.pointer_path(wheel);
        let mut pointer: Pointer = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        pointer.last_used = last_used;
        std::fs::write(&path, serde_json::to_vec_pretty(&pointer).unwrap()).unwrap();
    }

    /// A path relative to the cache root.
    pub fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// The plan as `(relative path, reason)`, sorted.
    pub fn plan_entries(&self, plan: &Plan) -> Vec<(String, Reason)> {
        let mut entries: Vec<(String, Reason)> = plan
            .removals()
            .iter()
            .map(|removal| (self.rel(&removal.path), removal.reason))
            .collect();
        entries.sort();
        entries
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What is at one path of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir {
        mode: u32,
        modified: SystemTime,
    },
    File {
        mode: u32,
        modified: SystemTime,
        content: Vec<u8>,
    },
    Link {
        target: PathBuf,
    },
}

/// Everything under `root`: every path, its kind, mode, mtime and content.
pub fn listing(root: &Path) -> BTreeMap<String, Node> {
    use std::os::unix::fs::PermissionsExt;
    let mut nodes = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mode = metadata.permissions().mode();
            let modified = metadata.modified().unwrap();
            let node = if metadata.file_type().is_symlink() {
                Node::Link {
                    target: std::fs::read_link(&path).unwrap(),
                }
            } else if metadata.is_dir() {
                pending.push(path);
                Node::Dir { mode, modified }
            } else {
                Node::File {
                    mode,
                    modified,
                    content: std::fs::read(&path).unwrap(),
                }
            };
            nodes.insert(relative, node);
        }
    }
    nodes
}

/// Sets the modification time of a file or directory (not following a final link).
pub fn age(path: &Path, by: Duration) {
    let file = std::fs::File::open(path).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

/// Allocated bytes of one entry, as the maintenance code counts them.
pub fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).unwrap().blocks() * 512
}

/// `du -sB1 <path>`: the reference for allocated sizes.
pub fn du(path: &Path) -> u64 {
    let output = std::process::Command::new("du")
        .arg("-sB1")
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
