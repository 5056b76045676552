//! `Db::put_with` and `Db::delete_with` (issue 16): a single write with its own
//! `WriteOptions`, whatever `Options::sync_writes` says. Through `shaledb::vfs::FaultFileSystem`
//! under its default power-loss model, which keeps exactly the synced content of each file: an
//! unsynced single write is lost by a power loss, a synced one survives, and so does every
//! write before a synced one.

mod common;

use std::path::Path;
use std::sync::Arc;

use shaledb::vfs::FaultFileSystem;
use shaledb::{Db, Options, WriteOptions};

fn options(file_system: &FaultFileSystem, sync_writes: bool) -> Options {
    Options {
        sync_writes,
        file_system: Arc::new(file_system.clone()),
        ..Options::default()
    }
}

/// Cuts the power under `db`, brings the machine back and reopens the database.
fn after_power_loss(db: Db, file_system: &FaultFileSystem, dir: &Path) -> Db {
    file_system.power_loss();
    drop(db);
    file_system.restart();
    Db::open(dir, options(file_system, true)).expect("reopen after the power loss")
}

fn value(db: &Db, key: &[u8]) -> Option<Vec<u8>> {
    db.get(key).expect("read").map(|value| value.to_vec())
}

#[test]
fn an_unsynced_put_with_is_lost_by_a_power_loss_and_a_synced_one_survives() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    // `put` syncs here (the default); `put_with` must follow its own options instead.
    let db = Db::open(dir.path(), options(&file_system, true)).unwrap();
    db.put_with(b"synced", b"1", &WriteOptions::SYNC).unwrap();
    db.put_with(b"unsynced", b"2", &WriteOptions::NO_SYNC)
        .unwrap();
    assert_eq!(value(&db, b"unsynced").as_deref(), Some(&b"2"[..]));
    let db = after_power_loss(db, &file_system, dir.path());
    assert_eq!(value(&db, b"synced").as_deref(), Some(&b"1"[..]));
    assert_eq!(
        value(&db, b"unsynced"),
        None,
        "an unsynced put_with was synced"
    );
}

#[test]
fn a_synced_put_with_makes_the_unsynced_writes_before_it_durable() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    // `put` does not sync here; `put_with` with `SYNC` must, whatever the default.
    let db = Db::open(dir.path(), options(&file_system, false)).unwrap();
    db.put(b"default", b"1").unwrap();
    db.put_with(b"unsynced", b"2", &WriteOptions::NO_SYNC)
        .unwrap();
    db.put_with(b"synced", b"3", &WriteOptions::SYNC).unwrap();
    db.put(b"after", b"4").unwrap();
    let db = after_power_loss(db, &file_system, dir.path());
    assert_eq!(value(&db, b"default").as_deref(), Some(&b"1"[..]));
    assert_eq!(value(&db, b"unsynced").as_deref(), Some(&b"2"[..]));
    assert_eq!(value(&db, b"synced").as_deref(), Some(&b"3"[..]));
    assert_eq!(value(&db, b"after"), None, "an unsynced put was synced");
}

#[test]
fn delete_with_follows_its_own_options() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Db::open(dir.path(), options(&file_system, true)).unwrap();
    db.put(b"kept", b"1").unwrap();
    db.put(b"deleted", b"2").unwrap();
    db.delete_with(b"kept", &WriteOptions::NO_SYNC).unwrap();
    db.delete_with(b"deleted", &WriteOptions::SYNC).unwrap();
    db.delete_with(b"never-there", &WriteOptions::SYNC).unwrap();
    assert_eq!(value(&db, b"kept"), None);
    // The synced delete made the unsynced one before it durable too.
    let db = after_power_loss(db, &file_system, dir.path());
    assert_eq!(value(&db, b"kept"), None);
    assert_eq!(value(&db, b"deleted"), None);

    db.put(b"kept", b"3").unwrap();
    db.delete_with(b"kept", &WriteOptions::NO_SYNC).unwrap();
    let db = after_power_loss(db, &file_system, dir.path());
    assert_eq!(
        value(&db, b"kept").as_deref(),
        Some(&b"3"[..]),
        "an unsynced delete_with was synced"
    );
}
