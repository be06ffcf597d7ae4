//! Source distributions: their file names, and unpacking them with the rules applied to wheels.
//!
//! A `.tar.gz` sdist is read entry by entry: regular files and directories only (no links, no
//! devices, no FIFOs), relative paths of plain names (no absolute path, no `..`), each file
//! once, at most [`Limits::max_entries`] entries and [`Limits::max_total_uncompressed`] bytes.
//! A `.zip` sdist goes through `cairn-zip`'s validated extractor.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use cairn_types::PackageName;
use cairn_zip::Limits;

use crate::error::BuildError;

/// The archive formats of source distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdistFormat {
    /// `.tar.gz` (PEP 625's only format; nearly every sdist).
    TarGz,
    /// `.zip` (older sdists).
    Zip,
}

/// A source distribution's file name: `<name>-<version>.tar.gz` or `.zip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdistFilename {
    /// The project name as written.
    pub name: String,
    /// The version as written.
    pub version: String,
    /// The archive format.
    pub format: SdistFormat,
}

impl SdistFilename {
    /// Parses `filename`; `None` for anything that is not `<name>-<version>.tar.gz|.zip`. The
    /// name may contain `-` (legacy sdists): the version is what follows the last one.
    pub fn parse(filename: &str) -> Option<Self> {
        let (stem, format) = if let Some(stem) = filename.strip_suffix(".tar.gz") {
            (stem, SdistFormat::TarGz)
        } else if let Some(stem) = filename.strip_suffix(".zip") {
            (stem, SdistFormat::Zip)
        } else {
            return None;
        };
        let (name, version) = stem.rsplit_once('-')?;
        if name.is_empty() || version.is_empty() || filename.contains(['/', '\\']) {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            version: version.to_owned(),
            format,
        })
    }

    /// The normalised project name.
    pub fn normalized_name(&self) -> PackageName {
        PackageName::new(&self.name)
    }
}

/// Unpacks the sdist at `archive` into the empty directory `dest` and returns the project's
/// directory: the archive's single top-level directory (`name-version/`), or `dest` itself if
/// the archive has none. On an error `dest` holds partial output: the caller discards it.
pub fn unpack_sdist(
    archive: &Path,
    format: SdistFormat,
    dest: &Path,
    limits: &Limits,
) -> Result<PathBuf, BuildError> {
    let shown = archive.display().to_string();
    match format {
        SdistFormat::TarGz => {
            let file = File::open(archive).map_err(|source| BuildError::Io {
                action: format!("open the source distribution `{shown}`"),
                source,
            })?;
            let decoder = flate2::read::GzDecoder::new(io::BufReader::new(file));
            unpack_tar(decoder, dest, limits).map_err(|reason| BuildError::UnsafeSdist {
                sdist: shown.clone(),
                reason,
            })?;
        }
        SdistFormat::Zip => {
            cairn_zip::extract_file(archive, dest, limits).map_err(|error| {
                BuildError::UnsafeSdist {
                    sdist: shown.clone(),
                    reason: error.to_string(),
                }
            })?;
        }
    }
    project_root(dest).map_err(|source| BuildError::Io {
        action: format!("list the unpacked `{shown}`"),
        source,
    })
}

/// The single top-level directory of `dest`, or `dest`.
fn project_root(dest: &Path) -> io::Result<PathBuf> {
    let mut entries = std::fs::read_dir(dest)?.collect::<Result<Vec<_>, _>>()?;
    if entries.len() == 1 && entries[0].file_type()?.is_dir() {
        return Ok(entries.remove(0).path());
    }
    Ok(dest.to_owned())
}

