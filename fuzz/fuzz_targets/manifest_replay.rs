#![no_main]
//! Fuzz target `manifest_replay`: see `checks::manifest::manifest_replay` for what it checks.

#[allow(dead_code)]
#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::manifest::manifest_replay(data));
