//! Property tests of the core metadata parser (`METADATA`, `PKG-INFO`, PEP 658 `.metadata`):
//! files generated from a model (the fields cairn reads among others it skips, header names in
//! any case, folded values, CRLF endings, a byte-order mark, a description that need not be
//! UTF-8) must parse to the model; any bytes, and any damage to a valid file, must give
//! metadata or a typed error naming the field, never a panic. `PROPTEST_CASES` raises the
//! number of cases (see `scripts/fuzz-long.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;

use cairn_python::metadata::{
    CoreMetadata, ExtraName, MetadataError, PackageName, Requirement, Version, VersionSpecifiers,
};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property by default.
const DEFAULT_CASES: u32 = 256;

fn config() -> Config {
    cairn_test_support::prop::config(DEFAULT_CASES, "proptest-regressions/prop_metadata.txt")
}

#[derive(Debug, Clone)]
struct Model {
    metadata_version: String,
    name: String,
    version: String,
    requires_dist: Vec<String>,
    requires_python: Option<String>,
    provides_extra: Vec<String>,
    /// Fields cairn does not read, with values (one folded over two lines).
    others: Vec<(String, String)>,
    upper: bool,
    crlf: bool,
    bom: bool,
    fold_requirement: bool,
    description: Vec<u8>,
}

impl Model {
    fn to_bytes(&self) -> Vec<u8> {
        let newline = if self.crlf { "\r\n" } else { "\n" };
        let field = |name: &str| {
            if self.upper {
                name.to_ascii_uppercase()
            } else {
                name.to_owned()
            }
        };
        let mut text = String::new();
        if self.bom {
            text.push('\u{feff}');
        }
        let mut line = |name: &str, value: &str| {
            text.push_str(&field(name));
            text.push_str(": ");
            text.push_str(value);
            text.push_str(newline);
        };
        line("Metadata-Version", &self.metadata_version);
        line("Name", &self.name);
        line("Version", &self.version);
        for (name, value) in &self.others {
            line(name, value);
        }
        for requirement in &self.requires_dist {
            if self.fold_requirement && requirement.contains(' ') {
                // Folded at its first space: unfolding gives the same value back.
                let (head, tail) = requirement.split_once(' ').unwrap();
                line("Requires-Dist", &format!("{head}{newline} {tail}"));
            } else {
                line("Requires-Dist", requirement);
            }
        }
        if let Some(requires_python) = &self.requires_python {
            line("Requires-Python", requires_python);
        }
        for extra in &self.provides_extra {
            line("Provides-Extra", extra);
        }
        let mut bytes = text.into_bytes();
        bytes.extend(newline.as_bytes());
        bytes.extend(&self.description);
        bytes
    }
}

fn version() -> impl Strategy<Value = String> {
    "(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})){0,3}((a|b|rc)[0-9]{1,2})?(\\.post[0-9])?(\\.dev[0-9])?(\\+[a-z0-9]{1,4})?"
}

fn requirement() -> impl Strategy<Value = String> {
    (
        "[A-Za-z][A-Za-z0-9]{0,5}([-_.][A-Za-z0-9]{1,3})?",
        proptest::option::of("[a-z]{1,5}"),
        proptest::option::of((
            prop_oneof![Just(">="), Just("=="), Just("<"), Just("~="), Just("!=")],
            "[1-9](\\.[0-9]{1,2}){1,2}",
        )),
        proptest::option::of(prop_oneof![
            Just("python_version < \"3.11\"".to_owned()),
            Just("sys_platform == \"win32\"".to_owned()),
            "[a-z]{1,5}".prop_map(|extra| format!("extra == \"{extra}\"")),
        ]),
    )
        .prop_map(|(name, extra, specifier, marker)| {
            let mut text = name;
            if let Some(extra) = extra {
                text.push_str(&format!("[{extra}]"));
            }
            if let Some((operator, version)) = specifier {
                text.push_str(&format!(" {operator}{version}"));
            }
            if let Some(marker) = marker {
                text.push_str(&format!(" ; {marker}"));
            }
            text
        })
}

