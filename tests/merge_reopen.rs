//! Merge operators across reopens and crashes: the manifest records a keyspace's operator name
//! at its first merge, so that a reopen without an operator, or with one of another name, is
//! refused (naming the keyspace and both names) while a database that never merged opens with
//! any; merges into a keyspace without an operator write nothing; operands in the write-ahead
//! log replay after a crash; the files that hold operands carry the new format versions.

mod common;

use std::sync::Arc;

use common::{copy_database_files, temp_dir};
use shaledb::{
    CounterAdd, Db, Error, KeyspaceOptions, ListAppend, MergeError, MergeOperator, Options,
    WriteBatch, WriteOptions,
};

fn counter_options() -> Options {
    Options {
        merge_operator: Some(Arc::new(CounterAdd)),
        ..Options::default()
    }
}

fn count(db: &Db, key: &[u8]) -> Option<i64> {
    db.get(key)
        .unwrap()
        .map(|value| CounterAdd::decode(&value).expect("an 8-byte counter"))
}

fn invalid_argument(error: Error) -> String {
    match error {
        Error::InvalidArgument(message) => message,
        other => panic!("expected InvalidArgument, got {other}"),
    }
}

/// Another operator with its own name, to reopen with.
struct Renamed;

impl MergeOperator for Renamed {
    fn name(&self) -> &str {
        "test.renamed"
    }
    fn full_merge(
        &self,
        key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, MergeError> {
        CounterAdd.full_merge(key, existing, operands)
    }
}

#[test]
fn a_keyspace_that_merged_reopens_only_with_an_operator_of_the_same_name() {
    let dir = temp_dir();
    {
        let db = Db::open(dir.path(), counter_options()).unwrap();
        db.merge(b"k", &CounterAdd::encode(5)).unwrap();
        db.close().unwrap();
    }
    let message = invalid_argument(Db::open(dir.path(), Options::default()).unwrap_err());
    assert!(
        message.contains("\"default\"")
            && message.contains(CounterAdd::NAME)
            && message.contains("None"),
        "{message}"
    );
    let renamed = Options {
        merge_operator: Some(Arc::new(Renamed)),
        ..Options::default()
    };
    let message = invalid_argument(Db::open(dir.path(), renamed).unwrap_err());
    assert!(
        message.contains(CounterAdd::NAME) && message.contains("test.renamed"),
        "{message}"
    );
    // Read-only opens are held to the same rule.
    assert!(Db::open_read_only(dir.path(), Options::default()).is_err());
    let db = Db::open(dir.path(), counter_options()).unwrap();
    assert_eq!(count(&db, b"k"), Some(5));
}

#[test]
fn a_database_that_never_merged_opens_with_any_operator_or_none() {
    let dir = temp_dir();
    {
        let db = Db::open(dir.path(), counter_options()).unwrap();
        db.put(b"k", b"v").unwrap();
        db.close().unwrap();
    }
    for options in [
        Options::default(),
        Options {
            merge_operator: Some(Arc::new(ListAppend)),
            ..Options::default()
        },
    ] {
        let db = Db::open(dir.path(), options).unwrap();
        assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        db.close().unwrap();
    }
}

#[test]
fn merges_into_a_keyspace_without_an_operator_write_nothing() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let message = invalid_argument(db.merge(b"k", b"x").unwrap_err());
    assert!(
        message.contains("\"default\"") && message.contains("Options::merge_operator"),
        "{message}"
    );
    let plain = db.keyspace("plain", KeyspaceOptions::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"a", b"1").unwrap();
    batch.merge_in(&plain, b"k", b"x").unwrap();
    let message = invalid_argument(db.write(batch, &WriteOptions::SYNC).unwrap_err());
    assert!(
        message.contains("\"plain\"") && message.contains("KeyspaceOptions::merge_operator"),
        "{message}"
    );
    assert_eq!(
        db.get(b"a").unwrap(),
        None,
        "half of a refused batch was written"
    );
    db.close().unwrap();
    drop(db);
    // Nothing was recorded: the database opens without operators.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.keyspace("plain", KeyspaceOptions::default()).unwrap();
}

