//! How long to wait before trying a request again, and how many tries one request gets.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{self, HeaderMap};

use super::settings::ClientSettings;

/// The attempts one request may make, across every layer that retries it: the client's own
/// retries (no connection, no response, `5xx`/`429`) and a caller's restarts of a body that broke
/// off midway. Without one shared budget the layers multiply (4 restarts of 4 attempts each).
///
/// It allows [`ClientSettings::retries`] + 1 attempts, and no new attempt once
/// [`ClientSettings::retry_window`] has passed since the first one began. Make one per request
/// with [`HttpClient::retry_budget`](super::HttpClient::retry_budget), pass it to
/// [`HttpClient::get_with_budget`](super::HttpClient::get_with_budget) for every try, and ask
/// [`RetryBudget::next_delay`] before restarting a broken body.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    max_attempts: u32,
    attempts: u32,
    /// When the first attempt began; the window counts from there, not from when the budget
    /// was made (a request may first wait for a lock).
    started: Option<Instant>,
    window: Duration,
    backoff: Backoff,
}

impl RetryBudget {
    /// A budget for one request under `settings`.
    pub fn new(settings: &ClientSettings) -> Self {
        Self {
            max_attempts: settings.retries.saturating_add(1),
            attempts: 0,
            started: None,
            window: settings.retry_window,
            backoff: Backoff {
                initial: settings.initial_backoff,
                max: settings.max_backoff,
            },
        }
    }

    /// The attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The attempts the budget allows in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Records that an attempt starts now.
    pub(crate) fn start_attempt(&mut self) {
        self.started.get_or_insert_with(Instant::now);
        self.attempts = self.attempts.saturating_add(1);
    }

    /// How long to wait before the next attempt, or `None` when the budget is spent: every
    /// attempt made, or the window over. The wait grows exponentially with the attempts made,
    /// honours `retry_after` up to the backoff cap, and never reaches past the window's end.
    pub fn next_delay(&self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.attempts >= self.max_attempts {
            return None;
        }
        let elapsed = self
            .started
            .map_or(Duration::ZERO, |started| started.elapsed());
        let left = self
            .window
            .checked_sub(elapsed)
            .filter(|left| !left.is_zero())?;
        Some(
            self.backoff
                .delay(self.attempts.max(1), retry_after)
                .min(left),
        )
    }
}

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

    fn budget(retries: u32, window: Duration) -> RetryBudget {
        RetryBudget::new(&ClientSettings {
            retries,
            retry_window: window,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            ..ClientSettings::default()
        })
    }

    #[test]
    fn a_budget_allows_retries_plus_one_attempts() {
        let mut budget = budget(2, Duration::from_secs(60));
        let mut made = 0;
        loop {
            budget.start_attempt();
            made += 1;
            if budget.next_delay(None).is_none() {
                break;
            }
        }
        assert_eq!(made, 3);
        assert_eq!(budget.attempts(), 3);
        let mut single = self::budget(0, Duration::from_secs(60));
        single.start_attempt();
        assert_eq!(single.next_delay(None), None);
    }

    #[test]
    fn no_retry_starts_after_the_window() {
        let mut budget = budget(100, Duration::from_millis(30));
        budget.start_attempt();
        assert!(budget.next_delay(None).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(budget.next_delay(None), None);
        assert_eq!(budget.attempts(), 1);
    }

    #[test]
    fn delays_never_reach_past_the_window() {
        let mut budget = RetryBudget::new(&ClientSettings {
            retries: 5,
            retry_window: Duration::from_millis(200),
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(10),
            ..ClientSettings::default()
        });
        budget.start_attempt();
        let delay = budget.next_delay(Some(Duration::from_secs(10))).unwrap();
        assert!(delay <= Duration::from_millis(200), "{delay:?}");
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
