//! Running out of disk space during flush and compaction, through
//! `shaledb::vfs::FaultFileSystem`: nothing acknowledged is lost, writes either succeed, wait,
//! or fail with an error that says the disk is full (never `ReadOnly`), background work is
//! retried (counted in `stats().storage_full_retries`) instead of giving up, and once space
//! returns everything works again and every acknowledged write is readable, also after a
//! reopen.
//!
//! A disk full only for tables makes the flush and compaction paths meet it deterministically
//! (new logs can still be created, so writers stall at `max_immutable_memtables`); a disk full
//! for every file also makes the next log impossible to create, so writes fail with the
//! storage-full error until space returns.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Rng, test_seed, tiny_options};
use shaledb::vfs::{FaultFileSystem, FileClass};
use shaledb::{Db, Options, WriteBatch, WriteOptions};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn options(file_system: &FaultFileSystem) -> Options {
    Options {
        // Level 0 grows freely: compactions here run only when the test asks.
        level0_compaction_trigger: 100,
        level0_size_percent_trigger: 0,
        level0_slowdown_trigger: 200,
        level0_stop_trigger: 300,
        file_system: Arc::new(file_system.clone()),
        ..tiny_options()
    }
}

fn check(db: &Db, model: &Model, context: &str) {
    let found: Model = db
        .iter()
        .map(|item| item.map(|(key, value)| (key.to_vec(), value.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|error| panic!("{context}: read failed: {error}"));
    assert_eq!(found.len(), model.len(), "{context}: key count");
    assert!(found == *model, "{context}: contents differ from the model");
}

/// Writes `count` small batches, recording the acknowledged ones in `model`; a failed write
/// must say the disk is full. Returns how many failed.
fn write_batches(db: &Db, rng: &mut Rng, model: &mut Model, count: usize, seed: u64) -> usize {
    let mut failures = 0;
    for _ in 0..count {
        let key = format!("key{:05}", rng.below(5000)).into_bytes();
        let value = rng.bytes(100);
        let mut batch = WriteBatch::new();
        batch.put(&key, &value).expect("valid put");
        match db.write(batch, &WriteOptions::NO_SYNC) {
            Ok(()) => {
                model.insert(key, value);
            }
            Err(error) if error.is_storage_full() => failures += 1,
            Err(error) => panic!("seed {seed}: a write failed with {error}, not a full disk"),
        }
    }
    failures
}

/// Sets its flag when dropped, panics included.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Clears the disk-full flag once background work has failed on it `retries` times (or the
/// writer is done), so that a writer waiting for a flush can finish.
fn free_space_after_retries(
    db: &Db,
    file_system: &FaultFileSystem,
    retries: u64,
    done: &AtomicBool,
) {
    while db.stats().storage_full_retries < retries && !done.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(10));
    }
    file_system.set_disk_full(None);
}

/// Fills the disk for `class` during a stream of writes that needs flushes, frees it once
/// background work has met it three times (or the writes are done), and checks everything.
/// Returns the number of writes that failed and the background retries.
fn fill_during_writes(test: &str, class: FileClass) -> (usize, u64) {
    let seed = test_seed(test);
    let mut rng = Rng::new(seed);
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Db::open(dir.path(), options(&file_system)).expect("open");
    let mut model = Model::new();
    write_batches(&db, &mut rng, &mut model, 500, seed);
    file_system.set_disk_full(Some(class.clone()));
    let done = AtomicBool::new(false);
    let failures = std::thread::scope(|scope| {
        scope.spawn(|| free_space_after_retries(&db, &file_system, 3, &done));
        // Set even when the writes panic, so that the helper thread ends and the failure is
        // reported instead of the scope waiting for it forever.
        let _done_on_exit = SetOnDrop(&done);
        write_batches(&db, &mut rng, &mut model, 3000, seed)
    });
    let stats = db.stats();
    assert_eq!(stats.error, None, "seed {seed}: the database gave up");
    eprintln!(
        "{test}: seed {seed}: {failures} writes failed on the full disk, {} background retries",
        stats.storage_full_retries
    );
    write_batches(&db, &mut rng, &mut model, 500, seed);
    db.flush().expect("flush after space returned");
    check(&db, &model, &format!("seed {seed}, after space returned"));
    db.close().expect("close");
    let db = Db::open(dir.path(), options(&file_system)).expect("reopen");
    check(&db, &model, &format!("seed {seed}, after reopen"));
    (failures, stats.storage_full_retries)
}

#[test]
fn a_full_disk_during_flush_stalls_writers_loses_nothing_and_writes_resume_when_space_returns() {
    let (failures, retries) = fill_during_writes("a_full_disk_during_flush", FileClass::Table);
    assert!(
        retries >= 3,
        "the flush met the full disk only {retries} times"
    );
    assert_eq!(failures, 0, "writers wait for the flush instead of failing");
}

#[test]
fn a_full_disk_for_every_file_fails_writes_clearly_and_they_resume_when_space_returns() {
    let (failures, retries) = fill_during_writes("a_full_disk_for_every_file", FileClass::Any);
    assert!(
        failures > 0 || retries > 0,
        "the workload never met the full disk"
    );
}

#[test]
fn a_full_disk_during_compaction_loses_nothing_and_the_compaction_finishes_when_space_returns() {
    let seed = test_seed("a_full_disk_during_compaction");
    let mut rng = Rng::new(seed);
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Db::open(dir.path(), options(&file_system)).expect("open");
    let mut model = Model::new();
    for _ in 0..4 {
        write_batches(&db, &mut rng, &mut model, 300, seed);
        db.flush().expect("flush");
    }
    assert!(
        db.stats().levels[0].files >= 4,
        "seed {seed}: level 0 was built"
    );
    file_system.set_disk_full(Some(FileClass::Any));
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| free_space_after_retries(&db, &file_system, 3, &done));
        let compacted = {
            let _done_on_exit = SetOnDrop(&done);
            db.compact_range(..)
        };
        compacted.unwrap_or_else(|error| panic!("seed {seed}: compaction failed: {error}"));
    });
    let stats = db.stats();
    assert!(
        stats.storage_full_retries >= 3,
        "seed {seed}: the compaction never met the full disk: {stats}"
    );
    assert_eq!(stats.error, None, "seed {seed}: the database gave up");
    assert_eq!(
        stats.levels[0].files, 0,
        "seed {seed}: level 0 was compacted"
    );
    check(&db, &model, &format!("seed {seed}, after the compaction"));
    write_batches(&db, &mut rng, &mut model, 300, seed);
    db.close().expect("close");
    let db = Db::open(dir.path(), options(&file_system)).expect("reopen");
    check(&db, &model, &format!("seed {seed}, after reopen"));
}
