//! Helpers shared by the workspace benchmarks in `benches/benches/`: the opt-in switch for the
//! large inputs, lookup of the real wheels of the corpus, and builders of synthetic inputs
//! (archives, unpacked trees, and a whole cache of 100,000 entries).
//!
//! Run the benchmarks with `cargo bench -p cairn-benches` (a few minutes on two cores). Set
//! `CAIRN_BENCH_LARGE=1` to add the large inputs (a 512 MiB file to hash, torch and a 256 MiB
//! stored entry to extract), which need a couple of GiB of free space in the temp directory
//! (`TMPDIR`) and several more minutes.

mod synthetic_cache;
mod synthetic_tree;

pub use synthetic_cache::{
    CacheCounts, CacheShape, SYNTHETIC_CACHE_VERSION, bench_data_dir, build_synthetic_cache,
    synthetic_cache,
};
pub use synthetic_tree::{
    NUMPY_LIKE_DIRS, NUMPY_LIKE_FILES, TreeCounts, write_numpy_like_tree, write_tiny_tree,
};

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

/// The environment variable that enables the large inputs when set to `1`.
pub const LARGE_ENV_VAR: &str = "CAIRN_BENCH_LARGE";

/// The environment variable naming the directory of corpus wheels.
pub const CORPUS_DIR_ENV_VAR: &str = "CAIRN_CORPUS_DIR";

/// One mebibyte, the unit of the input sizes.
pub const MIB: u64 = 1024 * 1024;

/// Whether `CAIRN_BENCH_LARGE=1` asks for the large inputs, which are skipped by default so a
/// plain `cargo bench` stays short.
pub fn large_inputs_enabled() -> bool {
    std::env::var_os(LARGE_ENV_VAR).is_some_and(|value| value == "1")
}

/// The directory holding the corpus wheels: `$CAIRN_CORPUS_DIR` when set, else `corpus/` at the
/// repository root, which `scripts/fetch-corpus.sh` fills.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os(CORPUS_DIR_ENV_VAR).filter(|value| !value.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        // This crate lives one level below the repository root.
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus"),
    }
}

/// The wheel of `project` in `dir` (`{project}-*.whl`; the first by name if there are several),
/// or `None` when `dir` lacks one or cannot be read.
pub fn find_wheel(dir: &Path, project: &str) -> Option<PathBuf> {
    let prefix = format!("{project}-");
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(&prefix) && name.ends_with(".whl"))
        })
        .collect();
    wheels.sort();
    wheels.into_iter().next()
}

/// Fills `buffer` with deterministic pseudo-random bytes from `seed` (xorshift64*).
///
/// Incompressible, so neither the disk nor deflate can shortcut them, and the same on every run,
/// so figures are comparable.
pub fn fill_pseudo_random(buffer: &mut [u8], seed: u64) {
    // xorshift64* must not start from zero.
    let mut state = seed | 1;
    for chunk in buffer.chunks_mut(8) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// `len` deterministic pseudo-random bytes (see [`fill_pseudo_random`]).
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; len];
    fill_pseudo_random(&mut bytes, seed);
    bytes
}

/// Writes `len` pseudo-random bytes to `out` in 1 MiB pieces, so any size fits in memory.
fn write_pseudo_random(out: &mut impl Write, len: u64) -> io::Result<()> {
    let mut piece = vec![0; MIB as usize];
    let mut remaining = len;
    let mut seed = 1;
    while remaining > 0 {
        let piece_len = remaining.min(MIB) as usize;
        fill_pseudo_random(&mut piece[..piece_len], seed);
        out.write_all(&piece[..piece_len])?;
        remaining -= piece_len as u64;
        seed += 1;
    }
    Ok(())
}

/// Creates the file `path` holding `len` pseudo-random bytes, e.g. an input for hashing.
pub fn write_pseudo_random_file(path: &Path, len: u64) -> io::Result<()> {
    let mut file = File::create(path)?;
    write_pseudo_random(&mut file, len)?;
    file.sync_all()
}

/// How many files [`write_tiny_files_zip`] puts in its archive.
pub const TINY_FILES_COUNT: usize = 10_000;

/// Writes to `path` a deflated archive of `count` tiny files (about 100 bytes each) spread over
/// directories of 100 files, the shape where per-file costs (syscalls, directory creation)
/// dominate extraction.
pub fn write_tiny_files_zip(path: &Path, count: usize) -> io::Result<()> {
    let mut archive = ZipWriter::new(BufWriter::new(File::create(path)?));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for index in 0..count {
        archive
            .start_file(
                format!("tiny/group_{:03}/module_{index:05}.py", index / 100),
                options,
            )
            .map_err(io::Error::other)?;
        writeln!(
            archive,
            "# Synthetic module {index} of the tiny-files benchmark.\nVALUE = {index}"
        )?;
    }
    finish(archive)
}

/// Size of the one entry of [`write_stored_zip`]'s archive in the large benchmark.
pub const LARGE_STORED_LEN: u64 = 256 * MIB;

/// Writes to `path` an archive holding one stored (uncompressed) entry of `len` pseudo-random
/// bytes, the shape where extraction is bound by copying and checking the CRC.
pub fn write_stored_zip(path: &Path, len: u64) -> io::Result<()> {
    let mut archive = ZipWriter::new(BufWriter::new(File::create(path)?));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .unix_permissions(0o644)
        .large_file(len >= u64::from(u32::MAX));
    archive
        .start_file("stored/blob.bin", options)
        .map_err(io::Error::other)?;
    write_pseudo_random(&mut archive, len)?;
    finish(archive)
}

/// Writes the central directory of `archive` and flushes it to disk.
fn finish(archive: ZipWriter<BufWriter<File>>) -> io::Result<()> {
    let file = archive
        .finish()
        .map_err(io::Error::other)?
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    file.sync_all()
}
