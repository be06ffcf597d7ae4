//! Installing unpacked wheels from the cache into a target directory or an environment.
//!
//! The target is a directory that goes on `sys.path`, as with `pip install --target`: the
//! packages land at its root and scripts in `bin/`. [`Installer::with_scheme`] installs into an
//! environment's [`Scheme`] instead (a virtual environment's `site-packages`, `bin`, …; see
//! [Environments](#environments)). [`Installer::install`] installs several wheels as one
//! transaction: it succeeds whole, or the target is left exactly as it was.
//!
//! The installer needs only an unpacked wheel directory (a cache archive, or any directory a
//! wheel was extracted into), its file name and, optionally, the manifest the cache stored
//! beside it. It reads no zip archive and uses no network.
//!
//! ```
//! use cairn_install::{InstallRequest, InstallSettings, Installer};
//! use cairn_types::WheelFilename;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let work = tempfile::tempdir()?;
//!
//! // An unpacked wheel, as an extractor leaves it.
//! let archive = work.path().join("demo-1.0");
//! let dist_info = archive.join("demo-1.0.dist-info");
//! std::fs::create_dir_all(archive.join("demo"))?;
//! std::fs::create_dir_all(&dist_info)?;
//! std::fs::write(archive.join("demo/__init__.py"), "VALUE = 1\n")?;
//! let metadata = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n";
//! std::fs::write(dist_info.join("METADATA"), metadata)?;
//! std::fs::write(dist_info.join("WHEEL"), "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")?;
//! std::fs::write(
//!     dist_info.join("RECORD"),
//!     "demo/__init__.py,,\ndemo-1.0.dist-info/METADATA,,\n\
//!      demo-1.0.dist-info/WHEEL,,\ndemo-1.0.dist-info/RECORD,,\n",
//! )?;
//!
//! // Scripts get this interpreter in their `#!` line; it must be an absolute path.
//! let target = work.path().join("site-packages");
//! let installer = Installer::new(&target, InstallSettings::new("/usr/bin/python3"))?;
//! let filename: WheelFilename = "demo-1.0-py3-none-any.whl".parse()?;
//! let report = installer.install(&[InstallRequest {
//!     archive: &archive,
//!     filename: &filename,
//!     manifest: None,
//!     direct_url: None,
//!     requested: true,
//! }])?;
//!
//! assert_eq!(report.wheels[0].name, "demo");
//! assert!(target.join("demo/__init__.py").is_file());
//! assert!(target.join("demo-1.0.dist-info/INSTALLER").is_file());
//! assert!(target.join("demo-1.0.dist-info/REQUESTED").is_file());
//! # Ok(())
//! # }
//! ```
//!
//! # How an install runs
//!
//! 1. **Plan** (read only, each wheel in parallel). List the unpacked archive (from its
//!    manifest when there is one), check it against the wheel's `RECORD` (a file only `RECORD`
//!    lists is warned about and left out; paths that would leave the target are refused), map
//!    `.data` files to their destinations, and generate the entry-point launchers, `INSTALLER`,
//!    `direct_url.json`, `REQUESTED` and the new `RECORD` in memory (see
//!    [What an install writes](#what-an-install-writes)). Linked files keep the hash and size from the wheel's `RECORD`:
//!    no byte of them is read.
//! 2. **Check** (reads the target). The destinations of all wheels form one tree; two wheels
//!    writing one path with different bytes, or one project twice, is an error (see
//!    [Files several projects write](#files-several-projects-write)). The target's
//!    `.dist-info` directories name the installed projects; the `RECORD`s of the versions
//!    being replaced list the files they own, less those another installed project lists too.
//!    The tree is laid over the target (`merge`): an existing file that no replaced version
//!    owns is a conflict, reported with its owner if another project records it, unless it
//!    holds the new file's bytes and another project records it. Every conflict is found
//!    here, before anything in the target changes.
//! 3. **Stage**, beside the check. A `.cairn-install-*` directory is made inside the target
//!    (same filesystem), and every file is linked (one [`Linker`], so the clone → hardlink →
//!    copy ladder is decided once for the whole call) or written into it, in parallel. If the
//!    check fails, the staging directory is removed and the check's error reported. Checking
//!    first would delay the links by the time the check takes, and a failed check is rare.
//! 4. **Move**. Old entries are renamed into the staging directory's `backup/`, then new ones
//!    renamed into place: a top-level entry the target lacks moves with one rename, whatever
//!    its size; a directory holding only the replaced version's files is swapped whole; only
//!    directories shared with other projects (namespace packages, `bin`) are merged file by
//!    file. Each rename is journalled; any failure renames everything back.
//! 5. **Commit**. Directories the old versions left empty are removed, then the staging
//!    directory with the backups.
//!
//! # Why this shape
//!
//! Linking straight into the target and deleting on failure cannot restore replaced files, and
//! renaming every file twice (stage, then place) doubles the metadata work. Here a fresh
//! install of torch (13k files) costs one `link` per file plus a handful of renames; its
//! upgrade adds two renames and the deletion of the old tree. Conflicts are found by `lstat`
//! only where a new entry meets an existing one. The other installed projects' `RECORD`s are
//! read (in parallel) only when the install replaces a version or meets an identical file, to
//! find the files they share; a fresh install into a new target reads none.
//!
//! Staging links file by file through [`Linker::link_at`] after creating the directories,
//! rather than with [`Linker::link_tree`] per top-level directory: the plan has already listed
//! the archive (with each entry's type from `read_dir`), so this avoids a second walk and a
//! `statx` per file. Files are grouped by their pair of directories, each opened once, so a
//! `link` resolves one name on each side instead of two full paths. Hard links into one
//! directory are not split between threads, since the directory's lock makes them take turns
//! anyway; the largest such directory (in torch, `torch/include/ATen/ops`) is the critical
//! path of a warm install, so its links start as soon as the plan is made and its directories
//! exist (see `stage`), while other threads check the target, make the other directories and
//! link the other files. In copy mode an install is bound by copying the bytes.
//!
//! # What an install writes
//!
//! Besides the wheel's own files, each `.dist-info` directory gets what pip writes there, so
//! that pip and other tools read a cairn install as one of theirs:
//!
//! - `INSTALLER` (`cairn`), always.
//! - `direct_url.json` (PEP 610) when the request has a [`DirectUrl`]: a wheel installed from a
//!   path or a URL, not one found on an index. It holds the wheel's URL (`file://` and the
//!   absolute path for a local file) and its hash when the caller knows it, in the bytes pip
//!   writes. `pip freeze` then names the project by that URL instead of a version no index
//!   may have.
//! - `REQUESTED` (PEP 376, empty) when the request is `requested`: the user named the project,
//!   rather than it being installed as someone's dependency.
//! - `RECORD`, rewritten: every installed file with its hash and size, the generated files
//!   above included (hashed, as pip does), and itself without a hash. It lists exactly the files
//!   that were installed: a row of the wheel's `RECORD` for a file the wheel does not contain is
//!   dropped with a warning naming the wheel and the file (pip and uv install such wheels
//!   too; pip copies the row into its `RECORD`, listing a file that is not there). Such a wheel is inconsistent, and refusing it would blame
//!   the wrong party: the archive's manifest, when there is one, was written from the very
//!   entries the extractor unpacked. A file the *manifest* lists that the archive lacks is
//!   different: the cache entry was damaged after unpacking, and that is
//!   [`InstallError::MissingFile`]. Without a manifest the listing of the archive is all there
//!   is, and a missing file is taken as the wheel's.
//!
//! An older version's `direct_url.json` or `REQUESTED` goes with it when a project is
//! reinstalled without them, as the old `RECORD` owns them.
//!
//! Scripts follow pip: a console or GUI script in `entry_points.txt` gets a launcher in `bin/`,
//! and a `.data/scripts` file that is a wrapper of it is left out (debug log) instead of
//! colliding with the launcher: a file of the script's name, or setuptools' Windows wrappers
//! `NAME.exe`, `NAME-script.py`, `NAME-script.pyw` and `NAME.pya`, which cannot run on POSIX.
//! pip's own tests assert those are not created. pip matches `-script.pyw` only by its full
//! name and so installs it; cairn leaves it out too. Other `.data/scripts` files, `.exe` files
//! named after no entry point among them, are installed as they are.
//!
//! # Environments
//!
//! A [`Scheme`] names the directory of each kind of file, as `sysconfig.get_paths()` reports
//! them for an interpreter: `purelib` and `platlib` (packages and `.dist-info`), `scripts`,
//! `headers` and `data`. The installer works in the deepest directory holding all of them (a
//! virtual environment's prefix), the *root*: the lock, the staging directory and every path of
//! the transaction are relative to it, so everything below holds for environments as for
//! targets, with "target" read as "root". Directories of the scheme and those above them are
//! never removed, even when an uninstall leaves them empty. A wheel's root goes to `purelib`,
//! or to `platlib` when its `WHEEL` says `Root-Is-Purelib: false`, with its `.dist-info`;
//! `RECORD` rows are relative to that directory, as pip writes them (`../../../bin/tool`), and
//! rows of installed projects are resolved the same way (a row leaving the root is ignored).
//! [`Scheme::target`] is the target directory's layout.
//!
//! # Files several projects write
//!
//! Projects that share a namespace package often all ship its `__init__.py`: the CUDA wheels of
//! torch an empty `nvidia/__init__.py`, the `backports.*` projects the same `pkgutil` line in
//! `backports/__init__.py`. pip and uv install them, the last writer winning. cairn shares such
//! a file when every project writes the same bytes, in one call or across calls: it is staged
//! once (or left as it is in the target), and every project's `RECORD` lists it, so that each
//! still accounts for all its files. An upgrade or reinstall of one of them removes the file
//! only when no other installed project's `RECORD` lists it. Contents are compared cheaply: the
//! sizes first, the bytes only when the sizes are equal, stopping at the first difference.
//!
//! Different bytes are refused ([`InstallError::WheelsConflict`],
//! [`InstallError::ConflictsWithInstalled`], naming both projects and the file): one file
//! cannot hold both, and letting the last writer win silently breaks the other project (jwt
//! and PyJWT both write `jwt/__init__.py`). An identical file in the target that no project
//! records is refused as any unrecorded file is.
//!
//! [`InstallSettings::overwrite`] opts in to what pip does: a file already in the target that
//! another project records with other bytes, or that no project records, is replaced (set
//! aside and removed at the commit, as a replaced version's file), with a warning naming the
//! wheel and the file; the other project's `RECORD` still lists it. Two wheels of one call
//! writing one path with different bytes stay refused: install them in two calls.
//!
//! # Listing and uninstalling
//!
//! [`list`] reads the target's `*.dist-info` directories as `pip list --path` does: each
//! project's name and version (from `METADATA`), whether it holds `REQUESTED`, and its
//! `INSTALLER`, under a shared lock so a running install is seen before or after.
//!
//! [`uninstall`] (or [`Installer::uninstall`]) removes projects with the install's machinery:
//! under the same exclusive lock, what a project owns is every file its `RECORD` lists inside
//! the target (pip's `../../bin/…` rows name the target's `bin/…`, as on upgrade; other rows
//! leaving the target are ignored), less the files another installed project's `RECORD` lists
//! too, which stay until their last owner goes (see
//! [Files several projects write](#files-several-projects-write)). The removal is planned as an
//! upgrade to nothing: directories holding only the project's files and bytecode caches are
//! set aside whole, shared ones (`bin`, namespace packages) file by file with the bytecode of
//! the modules removed, and the `.dist-info` goes whole. Everything is renamed into the staging
//! directory, journalled; any failed rename puts everything back
//! ([`UninstallError::Move`]), and the commit deletes the staging directory and the
//! directories left empty. Names that are not installed are refused, naming them, before
//! anything changes. A file no `RECORD` lists (other than bytecode) is left alone, and so is
//! the directory holding it.
//!
//! pip lists and uninstalls what cairn installed (its `RECORD` rows are relative to the target,
//! which pip resolves from the `.dist-info`'s parent), and cairn what `pip install --target`
//! installed.
//!
//! # Bytecode
//!
//! With [`InstallSettings::compile_bytecode`], `install` compiles the `.py` files it installed
//! (every planned file whose path ends in `.py`, shared files once; not other files of the
//! target) to `__pycache__/<module>.<tag>.pyc` after the commit, still holding the target's
//! lock, as `uv pip install --compile-bytecode` does. The compiler is
//! [`InstallSettings::python`], the interpreter the scripts run with, so the `.pyc` files have
//! its cache tag and magic number. Worker processes of it (one per core, fewer for a few
//! dozen files) run a small script, `compile.py`, that reads paths on stdin and calls
//! `py_compile.compile` on each, with the invalidation mode `compileall` would pick
//! (timestamps, checked hashes under `SOURCE_DATE_EPOCH`); each worker takes the next path from
//! one shared list, so one large module does not hold up the rest. The interpreter runs
//! isolated (`-I`), so `PYTHONPYCACHEPREFIX` cannot send the files elsewhere.
//!
//! - A file that does not compile (vendored Python 2 code, say) is skipped, logged at debug
//!   and counted in [`BytecodeReport::failed`]: pip and uv ignore such files too.
//! - An interpreter that cannot start, or a worker that dies, is
//!   [`InstallError::Bytecode`]. The install has committed by then and stands; the error
//!   carries its report.
//! - The `.pyc` files are not listed in `RECORD`, as with uv (pip, compiling during the
//!   install, lists them). PEP 491 lets installers leave them out: uninstallers remove the
//!   `__pycache__` entries of the modules they remove, and so do cairn's upgrades.
//! - Without the option an install starts no interpreter and lists no sources: it does no
//!   extra work.
//!
//! # Guarantees and limits
//!
//! - Nothing outside the target is written or removed. Archive and `RECORD` paths with `..`
//!   or a root are refused; old `RECORD` entries that leave the target are ignored (debug
//!   log), except `../../…`: `pip install --target` installs into a scheme whose
//!   `site-packages` is `<home>/lib/python`, then moves `<home>/bin` and the other data
//!   directories into the target, so its `RECORD` names the target's `bin/tool` as
//!   `../../bin/tool`. Those rows name that file of the target, so an upgrade replaces pip's
//!   scripts instead of refusing them as unrecorded files.
//! - No symlink found in the target is followed: entries are inspected with `lstat`, a
//!   symlink is treated as a file (replaced only if an old version owns it), an old file is
//!   only removed when every directory above it is a real directory, and files are created
//!   with `O_EXCL` in the staging directory.
//! - `RECORD` is always a new file, never a link into the cache.
//! - Two cairn processes installing or uninstalling in one target take turns (an exclusive
//!   `flock` on the target directory). Other tools writing the target during an install are
//!   not guarded against.
//! - **Crashes.** An install or uninstall killed at any moment (`SIGKILL`, out of memory) leaves
//!   the target, once the next install or uninstall into it has started, exactly as it was
//!   before the killed one, or fully done if it was killed after its last rename: the plan of
//!   moves is journalled in the staging directory before the first rename, and the next
//!   install or uninstall rolls an interrupted one back, with a warning, and removes its
//!   `.cairn-install-*` directory. Between the crash and that next command, the target may be
//!   half installed. After a power cut the same holds for the renames the filesystem kept: the
//!   journal is synced to disk before the first rename, and the rollback checks each entry
//!   where it is, so any subset of renames that reached the disk is undone.
//! - Bytecode is compiled only when asked for (see [Bytecode](#bytecode)). Old modules'
//!   `__pycache__/*.pyc` files are removed with them either way.
//! - A file that exists in the target but that no installed project records counts as a
//!   conflict, even with the new file's bytes, like one another project owns with other bytes.
//!   A file another project's `RECORD` lists but that no longer exists is not one.