fn model() -> impl Strategy<Value = Model> {
    (
        prop_oneof![
            Just("1.0"),
            Just("1.2"),
            Just("2.1"),
            Just("2.3"),
            Just("2.4")
        ],
        "[A-Za-z0-9]([A-Za-z0-9._-]{0,10}[A-Za-z0-9])?",
        version(),
        proptest::collection::vec(requirement(), 0..5),
        proptest::option::of(prop_oneof![
            Just(">=3.8"),
            Just(">=3.9,<4"),
            Just("~=3.10"),
            Just("!=3.0.*")
        ]),
        proptest::collection::vec("[a-z]([a-z0-9_.-]{0,6}[a-z0-9])?", 0..4),
        proptest::collection::vec(
            (
                prop_oneof![
                    Just("Summary"),
                    Just("Classifier"),
                    Just("Author-email"),
                    Just("License"),
                    Just("X-Custom_Field")
                ],
                "[ -~]{0,30}",
            ),
            0..4,
        ),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        proptest::collection::vec(any::<u8>(), 0..60),
    )
        .prop_map(
            |(
                metadata_version,
                name,
                version,
                requires_dist,
                requires_python,
                provides_extra,
                others,
                (upper, crlf, bom, fold_requirement),
                description,
            )| Model {
                metadata_version: metadata_version.to_owned(),
                name,
                version,
                requires_dist,
                requires_python: requires_python.map(str::to_owned),
                provides_extra,
                others: others
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
                    .collect(),
                upper,
                crlf,
                bom,
                fold_requirement,
                description,
            },
        )
}

fn check_error(error: &MetadataError) -> Result<(), TestCaseError> {
    prop_assert!(!error.to_string().is_empty());
    if !matches!(error, MetadataError::NotUtf8 { .. }) {
        prop_assert!(error.field().is_some(), "{:?} names no field", error);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// A generated file parses to its model.
    #[test]
    fn generated_metadata_parses_to_its_model(model in model()) {
        let bytes = model.to_bytes();
        let metadata = CoreMetadata::parse(&bytes)
            .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(metadata.metadata_version, Version::from_str(&model.metadata_version).unwrap());
        prop_assert_eq!(&metadata.name, &PackageName::new(&model.name));
        prop_assert_eq!(metadata.version, Version::from_str(&model.version).unwrap());
        let requires: Vec<Requirement> = model
            .requires_dist
            .iter()
            .map(|text| Requirement::from_str(text).unwrap())
            .collect();
        prop_assert_eq!(metadata.requires_dist, requires);
        prop_assert_eq!(
            metadata.requires_python,
            model.requires_python.as_deref().map(|text| VersionSpecifiers::from_str(text).unwrap())
        );
        let mut extras: Vec<ExtraName> = Vec::new();
        for extra in &model.provides_extra {
            let extra = ExtraName::from_str(extra).unwrap();
            if !extras.contains(&extra) {
                extras.push(extra);
            }
        }
        prop_assert_eq!(metadata.provides_extra, extras);
    }

    /// A valid file damaged (a byte flipped or replaced, the file cut, a line repeated):
    /// metadata or a typed error, never a panic.
    #[test]
    fn damaged_metadata_never_panics(
        model in model(),
        at in any::<prop::sample::Index>(),
        kind in 0u8..4,
        byte in any::<u8>(),
    ) {
        let mut bytes = model.to_bytes();
        if !bytes.is_empty() {
            let position = at.index(bytes.len());
            match kind {
                0 => bytes[position] ^= 1 << (byte % 8),
                1 => bytes[position] = byte,
                2 => bytes.truncate(position),
                _ => {
                    let end = bytes[position..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| position + n + 1);
                    let copy = bytes[position..end].to_vec();
                    bytes.splice(position..position, copy);
                }
            }
        }
        if let Err(error) = CoreMetadata::parse(&bytes) {
            check_error(&error)?;
        }
    }

    /// `Requires-Dist`, `Requires-Python` and `Provides-Extra` values built from the pieces of
    /// PEP 508 and PEP 440 (names ending in separators, brackets, operators, markers, quotes,
    /// non-ASCII characters): metadata or an error naming the field, never a panic.
    #[test]
    fn junk_field_values_never_panic(
        field in prop_oneof![Just("Requires-Dist"), Just("Requires-Python"), Just("Provides-Extra")],
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("a"), Just("b0"), Just("-"), Just("_"), Just("."), Just(" "), Just("["),
                Just("]"), Just(","), Just("("), Just(")"), Just(";"), Just("@"), Just("=="),
                Just("==="), Just(">="), Just("~="), Just("!="), Just("<"), Just(".*"), Just("1"),
                Just("1.0"), Just("1!2"), Just("+local"), Just("post"), Just("dev"),
                Just("python_version"), Just("extra"), Just("os_name"), Just(" and "),
                Just(" or "), Just("\""), Just("'"), Just("in"), Just("not"), Just("é"),
                Just("\u{fffd}"), Just("€"), Just("\u{301}"), Just("https://h/a.whl"),
                Just("file:///x"), Just("#"), Just("\t"),
            ],
            0..16,
        ),
    ) {
        let value: String = pieces.concat();
        let text = format!("Metadata-Version: 2.1\nName: a\nVersion: 1\n{field}: {value}\n");
        if let Err(error) = CoreMetadata::parse(text.as_bytes()) {
            check_error(&error)?;
        }
    }

    /// Any bytes: metadata or a typed error, never a panic.
    #[test]
    fn random_bytes_never_panic(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..400),
            "((Metadata-Version|Name|Version|Requires-Dist|Requires-Python|Provides-Extra|[ -~]{0,6}):[ -~]{0,20}(\r?\n[ \t][ -~]{0,10})?\r?\n){0,8}".prop_map(String::into_bytes),
        ],
    ) {
        if let Err(error) = CoreMetadata::parse(&bytes) {
            check_error(&error)?;
        }
    }
}

