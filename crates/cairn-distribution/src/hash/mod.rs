//! One-pass hashing of wheel bytes with several algorithms at once.
