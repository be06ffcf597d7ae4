//! `cairn cache verify`: check every archive against its manifest, and every record against
//! the archive it names.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use cairn_fs::FsError;
use rayon::prelude::*;
use serde::Serialize;

use super::MaintenanceError;
use super::plan::{Plan, Reason};
use super::scan::{PointerFile, Scan};
use super::walk::{for_each_entry, vanished};
use crate::{ArchiveManifest, Cache, ManifestEntry};

/// At most this many problems are listed per archive; the rest are counted.
const ISSUES_SHOWN_PER_ARCHIVE: usize = 10;

/// The size of the buffer each thread reads files through.
const READ_BUFFER_LEN: usize = 256 << 10;

/// What kind of problem an entry has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemKind {
    /// Content differs from what was recorded, or a record does not read: damage.
    Corrupt,
    /// A record names an archive that is not there: damage (readers treat it as a miss, but
    /// something removed the archive behind its back).
    Missing,
    /// Nothing refers to the entry: harmless, and `cairn cache prune` removes it.
    Orphaned,
    /// An archive without a manifest (unpacked before manifests existed, or after a crash
    /// between the two): it cannot be checked, which is not damage.
    Unverifiable,
}

impl ProblemKind {
    /// Whether the problem makes the cache unhealthy.
    pub fn is_damage(self) -> bool {
        matches!(self, Self::Corrupt | Self::Missing)
    }

    /// A short label for listings.
    pub fn label(self) -> &'static str {
        match self {
            Self::Corrupt => "corrupt",
            Self::Missing => "missing",
            Self::Orphaned => "orphaned",
            Self::Unverifiable => "unverifiable",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What kind.
    pub kind: ProblemKind,
    /// The entry: an archive directory, a manifest, a pointer, an index entry or a policy.
    pub path: PathBuf,
    /// What is wrong, for people.
    pub detail: String,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Problems, sorted by path.
    pub problems: Vec<Problem>,
    /// Archives found.
    pub archives: u64,
    /// Files checked against manifests.
    pub files: u64,
    /// Pointers checked.
    pub pointers: u64,
    /// Index entries checked.
    pub index_entries: u64,
    /// What `--repair` removes: corrupt archives with their manifests and every record naming
    /// them, corrupt records, and records naming missing archives. Orphaned and unverifiable
    /// entries are left to `cairn cache prune`.
    #[serde(skip)]
    pub repair: Plan,
}

impl VerifyReport {
    /// Whether no entry is corrupt or missing.
    pub fn is_healthy(&self) -> bool {
        !self.problems.iter().any(|problem| problem.kind.is_damage())
    }

