//! Finding wheels on a package index (Simple API); in progress.
