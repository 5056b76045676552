//! The edges of the public API: `stats()` counters move and print, every call after `close()`
//! fails with `Error::Closed`, oversized keys and values are refused with
//! `Error::InvalidArgument`, and an empty batch is a no-op.

mod common;

use common::{small_options, temp_dir};
use shaledb::{Db, Error, MAX_KEY_SIZE, MAX_VALUE_SIZE, ReadOptions, WriteBatch, WriteOptions};

#[test]
fn stats_count_groups_flushes_and_cache_hits() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    let empty = db.stats();
    assert_eq!(empty.write_groups, 0);
    assert_eq!(empty.flushes, 0);
    for index in 0..2_000u32 {
        db.put(format!("key-{index:05}").as_bytes(), &[7; 100])
            .unwrap();
    }
    db.write(WriteBatch::new(), &WriteOptions::SYNC).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"synced", b"yes").unwrap();
    db.write(batch, &WriteOptions::SYNC).unwrap();
    assert!(
        db.stats().wal_bytes > 0,
        "the current log holds the last writes"
    );
    db.flush().unwrap();
    let written = db.stats();
    assert!(
        written.write_groups >= 1 && written.write_groups <= 2_002,
        "{written:?}"
    );
    assert!(written.synced_groups >= 1, "{written:?}");
    assert!(written.flushes >= 1, "{written:?}");
    // Flushed tables may already have been compacted out of level 0.
    let files: usize = written.levels.iter().map(|level| level.files).sum();
    let bytes: u64 = written.levels.iter().map(|level| level.bytes).sum();
    assert!(files >= 1 && bytes > 0, "{written:?}");
    assert_eq!(
        written.immutable_memtables, 0,
        "flush waits for every frozen memtable"
    );

    // Everything is in tables now: the second read of a block hits the cache.
    for _ in 0..2 {
        for index in (0..2_000u32).step_by(100) {
            let value = db.get(format!("key-{index:05}").as_bytes()).unwrap();
            assert_eq!(value.as_deref(), Some(&[7; 100][..]));
        }
    }
    let read = db.stats();
    assert!(
        read.cache_hits > written.cache_hits,
        "no cache hits: {read:?}"
    );
    assert!(read.cache_misses > 0, "{read:?}");
    assert!(read.cache_bytes > 0, "{read:?}");
    let uncached = ReadOptions {
        fill_cache: false,
        ..ReadOptions::default()
    };
    assert!(db.get_with(b"key-00001", &uncached).unwrap().is_some());
    let text = read.to_string();
    assert!(!text.trim().is_empty());
    assert!(text.lines().count() > 3, "{text}");
}

#[test]
fn every_call_after_close_fails_with_closed() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let closed = |result: shaledb::Result<()>, call: &str| {
        assert!(matches!(result, Err(Error::Closed)), "{call}: {result:?}");
    };
    closed(db.put(b"k", b"v"), "put");
    closed(db.delete(b"k"), "delete");
    let mut batch = WriteBatch::new();
    batch.put(b"k", b"v").unwrap();
    closed(db.write(batch, &WriteOptions::SYNC), "write");
    closed(
        db.write(WriteBatch::new(), &WriteOptions::SYNC),
        "empty write",
    );
    closed(db.get(b"k").map(drop), "get");
    closed(db.multi_get(&[b"k"]).map(drop), "multi_get");
    closed(db.flush(), "flush");
    for (name, mut iterator) in [
        ("iter", db.iter()),
        ("range", db.range(..)),
        ("prefix", db.prefix(b"k")),
    ] {
        assert!(
            matches!(iterator.next(), Some(Err(Error::Closed))),
            "{name}"
        );
        assert!(iterator.next().is_none(), "{name} goes on after its error");
    }
    assert!(matches!(db.iter().next_back(), Some(Err(Error::Closed))));
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), small_options()).unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn oversized_keys_and_values_are_refused() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    let big_key = vec![b'k'; MAX_KEY_SIZE + 1];
    let invalid = |result: shaledb::Result<()>, call: &str| {
        assert!(
            matches!(result, Err(Error::InvalidArgument(_))),
            "{call}: {result:?}"
        );
    };
    invalid(db.put(&big_key, b"v"), "put of a big key");
    invalid(db.delete(&big_key), "delete of a big key");
    invalid(db.get(&big_key).map(drop), "get of a big key");
    invalid(
        db.multi_get(&[&b"fine"[..], &big_key]).map(drop),
        "multi_get of a big key",
    );
    let mut batch = WriteBatch::new();
    invalid(batch.put(&big_key, b"v"), "batch put of a big key");
    invalid(batch.delete(&big_key), "batch delete of a big key");
    assert!(batch.is_empty(), "a refused operation changed the batch");
    let big_value = vec![0u8; MAX_VALUE_SIZE + 1];
    invalid(db.put(b"k", &big_value), "put of a big value");
    invalid(batch.put(b"k", &big_value), "batch put of a big value");
    drop(big_value);

    // The limits themselves are accepted, and an empty key is a key like any other.
    let largest_key = vec![b'k'; MAX_KEY_SIZE];
    db.put(&largest_key, b"largest key").unwrap();
    db.put(b"", b"empty key").unwrap();
    db.flush().unwrap();
    assert_eq!(
        db.get(&largest_key).unwrap().as_deref(),
        Some(&b"largest key"[..])
    );
    assert_eq!(db.get(b"").unwrap().as_deref(), Some(&b"empty key"[..]));
    let keys: Vec<_> = db.iter().map(|item| item.unwrap().0).collect();
    assert_eq!(keys, vec![Vec::new(), largest_key]);
}

#[test]
fn an_empty_batch_is_a_no_op() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    db.write(WriteBatch::new(), &WriteOptions::SYNC).unwrap();
    db.write(WriteBatch::new(), &WriteOptions::NO_SYNC).unwrap();
    assert_eq!(db.iter().count(), 0);
    db.put(b"k", b"v").unwrap();
    let snapshot = db.snapshot();
    db.write(WriteBatch::new(), &WriteOptions::SYNC).unwrap();
    // No sequence number was consumed: the snapshot still equals the current state.
    assert_eq!(db.snapshot().sequence(), snapshot.sequence());
    drop(db);
    let db = Db::open(dir.path(), small_options()).unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}
