//! PEP 691 JSON project pages (`application/vnd.pypi.simple.v1+json`).

use std::collections::BTreeMap;

use serde::Deserialize;
use url::Url;

use super::file::{IndexFile, MetadataLink};
use super::link;

/// The `Accept` header of a page request: JSON preferred, HTML understood (PEP 691's
/// recommendation), so that servers without JSON still answer.
pub(crate) const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, \
     application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

#[derive(Deserialize)]
struct Page {
    meta: Meta,
    files: Vec<File>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "api-version")]
    api_version: String,
}

#[derive(Deserialize)]
struct File {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Yanked,
    #[serde(default)]
    size: Option<u64>,
    /// PEP 714's name; `dist-info-metadata` is PEP 658's, which older servers still send.
    /// Read loosely: a value of an unexpected type must not make the whole page unreadable.
    #[serde(rename = "core-metadata", default)]
    core_metadata: Option<serde_json::Value>,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: Option<serde_json::Value>,
}

/// A `core-metadata` value: `true`, `false`, or the digests of the metadata file (a string is
/// read as the HTML attribute is; anything else offers nothing).
fn metadata_link(value: serde_json::Value) -> Option<MetadataLink> {
    match value {
        serde_json::Value::Bool(offered) => offered.then(MetadataLink::default),
        serde_json::Value::Object(hashes) => {
            let hashes: BTreeMap<String, String> = hashes
                .into_iter()
                .filter_map(|(algorithm, hex)| Some((algorithm, hex.as_str()?.to_owned())))
                .collect();
            Some(MetadataLink {
                hashes: published_digests(&hashes),
            })
        }
        serde_json::Value::String(text) => MetadataLink::from_attribute(&text),
        _ => None,
    }
}

/// The digests among `hashes` that cairn can check, without repeats.
fn published_digests(hashes: &BTreeMap<String, String>) -> Vec<cairn_hash::Digest> {
    let mut digests = Vec::new();
    for (algorithm, hex) in hashes {
        if let Some(digest) = link::published_digest(algorithm, hex)
            && !digests.contains(&digest)
        {
            digests.push(digest);
        }
    }
    digests
}

/// `false`, `true`, or the reason as a string.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Yanked {
    #[default]
    No,
    Flag(bool),
    Reason(String),
}

/// The files a JSON page lists; relative URLs resolve against `page_url`.
pub(crate) fn parse(body: &[u8], page_url: &Url) -> Result<Vec<IndexFile>, String> {
    let page: Page = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let major = page.meta.api_version.split('.').next().unwrap_or_default();
    if major != "1" {
        return Err(format!(
            "it uses Simple API version {}, and cairn reads version 1",
            page.meta.api_version
        ));
    }
    let mut files = Vec::with_capacity(page.files.len());
    for file in page.files {
        let Some(mut found) = link::file_at(page_url, &file.url) else {
            tracing::debug!(url = %file.url, "skipping a file whose URL cannot be used");
            continue;
        };
        found.filename = file.filename;
        for (algorithm, hex) in &file.hashes {
            if let Some(digest) = link::published_digest(algorithm, hex)
                && !found.hashes.contains(&digest)
            {
                found.hashes.push(digest);
            }
        }
        found.requires_python = file.requires_python.filter(|text| !text.trim().is_empty());
        found.yanked = match file.yanked {
            Yanked::No | Yanked::Flag(false) => None,
            Yanked::Flag(true) => Some(String::new()),
            Yanked::Reason(reason) => Some(reason),
        };
        found.size = file.size;
        found.core_metadata = file
            .core_metadata
            .or(file.dist_info_metadata)
            .and_then(metadata_link);
        files.push(found);
    }
    Ok(files)
}
