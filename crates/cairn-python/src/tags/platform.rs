//! The operating system, C library and CPU a wheel must be built for, and the platform tags
//! that follow from them, most specific first (as `packaging.tags.platform_tags()` orders them).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::TagsError;

/// Where an interpreter runs, as far as wheel compatibility is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "os", rename_all = "lowercase")]
pub enum Platform {
    /// Linux with glibc `(major, minor)`: `manylinux_2_M_<arch>` wheels for every glibc up to M.
    Manylinux {
        /// The glibc version.
        glibc: (u16, u16),
        /// The CPU architecture as in platform tags (`x86_64`, `aarch64`, `i686`, `armv7l`).
        arch: String,
    },
    /// Linux with musl `(major, minor)`: `musllinux_1_N_<arch>` wheels for every musl up to N.
    Musllinux {
        /// The musl version.
        musl: (u16, u16),
        /// The CPU architecture as in platform tags.
        arch: String,
    },
    /// Linux whose C library is unknown: only wheels built on this very kind of system.
    Linux {
        /// The CPU architecture as in platform tags.
        arch: String,
    },
    /// macOS `(major, minor)`.
    Macos {
        /// The macOS version.
        version: (u16, u16),
        /// `arm64`, `x86_64`, or another binary format (`universal2`) for targets.
        arch: String,
    },
    /// Windows; `arch` is what follows `win_` in the tag (`amd64`, `arm64`), or `32` for `win32`.
    Windows {
        /// The architecture part of the tag.
        arch: String,
    },
    /// Anything else (FreeBSD, …): the one tag the interpreter's `sysconfig` names.
    Other {
        /// The platform tag, e.g. `freebsd_14_0_release_amd64`.
        tag: String,
    },
}

/// glibc versions named by the legacy manylinux tags.
const LEGACY_MANYLINUX: [((u16, u16), &str); 3] = [
    ((2, 17), "manylinux2014"),
    ((2, 12), "manylinux2010"),
    ((2, 5), "manylinux1"),
];

impl Platform {
    /// The platform tags this platform accepts, most preferred first.
    ///
    /// On Linux the native `linux_<arch>` tag comes first (a wheel built on this machine beats
    /// a portable one, as packaging orders it since 26.3), then manylinux from the machine's
    /// glibc down to 2.5 on x86 (2.17 elsewhere) with the legacy aliases beside the version
    /// they stand for, then musllinux from the machine's musl down to 1.0.
    pub fn tags(&self) -> Vec<String> {
        match self {
            Self::Manylinux { glibc, arch } => {
                let archs = linux_archs(arch);
                let mut tags: Vec<String> = archs.iter().map(|a| format!("linux_{a}")).collect();
                for arch in &archs {
                    manylinux_tags(*glibc, arch, &mut tags);
                }
                tags
            }
            Self::Musllinux { musl, arch } => {
                let archs = linux_archs(arch);
                let mut tags: Vec<String> = archs.iter().map(|a| format!("linux_{a}")).collect();
                for arch in &archs {
                    for minor in (0..=musl.1).rev() {
                        tags.push(format!("musllinux_{}_{minor}_{arch}", musl.0));
                    }
                }
                tags
            }
            Self::Linux { arch } => linux_archs(arch)
                .iter()
                .map(|arch| format!("linux_{arch}"))
                .collect(),
            Self::Macos { version, arch } => macos_tags(*version, arch),
            Self::Windows { arch } if arch == "32" => vec!["win32".to_owned()],
            Self::Windows { arch } => vec![format!("win_{arch}")],
            Self::Other { tag } => vec![tag.clone()],
        }
    }

    /// The platform a wheel platform tag stands for (`--platform`): `manylinux_2_28_x86_64`
    /// and `manylinux2014_x86_64` mean a Linux with that glibc, `musllinux_1_2_aarch64` one
    /// with that musl, `macosx_11_0_arm64` that macOS or later, `linux_x86_64` only itself.
    pub fn from_tag(tag: &str) -> Result<Self, TagsError> {
        let error = |reason| TagsError::UnknownPlatform {
            platform: tag.to_owned(),
            reason,
        };
        if let Some(rest) = tag.strip_prefix("manylinux_") {
            let (major, minor, arch) =
                split_version(rest).ok_or(error("expected manylinux_<major>_<minor>_<arch>"))?;
            return Ok(Self::Manylinux {
                glibc: (major, minor),
                arch: arch.to_owned(),
            });
        }
        for (glibc, legacy) in LEGACY_MANYLINUX {
            if let Some(arch) = tag
                .strip_prefix(legacy)
                .and_then(|rest| rest.strip_prefix('_'))
            {
                return Ok(Self::Manylinux {
                    glibc,
                    arch: nonempty(arch).ok_or(error("the architecture is missing"))?,
                });
            }
        }
        if let Some(rest) = tag.strip_prefix("musllinux_") {
            let (major, minor, arch) =
                split_version(rest).ok_or(error("expected musllinux_<major>_<minor>_<arch>"))?;
            return Ok(Self::Musllinux {
                musl: (major, minor),
                arch: arch.to_owned(),
            });
        }
        if let Some(rest) = tag.strip_prefix("macosx_") {
            let (major, minor, arch) =
                split_version(rest).ok_or(error("expected macosx_<major>_<minor>_<arch>"))?;
            return Ok(Self::Macos {
                version: (major, minor),
                arch: arch.to_owned(),
            });
        }
        if let Some(arch) = tag.strip_prefix("linux_") {
            return Ok(Self::Linux {
                arch: nonempty(arch).ok_or(error("the architecture is missing"))?,
            });
        }
        if tag == "win32" {
            return Ok(Self::Windows {
                arch: "32".to_owned(),
            });
        }
        if let Some(arch) = tag.strip_prefix("win_") {
            return Ok(Self::Windows {
                arch: nonempty(arch).ok_or(error("the architecture is missing"))?,
            });
        }
        if tag == "any" {
            return Err(error("`any` is not a platform, every platform accepts it"));
        }
        Err(error("it names no known operating system"))
    }
}

