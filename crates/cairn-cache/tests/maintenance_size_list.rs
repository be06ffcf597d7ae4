//! `cache_size` and `list` on caches of real wheels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod maintenance_support;

use cairn_cache::ArchiveManifest;
use cairn_cache::maintenance::ArchiveSizes::{Recorded, Walked};
use cairn_cache::maintenance::{self, SourceKind};
use maintenance_support::{Fixture, allocated, du};

#[test]
fn size_counts_what_du_counts() {
    let fixture = Fixture::new();
    for (name, size) in [("alpha", 10_000), ("beta", 200_000), ("gamma", 1)] {
        let wheel = fixture.wheel(name, "1.0", &[(&format!("{name}/data.bin"), size)]);
        fixture.fetch(&wheel);
    }
    let usage = maintenance::cache_size(&fixture.shared(), Recorded).unwrap();
    assert_eq!(usage.bytes, du(&fixture.root));
    // Three archives of four files (the data, METADATA, WHEEL, RECORD), their manifests,
    // three pointers, the lock file, the root's tag files and the lock files of unpacking.
    assert!(usage.files >= 3 * 4 + 3 + 3 + 3, "{usage:?}");
}

#[test]
fn size_reads_the_usage_recorded_in_manifests_and_walks_archives_without_one() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/data.bin", 30_000)]);
    let beta = fixture.wheel("beta", "1.0", &[("beta/data.bin", 70_000)]);
    let alpha = fixture.fetch(&alpha);
    let beta = fixture.fetch(&beta);
    let exact = maintenance::cache_size(&fixture.shared(), Walked).unwrap();
    let manifest_of = |archive: &std::path::Path| {
        let mut name = archive.as_os_str().to_owned();
        name.push(".manifest");
        std::path::PathBuf::from(name)
    };

    // The fetch recorded what the archive takes, and size reads exactly that.
    let alpha_manifest = manifest_of(alpha.archive.path());
    let text = std::fs::read_to_string(&alpha_manifest).unwrap();
    let recorded = ArchiveManifest::parse(&text).unwrap().usage().unwrap();
    assert_eq!(recorded.bytes, du(alpha.archive.path()));

    // A record that says more is believed by `Recorded` (so it is read, not recomputed)...
    let inflated = ArchiveManifest::parse(&text)
        .unwrap()
        .with_usage(maintenance::Usage {
            bytes: recorded.bytes + 1_000_000,
            files: recorded.files,
        });
    std::fs::write(&alpha_manifest, inflated.to_text()).unwrap();
    let trusted = maintenance::cache_size(&fixture.shared(), Recorded).unwrap();
    // ...within the manifest's own size, which may have grown by a few bytes.
    assert!(
        trusted.bytes >= exact.bytes + 1_000_000,
        "{trusted:?} {exact:?}"
    );
    assert!(
        trusted.bytes <= exact.bytes + 1_000_000 + 4096,
        "{trusted:?} {exact:?}"
    );
    // ...and ignored by `Walked`.
    assert_eq!(
        maintenance::cache_size(&fixture.shared(), Walked).unwrap(),
        exact
    );

    // A manifest of the first format has no usage, and a missing one none either: those
    // archives are walked, and the total is exact again.
    let entries = ArchiveManifest::parse(&text).unwrap().entries().to_vec();
    let first_format = ArchiveManifest::new(entries).unwrap().to_text();
    assert!(
        first_format.starts_with("cairn-manifest-1\n"),
        "{first_format}"
    );
    std::fs::write(&alpha_manifest, first_format).unwrap();
    std::fs::remove_file(manifest_of(beta.archive.path())).unwrap();
    let walked = maintenance::cache_size(&fixture.shared(), Recorded).unwrap();
    assert_eq!(
        walked,
        maintenance::cache_size(&fixture.shared(), Walked).unwrap()
    );
    assert_eq!(walked.bytes, du(&fixture.root));
}

#[test]
fn hard_links_are_counted_once() {
    let fixture = Fixture::new();
    let wheel = fixture.wheel("alpha", "1.0", &[("alpha/data.bin", 100_000)]);
    let fetched = fixture.fetch(&wheel);
    let data = fetched.archive.path().join("alpha").join("data.bin");
    let before = maintenance::cache_size(&fixture.shared(), Recorded).unwrap();

    // An installed environment outside the cache shares the inode: the cache is no bigger.
    let outside = fixture.work.path().join("installed-data.bin");
    std::fs::hard_link(&data, &outside).unwrap();
    assert_eq!(
        maintenance::cache_size(&fixture.shared(), Recorded).unwrap(),
        before
    );

    assert_eq!(
        maintenance::cache_size(&fixture.shared(), Walked).unwrap(),
        before
    );

    // A second name inside the cache costs only the directory that holds it, when every
    // archive is walked: a recorded usage knows no inodes to match against.
    let elsewhere = fixture.root.join("unknown-dir");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::hard_link(&data, elsewhere.join("copy.bin")).unwrap();
    let after = maintenance::cache_size(&fixture.shared(), Walked).unwrap();
    assert_eq!(after.bytes, before.bytes + allocated(&elsewhere));
    assert_eq!(after.files, before.files + 1);
    assert_eq!(after.bytes, du(&fixture.root));
}

