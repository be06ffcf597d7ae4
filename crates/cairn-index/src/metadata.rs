//! [`IndexClient::fetch_metadata`]: a file's core metadata on its own, as the index serves it
//! at `<file URL>.metadata` (PEP 658, PEP 714), verified and parsed, without the wheel.

use tokio::io::AsyncReadExt;
use url::Url;

use super::client::IndexClient;
use super::file::{FileKind, IndexFile};
use cairn_hash::{ExpectedHashes, HashMismatch, HasherSet};
use cairn_http::{DownloadError, Fetched};
use cairn_python::metadata::{CoreMetadata, MetadataError};
use cairn_types::RedactedUrl;

/// The largest metadata file cairn reads. Most are a few kilobytes; the description makes some
/// reach a few megabytes.
const MAX_METADATA_BYTES: u64 = 64 * 1024 * 1024;

/// Why a file's core metadata could not be fetched from the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataFetchError {
    /// The index does not serve the file's metadata on its own.
    #[error(
        "the index offers no metadata file for `{file}` (no PEP 658 `data-core-metadata`): \
         download the file to read its metadata"
    )]
    NotOffered {
        /// The file name.
        file: String,
    },
    /// The file's URL cannot have `.metadata` appended (it has no path).
    #[error("no metadata URL can be made from `{url}`")]
    BadUrl {
        /// The file's URL.
        url: String,
    },
    /// Downloading the metadata failed.
    #[error("cannot download the metadata of `{file}`")]
    Download {
        /// The file name.
        file: String,
        /// The HTTP failure.
        #[source]
        source: Box<DownloadError>,
    },
    /// Reading the metadata (its body, or a local `file:` index's file) failed.
    #[error("cannot read the metadata of `{file}` from {url}")]
    Read {
        /// The file name.
        file: String,
        /// The metadata URL.
        url: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The metadata is larger than cairn reads.
    #[error("the metadata of `{file}` at {url} is larger than {limit} bytes")]
    TooLarge {
        /// The file name.
        file: String,
        /// The metadata URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The metadata does not match the digest the index publishes for it.
    #[error(
        "the metadata of `{file}` does not match the digest the index publishes for it: the \
         index or a proxy serves a wrong file"
    )]
    HashMismatch {
        /// The file name.
        file: String,
        /// The digests compared.
        #[source]
        source: Box<HashMismatch>,
    },
    /// The metadata is not valid core metadata.
    #[error("the metadata of `{file}` served at {url} is invalid")]
    Invalid {
        /// The file name.
        file: String,
        /// The metadata URL.
        url: String,
        /// What is wrong with it.
        #[source]
        source: MetadataError,
    },
    /// The metadata names another project or version than the file's name.
    #[error(
        "the metadata of `{file}` says `{field}: {metadata}`, which disagrees with the file \
         name: the index serves the wrong metadata"
    )]
    Inconsistent {
        /// The file name.
        file: String,
        /// `Name` or `Version`.
        field: &'static str,
        /// What the metadata says.
        metadata: String,
    },
}

impl IndexClient {
    /// The core metadata of `file`, from the `.metadata` file the index serves beside it
    /// (PEP 658), without downloading the file itself.
    ///
    /// Fails with [`MetadataFetchError::NotOffered`] unless the page offered it
    /// ([`IndexFile::core_metadata`]). When the index published digests for it, the bytes must
    /// match them. The metadata's `Name` and `Version` must agree with the file name, as pip
    /// requires. The metadata is not cached; offline, it is not available.
    pub async fn fetch_metadata(
        &self,
        file: &IndexFile,
    ) -> Result<CoreMetadata, MetadataFetchError> {
        let Some(link) = &file.core_metadata else {
            return Err(MetadataFetchError::NotOffered {
                file: file.filename.clone(),
            });
        };
        let url = metadata_url(&file.url).ok_or_else(|| MetadataFetchError::BadUrl {
            url: RedactedUrl::new(&file.url).to_string(),
        })?;
        let bytes = self.metadata_bytes(file, &url).await?;

        let expected: ExpectedHashes = link.hashes.iter().copied().collect();
        if !expected.is_empty() {
            let mut hasher = HasherSet::new(&expected.algorithms());
            hasher.update(&bytes);
            expected
                .verify(&hasher.finalize(), &format!("{}.metadata", file.filename))
                .map_err(|source| MetadataFetchError::HashMismatch {
                    file: file.filename.clone(),
                    source: Box::new(source),
                })?;
        }

        let metadata =
            CoreMetadata::parse(&bytes).map_err(|source| MetadataFetchError::Invalid {
                file: file.filename.clone(),
                url: RedactedUrl::new(&url).to_string(),
                source,
            })?;
        check_consistent(file, &metadata)?;
        Ok(metadata)
    }

