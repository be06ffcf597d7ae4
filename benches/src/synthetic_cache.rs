//! A synthetic but realistic cache for the maintenance benchmarks: 100,000 pointers naming
//! 50,000 small unpacked archives, in the on-disk format of `docs/layout.md`.
//!
//! An *entry* of the cache is what `cairn cache list` shows: one pointer in `wheels-v0`. So a
//! cache of 100,000 entries holds 100,000 pointers (JSON records) and, around them, everything
//! the fetch code writes for them:
//!
//! - each archive is named by two pointers on average: the wheel downloaded from PyPI, and the
//!   same bytes reached again through a mirror URL or a local file (pointers of two sources of
//!   one wheel name one archive);
//! - every URL pointer has its HTTP cache policy (`.http`, a real [`CachePolicy`] encoding);
//! - every archive has its manifest, and the `hashes-v1/sha256` index entry its download wrote;
//! - archives are small pure-Python wheels shaped like `tomli`: a package directory with three
//!   to five modules (one in four with a subpackage) and a `.dist-info` with `METADATA`,
//!   `RECORD` and `WHEEL`: about 6.5 files and 3.25 directories each;
//! - about 1% of it is what `cairn cache prune` removes: pointers whose archive is gone,
//!   archives no pointer names, manifests without archive, policies without pointer, old
//!   `.tmp-*` leftovers. A cache that has lived for a while has some; a dry run then has
//!   something to plan.
//!
//! Records are written with plain writes rather than `write_atomic`: nobody else uses the
//! cache while it is built, and 250,000 fsyncs would take minutes. Their names and bytes are
//! those the crates write ([`PointerKey`], [`IndexKey`], [`Pointer::to_json`],
//! [`IndexRecord::to_line`], [`ArchiveManifest::to_text`], [`CachePolicy::to_bytes`]). Digests
//! are BLAKE3 hashes of the entry's number, not of real wheel files: maintenance never reads a
//! wheel, only the names.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_cache::maintenance;
use cairn_cache::{
    ArchiveManifest, CacheBucket, IndexKey, IndexRecord, MANIFEST_EXTENSION, ManifestEntry,
    POINTER_FORMAT, Pointer, PointerKey, SourceKind,
};
use cairn_cache_key::{CanonicalUrl, cache_digest};
use cairn_fs::ContentDigest;
use cairn_http::CachePolicy;
use rayon::prelude::*;

/// Bumped whenever the builder writes something different, so a cache kept from an earlier
/// run (see [`synthetic_cache`]) is rebuilt instead of reused.
pub const SYNTHETIC_CACHE_VERSION: u32 = 2;

/// The extension of the file written beside a finished cache, last; a cache without it was cut
/// short. It lives outside the cache so that the cache holds nothing a real one would not.
const COMPLETE_EXTENSION: &str = "complete";

/// What a synthetic cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheShape {
    /// Pointers in `wheels-v0`, the dangling ones included: the cache's entries.
    pub pointers: usize,
    /// Archives the live pointers name (every one of them is named).
    pub archives: usize,
    /// Distinct projects the archives belong to (the versions of one project differ).
    pub projects: usize,
    /// Of the pointers, how many name an archive that is not in the store.
    pub dangling_pointers: usize,
    /// Extra archives, with manifests, that no pointer names.
    pub unreferenced_archives: usize,
    /// Manifests whose archive is gone.
    pub orphan_manifests: usize,
    /// HTTP policies whose pointer is gone.
    pub orphan_policies: usize,
    /// `.tmp-*` directories left by crashed processes, dated well past prune's grace period.
    pub temp_leftovers: usize,
}

impl CacheShape {
    /// The cache of issue #6's target: 100,000 entries.
    pub const ENTRIES_100K: CacheShape = CacheShape {
        pointers: 100_000,
        archives: 50_000,
        projects: 5_000,
        dangling_pointers: 500,
        unreferenced_archives: 500,
        orphan_manifests: 100,
        orphan_policies: 100,
        temp_leftovers: 10,
    };

    /// A small cache of the same make-up, for tests and quick runs.
    pub const fn scaled_down(self, divisor: usize) -> CacheShape {
        CacheShape {
            pointers: self.pointers / divisor,
            archives: self.archives / divisor,
            projects: max1(self.projects / divisor),
            dangling_pointers: self.dangling_pointers / divisor,
            unreferenced_archives: self.unreferenced_archives / divisor,
            orphan_manifests: self.orphan_manifests / divisor,
            orphan_policies: self.orphan_policies / divisor,
            temp_leftovers: max1(self.temp_leftovers / divisor),
        }
    }