#[test]
fn a_keyspace_of_its_own_is_checked_when_it_is_opened() {
    let dir = temp_dir();
    let lists = KeyspaceOptions {
        merge_operator: Some(Arc::new(ListAppend)),
        ..KeyspaceOptions::default()
    };
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let events = db.keyspace("events", lists.clone()).unwrap();
        events.merge(b"u", &ListAppend::item(b"login")).unwrap();
        db.close().unwrap();
    }
    // The database opens (its default keyspace never merged); the keyspace does not, without
    // its operator.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let message = invalid_argument(
        db.keyspace("events", KeyspaceOptions::default())
            .unwrap_err(),
    );
    assert!(
        message.contains("\"events\"")
            && message.contains(ListAppend::NAME)
            && message.contains("KeyspaceOptions::merge_operator"),
        "{message}"
    );
    let counters = KeyspaceOptions {
        merge_operator: Some(Arc::new(CounterAdd)),
        ..KeyspaceOptions::default()
    };
    let message = invalid_argument(db.keyspace("events", counters).unwrap_err());
    assert!(message.contains(CounterAdd::NAME), "{message}");
    let events = db.keyspace("events", lists).unwrap();
    let value = events.get(b"u").unwrap().unwrap();
    assert_eq!(ListAppend::items(&value).unwrap(), vec![&b"login"[..]]);
}

#[test]
fn operands_in_the_write_ahead_log_replay_after_a_crash() {
    let dir = temp_dir();
    let crashed = temp_dir();
    let db = Db::open(dir.path(), counter_options()).unwrap();
    db.put(b"base", &CounterAdd::encode(100)).unwrap();
    db.flush().unwrap();
    for _ in 0..10 {
        db.merge_with(b"base", &CounterAdd::encode(1), &WriteOptions::NO_SYNC)
            .unwrap();
    }
    let mut batch = WriteBatch::new();
    batch.merge(b"fresh", &CounterAdd::encode(7)).unwrap();
    batch.delete(b"gone").unwrap();
    batch.merge(b"fresh", &CounterAdd::encode(-2)).unwrap();
    db.write(batch, &WriteOptions::NO_SYNC).unwrap();
    db.sync_wal().unwrap();
    // What a crash now leaves: the operands only in the log.
    copy_database_files(dir.path(), crashed.path());
    drop(db);
    let wal = std::fs::read_dir(crashed.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wal"))
        .max()
        .expect("a write-ahead log");
    let header = std::fs::read(&wal).unwrap();
    assert_eq!(&header[8..10], &[5, 0], "the log is of version 5");
    let db = Db::open(crashed.path(), counter_options()).unwrap();
    assert_eq!(count(&db, b"base"), Some(110));
    assert_eq!(count(&db, b"fresh"), Some(5));
    // Recovery wrote the replayed operands to a table as they were: merged on read, and by a
    // compaction into puts.
    db.compact_range(..).unwrap();
    assert_eq!(count(&db, b"base"), Some(110));
    assert_eq!(count(&db, b"fresh"), Some(5));
    assert!(db.stats().compaction_merges > 0);
}

#[test]
fn tables_holding_operands_are_of_sstable_version_3() {
    let dir = temp_dir();
    // No compaction: the two flushes stay two level-0 tables.
    let options = Options {
        level0_size_percent_trigger: 0,
        ..counter_options()
    };
    let db = Db::open(dir.path(), options).unwrap();
    db.put(b"plain", b"v").unwrap();
    db.flush().unwrap();
    db.merge(b"counter", &CounterAdd::encode(1)).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    drop(db);
    let state = shaledb::manifest::recover(dir.path()).unwrap();
    let mut versions = Vec::new();
    for file in &state.levels()[0] {
        let path = dir.path().join(format!("{:06}.sst", file.number.0));
        let table = shaledb::sstable::Table::open(&path, file.number).unwrap();
        versions.push(table.footer().version);
    }
    versions.sort_unstable();
    assert_eq!(
        versions,
        vec![1, 3],
        "a table without operands stays version 1"
    );
}
