//! Turns one entry's compressed bytes into its content, checking size and CRC-32 as it goes and
//! never holding more than one output buffer.
//!
//! The input is any [`BufRead`]: a slice of the memory-mapped archive (where stored data is
//! written straight from the map) or the chunks of a download.

use std::io::{self, BufRead, Write};

use flate2::{Decompress, FlushDecompress, Status};

use super::error::{EntryProblem, LimitProblem};
use super::validate::METHOD_STORED;

/// Output buffer size: large enough that almost every file of a wheel is written with a single
/// `write`, small enough to stay in L2 while the CRC runs over it.
const OUTPUT_BUFFER_LEN: usize = 256 << 10;

/// How much of the entry's compressed data to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CompressedLen {
    /// Exactly this many bytes; the deflate stream must end exactly there.
    Known(u64),
    /// Unknown until the deflate stream ends (data descriptor while streaming).
    UntilStreamEnd,
}

/// What an entry turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) crc32: u32,
    pub(crate) compressed: u64,
    pub(crate) uncompressed: u64,
}

impl Decoded {
    /// Fails unless the data matches what the headers declared.
    pub(crate) fn check(
        &self,
        crc32: u32,
        compressed: u64,
        uncompressed: u64,
    ) -> Result<(), EntryProblem> {
        if self.compressed != compressed {
            return Err(EntryProblem::CompressedSizeMismatch {
                expected: compressed,
                actual: self.compressed,
            });
        }
        if self.uncompressed != uncompressed {
            return Err(EntryProblem::SizeMismatch {
                expected: uncompressed,
                actual: self.uncompressed,
            });
        }
        if self.crc32 != crc32 {
            return Err(EntryProblem::CrcMismatch {
                expected: crc32,
                actual: self.crc32,
            });
        }
        Ok(())
    }
}

/// Why decoding stopped.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// Reading the input failed; `UnexpectedEof` when it ended early.
    Input(io::Error),
    /// Writing the output failed.
    Output(io::Error),
    /// The data is inconsistent.
    Entry(EntryProblem),
    /// A limit was hit while inflating.
    Limit(LimitProblem),
}

/// A raw-deflate inflater and output buffer, reused from entry to entry.
pub(crate) struct EntryDecoder {
    inflater: Decompress,
    buffer: Vec<u8>,
}

impl EntryDecoder {
    pub(crate) fn new() -> Self {
        Self {
            inflater: Decompress::new(false),
            buffer: vec![0; OUTPUT_BUFFER_LEN],
        }
    }

    /// Decodes one entry from `input` into `output`.
    ///
    /// Fails as soon as the output would exceed `max_uncompressed` (the declared size, so a lying
    /// header cannot make us write more than it claimed). `on_output` is told the entry's output
    /// and input totals before each write, so callers can enforce their limits.
    pub(crate) fn decode(
        &mut self,
        method: u16,
        compressed_len: CompressedLen,
        max_uncompressed: u64,
        input: &mut impl BufRead,
        output: &mut impl Write,
        on_output: &mut impl FnMut(u64, u64) -> Result<(), LimitProblem>,
    ) -> Result<Decoded, DecodeError> {
        if method == METHOD_STORED {
            match compressed_len {
                CompressedLen::Known(len) => {
                    copy_stored(len, max_uncompressed, input, output, on_output)
                }
                // Callers refuse this before calling: stored data has no end marker.
                CompressedLen::UntilStreamEnd => Err(DecodeError::Input(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "stored data of unknown length",
                ))),
            }
        } else {
            self.inflate(compressed_len, max_uncompressed, input, output, on_output)
        }
    }

    fn inflate(
        &mut self,
        compressed_len: CompressedLen,
        max_uncompressed: u64,
        input: &mut impl BufRead,
        output: &mut impl Write,
        on_output: &mut impl FnMut(u64, u64) -> Result<(), LimitProblem>,
    ) -> Result<Decoded, DecodeError> {
        self.inflater.reset(false);
        let mut crc = crc32fast::Hasher::new();
        let mut filled = 0usize;
        let mut written = 0u64;
        loop {
            let available = input.fill_buf().map_err(DecodeError::Input)?;
            let consumed_so_far = self.inflater.total_in();
            let chunk = match compressed_len {
                CompressedLen::Known(len) => {
                    let remaining = len.saturating_sub(consumed_so_far);
                    let take = usize::try_from(remaining).unwrap_or(usize::MAX);
                    &available[..available.len().min(take)]
                }
                CompressedLen::UntilStreamEnd => available,
            };
            if chunk.is_empty() {
                // The deflate stream needs more bytes than the entry or the input has.
                return Err(match compressed_len {
                    CompressedLen::Known(len) if consumed_so_far >= len => {
                        DecodeError::Entry(EntryProblem::CorruptDeflate {
                            detail: "the stream runs past the declared compressed size".to_owned(),
                        })
                    }
                    _ => DecodeError::Input(io::ErrorKind::UnexpectedEof.into()),
                });
            }
            let out_before = self.inflater.total_out();
            let space = self.buffer.get_mut(filled..).unwrap_or_default();
            let status = self
                .inflater
                .decompress(chunk, space, FlushDecompress::None)
                .map_err(|error| {
                    DecodeError::Entry(EntryProblem::CorruptDeflate {
                        detail: error.message().unwrap_or("invalid data").to_owned(),
                    })
                })?;
            let consumed = self.inflater.total_in() - consumed_so_far;
            let produced = self.inflater.total_out() - out_before;
            input.consume(usize::try_from(consumed).unwrap_or(usize::MAX));
            if consumed == 0 && produced == 0 && status != Status::StreamEnd {
                return Err(DecodeError::Entry(EntryProblem::CorruptDeflate {
                    detail: "the inflater made no progress".to_owned(),
                }));
            }
            filled += usize::try_from(produced).unwrap_or(usize::MAX);
            let total_out = self.inflater.total_out();
            if total_out > max_uncompressed {
                return Err(DecodeError::Entry(EntryProblem::SizeMismatch {
                    expected: max_uncompressed,
                    actual: total_out,
                }));
            }
            let finished = status == Status::StreamEnd;
            if filled == self.buffer.len() || (finished && filled > 0) {
                on_output(total_out, self.inflater.total_in()).map_err(DecodeError::Limit)?;
                let bytes = self.buffer.get(..filled).unwrap_or_default();
                crc.update(bytes);
                output.write_all(bytes).map_err(DecodeError::Output)?;
                written += filled as u64;
                filled = 0;
            }
            if finished {
                let compressed = self.inflater.total_in();
                if let CompressedLen::Known(expected) = compressed_len
                    && compressed != expected
                {
                    return Err(DecodeError::Entry(EntryProblem::CompressedSizeMismatch {
                        expected,
                        actual: compressed,
                    }));
                }
                return Ok(Decoded {
                    crc32: crc.finalize(),
                    compressed,
                    uncompressed: written,
                });
            }
        }
    }
}

