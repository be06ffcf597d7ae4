//! Marker environments from real interpreters, and requirements given on the command line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "requirements_fixtures/envs.rs"]
mod envs;

use std::path::Path;
use std::process::Command;

use cairn_cache::Cache;
use cairn_python::requirements::{
    InterpreterMarkers, Location, MarkerEnvironment, MarkerEnvironmentError, RequirementsError,
    RequirementsFile, parse_requirement_arg,
};
use cairn_python::tags::{Interpreter, TagsError};
use envs::{linux_cpython, windows_cpython};

fn python3_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn a_real_interpreter_describes_its_environment() {
    if !python3_available() {
        println!("skipped: python3 is not available");
        return;
    }
    let cache = Cache::temporary().unwrap();
    let interpreter = Interpreter::query(Path::new("python3"), &cache).unwrap();
    let markers = &interpreter.markers;
    let reported = Command::new("python3")
        .args([
            "-c",
            "import os, platform, sys\n\
             print(platform.python_version(), sys.platform, os.path.realpath(sys.executable))",
        ])
        .output()
        .unwrap();
    let reported = String::from_utf8(reported.stdout).unwrap();
    let mut words = reported.trim().splitn(3, ' ');
    let (full, platform, executable) = (
        words.next().unwrap(),
        words.next().unwrap(),
        words.next().unwrap(),
    );
    assert_eq!(markers.python_full_version, full);
    assert_eq!(markers.sys_platform, platform);
    assert!(full.starts_with(&format!("{}.", markers.python_version)));
    // The binary itself, not the `PATH` entry (a pyenv shim, say) it was found through.
    assert_eq!(interpreter.executable, Path::new(executable));

    let env = interpreter.marker_environment().unwrap();
    assert_eq!(env.sys_platform(), platform);
    let file = RequirementsFile::parse(
        &format!(
            "six==1.17.0 ; python_full_version == '{full}' and sys_platform == '{platform}'\n\
             idna==3.20 ; python_full_version != '{full}'\n"
        ),
        Path::new("r.txt"),
        &env,
    )
    .unwrap();
    assert_eq!(file.requirements.len(), 1);
    assert_eq!(file.requirements[0].normalized, "six");

    // The cached answer gives the same environment.
    let again = Interpreter::query(Path::new("python3"), &cache).unwrap();
    assert_eq!(again.markers, interpreter.markers);
}

#[test]
fn querying_something_that_is_not_python_fails_clearly() {
    let cache = Cache::temporary().unwrap();
    let error = Interpreter::query(Path::new("/nonexistent/python3"), &cache).unwrap_err();
    assert!(matches!(error, TagsError::NotFound { .. }), "{error:?}");
    assert!(
        error.to_string().contains("/nonexistent/python3"),
        "{error}"
    );

    // `false` runs and exits non-zero, like an interpreter whose script failed.
    let error = Interpreter::query(Path::new("false"), &cache).unwrap_err();
    assert!(matches!(error, TagsError::QueryFailed { .. }), "{error:?}");

    // `true` runs, succeeds and prints nothing: not a description.
    let error = Interpreter::query(Path::new("true"), &cache).unwrap_err();
    assert!(matches!(error, TagsError::BadAnswer { .. }), "{error:?}");
}

