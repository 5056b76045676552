//! A failed fsync of the write-ahead log while writes wait on durable handles (issue 16): every
//! pending `DurableTicket` and `write_durable_then` callback gets the error, once; the database
//! refuses writes from then on (`Error::ReadOnly`), `sync_wal` too, and the sync is never tried
//! again (not by the sync thread, `sync_wal` or close). What was durable before stays so across
//! a power loss. Through `shaledb::vfs::FaultFileSystem` (`fail_sync`, `set_sync_latency`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use shaledb::vfs::{FaultFileSystem, FileClass};
use shaledb::{Db, Error, Options, WriteBatch, WriteOptions};

const SYNC_LATENCY: Duration = Duration::from_millis(100);

fn options(file_system: &FaultFileSystem) -> Options {
    Options {
        sync_writes: false,
        file_system: Arc::new(file_system.clone()),
        ..Options::default()
    }
}

fn batch(key: &str) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.put(key.as_bytes(), b"value").unwrap();
    batch
}

/// The write-ahead log the database writes to now: the lowest-numbered one.
fn current_wal(dir: &Path) -> PathBuf {
    let mut logs = common::files_ending_with(dir, ".wal");
    logs.sort();
    dir.join(&logs.first().expect("an open database has a log").0)
}

/// Opens a database and waits until the flush thread has made its spare log, so that the
/// syncs the test arms to fail are the current log's.
fn open_settled(dir: &Path, file_system: &FaultFileSystem) -> Db {
    let db = Db::open(dir, options(file_system)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = common::files_ending_with(dir, ".wal");
        let durable = logs
            .iter()
            .all(|(name, _)| file_system.is_durable(&dir.join(name)));
        if logs.len() >= 2 && durable {
            return db;
        }
        assert!(Instant::now() < deadline, "no spare log");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn expect_injected(result: shaledb::Result<()>, what: &str) {
    match result {
        Err(Error::Io { source, .. }) => assert!(
            source.to_string().contains("injected sync failure"),
            "{what}: {source}"
        ),
        other => panic!("{what} got {other:?}"),
    }
}

fn expect_read_only(result: shaledb::Result<()>, what: &str) {
    match result {
        Err(Error::ReadOnly(cause)) => assert!(cause.contains("sync"), "{what}: {cause}"),
        other => panic!("{what} got {other:?}"),
    }
}

#[test]
fn a_failed_background_sync_fails_the_pending_tickets_and_callbacks_and_poisons() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = open_settled(dir.path(), &file_system);
    db.put_with(b"before", b"durable", &WriteOptions::SYNC)
        .unwrap();
    let wal = current_wal(dir.path());
    file_system.set_sync_latency(SYNC_LATENCY);
    file_system.fail_sync(1, FileClass::Exactly(wal.clone()));
    // The sync thread starts the sync that fails; the writes after it wait for the next one.
    let covered = db.write_durable(batch("covered")).unwrap();
    std::thread::sleep(SYNC_LATENCY / 4);
    let pending = db.write_durable(batch("pending")).unwrap();
    let (called, calls) = mpsc::channel();
    db.write_durable_then(batch("callback"), move |result| {
        called.send(result).unwrap();
    })
    .unwrap();

    expect_injected(covered.wait(), "the ticket the failed sync covered");
    expect_injected(pending.wait(), "a ticket pending at the failure");
    let call = calls.recv_timeout(Duration::from_secs(10)).unwrap();
    expect_injected(call, "a callback pending at the failure");

    expect_read_only(db.put(b"later", b"write"), "a write after the failure");
    expect_read_only(
        db.write_durable(batch("later")).map(|_| ()),
        "a durable write after the failure",
    );
    // An empty batch writes nothing; its ticket learns that nothing becomes durable now.
    let empty = db.write_durable(WriteBatch::new()).unwrap();
    assert!(empty.wait().is_err());
    expect_read_only(db.sync_wal(), "sync_wal after the failure");
    assert!(db.stats().error.is_some_and(|cause| cause.contains("sync")));

    // Nothing syncs the log again: a second injected failure would show any attempt.
    let attempts = db.stats().fsync_latency.count;
    let injected = file_system.stats().injected_failures;
    file_system.fail_sync(1, FileClass::Exactly(wal));
    std::thread::sleep(SYNC_LATENCY);
    db.close().unwrap();
    assert_eq!(db.stats().fsync_latency.count, attempts);
    assert_eq!(file_system.stats().injected_failures, injected);
    assert!(calls.try_recv().is_err(), "a callback was called twice");

    file_system.power_loss();
    drop(db);
    file_system.restart();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    assert_eq!(db.get(b"before").unwrap().as_deref(), Some(&b"durable"[..]));
}

#[test]
fn a_failed_synced_write_fails_the_tickets_waiting_for_a_sync() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Arc::new(open_settled(dir.path(), &file_system));
    file_system.set_sync_latency(SYNC_LATENCY);
    // The first sync (the sync thread's, for `durable`) works; the next one fails, whoever
    // runs it: the synced writer, or the sync thread for `pending`.
    file_system.fail_sync(2, FileClass::Exactly(current_wal(dir.path())));
    let durable = db.write_durable(batch("durable")).unwrap();
    std::thread::sleep(SYNC_LATENCY / 4);
    let pending = db.write_durable(batch("pending")).unwrap();
    let synced_writer = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || db.put_with(b"synced", b"value", &WriteOptions::SYNC))
    };
    durable.wait().unwrap();
    let failed = pending.wait();
    assert!(
        failed.is_err(),
        "the ticket survived a failed sync: {failed:?}"
    );
    assert!(synced_writer.join().unwrap().is_err());
    expect_read_only(db.put(b"later", b"write"), "a write after the failure");

    file_system.power_loss();
    drop(Arc::into_inner(db).unwrap());
    file_system.restart();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    assert!(
        db.get(b"durable").unwrap().is_some(),
        "a durable write was lost"
    );
}