mod compile;
mod direct_url;
mod entry_points;
mod error;
mod installed;
mod layout;
mod list;
mod merge;
mod plan;
mod record;
mod relpath;
mod scripts;
mod stage;
mod transaction;
mod uninstall;
mod walk;

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rayon::prelude::*;

// The linking types in this crate's signatures, so a caller needs no direct cairn-fs dependency.
pub use cairn_fs::{Link, LinkDir, LinkError, LinkMode, Linker};
pub use cairn_types::{PackageName, WheelFilename};
pub use compile::{BytecodeError, BytecodeReport};
pub use direct_url::{ArchiveHash, DirectKind, DirectUrl, DirectUrlError};
pub use error::InstallError;
pub use layout::Scheme;
pub use list::{InstalledDist, list};
pub use uninstall::{UninstallError, UninstallReport, UninstalledDist, uninstall};

use self::installed::Installed;
use self::layout::Layout;
use self::merge::{MergeError, MergePlan, NewTree, TreeError};
use self::plan::WheelPlan;
use self::stage::StageCounts;
use self::transaction::Transaction;

/// How an [`Installer`] installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallSettings {
    /// How files come from the cache; the linker falls back down the ladder when the
    /// filesystem cannot do this mode (see [`cairn_fs::link`]).
    pub link_mode: LinkMode,
    /// The interpreter that scripts run with: an absolute path, written into their `#!` line.
    /// It also compiles the bytecode when `compile_bytecode` is set.
    pub python: PathBuf,
    /// Whether to compile the installed `.py` files to `__pycache__/*.pyc` with `python`
    /// after the install commits (see [Bytecode](crate#bytecode)). Off by default: an install
    /// without it starts no interpreter and does no extra work.
    pub compile_bytecode: bool,
    /// Whether a new file may replace an existing file of the target that another installed
    /// project records with other bytes, or that no project records, as pip always does (see
    /// [Files several projects write](crate#files-several-projects-write)). Off by default:
    /// such a file is a conflict.
    pub overwrite: bool,
}

