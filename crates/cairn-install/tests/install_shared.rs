//! Files several projects write: shared when the bytes are the same (namespace `__init__.py`
//! files of real CUDA and backports wheels), refused when they differ (jwt and PyJWT), kept on
//! upgrade while another project lists them; and upgrading over a `pip install --target`
//! whose `RECORD` names scripts `../../bin/…`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod install_support;

use std::path::Path;

use cairn_fs::LinkMode;
use cairn_install::InstallError;
use cairn_test_support::pypi::{self, PypiWheel, pins};
use cairn_test_support::wheel::WheelBuilder;
use install_support::*;

/// The PyPI wheel unpacked as the cache holds it; `None` when offline tests skip it.
fn pypi_wheel(work: &Workspace, wheel: &PypiWheel) -> Option<Unpacked> {
    pypi::fetch(wheel).map(|path| work.unpack_file(&path))
}

/// Installs `first` and `second` in one call, and in two calls in both orders, each into a new
/// target, and hands every target to `check`.
fn install_pair_every_way(
    work: &Workspace,
    first: &Unpacked,
    second: &Unpacked,
    check: impl Fn(&Path),
) {
    for mode in MODES {
        let together = work.target(&format!("together-{mode}"));
        install(&together, mode, &[first, second]).unwrap();
        check(&together);
        for (name, a, b) in [("ab", first, second), ("ba", second, first)] {
            let target = work.target(&format!("{name}-{mode}"));
            install(&target, mode, &[a]).unwrap();
            install(&target, mode, &[b]).unwrap();
            check(&target);
            assert_eq!(
                snapshot(&target),
                snapshot(&together),
                "{mode}: two calls ({name}) and one leave the same tree"
            );
        }
    }
}

/// Both projects' `RECORD`s list `shared`, and match what is installed.
fn assert_both_record(target: &Path, dist_infos: [&str; 2], shared: &str) {
    for dist_info in dist_infos {
        let listed = checked_record(target, dist_info);
        assert!(
            listed.iter().any(|path| path == shared),
            "{dist_info}/RECORD does not list {shared}: {listed:?}"
        );
    }
}

