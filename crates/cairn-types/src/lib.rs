//! The vocabulary the cairn crates share: normalized package names, wheel file names (PEP 427),
//! where a wheel comes from (a path or a URL), and URLs with their credentials hidden.
//!
//! These types live in their own crate so that code which only names wheels (requirements
//! parsing, the installer) does not depend on an HTTP stack or an archive reader.
//!
//! ```
//! use cairn_types::{WheelFilename, WheelSource};
//!
//! let wheel: WheelFilename = "numpy-2.4.6-cp312-cp312-manylinux_2_28_x86_64.whl".parse().unwrap();
//! assert_eq!(wheel.name, "numpy");
//! assert_eq!(wheel.tags(), "cp312-cp312-manylinux_2_28_x86_64");
//! assert!("numpy-2.4.6.tar.gz".parse::<WheelFilename>().is_err());
//!
//! // A URL as given on a command line: credentials, and a pinned hash in the fragment.
//! let input = "https://user:token@example.org/wheels/tomli-2.5.0-py3-none-any.whl\
//!              #sha256=2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
//! let (source, expected) = WheelSource::parse(input).unwrap();
//! assert!(matches!(source, WheelSource::Url(_)));
//! assert_eq!(source.filename().unwrap().version, "2.5.0");
//! assert!(!expected.is_empty());
//! // Displayed, the URL never shows its credentials.
//! let shown = source.to_string();
//! assert_eq!(shown, "https://****:****@example.org/wheels/tomli-2.5.0-py3-none-any.whl");
//! ```

mod filename;
mod name;
mod redact;
mod source;

pub use filename::{FilenameError, WheelFilename};
pub use name::{InvalidPackageName, PackageName};
pub use redact::{RedactedUrl, redact_text};
pub use source::{SourceError, WheelSource};
