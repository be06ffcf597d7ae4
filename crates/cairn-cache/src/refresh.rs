use std::time::SystemTime;

use cairn_cache_key::normalize_package_name;

use crate::CacheEntry;

/// Which cached entries must be revalidated before use (`--refresh`, `--refresh-package`).
///
/// Each policy carries the time the operation started: an entry written at or after it was
/// refreshed by this very operation and counts as fresh, so nothing is fetched twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// Use every cached entry as is.
    None(SystemTime),
    /// Revalidate every entry older than the timestamp.
    All(SystemTime),
    /// Revalidate the named packages' entries older than the timestamp.
    Packages(Vec<String>, SystemTime),
}

/// What a [`Refresh`] policy (`--refresh`, `--refresh-package`) says about one cache entry,
/// from its modification time and its package alone.
///
/// Not HTTP freshness (`cairn_http::Freshness`), which the stored response's `Cache-Control`
/// decides: an entry the user did not ask to refresh is [`Fresh`](Self::Fresh) here and may
/// still be stale by its HTTP policy. A caller combines the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshState {
    /// The policy does not ask to revalidate it: not covered, or written by this operation.
    Fresh,
    /// Present, but the policy asks to revalidate it.
    Stale,
    /// Not in the cache.
    Missing,
}

impl Refresh {
    /// A policy that refreshes nothing, starting now.
    pub fn none() -> Self {
        Self::None(SystemTime::now())
    }

    /// Whether entries of `package` must be revalidated when older than the timestamp.
    pub fn applies_to(&self, package: Option<&str>) -> bool {
        match self {
            Self::None(_) => false,
            Self::All(_) => true,
            Self::Packages(names, _) => package.is_some_and(|package| {
                names
                    .iter()
                    .any(|name| normalize_package_name(name) == normalize_package_name(package))
            }),
        }
    }

    fn timestamp(&self) -> SystemTime {
        match self {
            Self::None(at) | Self::All(at) | Self::Packages(_, at) => *at,
        }
    }

    /// Decides whether this policy leaves `entry`, belonging to `package`, as it is, asks to
    /// revalidate it, or finds it missing.
    pub fn state_of(&self, entry: &CacheEntry, package: Option<&str>) -> RefreshState {
        let Ok(metadata) = std::fs::metadata(entry.path()) else {
            return RefreshState::Missing;
        };
        if !self.applies_to(package) {
            return RefreshState::Fresh;
        }
        match metadata.modified() {
            Ok(modified) if modified >= self.timestamp() => RefreshState::Fresh,
            _ => RefreshState::Stale,
        }
    }
}
