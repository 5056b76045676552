//! `Db::sync_wal` (issue 16): every write acknowledged before it survives a power loss once it
//! returns; it shares fsyncs (none when a completed sync covers the log already, none of its own
//! when the sync running covers its point); a failed sync poisons the database and is never
//! retried; a read-only database refuses it. Through `shaledb::vfs::FaultFileSystem`, whose
//! default power-loss model keeps exactly what was synced.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use shaledb::vfs::{FaultFileSystem, FileClass};
use shaledb::{Db, Error, Options};

fn options(file_system: &FaultFileSystem) -> Options {
    Options {
        sync_writes: false,
        file_system: Arc::new(file_system.clone()),
        ..Options::default()
    }
}

fn after_power_loss(db: Db, file_system: &FaultFileSystem, dir: &Path) -> Db {
    file_system.power_loss();
    drop(db);
    file_system.restart();
    Db::open(dir, options(file_system)).expect("reopen after the power loss")
}

fn key(index: u32) -> Vec<u8> {
    format!("key{index:05}").into_bytes()
}

/// The write-ahead log the database writes to now: the lowest-numbered one (a preallocated
/// spare log, if any, has a higher number).
fn current_wal(dir: &Path) -> PathBuf {
    let mut logs = common::files_ending_with(dir, ".wal");
    logs.sort();
    dir.join(&logs.first().expect("an open database has a log").0)
}

/// Opens a database and waits until the flush thread has made its spare log (64 MiB of zeros,
/// synced), whose syncs would otherwise mix with the ones a test counts.
fn open_settled(dir: &Path, file_system: &FaultFileSystem) -> Db {
    let db = Db::open(dir, options(file_system)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let logs = common::files_ending_with(dir, ".wal");
        let durable = logs
            .iter()
            .all(|(name, _)| file_system.is_durable(&dir.join(name)));
        if logs.len() >= 2 && durable {
            return db;
        }
        assert!(std::time::Instant::now() < deadline, "no spare log");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wal_syncs(db: &Db) -> u64 {
    db.stats().fsync_latency.count
}

#[test]
fn sync_wal_makes_every_unsynced_write_before_it_survive_a_power_loss() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    for index in 0..200 {
        db.put(&key(index), b"before").unwrap();
    }
    db.sync_wal().unwrap();
    for index in 200..210 {
        db.put(&key(index), b"after").unwrap();
    }
    let db = after_power_loss(db, &file_system, dir.path());
    for index in 0..200 {
        assert_eq!(
            db.get(&key(index)).unwrap().as_deref(),
            Some(&b"before"[..]),
            "write {index} was acknowledged before sync_wal"
        );
    }
    for index in 200..210 {
        assert_eq!(
            db.get(&key(index)).unwrap(),
            None,
            "write {index} was never synced"
        );
    }
}

#[test]
fn sync_wal_after_a_rotation_covers_the_writes_of_the_old_log() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    for index in 0..50 {
        db.put(&key(index), b"old log").unwrap();
    }
    // A flush rotates the log, syncing the old one first.
    db.flush().unwrap();
    let syncs = wal_syncs(&db);
    db.sync_wal().unwrap();
    assert_eq!(
        wal_syncs(&db),
        syncs,
        "the rotation synced these writes already"
    );
    for index in 50..60 {
        db.put(&key(index), b"new log").unwrap();
    }
    db.sync_wal().unwrap();
    assert_eq!(wal_syncs(&db), syncs + 1);
    let db = after_power_loss(db, &file_system, dir.path());
    for index in 0..60 {
        assert!(db.get(&key(index)).unwrap().is_some(), "write {index} lost");
    }
}

#[test]
fn sync_wal_shares_fsyncs_and_returns_only_once_the_log_is_durable() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Arc::new(open_settled(dir.path(), &file_system));
    let wal = current_wal(dir.path());
    // Nothing written since the open's sync: nothing to sync.
    let syncs = wal_syncs(&db);
    let file_syncs = file_system.stats().syncs;
    db.sync_wal().unwrap();
    assert_eq!(wal_syncs(&db), syncs);
    assert_eq!(file_system.stats().syncs, file_syncs);

    db.put(b"k", b"v").unwrap();
    assert!(!file_system.is_durable(&wal));
    file_system.set_sync_latency(Duration::from_millis(300));
    // Eight callers of sync_wal at once, for the same point: one fsync serves them all, and
    // each returns only when the log is durable.
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (db, file_system, wal) = (Arc::clone(&db), file_system.clone(), wal.clone());
            std::thread::spawn(move || {
                db.sync_wal().unwrap();
                file_system.is_durable(&wal)
            })
        })
        .collect();
    for caller in callers {
        assert!(
            caller.join().unwrap(),
            "sync_wal returned before the log was durable"
        );
    }
    assert_eq!(
        wal_syncs(&db),
        syncs + 1,
        "the callers did not share one fsync"
    );
    assert_eq!(file_system.stats().syncs, file_syncs + 1);
}

#[test]
fn a_failed_sync_wal_poisons_the_database_and_is_never_retried() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    db.put(b"k", b"v").unwrap();
    file_system.fail_sync(1, FileClass::Exactly(current_wal(dir.path())));
    match db.sync_wal() {
        Err(Error::Io { source, .. }) => {
            assert!(
                source.to_string().contains("injected sync failure"),
                "{source}"
            )
        }
        other => panic!("the failed sync returned {other:?}"),
    }
    // Any later attempt to sync the log would show as a second injected failure.
    let wal_syncs_before = wal_syncs(&db);
    file_system.fail_sync(1, FileClass::Exactly(current_wal(dir.path())));
    let injected = file_system.stats().injected_failures;
    match db.sync_wal() {
        Err(Error::ReadOnly(cause)) => assert!(cause.contains("sync"), "{cause}"),
        other => panic!("a sync_wal after the failure returned {other:?}"),
    }
    match db.put(b"later", b"write") {
        Err(Error::ReadOnly(cause)) => assert!(cause.contains("sync"), "{cause}"),
        other => panic!("a write after the failure returned {other:?}"),
    }
    assert!(db.stats().error.is_some());
    db.close().unwrap();
    // Neither the second sync_wal nor close tried to sync the log again.
    assert_eq!(wal_syncs(&db), wal_syncs_before);
    assert_eq!(file_system.stats().injected_failures, injected);
}

#[test]
fn a_read_only_database_refuses_sync_wal() {
    let dir = common::temp_dir();
    let writer = Db::open(dir.path(), Options::default()).unwrap();
    writer.put(b"k", b"v").unwrap();
    let reader = Db::open_read_only(dir.path(), Options::default()).unwrap();
    assert!(matches!(reader.sync_wal(), Err(Error::ReadOnly(_))));
    writer.close().unwrap();
    assert!(matches!(writer.sync_wal(), Err(Error::Closed)));
}
