//! Git sources (`name @ git+https://host/repo.git@rev#subdirectory=dir`), through the system
//! `git`, as uv does.
//!
//! One bare repository per canonical URL (`builds-v0/git/db/<key>`) collects every fetched
//! commit; a checkout per commit (`builds-v0/git/checkouts/<key>/<commit>`) is what builds read.
//! A full commit hash already fetched needs no network; a branch or tag is resolved with one
//! `git ls-remote` per command (no fetch when its commit is already here), and offline from the
//! refs last fetched.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cairn_cache::{Cache, CacheBucket};

use crate::error::BuildError;

/// A parsed `git+` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitReference {
    /// The repository URL without `git+`, revision or fragment (`https://host/repo.git`,
    /// `file:///srv/repo`).
    pub url: String,
    /// The revision asked for: a branch, a tag or a commit; `None` for the default branch.
    pub rev: Option<String>,
    /// The project's directory inside the repository (`#subdirectory=`).
    pub subdirectory: Option<String>,
}

impl GitReference {
    /// Parses `git+<url>[@rev][#subdirectory=dir]`; `None` for anything else. The revision is
    /// what follows the last `@` of the URL's path, so `git+ssh://git@host/repo` has none.
    pub fn parse(reference: &str) -> Option<Self> {
        let rest = reference.strip_prefix("git+")?;
        let (rest, fragment) = match rest.split_once('#') {
            Some((before, fragment)) => (before, Some(fragment)),
            None => (rest, None),
        };
        let (scheme, after) = rest.split_once("://")?;
        if !matches!(scheme, "https" | "http" | "ssh" | "file" | "git") {
            return None;
        }
        let path_start = after.find('/').unwrap_or(after.len());
        let (authority, path) = after.split_at(path_start);
        let (path, rev) = match path.rsplit_once('@') {
            Some((path, rev)) => (path, Some(rev.to_owned())),
            None => (path, None),
        };
        let subdirectory = fragment.and_then(|fragment| {
            fragment
                .split('&')
                .find_map(|part| part.strip_prefix("subdirectory="))
                .map(str::to_owned)
        });
        Some(Self {
            url: format!("{scheme}://{authority}{path}"),
            rev: rev.filter(|rev| !rev.is_empty()),
            subdirectory,
        })
    }
}

/// Whether `rev` is a full commit hash.
fn is_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The repositories and checkouts of one cache.
pub(crate) struct Repositories {
    root: PathBuf,
    offline: bool,
    cache: Cache,
}

impl Repositories {
    pub(crate) fn new(cache: &Cache, offline: bool) -> Self {
        Self {
            root: cache.bucket(CacheBucket::Builds).join("git"),
            offline,
            cache: cache.clone(),
        }
    }

    fn key(url: &str) -> String {
        let canonical = url.trim_end_matches('/').trim_end_matches(".git");
        blake3::hash(canonical.as_bytes()).to_hex()[..32].to_owned()
    }

    fn db(&self, reference: &GitReference) -> PathBuf {
        self.root.join("db").join(Self::key(&reference.url))
    }

    /// The commit `reference` names, fetching it into the repository's database if missing.
    pub(crate) async fn resolve(&self, reference: &GitReference) -> Result<String, BuildError> {
        let (this, reference) = (self.clone_parts(), reference.clone());
        tokio::task::spawn_blocking(move || this.resolve_blocking(&reference))
            .await
            .map_err(|error| BuildError::Git {
                url: String::new(),
                reason: error.to_string(),
            })?
    }

    fn clone_parts(&self) -> Self {
        Self {
            root: self.root.clone(),
            offline: self.offline,
            cache: self.cache.clone(),
        }
    }

