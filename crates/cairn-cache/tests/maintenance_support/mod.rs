//! Shared by the `maintenance_*` tests: caches built from real fetched wheels, and full
//! listings of a cache directory to compare before and after.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_cache::maintenance::{self, CachedWheel, LockWait, Plan, Reason};
use cairn_cache::{Cache, CacheSettings, Pointer};
use cairn_distribution::fetch::{FetchedWheel, StoreSettings, WheelStore};
use cairn_fs::LockMode;
use cairn_hash::ExpectedHashes;
pub use cairn_test_support::noise::noise;
use cairn_test_support::wheel::WheelBuilder;

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

    /// Fetches `wheel` through a short-lived store (so no shared handle lingers).
    pub fn fetch(&self, wheel: &Path) -> FetchedWheel {
        let store = WheelStore::new(self.shared(), StoreSettings::default());
        store.fetch_path(wheel, &ExpectedHashes::default()).unwrap()
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