impl InstallSettings {
    /// Settings with the default link mode (clone, falling back to hardlink, then copy).
    pub fn new(python: impl Into<PathBuf>) -> Self {
        Self {
            link_mode: LinkMode::default(),
            python: python.into(),
            compile_bytecode: false,
            overwrite: false,
        }
    }
}

/// One wheel to install.
#[derive(Debug, Clone, Copy)]
pub struct InstallRequest<'a> {
    /// The unpacked wheel in the cache ([`cairn_cache::ArchivePath::path`]).
    pub archive: &'a Path,
    /// The wheel's file name, which names the project.
    pub filename: &'a WheelFilename,
    /// The archive's manifest ([`cairn_cache::Cache::manifest_path`]), if the archive is in a
    /// cache. The installer then takes the list of the archive's files from it instead of
    /// listing every directory of the archive (torch: one read instead of 773 directory
    /// listings). A manifest that is missing (an archive unpacked by an older cairn may have
    /// none) or unreadable is passed over, and the archive listed.
    ///
    /// With a manifest, a file it lists that the archive lacks is damage to the cache entry
    /// ([`InstallError::MissingFile`]); a file only the wheel's `RECORD` lists is the wheel's
    /// own inconsistency, warned about and left out.
    pub manifest: Option<&'a Path>,
    /// Where the wheel came from, for a wheel installed from a path or a URL (a direct
    /// reference): written as the PEP 610 `direct_url.json`. `None` for a wheel found on an
    /// index or in a find-links directory, as pip does.
    pub direct_url: Option<&'a DirectUrl>,
    /// Whether the user asked for this project (a requirement they named, not a dependency
    /// pulled in for one): writes the empty `REQUESTED` file of PEP 376, which tools read to
    /// tell what may be removed when nothing depends on it any more.
    pub requested: bool,
}

