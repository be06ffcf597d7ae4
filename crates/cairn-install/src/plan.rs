//! Reading one unpacked wheel into the list of files it puts in the target.
//!
//! Nothing is written here. The archive's files are read from its manifest (or, without one,
//! listed in parallel), its `RECORD` is checked against that list, and every file gets a
//! root-relative destination (see `layout`) and its `RECORD` hash and size. Linked files reuse the hash
//! and size from the wheel's `RECORD`, so no byte of them is read; only generated files
//! (launchers, `INSTALLER`, `REQUESTED`, `direct_url.json`, rewritten scripts) are hashed.
//!
//! A file the wheel's `RECORD` lists but the archive does not hold is the wheel's own
//! inconsistency (the archive's manifest, when there is one, was written from the very entries
//! the extractor unpacked): it is warned about and left out of the new `RECORD`, as pip and uv
//! install such wheels. A `.data/scripts` file that is a wrapper of a console or GUI script
//! (see [`scripts::wrapped_entry_point`]) is left out: the entry point's launcher replaces it.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use cairn_cache::ArchiveManifest;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use super::direct_url::DIRECT_URL_FILE;
use super::entry_points::{self, ScriptEntryPoint};
use super::error::InstallError;
use super::layout::{self, DIST_INFO_SUFFIX, DataScheme, Layout};
use super::walk::{self, WalkError};
use super::{InstallRequest, record, relpath, scripts};
use cairn_types::PackageName;

/// What cairn writes into `INSTALLER`.
const INSTALLER_CONTENT: &[u8] = b"cairn\n";

/// How many of the files a wheel's `RECORD` lists but lacks a warning names.
const MISSING_NAMED: usize = 5;

/// One wheel, ready to be staged.
#[derive(Debug)]
pub(crate) struct WheelPlan {
    /// The wheel's file name, for messages.
    pub(crate) wheel: String,
    /// The unpacked archive.
    pub(crate) archive: PathBuf,
    /// The normalised project name.
    pub(crate) project: PackageName,
    /// The project name from `METADATA`.
    pub(crate) name: String,
    /// The version from `METADATA`.
    pub(crate) version: String,
    /// Every file the wheel puts in the target, `RECORD` last.
    pub(crate) files: Vec<PlannedFile>,
}

/// A file to put in the target.
#[derive(Debug)]
pub(crate) struct PlannedFile {
    /// Root-relative path (see `layout`).
    pub(crate) dest: String,
    pub(crate) content: Content,
}

/// A planned file with the fields of its row in the new `RECORD`, borrowed from the wheel's
/// `RECORD` text where they come from there.
struct RecordedFile<'t> {
    file: PlannedFile,
    hash: Cow<'t, str>,
    size: Cow<'t, str>,
}

/// Where a planned file's bytes come from.
#[derive(Debug)]
pub(crate) enum Content {
    /// Linked from this archive-relative path with the operation's linker.
    Link(String),
    /// Copied from this archive-relative path and made executable: a script that must not be
    /// a link into the cache, but needs no rewriting.
    CopyExecutable(String),
    /// Generated here.
    Write { bytes: Vec<u8>, executable: bool },
}

