//! [`IndexClient::find_wheel`]: the best wheel for `name==version`, and the errors that explain
//! why there is none.

use std::cmp::Reverse;
use std::path::PathBuf;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifier, VersionSpecifiers};
use url::Url;

use super::client::IndexClient;
use super::error::IndexError;
use super::file::IndexFile;
use super::{find_links, project};
use cairn_hash::Digest;
use cairn_python::tags::Tags;
use cairn_types::RedactedUrl;
use cairn_types::{PackageName, WheelFilename};

/// How many items an error lists before it says "and N more".
const LISTED: usize = 12;

/// Where the chosen wheel is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundWheel {
    /// On the index.
    Url {
        /// Where to download it (no fragment).
        url: Url,
        /// Its parsed file name.
        filename: WheelFilename,
        /// The digests the index publishes for it, to verify the download against.
        hashes: Vec<Digest>,
    },
    /// In a find-links directory.
    Path {
        /// The wheel file.
        path: PathBuf,
        /// Its parsed file name.
        filename: WheelFilename,
    },
}

impl FoundWheel {
    /// The wheel's file name.
    pub fn filename(&self) -> &WheelFilename {
        match self {
            Self::Url { filename, .. } | Self::Path { filename, .. } => filename,
        }
    }
}

/// The request: a project and an exact version, for a target.
struct Wanted<'a> {
    project: PackageName,
    version_text: &'a str,
    version: VersionSpecifier,
    tags: &'a Tags,
}

impl Wanted<'_> {
    fn matches(&self, version: &str) -> bool {
        Version::from_str(version).is_ok_and(|version| self.version.contains(&version))
    }
}

impl IndexClient {
    /// The best wheel of `name` at version `version` for `tags`.
    ///
    /// The find-links directories are searched first; a compatible wheel there wins without
    /// asking the index. On the index, versions match as PEP 440 says (`2.4.6` is `2.4.6.0`,
    /// and also matches `2.4.6+cpu`); wheels whose `Requires-Python` excludes the target are
    /// passed over; the wheel with the most preferred tag wins, then the highest build tag.
    /// A yanked wheel is chosen only when no other fits, since the version is pinned exactly,
    /// and with a warning that gives the reason.
    pub async fn find_wheel(
        &self,
        name: &str,
        version: &str,
        tags: &Tags,
    ) -> Result<FoundWheel, IndexError> {
        let project = project::normalized(name)?;
        let parsed = Version::from_str(version).map_err(|error| IndexError::InvalidVersion {
            name: name.to_owned(),
            version: version.to_owned(),
            reason: error.to_string(),
        })?;
        let wanted = Wanted {
            project,
            version_text: version,
            version: VersionSpecifier::equals_version(parsed),
            tags,
        };

        let local = find_links::wheels(&self.find_links, &wanted.project)?;
        let best_local = local
            .iter()
            .filter(|(_, wheel)| wanted.matches(&wheel.version))
            .filter_map(|(path, wheel)| Some((tags.priority(wheel)?, path, wheel)))
            .min_by_key(|(priority, _, wheel)| (*priority, Reverse(build_number(wheel))));
        if let Some((_, path, wheel)) = best_local {
            tracing::debug!(path = %path.display(), "wheel found in a find-links directory");
            return Ok(FoundWheel::Path {
                path: path.clone(),
                filename: wheel.clone(),
            });
        }

        // Only the files of the wanted version are read from the page, not the whole page.
        let project = wanted.project.clone();
        self.with_page(&project, |page| {
            let candidates = page.candidates(wanted.version.version());
            self.select(&wanted, &candidates, &local, || page.versions())
        })
        .await?
    }

    /// The only wheel of `name` at version `version` in the find-links directories, whatever
    /// its tags, or `None` when there is none, there are several (the tags must choose), or the
    /// lookup fails (then [`find_wheel`](Self::find_wheel) reports why).
    ///
    /// An install fetches this wheel while it is still asking the interpreter for its tags;
    /// `find_wheel` then decides, and an incompatible wheel fetched this way is only a cache
    /// entry nobody links.
    pub fn sole_local_wheel(&self, name: &str, version: &str) -> Option<PathBuf> {
        if self.find_links.is_empty() {
            return None;
        }
        let project = project::normalized(name).ok()?;
        let version = VersionSpecifier::equals_version(Version::from_str(version).ok()?);
        let local = find_links::wheels(&self.find_links, &project).ok()?;
        let mut matching = local.into_iter().filter(|(_, wheel)| {
            Version::from_str(&wheel.version).is_ok_and(|found| version.contains(&found))
        });
        let (path, _) = matching.next()?;
        matching.next().is_none().then_some(path)
    }