#[test]
fn list_has_one_row_per_pointer_with_the_archive_size() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/data.bin", 50_000)]);
    let beta = fixture.wheel("Beta_Pkg", "2.0", &[("beta/data.bin", 10)]);
    // The same bytes at a second path: a second pointer to the same archive.
    let copies = fixture.work.path().join("copies");
    std::fs::create_dir(&copies).unwrap();
    let alpha_copy = copies.join(alpha.file_name().unwrap());
    std::fs::copy(&alpha, &alpha_copy).unwrap();
    let fetched_alpha = fixture.fetch(&alpha);
    fixture.fetch(&alpha_copy);
    let fetched_beta = fixture.fetch(&beta);

    let rows = maintenance::list(&fixture.shared(), &[]).unwrap();
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|row| (row.name.as_str(), row.version.as_str(), row.source.as_str()))
        .collect();
    let mut sources = [
        alpha.display().to_string(),
        alpha_copy.display().to_string(),
    ];
    sources.sort();
    let beta_source = beta.display().to_string();
    assert_eq!(
        summary,
        [
            ("alpha", "1.0", sources[0].as_str()),
            ("alpha", "1.0", sources[1].as_str()),
            ("Beta_Pkg", "2.0", beta_source.as_str()),
        ]
    );
    let alpha_bytes = du(fetched_alpha.archive.path());
    assert_eq!(rows[0].archive, fetched_alpha.archive.digest().as_str());
    assert_eq!(rows[0].archive, rows[1].archive);
    assert_eq!(rows[0].archive_bytes, Some(alpha_bytes));
    assert_eq!(rows[1].archive_bytes, Some(alpha_bytes));
    assert_eq!(rows[2].archive_bytes, Some(du(fetched_beta.archive.path())));
    assert!(rows.iter().all(|row| row.kind == SourceKind::Path));
    assert!(
        rows.iter()
            .all(|row| row.pointer.starts_with(&fixture.root))
    );
    let now = maintenance_support::now();
    assert!(rows.iter().all(|row| now.abs_diff(row.last_used) < 600));
}

#[test]
fn list_filters_by_normalised_package_name() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/a.py", 10)]);
    let beta = fixture.wheel("Beta_Pkg", "2.0", &[("beta/b.py", 10)]);
    fixture.fetch(&alpha);
    fixture.fetch(&beta);
    let check = |filter: &[&str], expected: &[&str]| {
        let filter: Vec<String> = filter.iter().map(|name| (*name).to_owned()).collect();
        let rows = maintenance::list(&fixture.shared(), &filter).unwrap();
        let names: Vec<&str> = rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(names, expected, "{filter:?}");
    };
    check(&["beta-pkg"], &["Beta_Pkg"]);
    check(&["BETA.pkg"], &["Beta_Pkg"]);
    check(&["Alpha", "beta__pkg"], &["alpha", "Beta_Pkg"]);
    check(&["gamma"], &[]);
    check(&[], &["alpha", "Beta_Pkg"]);
}

#[test]
fn a_pointer_whose_archive_is_gone_lists_without_a_size() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/a.py", 10)]);
    let fetched = fixture.fetch(&alpha);
    std::fs::remove_dir_all(fetched.archive.path()).unwrap();
    let row = fixture.row(&alpha);
    assert_eq!(row.archive_bytes, None);
}

#[test]
fn a_symlinked_bucket_is_refused_rather_than_followed() {
    let fixture = Fixture::new();
    let alpha = fixture.wheel("alpha", "1.0", &[("alpha/a.py", 10)]);
    fixture.fetch(&alpha);
    let elsewhere = fixture.work.path().join("elsewhere");
    std::fs::rename(fixture.root.join("archive-v0"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, fixture.root.join("archive-v0")).unwrap();
    let error = maintenance::list(&fixture.shared(), &[]).unwrap_err();
    assert!(
        error.to_string().contains("archive-v0") && error.to_string().contains("symbolic link"),
        "{error}"
    );
}
