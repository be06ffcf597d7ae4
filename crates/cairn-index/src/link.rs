//! Turning a link on an index page into an [`IndexFile`]: resolving it, reading its file name
//! and the digest in its fragment.

use std::str::FromStr;

use percent_encoding::percent_decode_str;
use url::Url;

use super::file::IndexFile;
use cairn_hash::{Digest, HashAlgorithm};

/// The file `href` names, resolved against `base`; `None` if it does not resolve to an
/// http(s) or file URL with a file name.
pub(crate) fn file_at(base: &Url, href: &str) -> Option<IndexFile> {
    let mut url = base.join(href.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return None;
    }
    let hashes = url
        .fragment()
        .and_then(fragment_digest)
        .into_iter()
        .collect();
    url.set_fragment(None);
    let filename = filename_of(&url)?;
    Some(IndexFile::new(filename, url, hashes))
}

/// The last path segment, percent-decoded; `None` for a directory URL.
pub(crate) fn filename_of(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.next_back()?;
    let name = percent_decode_str(segment).decode_utf8().ok()?;
    (!name.is_empty()).then(|| name.into_owned())
}

/// The digest in a `sha256=<hex>` fragment, if it is one cairn can check (`md5` and the like
/// are ignored, as is a malformed digest: the file is then simply unpinned by the index).
fn fragment_digest(fragment: &str) -> Option<Digest> {
    let (name, _) = fragment.split_once('=')?;
    HashAlgorithm::from_str(name).ok()?;
    match Digest::from_str(fragment) {
        Ok(digest) => Some(digest),
        Err(error) => {
            tracing::debug!(%fragment, %error, "ignoring a malformed digest on an index link");
            None
        }
    }
}

/// A published digest from a PEP 691 `hashes` entry, if cairn can check it.
pub(crate) fn published_digest(algorithm: &str, hex: &str) -> Option<Digest> {
    let algorithm = HashAlgorithm::from_str(algorithm).ok()?;
    Digest::from_hex(algorithm, hex).ok()
}