    /// How many problems of `kind` were found.
    pub fn count(&self, kind: ProblemKind) -> usize {
        self.problems
            .iter()
            .filter(|problem| problem.kind == kind)
            .count()
    }
}

/// Checks the cache.
///
/// - Every archive with a manifest: each listed file must be a regular file with the recorded
///   size, CRC-32 and execute permission, and no other file may be there (directories are not
///   recorded, so an extra empty directory is not noticed). Archives are checked in parallel,
///   and the files of each archive too.
/// - Every pointer must read as a record whose archive exists, and whose BLAKE3 digest, if it
///   records one, is the archive's name; every index entry must read as `<archive> <size>` and
///   its archive must exist.
/// - Archives no pointer names, manifests without archives and policies without pointers are
///   reported as orphaned; archives without manifest as unverifiable.
///
/// Only reads, so it is safe under the shared lock beside running fetches (archives are
/// immutable, and records are scanned before archives, see the scan). Repairing needs the
/// exclusive lock: pass [`VerifyReport::repair`] to [`super::remove`].
pub fn verify(cache: &Cache) -> Result<VerifyReport, MaintenanceError> {
    super::io_pool::run(|| verify_here(cache))
}

fn verify_here(cache: &Cache) -> Result<VerifyReport, MaintenanceError> {
    let scan = Scan::new(cache.root())?;
    let mut report = VerifyReport {
        archives: scan.archives.len() as u64,
        pointers: scan.pointers.len() as u64,
        index_entries: scan.index_entries.len() as u64,
        ..VerifyReport::default()
    };
    let mut corrupt_archives: HashSet<&str> = HashSet::new();

    let mut archives: Vec<(&String, &PathBuf)> = scan.archives.iter().collect();
    archives.sort();
    let checked = archives
        .par_iter()
        .map(|(digest, dir)| check_archive(dir, scan.manifests.get(*digest).map(PathBuf::as_path)))
        .collect::<Result<Vec<_>, FsError>>()?;
    for ((digest, _), outcome) in archives.iter().zip(checked) {
        report.files += outcome.files;
        if outcome
            .problems
            .iter()
            .any(|problem| problem.kind.is_damage())
        {
            corrupt_archives.insert(digest.as_str());
        }
        report.problems.extend(outcome.problems);
    }

    let references = scan.references();
    for (digest, dir) in &archives {
        if !references.contains_key(digest.as_str()) {
            report.problems.push(Problem {
                kind: ProblemKind::Orphaned,
                path: (*dir).clone(),
                detail: "no pointer names this archive (`cairn cache prune` removes it)".to_owned(),
            });
        }
    }
    for (digest, manifest) in &scan.manifests {
        if !scan.archives.contains_key(digest) {
            report.problems.push(Problem {
                kind: ProblemKind::Orphaned,
                path: manifest.clone(),
                detail: "manifest of an archive that is not in the store".to_owned(),
            });
        }
    }
    for policy in &scan.orphan_policies {
        report.problems.push(Problem {
            kind: ProblemKind::Orphaned,
            path: policy.clone(),
            detail: "HTTP policy without a pointer beside it".to_owned(),
        });
    }

    let mut damaged_records: Vec<(&Path, Reason, Option<PathBuf>)> = Vec::new();
    for pointer in &scan.pointers {
        if let Some((kind, detail)) = check_pointer(pointer, &scan) {
            let reason = match kind {
                ProblemKind::Missing => Reason::Dangling,
                _ => Reason::Corrupt,
            };
            damaged_records.push((&pointer.path, reason, pointer.policy()));
            report.problems.push(Problem {
                kind,
                path: pointer.path.clone(),
                detail,
            });
        }
    }
    for entry in &scan.index_entries {
        let problem = match &entry.archive {
            None => Some((
                ProblemKind::Corrupt,
                Reason::Corrupt,
                "not an index entry (`<archive> <size>`)".to_owned(),
            )),
            Some(archive) if !scan.archives.contains_key(archive) => Some((
                ProblemKind::Missing,
                Reason::Dangling,
                format!("names the archive {archive}, which is not in the store"),
            )),
            Some(_) => None,
        };
        if let Some((kind, reason, detail)) = problem {
            damaged_records.push((&entry.path, reason, None));
            report.problems.push(Problem {
                kind,
                path: entry.path.clone(),
                detail,
            });
        }
    }

    report.repair = repair_plan(&scan, &corrupt_archives, &damaged_records)?;
    report.problems.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

/// What `--repair` removes; see [`VerifyReport::repair`].
fn repair_plan(
    scan: &Scan,
    corrupt_archives: &HashSet<&str>,
    damaged_records: &[(&Path, Reason, Option<PathBuf>)],
) -> Result<Plan, FsError> {
    let mut plan = Plan::default();
    for (path, reason, policy) in damaged_records {
        plan.add(path, *reason)?;
        if let Some(policy) = policy {
            plan.add(policy, *reason)?;
        }
    }
    let mut corrupt: Vec<&str> = corrupt_archives.iter().copied().collect();
    corrupt.sort_unstable();
    for digest in &corrupt {
        if let Some(dir) = scan.archives.get(*digest) {
            plan.add(dir, Reason::Corrupt)?;
        }
        if let Some(manifest) = scan.manifests.get(*digest) {
            plan.add(manifest, Reason::Corrupt)?;
        }
    }
    // The next fetch must not find a record of the removed content, so that it unpacks again.
    for pointer in &scan.pointers {
        if pointer
            .archive()
            .is_some_and(|archive| corrupt_archives.contains(archive))
        {
            plan.add(&pointer.path, Reason::Corrupt)?;
            if let Some(policy) = pointer.policy() {
                plan.add(&policy, Reason::Corrupt)?;
            }
        }
    }
    for entry in &scan.index_entries {
        if entry
            .archive
            .as_deref()
            .is_some_and(|archive| corrupt_archives.contains(archive))
        {
            plan.add(&entry.path, Reason::Corrupt)?;
        }
    }
    Ok(plan)
}

/// A pointer's problem, if it has one.
fn check_pointer(pointer: &PointerFile, scan: &Scan) -> Option<(ProblemKind, String)> {
    let Some(record) = &pointer.pointer else {
        return Some((
            ProblemKind::Corrupt,
            "not a readable pointer record of format 1".to_owned(),
        ));
    };
    if let Some(blake3) = record.mismatched_blake3() {
        return Some((
            ProblemKind::Corrupt,
            format!(
                "records the BLAKE3 digest {blake3} but names the archive {}",
                record.archive
            ),
        ));
    }
    if !scan.archives.contains_key(&record.archive) {
        return Some((
            ProblemKind::Missing,
            format!(
                "names the archive {}, which is not in the store",
                record.archive
            ),
        ));
    }
    None
}

/// The outcome of checking one archive.
struct ArchiveOutcome {
    files: u64,
    problems: Vec<Problem>,
}

/// What is at a path inside an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    File,
    Other,
}

/// Checks the archive at `dir` against its manifest.
fn check_archive(dir: &Path, manifest: Option<&Path>) -> Result<ArchiveOutcome, FsError> {
    let Some(manifest_path) = manifest else {
        return Ok(ArchiveOutcome {
            files: 0,
            problems: vec![Problem {
                kind: ProblemKind::Unverifiable,
                path: dir.to_owned(),
                detail: "no manifest: it was unpacked without one, so it cannot be checked"
                    .to_owned(),
            }],
        });
    };
    let manifest = match read_manifest(manifest_path) {
        Ok(manifest) => manifest,
        Err(detail) => {
            return Ok(ArchiveOutcome {
                files: 0,
                problems: vec![Problem {
                    kind: ProblemKind::Corrupt,
                    path: manifest_path.to_owned(),
                    detail: format!(
                        "the manifest is unreadable, so the archive cannot be trusted: {detail}"
                    ),
                }],
            });
        }
    };
    let mut found = HashMap::new();
    list_tree(dir, "", &mut found)?;
    let mut issues: Vec<String> = manifest
        .entries()
        .par_iter()
        .map_init(
            || vec![0u8; READ_BUFFER_LEN],
            |buffer, entry| check_file(dir, entry, found.get(&entry.path).copied(), buffer),
        )
        .flatten()
        .collect();
    let listed: HashSet<&str> = manifest
        .entries()
        .iter()
        .map(|entry| entry.path.as_str())
        .collect();
    let mut extra: Vec<&String> = found
        .keys()
        .filter(|path| !listed.contains(path.as_str()))
        .collect();
    extra.sort();
    issues.extend(
        extra
            .into_iter()
            .map(|path| format!("`{path}`: not in the manifest (an extra file)")),
    );
    let hidden = issues.len().saturating_sub(ISSUES_SHOWN_PER_ARCHIVE);
    issues.truncate(ISSUES_SHOWN_PER_ARCHIVE);
    if hidden > 0 {
        issues.push(format!("… and {hidden} more problems in this archive"));
    }
    Ok(ArchiveOutcome {
        files: manifest.entries().len() as u64,
        problems: issues
            .into_iter()
            .map(|detail| Problem {
                kind: ProblemKind::Corrupt,
                path: dir.to_owned(),
                detail,
            })
            .collect(),
    })
}

fn read_manifest(path: &Path) -> Result<ArchiveManifest, String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    ArchiveManifest::parse(&text).map_err(|error| error.to_string())
}

