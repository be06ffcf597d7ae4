//! The staging directory and the journal of moves that makes an install all-or-nothing.
//!
//! The staging directory lives inside the target, so every move is a `rename` on one
//! filesystem: `new/` holds the staged files, `backup/` what the install set aside. Each move is
//! journalled after it succeeds; undoing is renaming back in reverse order. Nothing is deleted
//! from the target before the commit: replaced files are only moved into `backup/`, which the
//! commit removes.
//!
//! # Crashes
//!
//! Before the first rename, the whole plan is written to `<staging>/journal` (written to a
//! temporary file, synced, renamed into place): the entries to set aside, in order (the `n`th
//! goes to `backup/<n>`), then those to move in. Nothing else tells a later process what a
//! killed one had done, and nothing else needs to: every staged entry exists in `new/` before
//! the first rename, so an entry missing from `new/` was moved in, and an entry present in
//! `backup/` was set aside. The journal is removed first when the transaction ends (committed,
//! or undone), before anything else of the staging directory, so a staging directory without a
//! journal has nothing in flight and is deleted.
//!
//! [`recover`] runs at the start of every install and uninstall, under the target's exclusive
//! lock (so any staging directory it finds belongs to a process that is gone): it rolls each
//! interrupted transaction back, moving in entries out and set-aside entries back, in reverse
//! order, then deletes its staging directory. The target is then as it was before that install
//! began. A transaction killed after its journal was removed had committed: only its leftovers
//! are deleted.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::error::InstallError;
use super::merge::MergePlan;
use super::walk;

/// The prefix of staging directories in the target; the leading dot keeps them from ever being
/// imported.
pub(crate) const STAGING_PREFIX: &str = ".cairn-install-";

/// The journal's name in the staging directory.
const JOURNAL: &str = "journal";

/// The first line of a journal.
const JOURNAL_HEADER: &str = "cairn-install-journal 1";

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
        if plan.backups.is_empty() && plan.move_ins.is_empty() {
            return Ok(());
        }
        self.write_journal(plan)?;
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

    /// Writes the plan to the journal, durably, before anything moves (see the module docs).
    fn write_journal(&self, plan: &MergePlan) -> Result<(), InstallError> {
        let mut text = String::with_capacity(64 * (plan.backups.len() + plan.move_ins.len()));
        text.push_str(JOURNAL_HEADER);
        text.push('\n');
        for path in &plan.backups {
            text.push_str("aside ");
            text.push_str(path);
            text.push('\n');
        }
        for path in &plan.move_ins {
            text.push_str("in ");
            text.push_str(path);
            text.push('\n');
        }
        let path = self.staging.join(JOURNAL);
        cairn_fs::write_atomic(&path, text.as_bytes()).map_err(|error| InstallError::Target {
            path: error.path,
            action: "write the install's journal in",
            source: error.source,
        })
    }

    /// Removes the journal: from now on the staging directory has nothing in flight.
    fn end_journal(&self) {
        let path = self.staging.join(JOURNAL);
        if let Err(error) = fs::remove_file(&path)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), %error, "cannot remove the install's journal");
        }
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
            self.end_journal();
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
        self.end_journal();
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
                self.end_journal();
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

/// What [`recover`] found and did in one staging directory.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// The staging directory, now removed.
    pub(crate) staging: PathBuf,
    /// Moves undone: entries moved out of the target, then entries moved back in.
    pub(crate) undone: usize,
}

/// Whether `target` holds a staging directory. Under the target's lock, that is one an
/// install or uninstall killed earlier left behind, which [`recover`] rolls back.
pub(crate) fn has_staging(target: &Path) -> bool {
    fs::read_dir(target).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.starts_with(STAGING_PREFIX))
        })
    })
}