/// Reads the wheel at `request` into a plan of files laid out by `layout`; `shebang` starts
/// every script.
pub(crate) fn plan_wheel(
    request: &InstallRequest<'_>,
    layout: &Layout,
    shebang: &[u8],
) -> Result<WheelPlan, InstallError> {
    let wheel = request.filename.to_string();
    let archive = request.archive;
    let project = request.filename.normalized_name();
    let reader = ArchiveReader {
        wheel: &wheel,
        archive,
    };

    let dist_info = reader.find_dist_info(&project)?;
    let dist_info_path = archive.join(&dist_info);
    let root_is_purelib = reader.check_wheel_file(&dist_info_path.join("WHEEL"))?;
    let lib = layout.wheel_root(root_is_purelib);
    let metadata_path = dist_info_path.join("METADATA");
    let metadata = reader.read_text(&metadata_path)?;
    let (name, version) = layout::parse_metadata(&metadata);
    let name = name.ok_or_else(|| reader.invalid(&metadata_path, "METADATA has no Name field"))?;
    if PackageName::new(name) != project {
        return Err(reader.invalid(
            &metadata_path,
            &format!("METADATA names the project `{name}`, not the one in the file name"),
        ));
    }
    let version = version.unwrap_or(&request.filename.version);

    let record_path = dist_info_path.join("RECORD");
    // RECORD (12,000 rows for torch) is parsed beside the listing of the archive.
    let record_text = reader.read_text(&record_path)?;
    let (recorded, listed) = rayon::join(
        || reader.parse_record(&record_path, &record_text),
        || reader.list_files(request.manifest),
    );
    let mut recorded = recorded?;
    let listed = listed?;

    let stem = dist_info
        .strip_suffix(DIST_INFO_SUFFIX)
        .unwrap_or(&dist_info);
    let data_prefix = format!("{stem}.data/");
    let record_entry = format!("{dist_info}/RECORD");
    let installer_entry = format!("{dist_info}/INSTALLER");
    let direct_url_entry = format!("{dist_info}/{DIRECT_URL_FILE}");
    let requested_entry = format!("{dist_info}/REQUESTED");
    // Files of the archive that cairn writes itself: `RECORD` and `INSTALLER` always,
    // `direct_url.json` and `REQUESTED` when it writes its own.
    let written_here = |entry: &str| {
        entry == record_entry
            || entry == installer_entry
            || (request.direct_url.is_some() && entry == direct_url_entry)
            || (request.requested && entry == requested_entry)
    };

    let in_lib = |entry: &str| relpath::join(lib, entry);
    let entry_points = reader.script_entry_points(&dist_info_path.join("entry_points.txt"))?;
    let script_names: FxHashSet<&str> = entry_points
        .iter()
        .map(|script| script.name.as_str())
        .collect();

    let mut files = Vec::with_capacity(listed.len() + 6);
    for entry in listed {
        let fields = recorded.remove(entry.as_str());
        if written_here(&entry) {
            continue;
        }
        let file = match entry.strip_prefix(&data_prefix) {
            Some(inner) => {
                if let Some(script) = inner.strip_prefix("scripts/").and_then(|script| {
                    scripts::wrapped_entry_point(relpath::file_name(script), |name| {
                        script_names.contains(name)
                    })
                }) {
                    tracing::debug!(
                        wheel,
                        entry,
                        script,
                        "leaving out a .data script that the entry point's launcher replaces"
                    );
                    continue;
                }
                reader.plan_data_file(layout, &entry, inner, name, shebang, fields)?
            }
            None => reader.planned(in_lib(&entry), entry, false, fields)?,
        };
        files.push(file);
    }
    let mut missing: Vec<Cow<'_, str>> = recorded
        .into_keys()
        .filter(|entry| !written_here(entry))
        .collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        warn_missing(&wheel, &missing);
    }

    for script in &entry_points {
        files.push(generated(
            relpath::join(&layout.scripts, &script.name),
            scripts::launcher(shebang, script),
            true,
        ));
    }
    files.push(generated(
        in_lib(&installer_entry),
        INSTALLER_CONTENT.to_vec(),
        false,
    ));
    if let Some(direct_url) = request.direct_url {
        files.push(generated(
            in_lib(&direct_url_entry),
            direct_url.to_json().into_bytes(),
            false,
        ));
    }
    if request.requested {
        files.push(generated(in_lib(&requested_entry), Vec::new(), false));
    }
    // Stable sort: a manifest's files come sorted, so this is mostly merging a few runs.
    files.sort_by(|a, b| a.file.dest.cmp(&b.file.dest));

    let mut new_record = String::with_capacity(files.len() * 100);
    for file in &files {
        let row = Layout::record_path(lib, &file.file.dest);
        record::write_row(&mut new_record, &row, &file.hash, &file.size);
    }
    record::write_row(&mut new_record, &record_entry, "", "");
    let mut files: Vec<PlannedFile> = files.into_iter().map(|file| file.file).collect();
    files.push(PlannedFile {
        dest: in_lib(&record_entry),
        content: Content::Write {
            bytes: new_record.into_bytes(),
            executable: false,
        },
    });

    Ok(WheelPlan {
        wheel,
        archive: archive.to_path_buf(),
        project,
        name: name.to_owned(),
        version: version.to_owned(),
        files,
    })
}

/// Warns that the wheel's `RECORD` lists `missing` (sorted), which its archive does not hold:
/// the wheel is inconsistent, and the files it does hold are installed.
fn warn_missing(wheel: &str, missing: &[Cow<'_, str>]) {
    for entry in missing {
        tracing::debug!(wheel, %entry, "RECORD lists a file the wheel does not contain");
    }
    let mut files = missing
        .iter()
        .take(MISSING_NAMED)
        .map(|entry| entry.as_ref())
        .collect::<Vec<_>>()
        .join(", ");
    if missing.len() > MISSING_NAMED {
        files.push_str(&format!(" and {} more", missing.len() - MISSING_NAMED));
    }
    tracing::warn!(
        wheel,
        files,
        "the wheel's RECORD lists files the wheel does not contain; installing the files it \
         holds, and a RECORD of those"
    );
}

fn generated<'t>(dest: String, bytes: Vec<u8>, executable: bool) -> RecordedFile<'t> {
    RecordedFile {
        hash: Cow::Owned(record::sha256_field(&bytes)),
        size: Cow::Owned(bytes.len().to_string()),
        file: PlannedFile {
            dest,
            content: Content::Write { bytes, executable },
        },
    }
}

/// The `RECORD` fields of one file: hash and size.
type RecordFields<'t> = (Cow<'t, str>, Cow<'t, str>);

/// A wheel's `RECORD`: checked relative path → (hash, size), borrowing from its text.
type RecordMap<'t> = FxHashMap<Cow<'t, str>, RecordFields<'t>>;

/// Reads one archive, turning failures into errors that name the wheel.
struct ArchiveReader<'a> {
    wheel: &'a str,
    archive: &'a Path,
}

