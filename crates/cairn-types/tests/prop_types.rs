//! Property tests of the parsers of untrusted text in this crate: wheel file names, wheel
//! sources (paths and URLs, with hash fragments), package names and credential masking.
//!
//! Properties: no input panics; a generated valid input parses to the generated value; what
//! parses writes back to the same text; a refused input is a typed error. `PROPTEST_CASES`
//! raises the number of cases (see `scripts/fuzz-long.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_types::{PackageName, RedactedUrl, WheelFilename, WheelSource, redact_text};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property by default: the whole file runs in well under a second.
const DEFAULT_CASES: u32 = 512;

fn config() -> Config {
    cairn_test_support::prop::config(DEFAULT_CASES, "proptest-regressions/prop_types.txt")
}

/// One dash-free part of a wheel file name, as real wheels write them.
fn part() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.+!]{1,12}"
}

/// A valid wheel file name's parts: name, version, optional build tag, three tag parts.
fn wheel_parts() -> impl Strategy<Value = WheelFilename> {
    (
        "[A-Za-z0-9][A-Za-z0-9_.]{0,15}",
        "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(\\+[a-z0-9.]{1,6})?",
        proptest::option::of("[0-9][A-Za-z0-9_]{0,5}"),
        part(),
        part(),
        part(),
    )
        .prop_map(
            |(name, version, build, python, abi, platform)| WheelFilename {
                name,
                version,
                build,
                python,
                abi,
                platform,
            },
        )
}

