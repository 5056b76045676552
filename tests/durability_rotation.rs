//! A memtable rotation syncs the old write-ahead log before the new one takes writes, so the
//! writes of the old log waiting on durable handles (issue 16) are complete when the rotation
//! is: here a `flush`, whose rotation has finished when it returns. Later writes go to the new
//! log and are made durable there. Through `shaledb::vfs::FaultFileSystem` with a slow sync, so that the rotation comes
//! while writes wait for one.

mod common;

use std::sync::Arc;
use std::time::Duration;

use shaledb::vfs::FaultFileSystem;
use shaledb::{Db, DurableTicket, Options, WriteBatch};

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

#[test]
fn a_rotation_completes_the_tickets_of_the_old_log() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    file_system.set_sync_latency(Duration::from_millis(50));
    let old_log: Vec<DurableTicket> = (0..50)
        .map(|index| db.write_durable(batch(index)).unwrap())
        .collect();
    assert!(old_log.iter().any(|ticket| !ticket.is_done()));
    db.flush().unwrap();
    assert!(
        old_log.iter().all(DurableTicket::is_durable),
        "a write of the rotated log is not complete after the rotation"
    );
    let new_log: Vec<DurableTicket> = (50..100)
        .map(|index| db.write_durable(batch(index)).unwrap())
        .collect();
    for ticket in new_log {
        ticket.wait().unwrap();
    }
    file_system.power_loss();
    drop(db);
    file_system.restart();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    for index in 0..100 {
        let key = format!("key{index:04}");
        assert!(db.get(key.as_bytes()).unwrap().is_some(), "{key} lost");
    }
}
