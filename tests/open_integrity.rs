//! What `Db::open` checks against the directory (FORMAT.md 6.6) and `Db::verify`: a lost
//! `CURRENT`, write-ahead log or table, a table of the wrong size, and a finished log whose
//! synced tail was zeroed are corruption naming the file, never a fresh or older database; the
//! manifest records each log's preallocated and synced sizes; `verify` counts what it checked
//! and names the first damaged block.

mod common;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use common::temp_dir;
use shaledb::fs::{FileKind, parse_file_name};
use shaledb::log::{LogEvent, LogFileKind, LogReader, format::record_end};
use shaledb::manifest::recover;
use shaledb::{Db, Error, Options, WalRecoveryMode, WriteOptions};

fn options(mode: WalRecoveryMode) -> Options {
    Options {
        write_buffer_size: 64 << 10,
        wal_recovery_mode: mode,
        ..Options::default()
    }
}

/// A closed database with two flushed tables and synced writes left in its log.
fn build(dir: &Path) {
    let db = Db::open(dir, options(WalRecoveryMode::default())).unwrap();
    for round in 0..3u32 {
        for index in 0..200u32 {
            let value = format!("value {index} of round {round}");
            db.write(
                single_put(&format!("key{index:04}"), &value),
                &WriteOptions::SYNC,
            )
            .unwrap();
        }
        if round < 2 {
            db.flush().unwrap();
        }
    }
    db.close().unwrap();
}

fn single_put(key: &str, value: &str) -> shaledb::WriteBatch {
    let mut batch = shaledb::WriteBatch::new();
    batch.put(key.as_bytes(), value.as_bytes()).unwrap();
    batch
}

fn files(dir: &Path, wanted: fn(FileKind) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            parse_file_name(path.file_name().unwrap().to_str().unwrap()).is_some_and(wanted)
        })
        .collect();
    found.sort();
    found
}

fn the_wal(dir: &Path) -> PathBuf {
    let wals = files(dir, |kind| matches!(kind, FileKind::Wal(_)));
    assert_eq!(wals.len(), 1, "{wals:?}");
    wals[0].clone()
}

fn tables(dir: &Path) -> Vec<PathBuf> {
    files(dir, |kind| matches!(kind, FileKind::Table(_)))
}

#[track_caller]
fn assert_corruption_naming(result: shaledb::Result<Db>, path: &Path) {
    match result {
        Err(Error::Corruption { file, .. }) => assert_eq!(file.file_name(), path.file_name()),
        Err(other) => panic!("expected corruption naming {}, got {other}", path.display()),
        Ok(_) => panic!(
            "expected corruption naming {}, but open succeeded",
            path.display()
        ),
    }
}

#[test]
fn a_missing_current_next_to_data_is_corruption_not_a_new_database() {
    let dir = temp_dir();
    build(dir.path());
    let current = dir.path().join("CURRENT");
    let table_count = tables(dir.path()).len();
    assert!(table_count > 0);
    std::fs::remove_file(&current).unwrap();
    assert_corruption_naming(
        Db::open(dir.path(), options(WalRecoveryMode::default())),
        &current,
    );
    // Nothing was created or removed by the refused open.
    assert!(!current.exists());
    assert_eq!(tables(dir.path()).len(), table_count);
}

#[test]
fn a_first_manifest_without_current_is_a_crash_during_creation() {
    let dir = temp_dir();
    drop(Db::open(dir.path(), options(WalRecoveryMode::default())).unwrap());
    let fresh = temp_dir();
    // What a crash between writing the first manifest and the first CURRENT leaves.
    let state = shaledb::manifest::ManifestState::empty(shaledb::key::FileNumber(1));
    shaledb::manifest::ManifestWriter::create(fresh.path(), shaledb::key::FileNumber(1), &state)
        .unwrap();
    let db = Db::open(fresh.path(), options(WalRecoveryMode::default())).unwrap();
    db.put(b"k", b"v").unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_missing_wal_the_manifest_records_is_corruption() {
    let dir = temp_dir();
    build(dir.path());
    let wal = the_wal(dir.path());
    std::fs::remove_file(&wal).unwrap();
    for mode in [
        WalRecoveryMode::TolerateCorruptedTailRecords,
        WalRecoveryMode::AbsoluteConsistency,
        WalRecoveryMode::PointInTime,
    ] {
        assert_corruption_naming(Db::open(dir.path(), options(mode)), &wal);
    }
    // The salvaging mode opens with what the tables hold (round 1's values).
    let db = Db::open(
        dir.path(),
        options(WalRecoveryMode::SkipAnyCorruptedRecords),
    )
    .unwrap();
    assert_eq!(
        db.get(b"key0007").unwrap().as_deref(),
        Some(&b"value 7 of round 1"[..])
    );
}

#[test]
fn the_manifest_records_each_wal_and_its_synced_size_at_close() {
    let dir = temp_dir();
    build(dir.path());
    let wal = the_wal(dir.path());
    let number = match parse_file_name(wal.file_name().unwrap().to_str().unwrap()) {
        Some(FileKind::Wal(number)) => number,
        other => panic!("{other:?}"),
    };
    let mut end = 16;
    for event in LogReader::open(&wal, LogFileKind::Wal).unwrap() {
        if let LogEvent::Record { offset, payload } = event {
            end = record_end(offset, payload.len());
        }
    }
    let state = recover(dir.path()).unwrap();
    let record = state
        .wal(number)
        .expect("the manifest records the live log");
    assert_eq!(record.synced_size, Some(end));
    assert_eq!(record.preallocated_size, 64 << 10);
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 64 << 10);
}

