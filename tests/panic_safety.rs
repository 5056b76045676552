//! A panic must not hang the engine. `FaultFileSystem::panic_on_write` makes a chosen write
//! panic, as a bug in the engine or a panicking user `FileSystem` would: in the commit leader
//! (a write-ahead-log write) and in the flush thread (a table write). Afterwards every waiting
//! and later writer gets `Error::ReadOnly` naming the panic, reads go on, and `close` returns
//! the cause. (Panics in compaction threads and manual compactions are tested in `src/db.rs`.)
//! Each wait has a deadline, so that a hang fails the test instead of stalling the suite.

mod common;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use common::tiny_options;
use shaledb::vfs::{FaultFileSystem, FileClass};
use shaledb::{Db, Error, Options, WriteBatch, WriteOptions};

const DEADLINE: Duration = Duration::from_secs(20);

fn open(file_system: &FaultFileSystem, dir: &std::path::Path) -> Db {
    let options = Options {
        file_system: Arc::new(file_system.clone()),
        ..tiny_options()
    };
    Db::open(dir, options).expect("open")
}

fn assert_read_only_naming(result: &shaledb::Result<()>, place: &str, context: &str) {
    match result {
        Err(Error::ReadOnly(cause)) => {
            assert!(cause.contains(place), "{context}: {cause}");
            assert!(cause.contains("injected panic"), "{context}: {cause}");
        }
        other => panic!("{context}: expected a read-only error naming {place}, got {other:?}"),
    }
}

/// Runs `writers` threads, each writing `batches` synced puts until one fails; returns each
/// thread's last result, failing the test if any thread is still waiting at the deadline.
fn run_writers(db: &Arc<Db>, writers: usize, batches: usize) -> Vec<shaledb::Result<()>> {
    let (sender, results) = mpsc::channel();
    for writer in 0..writers {
        let db = Arc::clone(db);
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut last = Ok(());
            for batch in 0..batches {
                let key = format!("writer{writer}-key{batch}");
                let mut put = WriteBatch::new();
                put.put(key.as_bytes(), &[7u8; 300]).expect("batch");
                last = db.write(put, &WriteOptions::SYNC);
                if last.is_err() {
                    break;
                }
            }
            let _ = sender.send(last);
        });
    }
    drop(sender);
    (0..writers)
        .map(|_| {
            results
                .recv_timeout(DEADLINE)
                .expect("a writer hung after the panic")
        })
        .collect()
}

#[test]
fn a_panicking_commit_leader_fails_its_group_and_every_later_writer() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file_system = FaultFileSystem::new();
    let db = Arc::new(open(&file_system, dir.path()));
    db.put(b"before", b"the panic").expect("put");
    file_system.panic_on_write(20, FileClass::Wal);
    let results = run_writers(&db, 8, 50);
    for result in &results {
        assert_read_only_naming(result, "the commit leader", "a writer's last write");
    }
    assert_read_only_naming(
        &db.put(b"later", b"write"),
        "the commit leader",
        "a later put",
    );
    assert_eq!(
        db.get(b"before").expect("reads go on").as_deref(),
        Some(&b"the panic"[..])
    );
    assert!(db.stats().error.is_some());
    assert_read_only_naming(&db.close(), "the commit leader", "close");
    // The log is whole up to the panic: the database opens again with every acknowledged write.
    drop(db);
    let db = Db::open(dir.path(), Options::default()).expect("reopen after the panic");
    assert_eq!(
        db.get(b"before").expect("get").as_deref(),
        Some(&b"the panic"[..])
    );
}

#[test]
fn a_panicking_flush_thread_fails_the_writers_it_would_have_stalled() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file_system = FaultFileSystem::new();
    let db = Arc::new(open(&file_system, dir.path()));
    db.put(b"before", b"the panic").expect("put");
    file_system.panic_on_write(1, FileClass::Table);
    // 64 KiB memtables and two frozen ones at most: the writers soon wait for a flush that the
    // panic ended, and must be told instead.
    let results = run_writers(&db, 4, 2_000);
    for result in &results {
        assert_read_only_naming(result, "the flush thread", "a writer's last write");
    }
    assert_read_only_naming(&db.flush(), "the flush thread", "flush");
    assert_eq!(
        db.get(b"before").expect("reads go on").as_deref(),
        Some(&b"the panic"[..])
    );
    assert_read_only_naming(&db.close(), "the flush thread", "close");
}