/// The marker of a `Requires-Dist` followed by a non-ASCII character made pep508_rs 0.9.2
/// panic (see `non_ascii_after_a_marker_is_a_syntax_error` in `prop_requirements.rs`): metadata
/// from an index is untrusted, so it is an invalid requirement naming its field.
#[test]
fn non_ascii_after_a_requires_dist_marker_is_an_error() {
    for value in [
        "b ; os_name == \"nt\" \u{fffd}x",
        "b ; os_name == \"nt\"\u{20ac}x",
        "b[x] >=1 ; python_version > \"3\" and \u{e9}\u{e9}x",
    ] {
        let text = format!("Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: {value}\n");
        let error = CoreMetadata::parse(text.as_bytes()).unwrap_err();
        assert_eq!(error.field(), Some("Requires-Dist"), "{error}");
    }
    let text = "Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: b ; platform_version != \"\u{e9}\u{fffd}x y\"\n";
    assert_eq!(
        CoreMetadata::parse(text.as_bytes())
            .unwrap()
            .requires_dist
            .len(),
        1
    );
}

/// Found by `damaged_metadata_never_panics`: a `Requires-Dist` whose name or extra ends in
/// `-`, `_` or `.` before more text made pep508_rs 0.9.2 panic; requirement lines were
/// already guarded, metadata was not. An invalid requirement naming its field.
#[test]
fn requires_dist_name_ending_in_a_separator_is_an_error() {
    for value in [
        "a0a[tnfg-]",
        "a[b_] ; os_name == \"nt\"",
        "foo- >=1",
        "foo.[x]",
        "a[b,c.]",
    ] {
        let text = format!("Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: {value}\n");
        let error = CoreMetadata::parse(text.as_bytes()).unwrap_err();
        assert_eq!(error.field(), Some("Requires-Dist"), "{error}");
        assert!(
            error.to_string().contains(value.split(' ').next().unwrap()),
            "{error}"
        );
    }
}