impl ArchiveReader<'_> {
    fn invalid(&self, path: &Path, problem: &str) -> InstallError {
        InstallError::InvalidWheel {
            wheel: self.wheel.to_owned(),
            path: path.to_path_buf(),
            problem: problem.to_owned(),
        }
    }

    fn read_error(&self, path: &Path) -> impl FnOnce(io::Error) -> InstallError {
        let (wheel, path) = (self.wheel.to_owned(), path.to_path_buf());
        move |source| InstallError::ReadArchive {
            wheel,
            path,
            source,
        }
    }

    /// The archive's files, relative to it: from its manifest if it has a readable one (the
    /// extractor wrote it from the very entries it unpacked, and checked its paths), else by
    /// listing its directories.
    fn list_files(&self, manifest: Option<&Path>) -> Result<Vec<String>, InstallError> {
        if let Some(path) = manifest {
            match fs::read_to_string(path) {
                Ok(text) => match ArchiveManifest::parse(&text) {
                    Ok(manifest) => {
                        let entries = manifest.into_entries().into_iter();
                        return Ok(entries.map(|entry| entry.path).collect());
                    }
                    Err(error) => tracing::warn!(
                        wheel = self.wheel,
                        manifest = %path.display(),
                        %error,
                        "unreadable archive manifest; listing the archive instead"
                    ),
                },
                Err(error) if error.kind() == io::ErrorKind::NotFound => tracing::debug!(
                    wheel = self.wheel,
                    "the archive has no manifest; listing it instead"
                ),
                Err(error) => tracing::warn!(
                    wheel = self.wheel,
                    manifest = %path.display(),
                    %error,
                    "cannot read the archive manifest; listing the archive instead"
                ),
            }
        }
        walk::list_files(self.archive).map_err(|error| self.walk_error(error))
    }

    fn walk_error(&self, error: WalkError) -> InstallError {
        match error {
            WalkError::Io { path, source } => self.read_error(&path)(source),
            WalkError::Unsupported { path, what } => self.invalid(
                &path,
                &format!("the unpacked archive holds {what}, which wheels never contain"),
            ),
        }
    }

    /// Refuses a wheel whose format is a major version this installer does not know (PEP 427:
    /// installers must fail on one); warns on a newer minor version, as pip does. Returns its
    /// `Root-Is-Purelib`.
    fn check_wheel_file(&self, path: &Path) -> Result<bool, InstallError> {
        let text = self.read_text(path)?;
        let root_is_purelib = layout::parse_root_is_purelib(&text);
        match layout::parse_wheel_version(&text) {
            None => Err(self.invalid(path, "WHEEL has no valid Wheel-Version field")),
            Some((major, minor)) if major > 1 => Err(self.invalid(
                path,
                &format!(
                    "it is in wheel format {major}.{minor}, and cairn knows 1.x; an installer \
                     that supports the newer format is needed"
                ),
            )),
            Some((1, minor)) if minor > 0 => {
                tracing::warn!(
                    wheel = self.wheel,
                    "wheel format 1.{minor} is newer than 1.0; installing it as 1.0"
                );
                Ok(root_is_purelib)
            }
            Some(_) => Ok(root_is_purelib),
        }
    }

    fn read_text(&self, path: &Path) -> Result<String, InstallError> {
        let bytes = fs::read(path).map_err(self.read_error(path))?;
        String::from_utf8(bytes).map_err(|_| self.invalid(path, "it is not UTF-8 text"))
    }

    /// The one `.dist-info` directory at the archive root, which must belong to `project`.
    fn find_dist_info(&self, project: &PackageName) -> Result<String, InstallError> {
        let mut found = Vec::new();
        let entries = fs::read_dir(self.archive).map_err(self.read_error(self.archive))?;
        for entry in entries {
            let entry = entry.map_err(self.read_error(self.archive))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(DIST_INFO_SUFFIX) {
                found.push(name.to_owned());
            }
        }
        match found.as_slice() {
            [dir] if layout::dist_info_matches(dir, project) => Ok(dir.clone()),
            [dir] => Err(self.invalid(
                &self.archive.join(dir),
                &format!("its .dist-info directory is for another project than `{project}`"),
            )),
            [] => Err(self.invalid(self.archive, "it has no .dist-info directory")),
            _ => Err(self.invalid(
                self.archive,
                &format!(
                    "it has several .dist-info directories ({})",
                    found.join(", ")
                ),
            )),
        }
    }

    /// The wheel's `RECORD` (`text`, read from `path`): checked relative path → (hash, size).
    fn parse_record<'t>(&self, path: &Path, text: &'t str) -> Result<RecordMap<'t>, InstallError> {
        let rows = record::parse(text).map_err(|error| {
            self.invalid(
                path,
                &format!(
                    "line {} of RECORD is malformed: {}",
                    error.line, error.problem
                ),
            )
        })?;
        let mut recorded = FxHashMap::with_capacity_and_hasher(rows.len(), FxBuildHasher);
        for row in rows {
            let checked = match row.path {
                Cow::Borrowed(path) => relpath::normalize(path),
                Cow::Owned(ref path) => {
                    relpath::normalize(path).map(|p| Cow::Owned(p.into_owned()))
                }
            }
            .map_err(|problem| InstallError::UnsafePath {
                wheel: self.wheel.to_owned(),
                entry: row.path.to_string(),
                source_file: path.to_path_buf(),
                problem: problem.describe(),
            })?;
            recorded.insert(checked, (row.hash, row.size));
        }
        Ok(recorded)
    }

    /// A file linked (or, for scripts, copied) from `entry`, with its `RECORD` fields
    /// (computed if the wheel's `RECORD` forgot the file).
    fn planned<'t>(
        &self,
        dest: String,
        entry: String,
        executable_copy: bool,
        fields: Option<RecordFields<'t>>,
    ) -> Result<RecordedFile<'t>, InstallError> {
        let (hash, size) = match fields {
            Some(fields) => fields,
            None => {
                tracing::warn!(
                    wheel = self.wheel,
                    entry,
                    "file missing from RECORD; hashing it"
                );
                let path = self.archive.join(&entry);
                let bytes = fs::read(&path).map_err(self.read_error(&path))?;
                (
                    Cow::Owned(record::sha256_field(&bytes)),
                    Cow::Owned(bytes.len().to_string()),
                )
            }
        };
        let content = if executable_copy {
            Content::CopyExecutable(entry)
        } else {
            Content::Link(entry)
        };
        Ok(RecordedFile {
            file: PlannedFile { dest, content },
            hash,
            size,
        })
    }

    /// A file of the `.data` directory: `inner` is its path inside it.
    fn plan_data_file<'t>(
        &self,
        layout: &Layout,
        entry: &str,
        inner: &str,
        project_name: &str,
        shebang: &[u8],
        fields: Option<RecordFields<'t>>,
    ) -> Result<RecordedFile<'t>, InstallError> {
        let path = self.archive.join(entry);
        let (scheme, dest) = layout::data_destination(layout, inner, project_name)
            .map_err(|problem| self.invalid(&path, problem))?;
        match scheme {
            DataScheme::Lib | DataScheme::Data => {
                self.planned(dest, entry.to_owned(), false, fields)
            }
            DataScheme::Headers => {
                if !layout::is_safe_component(project_name) {
                    return Err(self.invalid(
                        &path,
                        "its project name cannot name a directory for its headers",
                    ));
                }
                self.planned(dest, entry.to_owned(), false, fields)
            }
            DataScheme::Scripts => {
                if starts_with_python_marker(&path).map_err(self.read_error(&path))? {
                    let bytes = fs::read(&path).map_err(self.read_error(&path))?;
                    if let Some(script) = scripts::rewrite_python_shebang(&bytes, shebang) {
                        return Ok(generated(dest, script, true));
                    }
                }
                self.planned(dest, entry.to_owned(), true, fields)
            }
        }
    }

    /// The console and GUI scripts of `entry_points.txt`, if the wheel has one.
    fn script_entry_points(&self, path: &Path) -> Result<Vec<ScriptEntryPoint>, InstallError> {
        let text = match fs::read(path) {
            Ok(bytes) => String::from_utf8(bytes)
                .map_err(|_| self.invalid(path, "entry_points.txt is not UTF-8 text"))?,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(self.read_error(path)(error)),
        };
        entry_points::parse_scripts(&text).map_err(|error| InstallError::EntryPoint {
            wheel: self.wheel.to_owned(),
            path: path.to_path_buf(),
            line: error.line,
            text: error.text,
            problem: error.problem,
        })
    }
}

/// Whether the file starts with `#!python`, reading only its first bytes: scripts can be large
/// binaries that are copied as they are.
fn starts_with_python_marker(path: &Path) -> io::Result<bool> {
    const MARKER: &[u8] = b"#!python";
    let mut head = [0u8; MARKER.len()];
    let mut filled = 0;
    let mut file = File::open(path)?;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(&head[..filled] == MARKER)
}
