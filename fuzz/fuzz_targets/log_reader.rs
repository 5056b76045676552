#![no_main]
//! Fuzz target `log_reader`: see `checks::log::log_reader` for what it checks.

#[allow(dead_code)]
#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::log::log_reader(data));
