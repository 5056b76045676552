//! A sync that no write group asked for — `Db::sync_wal`, or the sync thread's for
//! `Db::write_durable` (issue 16), both made without the log lock — is recorded in the log by a
//! sync marker (FORMAT.md 7.1) in the next group's write, as a synced group's sync is: so that
//! recovery knows how far the log was durable, and damage before that point is corruption, not
//! an unsynced tail to drop. Reads the log with the `internals` log reader.

mod common;

use std::path::{Path, PathBuf};

use common::temp_dir;
use shaledb::batch::BatchReader;
use shaledb::fs::{FileKind, parse_file_name};
use shaledb::log::format::record_end;
use shaledb::log::{LogEvent, LogFileKind, LogReader};
use shaledb::sync_marker::decode_sync_marker;
use shaledb::{BatchOperation, Db, Options, WriteBatch};

fn options() -> Options {
    Options {
        sync_writes: false,
        write_buffer_size: 4 << 20,
        ..Options::default()
    }
}

/// The log the database writes to: the lowest-numbered one (the spare has a higher number).
fn current_wal(dir: &Path) -> PathBuf {
    let mut logs: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter_map(
            |entry| match entry.file_name().to_str().and_then(parse_file_name) {
                Some(FileKind::Wal(number)) => Some((number.0, entry.path())),
                _ => None,
            },
        )
        .collect();
    logs.sort();
    logs.first().expect("an open database has a log").1.clone()
}

/// The log's batches as (key of their first put, end offset), and the offsets its sync markers
/// claim, in file order.
fn read_log(path: &Path) -> (Vec<(Vec<u8>, u64)>, Vec<u64>) {
    let mut batches = Vec::new();
    let mut markers = Vec::new();
    for event in LogReader::open(path, LogFileKind::Wal).unwrap() {
        match event {
            LogEvent::Record { payload, offset } => match decode_sync_marker(&payload) {
                Some(synced) => markers.push(synced),
                None => {
                    let mut reader = BatchReader::new(&payload).unwrap();
                    let key = match reader.next().unwrap().unwrap() {
                        BatchOperation::Put { key, .. } => key.to_vec(),
                        BatchOperation::Delete { key } => key.to_vec(),
                        BatchOperation::DeleteRange { start, .. } => start.to_vec(),
                        BatchOperation::Merge { key, .. } => key.to_vec(),
                    };
                    batches.push((key, record_end(offset, payload.len())));
                }
            },
            other => panic!("an undamaged log reports {other:?}"),
        }
    }
    (batches, markers)
}

fn end_of(batches: &[(Vec<u8>, u64)], key: &[u8]) -> u64 {
    batches
        .iter()
        .find(|(first, _)| first == key)
        .unwrap_or_else(|| panic!("no batch {key:?}"))
        .1
}

fn key(index: u32) -> Vec<u8> {
    format!("key{index:05}").into_bytes()
}

#[test]
fn the_group_after_sync_wal_or_a_background_sync_writes_a_marker_for_it() {
    let live = temp_dir();
    let db = Db::open(live.path(), options()).unwrap();
    for index in 0..60 {
        db.put(&key(index), &[1; 200]).unwrap();
    }
    db.sync_wal().unwrap();
    db.put(b"after-sync-wal", b"1").unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"durable", b"2").unwrap();
    db.write_durable(batch).unwrap().wait().unwrap();
    db.put(b"after-durable", b"3").unwrap();

    let (batches, markers) = read_log(&current_wal(live.path()));
    let synced_by_sync_wal = end_of(&batches, &key(59));
    let synced_by_sync_thread =
        end_of(&batches, b"after-sync-wal").max(end_of(&batches, b"durable"));
    assert!(
        markers.contains(&synced_by_sync_wal),
        "no marker for the sync_wal through {synced_by_sync_wal}: {markers:?}"
    );
    assert_eq!(
        markers.last().copied(),
        Some(synced_by_sync_thread),
        "the last marker names the sync thread's sync"
    );
    db.close().unwrap();
}

/// Damage before the point `sync_wal` made durable is corruption: recovery must not drop it
/// (and the acknowledged writes in it) as an unsynced tail.
#[test]
fn damage_before_a_sync_wal_is_corruption_not_a_dropped_tail() {
    let live = temp_dir();
    let copy = temp_dir();
    let db = Db::open(live.path(), options()).unwrap();
    for index in 0..100 {
        db.put(&key(index), &[1; 200]).unwrap();
    }
    db.sync_wal().unwrap();
    db.put(b"after", b"1").unwrap();
    // What a power loss right now could leave, but for the damage below.
    common::copy_database_files(live.path(), copy.path());
    db.close().unwrap();

    let wal = current_wal(copy.path());
    let (batches, _) = read_log(&wal);
    let synced = end_of(&batches, &key(99));
    // A page wholly inside the synced part, past the log's first block of data.
    let page_start = 4096usize;
    assert!(synced as usize > page_start + 4096);
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[page_start..page_start + 4096].fill(0);
    std::fs::write(&wal, bytes).unwrap();
    match Db::open(copy.path(), options()) {
        Err(error) => assert!(error.is_corruption(), "{error}"),
        Ok(db) => panic!(
            "damage to synced data was accepted (tail report: {:?})",
            db.recovery_report().dropped_tail
        ),
    }
}
