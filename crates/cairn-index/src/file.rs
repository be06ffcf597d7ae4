//! One file listed on a project's index page, and what its name says.

use url::Url;

use cairn_hash::Digest;
use cairn_types::{WheelFilename, normalize_name};

/// A distribution file listed by the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// The file name (the last segment of the URL, percent-decoded).
    pub filename: String,
    /// Where to download it, absolute, without the `#sha256=` fragment.
    pub url: Url,
    /// The digests the index publishes for it (SHA-2 family; others are dropped).
    pub hashes: Vec<Digest>,
    /// Its `Requires-Python` specifier, e.g. `>=3.9`.
    pub requires_python: Option<String>,
    /// `Some(reason)` if the file is yanked (PEP 592); the reason may be empty.
    pub yanked: Option<String>,
    /// Its size in bytes, if the index says (PEP 700).
    pub size: Option<u64>,
}

/// What a file name says about the distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Distribution {
    /// A wheel.
    Wheel(WheelFilename),
    /// A source distribution of the given version.
    Sdist {
        /// The version, as written.
        version: String,
    },
    /// Something else (an egg, an installer) or a file of another project.
    Other,
}

/// Source distribution extensions, longest first so that `.tar.gz` wins over `.gz`.
const SDIST_EXTENSIONS: [&str; 6] = [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"];

impl Distribution {
    /// Classifies `filename` as a file of the project whose normalised name is `project`.
    pub(crate) fn of(filename: &str, project: &str) -> Self {
        if filename.ends_with(".whl") {
            return match filename.parse::<WheelFilename>() {
                Ok(wheel) if wheel.normalized_name() == project => Self::Wheel(wheel),
                _ => Self::Other,
            };
        }
        let lower = filename.to_ascii_lowercase();
        let Some(stem) = SDIST_EXTENSIONS
            .iter()
            .find(|extension| lower.ends_with(*extension))
            .map(|extension| &filename[..filename.len() - extension.len()])
        else {
            return Self::Other;
        };
        // `name-version`, where the name may itself hold dashes: find the split whose left
        // side is the project.
        for (index, _) in stem.match_indices('-') {
            let (name, version) = (&stem[..index], &stem[index + 1..]);
            if normalize_name(name) == project && !version.is_empty() {
                return Self::Sdist {
                    version: version.to_owned(),
                };
            }
        }
        Self::Other
    }

    /// The version the file name carries, if it is a distribution of the project.
    pub(crate) fn version(&self) -> Option<&str> {
        match self {
            Self::Wheel(wheel) => Some(&wheel.version),
            Self::Sdist { version } => Some(version),
            Self::Other => None,
        }
    }
}
