//! Installing with the archive's manifest: the file list comes from it instead of a walk of the
//! archive, and a manifest that cannot be used falls back to the walk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod install_support;

use cairn_fs::LinkMode;
use cairn_install::{InstallError, InstallRequest};
use cairn_test_support::wheel::WheelBuilder;
use install_support::*;

fn demo() -> WheelBuilder {
    WheelBuilder::new("demo-pkg", "1.0")
        .file("demo_pkg/__init__.py", "VERSION = '1.0'\n")
        .file("demo_pkg/sub/mod.py", "def answer():\n    return 42\n")
        .data("scripts", "demo-sh", "#!/bin/sh\necho sh-script\n")
}

/// Adds a file to the unpacked archive that neither its manifest nor its `RECORD` lists: a
/// walk finds it (and installs it, hashing it), the manifest does not.
fn with_unlisted_file(wheel: &Unpacked) -> &Unpacked {
    std::fs::write(wheel.archive.join("demo_pkg/unlisted.py"), "X = 1\n").unwrap();
    wheel
}

fn install_request(
    target: &std::path::Path,
    mode: LinkMode,
    request: InstallRequest<'_>,
) -> Result<(), InstallError> {
    installer(target, mode).install(&[request]).map(drop)
}

#[test]
fn the_file_list_comes_from_the_manifest() {
    for mode in MODES {
        let work = Workspace::new();
        let wheel = work.unpack(&demo());
        with_unlisted_file(&wheel);
        let target = work.target("site");
        install_request(&target, mode, wheel.request_with_manifest()).unwrap();

        assert!(!target.join("demo_pkg/unlisted.py").exists(), "{mode}");
        assert_eq!(
            read(target.join("demo_pkg/sub/mod.py")),
            "def answer():\n    return 42\n"
        );
        assert!(target.join("bin/demo-sh").is_file(), "{mode}");
        let record = checked_record(&target, &wheel.dist_info());
        assert!(
            !record.iter().any(|path| path.contains("unlisted")),
            "{record:?}"
        );

        // The same archive listed by a walk: the unlisted file is found and installed.
        let walked = work.target("walked");
        install_request(&walked, mode, wheel.request()).unwrap();
        assert!(walked.join("demo_pkg/unlisted.py").is_file(), "{mode}");
    }
}

#[test]
fn a_file_the_manifest_lists_but_the_archive_lacks_is_refused() {
    for mode in MODES {
        let work = Workspace::new();
        let wheel = work.unpack(&demo());
        std::fs::remove_file(wheel.archive.join("demo_pkg/sub/mod.py")).unwrap();
        let target = work.target("site");
        let error = install_request(&target, mode, wheel.request_with_manifest()).unwrap_err();
        assert!(
            matches!(error, InstallError::MissingFile { .. }),
            "{mode}: {error}"
        );
        let message = error.to_string();
        for expected in [
            "demo_pkg/sub/mod.py",
            "demo_pkg-1.0-py3-none-any.whl",
            "remove it",
        ] {
            assert!(message.contains(expected), "{mode}: {message}");
        }
        assert!(
            snapshot(&target).is_empty(),
            "{mode}: {:?}",
            snapshot(&target)
        );
    }
}

#[test]
fn an_unusable_manifest_falls_back_to_listing_the_archive() {
    let work = Workspace::new();
    let wheel = work.unpack(&demo());
    with_unlisted_file(&wheel);

    // Missing, as for an archive unpacked before cairn wrote manifests.
    std::fs::remove_file(&wheel.manifest).unwrap();
    let missing = work.target("missing");
    install_request(&missing, LinkMode::Hardlink, wheel.request_with_manifest()).unwrap();
    assert!(missing.join("demo_pkg/unlisted.py").is_file());

    // Damaged: truncated, then a path that leaves the archive.
    for text in [
        "cairn-manifest-2\nusage 1 1\n00000000 0 - demo_pkg/__init__",
        "cairn-manifest-1\n00000000 0 - ../outside.py\n",
    ] {
        std::fs::write(&wheel.manifest, text).unwrap();
        let target = work.target("damaged");
        install_request(&target, LinkMode::Hardlink, wheel.request_with_manifest()).unwrap();
        assert!(target.join("demo_pkg/unlisted.py").is_file(), "{text}");
        assert!(target.join("demo_pkg/sub/mod.py").is_file(), "{text}");
        std::fs::remove_dir_all(&target).unwrap();
    }
}
