//! Requirements files cairn refuses, and how the errors name the place and the fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "requirements_fixtures/envs.rs"]
mod envs;

use std::fs;
use std::path::Path;

use cairn_python::requirements::{LineProblem, Location, RequirementsError, RequirementsFile};
use envs::linux_cpython;

const ORIGIN: &str = "/project/requirements.txt";

fn parse(text: &str) -> Result<RequirementsFile, RequirementsError> {
    RequirementsFile::parse(text, Path::new(ORIGIN), &linux_cpython("3.11.7"))
}

fn refused(text: &str) -> RequirementsError {
    match parse(text) {
        Ok(file) => panic!("parsed: {file:?}"),
        Err(error) => error,
    }
}

/// The line problem of a `Line` error, after checking that the message names `file:line`.
fn line_problem(text: &str, line: usize) -> (LineProblem, String) {
    let error = refused(text);
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{ORIGIN}:{line}: ")),
        "{message}"
    );
    match error {
        RequirementsError::Line {
            location, problem, ..
        } => {
            assert_eq!(location, Location::file(Path::new(ORIGIN).into(), line));
            (*problem, message)
        }
        other => panic!("{other:?}"),
    }
}

fn hash(c: char) -> String {
    format!("--hash=sha256:{}", c.to_string().repeat(64))
}

#[test]
fn unpinned_requirements_are_refused_with_their_line() {
    for (requirement, shown) in [
        ("numpy>=2", "numpy>=2"),
        ("numpy", "numpy"),
        ("numpy==2.*", "numpy==2.*"),
        ("numpy >=1.26, <2", "numpy >=1.26, <2"),
        ("numpy~=2.0 ; python_version >= '3.9'", "numpy~=2.0"),
    ] {
        let (problem, message) = line_problem(&format!("six==1.17.0\n\n{requirement}\n"), 3);
        assert!(
            matches!(problem, LineProblem::Unpinned { .. }),
            "{requirement}: {problem:?}"
        );
        assert!(
            message.contains("cairn installs pinned requirements only"),
            "{message}"
        );
        assert!(message.contains(shown), "{message}");
    }
    // A line whose marker is false is skipped before the rule applies.
    parse("numpy>=2 ; sys_platform == 'win32'\n").unwrap();
}

#[test]
fn editable_and_build_options_are_refused_with_a_reason() {
    for text in ["-e .", "--editable ./src/pkg", "--editable=./src/pkg"] {
        let (problem, message) = line_problem(&format!("# c\n{text}\n"), 2);
        assert!(
            matches!(problem, LineProblem::UnsupportedOption { .. }),
            "{text}"
        );
        assert!(message.contains("editable"), "{message}");
        assert!(message.contains("wheels only"), "{message}");
    }
    let (problem, message) = line_problem("--no-binary :all:", 1);
    assert!(matches!(problem, LineProblem::UnsupportedOption { .. }));
    assert!(message.contains("build from source"), "{message}");
    let (problem, _) = line_problem("six==1.17.0 --config-settings key=value", 1);
    assert!(matches!(problem, LineProblem::UnsupportedOption { .. }));
}

#[test]
fn misplaced_unknown_and_incomplete_options() {
    assert!(matches!(
        line_problem("six==1.17.0\n--hash=sha256:00", 2).0,
        LineProblem::HashWithoutRequirement
    ));
    assert!(matches!(
        line_problem("six==1.17.0 -i https://pypi.org/simple", 1).0,
        LineProblem::FileOptionAfterRequirement { .. }
    ));
    assert!(matches!(
        line_problem("--frobnicate", 1).0,
        LineProblem::UnknownOption { .. }
    ));
    assert!(matches!(
        line_problem("\n\n--extra-index-url", 3).0,
        LineProblem::MissingValue { .. }
    ));
    assert!(matches!(
        line_problem("six==1.17.0 --hash", 1).0,
        LineProblem::MissingValue { .. }
    ));
}

#[test]
fn malformed_hashes_name_the_value() {
    for value in ["sha256:xyz", "sha256:abc", "nope:00", "sha256"] {
        let (problem, message) = line_problem(&format!("six==1.17.0 \\\n  --hash={value}\n"), 1);
        assert!(matches!(problem, LineProblem::Hash { .. }), "{value}");
        assert!(message.contains(value), "{message}");
    }
}

#[test]
fn syntax_errors_say_where() {
    for text in [
        "six===",
        "six[==1",
        "six==1.0 ; python_version <",
        "-",
        "six==1 ; foo == 'x'",
    ] {
        let error = refused(&format!("idna==3.20\n{text}"));
        assert!(
            error.to_string().starts_with(&format!("{ORIGIN}:2: ")),
            "{text}: {error}"
        );
    }
}

