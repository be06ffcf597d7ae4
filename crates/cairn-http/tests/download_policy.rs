//! Cache policies stored as bytes: round trips, and corrupt input refused without panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_test_support::http_server;

use std::time::{Duration, SystemTime};

use cairn_http::{CachePolicy, ClientSettings, Fetched, Freshness, HttpClient, PolicyBytesError};
use http_server::{Response, TestServer};

fn full_policy() -> CachePolicy {
    CachePolicy {
        etag: Some("W/\"abc-123\"".to_owned()),
        last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        stored_at: 1_700_000_123,
        date: Some(1_700_000_100),
        age: 42,
        max_age: Some(600),
        expires: Some(1_700_000_700),
        immutable: false,
        no_cache: false,
        must_revalidate: true,
    }
}

#[test]
fn a_policy_round_trips_through_bytes() {
    for policy in [full_policy(), CachePolicy::default()] {
        let bytes = policy.to_bytes().unwrap();
        assert_eq!(CachePolicy::from_bytes(&bytes).unwrap(), policy);
    }
}

#[test]
fn bytes_at_an_odd_address_still_decode() {
    // Bytes read from disk into a buffer carry no alignment guarantee.
    let bytes = full_policy().to_bytes().unwrap();
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&bytes);
    assert_eq!(
        CachePolicy::from_bytes(&shifted[1..]).unwrap(),
        full_policy()
    );
}

#[test]
fn foreign_bytes_are_refused() {
    for bytes in [&b""[..], b"{\"etag\":null}", b"cairn-http-policy-0\n"] {
        assert!(
            matches!(
                CachePolicy::from_bytes(bytes),
                Err(PolicyBytesError::UnknownFormat)
            ),
            "{bytes:?}"
        );
    }
}

#[test]
fn corrupt_bytes_are_errors_never_panics() {
    let bytes = full_policy().to_bytes().unwrap();
    let tag_len = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;

    // Every truncation of the payload.
    for len in tag_len..bytes.len() {
        let result = CachePolicy::from_bytes(&bytes[..len]);
        assert!(
            matches!(result, Err(PolicyBytesError::Corrupt { .. })),
            "truncated to {len}: {result:?}"
        );
    }

    // Every bit of every payload byte flipped: an error or some policy, never a panic; and
    // flips that break the structure are caught.
    let mut refused = 0;
    for index in tag_len..bytes.len() {
        for bit in 0..8 {
            let mut damaged = bytes.clone();
            damaged[index] ^= 1 << bit;
            if CachePolicy::from_bytes(&damaged).is_err() {
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "no bit flip was detected");

    let mut garbage = bytes[..tag_len].to_vec();
    garbage.extend(std::iter::repeat_n(0xffu8, bytes.len() - tag_len));
    let err = CachePolicy::from_bytes(&garbage).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}

#[test]
fn a_policy_round_trips_through_json() {
    let json = serde_json::to_string(&full_policy()).unwrap();
    let back: CachePolicy = serde_json::from_str(&json).unwrap();
    assert_eq!(back, full_policy());
}

#[tokio::test]
async fn a_policy_from_a_real_response_round_trips_and_stays_fresh() {
    let server = TestServer::start().await;
    server.route(
        "/files/a.whl",
        Response::ok("wheel")
            .etag("sha-1")
            .last_modified(SystemTime::now() - Duration::from_secs(60))
            .cache_control("max-age=365000000, immutable, public"),
    );
    let http = HttpClient::new(ClientSettings::default()).unwrap();
    let url = server.url("/files/a.whl");
    let Fetched::Body(download) = http.get(&url, None).await.unwrap() else {
        panic!("expected a body");
    };
    let policy = download.policy.unwrap();
    assert!(policy.immutable);
    assert!(policy.date.is_some());

    let stored = CachePolicy::from_bytes(&policy.to_bytes().unwrap()).unwrap();
    assert_eq!(stored, policy);
    assert_eq!(stored.freshness(SystemTime::now()), Freshness::Fresh);
    assert!(matches!(
        http.get(&url, Some(&stored)).await.unwrap(),
        Fetched::Fresh
    ));
    assert_eq!(server.hits("/files/a.whl"), 1);
}
