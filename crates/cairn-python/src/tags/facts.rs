//! What the query script reports about an interpreter, and the [`Interpreter`] derived from it.
//!
//! The script only reports raw facts; every decision (the ABI tags, the platform) is made here,
//! so that a fix to a decision applies to cached answers too.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::environment::{Environment, SchemePaths};
use super::interpreter::Interpreter;
use super::platform::Platform;
use crate::requirements::{InterpreterMarkers, MarkerEnvironment};

/// The query script's answer, stored as is in the interpreter cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Facts {
    /// `os.path.realpath(sys.executable)`: the interpreter binary itself, behind any launcher
    /// script or symlink; `None` where Python does not know it (an embedded interpreter).
    pub(crate) executable: Option<PathBuf>,
    /// `sys.executable` as reported, symlinks not resolved.
    pub(crate) sys_executable: Option<PathBuf>,
    /// `sys.prefix` (a virtual environment's, found as `site` finds it).
    pub(crate) prefix: PathBuf,
    /// `sys.base_prefix`.
    pub(crate) base_prefix: PathBuf,
    /// `sysconfig.get_path("stdlib")`.
    pub(crate) stdlib: Option<PathBuf>,
    /// The default install scheme.
    pub(crate) scheme: SchemePaths,
    /// The `--prefix` install scheme, with the placeholder for the prefix.
    pub(crate) prefix_scheme: SchemePaths,
    /// `sys.implementation.name`: `cpython`, `pypy`, …
    pub(crate) implementation: String,
    /// `sys.version_info[:3]`.
    pub(crate) version: (u8, u8, u16),
    /// `sysconfig.get_config_var("py_version_nodot")`.
    pub(crate) py_version_nodot: Option<String>,
    /// `sysconfig.get_platform()`: `linux-x86_64`, `macosx-11.0-arm64`, `win-amd64`.
    pub(crate) sysconfig_platform: String,
    /// `platform.system()`: `Linux`, `Darwin`, `Windows`.
    pub(crate) system: String,
    /// `platform.machine()`.
    pub(crate) machine: String,
    /// Pointer width of the interpreter (a 32-bit Python on a 64-bit kernel says 32).
    pub(crate) pointer_bits: u8,
    /// `SOABI`, e.g. `cpython-311-x86_64-linux-gnu`.
    pub(crate) soabi: Option<String>,
    /// `EXT_SUFFIX`, e.g. `.cpython-311-x86_64-linux-gnu.so` or `.pypy310-pp73-x86_64-linux-gnu.so`.
    pub(crate) ext_suffix: Option<String>,
    /// `Py_DEBUG` (`None` where the build does not say, as on Windows).
    pub(crate) py_debug: Option<i64>,
    /// `sys.gettotalrefcount` exists: a debug build.
    pub(crate) has_refcount: bool,
    /// `_d.pyd` is an extension suffix: a Windows debug build.
    pub(crate) debug_extension: bool,
    /// `Py_GIL_DISABLED`: a free-threaded build.
    pub(crate) gil_disabled: bool,
    /// The glibc version, on Linux with glibc.
    pub(crate) glibc: Option<String>,
    /// The musl version, on Linux with musl.
    pub(crate) musl: Option<String>,
    /// The macOS version, on macOS.
    pub(crate) macos: Option<String>,
    /// The PEP 508 environment marker values.
    pub(crate) markers: InterpreterMarkers,
}

impl Facts {
    /// The interpreter these facts describe, or why they make no sense. `path` is the
    /// interpreter as asked for, `canonical` the file it resolves to (the executable when
    /// Python does not report one).
    pub(crate) fn interpreter(
        &self,
        path: PathBuf,
        canonical: &Path,
    ) -> Result<Interpreter, String> {
        let (major, minor, _) = self.version;
        if major < 3 {
            return Err(format!(
                "Python {major}.{minor} is too old; cairn needs Python 3"
            ));
        }
        // Checked here so that a bad answer is refused once, before it is cached.
        MarkerEnvironment::new(&self.markers).map_err(|error| error.to_string())?;
        let sys_executable = self
            .sys_executable
            .clone()
            .filter(|executable| executable.is_absolute())
            .unwrap_or_else(|| path.clone());
        Ok(Interpreter {
            path,
            executable: self
                .executable
                .clone()
                .filter(|executable| executable.is_absolute())
                .unwrap_or_else(|| canonical.to_owned()),
            markers: self.markers.clone(),
            environment: Environment {
                sys_executable,
                prefix: self.prefix.clone(),
                base_prefix: self.base_prefix.clone(),
                stdlib: self.stdlib.clone(),
                scheme: self.scheme.clone(),
                prefix_scheme: self.prefix_scheme.clone(),
            },
            implementation: self.implementation.clone(),
            version: (major, minor),
            interpreter_tag: self.interpreter_tag(),
            abi_tags: self.abi_tags(),
            platform: self.platform()?,
        })
    }

