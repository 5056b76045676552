//! The invariant checks behind every fuzz target. Each `fuzz/fuzz_targets/<name>.rs` calls
//! `checks::<name>(data)`, and `tests/fuzz_corpus.rs` replays every file of
//! `fuzz/corpus/<name>/` through the same function on stable Rust, so CI keeps the corpora green
//! without a nightly toolchain. A check panics only when shaledb broke a promise: a decoder
//! panicked, or returned something other than an error or the bytes that were written.

pub mod log;
pub mod manifest;
pub mod sstable;