/// Text built from the pieces wheel names and URLs are made of, so that random inputs get
/// deep into the parsers rather than failing on their first byte.
fn piecewise() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("-".to_owned()),
        Just(".whl".to_owned()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just("://".to_owned()),
        Just("http".to_owned()),
        Just("https".to_owned()),
        Just("file".to_owned()),
        Just("#".to_owned()),
        Just("sha256=".to_owned()),
        Just("&".to_owned()),
        Just("@".to_owned()),
        Just(":".to_owned()),
        Just("%2B".to_owned()),
        Just("%".to_owned()),
        Just("..".to_owned()),
        Just("\0".to_owned()),
        Just("\n".to_owned()),
        Just("py3-none-any".to_owned()),
        "[0-9a-f]{1,64}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(config())]

    /// Any text: a file name or a typed error, and an accepted name writes back as it was read.
    #[test]
    fn wheel_filename_never_panics_and_round_trips(text in piecewise()) {
        if let Ok(parsed) = text.parse::<WheelFilename>() {
            prop_assert_eq!(parsed.to_string(), text);
        }
    }

    /// A generated valid name: written, then parsed, gives back every part.
    #[test]
    fn generated_wheel_filename_parses_to_its_parts(wheel in wheel_parts()) {
        let text = wheel.to_string();
        let parsed: WheelFilename = text.parse().unwrap();
        prop_assert_eq!(&parsed, &wheel);
        prop_assert_eq!(parsed.tags(), format!("{}-{}-{}", wheel.python, wheel.abi, wheel.platform));
    }

    /// A name with a separator or control character anywhere is refused.
    #[test]
    fn wheel_filename_with_separator_is_refused(
        wheel in wheel_parts(),
        bad in prop_oneof![Just('/'), Just('\\'), Just('\0'), Just('\n'), Just('\u{7f}')],
        at in any::<prop::sample::Index>(),
    ) {
        let mut text = wheel.to_string();
        let stem_len = text.len() - ".whl".len();
        let mut position = at.index(stem_len + 1);
        while !text.is_char_boundary(position) {
            position -= 1;
        }
        text.insert(position, bad);
        let error = text.parse::<WheelFilename>().unwrap_err();
        prop_assert!(error.to_string().contains("not a wheel file name"), "{}", error);
    }

    /// Normalisation is idempotent, `validated` agrees with `new` on what it accepts, and
    /// accepts exactly PEP 508 names.
    #[test]
    fn package_name_normalisation(text in prop_oneof!["[A-Za-z0-9._-]{0,20}", any::<String>()]) {
        let normalized = PackageName::new(&text);
        prop_assert_eq!(PackageName::new(normalized.as_str()), normalized.clone());
        let bytes = text.as_bytes();
        let pep508 = !bytes.is_empty()
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric();
        match PackageName::validated(&text) {
            Ok(name) => {
                prop_assert!(pep508, "accepted {:?}", text);
                prop_assert_eq!(name, normalized);
            }
            Err(error) => {
                prop_assert!(!pep508, "refused {:?}", text);
                prop_assert_eq!(error.name(), text.as_str());
            }
        }
    }

    /// Any text as a wheel location: a source or a typed error, never a panic. An accepted
    /// source names a wheel file.
    #[test]
    fn wheel_source_never_panics(text in piecewise()) {
        if let Ok((source, _)) = WheelSource::parse(&text) {
            prop_assert!(source.filename().is_ok());
        }
    }

    /// A generated URL of a wheel, with credentials and hash fragments: the source is that
    /// URL without its fragment, the file name its last segment (percent-decoded), the
    /// fragment's digests the expected hashes, and nothing shown carries the password.
    #[test]
    fn generated_wheel_url_parses_to_its_parts(
        wheel in wheel_parts(),
        https in any::<bool>(),
        host in "[a-z]{1,8}(\\.[a-z]{2,4})?",
        dirs in proptest::collection::vec("[a-z0-9_]{1,6}", 0..3),
        credentials in proptest::option::of(("[a-z]{1,6}", "[A-Za-z0-9]{6,12}")),
        digests in proptest::collection::vec(any::<[u8; 32]>(), 0..3),
        egg in any::<bool>(),
    ) {
        let scheme = if https { "https" } else { "http" };
        let userinfo = credentials
            .as_ref()
            .map(|(user, password)| format!("{user}:{password}@"))
            .unwrap_or_default();
        let mut path = dirs.iter().map(|dir| format!("/{dir}")).collect::<String>();
        // The `+` of a local version is percent-encoded in URLs.
        path.push('/');
        path.push_str(&wheel.to_string().replace('+', "%2B"));
        let mut fragments: Vec<String> = digests
            .iter()
            .map(|digest| format!("sha256={}", hex(digest)))
            .collect();
        if egg {
            fragments.push("egg=demo".to_owned());
        }
        let mut text = format!("{scheme}://{userinfo}{host}{path}");
        if !fragments.is_empty() {
            text.push('#');
            text.push_str(&fragments.join("&"));
        }

        let (source, expected) = WheelSource::parse(&text).unwrap();
        let WheelSource::Url(url) = &source else {
            panic!("{text} is not a URL source: {source:?}");
        };
        prop_assert_eq!(url.fragment(), None);
        prop_assert_eq!(url.scheme(), scheme);
        prop_assert_eq!(source.filename().unwrap(), wheel);
        let wanted: Vec<cairn_hash::Digest> = digests
            .iter()
            .map(|digest| format!("sha256:{}", hex(digest)).parse().unwrap())
            .collect();
        for digest in &wanted {
            prop_assert!(expected.iter().any(|found| found == digest), "{} missing", digest);
        }
        prop_assert_eq!(expected.iter().count(), {
            let mut unique = wanted.clone();
            unique.sort_by_key(ToString::to_string);
            unique.dedup();
            unique.len()
        });
        if let Some((_, password)) = &credentials {
            prop_assert!(!source.to_string().contains(password.as_str()));
            prop_assert!(!RedactedUrl::new(url).to_string().contains(password.as_str()));
            prop_assert!(!redact_text(&text).contains(password.as_str()));
            let line = format!("x @ {text} ; os_name == 'nt'");
            prop_assert!(!redact_text(&line).contains(password.as_str()));
        }
    }

    /// A malformed digest in the fragment is a typed error that does not show the password.
    #[test]
    fn bad_fragment_hash_is_a_typed_error(
        wheel in wheel_parts(),
        bad in "[g-z]{1,10}|[0-9a-f]{1,63}",
        password in "[A-Za-z0-9]{8,12}",
    ) {
        let text = format!("https://user:{password}@host.example/{wheel}#sha256={bad}");
        match WheelSource::parse(&text) {
            Err(cairn_types::SourceError::FragmentHash { input, .. }) => {
                prop_assert!(!input.contains(password.as_str()), "{}", input);
            }
            other => prop_assert!(false, "expected a FragmentHash error, got {:?}", other),
        }
    }

    /// Masking is idempotent and keeps text without `://` as it is.
    #[test]
    fn redact_text_is_idempotent(text in piecewise()) {
        let once = redact_text(&text);
        prop_assert_eq!(redact_text(&once), once.clone());
        if !text.contains("://") {
            prop_assert_eq!(once, text);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
