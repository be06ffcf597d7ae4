//! What cairn remembers about a response to decide later whether it is still fresh and how to
//! revalidate it: the subset of RFC 9111 that a private cache of immutable-ish files needs.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap, HeaderValue};

use super::error::{PolicyBytesError, PolicyCodecError};

/// Leads the bytes of [`CachePolicy::to_bytes`], so that a file of another kind, or a policy
/// written by a version of cairn with a different layout, is refused rather than misread.
const FORMAT_TAG: &[u8] = b"cairn-http-policy-1\n";

/// The caching facts of one response, stored beside the cached body.
///
/// Times are Unix seconds. The fields are the response headers that matter for freshness and
/// revalidation; a `Default` policy knows nothing and is always stale.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct CachePolicy {
    /// The `ETag`, sent back as `If-None-Match` to revalidate.
    pub etag: Option<String>,
    /// The `Last-Modified` date as the server wrote it, sent back verbatim as
    /// `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// When the response was received, by the local clock.
    pub stored_at: u64,
    /// The response's `Date`, by the server's clock; only compared with `expires`, which is by
    /// the same clock.
    pub date: Option<u64>,
    /// The `Age` header: seconds the response had already spent in caches upstream.
    pub age: u64,
    /// `Cache-Control: max-age`, in seconds; wins over `expires`.
    pub max_age: Option<u64>,
    /// `Expires`; a date that does not parse is stored as 0, already expired, as RFC 9111 asks.
    pub expires: Option<u64>,
    /// `Cache-Control: immutable`: the body at this URL never changes (PyPI's files), so the
    /// entry stays fresh however old it is.
    pub immutable: bool,
    /// `Cache-Control: no-cache` (or `Pragma: no-cache`): revalidate before every use.
    pub no_cache: bool,
    /// `Cache-Control: must-revalidate`: once stale, the entry must not be used without
    /// revalidating, even when the server is unreachable.
    pub must_revalidate: bool,
}

/// Whether a cached response may be used without asking the server, by its HTTP caching
/// headers (RFC 9111). What a `--refresh` policy says about an entry is another question,
/// answered by `cairn_cache::RefreshState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Use it as it is.
    Fresh,
    /// Revalidate it first.
    Stale,
}

impl CachePolicy {
    /// Whether the cached response may be used at `now` without contacting the server.
    ///
    /// A response without `max-age`, `Expires` or `immutable` is stale at once: revalidating is
    /// cheap, and guessing a lifetime from `Last-Modified` is how caches serve outdated indexes.
    pub fn freshness(&self, now: SystemTime) -> Freshness {
        if self.no_cache {
            return Freshness::Stale;
        }
        if self.immutable {
            return Freshness::Fresh;
        }
        match self.freshness_lifetime() {
            Some(lifetime) if lifetime > self.current_age(unix_secs(now)) => Freshness::Fresh,
            _ => Freshness::Stale,
        }
    }

    /// Whether the server can be asked if the cached response changed (it has an `ETag` or a
    /// `Last-Modified` date); without either, a stale entry can only be downloaded again.
    pub fn can_revalidate(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }

