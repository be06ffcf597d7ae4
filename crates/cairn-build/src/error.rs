/// Why a source distribution could not be built. The cache and the install target are left as
/// they were.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Reading or writing a file failed.
    #[error("cannot {action}")]
    Io {
        /// What was being done.
        action: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The sdist holds something no source distribution needs: it is not unpacked.
    #[error("the source distribution `{sdist}` was refused: {reason}")]
    UnsafeSdist {
        /// The sdist.
        sdist: String,
        /// What is wrong.
        reason: String,
    },
    /// `pyproject.toml` cannot be read.
    #[error("invalid `{path}`: {reason}")]
    Pyproject {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A build requirement cannot be satisfied.
    #[error(
        "cannot set up the build environment of `{package}`: {reason}; pin build requirements \
         with --build-constraint FILE"
    )]
    Resolve {
        /// The package being built.
        package: String,
        /// What failed.
        reason: String,
    },
    /// Fetching a build requirement failed.
    #[error("cannot fetch the build requirement `{requirement}` of `{package}`")]
    Fetch {
        /// The package being built.
        package: String,
        /// The requirement.
        requirement: String,
        /// The error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The interpreter could not make the build environment.
    #[error("cannot create the build environment of `{package}` with `{python}`: {detail}")]
    Venv {
        /// The package being built.
        package: String,
        /// The interpreter.
        python: String,
        /// What it said.
        detail: String,
    },
    /// A backend hook failed.
    #[error(
        "building `{package}` failed: the backend `{backend}` failed in `{hook}` (exit status \
         {status}); its last lines:\n{tail}"
    )]
    Hook {
        /// The package being built.
        package: String,
        /// The backend.
        backend: String,
        /// The hook.
        hook: &'static str,
        /// The exit status.
        status: String,
        /// The end of its output.
        tail: String,
    },
    /// The backend reported a wheel that is not there, or not a wheel of the package.
    #[error("building `{package}` produced no usable wheel: {reason}")]
    NoWheel {
        /// The package being built.
        package: String,
        /// What is wrong.
        reason: String,
    },
    /// A git source could not be fetched or checked out.
    #[error("cannot use the git repository `{url}`: {reason}")]
    Git {
        /// The repository.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] cairn_cache::CacheError),
}
