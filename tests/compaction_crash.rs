//! Crashes during compaction: a child process (this test binary, running the ignored test
//! `compaction_crash_child`) writes synced batches from several threads with options so small
//! that flushes and compactions run all the time, and prints the id of each acknowledged batch;
//! the parent kills it with SIGKILL at a random moment, reopens the database and checks that
//! every acknowledged batch is present, every batch present is whole, and the tables on disk are
//! exactly those the manifest lists; then it closes cleanly and reopens under
//! `AbsoluteConsistency`, which must find nothing to complain about. The harness is in
//! `common/crash.rs`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::crash::{self, CrashTest, present_batches};
use common::{Rng, check_levels_on_disk, tiny_options};
use shaledb::{Db, Options, WalRecoveryMode};

const CRASH_TEST: CrashTest = CrashTest {
    child_test: "compaction_crash_child",
    parent_test: "killing_compactions_keeps_every_acknowledged_batch",
    environment_prefix: "SHALEDB_COMPACTION_CRASH",
    crashes: 4,
    options,
    extend_value,
};

/// Tiny options with two level-0 files per compaction, so that compactions are almost always
/// running when the child is killed.
fn options() -> Options {
    Options {
        level0_compaction_trigger: 2,
        ..tiny_options()
    }
}

fn extend_value(value: &mut Vec<u8>, rng: &mut Rng) {
    // Values of varied size (random bytes, which do not compress) so that memtables rotate and
    // flush, and compactions run, while the child runs.
    let length = rng.between(50, 1_500);
    value.extend(rng.bytes(length));
}

/// The child: does nothing unless the parent set `SHALEDB_COMPACTION_CRASH_DIR`.
#[test]
#[ignore = "run by killing_compactions_keeps_every_acknowledged_batch as a child process"]
fn compaction_crash_child() {
    crash::run_child(&CRASH_TEST);
}

/// After the shared checks: a clean close leaves exactly the manifest's tables, and a strict
/// reopen sees the same batches.
fn check_clean_close(db: Db, dir: &Path, context: &str, present: &BTreeSet<u64>) {
    db.close()
        .unwrap_or_else(|error| panic!("{context}: close failed: {error}"));
    // Recovery removed what the killed child left half done (compaction outputs never
    // installed, inputs already replaced): the tables are exactly the manifest's.
    check_levels_on_disk(dir, context);
    let strict = Options {
        wal_recovery_mode: WalRecoveryMode::AbsoluteConsistency,
        ..options()
    };
    let db = Db::open(dir, strict).unwrap_or_else(|error| {
        panic!("{context}: reopening under AbsoluteConsistency after a clean close: {error}")
    });
    assert_eq!(
        &present_batches(&db, context),
        present,
        "{context}: the batches differ after a clean close and reopen"
    );
    db.close().unwrap();
}

#[test]
fn killing_compactions_keeps_every_acknowledged_batch() {
    crash::run_parent(&CRASH_TEST, check_clean_close);
}
