#![no_main]
//! Fuzz target `sstable_block`: see `checks::sstable::sstable_block` for what it checks.

#[allow(dead_code)]
#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::sstable::sstable_block(data));
