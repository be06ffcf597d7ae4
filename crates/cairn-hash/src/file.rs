//! Hashing a file on disk in one pass, memory-mapped and multi-threaded when it is large.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use memmap2::{Advice, Mmap, MmapOptions};

use rayon::iter::{IntoParallelRefMutIterator as _, ParallelIterator as _};

use super::algorithm::HashAlgorithm;
use super::digest::Digest;
use super::error::HashError;
use super::hasher_set::{ExtraHasher, HasherSet};
use super::hashes::Hashes;

/// Files at least this large are memory-mapped and hashed on rayon's pool; smaller ones are read
/// into a stack buffer, because below it the cost of `mmap`/`munmap` and of waking other threads
/// outweighs what they save.
///
/// Measured on the project's 2-core machines (warm page cache, BLAKE3 alone and with SHA-256):
/// reading wins up to 192 KiB (e.g. 128 KiB: 31 µs read, 51 µs mapped), the two are even around
/// 256 KiB, and mapping wins from 384 KiB (1 MiB: 217 µs read, 142 µs mapped).
pub const MMAP_THRESHOLD: u64 = 256 * 1024;

/// Large files are mapped this much at a time: enough for BLAKE3 to keep every core busy on
/// each window, little enough to bound the resident set. A multiple of every page size.
const MAP_WINDOW_LEN: u64 = 32 << 20;

/// Reads of small files go through a buffer this size: large enough for BLAKE3's widest SIMD
/// (16 chunks of 1 KiB) and for one `read` to take most small files whole.
const READ_BUFFER_LEN: usize = 64 * 1024;

/// Hashes the file at `path` with BLAKE3 and the `extra` algorithms, reading it once.
///
/// Large files are memory-mapped a window at a time: BLAKE3 splits each window across rayon's
/// threads while the extra algorithms hash the same window concurrently, so the file is read from
/// the page cache once and SHA-256 runs beside BLAKE3 rather than after it.
///
/// The file must not be truncated while it is hashed: shrinking a mapped file makes the next
/// access to the lost pages fault (SIGBUS on Unix). cairn hashes files it has just written or
/// that are in its read-only store, where no one truncates them.
pub fn hash_file(path: &Path, extra: &[HashAlgorithm]) -> Result<Hashes, HashError> {
    let mut hashers = HasherSet::new(extra);
    feed_file(path, &mut hashers)?;
    Ok(hashers.finalize())
}

/// Hashes the file at `path` with exactly `algorithms` (repeats ignored), reading it once, and
/// returns the digests in the order asked. Unlike [`hash_file`] it computes BLAKE3 only when
/// asked: `cairn hash -a sha256` then gets both cores' worth of time for SHA-256 alone instead
/// of sharing them with a BLAKE3 nobody reads. Several SHA-2 algorithms run on separate threads.
///
/// ```
/// use cairn_hash::{HashAlgorithm, digest_file};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("hello.txt");
/// std::fs::write(&path, "hello\n")?;
/// let digests = digest_file(&path, &[HashAlgorithm::Sha256])?;
/// assert_eq!(
///     digests[0].to_hex(),
///     "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn digest_file(path: &Path, algorithms: &[HashAlgorithm]) -> Result<Vec<Digest>, HashError> {
    let mut wanted: Vec<HashAlgorithm> = Vec::with_capacity(algorithms.len());
    for algorithm in algorithms {
        if !wanted.contains(algorithm) {
            wanted.push(*algorithm);
        }
    }
    let digests: Vec<Digest> = if wanted.contains(&HashAlgorithm::Blake3) {
        hash_file(path, &wanted)?.iter().cloned().collect()
    } else {
        let mut hashers = ShaSet(wanted.iter().filter_map(|a| ExtraHasher::new(*a)).collect());
        feed_file(path, &mut hashers)?;
        hashers.0.into_iter().map(ExtraHasher::finalize).collect()
    };
    Ok(wanted
        .iter()
        .filter_map(|algorithm| {
            digests
                .iter()
                .find(|digest| digest.algorithm() == *algorithm)
                .cloned()
        })
        .collect())
}

/// Where [`feed_file`] puts the bytes.
trait Sink {
    /// Takes a small piece, on this thread.
    fn update(&mut self, bytes: &[u8]);
    /// Takes a large piece, using other threads where that helps.
    fn update_parallel(&mut self, bytes: &[u8]);
}

impl Sink for HasherSet {
    fn update(&mut self, bytes: &[u8]) {
        HasherSet::update(self, bytes);
    }

    fn update_parallel(&mut self, bytes: &[u8]) {
        HasherSet::update_parallel(self, bytes);
    }
}

/// SHA-2 hashers without BLAKE3, each on its own thread when there are several.
struct ShaSet(Vec<ExtraHasher>);

impl Sink for ShaSet {
    fn update(&mut self, bytes: &[u8]) {
        for hasher in &mut self.0 {
            hasher.update(bytes);
        }
    }

    fn update_parallel(&mut self, bytes: &[u8]) {
        if let [hasher] = self.0.as_mut_slice() {
            hasher.update(bytes);
        } else {
            self.0
                .par_iter_mut()
                .for_each(|hasher| hasher.update(bytes));
        }
    }
}

/// Feeds every byte of the file at `path` to `sink`, once.
fn feed_file(path: &Path, sink: &mut impl Sink) -> Result<(), HashError> {
    let open_error = |source| HashError::Open {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(open_error)?;
    let len = file.metadata().map_err(open_error)?.len();
    if len < MMAP_THRESHOLD {
        read_into(&file, sink).map_err(|source| HashError::Read {
            path: path.to_owned(),
            source,
        })?;
    } else {
        // One window at a time, so that the mapped pages of a huge wheel never pile up in
        // the resident set: each window is unmapped before the next is mapped.
        let mut offset = 0;
        while offset < len {
            let window_len = (len - offset).min(MAP_WINDOW_LEN);
            let map = map_window(&file, offset, window_len).map_err(|source| HashError::Map {
                path: path.to_owned(),
                source,
            })?;
            // Only a hint for read-ahead when the file is not cached; failing to give it is
            // harmless.
            let _ = map.advise(Advice::Sequential);
            sink.update_parallel(&map);
            offset += window_len;
        }
    }
    Ok(())
}

/// Reads `file` to its end, feeding every byte to `hashers`.
fn read_into(mut file: &File, hashers: &mut impl Sink) -> io::Result<()> {
    let mut buffer = [0; READ_BUFFER_LEN];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(filled) => hashers.update(&buffer[..filled]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Maps `len` bytes of `file` from `offset` (a multiple of the page size) read-only.
#[allow(unsafe_code)]
fn map_window(file: &File, offset: u64, len: u64) -> io::Result<Mmap> {
    let len = usize::try_from(len).map_err(io::Error::other)?;
    // SAFETY: the mapping is read-only and private to `hash_file`, which only hashes its bytes and
    // never hands out a reference to them, so no invariant of safe code depends on the contents.
    // If another process changes the file meanwhile, the digest is of whatever bytes were seen;
    // if it truncates it, the process faults (documented on `hash_file`).
    unsafe { MmapOptions::new().offset(offset).len(len).map(file) }
}
