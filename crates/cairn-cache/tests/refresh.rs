//! Refresh policies decide Fresh / Stale / Missing from the entry's age and the package.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use cairn_cache::{Cache, CacheBucket, Refresh, RefreshState};

#[test]
fn state_by_policy_and_timestamp() {
    let cache = Cache::temporary().unwrap();
    let entry = cache.entry(CacheBucket::Simple, "pypi", "numpy.json");
    let before = SystemTime::now() - Duration::from_secs(3600);
    let after = SystemTime::now() + Duration::from_secs(3600);

    for policy in [
        Refresh::None(after),
        Refresh::All(after),
        Refresh::Packages(vec!["numpy".into()], after),
    ] {
        assert_eq!(
            policy.state_of(&entry, Some("numpy")),
            RefreshState::Missing,
            "{policy:?}"
        );
    }
    cairn_fs::write_atomic(entry.path(), b"{}").unwrap();

    assert_eq!(
        Refresh::None(after).state_of(&entry, Some("numpy")),
        RefreshState::Fresh
    );
    // Written before the refresh started: stale.
    assert_eq!(
        Refresh::All(after).state_of(&entry, Some("numpy")),
        RefreshState::Stale
    );
    // Written after the refresh started (by this operation): fresh.
    assert_eq!(
        Refresh::All(before).state_of(&entry, Some("numpy")),
        RefreshState::Fresh
    );

    let only_numpy = Refresh::Packages(vec!["NumPy".into()], after);
    assert_eq!(
        only_numpy.state_of(&entry, Some("numpy")),
        RefreshState::Stale
    );
    assert_eq!(
        only_numpy.state_of(&entry, Some("scipy")),
        RefreshState::Fresh
    );
    assert_eq!(only_numpy.state_of(&entry, None), RefreshState::Fresh);
}

#[test]
fn package_names_match_after_normalisation() {
    let policy = Refresh::Packages(vec!["Typing_Extensions".into()], SystemTime::now());
    assert!(policy.applies_to(Some("typing-extensions")));
    assert!(policy.applies_to(Some("typing.extensions")));
    assert!(!policy.applies_to(Some("typing")));
    assert!(!Refresh::none().applies_to(Some("typing")));
}
