//! Python project names, normalized once (PEP 503) so that every comparison is between
//! normalized forms.

use std::borrow::Borrow;
use std::convert::Infallible;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

/// A Python project name in its PEP 503 normalized form: lowercase, with every run of `-`, `_`
/// and `.` replaced by one `-`, so that `Typing_Extensions` and `typing.extensions` are one
/// name.
///
/// The rule is `cairn_cache_key::normalize_package_name`, the one the cache keys names by, so
/// a `PackageName` and a name normalized inside the cache always agree. Construction does not
/// validate (a name read from an installed `.dist-info` is compared as it is); use
/// [`PackageName::validated`] for a name that will name a URL or a file.
///
/// ```
/// use cairn_types::PackageName;
///
/// let name: PackageName = "Typing__Extensions".parse().unwrap();
/// assert_eq!(name, "typing-extensions");
/// assert_eq!(name, PackageName::new("typing.extensions"));
/// assert!(PackageName::validated("-typing").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageName(String);

/// A project name that PEP 508 does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a valid project name: use ASCII letters and digits, with `-`, `_` or `.` \
     only between them"
)]
pub struct InvalidPackageName {
    name: String,
}

impl InvalidPackageName {
    /// The name as given.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl PackageName {
    /// The normalized form of `name`, whatever it holds.
    pub fn new(name: &str) -> Self {
        Self(cairn_cache_key::normalize_package_name(name))
    }

    /// The normalized form of `name`, after checking that it is a valid project name (PEP 508:
    /// ASCII letters and digits, with `-`, `_` and `.` inside), so that it is safe in a URL
    /// path and a file name.
    pub fn validated(name: &str) -> Result<Self, InvalidPackageName> {
        let bytes = name.as_bytes();
        let valid = bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
        if valid {
            Ok(Self::new(name))
        } else {
            Err(InvalidPackageName {
                name: name.to_owned(),
            })
        }
    }

    /// The normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalized name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for PackageName {
    type Err = Infallible;

    /// Normalizes `name`; see [`PackageName::new`].
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(name))
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Deref for PackageName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PackageName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Maps keyed by `PackageName` can be searched with a `&str` that is already normalized.
impl Borrow<str> for PackageName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<PackageName> for String {
    fn from(name: PackageName) -> Self {
        name.0
    }
}

/// Compares with text that is already normalized (it is not normalized here).
impl PartialEq<str> for PackageName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// Compares with text that is already normalized (it is not normalized here).
impl PartialEq<&str> for PackageName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Compares with text that is already normalized (it is not normalized here).
impl PartialEq<String> for PackageName {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

/// Compares with text that is already normalized (it is not normalized here).
impl PartialEq<PackageName> for str {
    fn eq(&self, other: &PackageName) -> bool {
        *self == other.0
    }
}

/// Compares with text that is already normalized (it is not normalized here).
impl PartialEq<PackageName> for &str {
    fn eq(&self, other: &PackageName) -> bool {
        **self == other.0
    }
}

/// Compares with text that is already normalized (it is not normalized here).
impl PartialEq<PackageName> for String {
    fn eq(&self, other: &PackageName) -> bool {
        *self == other.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_with_the_cache_key_rule() {
        for written in [
            "Typing_Extensions",
            "typing.extensions",
            "TYPING--_extensions",
        ] {
            let name = PackageName::new(written);
            assert_eq!(name.as_str(), "typing-extensions");
            assert_eq!(
                name.as_str(),
                cairn_cache_key::normalize_package_name(written)
            );
        }
        assert_eq!(
            PackageName::new("Zope.Interface").to_string(),
            "zope-interface"
        );
    }

    #[test]
    fn validation_refuses_what_cannot_name_a_url() {
        for bad in ["", "-a", "a-", "a b", "a/b", "../a", "ä"] {
            let error = PackageName::validated(bad).unwrap_err();
            assert_eq!(error.name(), bad);
        }
        assert_eq!(
            PackageName::validated("Foo.Bar_baz").unwrap(),
            "foo-bar-baz"
        );
    }
}