    /// The bytes at `url`: read from disk for a `file:` index, else downloaded.
    async fn metadata_bytes(
        &self,
        file: &IndexFile,
        url: &Url,
    ) -> Result<Vec<u8>, MetadataFetchError> {
        let read_error = |source| MetadataFetchError::Read {
            file: file.filename.clone(),
            url: RedactedUrl::new(url).to_string(),
            source,
        };
        let too_large = || MetadataFetchError::TooLarge {
            file: file.filename.clone(),
            url: RedactedUrl::new(url).to_string(),
            limit: MAX_METADATA_BYTES,
        };
        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| MetadataFetchError::BadUrl {
                    url: RedactedUrl::new(url).to_string(),
                })?;
            let file = tokio::fs::File::open(&path).await.map_err(read_error)?;
            let mut bytes = Vec::new();
            file.take(MAX_METADATA_BYTES + 1)
                .read_to_end(&mut bytes)
                .await
                .map_err(read_error)?;
            if bytes.len() as u64 > MAX_METADATA_BYTES {
                return Err(too_large());
            }
            return Ok(bytes);
        }

        let download_error = |source: DownloadError| MetadataFetchError::Download {
            file: file.filename.clone(),
            source: Box::new(source),
        };
        let download = match self.http.get(url, None).await.map_err(download_error)? {
            Fetched::Body(download) => download,
            // Without a cached policy the client always answers with a body (or an error).
            Fetched::Fresh | Fetched::NotModified { .. } => {
                return Err(read_error(std::io::Error::other(
                    "the HTTP client answered from a cache that was not given",
                )));
            }
        };
        let mut bytes = Vec::new();
        download
            .into_async_read()
            .take(MAX_METADATA_BYTES + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|error| {
                let text = error.to_string();
                match error
                    .into_inner()
                    .map(|inner| inner.downcast::<DownloadError>())
                {
                    Some(Ok(download)) => download_error(*download),
                    Some(Err(inner)) => read_error(std::io::Error::other(inner)),
                    None => read_error(std::io::Error::other(text)),
                }
            })?;
        if bytes.len() as u64 > MAX_METADATA_BYTES {
            return Err(too_large());
        }
        Ok(bytes)
    }
}

/// `<file URL>.metadata`: the suffix goes on the path, before any query.
fn metadata_url(file_url: &Url) -> Option<Url> {
    if file_url.cannot_be_a_base() || file_url.path().ends_with('/') {
        return None;
    }
    let mut url = file_url.clone();
    url.set_fragment(None);
    let path = format!("{}.metadata", url.path());
    url.set_path(&path);
    Some(url)
}

/// The metadata must describe the file it was served for: the project and version its name
/// carries, when the name says.
fn check_consistent(file: &IndexFile, metadata: &CoreMetadata) -> Result<(), MetadataFetchError> {
    let inconsistent = |field, found: String| MetadataFetchError::Inconsistent {
        file: file.filename.clone(),
        field,
        metadata: found,
    };
    if let FileKind::Wheel(wheel) = &file.kind
        && wheel.normalized_name() != metadata.name
    {
        return Err(inconsistent("Name", metadata.name.to_string()));
    }
    if let Some(version) = &file.version
        && *version != metadata.version
    {
        return Err(inconsistent("Version", metadata.version.to_string()));
    }
    Ok(())
}
