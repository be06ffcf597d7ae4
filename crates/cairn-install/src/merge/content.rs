//! Whether two files hold the same bytes: what lets several projects ship one file.
//!
//! Namespace packages are often written by every project that shares them (an empty
//! `nvidia/__init__.py`, the same `pkgutil` line in `backports/__init__.py`). pip and uv let the
//! last writer win; cairn installs such a file once when its content is identical, and refuses
//! otherwise. Sizes are compared first, one `stat` per side; only files of equal size are read,
//! in chunks, stopping at the first difference, and never past the size `stat` gave.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::plan::{Content, PlannedFile, WheelPlan};

/// Bytes compared at a time.
const CHUNK: usize = 16 * 1024;

/// Where a file's bytes are.
#[derive(Debug)]
pub(crate) enum Bytes<'a> {
    /// A file on disk. A symlink is read through: the content is only read, never written.
    File(PathBuf),
    /// Generated in memory (launchers, rewritten scripts).
    Memory(&'a [u8]),
}

impl<'a> Bytes<'a> {
    /// The bytes a planned file will hold.
    pub(crate) fn planned(plan: &WheelPlan, file: &'a PlannedFile) -> Self {
        match &file.content {
            Content::Link(entry) | Content::CopyExecutable(entry) => {
                Self::File(plan.archive.join(entry))
            }
            Content::Write { bytes, .. } => Self::Memory(bytes),
        }
    }

    /// The size, or `None` for something that is not a regular file (a directory, a device,
    /// a dangling symlink): it shares content with nothing.
    fn size(&self) -> Result<Option<u64>, ReadError> {
        match self {
            Self::Memory(bytes) => Ok(u64::try_from(bytes.len()).ok()),
            Self::File(path) => match fs::metadata(path) {
                Ok(metadata) => Ok(metadata.is_file().then_some(metadata.len())),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(ReadError {
                    path: path.clone(),
                    source,
                }),
            },
        }
    }

    fn open(&self) -> Result<Box<dyn Read + '_>, ReadError> {
        match self {
            Self::Memory(bytes) => Ok(Box::new(*bytes)),
            Self::File(path) => File::open(path)
                .map(|file| Box::new(file) as Box<dyn Read>)
                .map_err(|source| ReadError {
                    path: path.clone(),
                    source,
                }),
        }
    }

    fn path(&self) -> Option<&Path> {
        match self {
            Self::File(path) => Some(path),
            Self::Memory(_) => None,
        }
    }
}

/// A file that could not be read to compare it.
#[derive(Debug)]
pub(crate) struct ReadError {
    pub(crate) path: PathBuf,
    pub(crate) source: io::Error,
}

/// Which side of a comparison failed: `0` for `first`, `1` for `second`.
pub(crate) type Side = usize;

/// Whether `first` and `second` hold the same bytes.
pub(crate) fn same(first: &Bytes<'_>, second: &Bytes<'_>) -> Result<bool, (Side, ReadError)> {
    let size = first.size().map_err(|error| (0, error))?;
    if size.is_none() || size != second.size().map_err(|error| (1, error))? {
        return Ok(false);
    }
    let mut remaining = size.unwrap_or_default();
    if remaining == 0 {
        return Ok(true);
    }
    let mut readers = [
        first.open().map_err(|error| (0, error))?,
        second.open().map_err(|error| (1, error))?,
    ];
    let mut buffers = [[0u8; CHUNK], [0u8; CHUNK]];
    while remaining > 0 {
        let len = usize::try_from(remaining).map_or(CHUNK, |left| left.min(CHUNK));
        for (side, (reader, buffer)) in readers.iter_mut().zip(&mut buffers).enumerate() {
            match reader.read_exact(&mut buffer[..len]) {
                Ok(()) => {}
                // Shorter than `stat` said: changed under us, so not the same.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(source) => {
                    let sides = [first, second];
                    let path = sides[side]
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_default();
                    return Err((side, ReadError { path, source }));
                }
            }
        }
        if buffers[0][..len] != buffers[1][..len] {
            return Ok(false);
        }
        remaining -= len as u64;
    }
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn compares_sizes_then_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let big: Vec<u8> = (0..CHUNK * 3 + 7).map(|i| (i % 251) as u8).collect();
        let mut changed = big.clone();
        changed[CHUNK * 2 + 3] ^= 1;
        fs::write(path("big"), &big).unwrap();
        fs::write(path("changed"), &changed).unwrap();
        fs::write(path("empty"), "").unwrap();
        fs::create_dir(path("dir")).unwrap();
        let file = |name: &str| Bytes::File(path(name));

        assert!(same(&file("big"), &Bytes::Memory(&big)).unwrap());
        assert!(!same(&file("big"), &file("changed")).unwrap());
        assert!(!same(&Bytes::Memory(&changed), &Bytes::Memory(&big)).unwrap());
        assert!(same(&file("empty"), &Bytes::Memory(b"")).unwrap());
        assert!(!same(&file("empty"), &Bytes::Memory(b"x")).unwrap());
        // Neither a directory nor a missing file is the same as an empty file.
        assert!(!same(&file("dir"), &file("empty")).unwrap());
        assert!(!same(&file("missing"), &file("empty")).unwrap());
        assert!(!same(&file("empty"), &file("missing")).unwrap());
    }
}
