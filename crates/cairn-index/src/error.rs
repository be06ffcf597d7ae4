//! Why a project's files or a wheel could not be found. Every error names the project, and the
//! index or directory, and says what the user can do. URLs are kept as text with their
//! credentials hidden ([`RedactedUrl`](cairn_http::RedactedUrl)), which also keeps the
//! error small.

use std::path::PathBuf;

use cairn_http::DownloadError;

/// A failure to list a project's files or to pick a wheel from them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The project name is not a valid Python project name.
    #[error(
        "`{name}` is not a valid project name: names are letters, digits, `-`, `_` and `.`, \
         beginning and ending with a letter or digit"
    )]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// The version asked for is not a PEP 440 version.
    #[error("`{version}` is not a valid version for `{name}`: {reason}")]
    InvalidVersion {
        /// The project.
        name: String,
        /// The version as given.
        version: String,
        /// What the parser said.
        reason: String,
    },
    /// The index has no page for the project.
    #[error(
        "the index {index} has no project `{name}`{}: check the spelling of the name and the \
         index URL",
        searched_dirs(find_links)
    )]
    ProjectNotFound {
        /// The project.
        name: String,
        /// The index.
        index: String,
        /// The find-links directories searched before the index.
        find_links: Vec<PathBuf>,
    },
    /// Offline, and the project's page is not in the cache.
    #[error(
        "the index page of `{name}` ({url}) is not in the cache and offline mode forbids \
         downloading it: run once without --offline to cache it"
    )]
    Offline {
        /// The project.
        name: String,
        /// The page.
        url: String,
    },
    /// Downloading the project's page failed.
    #[error("cannot list the files of `{name}`")]
    Download {
        /// The project.
        name: String,
        /// The HTTP failure.
        #[source]
        source: Box<DownloadError>,
    },
    /// The page arrived but is neither a PEP 691 JSON nor a PEP 503 HTML page cairn can read.
    #[error(
        "the index page {url} of `{name}` cannot be read: {reason}; check that the index URL \
         points at a Simple API (it usually ends in /simple/)"
    )]
    BadPage {
        /// The project.
        name: String,
        /// The page.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Storing or reading the page in the cache failed.
    #[error("cannot {action} the cached index page `{}`", path.display())]
    Cache {
        /// What was being done: `write`, `read`.
        action: &'static str,
        /// The cache file.
        path: PathBuf,
        /// The filesystem error.
        #[source]
        source: std::io::Error,
    },
    /// A find-links directory could not be listed.
    #[error("cannot list the find-links directory `{}`", path.display())]
    FindLinks {
        /// The directory.
        path: PathBuf,
        /// The filesystem error.
        #[source]
        source: std::io::Error,
    },
    /// No file of the project has the version asked for.
    #[error(
        "`{name}` has no version {version} on {index}{}; versions seen: {versions}",
        searched_dirs(find_links)
    )]
    VersionNotFound {
        /// The project.
        name: String,
        /// The version asked for.
        version: String,
        /// The index.
        index: String,
        /// The find-links directories searched too.
        find_links: Vec<PathBuf>,
        /// The versions that exist, newest last, trimmed to a readable length.
        versions: String,
    },
    /// The version exists only as source distributions.
    #[error(
        "`{name}` {version} has no wheel, only source distributions ({sdists}), and building \
         from source is turned off (--no-build, --only-binary): allow builds, or pick a version \
         that publishes wheels"
    )]
    NoWheel {
        /// The project.
        name: String,
        /// The version.
        version: String,
        /// The source distributions seen.
        sdists: String,
    },
    /// Wheels of the version exist but none fits the target.
    #[error(
        "no wheel of `{name}` {version} fits this Python: the wheels are {wheels}; the most \
         preferred tags here are {tags}"
    )]
    NoCompatibleWheel {
        /// The project.
        name: String,
        /// The version.
        version: String,
        /// The wheels seen, trimmed.
        wheels: String,
        /// The tags wanted, trimmed.
        tags: String,
    },
    /// Wheels fit the tags, but declare a `Requires-Python` that excludes the target.
    #[error(
        "`{name}` {version} requires Python {requires_python}, and the target is Python \
         {}.{}: pick another version of `{name}` or another Python",
        python.0, python.1
    )]
    RequiresPython {
        /// The project.
        name: String,
        /// The version.
        version: String,
        /// The `Requires-Python` of the best wheel.
        requires_python: String,
        /// The target Python version.
        python: (u8, u8),
    },
}

fn searched_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = dirs.iter().map(|dir| dir.display().to_string()).collect();
    format!(" (nor has the find-links directory {})", listed.join(", "))
}
