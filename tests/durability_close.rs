//! Closing (or dropping) a database with writes still waiting on durable handles (issue 16):
//! close syncs the log and completes every ticket and callback, once, before it returns, and
//! what they reported survives a power loss. A read-only database refuses durable-handle writes
//! and never calls their callbacks. Through `shaledb::vfs::FaultFileSystem` with a slow sync,
//! so that the close comes while syncs run and writes wait.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use shaledb::vfs::FaultFileSystem;
use shaledb::{Db, DurableTicket, Error, Options, WriteBatch};

fn options(file_system: &FaultFileSystem) -> Options {
    Options {
        file_system: Arc::new(file_system.clone()),
        ..Options::default()
    }
}

fn batch(index: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch
        .put(format!("key{index:04}").as_bytes(), b"value")
        .unwrap();
    batch
}

/// Writes 100 batches through tickets and 100 through callbacks (which count their `Ok`s in
/// `calls`) while syncs take 50 ms each.
fn write_pending(
    db: &Db,
    file_system: &FaultFileSystem,
    calls: &Arc<AtomicUsize>,
) -> Vec<DurableTicket> {
    file_system.set_sync_latency(Duration::from_millis(50));
    let mut tickets = Vec::new();
    for index in 0..100 {
        tickets.push(db.write_durable(batch(index)).unwrap());
        let calls = Arc::clone(calls);
        db.write_durable_then(batch(100 + index), move |result| {
            result.unwrap();
            calls.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    assert!(
        tickets.iter().any(|ticket| !ticket.is_done()),
        "every write was durable before the close: the test shows nothing"
    );
    tickets
}

fn check_after_power_loss(file_system: &FaultFileSystem, dir: &std::path::Path) {
    file_system.power_loss();
    file_system.restart();
    let db = Db::open(dir, options(file_system)).unwrap();
    for index in 0..200 {
        let key = format!("key{index:04}");
        assert!(db.get(key.as_bytes()).unwrap().is_some(), "{key} lost");
    }
}

#[test]
fn close_completes_every_pending_ticket_and_callback() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let tickets = write_pending(&db, &file_system, &calls);
    db.close().unwrap();
    assert!(tickets.iter().all(DurableTicket::is_durable));
    assert_eq!(calls.load(Ordering::SeqCst), 100, "every callback, once");
    drop(db);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        100,
        "a callback was called twice"
    );
    check_after_power_loss(&file_system, dir.path());
}

#[test]
fn dropping_the_database_completes_every_pending_ticket_and_callback() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let tickets = write_pending(&db, &file_system, &calls);
    drop(db);
    assert!(tickets.into_iter().all(|ticket| ticket.wait().is_ok()));
    assert_eq!(calls.load(Ordering::SeqCst), 100);
    check_after_power_loss(&file_system, dir.path());
}

#[test]
fn a_read_only_database_refuses_durable_handle_writes() {
    let dir = common::temp_dir();
    let writer = Db::open(dir.path(), Options::default()).unwrap();
    writer.put(b"k", b"v").unwrap();
    let reader = Db::open_read_only(dir.path(), Options::default()).unwrap();
    assert!(matches!(
        reader.write_durable(batch(0)),
        Err(Error::ReadOnly(_))
    ));
    assert!(matches!(
        reader.write_durable(WriteBatch::new()),
        Err(Error::ReadOnly(_))
    ));
    let called = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&called);
    let refused = reader.write_durable_then(batch(0), move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    assert!(matches!(refused, Err(Error::ReadOnly(_))));
    assert!(matches!(
        reader.put_with(b"k", b"w", &shaledb::WriteOptions::NO_SYNC),
        Err(Error::ReadOnly(_))
    ));
    reader.close().unwrap();
    assert_eq!(
        called.load(Ordering::SeqCst),
        0,
        "a refused write's callback was called"
    );
    writer.close().unwrap();
    assert!(matches!(writer.write_durable(batch(1)), Err(Error::Closed)));
}
