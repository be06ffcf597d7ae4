//! Build requirements are ranges (`setuptools>=61`): each is pinned to the newest version on the
//! index that satisfies it and has a wheel for the interpreter (or to the version a
//! `--build-constraint` file pins), recursively through the chosen wheels' `Requires-Dist`.
//! There is no backtracking: a requirement that contradicts an earlier choice is an error that
//! names both, and a constraint resolves it.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr as _;

use cairn_distribution::{FetchedWheel, WheelSource, WheelStore};
use cairn_hash::ExpectedHashes;
use cairn_index::{FileKind, IndexClient};
use cairn_python::metadata::read_dist_info_metadata;
use cairn_python::requirements::MarkerEnvironment;
use cairn_python::tags::Tags;
use cairn_types::{PackageName, WheelFilename};
use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, Requirement, VersionOrUrl};

use crate::error::BuildError;

/// A wheel chosen for a build environment.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The project.
    pub name: PackageName,
    /// The version chosen.
    pub version: Version,
    /// The wheel, fetched into the cache.
    pub wheel: FetchedWheel,
}

/// What a resolution needs: where wheels are found and fetched, and for which interpreter.
pub struct Resolver<'a> {
    /// The index (and find-links directories).
    pub index: &'a IndexClient,
    /// Fetches wheels into the cache.
    pub store: &'a WheelStore,
    /// The interpreter's tags.
    pub tags: &'a Tags,
    /// The interpreter's marker values.
    pub markers: &'a MarkerEnvironment,
    /// The interpreter's full version, for `Requires-Python`.
    pub python: &'a Version,
    /// Versions pinned by `--build-constraint`.
    pub constraints: &'a HashMap<PackageName, Version>,
    /// The package being built, for messages.
    pub package: &'a str,
}

/// Parses one build requirement, refusing what the parser is known to panic on.
pub fn parse_requirement(text: &str) -> Result<Requirement, String> {
    if !text.is_ascii() {
        return Err(format!("`{text}` is not ASCII"));
    }
    Requirement::from_str(text).map_err(|error| format!("`{text}`: {error}"))
}

impl Resolver<'_> {
    fn error(&self, reason: String) -> BuildError {
        BuildError::Resolve {
            package: self.package.to_owned(),
            reason,
        }
    }

    /// Pins `requirements` and everything they require, sorted by name.
    pub async fn resolve(&self, requirements: &[String]) -> Result<Vec<Pinned>, BuildError> {
        let mut pending: Vec<(Requirement, String)> = Vec::new();
        for text in requirements {
            let requirement = parse_requirement(text).map_err(|reason| self.error(reason))?;
            pending.push((requirement, "the build system".to_owned()));
        }
        let mut chosen: BTreeMap<PackageName, (Pinned, String)> = BTreeMap::new();
        while let Some((requirement, wanted_by)) = pending.pop() {
            if !requirement
                .marker
                .evaluate(self.markers.as_pep508(), &[] as &[ExtraName])
            {
                continue;
            }
            let name = PackageName::new(requirement.name.as_ref());
            let specifiers = match &requirement.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers.clone(),
                Some(VersionOrUrl::Url(_)) => {
                    return Err(self.error(format!(
                        "`{requirement}` (wanted by {wanted_by}) is a direct reference, which \
                         build requirements cannot be here"
                    )));
                }
                None => VersionSpecifiers::empty(),
            };
            if let Some((known, by)) = chosen.get(&name) {
                if !specifiers.contains(&known.version) {
                    return Err(self.error(format!(
                        "{wanted_by} requires `{requirement}`, but {by} chose {name} {}",
                        known.version
                    )));
                }
                continue;
            }
            let pinned = self.choose(&name, &specifiers, &requirement).await?;
            let metadata =
                read_dist_info_metadata(pinned.wheel.archive.path(), &pinned.wheel.filename)
                    .map_err(|error| {
                        self.error(format!(
                            "cannot read the metadata of `{}`: {error}",
                            pinned.wheel.filename
                        ))
                    })?;
            let extras: Vec<ExtraName> = requirement.extras.clone();
            for dependency in metadata.requires_dist {
                if dependency
                    .marker
                    .evaluate(self.markers.as_pep508(), &extras)
                {
                    pending.push((dependency, format!("{name} {}", pinned.version)));
                }
            }
            chosen.insert(name, (pinned, wanted_by));
        }
        Ok(chosen.into_values().map(|(pinned, _)| pinned).collect())
    }

    /// The newest wheel of `name` that `specifiers` (and any constraint) admit, fetched.
    async fn choose(
        &self,
        name: &PackageName,
        specifiers: &VersionSpecifiers,
        requirement: &Requirement,
    ) -> Result<Pinned, BuildError> {
        let files = self
            .index
            .files(name.as_ref())
            .await
            .map_err(|source| BuildError::Fetch {
                package: self.package.to_owned(),
                requirement: requirement.to_string(),
                source: Box::new(source),
            })?;
        let constraint = self.constraints.get(name);
        let python_ok = |file: &cairn_index::IndexFile| {
            file.requires_python.as_deref().is_none_or(|text| {
                VersionSpecifiers::from_str(text).map_or(true, |spec| spec.contains(self.python))
            })
        };
        let candidates = files.iter().filter_map(|file| {
            let FileKind::Wheel(filename) = &file.kind else {
                return None;
            };
            let version = file.version.as_ref()?;
            let admitted = specifiers.contains(version)
                && constraint.is_none_or(|pinned| pinned == version)
                && file.yanked.is_none()
                && python_ok(file);
            let priority = self.tags.priority(filename)?;
            admitted.then_some((version, priority, file, filename))
        });
        // The newest version, stable ones first (pre-releases only when nothing else fits),
        // then the wheel whose tags the interpreter prefers.
        let best = candidates.min_by(|a, b| {
            (a.0.any_prerelease(), std::cmp::Reverse(a.0), a.1).cmp(&(
                b.0.any_prerelease(),
                std::cmp::Reverse(b.0),
                b.1,
            ))
        });
        let Some((version, _, file, filename)) = best else {
            return Err(self.error(format!(
                "no wheel of `{requirement}`{} on the index fits this interpreter",
                constraint.map_or_else(String::new, |v| format!(" (constrained to {v})"))
            )));
        };
        let expected: ExpectedHashes = file.hashes.iter().copied().collect();
        let wheel = self
            .store
            .fetch(&WheelSource::Url(file.url.clone()), &expected)
            .await
            .map_err(|source| BuildError::Fetch {
                package: self.package.to_owned(),
                requirement: requirement.to_string(),
                source: Box::new(source),
            })?;
        tracing::debug!(package = self.package, wheel = %filename, "build requirement pinned");
        Ok(Pinned {
            name: name.clone(),
            version: version.clone(),
            wheel: FetchedWheel {
                filename: WheelFilename::clone(filename),
                ..wheel
            },
        })
    }
}
