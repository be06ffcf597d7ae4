//! One file listed on a project's index page, and what its name says.

use std::str::FromStr;

use pep440_rs::Version;
use url::Url;

use super::link;
use cairn_hash::Digest;
use cairn_types::{PackageName, WheelFilename};

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
    /// Whether the index serves the file's core metadata on its own (PEP 658 / PEP 714), and
    /// the digests it publishes for it; see [`IndexClient::fetch_metadata`].
    ///
    /// [`IndexClient::fetch_metadata`]: crate::IndexClient::fetch_metadata
    pub core_metadata: Option<MetadataLink>,
    /// What the file name says it is, read once when the page was read.
    pub kind: FileKind,
    /// The version its name carries, when it is a wheel or a source distribution of the
    /// project and the version is a valid PEP 440 version; read once when the page was read.
    pub version: Option<Version>,
}

impl IndexFile {
    /// A file of the index with nothing known beyond its name, URL and digests; the page
    /// parsers fill in the rest.
    pub(crate) fn new(filename: String, url: Url, hashes: Vec<Digest>) -> Self {
        Self {
            filename,
            url,
            hashes,
            requires_python: None,
            yanked: None,
            size: None,
            core_metadata: None,
            kind: FileKind::Other,
            version: None,
        }
    }

    /// Reads [`kind`](Self::kind) and [`version`](Self::version) from the file name, for the
    /// project whose normalised name is `project`.
    pub(crate) fn classify(&mut self, project: &str) {
        let distribution = Distribution::of(&self.filename, project);
        self.version = distribution
            .version()
            .and_then(|text| Version::from_str(text).ok());
        self.kind = match distribution {
            Distribution::Wheel(wheel) => FileKind::Wheel(wheel),
            Distribution::Sdist { .. } => FileKind::Sdist,
            Distribution::Other => FileKind::Other,
        };
    }

    /// The parsed file name, if the file is a wheel of the project.
    pub fn wheel(&self) -> Option<&WheelFilename> {
        match &self.kind {
            FileKind::Wheel(wheel) => Some(wheel),
            FileKind::Sdist | FileKind::Other => None,
        }
    }
}

/// What an index file is, from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A wheel of the project, its name parsed (PEP 427).
    Wheel(WheelFilename),
    /// A source distribution of the project (`.tar.gz`, `.zip`, …).
    Sdist,
    /// Anything else: a name that does not parse, an egg or an installer, or a file of another
    /// project.
    Other,
}

/// The index serves the file's core metadata at `<file URL>.metadata` (PEP 658; PEP 714 names
/// the attribute `data-core-metadata` in HTML and `core-metadata` in JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataLink {
    /// The digests the index publishes for the metadata file (SHA-2 family; others are
    /// dropped). Empty when the index only says `true`.
    pub hashes: Vec<Digest>,
}

impl MetadataLink {
    /// Reads an HTML attribute's value: `true` (or no value) and `<algorithm>=<hex>` offer the
    /// metadata, `false` does not. Any other value offers it without a digest, as pip reads it;
    /// so does a digest cairn cannot check.
    pub(crate) fn from_attribute(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("false") {
            return None;
        }
        let hashes = value
            .split_once('=')
            .and_then(|(algorithm, hex)| link::published_digest(algorithm.trim(), hex.trim()))
            .into_iter()
            .collect();
        Some(Self { hashes })
    }
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
            if PackageName::new(name) == project && !version.is_empty() {
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
