//! Allocator settings for the process.

/// glibc's malloc raises its mmap threshold each time a large block is freed; from then on, the
/// buffers of downloads and unpacking (a megabyte or so each) come from per-thread heaps that
/// are rarely given back, and the resident size of a cold install grows with the number of
/// wheels. Pinning the mmap and trim thresholds keeps such buffers in their own mappings,
/// returned to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn tune() {
    const THRESHOLD: libc::c_int = 128 * 1024;
    // SAFETY: `mallopt` only sets allocator parameters; this runs first in `main`, before any
    // other thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Other allocators need nothing.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn tune() {}
