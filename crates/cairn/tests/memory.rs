//! Peak memory of a fetch and an install does not grow with the wheel's size.
//!
//! One test per file on purpose: `getrusage(RUSAGE_CHILDREN)` reports the largest peak of every
//! child this process has waited for, so no other test may run children beside it.
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

mod support;

use cairn_test_support::wheel::write_noise_wheel;

/// What issue #6 allows any fetch or install: 100 MiB.
const PEAK_LIMIT_KIB: i64 = 100 * 1024;

/// The largest resident set (KiB) of any child process waited for so far.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: `getrusage` only writes the struct it is given, which is zeroed and ours.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    }
}

#[test]
fn fetching_and_installing_a_large_wheel_keeps_peak_memory_bounded() {
    let temp = tempfile::tempdir().unwrap();
    let cache = temp.path().join("cache");
    // 240 MiB that do not compress, in one huge file and a few hundred small ones: the wheel
    // file is as large as its content, so mapping or buffering it whole would show.
    let parts: Vec<String> = (0..400).map(|i| format!("bulky/part{i}.py")).collect();
    let mut files: Vec<(&str, u64)> = vec![("bulky/lib.so", 200 << 20)];
    files.extend(parts.iter().map(|part| (part.as_str(), 100 << 10)));
    let wheel = write_noise_wheel(temp.path(), "bulky", "1.0", &files);
    let wheel = wheel.to_str().unwrap();

    support::ok(&cache, &["fetch", wheel]);
    let after_fetch = children_peak_rss_kib();
    assert!(
        after_fetch < PEAK_LIMIT_KIB,
        "a cold fetch of a 240 MiB wheel peaked at {after_fetch} KiB"
    );

    let target = temp.path().join("target");
    support::ok(
        &temp.path().join("cold-cache"),
        &["install", wheel, "--target", target.to_str().unwrap()],
    );
    let after_install = children_peak_rss_kib();
    assert!(
        after_install < PEAK_LIMIT_KIB,
        "a cold install of a 240 MiB wheel peaked at {after_install} KiB"
    );
    assert_eq!(
        std::fs::metadata(target.join("bulky/lib.so"))
            .unwrap()
            .len(),
        200 << 20
    );
}
