//! What can go wrong while installing, naming the wheel and the path, and what to do about it.

use std::io;
use std::path::PathBuf;

use cairn_fs::LinkError;

/// Why an install failed. Unless the error is [`InstallError::RollbackFailed`], the target is
/// exactly as it was before the call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The interpreter for script shebangs is not an absolute path.
    #[error(
        "the interpreter `{}` for script shebangs is not an absolute path; pass the full path \
         of the target environment's python",
        python.display()
    )]
    RelativeInterpreter {
        /// The path given.
        python: PathBuf,
    },

    /// The target directory could not be created, opened, locked or listed.
    #[error(
        "cannot {action} the target directory {}; check that it is a directory you \
         can write to",
        path.display()
    )]
    Target {
        /// The target directory.
        path: PathBuf,
        /// What was being done: "create", "lock", "list", ...
        action: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The target exists and is not a directory.
    #[error(
        "the target {} exists and is not a directory; choose a directory (it is created if \
         missing)",
        path.display()
    )]
    TargetNotDirectory {
        /// The target.
        path: PathBuf,
    },

    /// A file of the unpacked archive could not be read.
    #[error(
        "cannot read {} in the unpacked archive of {wheel}; remove that archive from \
         the cache so cairn unpacks the wheel again",
        path.display()
    )]
    ReadArchive {
        /// The wheel's file name.
        wheel: String,
        /// The path in the archive.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The archive is not laid out as a wheel must be.
    #[error(
        "{wheel} is not a valid wheel: {problem} (at {}); the wheel itself is broken: use another \
         version or report it to the project",
        path.display()
    )]
    InvalidWheel {
        /// The wheel's file name.
        wheel: String,
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },

    /// An archive path or a path in the wheel's `RECORD` would leave the target.
    #[error(
        "{wheel} names `{entry}` in {}, which would write outside the target ({problem}); \
         refusing to install this wheel",
        source_file.display()
    )]
    UnsafePath {
        /// The wheel's file name.
        wheel: String,
        /// The path as written.
        entry: String,
        /// Where it was found (the `RECORD` file or the archive directory).
        source_file: PathBuf,
        /// Why it is unsafe.
        problem: &'static str,
    },

    /// A file the archive's manifest (or a listing of the archive) names is gone from the
    /// unpacked archive: the cache entry was damaged after the wheel was unpacked. A file only
    /// the wheel's `RECORD` lists is not this error: the wheel is inconsistent, and it is
    /// installed without the file, with a warning.
    #[error(
        "{wheel}: `{entry}` is missing from the unpacked archive {}, though the archive's \
         manifest lists it; the cache entry is damaged or incomplete: remove it so cairn \
         unpacks the wheel again",
        archive.display()
    )]
    MissingFile {
        /// The wheel's file name.
        wheel: String,
        /// The missing file, relative to the archive.
        entry: String,
        /// The archive directory.
        archive: PathBuf,
    },

    /// A console or GUI script in `entry_points.txt` cannot become a safe launcher.
    #[error(
        "{wheel}: line {line} of {} (`{text}`): {problem}; the wheel's entry points are \
         broken: use another version or report it to the project",
        path.display()
    )]
    EntryPoint {
        /// The wheel's file name.
        wheel: String,
        /// The `entry_points.txt` file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The line as written.
        text: String,
        /// What is wrong.
        problem: &'static str,
    },

    /// Two wheels of one call are the same project.
    #[error("{first} and {second} are both versions of `{project}`; install only one of them")]
    DuplicateProject {
        /// The normalised project name.
        project: String,
        /// One wheel.
        first: String,
        /// The other wheel.
        second: String,
    },

    /// Two wheels of one call write the same path, and not the same bytes (or one writes a
    /// file where the other has a directory). Identical files are shared, not refused.
    #[error(
        "{first} and {second} both write `{path}`, with different content; projects may share \
         a file only when they write the same bytes: install only one of them"
    )]
    WheelsConflict {
        /// The target-relative path.
        path: String,
        /// One wheel.
        first: String,
        /// The other wheel.
        second: String,
    },

    /// A wheel writes a path that belongs to another installed project, and not the same
    /// bytes it holds. Identical files are shared, not refused.
    #[error(
        "{wheel} writes `{path}`, which the installed project {installed} already wrote with \
         different content; projects may share a file only when they write the same bytes: \
         uninstall that project first, install into another target, or overwrite the file \
         with --overwrite (the other project then breaks if it needs its version)"
    )]
    ConflictsWithInstalled {
        /// The wheel's file name.
        wheel: String,
        /// The target-relative path.
        path: String,
        /// The installed project's `.dist-info` directory.
        installed: String,
    },

    /// A wheel writes a path that exists in the target and that no installed project records.
    #[error(
        "{wheel} writes `{path}`, but {} already exists and no installed project's RECORD lists \
         it; move it away, install into another target, or overwrite it with --overwrite",
        full_path.display()
    )]
    UnrecordedFileExists {
        /// The wheel's file name.
        wheel: String,
        /// The target-relative path.
        path: String,
        /// The existing file or directory.
        full_path: PathBuf,
    },

    /// An install or uninstall killed earlier left a staging directory that cannot be rolled
    /// back; it is kept, and nothing more is done to the target until it is dealt with.
    #[error(
        "an earlier install into this target was interrupted, and rolling it back failed: \
         {problem}; the staging directory {} holds what it set aside: move its files back by \
         hand, or remove it to keep the target as it is",
        staging.display()
    )]
    Recover {
        /// The staging directory of the interrupted install.
        staging: PathBuf,
        /// What went wrong.
        problem: String,
    },

    /// An installed version of a project cannot be removed cleanly, so it cannot be replaced.
    #[error(
        "cannot replace the installed {project} at {}: {problem}; remove that installation by \
         hand, or install into another target",
        dist_info.display()
    )]
    CannotReplace {
        /// The normalised project name.
        project: String,
        /// The installed `.dist-info` directory.
        dist_info: PathBuf,
        /// What is wrong.
        problem: String,
    },

    /// Something in the target could not be inspected.
    #[error(
        "cannot read {} in the target; check that the target is readable",
        path.display()
    )]
    ReadTarget {
        /// The path in the target.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A file or directory could not be written in the staging area.
    #[error(
        "cannot write {} while staging {wheel}; check that the target is writable and \
         has free space",
        path.display()
    )]
    Stage {
        /// The wheel's file name.
        wheel: String,
        /// The staging path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A file could not be linked from the cache into the staging area.
    #[error("cannot link {wheel} into the target")]
    Link {
        /// The wheel's file name.
        wheel: String,
        /// The linker's error, naming both paths.
        #[source]
        source: LinkError,
    },

    /// Moving a file or directory into or out of place failed; everything done before was
    /// undone.
    #[error(
        "cannot move {} to {}; the install was undone and the target is as it was: \
         check that the target is writable",
        from.display(),
        to.display()
    )]
    Commit {
        /// The path being moved.
        from: PathBuf,
        /// Where it was going.
        to: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The install failed and undoing it failed too: the target is in between.
    #[error(
        "{cause}; undoing the install then failed for {} path(s) (first: {}), so the target \
         holds parts of both states: the files it replaced are kept under {}: move them back, \
         or reinstall",
        failures.len(),
        failures.first().map_or("", String::as_str),
        backup.display()
    )]
    RollbackFailed {
        /// The error that started the rollback.
        cause: Box<InstallError>,
        /// One line per path that could not be restored.
        failures: Vec<String>,
        /// The staging directory kept with the backups.
        backup: PathBuf,
    },

    /// The wheels were installed (the install committed), but their bytecode could not be
    /// compiled: the interpreter did not start or a worker failed. The target holds the new
    /// wheels, with bytecode for none or some of their files; Python compiles the rest when it
    /// imports them. A file that does not compile is not this error.
    #[error(
        "installed {} wheel(s), but could not compile their bytecode (Python compiles each \
         module when it first imports it, where it can write)",
        report.wheels.len()
    )]
    Bytecode {
        /// What the install did.
        report: Box<crate::InstallReport>,
        /// Why compiling failed.
        #[source]
        source: crate::BytecodeError,
    },
}
