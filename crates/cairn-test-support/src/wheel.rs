//! Building small, valid wheels for tests.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::Digest;
use zip::write::SimpleFileOptions;

use crate::noise::Noise;

/// A wheel under construction: `WheelBuilder::new("demo", "1.0").file("demo/__init__.py", "…")`.
#[derive(Debug, Clone)]
pub struct WheelBuilder {
    name: String,
    version: String,
    tags: String,
    files: Vec<(String, Vec<u8>, bool)>,
    extra_dist_info: Vec<(String, Vec<u8>)>,
    /// Header lines added to METADATA after Name and Version.
    metadata: String,
    /// `Root-Is-Purelib` of its WHEEL file.
    root_is_purelib: bool,
}

impl WheelBuilder {
    /// A pure-Python wheel `name-version-py3-none-any.whl` with no files yet.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            tags: "py3-none-any".to_owned(),
            files: Vec::new(),
            extra_dist_info: Vec::new(),
            metadata: String::new(),
            root_is_purelib: true,
        }
    }

    /// Marks the wheel's root as platform-specific (`Root-Is-Purelib: false`): it goes to
    /// `platlib`.
    pub fn platlib_root(mut self) -> Self {
        self.root_is_purelib = false;
        self
    }

    /// Adds a METADATA header line, e.g. `Requires-Dist: lib>=2` or `Requires-Python: >=3.8`.
    pub fn metadata(mut self, line: &str) -> Self {
        self.metadata.push_str(line);
        self.metadata.push('\n');
        self
    }

    /// The METADATA file this wheel carries (as PEP 658 serves it beside the wheel).
    pub fn metadata_file(&self) -> String {
        format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}",
            self.name, self.version, self.metadata
        )
    }

    /// Sets the compatibility tags (`cp311-cp311-manylinux_2_28_x86_64`).
    pub fn tags(mut self, tags: &str) -> Self {
        self.tags = tags.to_owned();
        self
    }

    /// Adds a file.
    pub fn file(mut self, path: &str, content: impl AsRef<[u8]>) -> Self {
        self.files
            .push((path.to_owned(), content.as_ref().to_vec(), false));
        self
    }

    /// Adds an executable file (mode 0o755).
    pub fn executable(mut self, path: &str, content: impl AsRef<[u8]>) -> Self {
        self.files
            .push((path.to_owned(), content.as_ref().to_vec(), true));
        self
    }

    /// Adds a file to the `.data` directory under `scheme` (`purelib`, `platlib`, `scripts`,
    /// `headers`, `data`): `.data("scripts", "tool", "#!python\n…")`.
    pub fn data(self, scheme: &str, path: &str, content: impl AsRef<[u8]>) -> Self {
        let full = format!("{}/{scheme}/{path}", self.data_dir());
        self.file(&full, content)
    }

    /// Adds `entry_points.txt` to the `.dist-info` directory.
    pub fn entry_points(self, content: &str) -> Self {
        self.dist_info("entry_points.txt", content)
    }

    /// Adds a file to the `.dist-info` directory (e.g. `entry_points.txt`).
    pub fn dist_info(mut self, name: &str, content: impl AsRef<[u8]>) -> Self {
        self.extra_dist_info
            .push((name.to_owned(), content.as_ref().to_vec()));
        self
    }

    /// The wheel's file name.
    pub fn filename(&self) -> String {
        format!(
            "{}-{}-{}.whl",
            self.name.replace('-', "_"),
            self.version,
            self.tags
        )
    }

    /// The `.dist-info` directory name.
    pub fn dist_info_dir(&self) -> String {
        format!("{}-{}.dist-info", self.name.replace('-', "_"), self.version)
    }

    /// The `.data` directory name.
    pub fn data_dir(&self) -> String {
        format!("{}-{}.data", self.name.replace('-', "_"), self.version)
    }

    /// Writes the wheel into `dir` and returns its path.
    pub fn build(&self, dir: &Path) -> PathBuf {
        let path = dir.join(self.filename());
        std::fs::write(&path, self.to_bytes()).unwrap();
        path
    }

    /// The wheel's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let dist_info = self.dist_info_dir();
        let mut entries: Vec<(String, Vec<u8>, bool)> = self.files.clone();
        let metadata = self.metadata_file();
        entries.push((
            format!("{dist_info}/METADATA"),
            metadata.into_bytes(),
            false,
        ));
        let wheel = format!(
            "Wheel-Version: 1.0\nGenerator: cairn-tests\nRoot-Is-Purelib: {}\nTag: {}\n",
            self.root_is_purelib, self.tags
        );
        entries.push((format!("{dist_info}/WHEEL"), wheel.into_bytes(), false));
        for (name, content) in &self.extra_dist_info {
            entries.push((format!("{dist_info}/{name}"), content.clone(), false));
        }
        let mut record = String::new();
        for (name, content, _) in &entries {
            let digest = sha2::Sha256::digest(content);
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
            record.push_str(&format!("{name},sha256={encoded},{}\n", content.len()));
        }
        record.push_str(&format!("{dist_info}/RECORD,,\n"));
        entries.push((format!("{dist_info}/RECORD"), record.into_bytes(), false));

        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content, executable) in entries {
            let mode = if executable { 0o755 } else { 0o644 };
            let options = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(mode);
            writer.start_file(name, options).unwrap();
            writer.write_all(&content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }
}

