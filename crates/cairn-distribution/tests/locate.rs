//! From requirements to wheels: hash-checking mode across a whole command, and direct
//! references checked against the target's tags.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_distribution::locate::check_hash_mode;
use cairn_distribution::requirements::{RequirementsError, parse_requirement_arg};

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