fn unpack_tar(input: impl io::Read, dest: &Path, limits: &Limits) -> Result<(), String> {
    let mut archive = tar::Archive::new(input);
    let mut seen = HashSet::new();
    let mut total: u64 = 0;
    let mut count: u64 = 0;
    let entries = archive.entries().map_err(|error| error.to_string())?;
    for entry in entries {
        let mut entry = entry.map_err(|error| format!("cannot read the archive: {error}"))?;
        count += 1;
        if count > limits.max_entries {
            return Err(format!("more than {} entries", limits.max_entries));
        }
        let raw = entry
            .path()
            .map_err(|error| format!("an entry's path cannot be read: {error}"))?
            .into_owned();
        let Some(relative) = cairn_fs::relative_inside(&raw) else {
            // `./` alone, the archive's own root, is harmless.
            if raw.as_os_str() == "." || raw.as_os_str() == "./" {
                continue;
            }
            return Err(format!(
                "`{}` is not a relative path inside the archive",
                raw.display()
            ));
        };
        let kind = entry.header().entry_type();
        let path = dest.join(&relative);
        match kind {
            tar::EntryType::Directory => {
                cairn_fs::create_dir_all(&path).map_err(|error| error.to_string())?;
                continue;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            // Metadata of the next entry (long names, pax headers) is read by the tar crate.
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            other => {
                return Err(format!(
                    "`{}` is a {}, not a regular file or directory",
                    raw.display(),
                    kind_name(other)
                ));
            }
        }
        if !seen.insert(relative.clone()) {
            return Err(format!("`{}` appears twice", raw.display()));
        }
        let size = entry.header().size().map_err(|error| error.to_string())?;
        total = total.saturating_add(size);
        if total > limits.max_total_uncompressed {
            return Err(format!(
                "more than {} bytes unpacked",
                limits.max_total_uncompressed
            ));
        }
        if let Some(parent) = path.parent() {
            cairn_fs::create_dir_all(parent).map_err(|error| error.to_string())?;
        }
        let executable = entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(if executable { 0o755 } else { 0o644 });
        }
        #[cfg(not(unix))]
        let _ = executable;
        let mut file = options
            .open(&path)
            .map_err(|error| format!("cannot create `{}`: {error}", raw.display()))?;
        let copied = io::copy(&mut (&mut entry).take(size), &mut file)
            .map_err(|error| format!("cannot write `{}`: {error}", raw.display()))?;
        if copied != size {
            return Err(format!("`{}` is cut short", raw.display()));
        }
    }
    Ok(())
}

fn kind_name(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Fifo => "FIFO",
        _ => "special entry",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn sdist_names_parse() {
        let name = SdistFilename::parse("my-project-1.0.post1.tar.gz").unwrap();
        assert_eq!(
            (name.name.as_str(), name.version.as_str()),
            ("my-project", "1.0.post1")
        );
        assert_eq!(name.normalized_name().as_ref(), "my-project");
        assert_eq!(
            SdistFilename::parse("six-1.17.0.zip").unwrap().format,
            SdistFormat::Zip
        );
        for bad in [
            "six.tar.gz",
            "-1.0.tar.gz",
            "six-1.0.whl",
            "a/b-1.0.tar.gz",
            "six-.zip",
        ] {
            assert!(SdistFilename::parse(bad).is_none(), "{bad}");
        }
    }

    fn gzip(tar: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, tar).unwrap();
        gz.finish().unwrap()
    }

    fn targz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        gzip(&builder.into_inner().unwrap())
    }

    use cairn_test_support::tarball::raw_entry as entry;

    #[test]
    fn a_good_sdist_unpacks_to_its_project_directory() {
        let work = tempfile::tempdir().unwrap();
        let bytes = targz(|b| {
            entry(b, b"demo-1.0/", tar::EntryType::Directory, b"");
            entry(
                b,
                b"demo-1.0/pyproject.toml",
                tar::EntryType::Regular,
                b"[project]\n",
            );
            entry(
                b,
                b"demo-1.0/src/demo.py",
                tar::EntryType::Regular,
                b"x = 1\n",
            );
        });
        let archive = work.path().join("demo-1.0.tar.gz");
        std::fs::write(&archive, bytes).unwrap();
        let dest = work.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        let root = unpack_sdist(&archive, SdistFormat::TarGz, &dest, &Limits::default()).unwrap();
        assert_eq!(root, dest.join("demo-1.0"));
        assert_eq!(std::fs::read(root.join("src/demo.py")).unwrap(), b"x = 1\n");
    }

    #[test]
    fn hostile_sdists_are_refused_without_writing_outside() {
        let work = tempfile::tempdir().unwrap();
        for (name, tar) in cairn_test_support::tarball::hostile_tars() {
            let archive = work.path().join(format!("{name}.tar.gz"));
            std::fs::write(&archive, gzip(&tar)).unwrap();
            let dest = work.path().join(name).join("dest");
            std::fs::create_dir_all(&dest).unwrap();
            let error = unpack_sdist(&archive, SdistFormat::TarGz, &dest, &Limits::default())
                .expect_err(name)
                .to_string();
            assert!(error.contains("refused"), "{name}: {error}");
            assert!(!work.path().join(name).join("evil").exists(), "{name}");
        }
        // A bomb: more bytes than the limits allow, from a tiny archive.
        let archive = work.path().join("bomb.tar.gz");
        std::fs::write(
            &archive,
            targz(|b| entry(b, b"p/big", tar::EntryType::Regular, &vec![0; 4 << 20])),
        )
        .unwrap();
        let dest = work.path().join("bomb");
        std::fs::create_dir(&dest).unwrap();
        let mut limits = Limits::default();
        limits.max_total_uncompressed = 1 << 20;
        let error = unpack_sdist(&archive, SdistFormat::TarGz, &dest, &limits)
            .unwrap_err()
            .to_string();
        assert!(error.contains("more than"), "{error}");
    }
}
