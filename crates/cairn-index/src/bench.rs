//! Entry points for cairn's criterion benchmarks (`benches/benches/index_pages.rs`): the steps
//! of reading a project page, one at a time. Not a stable API.

use crate::client::parse;
use crate::page_cache::PageEntries;
use crate::{IndexClient, IndexError, IndexFile, project};
use cairn_cache::CacheEntry;
use cairn_http::CachePolicy;

/// Parses a page body (PEP 691 JSON or PEP 503 HTML) of project `name` into its files, each
/// classified: what every read of a cached page cost while the cache kept the body as served.
pub fn parse_page(
    client: &IndexClient,
    name: &str,
    body: &[u8],
) -> Result<Vec<IndexFile>, IndexError> {
    let project = project::normalized(name)?;
    let url = client.project_url(&project)?;
    parse(body, &url, &project)
}

/// Stores `body` as the cached page of project `name` on `client`'s index, in the form
/// [`IndexClient::find_wheel`] reads, with a policy that knows nothing (fresh offline, stale
/// online). Returns the page file.
pub fn store_page(client: &IndexClient, name: &str, body: &[u8]) -> Result<CacheEntry, IndexError> {
    let project = project::normalized(name)?;
    let url = client.project_url(&project)?;
    let files = parse(body, &url, &project)?;
    let entries = PageEntries::new(&client.cache, &client.index_url, &project);
    let bytes = entries.encode(&project, &url, &files)?;
    entries.write(&bytes, &CachePolicy::default())?;
    Ok(entries.page)
}