    /// A directory name that changes with the shape and the builder's version.
    fn dir_name(&self) -> String {
        format!(
            "synthetic-cache-v{SYNTHETIC_CACHE_VERSION}-{}p-{}a-{}n-{}d-{}u-{}m-{}o-{}t",
            self.pointers,
            self.archives,
            self.projects,
            self.dangling_pointers,
            self.unreferenced_archives,
            self.orphan_manifests,
            self.orphan_policies,
            self.temp_leftovers
        )
    }

    /// The pointers that name an archive in the store.
    fn live_pointers(&self) -> usize {
        self.pointers.saturating_sub(self.dangling_pointers)
    }
}

const fn max1(value: usize) -> usize {
    if value == 0 { 1 } else { value }
}

/// What a build wrote, to check a cache against and to print beside figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Pointer files.
    pub pointers: u64,
    /// HTTP policy files, orphans included.
    pub policies: u64,
    /// Archive directories, unreferenced ones included.
    pub archives: u64,
    /// Manifest files, orphans included.
    pub manifests: u64,
    /// Index entries in `hashes-v1`.
    pub index_entries: u64,
    /// Regular files inside archives.
    pub archive_files: u64,
}

/// The cache of `shape` kept under `<target dir>/bench-data/`, built on first use and reused
/// by later runs (building 750,000 inodes takes a while). `$CAIRN_BENCH_DATA_DIR` overrides the
/// parent directory. A cache whose build was cut short is removed and built again.
///
/// The cache must be left unchanged by whoever uses it: only reading commands and dry runs.
pub fn synthetic_cache(shape: &CacheShape) -> io::Result<PathBuf> {
    let root = bench_data_dir().join(shape.dir_name());
    let marker = root.with_extension(COMPLETE_EXTENSION);
    if marker.is_file() {
        return Ok(root);
    }
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    build_synthetic_cache(&root, shape, SystemTime::now())?;
    fs::write(marker, b"")?;
    Ok(root)
}

/// Where kept benchmark inputs go: `$CAIRN_BENCH_DATA_DIR`, else `bench-data/` in the Cargo
/// target directory the running executable was built in (`target/release/deps/` for a bench,
/// `target/release/examples/` for an example), else the temp directory.
pub fn bench_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CAIRN_BENCH_DATA_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_owned()))
        .unwrap_or_else(std::env::temp_dir)
        .join("bench-data")
}

/// Builds a cache of `shape` at `root` (which must not exist yet), dated from `now`.
pub fn build_synthetic_cache(
    root: &Path,
    shape: &CacheShape,
    now: SystemTime,
) -> io::Result<CacheCounts> {
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    fs::create_dir_all(root)?;
    for bucket in [
        CacheBucket::Archive,
        CacheBucket::Wheels,
        CacheBucket::Hashes,
    ] {
        fs::create_dir(root.join(bucket.dir_name()))?;
    }
    let wheels = root.join(CacheBucket::Wheels.dir_name());
    for kind in SourceKind::ALL {
        fs::create_dir(wheels.join(kind.dir_name()))?;
    }
    // Every shard up front, so the parallel writers below never race to create one.
    let archive_bucket = root.join(CacheBucket::Archive.dir_name());
    let sha256 = root.join(CacheBucket::Hashes.dir_name()).join("sha256");
    for shard in 0..=255_u8 {
        fs::create_dir_all(archive_bucket.join(format!("{shard:02x}")))?;
        fs::create_dir_all(sha256.join(format!("{shard:02x}")))?;
    }

    let archive_counts = (0..shape.archives + shape.unreferenced_archives)
        .into_par_iter()
        .map(|index| write_archive(root, shape, index))
        .try_reduce(CacheCounts::default, |a, b| Ok(a.plus(b)))?;
    let pointer_counts = (0..shape.pointers)
        .into_par_iter()
        .map(|index| write_pointer(root, shape, index, now_secs))
        .try_reduce(CacheCounts::default, |a, b| Ok(a.plus(b)))?;
    let mut counts = archive_counts.plus(pointer_counts);
    for index in 0..shape.orphan_manifests {
        let digest = hex_digest("orphan manifest", index);
        fs::write(
            manifest_path(root, &digest),
            manifest(shape, index)?.to_text(),
        )?;
        counts.manifests += 1;
    }
    for index in 0..shape.orphan_policies {
        let key = cache_digest(&format!("orphan policy {index}"));
        fs::write(
            wheels
                .join(SourceKind::Url.dir_name())
                .join(format!("{key}.http")),
            policy_bytes(now_secs)?,
        )?;
        counts.policies += 1;
    }
    let long_ago = now - Duration::from_secs(3600);
    for index in 0..shape.temp_leftovers {
        let temp = root.join(format!("{}leftover{index:04}", cairn_fs::TEMP_PREFIX));
        fs::create_dir(&temp)?;
        fs::write(temp.join("part.whl"), pseudo_text(index, 2048))?;
        fs::File::open(&temp)?.set_modified(long_ago)?;
    }
    Ok(counts)
}

