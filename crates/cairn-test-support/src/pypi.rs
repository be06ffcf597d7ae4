//! Real wheels from PyPI for tests, pinned by URL and SHA-256, downloaded once per machine.
//!
//! Files are kept in `$CAIRN_TEST_WHEELS` (default: `cairn-test-wheels` in the system's
//! temporary directory) under their file names, and checked against their SHA-256 on every use.
//! A download that fails fails the test, naming the URL; set `CAIRN_OFFLINE_TESTS=1` to skip the
//! tests that need one instead ([`fetch`] then returns `None`).

use std::path::PathBuf;
use std::process::Command;

use sha2::Digest as _;

/// A wheel on PyPI, pinned.
#[derive(Debug, Clone, Copy)]
pub struct PypiWheel {
    /// Its file name.
    pub filename: &'static str,
    /// Its download URL.
    pub url: &'static str,
    /// The SHA-256 of its bytes, hex.
    pub sha256: &'static str,
}

/// The directory wheels are kept in.
pub fn dir() -> PathBuf {
    std::env::var_os("CAIRN_TEST_WHEELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("cairn-test-wheels"))
}

/// The wheel's path, downloaded first if it is not kept yet; `None` (with a line on stdout)
/// when it is missing and `CAIRN_OFFLINE_TESTS` is set. Panics if the download fails or the
/// bytes do not match the pin.
#[allow(clippy::print_stdout)] // The skip is said where the test harness shows it.
pub fn fetch(wheel: &PypiWheel) -> Option<PathBuf> {
    let dir = dir();
    let path = dir.join(wheel.filename);
    if path.is_file() && sha256_hex(&path) == wheel.sha256 {
        return Some(path);
    }
    if std::env::var_os("CAIRN_OFFLINE_TESTS").is_some() {
        // The test harness shows a skipped test's stdout: the skip is said where it happens.
        #[allow(clippy::print_stdout)]
        {
            println!(
                "skipped: {} is not downloaded and CAIRN_OFFLINE_TESTS is set",
                wheel.filename
            );
        }
        return None;
    }
    std::fs::create_dir_all(&dir).unwrap();
    // A name of this process's own, renamed into place once checked: tests running at once
    // never see a partial file.
    let partial = dir.join(format!(".{}.{}", wheel.filename, std::process::id()));
    let status = Command::new("curl")
        .args([
            "--fail",
            "--silent",
            "--show-error",
            "--location",
            "--retry",
            "3",
        ])
        .arg("--output")
        .arg(&partial)
        .arg(wheel.url)
        .status()
        .unwrap_or_else(|error| panic!("cannot run curl to download {}: {error}", wheel.url));
    assert!(
        status.success(),
        "downloading {} failed ({status}); set CAIRN_OFFLINE_TESTS=1 to skip the tests that need it",
        wheel.url
    );
    let actual = sha256_hex(&partial);
    if actual != wheel.sha256 {
        let _ = std::fs::remove_file(&partial);
        panic!(
            "{} has SHA-256 {actual}, pinned {}",
            wheel.url, wheel.sha256
        );
    }
    std::fs::rename(&partial, &path).unwrap();
    Some(path)
}

fn sha256_hex(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Wheels that share a namespace file or clash, as real CUDA and backports stacks do.
pub mod pins {
    use super::PypiWheel;

    /// Ships an empty `nvidia/__init__.py`, as does [`NVIDIA_CUDA_RUNTIME`] (the 12.1 wheels of
    /// torch 2.1 to 2.3; later versions no longer ship it).
    pub const NVIDIA_NVTX: PypiWheel = PypiWheel {
        filename: "nvidia_nvtx_cu12-12.1.105-py3-none-manylinux1_x86_64.whl",
        url: "https://files.pythonhosted.org/packages/da/d3/8057f0587683ed2fcd4dbfbdfdfa807b9160b809976099d36b8f60d08f03/nvidia_nvtx_cu12-12.1.105-py3-none-manylinux1_x86_64.whl",
        sha256: "dc21cf308ca5691e7c04d962e213f8a4aa9bbfa23d95412f452254c2caeb09e5",
    };
    /// Ships an empty `nvidia/__init__.py`, as does [`NVIDIA_NVTX`].
    pub const NVIDIA_CUDA_RUNTIME: PypiWheel = PypiWheel {
        filename: "nvidia_cuda_runtime_cu12-12.1.105-py3-none-manylinux1_x86_64.whl",
        url: "https://files.pythonhosted.org/packages/eb/d5/c68b1d2cdfcc59e72e8a5949a37ddb22ae6cade80cd4a57a84d4c8b55472/nvidia_cuda_runtime_cu12-12.1.105-py3-none-manylinux1_x86_64.whl",
        sha256: "6e258468ddf5796e25f1dc591a31029fa317d97a0a94ed93468fc86301d61e40",
    };
    /// A later [`NVIDIA_NVTX`] that no longer ships `nvidia/__init__.py`: upgrading to it must
    /// keep the file while [`NVIDIA_CUDA_RUNTIME`] lists it.
    pub const NVIDIA_NVTX_12_9: PypiWheel = PypiWheel {
        filename: "nvidia_nvtx_cu12-12.9.79-py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.whl",
        url: "https://files.pythonhosted.org/packages/86/ed/bb230dce7741f2778ba2ae3e8778fdb8bc58eee9fd95f07bf7b2d18e8081/nvidia_nvtx_cu12-12.9.79-py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.whl",
        sha256: "fec150986817f2b4e7eed72ed059f2dcb9ba3856b9a96134e448eac946a6952f",
    };
    /// Ships `backports/__init__.py`, as does [`BACKPORTS_LRU_CACHE`].
    pub const BACKPORTS_TARFILE: PypiWheel = PypiWheel {
        filename: "backports.tarfile-1.2.0-py3-none-any.whl",
        url: "https://files.pythonhosted.org/packages/b9/fa/123043af240e49752f1c4bd24da5053b6bd00cad78c2be53c0d1e8b975bc/backports.tarfile-1.2.0-py3-none-any.whl",
        sha256: "77e284d754527b01fb1e6fa8a1afe577858ebe4e9dad8919e34c862cb399bc34",
    };
    /// Ships `backports/__init__.py`, as does [`BACKPORTS_TARFILE`].
    pub const BACKPORTS_LRU_CACHE: PypiWheel = PypiWheel {
        filename: "backports.functools_lru_cache-2.0.0-py2.py3-none-any.whl",
        url: "https://files.pythonhosted.org/packages/c6/c6/4761a2ccb03d650ca803b11a7cdd69ff0696926d3fea218c8ca22c808448/backports.functools_lru_cache-2.0.0-py2.py3-none-any.whl",
        sha256: "0a754323a46847735a112677fb8807b45f6d824d02a5795a50905218ac56a0d6",
    };
    /// Writes `jwt/__init__.py`, which [`PYJWT`] also writes with other content.
    pub const JWT: PypiWheel = PypiWheel {
        filename: "jwt-1.4.0-py3-none-any.whl",
        url: "https://files.pythonhosted.org/packages/b9/80/34e3fae850adb0b7b8b9b1cf02b2d975fcb68e0e8eb7d56d6b4fc23f7433/jwt-1.4.0-py3-none-any.whl",
        sha256: "7560a7f1de4f90de94ac645ee0303ac60c95b9e08e058fb69f6c330f71d71b11",
    };
    /// Writes `jwt/__init__.py`, which [`JWT`] also writes with other content.
    pub const PYJWT: PypiWheel = PypiWheel {
        filename: "pyjwt-2.15.1-py3-none-any.whl",
        url: "https://files.pythonhosted.org/packages/50/ca/44de4e75f8aadc457f0634be3b542815078ded46dca30efb960edeecad6e/pyjwt-2.15.1-py3-none-any.whl",
        sha256: "42d59d631f7768a1028a64c7ff581a9bf7519804daf91fc5b6c56e30eec5e193",
    };
    /// Has a console script (`wheel`) and a package with subpackages.
    pub const WHEEL: PypiWheel = PypiWheel {
        filename: "wheel-0.43.0-py3-none-any.whl",
        url: "https://files.pythonhosted.org/packages/7d/cd/d7460c9a869b16c3dd4e1e403cce337df165368c71d6af229a74699622ce/wheel-0.43.0-py3-none-any.whl",
        sha256: "55c570405f142630c6b9f72fe09d9b67cf1477fcf543ae5b8dcb1f5b7377da81",
    };
    /// The pure-Python wheel of the benchmark corpus (`benches/data/corpus.tsv`).
    pub const TOMLI: PypiWheel = PypiWheel {
        filename: "tomli-2.5.0-py3-none-any.whl",
        url: "https://files.pythonhosted.org/packages/60/3f/3e3f8fd0919249b0200c80fbc4f9a1e70be19f9883da71dfb7f8b9ab8aca/tomli-2.5.0-py3-none-any.whl",
        sha256: "32a7b79ac57a2e83670ce329ccf675798bc5a2094783a63676866b70503f2e2b",
    };
    /// The corpus's mypyc-compiled wheel.
    pub const BLACK: PypiWheel = PypiWheel {
        filename: "black-26.10.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
        url: "https://files.pythonhosted.org/packages/d5/e9/9616d58f69f0e4bfa89ebe8686b6ef50f4b4f0f91237ae4c76f34dabf8aa/black-26.10.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
        sha256: "ff57f63029aa1353fa8b1b0c8971fd88a6c92dc766608d2eee33ad2deb23270e",
    };
    /// The corpus's numpy.
    pub const NUMPY: PypiWheel = PypiWheel {
        filename: "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        url: "https://files.pythonhosted.org/packages/02/03/74fe2a4cb3817d94d86402f2506554130a2f01414e299b5a843e5a8a957f/numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        sha256: "89cd468399cfd2504718f0ba50e410dca55a170b61a02ad92bb18c8a65186e93",
    };
    /// The corpus's scipy.
    pub const SCIPY: PypiWheel = PypiWheel {
        filename: "scipy-1.17.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        url: "https://files.pythonhosted.org/packages/09/7d/af933f0f6e0767995b4e2d705a0665e454d1c19402aa7e895de3951ebb04/scipy-1.17.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        sha256: "43af8d1f3bea642559019edfe64e9b11192a8978efbd1539d7bc2aaa23d92de4",
    };
    /// The corpus wheels the tests use (torch is left to the benchmarks).
    pub const CORPUS: [PypiWheel; 4] = [TOMLI, BLACK, NUMPY, SCIPY];
}

/// The corpus wheels whose file names start with one of `prefixes` (`"numpy-"`), fetched and
/// verified as [`fetch`] does: found in `$CAIRN_TEST_WHEELS` (or `$CAIRN_WHEEL_CORPUS`, where
/// `.ci/run` puts the corpus), else downloaded. Empty only when `CAIRN_OFFLINE_TESTS` is set and
/// a wheel is missing (the skip is printed); a failed download fails the test.
pub fn corpus(prefixes: &[&str]) -> Vec<PathBuf> {
    let wanted = pins::CORPUS.iter().filter(|wheel| {
        prefixes
            .iter()
            .any(|prefix| wheel.filename.starts_with(prefix))
    });
    let mut found = Vec::new();
    for wheel in wanted {
        let in_corpus = std::env::var_os("CAIRN_WHEEL_CORPUS")
            .map(|dir| PathBuf::from(dir).join(wheel.filename))
            .filter(|path| path.is_file() && sha256_hex(path) == wheel.sha256);
        match in_corpus.or_else(|| fetch(wheel)) {
            Some(path) => found.push(path),
            None => return Vec::new(),
        }
    }
    found
}