    /// The policy as bytes to store beside the cache entry, read back by
    /// [`CachePolicy::from_bytes`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, PolicyBytesError> {
        let archived = rkyv::to_bytes::<rkyv::rancor::Error>(self).map_err(|err| {
            PolicyBytesError::Encode {
                source: PolicyCodecError::new(err),
            }
        })?;
        let mut bytes = Vec::with_capacity(FORMAT_TAG.len() + archived.len());
        bytes.extend_from_slice(FORMAT_TAG);
        bytes.extend_from_slice(&archived);
        Ok(bytes)
    }

    /// Reads a policy written by [`CachePolicy::to_bytes`], validating every byte: corrupt or
    /// foreign input is an error, never a panic or a garbage policy.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PolicyBytesError> {
        let payload = bytes
            .strip_prefix(FORMAT_TAG)
            .ok_or(PolicyBytesError::UnknownFormat)?;
        // rkyv reads in place and needs its buffer aligned; a slice read from a file is not.
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(payload.len());
        aligned.extend_from_slice(payload);
        rkyv::from_bytes::<Self, rkyv::rancor::Error>(&aligned).map_err(|err| {
            PolicyBytesError::Corrupt {
                source: PolicyCodecError::new(err),
            }
        })
    }

    /// The policy of a response received at `received_at`, or `None` if it must not be stored
    /// (`Cache-Control: no-store`).
    pub(crate) fn from_response(headers: &HeaderMap, received_at: SystemTime) -> Option<Self> {
        let directives = CacheControl::parse(headers);
        if directives.no_store {
            return None;
        }
        let pragma_no_cache = !directives.present
            && header_text(headers, &header::PRAGMA)
                .is_some_and(|pragma| has_token(pragma, "no-cache"));
        Some(Self {
            etag: header_text(headers, &header::ETAG).map(str::to_owned),
            last_modified: header_text(headers, &header::LAST_MODIFIED).map(str::to_owned),
            stored_at: unix_secs(received_at),
            date: header_date(headers, &header::DATE),
            age: header_age(headers),
            max_age: directives.max_age,
            expires: header_expires(headers),
            immutable: directives.immutable,
            no_cache: directives.no_cache || pragma_no_cache,
            must_revalidate: directives.must_revalidate,
        })
    }

    /// This policy updated by a `304 Not Modified` received at `received_at`: the headers the
    /// 304 carries replace the stored ones, the others are kept (RFC 9111, 4.3.4).
    pub(crate) fn refreshed(&self, headers: &HeaderMap, received_at: SystemTime) -> Self {
        let mut policy = self.clone();
        if let Some(etag) = header_text(headers, &header::ETAG) {
            policy.etag = Some(etag.to_owned());
        }
        if let Some(last_modified) = header_text(headers, &header::LAST_MODIFIED) {
            policy.last_modified = Some(last_modified.to_owned());
        }
        policy.stored_at = unix_secs(received_at);
        policy.date = header_date(headers, &header::DATE);
        policy.age = header_age(headers);
        if let Some(expires) = header_expires(headers) {
            policy.expires = Some(expires);
        }
        let directives = CacheControl::parse(headers);
        if directives.present {
            policy.max_age = directives.max_age;
            policy.immutable = directives.immutable;
            // A 304 cannot take the body back; `no-store` on it can only mean "ask every time".
            policy.no_cache = directives.no_cache || directives.no_store;
            policy.must_revalidate = directives.must_revalidate;
        }
        policy
    }

    /// The headers that make a GET conditional on the cached response having changed.
    pub(crate) fn conditional_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        // Both came from header values, so they only fail to convert if the stored policy was
        // edited; then the request is simply unconditional.
        if let Some(value) = self.etag.as_deref().and_then(header_value) {
            headers.insert(header::IF_NONE_MATCH, value);
        }
        if let Some(value) = self.last_modified.as_deref().and_then(header_value) {
            headers.insert(header::IF_MODIFIED_SINCE, value);
        }
        headers
    }

    /// How long the response is fresh after its origin produced it, if the server said.
    fn freshness_lifetime(&self) -> Option<u64> {
        if let Some(max_age) = self.max_age {
            return Some(max_age);
        }
        let expires = self.expires?;
        // Both dates by the server's clock, so local clock skew does not matter.
        Some(expires.saturating_sub(self.date.unwrap_or(self.stored_at)))
    }

    /// How old the response is at `now`: the `Age` it arrived with plus the time spent here.
    ///
    /// RFC 9111 also counts the gap between the server's `Date` and the local arrival time,
    /// which turns any clock skew into age: a server an hour behind would make every index
    /// page stale. Caches on the way (PyPI's CDN) report their holding time in `Age`, so only
    /// durations measured on a single clock are added here.
    fn current_age(&self, now: u64) -> u64 {
        self.age.saturating_add(now.saturating_sub(self.stored_at))
    }
}

/// The `Cache-Control` directives a private cache acts on.
#[derive(Debug, Default)]
struct CacheControl {
    /// Whether the response had any `Cache-Control` header at all.
    present: bool,
    max_age: Option<u64>,
    no_store: bool,
    no_cache: bool,
    must_revalidate: bool,
    immutable: bool,
}

