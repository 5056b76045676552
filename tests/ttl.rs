//! Keyspaces of expiring values (`KeyspaceOptions::time_to_live`, `Keyspace::put_with_ttl`,
//! `WriteBatch::put_in_with_ttl`): an expired value is absent to every read at once, whatever
//! is below it; compactions drop expired values without changing what a snapshot reads; the
//! property is recorded and cannot change.

mod common;

use std::time::Duration;

use common::{collect, temp_dir};
use shaledb::{
    Db, Error, KeyspaceOptions, MAX_VALUE_SIZE, Options, ReadOptions, WriteBatch, WriteOptions,
};

fn ttl(duration: Duration) -> KeyspaceOptions {
    KeyspaceOptions {
        time_to_live: Some(duration),
        ..KeyspaceOptions::default()
    }
}

const SHORT: Duration = Duration::from_millis(30);

fn wait_past(duration: Duration) {
    std::thread::sleep(duration + Duration::from_millis(30));
}

#[test]
fn expired_values_are_absent_to_every_read() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let cache = db
        .keyspace("cache", ttl(Duration::from_secs(3600)))
        .unwrap();
    cache.put(b"a", b"lives").unwrap();
    cache.put_with_ttl(b"b", b"dies", SHORT).unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put_in_with_ttl(&cache, b"c", b"dies too", SHORT)
        .unwrap();
    batch.put_in(&cache, b"d", b"lives too").unwrap();
    db.write(batch, &WriteOptions::SYNC).unwrap();
    assert_eq!(cache.get(b"b").unwrap().as_deref(), Some(&b"dies"[..]));
    assert_eq!(cache.iter().count(), 4);
    wait_past(SHORT);
    for round in 0..2 {
        // Round 1 reads from tables instead of the memtable.
        assert_eq!(cache.get(b"a").unwrap().as_deref(), Some(&b"lives"[..]));
        assert_eq!(cache.get(b"b").unwrap(), None);
        assert!(!cache.contains_key(b"c").unwrap());
        let values = cache.multi_get(&[&b"a"[..], b"b", b"c", b"d"]).unwrap();
        let present: Vec<bool> = values.iter().map(Option::is_some).collect();
        assert_eq!(present, [true, false, false, true], "round {round}");
        let forward = collect(cache.iter(), "forward");
        assert_eq!(
            forward,
            vec![
                (b"a".to_vec(), b"lives".to_vec()),
                (b"d".to_vec(), b"lives too".to_vec())
            ]
        );
        let mut backward = collect(cache.iter().rev(), "backward");
        backward.reverse();
        assert_eq!(backward, forward);
        assert_eq!(cache.last_key_value().unwrap().unwrap().0, b"d".to_vec());
        let across = db
            .multi_get_in(
                &[(&cache, &b"b"[..]), (&cache, &b"d"[..])],
                &ReadOptions::default(),
            )
            .unwrap();
        assert!(across[0].is_none() && across[1].is_some());
        cache.flush().unwrap();
    }
}

#[test]
fn an_expired_newest_value_hides_the_older_ones_before_and_after_compaction() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let cache = db
        .keyspace("cache", ttl(Duration::from_secs(3600)))
        .unwrap();
    cache.put(b"k", b"old, long-lived").unwrap();
    cache.flush().unwrap();
    let snapshot = db.snapshot();
    cache
        .put_with_ttl(b"k", b"new, short-lived", SHORT)
        .unwrap();
    cache.put_with_ttl(b"gone", b"short-lived", SHORT).unwrap();
    wait_past(SHORT);
    let at_snapshot = ReadOptions {
        snapshot: Some(&snapshot),
        ..ReadOptions::default()
    };
    let check = |when: &str| {
        assert_eq!(
            cache.get(b"k").unwrap(),
            None,
            "{when}: the old value came back"
        );
        assert_eq!(
            cache.get_with(b"k", &at_snapshot).unwrap().as_deref(),
            Some(&b"old, long-lived"[..]),
            "{when}: the snapshot's value"
        );
        assert_eq!(cache.iter().count(), 0, "{when}");
    };
    check("before compaction");
    cache.flush().unwrap();
    check("after the flush");
    let before = cache.verify().unwrap().entries;
    cache.compact_range(..).unwrap();
    check("after compaction with the snapshot");
    drop(snapshot);
    cache.compact_range(..).unwrap();
    assert_eq!(cache.get(b"k").unwrap(), None);
    let after = cache.verify().unwrap().entries;
    assert_eq!(before, 3);
    assert_eq!(
        after, 0,
        "the expired values and what they hid were dropped"
    );
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let cache = db.existing_keyspace("cache").unwrap().unwrap();
    assert_eq!(
        cache.options().time_to_live,
        Some(Duration::from_secs(3600))
    );
    assert_eq!(cache.get(b"k").unwrap(), None);
}

#[test]
fn the_time_to_live_is_recorded_and_cannot_be_added_or_removed() {
    let dir = temp_dir();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let cache = db.keyspace("cache", ttl(Duration::from_secs(60))).unwrap();
        cache.put(b"k", b"v").unwrap();
        db.keyspace("plain", KeyspaceOptions::default()).unwrap();
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for (name, options) in [
        ("cache", KeyspaceOptions::default()),
        ("plain", ttl(Duration::from_secs(60))),
    ] {
        match db.keyspace(name, options) {
            Err(Error::InvalidArgument(message)) => {
                assert!(message.contains("time_to_live"), "{message}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // Another duration is fine: it applies to later writes.
    let cache = db.keyspace("cache", ttl(Duration::from_secs(1))).unwrap();
    assert_eq!(cache.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    let plain = db.existing_keyspace("plain").unwrap().unwrap();
    assert!(matches!(
        plain.put_with_ttl(b"k", b"v", SHORT),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn values_leave_room_for_their_expiry() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let cache = db.keyspace("cache", ttl(Duration::from_secs(60))).unwrap();
    let largest = vec![7u8; MAX_VALUE_SIZE - 8];
    cache.put(b"large", &largest).unwrap();
    assert_eq!(cache.get(b"large").unwrap().unwrap().len(), largest.len());
    let too_large = vec![7u8; MAX_VALUE_SIZE - 7];
    assert!(matches!(
        cache.put(b"too large", &too_large),
        Err(Error::InvalidArgument(_))
    ));
    let mut batch = WriteBatch::new();
    assert!(batch.put_in(&cache, b"too large", &too_large).is_err());
    assert!(batch.is_empty());
}

#[test]
fn a_time_to_live_takes_no_merge_operator_and_is_more_than_zero() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let both = KeyspaceOptions {
        merge_operator: Some(std::sync::Arc::new(shaledb::CounterAdd)),
        ..ttl(Duration::from_secs(1))
    };
    assert!(matches!(
        db.keyspace("x", both),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.keyspace("y", ttl(Duration::ZERO)),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn large_batches_write_expiring_values_and_ingestion_is_refused() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let cache = db.keyspace("cache", ttl(SHORT)).unwrap();
    let mut batch = cache.large_batch().unwrap();
    batch.put(b"a", b"1").unwrap();
    batch.put(b"b", b"2").unwrap();
    batch.commit().unwrap();
    assert_eq!(cache.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    wait_past(SHORT);
    assert_eq!(cache.get(b"a").unwrap(), None);
    assert_eq!(cache.iter().count(), 0);
    let table = dir.path().join("external.sst");
    assert!(matches!(
        cache.ingest(&[&table]),
        Err(Error::InvalidArgument(message)) if message.contains("time_to_live")
    ));
}
