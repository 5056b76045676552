//! Crash recovery: a child process (this test binary, running the ignored test `crash_child`)
//! writes synced batches from several threads and prints the id of each acknowledged batch; the
//! parent kills it with SIGKILL at a random moment, reopens the database and checks that every
//! acknowledged batch is present and every batch present is whole. The harness is in
//! `common/crash.rs`.

mod common;

use common::crash::{self, CrashTest};
use common::{Rng, small_options};

const CRASH_TEST: CrashTest = CrashTest {
    child_test: "crash_child",
    parent_test: "crash_recovery_keeps_every_acknowledged_batch",
    environment_prefix: "SHALEDB_CRASH",
    crashes: 3,
    options: small_options,
    extend_value,
};

fn extend_value(value: &mut Vec<u8>, rng: &mut Rng) {
    // Values of varied size so that memtables rotate and flush while the child runs.
    value.resize(rng.between(50, 700), b'.');
}

/// The child: does nothing unless the parent set `SHALEDB_CRASH_DIR`.
#[test]
#[ignore = "run by crash_recovery_keeps_every_acknowledged_batch as a child process"]
fn crash_child() {
    crash::run_child(&CRASH_TEST);
}

#[test]
fn crash_recovery_keeps_every_acknowledged_batch() {
    // The shared checks after each reopen are all this test asks for.
    crash::run_parent(&CRASH_TEST, |_db, _dir, _context, _present| {});
}
