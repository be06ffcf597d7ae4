//! Core metadata: real `METADATA` files (tests/data/metadata) and the header grammar, junk
//! included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::str::FromStr;

use cairn_python::metadata::{
    CoreMetadata, ExtraName, MetadataError, PackageName, Requirement, Version, VersionSpecifiers,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/metadata")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn version(text: &str) -> Version {
    text.parse().unwrap()
}

fn extras(names: &[&str]) -> Vec<ExtraName> {
    names.iter().map(|name| name.parse().unwrap()).collect()
}

#[test]
fn numpy_has_requires_python_and_no_requirements() {
    let metadata = CoreMetadata::parse(&fixture("numpy-2.4.6.METADATA")).unwrap();
    assert_eq!(metadata.metadata_version, version("2.4"));
    assert_eq!(metadata.name, PackageName::from_str("numpy").unwrap());
    assert_eq!(metadata.version, version("2.4.6"));
    assert!(metadata.requires_dist.is_empty());
    assert_eq!(
        metadata.requires_python,
        Some(VersionSpecifiers::from_str(">=3.11").unwrap())
    );
    assert!(metadata.provides_extra.is_empty());
}

#[test]
fn tomli_reads_past_a_long_description() {
    let metadata = CoreMetadata::parse(&fixture("tomli-2.5.0.METADATA")).unwrap();
    assert_eq!(metadata.metadata_version, version("2.5"));
    assert_eq!(metadata.name.as_ref(), "tomli");
    assert_eq!(metadata.version, version("2.5.0"));
    assert!(metadata.requires_dist.is_empty());
    assert_eq!(metadata.requires_python.unwrap().to_string(), ">=3.8");
}

#[test]
fn black_has_extras_and_markers() {
    let metadata = CoreMetadata::parse(&fixture("black-26.10.1.METADATA")).unwrap();
    assert_eq!(metadata.name.as_ref(), "black");
    assert_eq!(metadata.version, version("26.10.1"));
    assert_eq!(metadata.requires_python.unwrap().to_string(), ">=3.10");
    assert_eq!(
        metadata.provides_extra,
        extras(&["colorama", "d", "jupyter", "uvloop"])
    );
    let names: Vec<&str> = metadata
        .requires_dist
        .iter()
        .map(|requirement| requirement.name.as_ref())
        .collect();
    assert_eq!(
        names,
        [
            "click",
            "mypy-extensions",
            "packaging",
            "pathspec",
            "platformdirs",
            "pytokens",
            "tomli",
            "typing-extensions",
            "colorama",
            "aiohttp",
            "ipython",
            "tokenize-rt",
            "uvloop",
            "winloop",
        ]
    );
    // The markers are kept: tomli only below 3.11, uvloop only with the extra, off Windows.
    let tomli = &metadata.requires_dist[6];
    assert_eq!(
        tomli,
        &Requirement::from_str("tomli>=1.1.0; python_version < '3.11'").unwrap()
    );
    let uvloop = &metadata.requires_dist[12];
    assert_eq!(
        uvloop,
        &Requirement::from_str("uvloop>=0.15.2; (sys_platform != 'win32') and extra == 'uvloop'")
            .unwrap()
    );
    let click = &metadata.requires_dist[0];
    assert!(click.marker.is_true(), "click is unconditional");
}

#[test]
fn continuation_lines_unfold_and_the_body_is_never_read() {
    let text = b"Metadata-Version: 2.1\r\n\
        Name: Demo_Pkg\r\n\
        License: first line\r\n\
        \x20        \r\n\
        \x20   Name: not-a-header, an indented license line\r\n\
        Version:\r\n\
        \t1.0.post1\r\n\
        requires-dist: other (>=1.0) ;\r\n\
        \x20 python_version >= \"3.8\"\r\n\
        Provides-Extra: Fancy_Extra\r\n\
        Provides-Extra: fancy-extra\r\n\
        Requires-Python: \r\n\
        \r\n\
        Name: body-is-not-read\r\n\
        Version: \xff\xfe not even UTF-8\r\n";
    let metadata = CoreMetadata::parse(text).unwrap();
    assert_eq!(metadata.name.as_ref(), "demo-pkg");
    assert_eq!(metadata.version, version("1.0.post1"));
    assert_eq!(
        metadata.requires_dist,
        [Requirement::from_str("other>=1.0; python_version >= '3.8'").unwrap()]
    );
    assert_eq!(metadata.provides_extra, extras(&["fancy-extra"]));
    assert_eq!(
        metadata.requires_python, None,
        "an empty value is no constraint"
    );
}