    fn resolve_blocking(&self, reference: &GitReference) -> Result<String, BuildError> {
        let db = self.ensure_db(reference)?;
        let _lock = self
            .cache
            .lock(format!("git {}", reference.url).as_str(), None)?;
        let rev = reference.rev.as_deref();
        if let Some(commit) = rev.filter(|rev| is_commit(rev)) {
            let commit = commit.to_ascii_lowercase();
            if !has_commit(&db, &commit) {
                self.fetch(&db, reference)?;
                if !has_commit(&db, &commit) {
                    return Err(BuildError::Git {
                        url: reference.url.clone(),
                        reason: format!("the repository has no commit {commit}"),
                    });
                }
            }
            return Ok(commit);
        }
        if self.offline {
            return local_ref(&db, rev).ok_or_else(|| BuildError::Git {
                url: reference.url.clone(),
                reason: format!(
                    "`{}` was never fetched, and --offline forbids fetching it",
                    rev.unwrap_or("HEAD")
                ),
            });
        }
        let commit = remote_ref(&reference.url, rev)?;
        if !has_commit(&db, &commit) {
            self.fetch(&db, reference)?;
        }
        Ok(commit)
    }

    fn ensure_db(&self, reference: &GitReference) -> Result<PathBuf, BuildError> {
        let db = self.db(reference);
        if db.join("HEAD").is_file() {
            return Ok(db);
        }
        let temp = self.cache.temp_dir()?;
        let init: [&OsStr; 4] = [
            "init".as_ref(),
            "--quiet".as_ref(),
            "--bare".as_ref(),
            temp.path().as_os_str(),
        ];
        git(&init, &reference.url)?;
        if let Some(parent) = db.parent() {
            cairn_fs::create_dir_all(parent).map_err(|source| BuildError::Io {
                action: format!("create `{}`", parent.display()),
                source,
            })?;
        }
        cairn_fs::persist_dir(temp, &db).map_err(cairn_cache::CacheError::from)?;
        Ok(db)
    }

    fn fetch(&self, db: &Path, reference: &GitReference) -> Result<(), BuildError> {
        if self.offline {
            return Err(BuildError::Git {
                url: reference.url.clone(),
                reason: "the commit was never fetched, and --offline forbids fetching it"
                    .to_owned(),
            });
        }
        tracing::debug!(url = %reference.url, "fetching the git repository");
        let fetch: [&OsStr; 9] = [
            "--git-dir".as_ref(),
            db.as_os_str(),
            "fetch".as_ref(),
            "--quiet".as_ref(),
            "--force".as_ref(),
            "--tags".as_ref(),
            reference.url.as_ref(),
            "+refs/heads/*:refs/heads/*".as_ref(),
            "+HEAD:refs/remotes/origin/HEAD".as_ref(),
        ];
        git(&fetch, &reference.url).map(drop)
    }

    /// The checkout of `commit`, made once.
    pub(crate) async fn checkout(
        &self,
        reference: &GitReference,
        commit: &str,
    ) -> Result<PathBuf, BuildError> {
        let (this, reference, commit) = (self.clone_parts(), reference.clone(), commit.to_owned());
        tokio::task::spawn_blocking(move || {
            let dir = this
                .root
                .join("checkouts")
                .join(Self::key(&reference.url))
                .join(&commit);
            if dir.join(".git").exists() {
                return Ok(dir);
            }
            let db = this.db(&reference);
            let temp = this.cache.temp_dir()?;
            let tree = temp.path();
            // `git clone SRC DEST` wants DEST absent or empty: the temp dir is empty.
            let clone: [&OsStr; 6] = [
                "clone".as_ref(),
                "--quiet".as_ref(),
                "--no-checkout".as_ref(),
                "--shared".as_ref(),
                db.as_os_str(),
                tree.as_os_str(),
            ];
            git(&clone, &reference.url)?;
            let checkout: [&OsStr; 6] = [
                "-C".as_ref(),
                tree.as_os_str(),
                "checkout".as_ref(),
                "--quiet".as_ref(),
                "--detach".as_ref(),
                commit.as_ref(),
            ];
            git(&checkout, &reference.url)?;
            if let Some(parent) = dir.parent() {
                cairn_fs::create_dir_all(parent).map_err(|source| BuildError::Io {
                    action: format!("create `{}`", parent.display()),
                    source,
                })?;
            }
            cairn_fs::persist_dir(temp, &dir).map_err(cairn_cache::CacheError::from)?;
            Ok(dir)
        })
        .await
        .map_err(|error| BuildError::Git {
            url: String::new(),
            reason: error.to_string(),
        })?
    }
}