    /// The best of `files` (the page's files that may carry the wanted version) and `local`
    /// (the find-links wheels of the project); `versions` lists every version of the page,
    /// for the error that says the wanted one is missing.
    fn select(
        &self,
        wanted: &Wanted<'_>,
        files: &[IndexFile],
        local: &[(PathBuf, WheelFilename)],
        versions: impl FnOnce() -> Vec<Version>,
    ) -> Result<FoundWheel, IndexError> {
        let matching: Vec<&IndexFile> = files
            .iter()
            .filter(|file| {
                file.version
                    .as_ref()
                    .is_some_and(|version| wanted.version.contains(version))
            })
            .collect();
        let local_matching: Vec<&WheelFilename> = local
            .iter()
            .map(|(_, wheel)| wheel)
            .filter(|wheel| wanted.matches(&wheel.version))
            .collect();
        if matching.is_empty() && local_matching.is_empty() {
            let seen = versions().into_iter().chain(
                local
                    .iter()
                    .filter_map(|(_, wheel)| Version::from_str(&wheel.version).ok()),
            );
            return Err(IndexError::VersionNotFound {
                name: wanted.project.to_string(),
                version: wanted.version_text.to_owned(),
                index: RedactedUrl::new(self.index_url()).to_string(),
                find_links: self.find_links.clone(),
                versions: versions_listing(seen),
            });
        }

        let wheels: Vec<(&IndexFile, &WheelFilename)> = matching
            .iter()
            .filter_map(|file| Some((*file, file.wheel()?)))
            .collect();
        if wheels.is_empty() && local_matching.is_empty() {
            return Err(IndexError::NoWheel {
                name: wanted.project.to_string(),
                version: wanted.version_text.to_owned(),
                sdists: listing(matching.iter().map(|file| file.filename.clone())),
            });
        }

        let compatible: Vec<(usize, &IndexFile, &WheelFilename)> = wheels
            .iter()
            .filter_map(|&(file, wheel)| Some((wanted.tags.priority(wheel)?, file, wheel)))
            .collect();
        if compatible.is_empty() {
            return Err(IndexError::NoCompatibleWheel {
                name: wanted.project.to_string(),
                version: wanted.version_text.to_owned(),
                wheels: listing(
                    wheels
                        .iter()
                        .map(|(_, wheel)| wheel.to_string())
                        .chain(local_matching.iter().map(|wheel| wheel.to_string())),
                ),
                tags: tags_listing(wanted.tags),
            });
        }

        let python = wanted.tags.python_version();
        let runnable: Vec<&(usize, &IndexFile, &WheelFilename)> = compatible
            .iter()
            .filter(|(_, file, _)| requires_python_allows(file, python))
            .collect();
        let Some(&&(_, file, wheel)) = runnable.iter().min_by_key(|(priority, file, wheel)| {
            (
                file.yanked.is_some(),
                *priority,
                Reverse(build_number(wheel)),
            )
        }) else {
            let requires_python = compatible
                .iter()
                .min_by_key(|(priority, ..)| *priority)
                .and_then(|(_, file, _)| file.requires_python.clone())
                .unwrap_or_default();
            return Err(IndexError::RequiresPython {
                name: wanted.project.to_string(),
                version: wanted.version_text.to_owned(),
                requires_python,
                python,
            });
        };
        if let Some(reason) = &file.yanked {
            let reason = if reason.trim().is_empty() {
                "no reason given"
            } else {
                reason.trim()
            };
            tracing::warn!(
                "`{}` {} is yanked ({reason}); using {} because the version is pinned exactly",
                wanted.project,
                wanted.version_text,
                file.filename
            );
        }
        Ok(FoundWheel::Url {
            url: file.url.clone(),
            filename: wheel.clone(),
            hashes: file.hashes.clone(),
        })
    }
}

/// Whether some release of Python `major.minor` satisfies the file's `Requires-Python`.
///
/// The target is known only to the minor version, so `>=3.11.4` admits 3.11 (a later patch
/// release satisfies it) and `<3.11` does not. A specifier that does not parse is ignored, as
/// pip does.
fn requires_python_allows(file: &IndexFile, python: (u8, u8)) -> bool {
    let Some(text) = &file.requires_python else {
        return true;
    };
    let specifiers = match VersionSpecifiers::from_str(text) {
        Ok(specifiers) => specifiers,
        Err(error) => {
            tracing::debug!(file = %file.filename, %error, "ignoring an invalid Requires-Python");
            return true;
        }
    };
    let (major, minor) = (u64::from(python.0), u64::from(python.1));
    [0, u64::from(u16::MAX)]
        .into_iter()
        .any(|patch| specifiers.contains(&Version::new([major, minor, patch])))
}

/// A wheel's build tag as PEP 427 sorts it: its number, then the rest; none sorts first.
fn build_number(wheel: &WheelFilename) -> Option<(u64, String)> {
    let build = wheel.build.as_deref()?;
    let digits = build.len() - build.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let number = build[..digits].parse().unwrap_or(u64::MAX);
    Some((number, build[digits..].to_owned()))
}

/// The first items, then "and N more".
fn listing(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        return "none".to_owned();
    }
    let shown = items.len().min(LISTED);
    let mut text = items[..shown].join(", ");
    if items.len() > shown {
        text.push_str(&format!(" and {} more", items.len() - shown));
    }
    text
}

/// Distinct versions in PEP 440 order, the newest ones shown.
fn versions_listing(versions: impl Iterator<Item = Version>) -> String {
    let mut parsed: Vec<Version> = versions.collect();
    parsed.sort();
    parsed.dedup();
    if parsed.is_empty() {
        return "none".to_owned();
    }
    let hidden = parsed.len().saturating_sub(LISTED);
    let shown: Vec<String> = parsed[hidden..].iter().map(ToString::to_string).collect();
    let mut text = shown.join(", ");
    if hidden > 0 {
        text = format!("{text} (and {hidden} older)");
    }
    text
}

/// The most preferred tags, then how many there are in all.
fn tags_listing(tags: &Tags) -> String {
    let shown: Vec<String> = tags.iter().take(5).map(|tag| tag.to_string()).collect();
    format!("{}, … ({} tags in all)", shown.join(", "), tags.len())
}
