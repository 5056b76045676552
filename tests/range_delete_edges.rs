//! Range deletes at their edges: empty and inverted ranges, keys written after a range delete,
//! snapshots from before it, a table holding only a tombstone, the largest keys, replay of a
//! range delete from the log, and a read-only handle refusing one.

mod common;

use common::{small_options, temp_dir};
use shaledb::{Db, Error, MAX_KEY_SIZE, Options, ReadOptions, WriteBatch};

fn keys(db: &Db) -> Vec<Vec<u8>> {
    db.iter()
        .map(|item| item.map(|(key, _)| key))
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn empty_and_inverted_ranges() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    db.put(b"a", b"1").unwrap();
    // An empty range deletes nothing, in memory, after a flush and after a reopen.
    db.delete_range(b"a".as_slice()..b"a".as_slice()).unwrap();
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    db.flush().unwrap();
    db.delete_range(b"a".as_slice()..b"a".as_slice()).unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), small_options()).unwrap();
    db.flush().unwrap();
    assert_eq!(keys(&db), vec![b"a".to_vec()]);
    let error = db
        .delete_range(b"b".as_slice()..b"a".as_slice())
        .unwrap_err();
    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    let too_long = vec![b'z'; MAX_KEY_SIZE + 1];
    assert!(
        db.delete_range(b"a".as_slice()..too_long.as_slice())
            .is_err()
    );
    assert!(WriteBatch::new().delete_range(b"b", b"a").is_err());
}

#[test]
fn later_writes_survive_and_earlier_snapshots_see_the_keys() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    for key in [b"k1", b"k2", b"k3", b"k4"] {
        db.put(key, b"old").unwrap();
    }
    db.flush().unwrap();
    let before = db.snapshot();
    db.delete_range(b"k1".as_slice()..b"k4".as_slice()).unwrap();
    db.put(b"k2", b"new").unwrap();
    // In one batch, a put after the range delete survives it; one before it does not.
    let mut batch = WriteBatch::new();
    batch.put(b"k5", b"gone").unwrap();
    batch.delete_range(b"k5", b"k6").unwrap();
    batch.put(b"k3", b"again").unwrap();
    batch.delete_range(b"k0", b"k1").unwrap();
    db.write(batch, &shaledb::WriteOptions::NO_SYNC).unwrap();
    let expect_now = vec![
        (b"k2".to_vec(), b"new".to_vec()),
        (b"k3".to_vec(), b"again".to_vec()),
        (b"k4".to_vec(), b"old".to_vec()),
    ];
    let at_before = ReadOptions {
        snapshot: Some(&before),
        ..ReadOptions::default()
    };
    for round in 0..3 {
        let now: Vec<(Vec<u8>, Vec<u8>)> = db
            .iter()
            .map(|item| item.map(|(key, value)| (key, value.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(now, expect_now, "round {round}");
        let back: Vec<Vec<u8>> = db
            .iter()
            .rev()
            .map(|item| item.map(|(key, _)| key))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, vec![b"k4".to_vec(), b"k3".to_vec(), b"k2".to_vec()]);
        assert_eq!(db.get(b"k1").unwrap(), None);
        assert_eq!(db.get(b"k5").unwrap(), None);
        assert_eq!(
            db.get_with(b"k1", &at_before).unwrap().as_deref(),
            Some(&b"old"[..])
        );
        assert_eq!(db.range_with(.., &at_before).count(), 4);
        // Round 1 reads the tombstones from a level-0 table, round 2 after a full compaction
        // with the snapshot still held (so they must stay).
        match round {
            0 => db.flush().unwrap(),
            _ => db.compact_range(..).unwrap(),
        }
    }
    drop(before);
    db.compact_range(..).unwrap();
    assert_eq!(db.iter().count(), 3);
}

#[test]
fn a_table_of_only_a_tombstone_and_the_largest_keys() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    let low = vec![0u8; MAX_KEY_SIZE];
    let high = vec![0xffu8; MAX_KEY_SIZE];
    db.put(&low, b"low").unwrap();
    db.put(&high, b"high").unwrap();
    db.put(b"middle", b"m").unwrap();
    db.flush().unwrap();
    // The flush of this memtable writes a table holding a tombstone and no entry.
    db.delete_range(low.as_slice()..high.as_slice()).unwrap();
    db.flush().unwrap();
    assert_eq!(keys(&db), vec![high.clone()]);
    db.verify().unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), small_options()).unwrap();
    assert_eq!(keys(&db), vec![high.clone()]);
    assert_eq!(db.get(&low).unwrap(), None);
    db.compact_range(..).unwrap();
    assert_eq!(keys(&db), vec![high]);
    db.verify().unwrap();
}