impl CacheControl {
    fn parse(headers: &HeaderMap) -> Self {
        let mut directives = Self::default();
        for value in headers.get_all(header::CACHE_CONTROL) {
            directives.present = true;
            // A header that is not visible ASCII is malformed; none of its directives count.
            let Ok(text) = value.to_str() else { continue };
            // A quoted argument may contain commas (`no-cache="a, b"`); the stray pieces this
            // split produces name no directive and are ignored.
            for directive in text.split(',') {
                let (name, argument) = match directive.split_once('=') {
                    Some((name, argument)) => {
                        (name.trim(), Some(argument.trim().trim_matches('"')))
                    }
                    None => (directive.trim(), None),
                };
                if name.eq_ignore_ascii_case("max-age") {
                    let seconds = argument.map_or(0, parse_delta_seconds);
                    // Conflicting values: the shortest lifetime is the safe one.
                    directives.max_age = Some(
                        directives
                            .max_age
                            .map_or(seconds, |known| known.min(seconds)),
                    );
                } else if name.eq_ignore_ascii_case("no-store") {
                    directives.no_store = true;
                } else if name.eq_ignore_ascii_case("no-cache") {
                    directives.no_cache = true;
                } else if name.eq_ignore_ascii_case("must-revalidate") {
                    directives.must_revalidate = true;
                } else if name.eq_ignore_ascii_case("immutable") {
                    directives.immutable = true;
                }
            }
        }
        directives
    }
}

/// Parses delta-seconds; an invalid value means "stale at once" (RFC 9111, 1.2.2), a huge one
/// saturates.
fn parse_delta_seconds(text: &str) -> u64 {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    text.parse().unwrap_or(u64::MAX)
}

fn has_token(list: &str, token: &str) -> bool {
    list.split(',')
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// The first value of `name` as trimmed text, if it is non-empty visible ASCII.
fn header_text<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    let text = headers.get(name)?.to_str().ok()?.trim();
    (!text.is_empty()).then_some(text)
}

fn header_date(headers: &HeaderMap, name: &header::HeaderName) -> Option<u64> {
    let text = header_text(headers, name)?;
    httpdate::parse_http_date(text).ok().map(unix_secs)
}

fn header_expires(headers: &HeaderMap) -> Option<u64> {
    header_text(headers, &header::EXPIRES)?;
    Some(header_date(headers, &header::EXPIRES).unwrap_or(0))
}

fn header_age(headers: &HeaderMap) -> u64 {
    header_text(headers, &header::AGE).map_or(0, parse_delta_seconds)
}

fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

