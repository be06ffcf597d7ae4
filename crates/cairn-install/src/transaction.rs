//! The staging directory and the journal of moves that makes an install all-or-nothing.
//!
//! The staging directory lives inside the target, so every move is a `rename` on one
//! filesystem: `new/` holds the staged files, `backup/` what the install set aside. Each move is
//! journalled after it succeeds; undoing is renaming back in reverse order. Nothing is deleted
//! from the target before the commit: replaced files are only moved into `backup/`, which the
//! commit removes.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::error::InstallError;
use super::merge::MergePlan;
use super::walk;

/// The prefix of staging directories in the target; the leading dot keeps them from ever being
/// imported.
pub(crate) const STAGING_PREFIX: &str = ".cairn-install-";

/// Takes an exclusive lock on the target directory itself (`flock`), held until the returned
/// file is dropped: installs and uninstalls into one target take turns. A filesystem that cannot
/// lock is used unlocked.
pub(crate) fn lock_target(target: &Path) -> Result<File, InstallError> {
    let error = |action| {
        move |source| InstallError::Target {
            path: target.to_path_buf(),
            action,
            source,
        }
    };
    let directory = File::open(target).map_err(error("open"))?;
    match directory.lock() {
        Ok(()) => {}
        Err(lock_error) if lock_error.kind() == io::ErrorKind::Unsupported => {
            tracing::debug!(%lock_error, "the target cannot be locked; working unlocked");
        }
        Err(source) => return Err(error("lock")(source)),
    }
    Ok(directory)
}

/// One move that has been made.
#[derive(Debug)]
enum Move {
    SetAside { original: PathBuf, backup: PathBuf },
    MovedIn { staged: PathBuf, placed: PathBuf },
}

/// An install in progress in `target`.
#[derive(Debug)]
pub(crate) struct Transaction {
    target: PathBuf,
    staging: PathBuf,
    journal: Vec<Move>,
    /// Set once committed, aborted or kept after a failed undo.
    finished: bool,
}

impl Transaction {
    /// Creates an empty staging directory in `target`.
    pub(crate) fn begin(target: &Path) -> Result<Self, InstallError> {
        let target_error = |source| InstallError::Target {
            path: target.to_path_buf(),
            action: "create a staging directory in",
            source,
        };
        let staging = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .tempdir_in(target)
            .map_err(target_error)?;
        for part in ["new", "backup"] {
            // On failure the `TempDir` removes itself.
            fs::create_dir(staging.path().join(part)).map_err(target_error)?;
        }
        // The packages staged side by side are unrelated trees: let ext4 give each its own
        // block group (see `mark_top_of_hierarchies`). Only a hint.
        let _ = cairn_fs::mark_top_of_hierarchies(&staging.path().join("new"));
        let transaction = Self {
            target: target.to_path_buf(),
            staging: staging.keep(),
            journal: Vec::new(),
            finished: false,
        };
        Ok(transaction)
    }

    /// Where the new files are staged, laid out as in the target.
    pub(crate) fn new_root(&self) -> PathBuf {
        self.staging.join("new")
    }

    /// Where set-aside entries wait for the commit, under numbered names.
    fn backup_root(&self) -> PathBuf {
        self.staging.join("backup")
    }

    /// Sets aside `plan.backups` then moves `plan.move_ins` into place. On failure everything
    /// done is undone before the error is returned.
    pub(crate) fn apply(&mut self, plan: &MergePlan) -> Result<(), InstallError> {
        let backup_root = self.backup_root();
        for (index, path) in plan.backups.iter().enumerate() {
            let original = self.target.join(path);
            // Flat numbered names: no directories to create in the backup.
            let backup = backup_root.join(index.to_string());
            self.move_entry(original, backup, |original, backup| Move::SetAside {
                original,
                backup,
            })?;
        }
        let new_root = self.new_root();
        for path in &plan.move_ins {
            let staged = new_root.join(path);
            let placed = self.target.join(path);
            self.move_entry(staged, placed, |staged, placed| Move::MovedIn {
                staged,
                placed,
            })?;
        }
        Ok(())
    }

    fn move_entry(
        &mut self,
        from: PathBuf,
        to: PathBuf,
        record: impl FnOnce(PathBuf, PathBuf) -> Move,
    ) -> Result<(), InstallError> {
        match fs::rename(&from, &to) {
            Ok(()) => {
                self.journal.push(record(from, to));
                Ok(())
            }
            Err(source) => Err(self.undo(InstallError::Commit { from, to, source })),
        }
    }

    /// Reverses every move in the journal and removes the staging directory. Returns `cause`,
    /// or [`InstallError::RollbackFailed`] (keeping the staging directory and its backups) if
    /// some move could not be reversed.
    pub(crate) fn undo(&mut self, cause: InstallError) -> InstallError {
        let failures = self.reverse_journal();
        self.finished = true;
        if failures.is_empty() {
            remove_staging(&self.staging);
            cause
        } else {
            InstallError::RollbackFailed {
                cause: Box::new(cause),
                failures,
                backup: self.staging.clone(),
            }
        }
    }

    fn reverse_journal(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        while let Some(done) = self.journal.pop() {
            let (from, to) = match &done {
                Move::SetAside { original, backup } => (backup, original),
                Move::MovedIn { staged, placed } => (placed, staged),
            };
            if let Err(error) = fs::rename(from, to) {
                failures.push(format!(
                    "{} back to {}: {error}",
                    from.display(),
                    to.display()
                ));
            }
        }
        failures
    }

    /// Makes the install final: removes the directories in `prune` that are now empty (deepest
    /// first), then the staging directory with everything set aside.
    pub(crate) fn commit(mut self, prune: &[String]) {
        self.finished = true;
        for dir in prune {
            let path = self.target.join(dir);
            // Only an empty directory is removed; anything else stays, silently.
            if let Err(error) = fs::remove_dir(&path) {
                tracing::trace!(path = %path.display(), %error, "directory kept");
            }
        }
        remove_staging(&self.staging);
    }
}

impl Drop for Transaction {
    /// A transaction dropped unfinished (a panic on the way) is undone, best effort.
    fn drop(&mut self) {
        if !self.finished {
            let failures = self.reverse_journal();
            if failures.is_empty() {
                remove_staging(&self.staging);
            } else {
                tracing::error!(
                    staging = %self.staging.display(),
                    ?failures,
                    "an interrupted install could not be fully undone"
                );
            }
        }
    }
}

/// Removes the staging directory. Failing leaves a hidden directory that no Python import sees;
/// it is reported, not fatal.
fn remove_staging(staging: &Path) {
    match walk::remove_tree(staging) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(
            path = %staging.display(),
            %error,
            "cannot remove the install's staging directory; delete it by hand"
        ),
    }
}
