//! What the caller can tune about the HTTP client.

use std::time::Duration;

/// Settings for an [`HttpClient`](super::HttpClient).
///
/// There is deliberately no timeout on a whole transfer: a large wheel on a slow link may take
/// minutes, and the read timeout already catches a transfer that has stopped. What is bounded is
/// the retrying: one [`RetryBudget`](super::RetryBudget) per request counts every attempt, the
/// client's own retries and a caller's restarts of a broken body alike, and starts none after
/// `retry_window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// How long establishing a connection (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long a request may wait for its response headers (connecting included), and then
    /// for each further piece of the body. `CAIRN_HTTP_TIMEOUT` (seconds), as uv's
    /// `UV_HTTP_TIMEOUT`.
    pub read_timeout: Duration,
    /// How many times a request is tried again after its first attempt, across every layer
    /// (so `retries + 1` attempts in all). `CAIRN_HTTP_RETRIES`, as uv's `UV_HTTP_RETRIES`.
    pub retries: u32,
    /// How long after a request's first attempt began a retry may still start: the time limit
    /// of its retry budget. An attempt under way is never cut short by it.
    /// `CAIRN_HTTP_RETRY_WINDOW` (seconds).
    pub retry_window: Duration,
    /// The delay before the first retry; each further retry doubles it, up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts, also the cap on a server's `Retry-After`.
    pub max_backoff: Duration,
    /// Never touch the network: answer only from the cache.
    pub offline: bool,
    /// The `User-Agent` header sent with every request.
    pub user_agent: String,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retries: 3,
            retry_window: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            offline: false,
            user_agent: concat!("cairn/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// An environment variable that does not hold a value cairn can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}=`{value}` is not valid: expected {expected}; fix or unset it")]
pub struct SettingsError {
    /// The variable, e.g. `CAIRN_HTTP_RETRIES`.
    pub variable: &'static str,
    /// What it held (lossy for non-UTF-8 text).
    pub value: String,
    /// What it must hold.
    pub expected: &'static str,
}

impl ClientSettings {
    /// The attempts in number: `CAIRN_HTTP_RETRIES`.
    pub const RETRIES_VAR: &'static str = "CAIRN_HTTP_RETRIES";
    /// The read timeout in seconds: `CAIRN_HTTP_TIMEOUT`.
    pub const TIMEOUT_VAR: &'static str = "CAIRN_HTTP_TIMEOUT";
    /// The retry window in seconds: `CAIRN_HTTP_RETRY_WINDOW`.
    pub const RETRY_WINDOW_VAR: &'static str = "CAIRN_HTTP_RETRY_WINDOW";

    /// The default settings with what `CAIRN_HTTP_RETRIES`, `CAIRN_HTTP_TIMEOUT` and
    /// `CAIRN_HTTP_RETRY_WINDOW` set in the environment.
    ///
    /// # Errors
    ///
    /// [`SettingsError`] naming the first variable that is set but is not a number in range.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::default().with_overrides(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// These settings with the values `lookup` gives for the variables
    /// [`from_env`](Self::from_env) reads (`None`: not set, keep the setting).
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn with_overrides(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        if let Some(value) = lookup(Self::RETRIES_VAR) {
            self.retries = value.trim().parse().map_err(|_| SettingsError {
                variable: Self::RETRIES_VAR,
                value,
                expected: "a whole number of retries, such as 3 (0 for a single attempt)",
            })?;
        }
        if let Some(value) = lookup(Self::TIMEOUT_VAR) {
            self.read_timeout = seconds(Self::TIMEOUT_VAR, value)?;
        }
        if let Some(value) = lookup(Self::RETRY_WINDOW_VAR) {
            self.retry_window = seconds(Self::RETRY_WINDOW_VAR, value)?;
        }
        Ok(self)
    }
}

/// A positive number of seconds, fractions allowed.
fn seconds(variable: &'static str, value: String) -> Result<Duration, SettingsError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| *seconds > 0.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or(SettingsError {
            variable,
            value,
            expected: "a positive number of seconds, such as 30",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<ClientSettings, SettingsError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ClientSettings::default().with_overrides(|name| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        })
    }

    #[test]
    fn variables_override_the_defaults() {
        let settings = with(&[
            ("CAIRN_HTTP_RETRIES", "0"),
            ("CAIRN_HTTP_TIMEOUT", "2.5"),
            ("CAIRN_HTTP_RETRY_WINDOW", "90"),
        ])
        .unwrap();
        assert_eq!(settings.retries, 0);
        assert_eq!(settings.read_timeout, Duration::from_millis(2500));
        assert_eq!(settings.retry_window, Duration::from_secs(90));
        assert_eq!(with(&[]).unwrap(), ClientSettings::default());
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (variable, value) in [
            ("CAIRN_HTTP_RETRIES", "-1"),
            ("CAIRN_HTTP_RETRIES", "many"),
            ("CAIRN_HTTP_TIMEOUT", "0"),
            ("CAIRN_HTTP_TIMEOUT", "NaN"),
            ("CAIRN_HTTP_RETRY_WINDOW", "1e400"),
        ] {
            let error = with(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
            let message = error.to_string();
            assert!(
                message.contains(variable) && message.contains(value),
                "{message}"
            );
        }
    }
}
