//! Validated extraction of wheel archives: parallel for files on disk, streaming for downloads.
