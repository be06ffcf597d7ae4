//! Packs: an unpacked archive as one object, a zstd-compressed tar of its regular files.
//!
//! Packing is deterministic (the manifest's sorted order, mode 0644 or 0755, owner 0, time 0,
//! one compression level), so machines that pack one archive with the same zstd produce the
//! same bytes and the same object name. Unpacking takes no more on trust than a wheel: only
//! regular files and directories, relative paths without `..`, each file once, and the
//! extraction limits of `cairn-zip`.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use cairn_cache::ManifestEntry;
use cairn_fs::ContentDigest;
use cairn_zip::Limits;

use crate::record::PackRef;

/// The zstd level packs are written with: fast to write, and decompression speed barely depends
/// on it.
pub const PACK_LEVEL: i32 = 3;

/// Why a pack could not be made or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading, writing or decompressing failed.
    #[error("{action}")]
    Io {
        /// What was being done.
        action: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The pack holds something no pack cairn writes holds.
    #[error("refused: {0}")]
    Refused(String),
    /// The bytes are not the pack the record names.
    #[error("the pack's bytes are not the ones its record names (BLAKE3 {found}, {size} bytes)")]
    Mismatch {
        /// The BLAKE3 of what arrived.
        found: String,
        /// How many bytes arrived.
        size: u64,
    },
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> PackError {
    let action = action.into();
    move |source| PackError::Io { action, source }
}

/// A writer that hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Packs the files `entries` lists (an archive's manifest) from `archive` into `out`; returns
/// the pack's digest and size.
pub fn pack_archive(
    archive: &Path,
    entries: &[ManifestEntry],
    out: impl Write,
) -> Result<PackRef, PackError> {
    let hashing = Hashing {
        inner: out,
        hasher: blake3::Hasher::new(),
        bytes: 0,
    };
    let encoder = zstd::Encoder::new(hashing, PACK_LEVEL).map_err(io_error("start zstd"))?;
    let mut builder = tar::Builder::new(encoder);
    builder.mode(tar::HeaderMode::Deterministic);
    for entry in entries {
        let path = archive.join(&entry.path);
        let file = File::open(&path).map_err(io_error(format!("read `{}`", path.display())))?;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(entry.size);
        header.set_mode(if entry.executable { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        builder
            .append_data(&mut header, &entry.path, file.take(entry.size))
            .map_err(io_error(format!("pack `{}`", path.display())))?;
    }
    let encoder = builder.into_inner().map_err(io_error("finish the tar"))?;
    let mut hashing = encoder.finish().map_err(io_error("finish zstd"))?;
    hashing.flush().map_err(io_error("write the pack"))?;
    Ok(PackRef {
        digest: digest_of(&hashing.hasher),
        size: hashing.bytes,
    })
}

fn digest_of(hasher: &blake3::Hasher) -> ContentDigest {
    // A BLAKE3 hex digest is always a valid content digest.
    ContentDigest::hex(hasher.finalize().to_hex().as_str())
        .unwrap_or_else(|_| unreachable!("BLAKE3 hex is a valid digest"))
}

/// A reader that hashes and counts what passes through, refusing to read past `limit`.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    bytes: u64,
    limit: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        self.bytes += read as u64;
        if self.bytes > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the pack is longer than its record says",
            ));
        }
        Ok(read)
    }
}

/// A writer that computes the CRC-32 of what it writes.
struct Crc<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.crc.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Unpacks the pack `expected` from `input` into the empty directory `dest`, refusing anything
/// a pack cairn writes does not hold, and checks its digest and size once all of it has been
/// read. Returns the files written, as a manifest lists them. On an error `dest` holds partial
/// output: the caller removes it.
pub fn unpack(
    input: impl Read,
    dest: &Path,
    expected: &PackRef,
    limits: &Limits,
) -> Result<Vec<ManifestEntry>, PackError> {
    let mut reader = HashingReader {
        inner: input,
        hasher: blake3::Hasher::new(),
        bytes: 0,
        limit: expected.size,
    };
    let entries = unpack_entries(&mut reader, dest, limits)?;
    // The tar's end may leave padding or a zstd frame end unread: the whole object is hashed.
    io::copy(&mut reader, &mut io::sink()).map_err(io_error("read the pack"))?;
    let found = digest_of(&reader.hasher);
    if found != expected.digest || reader.bytes != expected.size {
        return Err(PackError::Mismatch {
            found: found.to_string(),
            size: reader.bytes,
        });
    }
    Ok(entries)
}