#[test]
fn wheel_urls_must_be_wheels_of_the_named_project() {
    let (problem, message) =
        line_problem("six @ https://example.org/idna-3.20-py3-none-any.whl", 1);
    assert!(
        matches!(problem, LineProblem::NameMismatch { .. }),
        "{problem:?}"
    );
    assert!(message.contains("idna"), "{message}");
    // A source distribution is a valid reference (built on install), but it too must be of
    // the named project; anything else that is not a wheel is refused.
    let (problem, _) = line_problem("six @ https://example.org/idna-3.20.tar.gz", 1);
    assert!(
        matches!(problem, LineProblem::NameMismatch { .. }),
        "{problem:?}"
    );
    let (problem, _) = line_problem("https://example.org/six-1.17.0.egg", 1);
    assert!(matches!(problem, LineProblem::Source(_)), "{problem:?}");
    let (problem, _) = line_problem("six @ ftp://example.org/six-1.17.0.tar.gz", 1);
    assert!(matches!(problem, LineProblem::Source(_)), "{problem:?}");
    let (problem, _) = line_problem("six @ ftp://example.org/six-1.17.0-py3-none-any.whl", 1);
    assert!(matches!(problem, LineProblem::Source(_)), "{problem:?}");
}

#[test]
fn credentials_never_appear_in_errors() {
    let message =
        refused("-i https://__token__:s3cret@example.org/simple\n-i https://other/simple")
            .to_string();
    assert!(!message.contains("s3cret"), "{message}");
    assert!(
        message.contains("https://****@example.org/simple"),
        "{message}"
    );
    let (_, message) = line_problem("six>=1 @ https://user:s3cret@example.org/six.whl", 1);
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn conflicting_pins_name_both_lines() {
    let error = refused("six==1.16.0\nidna==3.20\n\nSix==1.17.0\n");
    let message = error.to_string();
    assert!(
        matches!(&error, RequirementsError::ConflictingPins { name, .. } if &**name == "six"),
        "{error:?}"
    );
    assert!(message.contains(&format!("{ORIGIN}:1")), "{message}");
    assert!(message.contains(&format!("{ORIGIN}:4")), "{message}");
    assert!(
        message.contains("==1.16.0") && message.contains("==1.17.0"),
        "{message}"
    );

    let error = refused("demo==1.0\ndemo @ https://example.org/demo-1.0-py3-none-any.whl\n");
    assert!(
        matches!(error, RequirementsError::ConflictingPins { .. }),
        "{error:?}"
    );
}

#[test]
fn identical_pins_merge_their_extras_and_hashes() {
    let file = parse(&format!(
        "six==1.17.0 {} {}\nsix[a]==1.17.0.0 {} {}\n",
        hash('a'),
        hash('b'),
        hash('b'),
        hash('c')
    ))
    .unwrap();
    assert_eq!(file.requirements.len(), 1);
    let six = &file.requirements[0];
    assert_eq!(six.extras, ["a"]);
    assert_eq!(
        six.hashes.len(),
        1,
        "only the common digest is acceptable to both"
    );
    assert_eq!(six.hashes[0].to_hex(), "b".repeat(64));

    let error = refused(&format!(
        "six==1.17.0 {}\nsix==1.17.0 {}\n",
        hash('a'),
        hash('b')
    ));
    assert!(
        matches!(error, RequirementsError::DisjointHashes { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&format!("{ORIGIN}:2")),
        "{error}"
    );
}

#[test]
fn two_different_index_urls_are_refused() {
    let error = refused(
        "-i https://a.example.org/simple\nsix==1.17.0\n--index-url https://b.example.org/simple\n",
    );
    let message = error.to_string();
    assert!(matches!(
        error,
        RequirementsError::ConflictingIndexUrls { .. }
    ));
    assert!(
        message.contains(&format!("{ORIGIN}:1")) && message.contains(&format!("{ORIGIN}:3")),
        "{message}"
    );
}

#[test]
fn hash_mode_needs_a_hash_on_every_requirement() {
    let file = parse(&format!(
        "six==1.17.0 {}\nidna==3.20\nattrs==26.1.0 {}\n",
        hash('a'),
        hash('b')
    ))
    .unwrap();
    assert!(file.hash_checking);
    let error = file.check_hash_mode().unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{ORIGIN}:2: `idna==3.20` has no --hash")),
        "{message}"
    );
    assert!(
        message.contains(&format!("turned on at {ORIGIN}:1")),
        "{message}"
    );

    // `--require-hashes` turns the mode on without any hash.
    let file = parse("--require-hashes\nsix==1.17.0\n").unwrap();
    assert!(file.hash_checking);
    assert!(matches!(
        file.check_hash_mode(),
        Err(RequirementsError::MissingHash { .. })
    ));

    // A wheel URL's fragment counts as its hash.
    let file = parse(&format!(
        "six==1.17.0 {}\ndemo @ https://example.org/demo-1.0-py3-none-any.whl#sha256={}\n",
        hash('a'),
        "c".repeat(64)
    ))
    .unwrap();
    file.check_hash_mode().unwrap();

    // A line without a hash stays an offence even when an identical line has one.
    let file = parse(&format!("six==1.17.0 {}\nsix==1.17.0\n", hash('a'))).unwrap();
    assert_eq!(file.requirements[0].hashes.len(), 1);
    let message = file.check_hash_mode().unwrap_err().to_string();
    assert!(message.starts_with(&format!("{ORIGIN}:2:")), "{message}");

    // Without any hash, the mode is off.
    parse("six==1.17.0\n").unwrap().check_hash_mode().unwrap();
}

#[test]
fn include_cycles_are_reported_with_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "six==1.17.0\n-r b.txt\n").unwrap();
    fs::write(dir.path().join("b.txt"), "# b\n-r ./c.txt\n").unwrap();
    fs::write(dir.path().join("c.txt"), "-c a.txt\n").unwrap();
    let error =
        RequirementsFile::read(&dir.path().join("a.txt"), &linux_cpython("3.11.7")).unwrap_err();
    let message = error.to_string();
    let RequirementsError::IncludeCycle { chain, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(chain.len(), 3, "{message}");
    assert!(message.contains("a.txt:2 -> "), "{message}");
    assert!(message.contains("b.txt:2 -> "), "{message}");
    assert!(message.contains("c.txt:1 -> "), "{message}");

    fs::write(dir.path().join("self.txt"), "-r self.txt\n").unwrap();
    let error =
        RequirementsFile::read(&dir.path().join("self.txt"), &linux_cpython("3.11.7")).unwrap_err();
    assert!(matches!(&error, RequirementsError::IncludeCycle { chain, .. } if chain.len() == 1));

    // The same file twice, not in a cycle, is fine.
    fs::write(dir.path().join("common.txt"), "six==1.17.0\n").unwrap();
    fs::write(dir.path().join("x.txt"), "-r common.txt\n").unwrap();
    fs::write(dir.path().join("top.txt"), "-r common.txt\n-r x.txt\n").unwrap();
    let file =
        RequirementsFile::read(&dir.path().join("top.txt"), &linux_cpython("3.11.7")).unwrap();
    assert_eq!(file.requirements.len(), 1);
}

