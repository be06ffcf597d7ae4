//! The streaming extractor's division of work, checked with tuning small enough to matter:
//! the memory budget holds however fast the input arrives, entries larger than the budget or
//! piped to a worker (through memory or a spill file) still come out right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use cairn_test_support::noise::noise;

use super::{Tuning, extract_tuned};
use crate::Limits;
use crate::stream_workers::PoolSettings;

/// An archive of `count` entries of `len` noise bytes each, alternately stored and deflated.
fn archive(count: usize, len: usize) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for index in 0..count {
        let method = if index % 2 == 0 {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .unix_permissions(0o644);
        writer
            .start_file(format!("pkg/d{}/f{index}.bin", index % 7), options)
            .unwrap();
        writer.write_all(&noise(len, index as u64)).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn tuning(budget: u64, buffered_entry_max: u64) -> Tuning {
    Tuning {
        pool: PoolSettings { threads: 2, budget },
        buffered_entry_max,
        pipe_memory: 1 << 20,
        batch_bytes: 128 << 10,
        batch_entries: 8,
    }
}

/// Extracts `bytes` from memory (input arrives as fast as it can) and checks every file.
fn extract_and_check(bytes: &[u8], count: usize, len: usize, tuning: &Tuning) -> super::PoolStats {
    let dest = tempfile::tempdir().unwrap();
    let (result, stats) = extract_tuned(bytes, "test.whl", dest.path(), &Limits::default(), tuning);
    let report = result.unwrap();
    assert_eq!(report.files, count as u64);
    for index in 0..count {
        let path = dest.path().join(format!("pkg/d{}/f{index}.bin", index % 7));
        assert!(
            std::fs::read(&path).unwrap() == noise(len, index as u64),
            "{path:?}"
        );
    }
    stats
}

#[test]
fn queued_bytes_never_exceed_the_budget() {
    // 16 MiB of entries against a 1 MiB budget: without back-pressure the reading thread,
    // reading from memory, would queue nearly all of it before the workers wrote much.
    let (count, len) = (256, 64 << 10);
    let bytes = archive(count, len);
    let budget = 1 << 20;
    let stats = extract_and_check(&bytes, count, len, &tuning(budget, 256 << 10));
    assert!(stats.peak_reserved <= budget, "{stats:?}");
    assert!(stats.peak_reserved >= len as u64, "{stats:?}");
    assert!(stats.jobs >= (count / 8) as u64, "{stats:?}");
}

#[test]
fn an_entry_larger_than_the_budget_still_goes_through_alone() {
    let (count, len) = (6, 200 << 10);
    let bytes = archive(count, len);
    let stats = extract_and_check(&bytes, count, len, &tuning(64 << 10, 1 << 20));
    // Each entry is reserved alone, never two at once.
    assert!(stats.peak_reserved < 2 * len as u64, "{stats:?}");
    assert!(stats.peak_reserved >= len as u64, "{stats:?}");
}

#[test]
fn entries_above_the_buffered_size_are_piped_or_copied_not_held_in_memory() {
    let (count, len) = (5, 1 << 20);
    let bytes = archive(count, len);
    let tuning = tuning(32 << 20, 64 << 10);
    let stats = extract_and_check(&bytes, count, len, &tuning);
    // The deflated entries (odd indices) are piped to the workers, each reserving only what
    // its pipe may hold; the stored ones are copied to their files by the reading thread.
    assert_eq!(stats.jobs, 2, "{stats:?}");
    assert!(
        stats.peak_reserved <= 2 * tuning.pipe_memory as u64,
        "{stats:?}"
    );
}

#[test]
fn piped_entries_come_out_right_through_pipes_smaller_than_a_chunk() {
    let (count, len) = (6, 3 << 20);
    let bytes = archive(count, len);
    for threads in [1, 2] {
        let mut tuning = tuning(32 << 20, 64 << 10);
        // Less than one chunk: a pipe holds one chunk at a time, then spills (when the other
        // worker is free) or waits for its reader (when it is not, and always with one thread).
        tuning.pipe_memory = 16 << 10;
        tuning.pool.threads = threads;
        let stats = extract_and_check(&bytes, count, len, &tuning);
        assert_eq!(stats.jobs, 3, "{stats:?}");
    }
}

#[test]
fn one_thread_writes_everything() {
    let (count, len) = (40, 10 << 10);
    let bytes = archive(count, len);
    let mut tuning = tuning(64 << 10, 16 << 10);
    tuning.pool.threads = 1;
    let stats = extract_and_check(&bytes, count, len, &tuning);
    assert_eq!(stats.threads, 1, "{stats:?}");
}
