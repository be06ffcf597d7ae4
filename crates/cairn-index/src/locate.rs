//! From a pinned requirement to the wheel that satisfies it: where it is and which digests it
//! must match. The step between `requirements` and `fetch`.

use crate::{FoundWheel, IndexClient, IndexError};
use cairn_hash::ExpectedHashes;
use cairn_python::requirements::{Requirement, RequirementsError};
use cairn_python::tags::Tags;
use cairn_types::{SourceError, WheelFilename, WheelSource};

/// A wheel ready to fetch.
#[derive(Debug, Clone)]
pub struct LocatedWheel {
    /// Where it is.
    pub source: WheelSource,
    /// Its file name (project, version, tags).
    pub filename: WheelFilename,
    /// The digests it must match: the requirement's own pins when it has any (pip's
    /// hash-checking mode), else those the index publishes.
    pub expected: ExpectedHashes,
}

/// Why a requirement names no usable wheel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocateError {
    /// A direct path or URL that is not a wheel.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The index or find-links lookup failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Neither `==version` nor a direct reference.
    #[error(
        "`{requirement}` is not pinned: cairn installs `name==version` requirements, wheel paths and wheel URLs"
    )]
    NotPinned {
        /// The requirement as written.
        requirement: String,
    },
    /// A direct path or URL whose tags the target interpreter does not support.
    #[error(
        "`{filename}` (from `{requirement}`) is not compatible with the target interpreter; pick the wheel built for it"
    )]
    Incompatible {
        /// The wheel.
        filename: String,
        /// The requirement as written.
        requirement: String,
    },
}

/// Finds the wheel `requirement` names: a direct path or URL as given, else the best wheel for
/// `tags` through `index` (find-links directories first).
pub async fn locate(
    index: &IndexClient,
    tags: &Tags,
    requirement: &Requirement,
) -> Result<LocatedWheel, LocateError> {
    if let Some(url) = &requirement.url {
        let (source, expected) = WheelSource::parse_pinned(url, &requirement.hashes)?;
        let filename = source.filename()?;
        if !tags.is_compatible(&filename) {
            return Err(LocateError::Incompatible {
                filename: filename.to_string(),
                requirement: requirement.to_string(),
            });
        }
        return Ok(LocatedWheel {
            source,
            filename,
            expected,
        });
    }
    let Some(version) = requirement.version.as_deref() else {
        return Err(LocateError::NotPinned {
            requirement: requirement.to_string(),
        });
    };
    let pinned = requirement.expected_hashes();
    Ok(
        match index.find_wheel(&requirement.name, version, tags).await? {
            FoundWheel::Url {
                url,
                filename,
                hashes,
            } => LocatedWheel {
                source: WheelSource::Url(url),
                filename,
                expected: if pinned.is_empty() {
                    hashes.into_iter().collect()
                } else {
                    pinned
                },
            },
            FoundWheel::Path { path, filename } => LocatedWheel {
                source: WheelSource::Path(path),
                filename,
                expected: pinned,
            },
        },
    )
}

/// Where `requirement`'s wheel is and what it must match, if that is known before the target's
/// tags are: a direct path or URL, or the only wheel of the pinned version in the find-links
/// directories. Fetching it while the interpreter is still being asked saves that wait on a
/// cold cache; [`locate`] still makes the choice, and its answer is the one to install.
pub fn prefetchable(
    index: &IndexClient,
    requirement: &Requirement,
) -> Option<(WheelSource, ExpectedHashes)> {
    if let Some(url) = &requirement.url {
        return WheelSource::parse_pinned(url, &requirement.hashes).ok();
    }
    let path = index.sole_local_wheel(&requirement.name, requirement.version.as_deref()?)?;
    Some((WheelSource::Path(path), requirement.expected_hashes()))
}

/// pip's hash-checking mode across one command: when any requirement carries a hash, every
/// requirement must, wherever it came from (command line or files).
pub fn check_hash_mode(requirements: &[Requirement]) -> Result<(), RequirementsError> {
    let Some(hashed) = requirements.iter().find(|r| !r.hashes.is_empty()) else {
        return Ok(());
    };
    match requirements.iter().find(|r| r.hashes.is_empty()) {
        Some(unhashed) => Err(RequirementsError::MissingHash {
            location: unhashed.source.clone(),
            requirement: unhashed.to_string().into(),
            reason: format!("`{hashed}` at {} has one", hashed.source).into(),
        }),
        None => Ok(()),
    }
}
