//! `Db::open_read_only` on a database nobody else has open: it must change nothing in the
//! directory (every file's name, size and bytes, and the listing, are the same after the open,
//! every kind of read, `verify` and `close`), see every write, the ones only the write-ahead log
//! holds included (after a clean close and after a crash), refuse every write with
//! `Error::ReadOnly`, and refuse a directory without a database with `InvalidArgument`, creating
//! nothing. The recovery modes apply to damaged logs as usual, except that a torn tail is
//! accepted under `AbsoluteConsistency` (it is what a running writer's newest log has).
//! Opening beside a running writer is `tests/read_only_beside_writer.rs`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{Model, Rng, collect, copy_database_files, directory_contents, temp_dir, test_seed};
use shaledb::{
    BatchWriter, BatchWriterOptions, Db, Error, Options, ReadOptions, WalRecoveryMode, WriteBatch,
    WriteOptions,
};

fn assert_unchanged(before: &BTreeMap<String, (u64, Vec<u8>)>, dir: &Path, context: &str) {
    let after = directory_contents(dir);
    let names: Vec<&String> = before.keys().chain(after.keys()).collect();
    let changed: Vec<&&String> = names
        .iter()
        .filter(|name| before.get(**name) != after.get(**name))
        .collect();
    assert!(
        changed.is_empty(),
        "{context}: the read-only open changed {changed:?} (before {:?}, after {:?})",
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
}

fn options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        ..Options::default()
    }
}

fn value_for(rng: &mut Rng) -> Vec<u8> {
    let length = rng.between(1, 300);
    rng.bytes(length)
}

/// Writes to `db` and `model`: puts (some overwriting), deletes, a batch; flushed part way, so
/// that the rest is only in the write-ahead log.
fn write_workload(db: &Db, model: &mut Model, rng: &mut Rng) {
    for index in 0..400u32 {
        let key = format!("key-{:04}", rng.below(300)).into_bytes();
        if rng.chance(1, 8) {
            db.delete(&key).expect("delete");
            model.remove(&key);
        } else {
            let value = value_for(rng);
            db.put(&key, &value).expect("put");
            model.insert(key, value);
        }
        if index == 250 {
            db.flush().expect("flush");
        }
    }
    let mut batch = WriteBatch::new();
    for index in 0..10u32 {
        let key = format!("batch-{index:02}").into_bytes();
        batch.put(&key, b"in one batch").expect("batch put");
        model.insert(key, b"in one batch".to_vec());
    }
    db.write(batch, &WriteOptions::SYNC).expect("write");
}

/// Every kind of read on a read-only handle, checked against `model`.
fn read_everything(db: &Db, model: &Model, context: &str) {
    let forward = collect(db.iter(), context);
    let expected: Vec<(Vec<u8>, Vec<u8>)> = model
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    assert_eq!(forward, expected, "{context}: forward scan");
    let mut backward = collect(db.iter().rev(), context);
    backward.reverse();
    assert_eq!(backward, expected, "{context}: reverse scan");
    for (key, value) in model {
        assert_eq!(
            db.get(key).expect("get").as_deref(),
            Some(value.as_slice()),
            "{context}: get {key:?}"
        );
    }
    let keys: Vec<Vec<u8>> = (0..300u32)
        .map(|index| format!("key-{index:04}").into_bytes())
        .collect();
    let values = db.multi_get(&keys).expect("multi_get");
    for (key, value) in keys.iter().zip(values) {
        assert_eq!(
            value.as_deref(),
            model.get(key).map(Vec::as_slice),
            "{context}: {key:?}"
        );
    }
    let snapshot = db.snapshot();
    let at_snapshot = ReadOptions {
        snapshot: Some(&snapshot),
        ..ReadOptions::default()
    };
    let from_snapshot = collect(db.range_with(.., &at_snapshot), context);
    assert_eq!(from_snapshot, expected, "{context}: snapshot scan");
    let prefixed = collect(db.prefix(b"batch-"), context);
    assert_eq!(prefixed.len(), 10, "{context}: prefix scan");
    let report = db
        .verify()
        .unwrap_or_else(|error| panic!("{context}: verify: {error}"));
    assert!(report.files >= 2, "{context}: verify checked {report:?}");
    db.wait_for_compaction().expect("wait_for_compaction");
    let _ = db.pressure();
    let stats = db.stats();
    assert!(
        stats.levels.iter().any(|level| level.files > 0),
        "{context}: the flushed table is in the read view:\n{stats}"
    );
    assert!(
        stats.immutable_memtables >= 1,
        "{context}: the log's writes are a frozen memtable of the read view:\n{stats}"
    );
    assert_eq!(stats.error, None, "{context}");
}

