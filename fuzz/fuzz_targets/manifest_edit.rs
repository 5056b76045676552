#![no_main]
//! Fuzz target `manifest_edit`: see `checks::manifest::manifest_edit` for what it checks.

#[allow(dead_code)]
#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::manifest::manifest_edit(data));
