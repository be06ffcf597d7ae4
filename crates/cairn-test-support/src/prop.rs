//! Settings shared by the property tests (`tests/prop_*.rs`).

use proptest::test_runner::{Config, FileFailurePersistence};

/// A proptest configuration running `default_cases` cases per property, or `PROPTEST_CASES`
/// when set (`scripts/fuzz-long.sh` raises it), and keeping failing cases in `regressions` (a
/// path relative to the crate, `proptest-regressions/<test>.txt`), which are replayed first on
/// every run.
pub fn config(default_cases: u32, regressions: &'static str) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..Config::default()
    }
}