/// Opens `dir` read-only, reads everything, closes: the directory must be exactly as before.
fn open_read_check_close(dir: &Path, model: &Model, context: &str) {
    let before = directory_contents(dir);
    let db = Db::open_read_only(dir, options())
        .unwrap_or_else(|error| panic!("{context}: read-only open: {error}"));
    assert_unchanged(&before, dir, &format!("{context}, after the open"));
    read_everything(&db, model, context);
    db.close().expect("close");
    drop(db);
    assert_unchanged(&before, dir, &format!("{context}, after close"));
}

#[test]
fn a_read_only_open_of_a_closed_database_changes_no_file_and_sees_the_log() {
    let seed = test_seed("read_only_closed_database");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut model = Model::new();
    let db = Db::open(dir.path(), options()).expect("open");
    write_workload(&db, &mut model, &mut rng);
    db.close().expect("close");
    drop(db);
    for round in 0..3 {
        open_read_check_close(dir.path(), &model, &format!("seed {seed}, round {round}"));
    }
    // A read-write open afterwards recovers the same state.
    let db = Db::open(dir.path(), options()).expect("reopen for writing");
    let context = format!("seed {seed}, read-write open after the read-only ones");
    assert_eq!(collect(db.iter(), &context).len(), model.len(), "{context}");
}

#[test]
fn a_read_only_open_after_a_crash_changes_no_file_and_sees_the_log() {
    let seed = test_seed("read_only_after_crash");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let crashed = temp_dir();
    let mut model = Model::new();
    let db = Db::open(dir.path(), options()).expect("open");
    write_workload(&db, &mut model, &mut rng);
    // What a crash leaves: the files of the open database, no LOCK, the last log unfinished
    // (the manifest records no synced size for it).
    copy_database_files(dir.path(), crashed.path());
    db.close().expect("close");
    open_read_check_close(
        crashed.path(),
        &model,
        &format!("seed {seed}, crashed copy"),
    );
    assert!(
        !crashed.path().join("LOCK").exists(),
        "seed {seed}: a read-only open must not create LOCK"
    );
}

/// A read-only handle on a database with a put in its log.
fn read_only_database() -> (tempfile::TempDir, Db) {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).expect("open");
    db.put(b"k", b"v").expect("put");
    db.close().expect("close");
    let db = Db::open_read_only(dir.path(), options()).expect("read-only open");
    (dir, db)
}

fn assert_read_only_error(result: shaledb::Result<()>, what: &str) {
    match result {
        Err(Error::ReadOnly(cause)) => {
            let message = Error::ReadOnly(cause.clone()).to_string();
            assert!(
                message.contains("opened read-only") && message.contains("Db::open"),
                "{what}: the message says why and what to do: {message}"
            );
        }
        other => panic!("{what}: expected Error::ReadOnly, got {other:?}"),
    }
}

#[test]
fn every_write_is_refused_with_read_only() {
    let (dir, db) = read_only_database();
    let before = directory_contents(dir.path());
    assert_read_only_error(db.put(b"k", b"w"), "put");
    assert_read_only_error(db.delete(b"k"), "delete");
    let mut batch = WriteBatch::new();
    batch.put(b"a", b"1").expect("batch put");
    assert_read_only_error(db.write(batch, &WriteOptions::SYNC), "write");
    assert_read_only_error(
        db.write(WriteBatch::new(), &WriteOptions::NO_SYNC),
        "write of an empty batch",
    );
    assert_read_only_error(db.flush(), "flush");
    assert_read_only_error(db.compact_range(..), "compact_range");
    db.wait_for_compaction()
        .expect("wait_for_compaction returns at once");

    let db = Arc::new(db);
    let writer =
        BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default()).expect("a batch writer");
    let ticket = writer.put(b"queued", b"put").expect("queue a put");
    assert_read_only_error(ticket.wait(), "a BatchWriter commit");
    drop(writer);

    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    assert_eq!(db.get(b"a").expect("get"), None);
    assert_eq!(db.get(b"queued").expect("get"), None);
    db.close().expect("close");
    assert!(matches!(db.put(b"k", b"w"), Err(Error::Closed)));
    assert_unchanged(&before, dir.path(), "after refused writes");
}

#[test]
fn a_directory_without_a_database_is_invalid_and_nothing_is_created() {
    let dir = temp_dir();
    let missing = dir.path().join("missing");
    match Db::open_read_only(&missing, Options::default()) {
        Err(Error::InvalidArgument(message)) => {
            assert!(message.contains("does not exist"), "{message}")
        }
        other => panic!("a missing directory: {other:?}"),
    }
    assert!(!missing.exists(), "the read-only open created {missing:?}");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("create an empty directory");
    match Db::open_read_only(&empty, Options::default()) {
        Err(Error::InvalidArgument(message)) => {
            assert!(message.contains("no database"), "{message}")
        }
        other => panic!("an empty directory: {other:?}"),
    }
    assert_eq!(
        std::fs::read_dir(&empty).expect("list").count(),
        0,
        "the read-only open created files in an empty directory"
    );

    // Database files without CURRENT are damage, not a missing database.
    let damaged = temp_dir();
    let db = Db::open(damaged.path(), options()).expect("open");
    db.put(b"k", b"v").expect("put");
    db.close().expect("close");
    std::fs::remove_file(damaged.path().join("CURRENT")).expect("remove CURRENT");
    let before = directory_contents(damaged.path());
    match Db::open_read_only(damaged.path(), Options::default()) {
        Err(error) => assert!(error.is_corruption(), "{error}"),
        Ok(_) => panic!("opened a database without CURRENT"),
    }
    assert_unchanged(&before, damaged.path(), "a database without CURRENT");
}

