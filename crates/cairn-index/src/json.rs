//! PEP 691 JSON project pages (`application/vnd.pypi.simple.v1+json`).

use std::collections::BTreeMap;

use serde::Deserialize;
use url::Url;

use super::file::IndexFile;
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
        files.push(found);
    }
    Ok(files)
}