pub(crate) fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since_epoch| since_epoch.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const T0: u64 = 1_700_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn date(secs: u64) -> String {
        httpdate::fmt_http_date(at(secs))
    }

    fn policy(pairs: &[(&'static str, &str)]) -> CachePolicy {
        CachePolicy::from_response(&headers(pairs), at(T0)).unwrap()
    }

    #[test]
    fn max_age_is_fresh_until_it_elapses() {
        let p = policy(&[("cache-control", "public, max-age=600")]);
        assert_eq!(p.max_age, Some(600));
        assert_eq!(p.freshness(at(T0 + 599)), Freshness::Fresh);
        assert_eq!(p.freshness(at(T0 + 600)), Freshness::Stale);
    }

    #[test]
    fn age_header_and_late_arrival_count_against_max_age() {
        let p = policy(&[("cache-control", "max-age=600"), ("age", "500")]);
        assert_eq!(p.freshness(at(T0 + 99)), Freshness::Fresh);
        assert_eq!(p.freshness(at(T0 + 100)), Freshness::Stale);
    }

    #[test]
    fn a_skewed_server_clock_does_not_age_the_response() {
        let behind = policy(&[("cache-control", "max-age=600"), ("date", &date(T0 - 3600))]);
        assert_eq!(behind.freshness(at(T0 + 599)), Freshness::Fresh);
        assert_eq!(behind.freshness(at(T0 + 600)), Freshness::Stale);
        // A local clock set back after storing cannot make the entry younger than stored.
        assert_eq!(behind.freshness(at(T0 - 10_000)), Freshness::Fresh);
    }

    #[test]
    fn expires_counts_from_the_server_date() {
        // The server's clock is an hour behind ours; only its own dates are compared.
        let p = policy(&[
            ("date", &date(T0 - 3600)),
            ("expires", &date(T0 - 3600 + 60)),
        ]);
        assert_eq!(p.freshness(at(T0 + 59)), Freshness::Fresh);
        assert_eq!(p.freshness(at(T0 + 60)), Freshness::Stale);
    }

    #[test]
    fn max_age_wins_over_expires() {
        let p = policy(&[
            ("cache-control", "max-age=10"),
            ("expires", &date(T0 + 9999)),
        ]);
        assert_eq!(p.freshness(at(T0 + 10)), Freshness::Stale);
    }

    #[test]
    fn invalid_expires_and_max_age_are_stale() {
        assert_eq!(
            policy(&[("expires", "0")]).freshness(at(T0)),
            Freshness::Stale
        );
        assert_eq!(
            policy(&[("cache-control", "max-age=soon")]).freshness(at(T0)),
            Freshness::Stale
        );
    }

    #[test]
    fn no_lifetime_is_stale_at_once() {
        let p = policy(&[
            ("etag", "\"a\""),
            ("last-modified", &date(T0 - 86_400 * 365)),
        ]);
        assert_eq!(p.freshness(at(T0)), Freshness::Stale);
        assert!(p.can_revalidate());
    }

    #[test]
    fn immutable_is_fresh_forever_unless_no_cache() {
        let p = policy(&[("cache-control", "max-age=365000000, immutable")]);
        assert_eq!(p.freshness(at(T0 + 100 * 365 * 86_400)), Freshness::Fresh);
        let q = policy(&[
            ("cache-control", "immutable"),
            ("cache-control", "no-cache"),
        ]);
        assert_eq!(q.freshness(at(T0)), Freshness::Stale);
    }

    #[test]
    fn no_store_is_not_stored_and_pragma_means_no_cache() {
        assert!(
            CachePolicy::from_response(&headers(&[("cache-control", "No-Store")]), at(T0))
                .is_none()
        );
        let p = policy(&[("pragma", "no-cache"), ("expires", &date(T0 + 100))]);
        assert!(p.no_cache);
        assert_eq!(p.freshness(at(T0)), Freshness::Stale);
        let q = policy(&[("pragma", "no-cache"), ("cache-control", "max-age=100")]);
        assert!(!q.no_cache, "Cache-Control takes precedence over Pragma");
    }

    #[test]
    fn conflicting_max_ages_take_the_shortest_and_quotes_are_accepted() {
        let p = policy(&[("cache-control", "max-age=\"300\", max-age=100")]);
        assert_eq!(p.max_age, Some(100));
        let huge = policy(&[("cache-control", "max-age=99999999999999999999999")]);
        assert_eq!(huge.max_age, Some(u64::MAX));
    }

    #[test]
    fn a_304_refreshes_what_it_carries_and_keeps_the_rest() {
        let stored = policy(&[
            ("etag", "\"v1\""),
            ("last-modified", "Tue, 01 Jan 2030 00:00:00 GMT"),
            ("cache-control", "max-age=60, must-revalidate"),
        ]);
        let refreshed = stored.refreshed(&headers(&[("etag", "\"v1\"")]), at(T0 + 1000));
        assert_eq!(refreshed.stored_at, T0 + 1000);
        assert_eq!(refreshed.max_age, Some(60));
        assert!(refreshed.must_revalidate);
        assert_eq!(refreshed.last_modified, stored.last_modified);
        assert_eq!(refreshed.freshness(at(T0 + 1059)), Freshness::Fresh);

        let changed = stored.refreshed(&headers(&[("cache-control", "no-store")]), at(T0));
        assert!(changed.no_cache);
        assert_eq!(changed.max_age, None);
    }

    #[test]
    fn conditional_headers_echo_the_validators() {
        let p = policy(&[
            ("etag", "W/\"x\""),
            ("last-modified", "Tue, 01 Jan 2030 00:00:00 GMT"),
        ]);
        let h = p.conditional_headers();
        assert_eq!(h[header::IF_NONE_MATCH], "W/\"x\"");
        assert_eq!(
            h[header::IF_MODIFIED_SINCE],
            "Tue, 01 Jan 2030 00:00:00 GMT"
        );
        assert!(CachePolicy::default().conditional_headers().is_empty());
    }
}