fn unpack_entries(
    reader: &mut impl Read,
    dest: &Path,
    limits: &Limits,
) -> Result<Vec<ManifestEntry>, PackError> {
    // Small files are read here and written by a second thread, so that the decoder does not
    // wait on each file's create, write and close; large ones are written here as they decode.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<SmallFile>(SMALL_FILES_IN_FLIGHT);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<Vec<ManifestEntry>, PackError> {
            let mut written = Vec::new();
            for file in receiver {
                let mut out = create_file(&file.path, file.executable)
                    .map_err(io_error(format!("create `{}`", file.path.display())))?;
                out.write_all(&file.data)
                    .map_err(io_error(format!("write `{}`", file.path.display())))?;
                written.push(ManifestEntry {
                    path: file.text,
                    size: file.data.len() as u64,
                    crc32: crc32fast::hash(&file.data),
                    executable: file.executable,
                });
            }
            Ok(written)
        });
        let decoded = decode_entries(reader, dest, limits, &sender);
        drop(sender);
        let small = writer
            .join()
            .map_err(|_| PackError::Refused("the file writer panicked".to_owned()))?;
        let mut entries = decoded?;
        entries.extend(small?);
        Ok(entries)
    })
}

/// Files up to this size go to the writer thread.
const SMALL_FILE: u64 = 1 << 20;

/// Small files decoded but not yet written, at most (bounds the memory they hold).
const SMALL_FILES_IN_FLIGHT: usize = 32;

/// A small file read from the pack, for the writer thread.
struct SmallFile {
    path: PathBuf,
    text: String,
    data: Vec<u8>,
    executable: bool,
}

/// Reads the pack's entries, checking each; writes large files and directories, sends small
/// files to `small`. Returns the large files written.
fn decode_entries(
    reader: &mut impl Read,
    dest: &Path,
    limits: &Limits,
    small: &std::sync::mpsc::SyncSender<SmallFile>,
) -> Result<Vec<ManifestEntry>, PackError> {
    let decoder = zstd::Decoder::new(reader).map_err(io_error("start zstd"))?;
    let mut archive = tar::Archive::new(decoder);
    let mut entries = Vec::new();
    let mut count: u64 = 0;
    let mut seen = HashSet::new();
    let mut total: u64 = 0;
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    for entry in archive.entries().map_err(io_error("read the pack"))? {
        let mut entry = entry.map_err(io_error("read the pack"))?;
        count += 1;
        if count > limits.max_entries {
            return Err(PackError::Refused(format!(
                "more than {} files",
                limits.max_entries
            )));
        }
        let kind = entry.header().entry_type();
        let raw = entry.path().map_err(io_error("read a path"))?.into_owned();
        let relative = safe_path(&raw)?;
        if kind == tar::EntryType::Directory {
            cairn_fs::create_dir_all(&dest.join(&relative))
                .map_err(io_error("create a directory"))?;
            continue;
        }
        if kind != tar::EntryType::Regular {
            return Err(PackError::Refused(format!(
                "`{}` is not a regular file",
                raw.display()
            )));
        }
        let size = entry.header().size().map_err(io_error("read a size"))?;
        total = total.saturating_add(size);
        if total > limits.max_total_uncompressed {
            return Err(PackError::Refused(format!(
                "more than {} bytes unpacked",
                limits.max_total_uncompressed
            )));
        }
        let text = relative
            .to_str()
            .ok_or_else(|| PackError::Refused(format!("`{}` is not UTF-8", raw.display())))?
            .to_owned();
        if !seen.insert(text.clone()) {
            return Err(PackError::Refused(format!("`{text}` appears twice")));
        }
        let executable = entry.header().mode().map_err(io_error("read a mode"))? & 0o111 != 0;
        let path = dest.join(&relative);
        if let Some(parent) = path.parent()
            && dirs.insert(parent.to_owned())
        {
            cairn_fs::create_dir_all(parent).map_err(io_error("create a directory"))?;
        }
        if size <= SMALL_FILE {
            let mut data = Vec::with_capacity(size as usize);
            (&mut entry)
                .take(size)
                .read_to_end(&mut data)
                .map_err(io_error(format!("read `{text}`")))?;
            if data.len() as u64 != size {
                return Err(PackError::Refused(format!("`{text}` is cut short")));
            }
            let file = SmallFile {
                path,
                text,
                data,
                executable,
            };
            if small.send(file).is_err() {
                // The writer stopped on an error, which it returns.
                break;
            }
            continue;
        }
        let file = create_file(&path, executable)
            .map_err(io_error(format!("create `{}`", path.display())))?;
        let mut out = Crc {
            inner: io::BufWriter::with_capacity(256 << 10, file),
            crc: crc32fast::Hasher::new(),
        };
        let copied = io::copy(&mut (&mut entry).take(size), &mut out)
            .map_err(io_error(format!("write `{}`", path.display())))?;
        out.flush()
            .map_err(io_error(format!("write `{}`", path.display())))?;
        if copied != size {
            return Err(PackError::Refused(format!("`{text}` is cut short")));
        }
        entries.push(ManifestEntry {
            path: text,
            size,
            crc32: out.crc.finalize(),
            executable,
        });
    }
    Ok(entries)
}

