//! The vocabulary the cairn crates share: normalized package names, wheel file names (PEP 427),
//! where a wheel comes from (a path or a URL), and URLs with their credentials hidden.

mod filename;
mod redact;
mod source;

pub use filename::{FilenameError, WheelFilename, normalize_name};
pub use redact::RedactedUrl;
pub use source::{SourceError, WheelSource};