/// Copies stored data straight from the input's buffer to the output.
fn copy_stored(
    len: u64,
    max_uncompressed: u64,
    input: &mut impl BufRead,
    output: &mut impl Write,
    on_output: &mut impl FnMut(u64, u64) -> Result<(), LimitProblem>,
) -> Result<Decoded, DecodeError> {
    if len > max_uncompressed {
        return Err(DecodeError::Entry(EntryProblem::SizeMismatch {
            expected: max_uncompressed,
            actual: len,
        }));
    }
    let mut crc = crc32fast::Hasher::new();
    let mut copied = 0u64;
    while copied < len {
        let available = input.fill_buf().map_err(DecodeError::Input)?;
        if available.is_empty() {
            return Err(DecodeError::Input(io::ErrorKind::UnexpectedEof.into()));
        }
        let take = usize::try_from(len - copied).unwrap_or(usize::MAX);
        let bytes = &available[..available.len().min(take)];
        let next = copied + bytes.len() as u64;
        on_output(next, next).map_err(DecodeError::Limit)?;
        crc.update(bytes);
        output.write_all(bytes).map_err(DecodeError::Output)?;
        let n = bytes.len();
        input.consume(n);
        copied = next;
    }
    Ok(Decoded {
        crc32: crc.finalize(),
        compressed: len,
        uncompressed: len,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::validate::METHOD_DEFLATED;
    use flate2::{Compress, Compression, FlushCompress};

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut compressor = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(data.len() + 1024);
        compressor
            .compress_vec(data, &mut out, FlushCompress::Finish)
            .unwrap();
        out
    }

    fn no_limit(_: u64, _: u64) -> Result<(), LimitProblem> {
        Ok(())
    }

    #[test]
    fn inflate_stops_exactly_at_the_end_of_the_deflate_stream() {
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let mut input = deflate(&data);
        let stream_len = input.len() as u64;
        input.extend_from_slice(b"NEXT RECORD");
        let mut reader = &input[..];
        let mut out = Vec::new();
        let decoded = EntryDecoder::new()
            .decode(
                METHOD_DEFLATED,
                CompressedLen::UntilStreamEnd,
                u64::MAX,
                &mut reader,
                &mut out,
                &mut no_limit,
            )
            .unwrap();
        assert_eq!(out, data);
        assert_eq!(decoded.compressed, stream_len);
        assert_eq!(decoded.crc32, crc32fast::hash(&data));
        assert_eq!(reader, b"NEXT RECORD");
    }

    #[test]
    fn inflate_refuses_output_beyond_the_declared_size() {
        let data = vec![0u8; 1 << 20];
        let input = deflate(&data);
        let error = EntryDecoder::new()
            .decode(
                METHOD_DEFLATED,
                CompressedLen::Known(input.len() as u64),
                1000,
                &mut &input[..],
                &mut Vec::new(),
                &mut no_limit,
            )
            .unwrap_err();
        assert!(matches!(
            error,
            DecodeError::Entry(EntryProblem::SizeMismatch { expected: 1000, .. })
        ));
    }
}