/// Rolls back every interrupted transaction in `target` and removes its staging directory (see
/// [Crashes](self#crashes)). The caller holds the target's exclusive lock.
///
/// # Errors
///
/// [`InstallError::Target`] if the target cannot be listed; [`InstallError::Recover`] if a
/// journal is unreadable or a move cannot be undone: that staging directory is then kept.
pub(crate) fn recover(target: &Path) -> Result<Vec<Recovered>, InstallError> {
    let list_error = |source| InstallError::Target {
        path: target.to_path_buf(),
        action: "list",
        source,
    };
    let mut recovered = Vec::new();
    for entry in fs::read_dir(target).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let is_staging = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(STAGING_PREFIX));
        if !is_staging || !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            continue;
        }
        let staging = entry.path();
        let undone = roll_back(target, &staging).map_err(|problem| InstallError::Recover {
            staging: staging.clone(),
            problem,
        })?;
        remove_staging(&staging);
        recovered.push(Recovered { staging, undone });
    }
    Ok(recovered)
}

/// Undoes what the journal in `staging` says may have been done; returns the moves undone.
fn roll_back(target: &Path, staging: &Path) -> Result<usize, String> {
    let journal = staging.join(JOURNAL);
    let text = match fs::read_to_string(&journal) {
        Ok(text) => text,
        // No journal: nothing was in flight.
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(format!("cannot read {}: {error}", journal.display())),
    };
    let mut lines = text.lines();
    if lines.next() != Some(JOURNAL_HEADER) {
        return Err(format!(
            "{} is not a journal this cairn reads",
            journal.display()
        ));
    }
    let (mut aside, mut moved_in) = (Vec::new(), Vec::new());
    for line in lines {
        let checked = |path: &str| {
            super::relpath::normalize(path)
                .map(|path| path.into_owned())
                .map_err(|problem| {
                    format!("{}: `{path}`: {}", journal.display(), problem.describe())
                })
        };
        match line.split_once(' ') {
            Some(("aside", path)) => aside.push(checked(path)?),
            Some(("in", path)) => moved_in.push(checked(path)?),
            _ => return Err(format!("{}: unreadable line `{line}`", journal.display())),
        }
    }
    let exists = |path: &Path| fs::symlink_metadata(path).is_ok();
    let mut undone = 0;
    let mut rename = |from: &Path, to: &Path| {
        fs::rename(from, to).map(|()| undone += 1).map_err(|error| {
            format!(
                "cannot move {} back to {}: {error}",
                from.display(),
                to.display()
            )
        })
    };
    // Moved in: staged entries exist in `new/` until they move.
    for path in moved_in.iter().rev() {
        let (staged, placed) = (staging.join("new").join(path), target.join(path));
        if !exists(&staged) && exists(&placed) {
            if let Some(parent) = staged.parent() {
                fs::create_dir_all(parent).map_err(|error| error.to_string())?;
            }
            rename(&placed, &staged)?;
        }
    }
    // Set aside: `backup/<n>` exists once the `n`th entry moved there.
    for (index, path) in aside.iter().enumerate().rev() {
        let (backup, original) = (
            staging.join("backup").join(index.to_string()),
            target.join(path),
        );
        if exists(&backup) && !exists(&original) {
            rename(&backup, &original)?;
        }
    }
    let _ = fs::remove_file(&journal);
    Ok(undone)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Every file under `root` with its content, staging directories left out.
    fn tree(root: &Path) -> BTreeMap<String, String> {
        let mut found = BTreeMap::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                if relative.starts_with(STAGING_PREFIX) {
                    continue;
                }
                if path.is_dir() {
                    found.insert(format!("{relative}/"), String::new());
                    pending.push(path);
                } else {
                    found.insert(relative, fs::read_to_string(&path).unwrap());
                }
            }
        }
        found
    }

    /// A target with an old version, a transaction with the new one staged, and its plan.
    fn setup(target: &Path) -> (Transaction, MergePlan) {
        fs::create_dir_all(target.join("pkg")).unwrap();
        fs::write(target.join("pkg/old.py"), "old").unwrap();
        fs::write(target.join("pkg/shared.py"), "old shared").unwrap();
        fs::create_dir_all(target.join("bin")).unwrap();
        fs::write(target.join("bin/tool"), "old tool").unwrap();
        fs::write(target.join("bin/mine"), "not a project's").unwrap();
        let transaction = Transaction::begin(target).unwrap();
        let new = transaction.new_root();
        fs::create_dir_all(new.join("pkg")).unwrap();
        fs::write(new.join("pkg/shared.py"), "new shared").unwrap();
        fs::write(new.join("pkg/added.py"), "added").unwrap();
        fs::create_dir_all(new.join("bin")).unwrap();
        fs::write(new.join("bin/tool"), "new tool").unwrap();
        fs::create_dir_all(new.join("newpkg/sub")).unwrap();
        fs::write(new.join("newpkg/sub/m.py"), "m").unwrap();
        let plan = MergePlan {
            backups: vec!["pkg".into(), "bin/tool".into()],
            move_ins: vec!["pkg".into(), "bin/tool".into(), "newpkg".into()],
            ..MergePlan::default()
        };
        (transaction, plan)
    }

    #[test]
    fn a_transaction_killed_after_any_rename_is_rolled_back_by_the_next_install_or_listing() {
        let moves = 5;
        for done in 0..=moves {
            let work = tempfile::tempdir().unwrap();
            let target = work.path().join("target");
            fs::create_dir_all(&target).unwrap();
            let (transaction, plan) = setup(&target);
            let before = tree(&target);
            transaction.write_journal(&plan).unwrap();
            // Make the first `done` renames as `apply` does, then "crash": forget the
            // transaction without running its drop.
            let staging = transaction.staging.clone();
            let mut steps = Vec::new();
            for (index, path) in plan.backups.iter().enumerate() {
                steps.push((
                    target.join(path),
                    staging.join("backup").join(index.to_string()),
                ));
            }
            for path in &plan.move_ins {
                steps.push((staging.join("new").join(path), target.join(path)));
            }
            for (from, to) in steps.iter().take(done) {
                fs::rename(from, to).unwrap();
            }
            std::mem::forget(transaction);
            assert!(staging.is_dir());

            if done % 2 == 0 {
                let recovered = recover(&target).unwrap();
                assert_eq!(recovered.len(), 1, "after {done} renames");
                assert_eq!(recovered[0].undone, done, "after {done} renames");
            } else {
                // Listing the target recovers it too.
                crate::list::list(&target).unwrap();
            }
            assert!(!staging.exists(), "after {done} renames");
            assert_eq!(tree(&target), before, "after {done} renames");
        }
    }

    #[test]
    fn a_committed_or_unjournalled_staging_directory_is_only_removed() {
        let work = tempfile::tempdir().unwrap();
        let target = work.path().join("target");
        fs::create_dir_all(&target).unwrap();
        let (transaction, plan) = setup(&target);
        // Killed before the journal: nothing moved.
        let before = tree(&target);
        let staging = transaction.staging.clone();
        std::mem::forget(transaction);
        let recovered = recover(&target).unwrap();
        assert_eq!(recovered[0].undone, 0);
        assert!(!staging.exists());
        assert_eq!(tree(&target), before);

        // Killed while deleting a committed transaction's staging directory.
        let (mut transaction, _) = {
            fs::remove_dir_all(&target).unwrap();
            fs::create_dir_all(&target).unwrap();
            setup(&target)
        };
        transaction.apply(&plan).unwrap();
        transaction.end_journal();
        let after = tree(&target);
        let staging = transaction.staging.clone();
        transaction.finished = true;
        drop(transaction);
        let recovered = recover(&target).unwrap();
        assert_eq!(recovered[0].undone, 0);
        assert!(!staging.exists());
        assert_eq!(tree(&target), after);
        assert_eq!(after["pkg/shared.py"], "new shared");
    }

    #[test]
    fn a_journal_that_does_not_read_keeps_its_staging_directory() {
        let work = tempfile::tempdir().unwrap();
        let target = work.path().join("target");
        fs::create_dir_all(&target).unwrap();
        let (transaction, _) = setup(&target);
        let staging = transaction.staging.clone();
        fs::write(
            staging.join(JOURNAL),
            "cairn-install-journal 1\naside ../etc\n",
        )
        .unwrap();
        std::mem::forget(transaction);
        let error = recover(&target).unwrap_err();
        assert!(matches!(error, InstallError::Recover { .. }), "{error}");
        assert!(error.to_string().contains(".."), "{error}");
        assert!(staging.is_dir());
    }
}