/// The database's one write-ahead log holding writes (a spare one, preallocated ahead of use,
/// may sit beside it).
fn wal_with_records(dir: &Path) -> std::path::PathBuf {
    let wals: Vec<std::path::PathBuf> = common::files_ending_with(dir, ".wal")
        .into_iter()
        .map(|(name, _)| dir.join(name))
        .filter(|path| !record_offsets(path).is_empty())
        .collect();
    assert_eq!(wals.len(), 1, "one log with records: {wals:?}");
    wals[0].clone()
}

/// Writes `count` puts through a database left as a crash leaves it (no clean close, so the
/// manifest records no synced size of the last log); returns its directory and the log.
fn crashed_database(count: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = temp_dir();
    let crashed = temp_dir();
    let db = Db::open(dir.path(), options()).expect("open");
    for index in 0..count {
        db.put(format!("key-{index:03}").as_bytes(), &[b'v'; 100])
            .expect("put");
    }
    copy_database_files(dir.path(), crashed.path());
    db.close().expect("close");
    let wal = wal_with_records(crashed.path());
    (crashed, wal)
}

/// The offsets of the write-batch records of the log at `path` (its sync markers left out).
fn record_offsets(path: &Path) -> Vec<u64> {
    shaledb::log::LogReader::open(path, shaledb::log::LogFileKind::Wal)
        .expect("open the log")
        .filter_map(|event| match event {
            shaledb::log::LogEvent::Record { offset, payload }
                if shaledb::sync_marker::decode_sync_marker(&payload).is_none() =>
            {
                Some(offset)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_torn_tail_is_accepted_even_under_absolute_consistency() {
    let (dir, wal) = crashed_database(20);
    let offsets = record_offsets(&wal);
    // Tear the last record: what a writer in the middle of its write leaves.
    let mut bytes = std::fs::read(&wal).expect("read the log");
    let last = *offsets.last().expect("records") as usize;
    bytes[last + 9] ^= 0xff;
    std::fs::write(&wal, &bytes).expect("tear the last record");
    let strict = Options {
        wal_recovery_mode: WalRecoveryMode::AbsoluteConsistency,
        ..options()
    };
    let before = directory_contents(dir.path());
    let db = Db::open_read_only(dir.path(), strict.clone()).expect("read-only open");
    assert_eq!(
        db.get(b"key-018").expect("get").as_deref(),
        Some(&[b'v'; 100][..])
    );
    assert_eq!(db.get(b"key-019").expect("get"), None, "the torn write");
    db.close().expect("close");
    assert_unchanged(&before, dir.path(), "a torn tail");
    // A read-write open in the same mode still refuses it.
    match Db::open(dir.path(), strict) {
        Err(error) => assert!(error.is_corruption(), "{error}"),
        Ok(_) => panic!("AbsoluteConsistency accepted a torn tail on a read-write open"),
    }
}

#[test]
fn damage_in_the_middle_of_a_log_is_reported_and_left_alone() {
    let (dir, wal) = crashed_database(20);
    let offsets = record_offsets(&wal);
    let mut bytes = std::fs::read(&wal).expect("read the log");
    bytes[offsets[5] as usize + 9] ^= 0xff;
    std::fs::write(&wal, &bytes).expect("damage a record in the middle");
    let before = directory_contents(dir.path());
    match Db::open_read_only(dir.path(), options()) {
        Err(Error::Corruption { file, .. }) => assert_eq!(file, wal),
        other => panic!("damage in the middle: {other:?}"),
    }
    assert_unchanged(&before, dir.path(), "damage in the middle (default mode)");
    // PointInTime recovers the writes before the damage, still without changing anything.
    let point_in_time = Options {
        wal_recovery_mode: WalRecoveryMode::PointInTime,
        ..options()
    };
    let db = Db::open_read_only(dir.path(), point_in_time).expect("PointInTime open");
    assert!(db.get(b"key-004").expect("get").is_some());
    assert_eq!(db.get(b"key-005").expect("get"), None);
    assert_eq!(db.get(b"key-019").expect("get"), None);
    db.close().expect("close");
    assert_unchanged(&before, dir.path(), "damage in the middle (PointInTime)");
}