/// Runs `git ARGS`; its stdout, or an error naming the command and what git said.
fn git<S: AsRef<OsStr>>(args: &[S], url: &str) -> Result<String, BuildError> {
    let output = Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BuildError::Io {
            action: "run `git` (is it installed?)".to_owned(),
            source,
        })?;
    if !output.status.success() {
        let shown: Vec<_> = args
            .iter()
            .map(|arg| arg.as_ref().to_string_lossy().into_owned())
            .collect();
        return Err(BuildError::Git {
            url: url.to_owned(),
            reason: format!(
                "`git {}` failed: {}",
                shown.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn has_commit(db: &Path, commit: &str) -> bool {
    Command::new("git")
        .arg("--git-dir")
        .arg(db)
        .args(["cat-file", "-e", &format!("{commit}^{{commit}}")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The commit `rev` (a branch or tag; `None`: the default branch) names in the database.
fn local_ref(db: &Path, rev: Option<&str>) -> Option<String> {
    let candidates: Vec<String> = match rev {
        Some(rev) => vec![
            format!("refs/heads/{rev}^{{commit}}"),
            format!("refs/tags/{rev}^{{commit}}"),
        ],
        None => vec!["refs/remotes/origin/HEAD^{commit}".to_owned()],
    };
    candidates.iter().find_map(|candidate| {
        let args: [&OsStr; 6] = [
            "--git-dir".as_ref(),
            db.as_os_str(),
            "rev-parse".as_ref(),
            "--verify".as_ref(),
            "--quiet".as_ref(),
            candidate.as_ref(),
        ];
        git(&args, "")
            .ok()
            .map(|out| out.trim().to_owned())
            .filter(|commit| is_commit(commit))
    })
}

/// The commit `rev` names on the remote, from one `git ls-remote`.
fn remote_ref(url: &str, rev: Option<&str>) -> Result<String, BuildError> {
    let pattern = rev.unwrap_or("HEAD");
    let out = git(&["ls-remote", url, pattern], url)?;
    let lines: Vec<(&str, &str)> = out
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .collect();
    let wanted = |name: &str| {
        lines
            .iter()
            .find(|(_, r)| *r == name)
            .map(|(c, _)| c.to_string())
    };
    let found = match rev {
        None => wanted("HEAD"),
        Some(rev) => wanted(&format!("refs/tags/{rev}^{{}}"))
            .or_else(|| wanted(&format!("refs/tags/{rev}")))
            .or_else(|| wanted(&format!("refs/heads/{rev}"))),
    };
    found.ok_or_else(|| BuildError::Git {
        url: url.to_owned(),
        reason: format!(
            "no branch or tag `{pattern}` (a commit must be given in full, 40 hex digits)"
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn git_references_parse() {
        let full =
            GitReference::parse("git+https://github.com/o/r.git@v1.2#egg=r&subdirectory=python")
                .unwrap();
        assert_eq!(full.url, "https://github.com/o/r.git");
        assert_eq!(full.rev.as_deref(), Some("v1.2"));
        assert_eq!(full.subdirectory.as_deref(), Some("python"));
        let ssh = GitReference::parse("git+ssh://git@github.com/o/r.git").unwrap();
        assert_eq!(
            (ssh.url.as_str(), ssh.rev),
            ("ssh://git@github.com/o/r.git", None)
        );
        let file = GitReference::parse("git+file:///srv/repo@main").unwrap();
        assert_eq!(
            (file.url.as_str(), file.rev.as_deref()),
            ("file:///srv/repo", Some("main"))
        );
        assert!(GitReference::parse("https://github.com/o/r.git").is_none());
        assert!(GitReference::parse("git+ftp://h/r").is_none());
        assert!(is_commit(&"a".repeat(40)) && !is_commit("main"));
    }
}