fn assert_imports(target: &Path, code: &str) {
    let output = python_in(target, code);
    assert!(
        output.status.success(),
        "{code}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_nvidia_pair_shares_its_empty_namespace_init() {
    let work = Workspace::new();
    let (Some(nvtx), Some(runtime)) = (
        pypi_wheel(&work, &pins::NVIDIA_NVTX),
        pypi_wheel(&work, &pins::NVIDIA_CUDA_RUNTIME),
    ) else {
        return;
    };
    let dist_infos = [nvtx.dist_info(), runtime.dist_info()];
    install_pair_every_way(&work, &nvtx, &runtime, |target| {
        assert_eq!(read(target.join("nvidia/__init__.py")), "");
        assert!(target.join("nvidia/nvtx/lib").is_dir());
        assert!(target.join("nvidia/cuda_runtime/lib").is_dir());
        assert_both_record(
            target,
            [&dist_infos[0], &dist_infos[1]],
            "nvidia/__init__.py",
        );
        assert_imports(
            target,
            "import nvidia.nvtx.lib, nvidia.cuda_runtime.lib, os; \
             assert os.path.isfile(os.path.join(nvidia.cuda_runtime.lib.__path__[0], \
             'libcudart.so.12'))",
        );
    });
}

#[test]
fn the_backports_pair_shares_its_namespace_init() {
    let work = Workspace::new();
    let (Some(tarfile), Some(lru)) = (
        pypi_wheel(&work, &pins::BACKPORTS_TARFILE),
        pypi_wheel(&work, &pins::BACKPORTS_LRU_CACHE),
    ) else {
        return;
    };
    let dist_infos = [tarfile.dist_info(), lru.dist_info()];
    install_pair_every_way(&work, &tarfile, &lru, |target| {
        assert!(read(target.join("backports/__init__.py")).contains("extend_path"));
        assert_both_record(
            target,
            [&dist_infos[0], &dist_infos[1]],
            "backports/__init__.py",
        );
        assert_imports(
            target,
            "import backports.tarfile, backports.functools_lru_cache; \
             assert backports.tarfile.TarFile",
        );
    });
}

#[test]
fn jwt_and_pyjwt_write_different_inits_and_are_refused() {
    let work = Workspace::new();
    let (Some(jwt), Some(pyjwt)) = (
        pypi_wheel(&work, &pins::JWT),
        pypi_wheel(&work, &pins::PYJWT),
    ) else {
        return;
    };
    for mode in MODES {
        // One call, into a target that already holds something.
        let target = work.target(&format!("one-{mode}"));
        install(
            &target,
            mode,
            &[&work.unpack(&WheelBuilder::new("bystander", "1.0"))],
        )
        .unwrap();
        let before = snapshot(&target);
        let error = install(&target, mode, &[&jwt, &pyjwt]).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, InstallError::WheelsConflict { ref path, .. } if path == "jwt/__init__.py"),
            "{message}"
        );
        for expected in [
            pins::JWT.filename,
            pins::PYJWT.filename,
            "`jwt/__init__.py`",
            "different content",
            "install only one of them",
        ] {
            assert!(message.contains(expected), "{expected}: {message}");
        }
        assert_eq!(snapshot(&target), before, "{mode}");

        // Two calls, both orders.
        for (name, first, second) in [("ab", &jwt, &pyjwt), ("ba", &pyjwt, &jwt)] {
            let target = work.target(&format!("{name}-{mode}"));
            install(&target, mode, &[first]).unwrap();
            let before = snapshot(&target);
            let error = install(&target, mode, &[second]).unwrap_err();
            let message = error.to_string();
            let InstallError::ConflictsWithInstalled {
                ref wheel,
                ref path,
                ref installed,
            } = error
            else {
                panic!("{mode}: {message}");
            };
            assert_eq!(
                (wheel.as_str(), path.as_str(), installed.as_str()),
                (
                    second.filename.to_string().as_str(),
                    "jwt/__init__.py",
                    first.dist_info().as_str()
                )
            );
            for expected in [
                second.filename.to_string(),
                first.dist_info(),
                "`jwt/__init__.py`".to_owned(),
                "uninstall that project first".to_owned(),
            ] {
                assert!(message.contains(&expected), "{expected}: {message}");
            }
            assert_eq!(snapshot(&target), before, "{mode} {name}");
        }
    }
}

#[test]
fn with_overwrite_pyjwt_replaces_jwts_init_as_pip_does() {
    let work = Workspace::new();
    let (Some(jwt), Some(pyjwt)) = (
        pypi_wheel(&work, &pins::JWT),
        pypi_wheel(&work, &pins::PYJWT),
    ) else {
        return;
    };
    let target = work.target("site");
    install(&target, LinkMode::Copy, &[&jwt]).unwrap();
    // A file nobody records is overwritten too.
    std::fs::write(target.join("stray.py"), "mine\n").unwrap();
    let with_stray = work.unpack(&WheelBuilder::new("stray", "1.0").file("stray.py", "theirs\n"));
    let mut settings = cairn_install::InstallSettings::new(python());
    settings.link_mode = LinkMode::Copy;
    settings.overwrite = true;
    let installer = cairn_install::Installer::new(&target, settings).unwrap();
    installer
        .install(&[pyjwt.request(), with_stray.request()])
        .unwrap();

    let init = read(target.join("jwt/__init__.py"));
    let pyjwt_init = read(pyjwt.archive.join("jwt/__init__.py"));
    assert_eq!(init, pyjwt_init);
    assert_eq!(read(target.join("stray.py")), "theirs\n");
    // Both RECORDs list the file, as after pip; PyJWT's with the bytes now there.
    let listed = checked_record(&target, &pyjwt.dist_info());
    assert!(listed.contains(&"jwt/__init__.py".to_owned()));
    let jwt_record = read(target.join(jwt.dist_info()).join("RECORD"));
    assert!(jwt_record.contains("jwt/__init__.py,"));
    assert!(std::fs::read_dir(&target).unwrap().all(|entry| {
        !entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".cairn-install-")
    }));
}

