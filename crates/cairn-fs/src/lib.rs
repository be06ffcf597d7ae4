//! cairn-fs