/// What an install did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallReport {
    /// One entry per installed wheel, in the order they were given.
    pub wheels: Vec<InstalledWheel>,
    /// What compiling the bytecode did, when [`InstallSettings::compile_bytecode`] is set.
    pub bytecode: Option<BytecodeReport>,
}

/// What installing one wheel did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstalledWheel {
    /// The project name, from the wheel's `METADATA`.
    pub name: String,
    /// The version, from the wheel's `METADATA`.
    pub version: String,
    /// Files linked from the cache.
    pub files_linked: u64,
    /// Files written new: `RECORD`, `INSTALLER`, `direct_url.json`, `REQUESTED`, entry-point
    /// launchers and `.data` scripts whose `#!python` line was rewritten.
    pub files_written: u64,
    /// The weakest link mode any of the wheel's linked files got.
    pub mode: LinkMode,
    /// The version(s) of the project this install replaced, if it was installed.
    pub replaced: Option<String>,
}

/// Installs wheels into one target directory or one environment's [`Scheme`]. Holds one
/// [`Link`] (by default a [`Linker`]), so the link-mode ladder is decided once for everything
/// the installer installs.
#[derive(Debug)]
pub struct Installer {
    layout: Layout,
    linker: Arc<dyn Link>,
    shebang: Vec<u8>,
    /// The interpreter that compiles bytecode, when the settings ask for it.
    compile_with: Option<PathBuf>,
    /// [`InstallSettings::overwrite`].
    overwrite: bool,
}