#[test]
fn a_zeroed_synced_tail_of_a_closed_wal_is_corruption() {
    let dir = temp_dir();
    build(dir.path());
    let wal = the_wal(dir.path());
    let records: Vec<(u64, usize)> = LogReader::open(&wal, LogFileKind::Wal)
        .unwrap()
        .filter_map(|event| match event {
            LogEvent::Record { offset, payload } => Some((offset, payload.len())),
            _ => None,
        })
        .collect();
    // Zero from a record boundary: the log reader alone sees a clean end there.
    let (cut, _) = records[records.len() - 3];
    let file = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
    let length = file.metadata().unwrap().len();
    file.write_all_at(&vec![0u8; (length - cut) as usize], cut)
        .unwrap();
    drop(file);
    assert!(
        LogReader::open(&wal, LogFileKind::Wal)
            .unwrap()
            .all(|event| matches!(event, LogEvent::Record { .. })),
        "the log reader alone reports no damage"
    );
    for mode in [
        WalRecoveryMode::TolerateCorruptedTailRecords,
        WalRecoveryMode::AbsoluteConsistency,
    ] {
        assert_corruption_naming(Db::open(dir.path(), options(mode)), &wal);
    }
}

#[test]
fn a_table_of_the_wrong_size_or_missing_is_corruption() {
    let dir = temp_dir();
    build(dir.path());
    let table = tables(dir.path())[0].clone();
    let original = std::fs::read(&table).unwrap();
    let mut longer = original.clone();
    longer.push(0);
    std::fs::write(&table, &longer).unwrap();
    assert_corruption_naming(
        Db::open(dir.path(), options(WalRecoveryMode::default())),
        &table,
    );
    std::fs::remove_file(&table).unwrap();
    assert_corruption_naming(
        Db::open(dir.path(), options(WalRecoveryMode::default())),
        &table,
    );
    std::fs::write(&table, &original).unwrap();
    Db::open(dir.path(), options(WalRecoveryMode::default())).unwrap();
}

#[test]
fn verify_counts_what_it_checked_and_names_a_damaged_block() {
    let dir = temp_dir();
    build(dir.path());
    let db = Db::open(dir.path(), options(WalRecoveryMode::default())).unwrap();
    let report = db.verify().unwrap();
    let live_tables = tables(dir.path()).len() as u64;
    assert_eq!(report.files, live_tables + 1, "{report:?}");
    assert!(report.blocks >= 3 * live_tables, "{report:?}");
    // Open wrote round 2 from the log to a table; rounds 0 and 1 are in tables (maybe
    // compacted together). The properties, read independently, count the same entries.
    let entries: u64 = tables(dir.path())
        .iter()
        .map(|path| {
            shaledb::sstable::Table::open(path, shaledb::key::FileNumber(0))
                .unwrap()
                .properties()
                .entry_count
        })
        .sum();
    assert!(entries >= 400, "{entries}");
    assert_eq!(report.entries, entries, "{report:?}");
    let bytes: u64 = tables(dir.path())
        .iter()
        .map(|path| std::fs::metadata(path).unwrap().len())
        .sum();
    assert_eq!(report.bytes, bytes);

    // Damage the first data block of a live table in place (same size, so the map stays valid).
    let table = tables(dir.path())[0].clone();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&table)
        .unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, 10).unwrap();
    file.write_all_at(&[byte[0] ^ 0x20], 10).unwrap();
    match db.verify() {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!(file.file_name(), table.file_name());
            assert_eq!(offset, 0, "the first data block starts at offset 0");
        }
        other => panic!("verify after damage: {other:?}"),
    }
}