#[test]
fn a_logged_range_delete_is_replayed_and_a_read_only_handle_refuses_one() {
    let dir = temp_dir();
    let options = Options {
        sync_writes: true,
        ..small_options()
    };
    {
        let db = Db::open(dir.path(), options.clone()).unwrap();
        for index in 0..100u32 {
            db.put(format!("key{index:03}").as_bytes(), b"v").unwrap();
        }
        db.flush().unwrap();
        db.delete_range(b"key010".as_slice()..b"key090".as_slice())
            .unwrap();
        // Dropped without close: the range delete is only in the log.
        std::mem::forget(db);
    }
    let reader = Db::open_read_only(dir.path(), options.clone()).unwrap();
    assert_eq!(reader.iter().count(), 20);
    let error = reader
        .delete_range(b"a".as_slice()..b"b".as_slice())
        .unwrap_err();
    assert!(matches!(error, Error::ReadOnly(_)), "{error}");
    drop(reader);
    // The forgotten handle still holds the directory lock in this process; a copy opens.
    let copy = temp_dir();
    common::copy_database_files(dir.path(), copy.path());
    let db = Db::open(copy.path(), options).unwrap();
    assert_eq!(db.iter().count(), 20);
    assert_eq!(db.get(b"key050").unwrap(), None);
    assert!(db.get(b"key090").unwrap().is_some());
}

#[test]
fn a_tombstone_moving_into_the_last_level_is_dropped_there() {
    let dir = temp_dir();
    // Tiny level targets and tables far larger than them: every table moves down, by trivial
    // moves where nothing overlaps.
    let options = Options {
        level0_compaction_trigger: 1,
        level1_target_size: 1 << 10,
        level_size_multiplier: 2,
        dynamic_level_sizes: false,
        ..small_options()
    };
    let db = Db::open(dir.path(), options.clone()).unwrap();
    // Values that do not compress, so that every table is far above the targets.
    let mut rng = common::Rng::new(7);
    let mut value = || rng.bytes(1000);
    for index in 0..500u32 {
        db.put(format!("a{index:04}").as_bytes(), &value()).unwrap();
    }
    db.flush().unwrap();
    // A table of other keys and a tombstone over keys no table holds: it hides nothing, and
    // once it reaches the last level nothing older can exist below it.
    for index in 0..500u32 {
        db.put(format!("m{index:04}").as_bytes(), &value()).unwrap();
    }
    db.delete_range(b"x0".as_slice()..b"x9".as_slice()).unwrap();
    db.flush().unwrap();
    db.wait_for_compaction().unwrap();
    assert_eq!(db.iter().count(), 1000);
    db.close().unwrap();
    let state = shaledb::manifest::recover(dir.path()).unwrap();
    assert!(
        state.levels()[..3].iter().all(Vec::is_empty),
        "every table reached the last level: {:?}",
        state.levels().iter().map(Vec::len).collect::<Vec<_>>()
    );
    for file in &state.levels()[3] {
        let path = dir.path().join(format!("{:06}.sst", file.number.0));
        let table = shaledb::sstable::Table::open(&path, file.number).unwrap();
        assert!(
            table.range_tombstones().is_empty(),
            "table {} of the last level still holds a range tombstone",
            file.number.0
        );
    }
}