#[test]
fn a_byte_order_mark_and_a_missing_final_newline_are_accepted() {
    let metadata =
        CoreMetadata::parse(b"\xEF\xBB\xBFMetadata-Version: 1.0\nName: a\nVersion: 1").unwrap();
    assert_eq!(metadata.name.as_ref(), "a");
    assert_eq!(metadata.metadata_version, version("1.0"));
}

#[test]
fn a_line_that_is_not_a_header_starts_the_body() {
    // The email parser starts the body at the first line that is not a header: a `Version`
    // after it is description text.
    let error =
        CoreMetadata::parse(b"Metadata-Version: 2.1\nName: a\nnot a header\nVersion: 1.0\n")
            .unwrap_err();
    assert!(
        matches!(error, MetadataError::Missing { field: "Version" }),
        "{error:?}"
    );
}

/// Every kind of error names its field, and nothing panics.
#[test]
fn junk_is_refused_with_the_field_named() {
    let cases: &[(&[u8], &str, Option<&str>)] = &[
        (b"", "no `Metadata-Version` field", Some("Metadata-Version")),
        (
            b"\x00\x01\x02 garbage",
            "no `Metadata-Version`",
            Some("Metadata-Version"),
        ),
        (
            b"Metadata-Version: 2.1\nName: a\n",
            "no `Version` field",
            Some("Version"),
        ),
        (
            b"Metadata-Version: 2.1\nVersion: 1\n",
            "no `Name` field",
            Some("Name"),
        ),
        (
            b"Metadata-Version: 2.1\nName:\nVersion: 1\n",
            "no `Name` field",
            Some("Name"),
        ),
        (
            b"Metadata-Version: 3.0\nName: a\nVersion: 1\n",
            "`Metadata-Version: 3.0` is a version cairn cannot read",
            Some("Metadata-Version"),
        ),
        (
            b"Metadata-Version: two\nName: a\nVersion: 1\n",
            "`Metadata-Version: two` is not a valid PEP 440 version",
            Some("Metadata-Version"),
        ),
        (
            b"Metadata-Version: 2.1\nName: a\nVersion: 1.0-what?\n",
            "`Version: 1.0-what?` is not a valid PEP 440 version",
            Some("Version"),
        ),
        (
            b"Metadata-Version: 2.1\nName: -a-\nVersion: 1\n",
            "`Name: -a-` is not a valid project name",
            Some("Name"),
        ),
        (
            b"Metadata-Version: 2.1\nName: a\nName: b\nVersion: 1\n",
            "2 `Name` fields",
            Some("Name"),
        ),
        (
            b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: b >>> 2\n",
            "`Requires-Dist: b >>> 2` is not a valid PEP 508 requirement",
            Some("Requires-Dist"),
        ),
        (
            b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Python: >=3.8,,\n",
            "`Requires-Python: >=3.8,,` is not a valid PEP 440 version specifier",
            Some("Requires-Python"),
        ),
        (
            b"Metadata-Version: 2.1\nName: a\nVersion: 1\nProvides-Extra: no spaces\n",
            "`Provides-Extra: no spaces` is not a valid extra name",
            Some("Provides-Extra"),
        ),
        (
            b"Metadata-Version: 2.1\nName: \xC3\x28\nVersion: 1\n",
            "not UTF-8 (invalid byte at offset 28)",
            None,
        ),
    ];
    for (input, message, field) in cases {
        let error = CoreMetadata::parse(input).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(message),
            "{:?}: {text:?} should contain {message:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(error.field(), *field, "{text}");
    }
}

#[test]
fn sources_carry_the_parser_detail_and_messages_do_not_repeat_it() {
    let error =
        CoreMetadata::parse(b"Metadata-Version: 2.1\nName: a\nVersion: 1.0-what?\n").unwrap_err();
    let source = std::error::Error::source(&error).expect("the parser's error is the source");
    assert!(!error.to_string().contains(&source.to_string()));
}

/// Truncating a real file anywhere gives a result or an error, never a panic; cut inside the
/// headers, a required field is missing or the last value is cut short.
#[test]
fn every_prefix_of_a_real_file_parses_or_fails_cleanly() {
    let bytes = fixture("black-26.10.1.METADATA");
    let mut ok = 0;
    for end in 0..bytes.len() {
        if CoreMetadata::parse(&bytes[..end]).is_ok() {
            ok += 1;
        }
    }
    // Prefixes that end after the last header that matters parse.
    assert!(
        ok > 0 && ok < bytes.len(),
        "{ok} of {} prefixes parsed",
        bytes.len()
    );
}
