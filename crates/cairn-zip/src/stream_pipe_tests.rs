//! The pipe against real threads and a real spill file: bytes come out in order whether they
//! stayed in memory or went through the file, and either end giving up is seen by the other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, Read, Write};
use std::time::Duration;

use cairn_test_support::noise::noise;

use super::pipe;

/// Writes `data` in pieces of varying size from another thread while this one reads it,
/// sleeping between reads when `slow`, and returns what was read and whether the file was used.
/// `read_ahead` is the writer's answer to whether to spill once the memory is full.
fn round_trip(data: &[u8], memory: usize, slow: bool, read_ahead: bool) -> (Vec<u8>, bool) {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, mut reader) = pipe(memory, dir.path(), move || read_ahead);
    std::thread::scope(|scope| {
        let writing = scope.spawn(move || {
            let mut rest = data;
            let mut size = 1;
            while !rest.is_empty() {
                let take = size.min(rest.len());
                writer.write_all(&rest[..take]).unwrap();
                rest = &rest[take..];
                size = size * 7 % 100_003 + 1;
            }
            let spilled = writer.spill.is_some();
            writer.finish().unwrap();
            spilled
        });
        let mut out = Vec::new();
        let mut buffer = vec![0; 100_000];
        loop {
            if slow {
                std::thread::sleep(Duration::from_millis(2));
            }
            let read = reader.read(&mut buffer).unwrap();
            if read == 0 {
                break;
            }
            out.extend_from_slice(&buffer[..read]);
        }
        (out, writing.join().unwrap())
    })
}

#[test]
fn a_reader_that_keeps_up_gets_every_byte_without_a_spill_file() {
    let data = noise(3 << 20, 1);
    let (out, spilled) = round_trip(&data, 64 << 20, false, true);
    assert!(out == data);
    assert!(!spilled, "the memory bound was never reached");
}

#[test]
fn a_writer_with_nothing_to_gain_from_reading_on_waits_for_a_slow_reader() {
    let data = noise(3 << 20, 5);
    let (out, spilled) = round_trip(&data, 512 << 10, true, false);
    assert!(out == data, "the bytes differ");
    assert!(
        !spilled,
        "the writer should have waited rather than spilled"
    );
}

#[test]
fn a_slow_reader_gets_every_byte_in_order_through_the_spill_file() {
    let data = noise(5 << 20, 2);
    let (out, spilled) = round_trip(&data, 512 << 10, true, true);
    assert!(out == data, "the bytes differ after the spill");
    assert!(
        spilled,
        "a reader this slow should have made the writer spill"
    );
}

#[test]
fn an_abandoned_writer_fails_the_reader_after_what_it_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, mut reader) = pipe(1 << 20, dir.path(), || true);
    writer.write_all(&noise(600 << 10, 3)).unwrap();
    drop(writer);
    let mut out = Vec::new();
    let error = reader.read_to_end(&mut out).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    // The full chunks were queued before the writer went away.
    assert_eq!(out.len(), 512 << 10);
}

#[test]
fn a_finished_empty_pipe_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, mut reader) = pipe(1 << 20, dir.path(), || true);
    writer.finish().unwrap();
    assert!(reader.fill_buf().unwrap().is_empty());
}

#[test]
fn bytes_for_a_reader_that_is_gone_are_dropped_not_spilled() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, reader) = pipe(256 << 10, dir.path(), || true);
    drop(reader);
    writer.write_all(&noise(4 << 20, 4)).unwrap();
    assert!(writer.spill.is_none(), "nobody reads the spill");
    writer.finish().unwrap();
}