    /// `cp311`, `pp310`: the short implementation name and `py_version_nodot`.
    fn interpreter_tag(&self) -> String {
        let (major, minor, _) = self.version;
        let nodot = self
            .py_version_nodot
            .clone()
            .unwrap_or_else(|| format!("{major}{minor}"));
        format!("{}{nodot}", short_name(&self.implementation))
    }

    /// The interpreter's own ABI tags, most preferred first (packaging's `_cpython_abis` for
    /// CPython, `_generic_abi` for the others).
    fn abi_tags(&self) -> Vec<String> {
        let (major, minor, _) = self.version;
        if self.implementation != "cpython" {
            return self.generic_abi().into_iter().collect();
        }
        let debug = match self.py_debug {
            Some(flag) => flag != 0,
            None => self.has_refcount || self.debug_extension,
        };
        let threading = if (major, minor) >= (3, 13) && self.gil_disabled {
            "t"
        } else {
            ""
        };
        let base = format!("cp{major}{minor}{threading}");
        if (major, minor) < (3, 8) {
            // The `m` (pymalloc) flag of 3.7 and older; their debug builds are `dm`.
            let debug = if debug { "d" } else { "" };
            return vec![format!("{base}{debug}m")];
        }
        if debug {
            // Debug builds also load ordinary extension modules.
            vec![format!("{base}d"), base]
        } else {
            vec![base]
        }
    }

    /// The ABI named by `EXT_SUFFIX`: `.pypy310-pp73-x86_64-linux-gnu.so` gives `pypy310_pp73`.
    fn generic_abi(&self) -> Option<String> {
        let suffix = self.ext_suffix.as_deref()?;
        let soabi = suffix.strip_prefix('.')?.split('.').next()?;
        let mut parts = soabi.split('-');
        let abi = if soabi.starts_with("cpython") {
            format!("cp{}", parts.nth(1)?)
        } else if soabi.starts_with("cp") {
            parts.next()?.to_owned()
        } else if soabi.starts_with("pypy") {
            parts.take(2).collect::<Vec<_>>().join("-")
        } else if soabi.starts_with("graalpy") {
            parts.take(3).collect::<Vec<_>>().join("-")
        } else if soabi.is_empty() {
            return None;
        } else {
            soabi.to_owned()
        };
        Some(normalize_tag(&abi))
    }

    /// The platform: from `platform.system()`, the C library and `sysconfig.get_platform()`.
    fn platform(&self) -> Result<Platform, String> {
        let sysconfig = normalize_tag(&self.sysconfig_platform);
        match self.system.as_str() {
            "Linux" => {
                let Some(arch) = sysconfig.strip_prefix("linux_") else {
                    return Ok(Platform::Other { tag: sysconfig });
                };
                // A 32-bit interpreter on a 64-bit kernel loads 32-bit wheels only.
                let arch = match (arch, self.pointer_bits) {
                    ("x86_64", 32) => "i686",
                    ("aarch64", 32) => "armv8l",
                    (arch, _) => arch,
                }
                .to_owned();
                if let Some(glibc) = &self.glibc {
                    let glibc = parse_pair(glibc)
                        .ok_or_else(|| format!("unreadable glibc version `{glibc}`"))?;
                    return Ok(Platform::Manylinux { glibc, arch });
                }
                if let Some(musl) = &self.musl {
                    let musl = parse_pair(musl)
                        .ok_or_else(|| format!("unreadable musl version `{musl}`"))?;
                    return Ok(Platform::Musllinux { musl, arch });
                }
                Ok(Platform::Linux { arch })
            }
            "Darwin" => {
                let text = self.macos.as_deref().unwrap_or_default();
                let version =
                    parse_pair(text).ok_or_else(|| format!("unreadable macOS version `{text}`"))?;
                let arch = if self.pointer_bits == 32 {
                    if self.machine.starts_with("ppc") {
                        "ppc"
                    } else {
                        "i386"
                    }
                } else {
                    self.machine.as_str()
                };
                Ok(Platform::Macos {
                    version,
                    arch: arch.to_owned(),
                })
            }
            "Windows" => Ok(match sysconfig.strip_prefix("win_") {
                Some(arch) => Platform::Windows {
                    arch: arch.to_owned(),
                },
                None if sysconfig == "win32" => Platform::Windows {
                    arch: "32".to_owned(),
                },
                None => Platform::Other { tag: sysconfig },
            }),
            _ => Ok(Platform::Other { tag: sysconfig }),
        }
    }
}

/// The tag prefix of an implementation (`cpython` is `cp`); unknown ones keep their name.
fn short_name(implementation: &str) -> &str {
    match implementation {
        "python" => "py",
        "cpython" => "cp",
        "pypy" => "pp",
        "ironpython" => "ip",
        "jython" => "jy",
        other => other,
    }
}

/// Tags spell `.` and `-` as `_`.
fn normalize_tag(text: &str) -> String {
    text.replace(['.', '-'], "_")
}

/// `2.36` (or `1.2.4`, or `14.2.1`) as `(2, 36)`.
fn parse_pair(text: &str) -> Option<(u16, u16)> {
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |minor| minor.parse().ok())?;
    Some((major, minor))
}