/// `raw` as a relative path of plain names, or a refusal.
fn safe_path(raw: &Path) -> Result<PathBuf, PackError> {
    cairn_fs::relative_inside(raw).ok_or_else(|| {
        PackError::Refused(format!(
            "`{}` is not a relative path inside the archive",
            raw.display()
        ))
    })
}

fn create_file(path: &Path, executable: bool) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    options.open(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn entry(path: &str, content: &[u8], executable: bool) -> ManifestEntry {
        ManifestEntry {
            path: path.to_owned(),
            size: content.len() as u64,
            crc32: crc32fast::hash(content),
            executable,
        }
    }

    #[test]
    fn a_pack_round_trips_and_is_deterministic() {
        let work = tempfile::tempdir().unwrap();
        let archive = work.path().join("a");
        std::fs::create_dir_all(archive.join("demo-1.0.dist-info")).unwrap();
        std::fs::write(archive.join("demo.py"), b"x = 1\n").unwrap();
        std::fs::write(archive.join("demo-1.0.dist-info/METADATA"), b"Name: demo\n").unwrap();
        let entries = vec![
            entry("demo-1.0.dist-info/METADATA", b"Name: demo\n", false),
            entry("demo.py", b"x = 1\n", true),
        ];
        let mut first = Vec::new();
        let pack = pack_archive(&archive, &entries, &mut first).unwrap();
        let mut second = Vec::new();
        assert_eq!(pack_archive(&archive, &entries, &mut second).unwrap(), pack);
        assert_eq!(first, second);
        assert_eq!(pack.size, first.len() as u64);

        let dest = work.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        let unpacked = unpack(&first[..], &dest, &pack, &Limits::default()).unwrap();
        assert_eq!(unpacked, entries);
        assert_eq!(std::fs::read(dest.join("demo.py")).unwrap(), b"x = 1\n");

        // One flipped byte anywhere is refused.
        for at in [0, first.len() / 2, first.len() - 1] {
            let mut bad = first.clone();
            bad[at] ^= 0x40;
            let dest = work.path().join(format!("bad{at}"));
            std::fs::create_dir(&dest).unwrap();
            assert!(unpack(&bad[..], &dest, &pack, &Limits::default()).is_err());
        }
    }

    fn hostile(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> (Vec<u8>, PackRef) {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        compressed(&builder.into_inner().unwrap())
    }

    /// `tar` as a pack: zstd-compressed, with its digest and size.
    fn compressed(tar: &[u8]) -> (Vec<u8>, PackRef) {
        let compressed = zstd::encode_all(tar, 1).unwrap();
        let pack = PackRef {
            digest: ContentDigest::hex(blake3::hash(&compressed).to_hex().as_str()).unwrap(),
            size: compressed.len() as u64,
        };
        (compressed, pack)
    }

    use cairn_test_support::tarball::raw_entry;

    #[test]
    fn hostile_packs_are_refused_without_writing_outside() {
        let work = tempfile::tempdir().unwrap();
        for (name, tar) in cairn_test_support::tarball::hostile_tars() {
            let (bytes, pack) = compressed(&tar);
            let dest = work.path().join(name).join("dest");
            std::fs::create_dir_all(&dest).unwrap();
            let error = unpack(&bytes[..], &dest, &pack, &Limits::default())
                .expect_err(name)
                .to_string();
            assert!(error.starts_with("refused"), "{name}: {error}");
            assert!(!work.path().join(name).join("evil").exists(), "{name}");
        }
        // A bomb: more bytes than the limits allow.
        let (bytes, pack) = hostile(|b| {
            raw_entry(b, b"big", tar::EntryType::Regular, &vec![0; 1 << 20]);
        });
        let mut limits = Limits::default();
        limits.max_total_uncompressed = 1 << 10;
        let dest = work.path().join("bomb");
        std::fs::create_dir(&dest).unwrap();
        assert!(unpack(&bytes[..], &dest, &pack, &limits).is_err());
    }
}
