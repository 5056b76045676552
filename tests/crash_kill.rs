//! Crash recovery under SIGKILL: a child process (this test binary, running the ignored test
//! `crash_child`) runs four writers, each overwriting and deleting its own 64 keys in batches,
//! some synced and some not, under the tiny options that keep flushes and compactions running;
//! the parent kills it at random moments, reopens, and checks that each writer's keys are exactly
//! the state after a prefix of its batches that includes every acknowledged one (no lost batch,
//! no partial batch, nothing never written). The harness is in `common/crash.rs`, the checker in
//! `common/history.rs`.
//!
//! `crash_recovery_long` runs 200 cycles (or `SHALEDB_CRASH_CYCLES`) on request:
//! `cargo test --release --test crash_kill -- --ignored crash_recovery_long --nocapture`.

mod common;

use common::crash::{self, CrashTest};
use common::history::Workload;
use common::tiny_options;

const WORKLOAD: Workload = Workload {
    threads: 4,
    keys_per_thread: 64,
    operations_per_batch_max: 8,
    filler_length_min: 16,
    filler_length_max: 600,
    delete_percent: 25,
    range_delete_percent: 5,
    sync_percent: 30,
};

const CRASH_TEST: CrashTest = CrashTest {
    child_test: "crash_child",
    parent_test: "crash_recovery_keeps_every_acknowledged_batch",
    environment_prefix: "SHALEDB_CRASH",
    cycles: 4,
    options: tiny_options,
    workload: WORKLOAD,
};

const LONG_CRASH_TEST: CrashTest = CrashTest {
    parent_test: "crash_recovery_long",
    cycles: 200,
    ..CRASH_TEST
};

/// The child: does nothing unless the parent set `SHALEDB_CRASH_DIR`.
#[test]
#[ignore = "run by crash_recovery_keeps_every_acknowledged_batch as a child process"]
fn crash_child() {
    crash::run_child(&CRASH_TEST);
}

#[test]
fn crash_recovery_keeps_every_acknowledged_batch() {
    // The history check after each reopen is all this test asks for.
    crash::run_parent(&CRASH_TEST, |_db, _dir, _context, _recovered| {});
}

#[test]
#[ignore = "long: 200 kill cycles, or SHALEDB_CRASH_CYCLES"]
fn crash_recovery_long() {
    crash::run_parent(&LONG_CRASH_TEST, |_db, _dir, _context, _recovered| {});
}
