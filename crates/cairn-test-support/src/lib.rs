//! Test harnesses shared by the cairn crates. Not published; used as a dev-dependency only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod child;
pub mod http_server;
pub mod noise;
pub mod prop;
pub mod pypi;
pub mod random;
pub mod tarball;
pub mod venv;
pub mod wheel;
pub mod zipgen;