#[test]
fn descriptions_from_json_and_their_versions() {
    let json = r##"{"implementation_name": "pypy", "implementation_version": "7.3.17",
        "os_name": "posix", "platform_machine": "aarch64",
        "platform_python_implementation": "PyPy", "platform_release": "6.1.0",
        "platform_system": "Linux", "platform_version": "#1 SMP", "python_full_version": "3.10.14",
        "python_version": "3.10", "sys_platform": "linux"}"##;
    let markers = InterpreterMarkers::from_json(json).unwrap();
    let env = MarkerEnvironment::new(&markers).unwrap();
    assert_eq!(env.python_full_version(), "3.10.14");
    let file = RequirementsFile::parse(
        "a==1 ; implementation_name == 'pypy' and platform_machine == 'aarch64'\n\
         b==1 ; platform_python_implementation == 'CPython'\n\
         c==1 ; python_version >= '3.10' and python_version < '3.11'\n",
        Path::new("r.txt"),
        &env,
    )
    .unwrap();
    let names: Vec<_> = file.requirements.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "c"]);

    // A development build's `3.14.0a1+` is accepted; `python_version` is derived when absent.
    let mut dev = markers.clone();
    dev.python_full_version = "3.14.0a1+".into();
    dev.python_version = String::new();
    let env = MarkerEnvironment::new(&dev).unwrap();
    assert_eq!(env.python_full_version(), "3.14.0a1");
    let file = RequirementsFile::parse(
        "a==1 ; python_version == '3.14'\nb==1 ; python_full_version >= '3.14.0'\n",
        Path::new("r.txt"),
        &env,
    )
    .unwrap();
    let names: Vec<_> = file.requirements.iter().map(|r| r.name.as_str()).collect();
    // pip says `python_version == '3.14'` on 3.14.0a1; the release-only comparison also counts
    // it as 3.14.0 (see `MarkerEnvironment`).
    assert_eq!(names, ["a", "b"]);

    let mut broken = markers;
    broken.python_full_version = "three".into();
    let error = MarkerEnvironment::new(&broken).unwrap_err();
    assert!(
        error.to_string().contains("python_full_version `three`"),
        "{error}"
    );

    assert!(matches!(
        InterpreterMarkers::from_json("{\"os_name\": 1}"),
        Err(MarkerEnvironmentError::Json(_))
    ));
}

#[test]
fn command_line_requirements() {
    let six = parse_requirement_arg("six==1.17.0").unwrap();
    assert_eq!(
        (
            six.name.as_str(),
            six.version.as_deref(),
            six.url.as_deref()
        ),
        ("six", Some("1.17.0"), None)
    );
    assert_eq!(six.source, Location::CommandLine);
    assert!(six.hashes.is_empty() && six.marker.is_none());

    let black =
        parse_requirement_arg("Black[D,Jupyter]==26.10.1 ; python_version < '3.12'").unwrap();
    assert_eq!(black.name, "Black");
    assert_eq!(black.normalized, "black");
    assert_eq!(black.extras, ["d", "jupyter"]);
    assert!(black.applies_to(&linux_cpython("3.11.7")));
    assert!(!black.applies_to(&windows_cpython("3.12.4")));

    let hex = "cd".repeat(32);
    let url = format!("https://example.org/demo-1.0-py3-none-any.whl#sha256={hex}");
    for arg in [url.clone(), format!("demo @ {url}")] {
        let demo = parse_requirement_arg(&arg).unwrap();
        assert_eq!(demo.normalized, "demo");
        assert_eq!(demo.url.as_deref(), Some(url.as_str()));
        assert_eq!(demo.hashes.len(), 1);
        assert_eq!(demo.hashes[0].to_hex(), hex);
    }

    let local = parse_requirement_arg("dist/my_pkg-0.1-py3-none-any.whl").unwrap();
    assert_eq!(local.name, "my_pkg");
    assert_eq!(local.normalized, "my-pkg");
    assert_eq!(
        local.url.as_deref(),
        Some("dist/my_pkg-0.1-py3-none-any.whl")
    );

    for arg in [
        "six",
        "six>=1",
        "six==1.*",
        "",
        "==1",
        "six @ ./six.tar.gz",
        "-e .",
    ] {
        let error = parse_requirement_arg(arg).unwrap_err();
        assert!(
            matches!(
                &error,
                RequirementsError::Line {
                    location: Location::CommandLine,
                    ..
                }
            ),
            "{arg}: {error:?}"
        );
        assert!(
            error.to_string().starts_with("command-line argument: "),
            "{error}"
        );
    }
}
