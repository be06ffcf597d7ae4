//! No input makes the requirements parser panic: random lines built from the format's own
//! pieces (so they get deep into the parsers), random bytes, and hand-picked edge cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "requirements_fixtures/envs.rs"]
mod envs;

use std::path::Path;

use cairn_python::requirements::{RequirementsFile, parse_requirement_arg};
use cairn_test_support::random::Random;
use envs::{linux_cpython, windows_cpython};

/// Pieces of real requirement lines, recombined at random.
const PIECES: &[&str] = &[
    "six",
    "numpy",
    "a",
    "A.b_c-d",
    "==",
    "===",
    "!=",
    "~=",
    ">=",
    "<",
    ">",
    "==1.0",
    "1.17.0",
    "2.*",
    ".*",
    "1.0.post1",
    "1!2.0",
    "+local",
    " ",
    "  ",
    "\t",
    ";",
    " ; ",
    "@",
    " @ ",
    "[",
    "]",
    "[extra]",
    ",",
    "(",
    ")",
    "#",
    " #",
    "#sha256=",
    "\\",
    "\\\n",
    "\n",
    "\r\n",
    "\r",
    "\u{feff}",
    "\"",
    "'",
    "python_version",
    "python_full_version",
    "sys_platform",
    "platform_machine",
    "implementation_name",
    "extra",
    "os_name",
    " and ",
    " or ",
    " in ",
    " not in ",
    "'3.12'",
    "\"win32\"",
    "'linux'",
    "'3.*'",
    "--hash=",
    "--hash ",
    "sha256:",
    "sha512:",
    "md5:",
    HEX,
    "--hash=sha256:",
    "-r",
    "-c",
    "-r ",
    "-e ",
    "-i ",
    "-f ",
    "--index-url",
    "--extra-index-url=",
    "--find-links ",
    "--no-index",
    "--pre",
    "--no-binary",
    " :all:",
    "--only-binary=",
    "--require-hashes",
    "--config-settings",
    "--",
    "-",
    "-x",
    "https://",
    "http://u:p@h/",
    "file://",
    "file:",
    "./",
    "../",
    "/",
    "C:\\",
    "~",
    "wheels/",
    "x-1.0-py3-none-any.whl",
    ".whl",
    ".tar.gz",
    "?q=1",
    "&",
    "${",
    "}",
    "${HOME}",
    "${PATH}",
    "é",
    "😀",
    "\u{0}",
    "\u{7f}",
    "\u{200b}",
    "𝔘",
    "ß",
    "İ",
];

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn exercise(text: &str, dir: &Path) {
    for env in [linux_cpython("3.11.7"), windows_cpython("3.9.13")] {
        match RequirementsFile::parse(text, &dir.join("requirements.txt"), &env) {
            Ok(file) => {
                let _ = file.check_hash_mode().map_err(|e| e.to_string());
                for requirement in &file.requirements {
                    let _ = (requirement.to_string(), requirement.applies_to(&env));
                    if let Some(marker) = &requirement.marker {
                        let _ = marker.to_string();
                    }
                }
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
    for line in text.lines() {
        match parse_requirement_arg(line) {
            Ok(requirement) => {
                let _ = requirement.to_string();
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
}

#[test]
fn random_lines_from_real_pieces() {
    let dir = tempfile::tempdir().unwrap();
    // Includes that exist, so that random `-r`/`-c` lines sometimes recurse.
    std::fs::write(
        dir.path().join("x-1.0-py3-none-any.whl"),
        "six==1.0\n-r requirements.txt\n",
    )
    .unwrap();
    let mut random = Random::new(0x9e37_79b9_7f4a_7c15);
    for _ in 0..10_000 {
        let mut text = String::new();
        for _ in 0..random.below(6) + 1 {
            for _ in 0..random.below(10) + 1 {
                text.push_str(PIECES[random.below(PIECES.len())]);
            }
            text.push('\n');
        }
        exercise(&text, dir.path());
    }
}

#[test]
fn random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut random = Random::new(0x0123_4567_89ab_cdef);
    for _ in 0..5_000 {
        let bytes: Vec<u8> = (0..random.below(120))
            .map(|_| {
                // Mostly printable ASCII, with newlines and anything else mixed in.
                match random.below(10) {
                    0 => b'\n',
                    1 => u8::try_from(random.below(256)).unwrap(),
                    _ => u8::try_from(32 + random.below(95)).unwrap(),
                }
            })
            .collect();
        exercise(&String::from_utf8_lossy(&bytes), dir.path());
    }
}

#[test]
fn hand_picked_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "",
        "\u{feff}",
        "\\",
        "\\\\\\",
        "#",
        " \\\n\\\n\\",
        "-",
        "--",
        "--=",
        "-r",
        "-r ''",
        "-r \"\"",
        "-r .",
        "-r /",
        "-c ./",
        "--hash=",
        "a==1 --hash=:",
        "a==1 --hash=sha256:",
        "a==1 --hash=sha256:é",
        &format!("a==1 --hash=sha256:{}é", &HEX[..63]),
        "a @",
        "a @ ",
        "a @ #",
        "a @ ;",
        "@",
        "[",
        "a[",
        "a[]==1",
        "a==1;",
        "a==1 ;",
        "a==1 ; (",
        "a==1 ; python_version < '3' and (os_name == 'nt' or",
        "a==1 ; python_version ~= '3'",
        "a==1 ; python_version ~= 'x'",
        "a==1 ; python_version == '3.*' or python_full_version > '99999999999999999999999'",
        "a==1 ; 'a' < 'b'",
        "a==1 ; extra == 'x' or extra != 'y'",
        "a==99999999999999999999999999999999999999",
        "a==1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0",
        "a===",
        "a===\u{0}",
        "./",
        ".whl",
        "-1.0-py3-none-any.whl",
        "a-1.0-py3-none-any.whl[",
        "a-1.0-py3-none-any.whl[]",
        "https://",
        "https://@/a-1-py3-none-any.whl#sha256=",
        "https://h/a-1-py3-none-any.whl#sha256=zz",
        "https://h/a-1-py3-none-any.whl#=",
        "C:",
        "C:\\a-1.0-py3-none-any.whl",
        "${",
        "${}",
        "${PATH",
        "\r\r\r",
        "a==1 \"",
        "a==1 ; sys_platform == \"",
        "a==1 ; sys_platform == '--x' --hash=sha256:00",
    ] {
        exercise(text, dir.path());
    }
}

/// pep508_rs 0.9.2 panics on these (a name or extra ending in a separator, followed by more
/// text); cairn refuses them before pep508 sees them.
#[test]
fn names_that_crash_pep508_rs_are_refused() {
    for text in [
        "foo- ==1",
        "foo_[x]==1",
        "foo. @ https://h/foo-1-py3-none-any.whl",
        "foo[bar-]==1",
        "foo[bar_,baz]==1",
        "foo[ bar. ]==1",
        "./foo-1.0-py3-none-any.whl[bar-]",
    ] {
        let error = parse_requirement_arg(text).unwrap_err().to_string();
        assert!(
            error.contains("must end with a letter or digit"),
            "{text}: {error}"
        );
        let dir = tempfile::tempdir().unwrap();
        let error = RequirementsFile::parse(
            &format!("six==1.17.0\n{text}\n"),
            &dir.path().join("r.txt"),
            &linux_cpython("3.11.7"),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("r.txt:2: "), "{text}: {error}");
    }
}
