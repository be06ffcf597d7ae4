//! cairn-cache
