//! Property tests of the requirements-file parser: files generated from a model (pins with
//! extras, hashes in both spellings, markers true and false, `\` continuations, comments, blank
//! lines, CRLF endings, a byte-order mark, index options and `-r` includes) must parse to the
//! model; any text, and any damage to a valid file, must give a file or a typed error naming a
//! line, never a panic. `PROPTEST_CASES` raises the number of cases (see
//! `scripts/fuzz-long.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "requirements_fixtures/envs.rs"]
mod envs;

use std::collections::BTreeSet;
use std::path::Path;

use cairn_python::requirements::{RequirementsError, RequirementsFile, parse_requirement_arg};
use cairn_types::PackageName;
use envs::linux_cpython;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property by default.
const DEFAULT_CASES: u32 = 256;

fn config() -> Config {
    cairn_test_support::prop::config(DEFAULT_CASES, "proptest-regressions/prop_requirements.txt")
}

/// How a requirement's marker reads on Linux CPython 3.11.
#[derive(Debug, Clone, Copy)]
enum MarkerKind {
    None,
    True,
    False,
}

/// One pinned requirement of the model.
#[derive(Debug, Clone)]
struct Pin {
    name: String,
    version: String,
    extras: Vec<String>,
    hashes: Vec<[u8; 32]>,
    marker: MarkerKind,
    /// Spelling choices that must not change the meaning.
    equals_form: bool,
    continued: bool,
    comment: bool,
}

impl Pin {
    fn applies(&self) -> bool {
        !matches!(self.marker, MarkerKind::False)
    }

    fn write(&self, out: &mut String, newline: &str) {
        out.push_str(&self.name);
        if !self.extras.is_empty() {
            out.push('[');
            out.push_str(&self.extras.join(","));
            out.push(']');
        }
        out.push_str("==");
        out.push_str(&self.version);
        match self.marker {
            MarkerKind::None => {}
            MarkerKind::True => out.push_str(" ; python_version >= \"3.8\""),
            MarkerKind::False => out.push_str(" ; sys_platform == \"win32\""),
        }
        for hash in &self.hashes {
            if self.continued {
                out.push_str(" \\");
                out.push_str(newline);
                out.push_str("    ");
            } else {
                out.push(' ');
            }
            out.push_str(if self.equals_form {
                "--hash="
            } else {
                "--hash "
            });
            out.push_str("sha256:");
            out.push_str(&hex(hash));
        }
        if self.comment {
            out.push_str("  # via something");
        }
        out.push_str(newline);
    }
}

/// A whole requirements file and the file it includes.
#[derive(Debug, Clone)]
struct Model {
    pins: Vec<Pin>,
    /// How many of `pins` (from the end) live in the included file.
    included: usize,
    index_url: Option<String>,
    extra_index_urls: Vec<String>,
    find_links: Vec<String>,
    no_index: bool,
    crlf: bool,
    bom: bool,
    blank_lines: Vec<usize>,
}

impl Model {
    fn newline(&self) -> &'static str {
        if self.crlf { "\r\n" } else { "\n" }
    }

    /// The main file's text and the included file's text.
    fn texts(&self) -> (String, String) {
        let newline = self.newline();
        let mut main = String::new();
        if self.bom {
            main.push('\u{feff}');
        }
        main.push_str("# generated");
        main.push_str(newline);
        if let Some(url) = &self.index_url {
            main.push_str(&format!("--index-url {url}{newline}"));
        }
        for url in &self.extra_index_urls {
            main.push_str(&format!("--extra-index-url={url}{newline}"));
        }
        for link in &self.find_links {
            main.push_str(&format!("-f {link}{newline}"));
        }
        if self.no_index {
            main.push_str(&format!("--no-index{newline}"));
        }
        let split = self.pins.len() - self.included;
        for (index, pin) in self.pins[..split].iter().enumerate() {
            if self.blank_lines.contains(&index) {
                main.push_str(newline);
                main.push_str("   # a comment line");
                main.push_str(newline);
            }
            pin.write(&mut main, newline);
        }
        if self.included > 0 {
            main.push_str(&format!("-r included.txt{newline}"));
        }
        let mut included = String::new();
        for pin in &self.pins[split..] {
            pin.write(&mut included, newline);
        }
        (main, included)
    }
}

