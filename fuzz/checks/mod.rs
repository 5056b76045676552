//! The invariant checks behind every fuzz target. Each `fuzz/fuzz_targets/<name>.rs` calls
//! `checks::<name>(data)`, and `tests/fuzz_corpus.rs` replays every file of
//! `fuzz/corpus/<name>/` through the same function on stable Rust, so CI keeps the corpora green
//! without a nightly toolchain. A check panics only when shaledb broke a promise: a decoder
//! panicked, or returned something other than an error or the bytes that were written.
//!
//! The format checks reach the decoders through shaledb's `internals` feature (unstable, not
//! API): the fuzz crate turns it on, and `tests/fuzz_corpus.rs` requires it.

/// A fuzz target: its name (the file under `fuzz/fuzz_targets/`) and its check.
pub type Target = (&'static str, fn(&[u8]));

pub mod batch;
pub mod config;
pub mod db;
pub mod log;
pub mod manifest;
pub mod sstable;
