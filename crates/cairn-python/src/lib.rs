//! Python packaging for cairn: which wheels an interpreter can run, and what a requirements
//! file asks for.
//!
//! - [`tags`]: an interpreter's facts (asked once, cached) and its supported wheel tags in
//!   packaging's order;
//! - [`requirements`]: pinned requirements files as `pip-compile --generate-hashes` and
//!   `uv pip compile --generate-hashes` write them, with markers and pip's hash-checking mode.

pub mod requirements;
pub mod tags;
