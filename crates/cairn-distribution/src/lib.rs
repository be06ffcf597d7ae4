//! Download, stream-hash, validate, unzip, persist and install Python wheels.
//!
//! `cairn-distribution` turns a wheel, given as a local path or an http(s)/file URL, into an
//! unpacked, content-addressed archive in a [`cairn_cache::Cache`], exactly once, and links
//! archives into target directories. See `docs/architecture.md` for how the layers meet.

pub mod download;
pub mod hash;
pub mod unzip;
