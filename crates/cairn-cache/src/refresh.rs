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

/// The state of a cache entry under a [`Refresh`] policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Usable without revalidation.
    Fresh,
    /// Present, but must be revalidated.
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

    /// Decides whether `entry`, belonging to `package`, is fresh, stale or missing.
    pub fn freshness(&self, entry: &CacheEntry, package: Option<&str>) -> Freshness {
        let Ok(metadata) = std::fs::metadata(entry.path()) else {
            return Freshness::Missing;
        };
        if !self.applies_to(package) {
            return Freshness::Fresh;
        }
        match metadata.modified() {
            Ok(modified) if modified >= self.timestamp() => Freshness::Fresh,
            _ => Freshness::Stale,
        }
    }
}
