#![no_main]
//! Fuzz target `write_batch`: see `checks::batch::write_batch` for what it checks.

#[allow(dead_code)]
#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::batch::write_batch(data));
