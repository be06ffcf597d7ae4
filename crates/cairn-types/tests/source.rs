//! Parsing user input into wheel sources and file names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use cairn_hash::HashAlgorithm;
use cairn_types::{WheelFilename, WheelSource};

#[test]
fn urls_keep_their_form_and_fragments_become_expected_hashes() {
    let hex = "ab".repeat(32);
    let (source, expected) = WheelSource::parse(&format!(
        "https://example.org/p/demo-1.0-py3-none-any.whl#sha256={hex}"
    ))
    .unwrap();
    let WheelSource::Url(url) = &source else {
        panic!("{source:?}")
    };
    assert_eq!(url.fragment(), None);
    assert_eq!(expected.algorithms(), [HashAlgorithm::Sha256]);
    assert_eq!(expected.iter().next().unwrap().to_hex(), hex);
}

#[test]
fn paths_and_file_urls_become_absolute_paths() {
    let (source, _) = WheelSource::parse("file:///tmp/w/demo-1.0-py3-none-any.whl").unwrap();
    assert_eq!(
        source,
        WheelSource::Path(PathBuf::from("/tmp/w/demo-1.0-py3-none-any.whl"))
    );
    let (source, _) = WheelSource::parse("demo-1.0-py3-none-any.whl").unwrap();
    let path = source.as_path().unwrap();
    assert!(path.is_absolute());
    assert!(path.ends_with("demo-1.0-py3-none-any.whl"));
}

#[test]
fn percent_encoded_local_versions_are_decoded_in_file_names() {
    let (source, _) =
        WheelSource::parse("https://example.org/torch-2.0.0%2Bcpu-cp311-cp311-linux_x86_64.whl")
            .unwrap();
    let filename = source.filename().unwrap();
    assert_eq!(filename.version, "2.0.0+cpu");
}

#[test]
fn credentials_never_show() {
    let (source, _) =
        WheelSource::parse("https://user:secret@example.org/demo-1.0-py3-none-any.whl").unwrap();
    assert!(!source.to_string().contains("secret"), "{source}");
    let error =
        WheelSource::parse("https://user:secret@example.org/demo-1.0-py3-none-any.whl#sha256=zz")
            .unwrap_err();
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[test]
fn unsupported_inputs_are_clear_errors() {
    for (input, expected) in [
        (
            "ftp://example.org/demo-1.0-py3-none-any.whl",
            "only http, https and file URLs",
        ),
        ("https://example.org/", "does not end in a file name"),
        (
            "https://example.org/demo-1.0.tar.gz",
            "not a wheel file name",
        ),
        ("demo.whl", "five or six dash-separated parts"),
    ] {
        let error = WheelSource::parse(input).unwrap_err().to_string();
        assert!(error.contains(expected), "{input}: {error}");
    }
}

#[test]
fn wheel_file_names_parse_and_print_back() {
    for name in [
        "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "tomli-2.5.0-py3-none-any.whl",
        "demo-1.0-1build-py2.py3-none-any.whl",
    ] {
        let parsed: WheelFilename = name.parse().unwrap();
        assert_eq!(parsed.to_string(), name);
    }
    let build: WheelFilename = "demo-1.0-1build-py3-none-any.whl".parse().unwrap();
    assert_eq!(build.build.as_deref(), Some("1build"));
    assert!(
        "demo-1.0-build-py3-none-any.whl"
            .parse::<WheelFilename>()
            .is_err()
    );
    assert!("demo--py3-none-any.whl".parse::<WheelFilename>().is_err());
    let typing: WheelFilename = "Typing_Extensions-4.0-py3-none-any.whl".parse().unwrap();
    assert_eq!(typing.normalized_name(), "typing-extensions");
}

/// An input that looks like a URL with credentials but does not parse as one never shows the
/// credentials in the error it causes.
#[test]
fn credentials_in_an_input_that_does_not_parse_never_show() {
    for input in [
        "https://user:secret@exa mple.org/demo-1.0-py3-none-any.whl#sha256=zz",
        "https://user:secret@exa mple.org/..",
        "https://user:secret@exa mple.org/demo.tar.gz",
        "ftp://user:secret@example.org/demo-1.0-py3-none-any.whl",
    ] {
        let error = WheelSource::parse(input).unwrap_err().to_string();
        assert!(!error.contains("secret"), "{input}: {error}");
    }
}

#[test]
fn pins_join_the_fragment_digests_once() {
    let fragment = "a".repeat(64);
    let pinned: cairn_hash::Digest = format!("sha256:{}", "b".repeat(64)).parse().unwrap();
    let same_as_fragment: cairn_hash::Digest = format!("sha256:{fragment}").parse().unwrap();
    let (source, expected) = WheelSource::parse_pinned(
        &format!("https://example.org/demo-1.0-py3-none-any.whl#sha256={fragment}"),
        &[pinned, same_as_fragment],
    )
    .unwrap();
    assert_eq!(source.filename().unwrap().name, "demo");
    let digests: Vec<_> = expected.iter().copied().collect();
    assert_eq!(digests, [pinned, same_as_fragment]);

    // A path has no fragment: the pins are all there is.
    let (_, expected) = WheelSource::parse_pinned("demo-1.0-py3-none-any.whl", &[pinned]).unwrap();
    assert_eq!(expected.iter().copied().collect::<Vec<_>>(), [pinned]);
}