#[test]
fn upgrading_one_nvidia_wheel_keeps_the_init_the_other_lists() {
    let work = Workspace::new();
    let (Some(nvtx), Some(runtime), Some(nvtx_new)) = (
        pypi_wheel(&work, &pins::NVIDIA_NVTX),
        pypi_wheel(&work, &pins::NVIDIA_CUDA_RUNTIME),
        pypi_wheel(&work, &pins::NVIDIA_NVTX_12_9),
    ) else {
        return;
    };
    for mode in MODES {
        let target = work.target(&format!("site-{mode}"));
        install(&target, mode, &[&nvtx, &runtime]).unwrap();
        // The new nvtx no longer ships `nvidia/__init__.py`, which the runtime still lists.
        let report = install(&target, mode, &[&nvtx_new]).unwrap();
        assert_eq!(report.wheels[0].replaced.as_deref(), Some("12.1.105"));
        assert!(target.join("nvidia/__init__.py").is_file(), "{mode}");
        assert!(!target.join(nvtx.dist_info()).exists());
        assert!(!target.join("nvidia/nvtx/__init__.py").exists());
        assert!(
            !checked_record(&target, &nvtx_new.dist_info())
                .contains(&"nvidia/__init__.py".to_owned())
        );
        assert!(
            checked_record(&target, &runtime.dist_info())
                .contains(&"nvidia/__init__.py".to_owned())
        );
        assert_imports(&target, "import nvidia.cuda_runtime.lib");

        // Back to the old nvtx: it writes the file the runtime has, with the same bytes.
        install(&target, mode, &[&nvtx]).unwrap();
        assert_both_record(
            &target,
            [&nvtx.dist_info(), &runtime.dist_info()],
            "nvidia/__init__.py",
        );
    }
}

/// `name` 1.0 with its own module and `ns/__init__.py` holding `init`.
fn sharer(name: &str, version: &str, init: &str) -> WheelBuilder {
    WheelBuilder::new(name, version)
        .file("ns/__init__.py", init)
        .file(&format!("ns/{name}.py"), format!("NAME = '{name}'\n"))
        .file(&format!("{name}_top.py"), "")
}

const INIT: &str = "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n";

