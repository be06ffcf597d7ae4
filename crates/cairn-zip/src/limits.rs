//! Bounds on what one archive may unpack to, so a hostile wheel cannot fill the disk or memory.

use super::error::LimitProblem;

/// Bounds on what one archive may unpack to.
///
/// Checked against the sizes the archive declares before anything is written, and again against
/// the bytes actually produced while inflating, so a lying header cannot get past them.
///
/// Start from [`Limits::default`] and change single fields; more limits may be added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most bytes all entries together may unpack to.
    pub max_total_uncompressed: u64,
    /// Most entries (files and directories) one archive may hold.
    pub max_entries: u64,
    /// Most uncompressed bytes per archive byte, over the whole archive, once the output exceeds
    /// [`ratio_exempt_bytes`](Self::ratio_exempt_bytes).
    pub max_ratio: u64,
    /// Output size up to which [`max_ratio`](Self::max_ratio) is not enforced, so small archives
    /// with very compressible content are never refused.
    pub ratio_exempt_bytes: u64,
}

impl Default for Limits {
    /// Limits that accept every real wheel we know of with a wide margin while stopping bombs.
    fn default() -> Self {
        Self {
            // torch 2.15 unpacks to 1.1 GB; the largest CUDA wheels (nvidia-*, CUDA builds of
            // torch) to a few GiB. 16 GiB leaves room for them and still stops a bomb long before
            // it fills a disk.
            max_total_uncompressed: 16 << 30,
            // torch, among the largest wheels, has 13,187 entries. 500,000 leaves a 35x margin
            // while bounding the memory spent on the parsed central directory (about 100 MB).
            max_entries: 500_000,
            // Whole real wheels unpack at 2-5x (torch 2.1, numpy 3.4, scipy 3.2); single entries
            // reach 235x (scipy test data). Deflate tops out near 1032x, which is what bombs use:
            // 250x stops them with room for unusual but honest wheels.
            max_ratio: 250,
            // Below 64 MiB of output no ratio is suspicious enough to refuse: the damage is
            // bounded, and small wheels with zero-filled data files are legitimate.
            ratio_exempt_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// Fails when `entries` exceeds [`max_entries`](Self::max_entries).
    pub(crate) fn check_entries(&self, entries: u64) -> Result<(), LimitProblem> {
        if entries > self.max_entries {
            return Err(LimitProblem::TooManyEntries {
                entries,
                limit: self.max_entries,
            });
        }
        Ok(())
    }

    /// Fails when `uncompressed` bytes (declared or produced) are too many for the `compressed`
    /// archive bytes they come from.
    pub(crate) fn check_output(
        &self,
        uncompressed: u64,
        compressed: u64,
    ) -> Result<(), LimitProblem> {
        if uncompressed > self.max_total_uncompressed {
            return Err(LimitProblem::TotalUncompressed {
                bytes: uncompressed,
                limit: self.max_total_uncompressed,
            });
        }
        if uncompressed > self.ratio_exempt_bytes
            && uncompressed > compressed.saturating_mul(self.max_ratio)
        {
            return Err(LimitProblem::Ratio {
                compressed,
                uncompressed,
                max_ratio: self.max_ratio,
            });
        }
        Ok(())
    }
}
