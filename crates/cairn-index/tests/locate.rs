//! From requirements to wheels: hash-checking mode across a whole command, and direct
//! references checked against the target's tags.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_index::locate::check_hash_mode;
use cairn_python::requirements::{RequirementsError, parse_requirement_arg};

#[test]
fn one_hashed_requirement_makes_hashes_mandatory_for_all() {
    let hashed = parse_requirement_arg(&format!(
        "https://example.org/demo-1.0-py3-none-any.whl#sha256={}",
        "ab".repeat(32)
    ))
    .unwrap();
    assert!(!hashed.hashes.is_empty());
    let plain = parse_requirement_arg("tomli==2.5.0").unwrap();

    assert!(check_hash_mode(std::slice::from_ref(&plain)).is_ok());
    assert!(check_hash_mode(std::slice::from_ref(&hashed)).is_ok());
    let error = check_hash_mode(&[hashed, plain]).unwrap_err();
    assert!(matches!(error, RequirementsError::MissingHash { .. }));
    let message = error.to_string();
    assert!(message.contains("tomli"), "{message}");
    assert!(message.contains("demo"), "{message}");
}

/// An index client with no reachable index and `dirs` as find-links directories.
fn find_links_only(dirs: Vec<std::path::PathBuf>) -> cairn_index::IndexClient {
    use cairn_http::{ClientSettings, HttpClient};
    let http = HttpClient::new(ClientSettings {
        offline: true,
        ..ClientSettings::default()
    })
    .unwrap();
    cairn_index::IndexClient::new(
        http,
        cairn_cache::Cache::temporary().unwrap(),
        url::Url::parse("http://127.0.0.1:9/simple/").unwrap(),
    )
    .with_find_links(dirs)
}

#[test]
fn a_wheel_is_prefetchable_only_when_no_tag_could_change_the_choice() {
    use cairn_index::locate::prefetchable;
    use cairn_test_support::wheel::WheelBuilder;
    use cairn_types::WheelSource;

    let dir = tempfile::tempdir().unwrap();
    let pure = WheelBuilder::new("solo", "1.0").build(dir.path());
    WheelBuilder::new("solo", "2.0").build(dir.path());
    for tags in [
        "cp311-cp311-manylinux_2_28_x86_64",
        "cp312-cp312-manylinux_2_28_x86_64",
    ] {
        WheelBuilder::new("duo", "1.0").tags(tags).build(dir.path());
    }
    let index = find_links_only(vec![dir.path().to_owned()]);

    // One wheel of that version (another version beside it does not matter).
    let (source, expected) =
        prefetchable(&index, &parse_requirement_arg("Solo==1.0").unwrap()).unwrap();
    assert_eq!(source, WheelSource::Path(pure));
    assert!(expected.is_empty());
    // Two candidates: only the tags can choose.
    assert!(prefetchable(&index, &parse_requirement_arg("duo==1.0").unwrap()).is_none());
    // None at all, or not pinned.
    assert!(prefetchable(&index, &parse_requirement_arg("solo==3.0").unwrap()).is_none());
    assert!(prefetchable(&index, &parse_requirement_arg("absent==1.0").unwrap()).is_none());
    // A direct reference is where it says, with the digests its URL names.
    let direct = parse_requirement_arg(&format!(
        "https://example.org/demo-1.0-py3-none-any.whl#sha256={}",
        "ab".repeat(32)
    ))
    .unwrap();
    let (source, expected) = prefetchable(&index, &direct).unwrap();
    assert!(matches!(source, WheelSource::Url(_)));
    assert!(!expected.is_empty());
}
