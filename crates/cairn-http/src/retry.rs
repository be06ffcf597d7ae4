//! How long to wait before trying a request again.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};

/// Exponential backoff with jitter, capped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based): `initial * 2^(attempt-1)`
    /// capped at `max`, then drawn at random from its upper half so that clients failing
    /// together do not retry together. A server's `Retry-After` raises it, up to `max`.
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling(attempt);
        let jittered = ceiling / 2 + ceiling.mul_f64(random_fraction() / 2.0);
        match retry_after {
            Some(asked) => jittered.max(asked.min(self.max)),
            None => jittered,
        }
    }

    fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }
}

/// A response's `Retry-After`, in seconds or as an HTTP date, as a wait from `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    // A date in the past means "now".
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A number in `[0, 1)`; good enough for jitter, which only needs to differ between processes
/// and calls. `RandomState` is seeded randomly per process and per call.
fn random_fraction() -> f64 {
    let bits = RandomState::new().hash_one(0u8) >> 11;
    // 53 random bits, exactly representable in an f64 mantissa.
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
    };

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_cap() {
        for (attempt, ceiling_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1600),
            (6, 2000),
            (60, 2000),
        ] {
            let ceiling = Duration::from_millis(ceiling_ms);
            for _ in 0..50 {
                let delay = BACKOFF.delay(attempt, None);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "attempt {attempt}: {delay:?}"
                );
            }
        }
    }

    #[test]
    fn jitter_varies() {
        let delays: std::collections::HashSet<_> =
            (0..20).map(|_| BACKOFF.delay(3, None)).collect();
        assert!(delays.len() > 1);
    }

    #[test]
    fn retry_after_raises_the_delay_up_to_the_cap() {
        assert_eq!(
            BACKOFF.delay(1, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            BACKOFF.delay(1, Some(Duration::from_secs(120))),
            Duration::from_secs(2)
        );
        assert!(BACKOFF.delay(1, Some(Duration::ZERO)) <= Duration::from_millis(100));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        headers.insert(header::RETRY_AFTER, later.parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        headers.insert(header::RETRY_AFTER, earlier.parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }
}