#[test]
fn missing_and_remote_includes() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("top.txt");
    fs::write(&top, "six==1.17.0\n-r missing.txt\n").unwrap();
    let error = RequirementsFile::read(&top, &linux_cpython("3.11.7")).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, RequirementsError::Read { .. }));
    assert!(message.contains("missing.txt"), "{message}");
    assert!(
        message.contains(&format!("included from {}:2", top.display())),
        "{message}"
    );

    let error = RequirementsFile::read(&dir.path().join("absent.txt"), &linux_cpython("3.11.7"))
        .unwrap_err();
    assert!(error.to_string().contains("absent.txt"), "{error}");

    let (problem, _) = line_problem("-r https://example.org/requirements.txt", 1);
    assert!(matches!(problem, LineProblem::UnsupportedOption { .. }));
}

#[test]
fn files_that_are_not_utf8_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.txt");
    fs::write(&path, b"six==1.17.0\n# caf\xe9\n").unwrap();
    let error = RequirementsFile::read(&path, &linux_cpython("3.11.7")).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:2: ", path.display())),
        "{error}"
    );
}

#[test]
fn constraints_check_pins_but_add_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("constraints.txt"),
        format!(
            "numpy<3\nscipy==1.17.1 ; python_version >= '3.10'\nnot-installed<1\n\
             attrs==26.1.0 {} {}\n-r more-constraints.txt\n",
            hash('a'),
            hash('b')
        ),
    )
    .unwrap();
    fs::write(dir.path().join("more-constraints.txt"), "idna>=3\n").unwrap();
    let top = dir.path().join("requirements.txt");
    fs::write(
        &top,
        format!(
            "-c constraints.txt\nnumpy==2.4.6\nscipy==1.17.1\nattrs==26.1.0 {} {}\nidna==3.20\n",
            hash('b'),
            hash('c')
        ),
    )
    .unwrap();
    let file = RequirementsFile::read(&top, &linux_cpython("3.11.7")).unwrap();
    let names: Vec<_> = file
        .requirements
        .iter()
        .map(|r| r.normalized.as_str())
        .collect();
    assert_eq!(names, ["numpy", "scipy", "attrs", "idna"]);
    // The constraint's hashes narrow the requirement's to the common one.
    assert_eq!(file.requirements[2].hashes.len(), 1);
    assert_eq!(file.requirements[2].hashes[0].to_hex(), "b".repeat(64));

    fs::write(&top, "-c constraints.txt\nnumpy==3.0.0\n").unwrap();
    let error = RequirementsFile::read(&top, &linux_cpython("3.11.7")).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, RequirementsError::ConstraintViolated { .. }),
        "{error:?}"
    );
    assert!(
        message.contains(&format!("{}:2", top.display())),
        "{message}"
    );
    assert!(message.contains("constraints.txt:1"), "{message}");

    fs::write(&top, "-c more-constraints.txt\nidna==2.10\n").unwrap();
    let error = RequirementsFile::read(&top, &linux_cpython("3.11.7")).unwrap_err();
    assert!(
        matches!(error, RequirementsError::ConstraintViolated { .. }),
        "{error:?}"
    );
}
