//! Installing into an environment's scheme (a virtual environment: `site-packages`, `bin`,
//! `include/site/…`, data at the prefix) instead of a target directory: files land where the
//! scheme says, `RECORD` rows are relative to `site-packages` as pip writes them, the
//! environment's own interpreter runs the scripts, and upgrades and uninstalls never remove the
//! scheme's directories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod install_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use cairn_install::{InstallSettings, Installer, LinkMode, Linker, PackageName, Scheme};
use cairn_test_support::venv::{self, Pip};
use cairn_test_support::wheel::WheelBuilder;
use install_support::*;

/// A virtual environment made by the machine's `python3 -m venv --without-pip`, with the
/// scheme `sysconfig` gives it.
struct Venv {
    dir: PathBuf,
    site: PathBuf,
    version: String,
}

impl Venv {
    fn new(dir: &Path) -> Self {
        venv::create(dir, Pip::Without);
        let output = Command::new(dir.join("bin/python"))
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output()
            .unwrap();
        let version = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        Self {
            site: dir.join(format!("lib/python{version}/site-packages")),
            dir: dir.to_path_buf(),
            version,
        }
    }

    fn python(&self) -> PathBuf {
        self.dir.join("bin/python")
    }

    fn scheme(&self) -> Scheme {
        Scheme {
            purelib: self.site.clone(),
            platlib: self.site.clone(),
            scripts: self.dir.join("bin"),
            headers: self
                .dir
                .join(format!("include/site/python{}", self.version)),
            data: self.dir.clone(),
        }
    }

    fn installer(&self, scheme: &Scheme) -> Installer {
        let settings = InstallSettings::new(self.python());
        let linker = Arc::new(Linker::new(LinkMode::Hardlink));
        Installer::with_scheme(scheme, settings, linker).unwrap()
    }
}

fn demo(version: &str) -> WheelBuilder {
    WheelBuilder::new("Demo_App", version)
        .file("demo_app/__init__.py", format!("VERSION = '{version}'\n"))
        .file(
            "demo_app/cli.py",
            "import sys\nfrom demo_app import VERSION\ndef main():\n    print(VERSION, sys.prefix)\n",
        )
        .entry_points("[console_scripts]\ndemo-app = demo_app.cli:main\n")
        .data("scripts", "demo-raw", "#!python\nprint('raw')\n")
        .data("data", "share/demo/readme.txt", format!("{version}\n"))
        .data("headers", "demo.h", "int demo;\n")
}

fn staging_dirs(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".cairn-install-"))
        .collect()
}

