use crate::keys::KeyError;
use crate::pack::PackError;

/// Why the remote tier could not be set up or an operation on it failed. Read-through never
/// returns these to a fetch (it warns and falls back); set-up, `push`, `verify` and `prune` do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The remote URL is not one cairn can use.
    #[error(
        "invalid remote `{url}` (--remote, CAIRN_REMOTE): {reason}; expected s3://BUCKET[/PREFIX], \
         file:///DIR or memory://"
    )]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The object store client could not be configured.
    #[error(
        "cannot configure the remote `{url}`; check AWS_ENDPOINT_URL, AWS_REGION and the \
         credentials in the environment or the AWS profile"
    )]
    Configure {
        /// The remote.
        url: String,
        /// The error.
        #[source]
        source: object_store::Error,
    },
    /// A key in the environment is not usable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The remote has no key to read or write with.
    #[error(
        "the remote `{url}` needs CAIRN_REMOTE_TRUSTED_KEYS to read from it or \
         CAIRN_REMOTE_SIGNING_KEY to write to it; generate a key pair with `cairn cache keygen NAME`"
    )]
    NoKeys {
        /// The remote.
        url: String,
    },
    /// Writing needs a signing key.
    #[error(
        "writing to the remote `{url}` needs CAIRN_REMOTE_SIGNING_KEY; generate a key pair with \
         `cairn cache keygen NAME`"
    )]
    NoSigningKey {
        /// The remote.
        url: String,
    },
    /// A request to the object store failed.
    #[error("cannot {action} `{object}` on the remote")]
    Store {
        /// What was being done.
        action: &'static str,
        /// The object.
        object: String,
        /// The error.
        #[source]
        source: object_store::Error,
    },
    /// A request took longer than the remote's timeout.
    #[error(
        "the remote did not answer within {seconds} s while trying to {action} `{object}`; \
         raise CAIRN_REMOTE_TIMEOUT if it is slow but working"
    )]
    Timeout {
        /// What was being done.
        action: &'static str,
        /// The object.
        object: String,
        /// The timeout.
        seconds: u64,
    },
    /// Making or unpacking a pack failed.
    #[error("pack of `{archive}`")]
    Pack {
        /// The archive, or the pack's object name.
        archive: String,
        /// The error.
        #[source]
        source: PackError,
    },
    /// The local cache failed.
    #[error(transparent)]
    Cache(#[from] cairn_cache::CacheError),
    /// An archive's manifest cannot be read, so it cannot be packed.
    #[error(
        "cannot read the manifest of the archive `{archive}`; `cairn cache verify --repair` rebuilds damaged entries"
    )]
    Manifest {
        /// The archive digest.
        archive: String,
    },
    /// A background task failed.
    #[error("internal error in the remote tier: {0}")]
    Task(String),
}
