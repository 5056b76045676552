//! The shaledb command-line program.
fn main() {}
