//! Shared by the `install_*` tests: real wheels unpacked into a temporary "cache", targets,
//! content snapshots and a real Python to check the results with.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use cairn_cache::{ArchiveManifest, ManifestEntry};
use cairn_fs::LinkMode;
use cairn_install::{InstallError, InstallReport, InstallRequest, InstallSettings, Installer};
use cairn_test_support::wheel::WheelBuilder;
use cairn_types::WheelFilename;
use cairn_zip::{self as unzip, Limits};
use sha2::Digest;

/// The modes every layout test runs in: a copy must behave like a link, except for sharing.
pub const MODES: [LinkMode; 2] = [LinkMode::Copy, LinkMode::Hardlink];

/// A temporary directory holding wheels, their unpacked archives and targets.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

/// A wheel unpacked as the cache would hold it.
pub struct Unpacked {
    pub archive: PathBuf,
    /// The manifest beside the archive, as the cache writes it, listing what the extractor
    /// wrote. [`Unpacked::request`] leaves it out; [`Unpacked::request_with_manifest`] passes it.
    pub manifest: PathBuf,
    pub filename: WheelFilename,
    /// What built the wheel; `None` for a wheel file from elsewhere (PyPI).
    pub builder: Option<WheelBuilder>,
}

impl Unpacked {
    pub fn request(&self) -> InstallRequest<'_> {
        InstallRequest {
            archive: &self.archive,
            filename: &self.filename,
            manifest: None,
            direct_url: None,
            requested: false,
        }
    }

    pub fn request_with_manifest(&self) -> InstallRequest<'_> {
        InstallRequest {
            manifest: Some(&self.manifest),
            ..self.request()
        }
    }

    /// The `.dist-info` directory name, as the unpacked archive has it.
    pub fn dist_info(&self) -> String {
        std::fs::read_dir(&self.archive)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .find(|name| name.ends_with(".dist-info"))
            .unwrap()
    }
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Builds the wheel and extracts it with cairn's extractor into `archives/<file name>`.
    pub fn unpack(&self, builder: &WheelBuilder) -> Unpacked {
        let wheels = self.dir.path().join("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        let wheel = builder.build(&wheels);
        Unpacked {
            builder: Some(builder.clone()),
            ..self.unpack_file(&wheel)
        }
    }

    /// Extracts the wheel file at `wheel` (one from PyPI, say) with cairn's extractor into
    /// `archives/<file name>…`, with its manifest beside it, as the cache holds it.
    pub fn unpack_file(&self, wheel: &Path) -> Unpacked {
        let filename = wheel.file_name().unwrap().to_str().unwrap().to_owned();
        // A fresh directory each time, so one test can unpack one wheel several times.
        let archives = self.dir.path().join("archives");
        std::fs::create_dir_all(&archives).unwrap();
        let archive = tempfile::Builder::new()
            .prefix(&filename)
            .tempdir_in(&archives)
            .unwrap()
            .keep();
        let report = unzip::extract_file(wheel, &archive, &Limits::default()).unwrap();
        let entries = report
            .written
            .into_iter()
            .map(|file| ManifestEntry {
                path: file.path,
                size: file.size,
                crc32: file.crc32,
                executable: file.executable,
            })
            .collect();
        let manifest = archive.with_extension("manifest");
        let text = ArchiveManifest::new(entries).unwrap().to_text();
        std::fs::write(&manifest, text).unwrap();
        Unpacked {
            archive,
            manifest,
            filename: filename.parse().unwrap(),
            builder: None,
        }
    }

    /// A path for a target directory (not created).
    pub fn target(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The real interpreter behind `python3` (not a shim script), for shebangs.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let output = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 must be installed to run the install tests");
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    })
}

pub fn installer(target: &Path, mode: LinkMode) -> Installer {
    let mut settings = InstallSettings::new(python());
    settings.link_mode = mode;
    Installer::new(target, settings).unwrap()
}

pub fn install(
    target: &Path,
    mode: LinkMode,
    wheels: &[&Unpacked],
) -> Result<InstallReport, InstallError> {
    let requests: Vec<_> = wheels.iter().map(|wheel| wheel.request()).collect();
    installer(target, mode).install(&requests)
}