impl Installer {
    /// An installer for `target`, which is created if missing.
    ///
    /// # Errors
    ///
    /// [`InstallError::RelativeInterpreter`] if `settings.python` is not absolute;
    /// [`InstallError::TargetNotDirectory`] or [`InstallError::Target`] if the target cannot be
    /// made a directory.
    pub fn new(target: &Path, settings: InstallSettings) -> Result<Self, InstallError> {
        let linker = Arc::new(Linker::new(settings.link_mode));
        Self::with_linker(target, settings, linker)
    }

    /// An installer for `target` that links every file through `linker` instead of a
    /// [`Linker`] for `settings.link_mode` (which is then not used). Share one linker between
    /// installers to decide the link-mode ladder once for all of them, or pass your own [`Link`]
    /// implementation.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_linker(
        target: &Path,
        settings: InstallSettings,
        linker: Arc<dyn Link>,
    ) -> Result<Self, InstallError> {
        let target_error = |action| {
            move |source| InstallError::Target {
                path: target.to_path_buf(),
                action,
                source,
            }
        };
        let target = std::path::absolute(target).map_err(target_error("resolve"))?;
        match fs::metadata(&target) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Err(InstallError::TargetNotDirectory { path: target }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(target_error("inspect")(source)),
        }
        Self::with_scheme(&Scheme::target(target), settings, linker)
    }

    /// An installer for an environment's install scheme (a virtual environment's
    /// `site-packages`, `bin`, …, from its interpreter's `sysconfig`), linking through
    /// `linker`. It works in the deepest directory holding every location of the scheme (the
    /// environment's prefix): the lock and the staging directory live there, which is created
    /// if missing. `RECORD` rows are written relative to `purelib` (or `platlib`), as pip
    /// writes them: `../../../bin/tool`.
    ///
    /// # Errors
    ///
    /// [`InstallError::RelativeInterpreter`] if `settings.python` is not absolute;
    /// [`InstallError::Target`] if the scheme's directories cannot be resolved or their common
    /// directory created.
    pub fn with_scheme(
        scheme: &Scheme,
        settings: InstallSettings,
        linker: Arc<dyn Link>,
    ) -> Result<Self, InstallError> {
        if !settings.python.is_absolute() {
            return Err(InstallError::RelativeInterpreter {
                python: settings.python,
            });
        }
        let layout = Layout::new(scheme)?;
        match fs::metadata(&layout.root) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => {
                return Err(InstallError::TargetNotDirectory {
                    path: layout.root.clone(),
                });
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&layout.root).map_err(|source| InstallError::Target {
                    path: layout.root.clone(),
                    action: "create",
                    source,
                })?;
            }
            Err(source) => {
                return Err(InstallError::Target {
                    path: layout.root.clone(),
                    action: "inspect",
                    source,
                });
            }
        }
        Ok(Self {
            shebang: scripts::shebang(&settings.python),
            compile_with: settings.compile_bytecode.then_some(settings.python),
            overwrite: settings.overwrite,
            linker,
            layout,
        })
    }

    /// The directory the installer works in, absolute and canonical: the target directory, or
    /// the deepest directory holding every location of the scheme.
    pub fn target(&self) -> &Path {
        &self.layout.root
    }

    /// Installs all `wheels`, in parallel, as one transaction, replacing any installed version
    /// of their projects.
    ///
    /// # Errors
    ///
    /// Any [`InstallError`]; the target is then exactly as it was before the call, unless the
    /// error is [`InstallError::RollbackFailed`], or [`InstallError::Bytecode`]: the wheels were
    /// installed, and only compiling their bytecode failed.
    pub fn install(&self, wheels: &[InstallRequest<'_>]) -> Result<InstallReport, InstallError> {
        if wheels.is_empty() {
            return Ok(InstallReport::default());
        }
        let _lock = self.lock()?;
        self.recover()?;
        let started = Instant::now();

        let plans = wheels
            .par_iter()
            .map(|request| plan::plan_wheel(request, &self.layout, &self.shebang))
            .collect::<Result<Vec<_>, _>>()?;
        tracing::debug!(elapsed = ?started.elapsed(), wheels = plans.len(), "install: planned");
        let by_project = index_projects(&plans)?;

        // Staging writes only inside the staging directory, so it runs beside the checks
        // against the target; if a check fails, what was staged is thrown away.
        let mut transaction = Transaction::begin(&self.layout.root)?;
        let counts: Vec<StageCounts> = plans.iter().map(|_| StageCounts::default()).collect();
        let new_root = transaction.new_root();
        let (checked, staged) = rayon::join(
            || self.check(&plans, &by_project),
            || stage::stage(&new_root, &plans, self.linker.as_ref(), &counts),
        );
        let (merge_plan, replaced) = match (checked, staged) {
            (Ok(checked), Ok(())) => checked,
            // Staging puts a path written by several wheels in place once; the check decides
            // whether they may share it.
            (Err(error), _) | (Ok(_), Err(error)) => return Err(transaction.undo(error)),
        };
        tracing::debug!(
            elapsed = ?started.elapsed(),
            backups = merge_plan.backups.len(),
            move_ins = merge_plan.move_ins.len(),
            "install: checked against the target and staged"
        );
        transaction.apply(&merge_plan)?;
        transaction.commit(&merge_plan.prune);
        tracing::debug!(elapsed = ?started.elapsed(), "install: committed");
        // Listed before the plans are consumed below; nothing is collected without the option.
        let sources = self
            .compile_with
            .as_ref()
            .map(|_| self.python_sources(&plans));

        let fallback = self.linker.mode();
        let wheels = plans
            .into_iter()
            .zip(&counts)
            .zip(replaced)
            .map(|((plan, counts), replaced)| InstalledWheel {
                name: plan.name,
                version: plan.version,
                files_linked: counts.linked.load(Ordering::Relaxed),
                files_written: counts.written.load(Ordering::Relaxed),
                mode: counts.mode(fallback),
                replaced: (!replaced.is_empty()).then(|| {
                    replaced
                        .iter()
                        .map(|old| old.version.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            })
            .collect();
        let mut report = InstallReport {
            wheels,
            bytecode: None,
        };
        if let (Some(python), Some(sources)) = (&self.compile_with, sources) {
            match compile::compile(python, &sources) {
                Ok(bytecode) => {
                    tracing::debug!(
                        elapsed = ?started.elapsed(),
                        compiled = bytecode.compiled,
                        failed = bytecode.failed,
                        "install: compiled bytecode"
                    );
                    report.bytecode = Some(bytecode);
                }
                Err(source) => {
                    return Err(InstallError::Bytecode {
                        report: Box::new(report),
                        source,
                    });
                }
            }
        }
        Ok(report)
    }

    /// The absolute paths of the `.py` files the plans installed, each once (a file several
    /// wheels share is listed by each).
    fn python_sources(&self, plans: &[WheelPlan]) -> Vec<PathBuf> {
        let mut sources: Vec<&str> = plans
            .iter()
            .flat_map(|plan| &plan.files)
            .map(|file| file.dest.as_str())
            .filter(|dest| dest.ends_with(".py"))
            .collect();
        sources.sort_unstable();
        sources.dedup();
        sources
            .into_iter()
            .map(|dest| self.layout.root.join(dest))
            .collect()
    }

    /// Checks the plans against each other and against the target: what the install moves,
    /// and for each plan, the installed versions it replaces.
    fn check(
        &self,
        plans: &[WheelPlan],
        by_project: &HashMap<&str, usize>,
    ) -> Result<(MergePlan, Vec<Vec<Installed>>), InstallError> {
        let tree = NewTree::build(plans).map_err(|error| tree_error(plans, error))?;
        let layout = &self.layout;
        let installed = installed::scan(layout)?;
        let mut old_owned = HashSet::new();
        let mut others = Vec::new();
        for old in &installed {
            if by_project.contains_key(old.project.as_str()) {
                old_owned.extend(installed::recorded_paths(layout, old)?);
            } else {
                others.push(old);
            }
        }
        // A file another installed project also lists is not the old version's to remove.
        if !old_owned.is_empty() {
            let shared = installed::listed_by(layout, &others, |path| old_owned.contains(path));
            for (path, owner) in shared {
                tracing::debug!(path, owner, "kept: another installed project lists it too");
                old_owned.remove(&path);
            }
        }
        let merge_plan = merge::plan_merge(layout, &tree, plans, &old_owned, self.overwrite)
            .map_err(|error| self.merge_error(error, plans, &installed, by_project))?;
        // An existing file the new one would replace with the same bytes is shared only with a
        // project that records it; a file nobody records stays a conflict.
        if !merge_plan.kept.is_empty() {
            let kept: HashSet<&str> = merge_plan
                .kept
                .iter()
                .map(|(path, _)| path.as_str())
                .collect();
            let owners = installed::listed_by(layout, &others, |path| kept.contains(path));
            if let Some((path, wheel)) = merge_plan
                .kept
                .iter()
                .find(|(path, _)| !owners.contains_key(path))
            {
                return Err(InstallError::UnrecordedFileExists {
                    wheel: plans[*wheel].wheel.clone(),
                    full_path: layout.root.join(path),
                    path: path.clone(),
                });
            }
        }
        let mut replaced: Vec<Vec<Installed>> = plans.iter().map(|_| Vec::new()).collect();
        for old in installed {
            if let Some(&wheel) = by_project.get(old.project.as_str()) {
                replaced[wheel].push(old);
            }
        }
        Ok((merge_plan, replaced))
    }

    /// Rolls back what installs or uninstalls killed earlier left half done in the target,
    /// with a warning (see [Guarantees and limits](crate#guarantees-and-limits)). The caller
    /// holds the target's lock.
    fn recover(&self) -> Result<(), InstallError> {
        recover_in(&self.layout.root)
    }

    /// An exclusive lock on the target directory itself, so no file is added to the target.
    fn lock(&self) -> Result<File, InstallError> {
        transaction::lock_target(&self.layout.root)
    }

    fn merge_error(
        &self,
        error: MergeError,
        plans: &[WheelPlan],
        installed: &[Installed],
        new_projects: &HashMap<&str, usize>,
    ) -> InstallError {
        match error {
            MergeError::Io { path, source } => InstallError::ReadTarget { path, source },
            MergeError::ReadArchive {
                wheel,
                path,
                source,
            } => InstallError::ReadArchive {
                wheel: plans[wheel].wheel.clone(),
                path,
                source,
            },
            MergeError::Conflict { path, wheel } => {
                let others = installed
                    .iter()
                    .filter(|old| !new_projects.contains_key(old.project.as_str()));
                let wheel = plans[wheel].wheel.clone();
                match installed::find_owner(&self.layout, others, &path) {
                    Some(installed) => InstallError::ConflictsWithInstalled {
                        wheel,
                        path,
                        installed,
                    },
                    None => InstallError::UnrecordedFileExists {
                        wheel,
                        full_path: self.layout.root.join(&path),
                        path,
                    },
                }
            }
        }
    }
}

/// [`Installer::recover`] for the root `root`.
pub(crate) fn recover_in(root: &Path) -> Result<(), InstallError> {
    for recovered in transaction::recover(root)? {
        tracing::warn!(
            staging = %recovered.staging.display(),
            moves_undone = recovered.undone,
            "an earlier install or uninstall into this target was interrupted; rolled it back"
        );
    }
    Ok(())
}

/// Each plan's project → its index; one project twice is an error.
fn index_projects(plans: &[WheelPlan]) -> Result<HashMap<&str, usize>, InstallError> {
    let mut by_project = HashMap::with_capacity(plans.len());
    for (index, plan) in plans.iter().enumerate() {
        if let Some(first) = by_project.insert(plan.project.as_str(), index) {
            return Err(InstallError::DuplicateProject {
                project: plan.project.to_string(),
                first: plans[first].wheel.clone(),
                second: plan.wheel.clone(),
            });
        }
    }
    Ok(by_project)
}

fn tree_error(plans: &[WheelPlan], error: TreeError) -> InstallError {
    let clash = match error {
        TreeError::Clash(clash) => clash,
        TreeError::Read {
            wheel,
            path,
            source,
        } => {
            return InstallError::ReadArchive {
                wheel: plans[wheel].wheel.clone(),
                path,
                source,
            };
        }
    };
    let first = &plans[clash.first];
    if clash.first == clash.second {
        return InstallError::InvalidWheel {
            wheel: first.wheel.clone(),
            path: first.archive.clone(),
            problem: format!(
                "it writes `{}` twice (from its root and its .data directory, or as both a \
                 file and a directory)",
                clash.path
            ),
        };
    }
    InstallError::WheelsConflict {
        path: clash.path,
        first: first.wheel.clone(),
        second: plans[clash.second].wheel.clone(),
    }
}
