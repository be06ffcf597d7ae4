//! A [`BufRead`] over one byte range of a file, read with positioned reads (`pread`) into a
//! buffer the caller reuses from entry to entry.
//!
//! The parallel extractor reads entry data this way rather than through the memory map it
//! validated the archive with: a map's touched pages count towards the process's resident set,
//! so hashing or unzipping a 500 MB wheel through one would show 500 MB of RSS, while a reused
//! buffer keeps it at one buffer per thread. The page cache serves both the same way.

use std::fs::File;
use std::io::{self, BufRead, Read};

#[cfg(unix)]
use std::os::unix::fs::FileExt;

/// Reads of an entry's data go through a buffer this size: most entries of a wheel fit whole,
/// so they cost one `pread`, and large ones stream through it.
pub(crate) const RANGE_BUFFER_LEN: usize = 1 << 20;

/// The bytes `start..end` of `file`.
pub(crate) struct FileRange<'a> {
    file: &'a File,
    /// File offset of the next byte to read into the buffer.
    next: u64,
    end: u64,
    buffer: &'a mut Vec<u8>,
    /// The unconsumed bytes are `buffer[consumed..filled]`.
    consumed: usize,
    filled: usize,
}

impl<'a> FileRange<'a> {
    /// Reads `start..end` of `file` through `buffer`, which is grown to its working size once and
    /// then reused.
    pub(crate) fn new(file: &'a File, start: u64, end: u64, buffer: &'a mut Vec<u8>) -> Self {
        if buffer.len() < RANGE_BUFFER_LEN {
            buffer.resize(RANGE_BUFFER_LEN, 0);
        }
        Self {
            file,
            next: start,
            end,
            buffer,
            consumed: 0,
            filled: 0,
        }
    }
}

impl Read for FileRange<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for FileRange<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.consumed == self.filled && self.next < self.end {
            let want = usize::try_from(self.end - self.next)
                .unwrap_or(usize::MAX)
                .min(self.buffer.len());
            let read = read_at(self.file, &mut self.buffer[..want], self.next)?;
            if read == 0 {
                // The file is shorter than when it was validated: someone truncated it.
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.next += read as u64;
            self.consumed = 0;
            self.filled = read;
        }
        Ok(&self.buffer[self.consumed..self.filled])
    }

    fn consume(&mut self, amount: usize) {
        self.consumed = (self.consumed + amount).min(self.filled);
    }
}

/// One positioned read, retried when interrupted.
pub(super) fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        #[cfg(unix)]
        let result = file.read_at(buffer, offset);
        #[cfg(windows)]
        let result = std::os::windows::fs::FileExt::seek_read(file, buffer, offset);
        match result {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::io::Write;

    #[test]
    fn reads_exactly_the_range_across_buffer_refills() {
        let data: Vec<u8> = (0..3 * RANGE_BUFFER_LEN + 17)
            .map(|i| (i % 253) as u8)
            .collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data).unwrap();
        let mut buffer = Vec::new();
        let (start, end) = (5u64, data.len() as u64 - 9);
        let mut out = Vec::new();
        FileRange::new(&file, start, end, &mut buffer)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, &data[5..data.len() - 9]);
    }

    #[test]
    fn a_range_past_the_end_of_the_file_is_an_unexpected_eof() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"short").unwrap();
        let mut buffer = Vec::new();
        let error = FileRange::new(&file, 2, 100, &mut buffer)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