#[test]
fn identical_files_are_shared_in_one_call_and_in_two() {
    let work = Workspace::new();
    // A launcher two projects generate alike is shared too, and so is a `.data` file.
    let alpha = work.unpack(
        &sharer("alpha", "1.0", INIT)
            .file("ns/shared_tool.py", "def main(): pass\n")
            .entry_points("[console_scripts]\nns-tool = ns.shared_tool:main\n")
            .data("data", "share/ns/config.toml", "x = 1\n"),
    );
    let beta = work.unpack(
        &sharer("beta", "1.0", INIT)
            .file("ns/shared_tool.py", "def main(): pass\n")
            .entry_points("[console_scripts]\nns-tool = ns.shared_tool:main\n")
            .data("data", "share/ns/config.toml", "x = 1\n"),
    );
    install_pair_every_way(&work, &alpha, &beta, |target| {
        assert_eq!(read(target.join("ns/__init__.py")), INIT);
        for shared in [
            "ns/__init__.py",
            "ns/shared_tool.py",
            "bin/ns-tool",
            "share/ns/config.toml",
        ] {
            assert_both_record(
                target,
                ["alpha-1.0.dist-info", "beta-1.0.dist-info"],
                shared,
            );
        }
        assert_imports(target, "import ns.alpha, ns.beta");
    });
    // A staging directory is never left behind.
    let target = work.target("together-copy");
    let leftovers: Vec<_> = std::fs::read_dir(&target)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn different_files_are_refused_in_one_call_and_in_two() {
    let work = Workspace::new();
    let alpha = work.unpack(&sharer("alpha", "1.0", INIT));
    // Same size, one byte different: the bytes are compared, not just the sizes.
    let other_init = INIT.replace("pkgutil", "pkgutiL");
    let beta = work.unpack(&sharer("beta", "1.0", &other_init));
    for mode in MODES {
        let target = work.target(&format!("one-{mode}"));
        let error = install(&target, mode, &[&alpha, &beta]).unwrap_err();
        assert!(
            matches!(error, InstallError::WheelsConflict { ref path, .. } if path == "ns/__init__.py"),
            "{error}"
        );
        assert!(snapshot(&target).is_empty());

        let target = work.target(&format!("two-{mode}"));
        install(&target, mode, &[&alpha]).unwrap();
        let before = snapshot(&target);
        let error = install(&target, mode, &[&beta]).unwrap_err();
        assert!(
            matches!(error, InstallError::ConflictsWithInstalled { ref path, ref installed, .. }
                if path == "ns/__init__.py" && installed == "alpha-1.0.dist-info"),
            "{error}"
        );
        assert_eq!(snapshot(&target), before);
    }
}

#[test]
fn an_identical_file_nobody_records_is_still_refused() {
    let work = Workspace::new();
    let target = work.target("site");
    std::fs::create_dir_all(target.join("ns")).unwrap();
    std::fs::write(target.join("ns/__init__.py"), INIT).unwrap();
    let before = snapshot(&target);
    let error = install(
        &target,
        LinkMode::Copy,
        &[&work.unpack(&sharer("alpha", "1.0", INIT))],
    )
    .unwrap_err();
    assert!(
        matches!(error, InstallError::UnrecordedFileExists { ref path, .. } if path == "ns/__init__.py"),
        "{error}"
    );
    assert_eq!(snapshot(&target), before);
}

#[test]
fn upgrading_a_sharer_keeps_the_file_while_another_lists_it() {
    for mode in MODES {
        let work = Workspace::new();
        let target = work.target("site");
        let alpha = work.unpack(&sharer("alpha", "1.0", INIT));
        let beta = work.unpack(&sharer("beta", "1.0", INIT));
        install(&target, mode, &[&alpha, &beta]).unwrap();
        // Python compiled the shared module; its bytecode stays with it.
        let cache = target.join("ns/__pycache__");
        std::fs::create_dir(&cache).unwrap();
        std::fs::write(cache.join("__init__.cpython-311.pyc"), "bytecode").unwrap();

        // alpha 2.0 drops the namespace file: beta still lists it, so it stays.
        let alpha_2 = work
            .unpack(&WheelBuilder::new("alpha", "2.0").file("ns/alpha.py", "NAME = 'alpha 2'\n"));
        install(&target, mode, &[&alpha_2]).unwrap();
        assert_eq!(read(target.join("ns/__init__.py")), INIT, "{mode}");
        assert!(cache.join("__init__.cpython-311.pyc").is_file());
        assert!(!target.join("alpha_top.py").exists());
        checked_record(&target, "beta-1.0.dist-info");

        // beta 2.0 ships it unchanged: replaced by the same bytes, still listed.
        let beta_2 = work.unpack(&sharer("beta", "2.0", INIT));
        install(&target, mode, &[&beta_2]).unwrap();
        assert!(checked_record(&target, "beta-2.0.dist-info").contains(&"ns/__init__.py".into()));

        // An upgrade that changes a file another project lists is refused, naming it.
        let gamma = work.unpack(&sharer("gamma", "1.0", INIT));
        install(&target, mode, &[&gamma]).unwrap();
        let before = snapshot(&target);
        let beta_3 = work.unpack(&sharer("beta", "3.0", "# changed\n"));
        let error = install(&target, mode, &[&beta_3]).unwrap_err();
        assert!(
            matches!(error, InstallError::ConflictsWithInstalled { ref path, ref installed, .. }
                if path == "ns/__init__.py" && installed == "gamma-1.0.dist-info"),
            "{error}"
        );
        assert_eq!(snapshot(&target), before);

        // Once no other project lists it, an upgrade that drops it removes it.
        let gamma_2 = work.unpack(&WheelBuilder::new("gamma", "2.0").file("gamma_top.py", ""));
        let beta_4 = work.unpack(&WheelBuilder::new("beta", "4.0").file("beta_top.py", ""));
        install(&target, mode, &[&gamma_2, &beta_4]).unwrap();
        assert!(!target.join("ns/__init__.py").exists(), "{mode}");
        assert!(
            !cache.exists(),
            "{mode}: bytecode of a removed module stays"
        );
        assert_imports(
            &target,
            "import ns.alpha; assert ns.alpha.NAME == 'alpha 2'",
        );
    }
}

#[test]
fn a_directory_left_with_only_a_shared_file_stays() {
    for mode in MODES {
        let work = Workspace::new();
        let target = work.target("site");
        // `ns/` holds alpha's files and the init beta shares, nothing else of beta's.
        let alpha = work.unpack(&sharer("alpha", "1.0", INIT));
        let beta = work.unpack(
            &WheelBuilder::new("beta", "1.0")
                .file("ns/__init__.py", INIT)
                .file("beta_top.py", ""),
        );
        install(&target, mode, &[&alpha, &beta]).unwrap();
        // alpha 2.0 leaves `ns/` entirely: only beta's init is left in it.
        let alpha_2 = work.unpack(&WheelBuilder::new("alpha", "2.0").file("alpha_top.py", ""));
        install(&target, mode, &[&alpha_2]).unwrap();
        assert_eq!(
            files(&target.join("ns")),
            ["__init__.py"],
            "{mode}: the directory was set aside whole"
        );
        checked_record(&target, "beta-1.0.dist-info");
    }
}

/// Installs `tool` 1.0 as `pip install --target` leaves it: pip installs into a home scheme
/// whose `site-packages` is `<home>/lib/python` and moves `<home>/bin` into the target, so its
/// `RECORD` names the scripts `../../bin/…`. One more row leaves the target for real.
fn pip_target_install(work: &Workspace, target: &Path) {
    let tool = work.unpack(
        &WheelBuilder::new("tool", "1.0")
            .file("tool/__init__.py", "def main(): print('v1')\n")
            .file("tool/old_only.py", ""),
    );
    let dist_info = tool.dist_info();
    std::fs::create_dir_all(target.join("bin")).unwrap();
    copy_tree(&tool.archive.join("tool"), &target.join("tool"));
    copy_tree(&tool.archive.join(&dist_info), &target.join(&dist_info));
    let launcher = "#!/usr/bin/python3\nimport sys\nfrom tool import main\nsys.exit(main())\n";
    std::fs::write(target.join("bin/tool"), launcher).unwrap();
    std::fs::write(target.join("bin/tool-old"), launcher).unwrap();
    std::fs::write(target.join(&dist_info).join("INSTALLER"), "pip\n").unwrap();
    let mut record = read(target.join(&dist_info).join("RECORD"));
    record = record.replace(&format!("{dist_info}/RECORD,,\n"), "");
    for (row, bytes) in [
        ("../../bin/tool", launcher),
        ("../../bin/tool-old", launcher),
        (&*format!("{dist_info}/INSTALLER"), "pip\n"),
        ("../outside.txt", "not the target's\n"),
    ] {
        record.push_str(&format!("{row},{},{}\n", sha256_field(bytes), bytes.len()));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    std::fs::write(
        target.join(&dist_info).join("RECORD"),
        record.replace('\n', "\r\n"),
    )
    .unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn sha256_field(bytes: &str) -> String {
    use sha2::Digest;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let digest = sha2::Sha256::digest(bytes.as_bytes());
    let mut encoded = String::new();
    for chunk in digest.chunks(3) {
        let mut n = 0u32;
        for (i, byte) in chunk.iter().enumerate() {
            n |= u32::from(*byte) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            encoded.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    format!("sha256={encoded}")
}

#[test]
fn a_pip_target_install_with_scripts_outside_site_packages_is_upgraded() {
    for mode in MODES {
        let work = Workspace::new();
        let target = work.target("site");
        pip_target_install(&work, &target);
        // What the `../outside.txt` row names, outside the target: never touched.
        let outside = work.dir.path().join("outside.txt");
        std::fs::write(&outside, "not the target's\n").unwrap();

        let tool_2 = work.unpack(
            &WheelBuilder::new("tool", "2.0")
                .file("tool/__init__.py", "def main(): print('v2')\n")
                .entry_points("[console_scripts]\ntool = tool:main\n"),
        );
        let report = install(&target, mode, &[&tool_2]).unwrap();
        assert_eq!(report.wheels[0].replaced.as_deref(), Some("1.0"));
        assert!(!target.join("tool-1.0.dist-info").exists());
        assert!(!target.join("tool/old_only.py").exists());
        // pip's scripts were the old version's: replaced, and the one v2 lacks removed.
        assert!(!target.join("bin/tool-old").exists(), "{mode}");
        let output = std::process::Command::new(target.join("bin/tool"))
            .env("PYTHONPATH", &target)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "v2\n", "{mode}");
        assert_eq!(read(&outside), "not the target's\n");
        checked_record(&target, "tool-2.0.dist-info");
    }
}
