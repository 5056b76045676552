//! A failed fsync of the write-ahead log, through `shaledb::vfs::FaultFileSystem`: the write
//! whose sync failed returns the error, the database refuses every later write with
//! `Error::ReadOnly` (the failed sync is never retried as if it had worked), and everything
//! acknowledged before is intact after a reopen — with and without a power loss in between.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{Rng, small_options, test_seed};
use shaledb::vfs::{FaultFileSystem, FileClass};
use shaledb::{Db, Error, Options, WriteBatch, WriteOptions};

fn options(file_system: &FaultFileSystem) -> Options {
    Options {
        sync_writes: true,
        file_system: Arc::new(file_system.clone()),
        ..small_options()
    }
}

/// The write-ahead log the database writes to now: the lowest-numbered one (a preallocated
/// spare log, if any, has a higher number).
fn current_wal(dir: &Path) -> PathBuf {
    let mut logs = common::files_ending_with(dir, ".wal");
    logs.sort();
    let (name, _) = logs.first().expect("an open database has a log");
    dir.join(name)
}

fn batch(index: usize, rng: &mut Rng) -> WriteBatch {
    let mut batch = WriteBatch::new();
    let value = rng.bytes(100);
    batch
        .put(format!("key{index:04}").as_bytes(), &value)
        .expect("valid put");
    batch
}

/// Writes synced batches, fails the next log sync, and checks what the writers see.
fn fail_a_sync(seed: u64, file_system: &FaultFileSystem, dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng::new(seed);
    let db = Db::open(dir, options(file_system)).expect("open");
    let mut acknowledged = Vec::new();
    for index in 0..50 {
        let write = batch(index, &mut rng);
        db.write(write, &WriteOptions::SYNC)
            .expect("write before the fault");
        let key = format!("key{index:04}");
        let value = db.get(key.as_bytes()).expect("read").expect("present");
        acknowledged.push((key, value.to_vec()));
    }
    file_system.fail_sync(1, FileClass::Exactly(current_wal(dir)));
    let failed = db.write(batch(50, &mut rng), &WriteOptions::SYNC);
    match failed {
        Err(Error::Io { source, .. }) => {
            assert!(
                source.to_string().contains("injected sync failure"),
                "seed {seed}: {source}"
            )
        }
        other => panic!("seed {seed}: the write whose sync failed returned {other:?}"),
    }
    for attempt in 51..54 {
        match db.write(batch(attempt, &mut rng), &WriteOptions::SYNC) {
            Err(Error::ReadOnly(cause)) => assert!(cause.contains("sync"), "seed {seed}: {cause}"),
            other => panic!("seed {seed}: a write after the failed sync returned {other:?}"),
        }
    }
    assert!(
        db.stats().error.is_some(),
        "seed {seed}: stats show no error"
    );
    // Reads still work, and see what was acknowledged.
    for (key, value) in &acknowledged {
        let found = db.get(key.as_bytes()).expect("read after the failure");
        assert_eq!(found.as_deref(), Some(&value[..]), "seed {seed}: {key}");
    }
    acknowledged
}

fn check_reopened(dir: &Path, file_system: &FaultFileSystem, acknowledged: &[(String, Vec<u8>)]) {
    let db = Db::open(dir, options(file_system)).expect("reopen");
    for (key, value) in acknowledged {
        let found = db.get(key.as_bytes()).expect("read after reopen");
        assert_eq!(found.as_deref(), Some(&value[..]), "{key} after reopen");
    }
    db.put(b"after", b"reopen")
        .expect("the reopened database takes writes");
    db.close().expect("close");
}

#[test]
fn a_failed_wal_fsync_fails_its_write_and_makes_the_database_read_only() {
    let seed = test_seed("a_failed_wal_fsync_fails_its_write_and_makes_the_database_read_only");
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let acknowledged = fail_a_sync(seed, &file_system, dir.path());
    check_reopened(dir.path(), &file_system, &acknowledged);
}

#[test]
fn after_a_failed_wal_fsync_and_power_loss_acknowledged_writes_survive_and_the_failed_one_is_gone()
{
    let seed = test_seed("after_a_failed_wal_fsync_and_power_loss");
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let acknowledged = fail_a_sync(seed, &file_system, dir.path());
    file_system.power_loss();
    file_system.restart();
    let db = Db::open(dir.path(), options(&file_system)).expect("reopen after power loss");
    // The failed write was never synced: a power loss takes it.
    assert_eq!(db.get(b"key0050").expect("read"), None, "seed {seed}");
    drop(db);
    check_reopened(dir.path(), &file_system, &acknowledged);
}