/// One entry of a [`snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { mode: u32 },
    File { sha256: String, mode: u32 },
    Symlink { to: PathBuf },
}

/// Every entry under `root` with its kind, permission bits and content hash: two equal
/// snapshots mean nothing observable changed.
pub fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    let mut entries = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let mode = metadata.permissions().mode() & 0o7777;
            let entry = if metadata.is_symlink() {
                Entry::Symlink {
                    to: std::fs::read_link(&path).unwrap(),
                }
            } else if metadata.is_dir() {
                pending.push(path);
                Entry::Dir { mode }
            } else {
                let bytes = std::fs::read(&path).unwrap();
                Entry::File {
                    sha256: sha2::Sha256::digest(&bytes)
                        .iter()
                        .map(|byte| format!("{byte:02x}"))
                        .collect(),
                    mode,
                }
            };
            entries.insert(relative, entry);
        }
    }
    entries
}

/// The files (not directories) of a snapshot.
pub fn files(root: &Path) -> Vec<String> {
    snapshot(root)
        .into_iter()
        .filter(|(_, entry)| !matches!(entry, Entry::Dir { .. }))
        .map(|(path, _)| path)
        .collect()
}

pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap()
}

pub fn inode(path: impl AsRef<Path>) -> (u64, u64) {
    let metadata = std::fs::metadata(path).unwrap();
    (metadata.dev(), metadata.ino())
}

pub fn nlink(path: impl AsRef<Path>) -> u64 {
    std::fs::metadata(path).unwrap().nlink()
}

pub fn mode(path: impl AsRef<Path>) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Runs `python3 -c code` with the target on `PYTHONPATH`.
pub fn python_in(target: &Path, code: &str) -> Output {
    Command::new(python())
        .args(["-c", code])
        .env("PYTHONPATH", target)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap()
}

/// Checks `RECORD` of `dist_info` in `target` with Python's own `csv`, `hashlib` and `base64`:
/// every row's hash and size match the installed file, and `RECORD` lists itself without a
/// hash. Returns the listed paths, sorted.
pub fn checked_record(target: &Path, dist_info: &str) -> Vec<String> {
    const CHECK: &str = r#"
import base64, csv, hashlib, os, sys
target, dist_info = sys.argv[1], sys.argv[2]
record = dist_info + "/RECORD"
with open(os.path.join(target, record), newline="") as f:
    rows = list(csv.reader(f))
listed = []
for path, digest, size in rows:
    listed.append(path)
    if path == record:
        assert digest == "" and size == "", ("RECORD lists itself with a hash", digest, size)
        continue
    with open(os.path.join(target, path), "rb") as f:
        data = f.read()
    algorithm, value = digest.split("=", 1)
    assert algorithm == "sha256", digest
    expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert value == expected, (path, value, expected)
    assert int(size) == len(data), (path, size, len(data))
assert record in listed, "RECORD does not list itself"
assert len(set(listed)) == len(listed), "duplicate rows"
print("\n".join(sorted(listed)))
"#;
    let output = Command::new(python())
        .args(["-c", CHECK])
        .arg(target)
        .arg(dist_info)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "RECORD check failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Makes `dir` unwritable even for root (`chattr +i`), or with permissions otherwise, until
/// dropped. `None` when the filesystem or the user cannot.
pub struct Unwritable {
    dir: PathBuf,
    immutable: bool,
}

impl Unwritable {
    pub fn new(dir: &Path) -> Option<Self> {
        let root = unsafe_free_is_root();
        if root {
            let status = Command::new("chattr").arg("+i").arg(dir).status().ok()?;
            status.success().then(|| Self {
                dir: dir.to_path_buf(),
                immutable: true,
            })
        } else {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).ok()?;
            Some(Self {
                dir: dir.to_path_buf(),
                immutable: false,
            })
        }
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(&self.dir).status();
        } else {
            let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755));
        }
    }
}

/// Whether the tests run as root, asked of `id` rather than through `unsafe` FFI.
fn unsafe_free_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}