fn pin() -> impl Strategy<Value = Pin> {
    (
        "[A-Za-z][A-Za-z0-9]{0,3}([-_.][A-Za-z0-9]{1,3}){0,2}",
        "(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})){0,3}",
        proptest::collection::btree_set("[a-z]{1,6}", 0..3),
        proptest::collection::vec(any::<[u8; 32]>(), 0..4),
        prop_oneof![
            Just(MarkerKind::None),
            Just(MarkerKind::True),
            Just(MarkerKind::False)
        ],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(name, version, extras, hashes, marker, equals_form, continued, comment)| Pin {
                name,
                version,
                extras: extras.into_iter().collect(),
                hashes,
                marker,
                equals_form,
                continued,
                comment,
            },
        )
}

fn model() -> impl Strategy<Value = Model> {
    (
        proptest::collection::vec(pin(), 0..8),
        any::<usize>(),
        proptest::option::of("https://[a-z]{1,8}\\.example/[a-z]{1,6}"),
        proptest::collection::vec("https://[a-z]{1,8}\\.example/[a-z]{1,6}", 0..3),
        proptest::collection::vec("https://[a-z]{1,8}\\.example/[a-z]{1,6}\\.html", 0..3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(0usize..8, 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(
                pins,
                included,
                index_url,
                extra_index_urls,
                find_links,
                no_index,
                crlf,
                bom,
                blank_lines,
                all_hashed,
            )| {
                // One line per project: pins of one project would be merged or refused.
                let mut seen = BTreeSet::new();
                let mut pins: Vec<Pin> = pins
                    .into_iter()
                    .filter(|pin| seen.insert(PackageName::new(&pin.name)))
                    .collect();
                // Either every pin is hashed or none is, so hash-checking mode holds.
                if !all_hashed {
                    pins.iter_mut().for_each(|pin| pin.hashes.clear());
                } else {
                    for (index, pin) in pins.iter_mut().enumerate() {
                        if pin.hashes.is_empty() {
                            pin.hashes.push([index as u8; 32]);
                        }
                    }
                }
                let included = if pins.is_empty() {
                    0
                } else {
                    included % (pins.len() + 1)
                };
                let mut unique_extra = Vec::new();
                for url in extra_index_urls {
                    if !unique_extra.contains(&url) {
                        unique_extra.push(url);
                    }
                }
                let mut unique_links = Vec::new();
                for url in find_links {
                    if !unique_links.contains(&url) {
                        unique_links.push(url);
                    }
                }
                Model {
                    pins,
                    included,
                    index_url,
                    extra_index_urls: unique_extra,
                    find_links: unique_links,
                    no_index,
                    crlf,
                    bom,
                    blank_lines,
                }
            },
        )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Writes the model's files into a temporary directory and reads the main one.
fn read_model(
    model: &Model,
) -> (
    tempfile::TempDir,
    Result<RequirementsFile, RequirementsError>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (main, included) = model.texts();
    std::fs::write(dir.path().join("requirements.txt"), main).unwrap();
    std::fs::write(dir.path().join("included.txt"), included).unwrap();
    let env = linux_cpython("3.11.7");
    let result = RequirementsFile::read(&dir.path().join("requirements.txt"), &env);
    (dir, result)
}

/// Pieces of the format recombined at random, so that junk gets past the first byte.
fn junk_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("six".to_owned()),
        Just("==".to_owned()),
        Just("1.0".to_owned()),
        Just(" ".to_owned()),
        Just(";".to_owned()),
        Just("@".to_owned()),
        Just("[x]".to_owned()),
        Just("#".to_owned()),
        Just("\\".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\r".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\"".to_owned()),
        Just("python_version".to_owned()),
        Just(" and ".to_owned()),
        Just("--hash=".to_owned()),
        Just("--hash".to_owned()),
        Just("sha256:".to_owned()),
        Just("-r".to_owned()),
        Just("-c".to_owned()),
        Just("-i".to_owned()),
        Just("-e".to_owned()),
        Just("--no-binary".to_owned()),
        Just("${HOME}".to_owned()),
        Just("${".to_owned()),
        Just("https://u:p@h/x-1.0-py3-none-any.whl".to_owned()),
        Just("./x-1.0-py3-none-any.whl".to_owned()),
        Just("file:///".to_owned()),
        Just("#sha256=".to_owned()),
        Just("-".to_owned()),
        Just("_".to_owned()),
        Just(".".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(" and ".to_owned()),
        Just(" or ".to_owned()),
        Just("os_name == 'nt'".to_owned()),
        Just("é".to_owned()),
        Just("\u{fffd}".to_owned()),
        Just("€".to_owned()),
        "[0-9a-f]{1,64}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(config())]

    /// A generated file parses to its model: the pins whose markers hold, in file order (an
    /// included file's at its `-r` line), with their names, versions, extras and hashes, and the
    /// index options.
    #[test]
    fn generated_file_parses_to_its_model(model in model()) {
        let (_dir, result) = read_model(&model);
        let file = result.map_err(|e| TestCaseError::fail(format!("{e}\n{:?}", model.texts())))?;
        let expected: Vec<&Pin> = model.pins.iter().filter(|pin| pin.applies()).collect();
        prop_assert_eq!(file.requirements.len(), expected.len(), "{:?}", file.requirements);
        for (requirement, pin) in file.requirements.iter().zip(&expected) {
            prop_assert_eq!(&requirement.name, &pin.name);
            prop_assert_eq!(&requirement.normalized, &PackageName::new(&pin.name));
            prop_assert_eq!(requirement.version.as_deref(), Some(pin.version.as_str()));
            prop_assert_eq!(requirement.url.as_deref(), None);
            prop_assert_eq!(&requirement.extras, &pin.extras);
            let hashes: Vec<String> = requirement.hashes.iter().map(ToString::to_string).collect();
            let mut wanted: Vec<String> = Vec::new();
            for hash in &pin.hashes {
                let text = format!("sha256:{}", hex(hash));
                if !wanted.contains(&text) {
                    wanted.push(text);
                }
            }
            prop_assert_eq!(hashes, wanted);
            prop_assert_eq!(requirement.marker.is_some(), matches!(pin.marker, MarkerKind::True));
        }
        prop_assert_eq!(file.index_url.as_deref(), model.index_url.as_deref());
        prop_assert_eq!(&file.extra_index_urls, &model.extra_index_urls);
        prop_assert_eq!(&file.find_links, &model.find_links);
        prop_assert_eq!(file.no_index, model.no_index);
        let hashed = model.pins.iter().any(|pin| pin.applies() && !pin.hashes.is_empty());
        if hashed {
            prop_assert!(file.hash_checking);
        }
        prop_assert!(file.check_hash_mode().is_ok(), "{:?}", file.check_hash_mode());
    }

    /// A generated file with one line's bytes damaged (bit flipped, byte replaced, cut,
    /// repeated, a `\` at the end): a file or a typed error, never a panic; an error names the
    /// file.
    #[test]
    fn damaged_file_never_panics(
        model in model(),
        at in any::<prop::sample::Index>(),
        kind in 0u8..5,
        byte in any::<u8>(),
    ) {
        let (main, included) = model.texts();
        let mut bytes = main.into_bytes();
        if !bytes.is_empty() {
            let position = at.index(bytes.len());
            match kind {
                0 => bytes[position] ^= 1 << (byte % 8),
                1 => bytes[position] = byte,
                2 => bytes.truncate(position),
                3 => {
                    let copy = bytes[position..].to_vec();
                    bytes.extend(copy);
                }
                _ => bytes.extend(b"\\"),
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("included.txt"), included).unwrap();
        let origin = dir.path().join("requirements.txt");
        let env = linux_cpython("3.11.7");
        match RequirementsFile::parse(&text, &origin, &env) {
            Ok(file) => {
                let _ = file.check_hash_mode();
                for requirement in &file.requirements {
                    prop_assert!(requirement.version.is_some() != requirement.url.is_some());
                }
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
        if kind == 4 {
            prop_assert!(
                RequirementsFile::parse(&text, &origin, &env).is_err(),
                "a file ending in a `\\` continuation was accepted"
            );
        }
    }

    /// Any text, as a file and as a command-line requirement: a value or a typed error.
    #[test]
    fn junk_never_panics(text in junk_text()) {
        let env = linux_cpython("3.11.7");
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("requirements.txt");
        if let Err(error) = RequirementsFile::parse(&text, &origin, &env) {
            prop_assert!(!error.to_string().is_empty());
        }
        for line in text.lines() {
            if let Ok(requirement) = parse_requirement_arg(line) {
                prop_assert!(requirement.version.is_some() != requirement.url.is_some());
                let _ = requirement.to_string();
            }
        }
    }

    /// A command-line pin reads back as written and its `Display` parses to the same pin.
    #[test]
    fn requirement_arg_round_trips(pin in pin()) {
        let mut text = String::new();
        let mut plain = pin.clone();
        plain.hashes.clear();
        plain.comment = false;
        plain.write(&mut text, "");
        let requirement = parse_requirement_arg(&text).unwrap();
        prop_assert_eq!(&requirement.name, &pin.name);
        prop_assert_eq!(requirement.version.as_deref(), Some(pin.version.as_str()));
        let again = parse_requirement_arg(&requirement.to_string()).unwrap();
        prop_assert_eq!(again.normalized, requirement.normalized);
        prop_assert_eq!(again.version, requirement.version);
        prop_assert_eq!(again.extras, requirement.extras);
    }
}

/// The file the properties above include is read relative to the including file.
#[test]
fn includes_are_relative_to_the_including_file() {
    let model = Model {
        pins: vec![Pin {
            name: "six".into(),
            version: "1.17.0".into(),
            extras: Vec::new(),
            hashes: Vec::new(),
            marker: MarkerKind::None,
            equals_form: true,
            continued: false,
            comment: false,
        }],
        included: 1,
        index_url: None,
        extra_index_urls: Vec::new(),
        find_links: Vec::new(),
        no_index: false,
        crlf: false,
        bom: false,
        blank_lines: Vec::new(),
    };
    let (dir, result) = read_model(&model);
    let file = result.unwrap();
    assert_eq!(file.requirements[0].name, "six");
    assert!(Path::new(&dir.path().join("included.txt")).is_file());
}

/// Found by `damaged_file_never_panics`: a non-ASCII character after an environment marker
/// (here the replacement character a damaged byte decodes to) made pep508_rs 0.9.2 slice its
/// input inside the character and panic. It is a syntax error naming the line.
#[test]
fn non_ascii_after_a_marker_is_a_syntax_error() {
    let env = linux_cpython("3.11.7");
    let origin = Path::new("/project/requirements.txt");
    for line in [
        "O5_2h.Ag7[p]==0 ; sys_platform == \"win32\" \u{fffd}# via something",
        "a==1 ; os_name == \"nt\"\u{fffd}x",
        "a==1 ; os_name == \"nt\" and \u{e9}\u{e9}x",
        "a==1 ; (os_name == \"nt\") \u{20ac}x",
        "a @ https://host/a-1.0-py3-none-any.whl ; os_name == 'nt' \u{fffd}x",
        "./a-1.0-py3-none-any.whl ; os_name == 'nt' \u{fffd}x",
    ] {
        let error = RequirementsFile::parse(&format!("{line}\n"), origin, &env).unwrap_err();
        assert!(error.to_string().contains("requirements.txt:1"), "{error}");
        assert!(parse_requirement_arg(line).is_err(), "{line}");
    }
    // Inside quotes, any character is a marker value like another.
    let file = RequirementsFile::parse(
        "a==1 ; platform_version != \"\u{e9}\u{fffd}x y\"\n",
        origin,
        &env,
    )
    .unwrap();
    assert_eq!(file.requirements.len(), 1);
}
