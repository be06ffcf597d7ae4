//! The four ways a cached file can appear in a target, and the ladder between them.

use std::fmt;
use std::str::FromStr;

/// How a file from the cache is made to appear in a target directory.
///
/// The first three form a fallback ladder, best first: a [`Linker`](super::Linker) that cannot
/// use one on the filesystems involved steps down to the next. [`LinkMode::Symlink`] stands
/// apart and never falls back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LinkMode {
    /// Copy-on-write clone (reflink): a new inode sharing the cached blocks, so editing the
    /// installed file never touches the cache. Needs btrfs, XFS, bcachefs, APFS, ReFS, ...
    #[default]
    Clone,
    /// Hard link: the installed file *is* the cached inode. Needs the same filesystem.
    Hardlink,
    /// Full copy of the bytes. Works everywhere; costs time and space.
    Copy,
    /// Absolute symbolic link to the cached file. Never falls back.
    Symlink,
}

impl LinkMode {
    /// Every mode, in ladder order then [`LinkMode::Symlink`].
    pub const ALL: [Self; 4] = [Self::Clone, Self::Hardlink, Self::Copy, Self::Symlink];

    /// The name used on the command line and in configuration: `clone`, `hardlink`, `copy` or
    /// `symlink`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Clone => "clone",
            Self::Hardlink => "hardlink",
            Self::Copy => "copy",
            Self::Symlink => "symlink",
        }
    }

    /// The next rung down when a filesystem cannot do `self`; `None` at the bottom and for
    /// symlinks, whose failures are always errors.
    pub(crate) const fn fallback(self) -> Option<Self> {
        match self {
            Self::Clone => Some(Self::Hardlink),
            Self::Hardlink => Some(Self::Copy),
            Self::Copy | Self::Symlink => None,
        }
    }

    /// Compact form for the linker's atomic rung.
    pub(crate) const fn to_u8(self) -> u8 {
        match self {
            Self::Clone => 0,
            Self::Hardlink => 1,
            Self::Copy => 2,
            Self::Symlink => 3,
        }
    }

    /// Inverse of [`LinkMode::to_u8`]; only values written by `to_u8` are ever stored.
    pub(crate) const fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Clone,
            1 => Self::Hardlink,
            2 => Self::Copy,
            _ => Self::Symlink,
        }
    }
}

impl fmt::Display for LinkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`LinkMode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown link mode `{input}`: use one of clone, hardlink, copy, symlink")]
pub struct ParseLinkModeError {
    /// The rejected text.
    pub input: String,
}

impl FromStr for LinkMode {
    type Err = ParseLinkModeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == input)
            .ok_or_else(|| ParseLinkModeError {
                input: input.to_owned(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for mode in LinkMode::ALL {
            assert_eq!(mode.as_str().parse::<LinkMode>(), Ok(mode));
            assert_eq!(mode.to_string(), mode.as_str());
            assert_eq!(LinkMode::from_u8(mode.to_u8()), mode);
        }
    }

    #[test]
    fn unknown_names_are_rejected_with_the_choices() {
        let error = "reflink".parse::<LinkMode>().unwrap_err();
        assert_eq!(error.input, "reflink");
        assert!(error.to_string().contains("clone, hardlink, copy, symlink"));
        assert!("Clone".parse::<LinkMode>().is_err());
    }

    #[test]
    fn default_is_the_top_of_the_ladder() {
        assert_eq!(LinkMode::default(), LinkMode::Clone);
        assert_eq!(LinkMode::Clone.fallback(), Some(LinkMode::Hardlink));
        assert_eq!(LinkMode::Hardlink.fallback(), Some(LinkMode::Copy));
        assert_eq!(LinkMode::Copy.fallback(), None);
        assert_eq!(LinkMode::Symlink.fallback(), None);
    }
}
