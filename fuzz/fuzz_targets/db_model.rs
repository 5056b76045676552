#![no_main]
//! Fuzz target `db_model`: see `checks::db::db_model` for what it checks.

#[allow(dead_code)]
#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::db::db_model(data));
