//! What compactions do with merge operands: operands no snapshot separates are combined (with
//! their base into a put, or below every level holding the key into a put on nothing), operands
//! a snapshot separates are not, so the snapshot reads what it read; an operand the operator
//! refuses is kept as it was, counted, reported by reads of its key, and repaired by a put.

mod common;

use std::sync::Arc;

use common::temp_dir;
use shaledb::{CounterAdd, Db, Error, Options, ReadOptions};

fn counter_options() -> Options {
    Options {
        merge_operator: Some(Arc::new(CounterAdd)),
        ..Options::default()
    }
}

fn count_at(db: &Db, key: &[u8], options: &ReadOptions<'_>) -> Option<i64> {
    db.get_with(key, options)
        .unwrap()
        .map(|value| CounterAdd::decode(&value).expect("an 8-byte counter"))
}

fn count(db: &Db, key: &[u8]) -> Option<i64> {
    count_at(db, key, &ReadOptions::default())
}

/// Every entry of the live tables of the closed database in `dir`: (user key, kind).
fn entries_on_disk(dir: &std::path::Path) -> Vec<(Vec<u8>, String)> {
    let state = shaledb::manifest::recover(dir).unwrap();
    let mut entries = Vec::new();
    for files in state.levels() {
        for file in files {
            let path = dir.join(format!("{:06}.sst", file.number.0));
            let table = shaledb::sstable::Table::open(&path, file.number).unwrap();
            let mut iterator = table.iter();
            iterator.seek_to_first().unwrap();
            while iterator.valid() {
                let parsed = shaledb::key::parse_internal_key(iterator.key()).unwrap();
                entries.push((parsed.user_key.to_vec(), format!("{:?}", parsed.kind)));
                iterator.next().unwrap();
            }
        }
    }
    entries.sort();
    entries
}

#[test]
fn a_snapshot_between_operands_keeps_them_apart_until_it_is_released() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), counter_options()).unwrap();
    db.put(b"k", &CounterAdd::encode(10)).unwrap();
    db.merge(b"k", &CounterAdd::encode(1)).unwrap();
    let snapshot = db.snapshot();
    db.merge(b"k", &CounterAdd::encode(2)).unwrap();
    db.merge(b"k", &CounterAdd::encode(3)).unwrap();
    db.merge(b"fresh", &CounterAdd::encode(4)).unwrap();
    db.compact_range(..).unwrap();
    let at = ReadOptions {
        snapshot: Some(&snapshot),
        ..ReadOptions::default()
    };
    assert_eq!(count_at(&db, b"k", &at), Some(11));
    assert_eq!(count_at(&db, b"fresh", &at), None);
    assert_eq!(count(&db, b"k"), Some(16));
    assert_eq!(count(&db, b"fresh"), Some(4));
    db.close().unwrap();
    drop(db);
    // Above the snapshot the two operands became one (a partial merge); below it the operand
    // and the put became a put; the operand of a key with nothing below became a put.
    assert_eq!(
        entries_on_disk(dir.path()),
        [
            (b"fresh".to_vec(), "Value".to_string()),
            (b"k".to_vec(), "Merge".to_string()),
            (b"k".to_vec(), "Value".to_string()),
        ]
    );
    drop(snapshot);
    let db = Db::open(dir.path(), counter_options()).unwrap();
    db.compact_range(..).unwrap();
    assert_eq!(count(&db, b"k"), Some(16));
    db.close().unwrap();
    drop(db);
    assert_eq!(
        entries_on_disk(dir.path()),
        [
            (b"fresh".to_vec(), "Value".to_string()),
            (b"k".to_vec(), "Value".to_string()),
        ]
    );
}

#[test]
fn operands_above_a_delete_or_range_delete_merge_onto_nothing() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), counter_options()).unwrap();
    db.put(b"a", &CounterAdd::encode(100)).unwrap();
    db.put(b"b", &CounterAdd::encode(100)).unwrap();
    db.merge(b"b", &CounterAdd::encode(5)).unwrap();
    db.flush().unwrap();
    db.delete(b"a").unwrap();
    db.delete_range(b"b".as_slice()..b"c").unwrap();
    db.merge(b"a", &CounterAdd::encode(1)).unwrap();
    db.merge(b"b", &CounterAdd::encode(2)).unwrap();
    let check = |db: &Db, at: &str| {
        assert_eq!(count(db, b"a"), Some(1), "{at}");
        assert_eq!(count(db, b"b"), Some(2), "{at}");
        let pairs: Vec<(Vec<u8>, Option<i64>)> = db
            .iter()
            .map(|item| item.map(|(key, value)| (key, CounterAdd::decode(&value))))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            pairs,
            [(b"a".to_vec(), Some(1)), (b"b".to_vec(), Some(2))],
            "{at}"
        );
        let mut backward: Vec<_> = db
            .iter()
            .rev()
            .map(|item| item.map(|(key, value)| (key, CounterAdd::decode(&value))))
            .collect::<Result<_, _>>()
            .unwrap();
        backward.reverse();
        assert_eq!(backward, pairs, "{at}: backward");
    };
    check(&db, "in the memtable over a table");
    db.flush().unwrap();
    check(&db, "in two tables");
    db.compact_range(..).unwrap();
    check(&db, "compacted");
}

#[test]
fn an_operand_the_operator_refuses_is_kept_reported_and_repaired_by_a_put() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), counter_options()).unwrap();
    db.merge(b"good", &CounterAdd::encode(1)).unwrap();
    db.merge(b"bad", &CounterAdd::encode(1)).unwrap();
    db.merge(b"bad", b"three").unwrap();
    db.merge(b"bad", &CounterAdd::encode(1)).unwrap();
    db.compact_range(..).unwrap();
    let stats = db.stats();
    assert!(stats.compaction_merge_failures > 0, "{stats}");
    assert!(
        stats.error.is_none(),
        "a refused merge failed the compaction"
    );
    assert_eq!(count(&db, b"good"), Some(1));
    let error = db.get(b"bad").unwrap_err();
    match &error {
        Error::Merge {
            operator,
            key,
            reason,
        } => {
            assert_eq!(operator, CounterAdd::NAME);
            assert_eq!(key, b"bad");
            assert!(reason.contains("5 bytes"), "{reason}");
        }
        other => panic!("expected Error::Merge, got {other}"),
    }
    assert!(error.to_string().contains("bad"), "{error}");
    // Iterators report it too, both ways.
    assert!(db.iter().any(|item| item.is_err()));
    assert!(db.iter().rev().any(|item| item.is_err()));
    // A put replaces the operands; the next compaction drops them.
    db.put(b"bad", &CounterAdd::encode(40)).unwrap();
    db.merge(b"bad", &CounterAdd::encode(2)).unwrap();
    db.compact_range(..).unwrap();
    assert_eq!(count(&db, b"bad"), Some(42));
}