#[test]
fn a_venv_install_puts_each_kind_of_file_where_its_scheme_says() {
    let work = Workspace::new();
    let venv = Venv::new(&work.target("venv"));
    let installer = venv.installer(&venv.scheme());
    assert_eq!(installer.target(), venv.dir.canonicalize().unwrap());

    let first = work.unpack(&demo("1.0"));
    installer.install(&[first.request()]).unwrap();

    let site = &venv.site;
    assert_eq!(read(site.join("demo_app/__init__.py")), "VERSION = '1.0'\n");
    assert_eq!(read(venv.dir.join("share/demo/readme.txt")), "1.0\n");
    let header = format!("include/site/python{}/Demo_App/demo.h", venv.version);
    assert!(venv.dir.join(&header).is_file());
    assert!(!site.join("bin").exists() && !site.join("share").exists());

    // The launcher runs on the environment's interpreter, which sees its site-packages.
    let launcher = venv.dir.join("bin/demo-app");
    let shebang = read(&launcher).lines().next().unwrap().to_owned();
    assert_eq!(shebang, format!("#!{}", venv.python().display()));
    let output = Command::new(&launcher).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed.trim(), format!("1.0 {}", venv.dir.display()));
    let raw = Command::new(venv.dir.join("bin/demo-raw"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(raw.stdout).unwrap(), "raw\n");

    // RECORD rows are relative to site-packages, as pip writes them, and all check out.
    let rows = checked_record(site, &demo("1.0").dist_info_dir());
    for row in [
        "../../../bin/demo-app",
        "../../../bin/demo-raw",
        "../../../share/demo/readme.txt",
        &format!("../../../{header}"),
        "demo_app/__init__.py",
    ] {
        assert!(rows.iter().any(|listed| listed == row), "{row} in {rows:?}");
    }
    assert!(staging_dirs(&venv.dir).is_empty());

    // pip reads the environment as one of its own.
    let pip = Command::new(python())
        .args(["-m", "pip", "list", "--format=freeze", "--path"])
        .arg(site)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&pip.stdout);
    assert!(listed.contains("Demo_App==1.0"), "{listed}");
    let listed = installer.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "Demo_App");

    // An upgrade replaces the files everywhere and leaves the scheme's directories.
    let second = work.unpack(&demo("2.0").file("demo_app/extra.py", ""));
    installer.install(&[second.request()]).unwrap();
    let output = Command::new(&launcher).output().unwrap();
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .starts_with("2.0 ")
    );
    assert_eq!(read(venv.dir.join("share/demo/readme.txt")), "2.0\n");
    assert!(!site.join(demo("1.0").dist_info_dir()).exists());
    assert!(staging_dirs(&venv.dir).is_empty());

    // Uninstalling removes every file, and no directory of the environment.
    let report = installer
        .uninstall(&[PackageName::new("demo-app")])
        .unwrap();
    assert_eq!(report.uninstalled.len(), 1);
    assert!(site.is_dir(), "site-packages stays, empty");
    assert_eq!(std::fs::read_dir(site).unwrap().count(), 0);
    assert!(!launcher.exists() && !venv.dir.join("bin/demo-raw").exists());
    assert!(
        venv.python().exists(),
        "the environment's interpreter stays"
    );
    assert!(!venv.dir.join("share/demo").exists());
    assert!(!venv.dir.join(&header).exists());
    assert!(staging_dirs(&venv.dir).is_empty());
    let output = Command::new(venv.python())
        .args(["-c", "import demo_app"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}

#[test]
fn a_platlib_wheel_goes_to_platlib_with_its_metadata() {
    let work = Workspace::new();
    let venv = Venv::new(&work.target("venv"));
    // Not `lib64`: a venv's `lib64` is a symlink to its `lib`, which the installer resolves.
    let platlib = venv
        .dir
        .join(format!("plat/python{}/site-packages", venv.version));
    std::fs::create_dir_all(&platlib).unwrap();
    let scheme = Scheme {
        platlib: platlib.clone(),
        ..venv.scheme()
    };
    let installer = venv.installer(&scheme);
    let native = work.unpack(
        &WheelBuilder::new("native", "1.0")
            .platlib_root()
            .file("native/__init__.py", "")
            .data("purelib", "native_pure.py", "")
            .entry_points("[console_scripts]\nnative = native:main\n"),
    );
    let pure = work.unpack(&WheelBuilder::new("pure", "1.0").file("pure.py", ""));
    installer
        .install(&[native.request(), pure.request()])
        .unwrap();

    assert!(platlib.join("native/__init__.py").is_file());
    assert!(platlib.join("native-1.0.dist-info/RECORD").is_file());
    assert!(venv.site.join("native_pure.py").is_file());
    assert!(venv.site.join("pure.py").is_file());
    let rows = checked_record(&platlib, "native-1.0.dist-info");
    let purelib_row = format!(
        "../../../lib/python{}/site-packages/native_pure.py",
        venv.version
    );
    assert!(rows.contains(&purelib_row), "{rows:?}");
    assert!(rows.contains(&"../../../bin/native".to_owned()), "{rows:?}");

    let names: Vec<String> = installer
        .list()
        .unwrap()
        .into_iter()
        .map(|dist| dist.name)
        .collect();
    assert_eq!(names, ["native", "pure"]);
    installer.uninstall(&[PackageName::new("native")]).unwrap();
    assert!(!venv.site.join("native_pure.py").exists());
    assert!(!venv.dir.join("bin/native").exists());
    assert_eq!(std::fs::read_dir(&platlib).unwrap().count(), 0);
    assert!(venv.site.join("pure.py").is_file());
}

#[test]
fn a_prefix_that_does_not_exist_yet_is_created() {
    let work = Workspace::new();
    let prefix = work.target("prefix");
    let scheme = Scheme {
        purelib: prefix.join("lib/python3/site-packages"),
        platlib: prefix.join("lib/python3/site-packages"),
        scripts: prefix.join("bin"),
        headers: prefix.join("include/python3"),
        data: prefix.clone(),
    };
    let settings = InstallSettings::new(python());
    let installer =
        Installer::with_scheme(&scheme, settings, Arc::new(Linker::new(LinkMode::Copy))).unwrap();
    let wheel = work.unpack(&demo("1.0"));
    installer.install(&[wheel.request()]).unwrap();
    assert!(
        prefix
            .join("lib/python3/site-packages/demo_app/cli.py")
            .is_file()
    );
    assert!(prefix.join("bin/demo-app").is_file());
    assert!(prefix.join("include/python3/Demo_App/demo.h").is_file());
    let output = Command::new(python())
        .args(["-c", "import demo_app; print(demo_app.VERSION)"])
        .env("PYTHONPATH", prefix.join("lib/python3/site-packages"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "1.0\n");
}
