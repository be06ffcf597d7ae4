//! The installer's linker seam: a caller's `Link` sees every linked file, and its failure
//! undoes the install.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod install_support;

use std::ffi::OsStr;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_fs::{Link, LinkDir, LinkError, LinkMode, Linker};
use cairn_install::{InstallError, InstallSettings, Installer};
use cairn_test_support::wheel::WheelBuilder;
use install_support::*;

/// Copies through cairn's own linker, counting the files, and fails on the file named `fail_on`.
#[derive(Debug)]
struct Counting {
    inner: Linker,
    linked: AtomicUsize,
    fail_on: Option<&'static str>,
}

impl Counting {
    fn new(fail_on: Option<&'static str>) -> Self {
        Self {
            inner: Linker::new(LinkMode::Copy),
            linked: AtomicUsize::new(0),
            fail_on,
        }
    }
}

impl Link for Counting {
    fn mode(&self) -> LinkMode {
        self.inner.mode()
    }

    fn link_at(
        &self,
        src_dir: &LinkDir,
        src: &OsStr,
        dst_dir: &LinkDir,
        dst: &OsStr,
    ) -> Result<LinkMode, LinkError> {
        if self.fail_on.is_some_and(|name| src == name) {
            return Err(LinkError::Link {
                mode: LinkMode::Copy,
                src: src_dir.path().join(src),
                dst: dst_dir.path().join(dst),
                source: io::Error::other("refused by the test's linker"),
            });
        }
        self.linked.fetch_add(1, Ordering::Relaxed);
        self.inner.link_at(src_dir, src, dst_dir, dst)
    }
}

fn demo() -> WheelBuilder {
    WheelBuilder::new("demo-pkg", "1.0")
        .file("demo_pkg/__init__.py", "x = 1\n")
        .file("demo_pkg/sub/mod.py", "y = 2\n")
}

#[test]
fn a_callers_linker_links_every_file() {
    let work = Workspace::new();
    let wheel = work.unpack(&demo());
    let target = work.target("site");
    let linker = Arc::new(Counting::new(None));
    let installer =
        Installer::with_linker(&target, InstallSettings::new(python()), linker.clone()).unwrap();
    let report = installer.install(&[wheel.request()]).unwrap();
    let installed = &report.wheels[0];
    assert_eq!(installed.mode, LinkMode::Copy);
    // Two package files plus METADATA and WHEEL go through the linker.
    assert_eq!(installed.files_linked, 4);
    assert_eq!(linker.linked.load(Ordering::Relaxed), 4);
    assert_eq!(read(target.join("demo_pkg/sub/mod.py")), "y = 2\n");
}

#[test]
fn a_failing_linker_leaves_the_target_as_it_was() {
    let work = Workspace::new();
    let wheel = work.unpack(&demo());
    let target = work.target("site");
    std::fs::create_dir_all(target.join("other")).unwrap();
    std::fs::write(target.join("other/keep.py"), "keep\n").unwrap();
    let before = snapshot(&target);
    let linker = Arc::new(Counting::new(Some("mod.py")));
    let installer =
        Installer::with_linker(&target, InstallSettings::new(python()), linker).unwrap();
    let error = installer.install(&[wheel.request()]).unwrap_err();
    assert!(matches!(error, InstallError::Link { .. }), "{error:?}");
    assert_eq!(snapshot(&target), before);
}