/// Lists every non-directory entry under `dir`, by `/`-separated relative path, from `d_type`
/// alone (the files are opened later anyway).
fn list_tree(dir: &Path, prefix: &str, found: &mut HashMap<String, Found>) -> Result<(), FsError> {
    let mut subdirs = Vec::new();
    for_each_entry(dir, |entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let file_type = match entry.file_type() {
            Ok(file_type) => file_type,
            Err(error) if vanished(&error) => return Ok(()),
            Err(error) => return Err(FsError::new("inspect", entry.path(), error)),
        };
        if file_type.is_dir() {
            subdirs.push((entry.path(), path));
        } else if file_type.is_file() {
            found.insert(path, Found::File);
        } else {
            found.insert(path, Found::Other);
        }
        Ok(())
    })?;
    for (subdir, path) in subdirs {
        list_tree(&subdir, &path, found)?;
    }
    Ok(())
}

/// Checks one listed file; returns what is wrong with it.
fn check_file(
    dir: &Path,
    entry: &ManifestEntry,
    found: Option<Found>,
    buffer: &mut [u8],
) -> Option<String> {
    let path = &entry.path;
    match found {
        None => return Some(format!("`{path}`: missing")),
        Some(Found::Other) => return Some(format!("`{path}`: not a regular file")),
        Some(Found::File) => {}
    }
    let mut file = match std::fs::File::open(dir.join(path)) {
        Ok(file) => file,
        Err(error) => return Some(format!("`{path}`: cannot be opened: {error}")),
    };
    let metadata = match file.metadata() {
        Ok(metadata) => metadata,
        Err(error) => return Some(format!("`{path}`: cannot be inspected: {error}")),
    };
    if metadata.len() != entry.size {
        return Some(format!(
            "`{path}`: {} bytes, but {} were unpacked",
            metadata.len(),
            entry.size
        ));
    }
    if let Some(executable) = is_executable(&metadata)
        && executable != entry.executable
    {
        return Some(if entry.executable {
            format!("`{path}`: lost its execute permission")
        } else {
            format!("`{path}`: became executable")
        });
    }
    let mut crc = crc32fast::Hasher::new();
    loop {
        match file.read(buffer) {
            Ok(0) => break,
            Ok(read) => crc.update(buffer.get(..read).unwrap_or_default()),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Some(format!("`{path}`: cannot be read: {error}")),
        }
    }
    let crc = crc.finalize();
    (crc != entry.crc32).then(|| {
        format!(
            "`{path}`: content differs from what was unpacked (CRC-32 {crc:08x}, expected {:08x})",
            entry.crc32
        )
    })
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> Option<bool> {
    use std::os::unix::fs::PermissionsExt;
    Some(metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> Option<bool> {
    None
}
