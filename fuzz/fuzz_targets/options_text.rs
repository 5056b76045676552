#![no_main]
//! Fuzz target `options_text`: see `checks::config::options_text` for what it checks.

#[allow(dead_code)]
#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::config::options_text(data));
