//! The `METADATA` of an unpacked wheel: finding its `.dist-info` directory as pip does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use cairn_python::metadata::{DistInfoError, MetadataError, read_dist_info_metadata};
use cairn_types::WheelFilename;

const METADATA: &str = "Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0\n\
                        Requires-Dist: baz>=2\n\nDescription.\n";

fn wheel(name: &str) -> WheelFilename {
    name.parse().unwrap()
}

fn write(root: &Path, relative: &str, contents: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

#[test]
fn finds_the_dist_info_directory_whatever_its_spelling() {
    for dist_info in [
        "foo_bar-1.0.dist-info",
        "Foo.Bar-1.0.dist-info",
        "foo_bar-1.0.0.dist-info",
        "FOO_BAR-1.0.DIST-INFO",
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "foo_bar/__init__.py", "");
        write(dir.path(), &format!("{dist_info}/METADATA"), METADATA);
        // Another project's metadata beside it (a wheel that vendors one) is not chosen.
        write(dir.path(), "other-1.0.dist-info/METADATA", "junk");
        let metadata = read_dist_info_metadata(dir.path(), &wheel("foo_bar-1.0-py3-none-any.whl"))
            .unwrap_or_else(|error| panic!("{dist_info}: {error}"));
        assert_eq!(metadata.name.as_ref(), "foo-bar");
        assert_eq!(metadata.requires_dist.len(), 1);
    }
}

#[test]
fn no_matching_directory_lists_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "foo_bar-2.0.dist-info/METADATA", METADATA);
    write(
        dir.path(),
        "foo_bar-1.0.dist-info",
        "a file, not a directory",
    );
    let error =
        read_dist_info_metadata(dir.path(), &wheel("foo_bar-1.0-py3-none-any.whl")).unwrap_err();
    let DistInfoError::NoDistInfo { found, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(found, &["foo_bar-2.0.dist-info"]);
    let text = error.to_string();
    assert!(
        text.contains("no `.dist-info` directory for foo_bar-1.0 (found: foo_bar-2.0.dist-info)"),
        "{text}"
    );

    let empty = tempfile::tempdir().unwrap();
    let error =
        read_dist_info_metadata(empty.path(), &wheel("foo_bar-1.0-py3-none-any.whl")).unwrap_err();
    assert!(error.to_string().contains("(found: none)"), "{error}");
}

#[test]
fn several_matching_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "foo_bar-1.0.dist-info/METADATA", METADATA);
    write(dir.path(), "Foo.Bar-1.0.0.dist-info/METADATA", METADATA);
    let error =
        read_dist_info_metadata(dir.path(), &wheel("foo_bar-1.0-py3-none-any.whl")).unwrap_err();
    let DistInfoError::SeveralDistInfo { found, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(found, &["Foo.Bar-1.0.0.dist-info", "foo_bar-1.0.dist-info"]);
}

#[test]
fn missing_invalid_and_inconsistent_metadata_are_told_apart() {
    let filename = wheel("foo_bar-1.0-py3-none-any.whl");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("foo_bar-1.0.dist-info")).unwrap();
    let error = read_dist_info_metadata(dir.path(), &filename).unwrap_err();
    assert!(matches!(error, DistInfoError::Read { .. }), "{error:?}");

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "foo_bar-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: foo-bar\n",
    );
    let error = read_dist_info_metadata(dir.path(), &filename).unwrap_err();
    let DistInfoError::Invalid { source, path } = &error else {
        panic!("{error:?}");
    };
    assert!(matches!(
        source,
        MetadataError::Missing { field: "Version" }
    ));
    assert!(path.ends_with("foo_bar-1.0.dist-info/METADATA"));

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "foo_bar-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: foo-bar\nVersion: 1.1\n",
    );
    let error = read_dist_info_metadata(dir.path(), &filename).unwrap_err();
    assert!(
        matches!(
            error,
            DistInfoError::Inconsistent {
                field: "Version",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("says `Version: 1.1`"), "{error}");

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "foo_bar-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: other\nVersion: 1.0\n",
    );
    let error = read_dist_info_metadata(dir.path(), &filename).unwrap_err();
    assert!(
        matches!(error, DistInfoError::Inconsistent { field: "Name", .. }),
        "{error:?}"
    );
}

#[test]
fn a_directory_that_cannot_be_listed_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = read_dist_info_metadata(
        &dir.path().join("absent"),
        &wheel("foo_bar-1.0-py3-none-any.whl"),
    )
    .unwrap_err();
    assert!(matches!(error, DistInfoError::List { .. }), "{error:?}");
}