impl CacheCounts {
    fn plus(self, other: CacheCounts) -> CacheCounts {
        CacheCounts {
            pointers: self.pointers + other.pointers,
            policies: self.policies + other.policies,
            archives: self.archives + other.archives,
            manifests: self.manifests + other.manifests,
            index_entries: self.index_entries + other.index_entries,
            archive_files: self.archive_files + other.archive_files,
        }
    }
}

/// The project, version and wheel file name of archive `index`.
struct Wheel {
    name: String,
    version: String,
    filename: String,
    size: u64,
}

fn wheel(shape: &CacheShape, index: usize) -> Wheel {
    let project = index % shape.projects;
    let release = index / shape.projects;
    let name = format!("project_{project:05}");
    let version = format!("{}.{}.{}", 1 + release / 10, release % 10, project % 3);
    let filename = format!("{name}-{version}-py3-none-any.whl");
    Wheel {
        name,
        version,
        filename,
        size: 8_000 + (index as u64 * 7_919) % 60_000,
    }
}

/// The lowercase hex BLAKE3 of `what` and `index`: a stand-in for a real digest.
fn hex_digest(what: &str, index: usize) -> String {
    blake3::hash(format!("{what} {index}").as_bytes())
        .to_hex()
        .to_string()
}

/// The archive name (BLAKE3 of the wheel file) of archive `index`.
fn archive_digest(index: usize) -> String {
    hex_digest("archive", index)
}

fn archive_dir(root: &Path, digest: &str) -> PathBuf {
    root.join(CacheBucket::Archive.dir_name())
        .join(&digest[..2])
        .join(&digest[2..])
}

fn manifest_path(root: &Path, digest: &str) -> PathBuf {
    root.join(CacheBucket::Archive.dir_name())
        .join(&digest[..2])
        .join(format!("{}.{MANIFEST_EXTENSION}", &digest[2..]))
}

/// The files of archive `index`: path relative to the archive and content.
fn archive_files(shape: &CacheShape, index: usize) -> Vec<(String, Vec<u8>)> {
    let wheel = wheel(shape, index);
    let package = &wheel.name;
    let dist_info = format!("{}-{}.dist-info", wheel.name, wheel.version);
    let mut files = vec![
        (
            format!("{package}/__init__.py"),
            pseudo_text(index, 120 + index % 400),
        ),
        (
            format!("{package}/_core.py"),
            pseudo_text(index + 1, 2_000 + index % 9_000),
        ),
        (format!("{package}/py.typed"), Vec::new()),
        (
            format!("{dist_info}/METADATA"),
            pseudo_text(index + 2, 900 + index % 3_000),
        ),
        (format!("{dist_info}/RECORD"), pseudo_text(index + 3, 520)),
        (
            format!("{dist_info}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: synthetic\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_vec(),
        ),
    ];
    if index.is_multiple_of(4) {
        files.push((
            format!("{package}/sub/__init__.py"),
            pseudo_text(index + 4, 60),
        ));
        files.push((
            format!("{package}/sub/helpers.py"),
            pseudo_text(index + 5, 1_500 + index % 4_000),
        ));
    }
    files
}

/// `len` bytes of printable text varying with `seed`.
fn pseudo_text(seed: usize, len: usize) -> Vec<u8> {
    const LINE: &[u8] = b"# synthetic module content for the cache maintenance benchmarks\n";
    (0..len)
        .map(|offset| LINE[(seed + offset) % LINE.len()])
        .collect()
}

fn manifest(shape: &CacheShape, index: usize) -> io::Result<ArchiveManifest> {
    let entries = archive_files(shape, index)
        .into_iter()
        .map(|(path, content)| ManifestEntry {
            crc32: crc32fast::hash(&content),
            size: content.len() as u64,
            path,
            executable: false,
        })
        .collect();
    ArchiveManifest::new(entries).map_err(io::Error::other)
}

/// Writes archive `index` with its manifest and its `sha256` index entry. Archives past
/// `shape.archives` are the unreferenced ones.
fn write_archive(root: &Path, shape: &CacheShape, index: usize) -> io::Result<CacheCounts> {
    let digest = archive_digest(index);
    let dir = archive_dir(root, &digest);
    let files = archive_files(shape, index);
    fs::create_dir(&dir)?;
    let mut made: Vec<PathBuf> = Vec::new();
    for (path, content) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent()
            && !made.iter().any(|made| made == parent)
        {
            fs::create_dir_all(parent)?;
            made.push(parent.to_owned());
        }
        fs::write(&path, content)?;
    }
    // The usage recorded as the fetch code records it: measured once the tree is written.
    let usage = maintenance::measure_tree(&dir).map_err(io::Error::other)?;
    let manifest = manifest(shape, index)?.with_usage(usage);
    fs::write(manifest_path(root, &digest), manifest.to_text())?;
    // Every archive was downloaded once, and the download indexed its SHA-256.
    let key = IndexKey::parse("sha256", &hex_digest("sha256", index)).map_err(io::Error::other)?;
    let wheel = wheel(shape, index);
    let record = IndexRecord {
        archive: ContentDigest::hex(&digest).map_err(io::Error::other)?,
        wheel_size: wheel.size,
        filename: wheel.filename,
    };
    fs::write(root.join(key.relative_path()), record.to_line())?;
    Ok(CacheCounts {
        archives: 1,
        manifests: 1,
        index_entries: 1,
        archive_files: files.len() as u64,
        ..CacheCounts::default()
    })
}

