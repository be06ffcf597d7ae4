//! cairn-cache-key
