//! cairn-fs

pub mod link;

pub use link::{LinkError, LinkMode, LinkOutcome, Linker, link_file, link_tree};