/// Writes a wheel `name-version-py3-none-any.whl` into `dir` whose files (path, length) hold
/// incompressible pseudo-random bytes, stored uncompressed, so the wheel file is as large as its
/// content. The bytes are streamed to disk: building a wheel of gigabytes holds only one chunk
/// in memory (tests of peak memory need the test process itself to stay small).
pub fn write_noise_wheel(dir: &Path, name: &str, version: &str, files: &[(&str, u64)]) -> PathBuf {
    write_noise_wheel_as(dir, name, version, files, zip::CompressionMethod::Stored)
}

/// [`write_noise_wheel`] with the noise files deflated (at the fastest level: noise does not
/// shrink, but a reader must inflate it, as it would a shared library).
pub fn write_deflated_noise_wheel(
    dir: &Path,
    name: &str,
    version: &str,
    files: &[(&str, u64)],
) -> PathBuf {
    write_noise_wheel_as(dir, name, version, files, zip::CompressionMethod::Deflated)
}

fn write_noise_wheel_as(
    dir: &Path,
    name: &str,
    version: &str,
    files: &[(&str, u64)],
    method: zip::CompressionMethod,
) -> PathBuf {
    let path = dir.join(format!("{name}-{version}-py3-none-any.whl"));
    let dist_info = format!("{name}-{version}.dist-info");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let mut record = String::new();
    let mut noise = Noise::new(0x9E37_79B9_7F4A_7C15);
    let mut chunk = vec![0u8; 1 << 20];
    let mut add =
        |writer: &mut zip::ZipWriter<std::fs::File>, name: &str, len: Option<u64>, text: &[u8]| {
            let method = if len.is_some() {
                method
            } else {
                zip::CompressionMethod::Stored
            };
            let options = SimpleFileOptions::default()
                .compression_method(method)
                .compression_level(Some(1).filter(|_| method == zip::CompressionMethod::Deflated))
                .large_file(len.unwrap_or(0) >= u64::from(u32::MAX))
                .unix_permissions(0o644);
            writer.start_file(name, options).unwrap();
            let mut digest = sha2::Sha256::new();
            let mut size = 0;
            match len {
                None => {
                    writer.write_all(text).unwrap();
                    digest.update(text);
                    size = text.len() as u64;
                }
                Some(len) => {
                    while size < len {
                        noise.fill(&mut chunk);
                        let take = (len - size).min(chunk.len() as u64) as usize;
                        writer.write_all(&chunk[..take]).unwrap();
                        digest.update(&chunk[..take]);
                        size += take as u64;
                    }
                }
            }
            let encoded =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.finalize());
            format!("{name},sha256={encoded},{size}\n")
        };
    for (file, len) in files {
        record.push_str(&add(&mut writer, file, Some(*len), b""));
    }
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    record.push_str(&add(
        &mut writer,
        &format!("{dist_info}/METADATA"),
        None,
        metadata.as_bytes(),
    ));
    let wheel =
        "Wheel-Version: 1.0\nGenerator: cairn-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    record.push_str(&add(
        &mut writer,
        &format!("{dist_info}/WHEEL"),
        None,
        wheel.as_bytes(),
    ));
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    add(
        &mut writer,
        &format!("{dist_info}/RECORD"),
        None,
        record.as_bytes(),
    );
    writer.finish().unwrap();
    path
}