/// Where pointer `index` came from.
enum Source {
    Url(CanonicalUrl),
    Path(String),
}

/// Pointer `index < archives` is the PyPI download of archive `index`; the next `archives` are
/// second sources of the same archives, alternately a local file and a mirror URL; dangling
/// pointers (the last ones) are downloads whose archive is gone.
fn pointer_source(shape: &CacheShape, index: usize, archive: usize) -> io::Result<Source> {
    let wheel = wheel(shape, archive);
    let url = if index < shape.archives || index >= shape.live_pointers() {
        let hash = hex_digest("url path", index);
        format!(
            "https://files.pythonhosted.org/packages/{}/{}/{}/{}",
            &hash[..2],
            &hash[2..4],
            &hash[4..],
            wheel.filename
        )
    } else if index.is_multiple_of(2) {
        return Ok(Source::Path(format!(
            "/home/ci/build/wheels/{}/{}",
            index % 97,
            wheel.filename
        )));
    } else {
        format!(
            "https://mirror.example.org/pypi/packages/{}/{}",
            index % 89,
            wheel.filename
        )
    };
    CanonicalUrl::parse(&url)
        .map(Source::Url)
        .map_err(io::Error::other)
}

/// Writes pointer `index` (and its policy, for a URL).
fn write_pointer(
    root: &Path,
    shape: &CacheShape,
    index: usize,
    now: u64,
) -> io::Result<CacheCounts> {
    let dangling = index >= shape.live_pointers();
    let archive = index % shape.archives.max(1);
    let source = pointer_source(shape, index, archive)?;
    let wheel = wheel(shape, archive);
    let digest = if dangling {
        hex_digest("removed archive", index)
    } else {
        archive_digest(archive)
    };
    // Last used at some point in the last 90 days.
    let last_used = now.saturating_sub((index as u64 * 7_919) % (90 * 86_400));
    let (key, source_text, source_modified) = match &source {
        Source::Url(url) => (PointerKey::url(url), url.as_str().to_owned(), None),
        Source::Path(path) => (
            PointerKey::path(Path::new(path)),
            path.clone(),
            Some(i128::from(last_used) * 1_000_000_000),
        ),
    };
    let mut hashes = vec![format!("blake3:{digest}")];
    if matches!(source, Source::Url(_)) {
        hashes.push(format!("sha256:{}", hex_digest("sha256", archive)));
    }
    let pointer = Pointer {
        format: POINTER_FORMAT,
        source: source_text,
        filename: wheel.filename,
        name: wheel.name,
        version: wheel.version,
        tags: "py3-none-any".to_owned(),
        archive: digest,
        hashes,
        size: wheel.size,
        source_modified,
        last_used,
    };
    let path = root.join(key.relative_path());
    fs::write(&path, pointer.to_json().map_err(io::Error::other)?)?;
    let mut counts = CacheCounts {
        pointers: 1,
        ..CacheCounts::default()
    };
    if matches!(source, Source::Url(_)) {
        fs::write(path.with_extension("http"), policy_bytes(last_used)?)?;
        counts.policies = 1;
    }
    Ok(counts)
}

/// The policy PyPI's file server gives a wheel: immutable, a year's `max-age`, an ETag.
fn policy_bytes(stored_at: u64) -> io::Result<Vec<u8>> {
    CachePolicy {
        etag: Some(format!("\"{stored_at:x}-synthetic\"")),
        last_modified: Some("Tue, 04 Mar 2025 10:00:00 GMT".to_owned()),
        stored_at,
        date: Some(stored_at),
        age: 0,
        max_age: Some(365 * 86_400),
        expires: None,
        immutable: true,
        no_cache: false,
        must_revalidate: false,
    }
    .to_bytes()
    .map_err(io::Error::other)
}
