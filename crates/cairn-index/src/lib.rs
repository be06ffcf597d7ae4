//! Finding wheels on a package index: the Simple API (PEP 503 HTML, PEP 691 JSON) and
//! find-links directories.
//!
//! [`IndexClient::files`] lists a project's files, caching each project page in the simple
//! bucket with its HTTP cache policy (see `page_cache.rs` for the layout);
//! [`IndexClient::find_wheel`] picks the best wheel of a pinned version for a set of
//! [`Tags`](cairn_python::tags::Tags), or says precisely why there is none.

mod client;
mod error;
mod file;
mod find_links;
mod html;
mod json;
mod link;
pub mod locate;
mod page_cache;
mod project;
mod select;

pub use client::IndexClient;
pub use error::IndexError;
pub use file::IndexFile;
pub use select::FoundWheel;