impl fmt::Display for Platform {
    /// The most specific platform tag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Manylinux { glibc, arch } => {
                write!(f, "manylinux_{}_{}_{arch}", glibc.0, glibc.1)
            }
            Self::Musllinux { musl, arch } => write!(f, "musllinux_{}_{}_{arch}", musl.0, musl.1),
            Self::Linux { arch } => write!(f, "linux_{arch}"),
            Self::Macos { version, arch } => write!(f, "macosx_{}_{}_{arch}", version.0, version.1),
            Self::Windows { arch } if arch == "32" => f.write_str("win32"),
            Self::Windows { arch } => write!(f, "win_{arch}"),
            Self::Other { tag } => f.write_str(tag),
        }
    }
}

/// `2_28_x86_64` as `(2, 28, "x86_64")`; the architecture may itself contain underscores.
fn split_version(text: &str) -> Option<(u16, u16, &str)> {
    let (major, rest) = text.split_once('_')?;
    let (minor, arch) = rest.split_once('_')?;
    Some((
        major.parse().ok()?,
        minor.parse().ok()?,
        nonempty_str(arch)?,
    ))
}

fn nonempty(text: &str) -> Option<String> {
    nonempty_str(text).map(str::to_owned)
}

fn nonempty_str(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// A 64-bit ARM kernel running a 32-bit ARM userland (`armv8l`) also runs `armv7l` wheels.
fn linux_archs(arch: &str) -> Vec<&str> {
    if arch == "armv8l" {
        vec!["armv8l", "armv7l"]
    } else {
        vec![arch]
    }
}

/// `manylinux_2_M_<arch>` for M from the machine's glibc down to the oldest one manylinux
/// defines for `arch`, each legacy alias right after the version it stands for.
fn manylinux_tags(glibc: (u16, u16), arch: &str, tags: &mut Vec<String>) {
    // glibc 2 is the only major version there has ever been; a glibc 3 would still run 2.x
    // wheels, but no such system exists to say what its tags would be.
    if glibc.0 != 2 {
        return;
    }
    // manylinux begins at glibc 2.5 on x86 and at 2.17 on every other architecture.
    let oldest = if matches!(arch, "x86_64" | "i686") {
        5
    } else {
        17
    };
    for minor in (oldest..=glibc.1).rev() {
        tags.push(format!("manylinux_2_{minor}_{arch}"));
        if let Some((_, legacy)) = LEGACY_MANYLINUX.iter().find(|(v, _)| *v == (2, minor)) {
            tags.push(format!("{legacy}_{arch}"));
        }
    }
}

/// macOS tags: the machine's release down to 10.0 (10.x releases), then 10.16 to 10.4 for
/// binaries that still run on 11 and later (all x86_64 ones; on arm64 only `universal2`).
fn macos_tags(version: (u16, u16), arch: &str) -> Vec<String> {
    let mut tags = Vec::new();
    if version.0 == 10 {
        for minor in (0..=version.1).rev() {
            for format in mac_binary_formats((10, minor), arch) {
                tags.push(format!("macosx_10_{minor}_{format}"));
            }
        }
    }
    if version.0 >= 11 {
        for major in (11..=version.0).rev() {
            for format in mac_binary_formats((major, 0), arch) {
                tags.push(format!("macosx_{major}_0_{format}"));
            }
        }
        for minor in (4..=16).rev() {
            if arch == "x86_64" {
                for format in mac_binary_formats((10, minor), arch) {
                    tags.push(format!("macosx_10_{minor}_{format}"));
                }
            } else {
                tags.push(format!("macosx_10_{minor}_universal2"));
            }
        }
    }
    tags
}

/// The binary formats of macOS `version` that can hold code for `arch`, the exact one first.
fn mac_binary_formats(version: (u16, u16), arch: &str) -> Vec<&str> {
    let mut formats = vec![arch];
    match arch {
        "x86_64" if version < (10, 4) => return Vec::new(),
        "x86_64" => formats.extend(["intel", "fat64", "fat3"]),
        "i386" if version < (10, 4) => return Vec::new(),
        "i386" => formats.extend(["intel", "fat3", "fat"]),
        "ppc64" if !((10, 4)..=(10, 5)).contains(&version) => return Vec::new(),
        "ppc64" => formats.push("fat64"),
        "ppc" if version > (10, 6) => return Vec::new(),
        "ppc" => formats.extend(["fat3", "fat"]),
        _ => {}
    }
    if matches!(arch, "arm64" | "x86_64") {
        formats.push("universal2");
    }
    if matches!(arch, "x86_64" | "i386" | "ppc64" | "ppc" | "intel") {
        formats.push("universal");
    }
    formats
}
