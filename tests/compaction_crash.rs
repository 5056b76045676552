//! Crashes during compaction: a child process (this test binary, running the ignored test
//! `compaction_crash_child`) writes batches of overwrites and deletes, synced and not, from
//! several threads over a key space large enough to fill levels 1 and 2, with options so small
//! that flushes and compactions run all the time; the parent kills it with SIGKILL at a random
//! moment, reopens the database and checks it against the history of acknowledged batches (every
//! acknowledged batch kept, no partial batch, nothing never written), and that the tables on
//! disk are exactly those the manifest lists; then it closes cleanly and reopens under
//! `AbsoluteConsistency`, which must find nothing to complain about and the same contents. The
//! harness is in `common/crash.rs`, the checker in `common/history.rs`.

mod common;

use std::path::Path;

use common::crash::{self, CrashTest};
use common::history::Workload;
use common::{Pairs, check_levels_on_disk, collect, tiny_options};
use shaledb::{Db, Options, WalRecoveryMode};

/// About 1 MiB of live data (4 × 512 keys of ~500 bytes of random, incompressible bytes), four
/// times level 1's target, so compactions reach level 2 and keep rewriting levels 1 and 2.
const WORKLOAD: Workload = Workload {
    threads: 4,
    keys_per_thread: 512,
    operations_per_batch_max: 8,
    filler_length_min: 50,
    filler_length_max: 1_000,
    delete_percent: 15,
    range_delete_percent: 5,
    sync_percent: 20,
};

const CRASH_TEST: CrashTest = CrashTest {
    child_test: "compaction_crash_child",
    parent_test: "killing_compactions_keeps_every_acknowledged_batch",
    environment_prefix: "SHALEDB_COMPACTION_CRASH",
    cycles: 5,
    options,
    workload: WORKLOAD,
};

/// Tiny options with two level-0 files per compaction, so that compactions are almost always
/// running when the child is killed.
fn options() -> Options {
    Options {
        level0_compaction_trigger: 2,
        ..tiny_options()
    }
}

/// The child: does nothing unless the parent set `SHALEDB_COMPACTION_CRASH_DIR`.
#[test]
#[ignore = "run by killing_compactions_keeps_every_acknowledged_batch as a child process"]
fn compaction_crash_child() {
    crash::run_child(&CRASH_TEST);
}

/// After the shared checks: a clean close leaves exactly the manifest's tables, and a strict
/// reopen sees the same contents.
fn check_clean_close(db: Db, dir: &Path, context: &str, recovered: &Pairs) {
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
    assert!(
        &collect(db.iter(), context) == recovered,
        "{context}: the contents differ after a clean close and reopen"
    );
    db.close().unwrap();
}

#[test]
fn killing_compactions_keeps_every_acknowledged_batch() {
    crash::run_parent(&CRASH_TEST, check_clean_close);
}
