//! Directory operations through paths and `std::fs`: everywhere but Linux, and on Linux when
//! the process has no descriptor to spare.

use std::fs::File;
use std::io;
use std::path::Path;

use cairn_fs::FsError;

use super::dir::{Dir, Handle, Kind, Listing, Opened, Stat, name_bytes, read_prefix, read_to_end};
use super::vanished;

/// "Opens" the directory at `path`: checks that it is one, following a link in its last
/// component only if `follow`.
pub(super) fn open(path: &Path, follow: bool) -> Result<Opened, FsError> {
    let metadata = if follow {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    match metadata {
        Ok(metadata) if metadata.is_dir() => Ok(Opened::Dir(Dir {
            path: path.to_owned(),
            handle: Handle::Path,
        })),
        Ok(_) => Ok(Opened::NotDir),
        Err(error) if vanished(&error) => Ok(Opened::Vanished),
        Err(error) => Err(FsError::new("open directory", path, error)),
    }
}

/// The metadata of the directory at `path` (through a link only if it is one: the root the
/// user chose may be).
pub(super) fn stat(path: &Path) -> Result<Stat, FsError> {
    std::fs::symlink_metadata(path)
        .and_then(|metadata| {
            if metadata.file_type().is_symlink() {
                std::fs::metadata(path)
            } else {
                Ok(metadata)
            }
        })
        .map(|metadata| Stat::from_metadata(&metadata))
        .map_err(|error| FsError::new("inspect", path, error))
}

/// The metadata of the entry at `path`, not following a link; `None` if it is gone.
pub(super) fn stat_child(path: &Path) -> Result<Option<Stat>, FsError> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) => Ok(Some(Stat::from_metadata(&metadata))),
        Err(error) if vanished(&error) => Ok(None),
        Err(error) => Err(FsError::new("inspect", path, error)),
    }
}

/// The entries of the directory at `path`.
pub(super) fn list(path: &Path) -> Result<Listing, FsError> {
    let read_error = |error| FsError::new("read directory", path, error);
    let mut listing = Listing::default();
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(error) if vanished(&error) => return Ok(listing),
        Err(error) => return Err(read_error(error)),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) if vanished(&error) => continue,
            Err(error) => return Err(read_error(error)),
        };
        let name = entry.file_name();
        let Some(name) = name_bytes(&name) else {
            continue;
        };
        // `file_type` is the entry's `d_type`, or an `lstat` where the filesystem gives none.
        let kind = match entry.file_type() {
            Ok(file_type) if file_type.is_dir() => Kind::Dir,
            Ok(file_type) if file_type.is_file() => Kind::File,
            Ok(file_type) if file_type.is_symlink() => Kind::Symlink,
            Ok(_) => Kind::Other,
            Err(error) if vanished(&error) => continue,
            Err(error) => return Err(read_error(error)),
        };
        listing.push(name, kind);
    }
    Ok(listing)
}

/// Reads the whole file at `path` into `buffer`; `false` if it is gone.
pub(super) fn read_child(path: &Path, buffer: &mut Vec<u8>) -> io::Result<bool> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if vanished(&error) => return Ok(false),
        Err(error) => return Err(error),
    };
    read_to_end(&mut file, buffer)?;
    Ok(true)
}

/// Reads at most `limit` bytes from the start of the file at `path` into `buffer`; `false` if
/// it is gone.
pub(super) fn read_child_prefix(
    path: &Path,
    buffer: &mut Vec<u8>,
    limit: usize,
) -> io::Result<bool> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if vanished(&error) => return Ok(false),
        Err(error) => return Err(error),
    };
    read_prefix(&mut file, buffer, limit)?;
    Ok(true)
}
