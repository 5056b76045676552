//! Keyspaces and the write-ahead logs they share: a log is deleted only when every keyspace
//! with writes in it has flushed them, a cold keyspace's writes survive a reopen after a hot one
//! flushed many times (its tables never hold them, only the logs), and past
//! `Options::max_total_wal_size` the cold keyspace is flushed so that the logs do not pile up.

use shaledb::{Db, KeyspaceOptions, Options, WriteBatch, WriteOptions};

/// Files in `dir` whose names end in `suffix`.
fn files_ending(dir: &std::path::Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(suffix)
        })
        .count()
}

fn wal_files(dir: &std::path::Path) -> usize {
    files_ending(dir, ".wal")
}

fn small(write_buffer_size: usize) -> KeyspaceOptions {
    KeyspaceOptions {
        write_buffer_size,
        ..KeyspaceOptions::default()
    }
}

fn options(max_total_wal_size: u64) -> Options {
    Options {
        write_buffer_size: 1 << 20,
        max_total_wal_size,
        sync_writes: false,
        ..Options::default()
    }
}

/// Writes `rounds` hot memtables' worth into `hot` with one write to `cold` first.
fn fill(db: &Db, hot: &shaledb::Keyspace, cold: &shaledb::Keyspace, rounds: usize) {
    cold.put(b"cold-key", b"cold-value").unwrap();
    let value = vec![7u8; 1000];
    for index in 0..rounds * 80 {
        hot.put(format!("hot-{index:08}").as_bytes(), &value)
            .unwrap();
    }
    let mut batch = WriteBatch::new();
    batch.put_in(hot, b"pair", b"hot").unwrap();
    batch.put_in(cold, b"pair", b"cold").unwrap();
    db.write(batch, &WriteOptions::SYNC).unwrap();
}

/// A database in `dir` with a hot keyspace (64 KiB write buffer) and a cold one (64 MiB).
fn open_hot_and_cold(
    dir: &std::path::Path,
    max_total_wal_size: u64,
) -> (Db, shaledb::Keyspace, shaledb::Keyspace) {
    let db = Db::open(dir, options(max_total_wal_size)).unwrap();
    let hot = db.keyspace("hot", small(64 << 10)).unwrap();
    let cold = db.keyspace("cold", small(64 << 20)).unwrap();
    (db, hot, cold)
}

#[test]
fn a_cold_keyspace_keeps_its_writes_in_the_logs_across_hot_flushes_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    // A WAL limit far above what the test writes: the cold keyspace is never flushed.
    let (db, hot, cold) = open_hot_and_cold(dir.path(), 1 << 40);
    fill(&db, &hot, &cold, 20);
    db.wait_for_compaction().unwrap();
    assert!(db.stats().flushes >= 10, "{}", db.stats());
    assert!(
        wal_files(dir.path()) >= 10,
        "the cold keyspace's first write pins its log and every later one"
    );
    drop(db);
    let db = Db::open(dir.path(), options(1 << 40)).unwrap();
    let cold = db.keyspace("cold", small(64 << 20)).unwrap();
    let hot = db.keyspace("hot", small(64 << 10)).unwrap();
    assert_eq!(
        cold.get(b"cold-key").unwrap().as_deref(),
        Some(&b"cold-value"[..])
    );
    assert_eq!(cold.get(b"pair").unwrap().as_deref(), Some(&b"cold"[..]));
    assert_eq!(hot.get(b"pair").unwrap().as_deref(), Some(&b"hot"[..]));
    assert_eq!(hot.iter().count(), 20 * 80 + 1);
    assert_eq!(cold.iter().count(), 2);
    // Recovery wrote everything to tables and started one new log (and the flush thread may
    // have preallocated the next).
    assert!(wal_files(dir.path()) <= 2, "{} logs", wal_files(dir.path()));
}

#[test]
fn past_the_wal_limit_the_keyspace_pinning_the_oldest_log_is_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hot, cold) = open_hot_and_cold(dir.path(), 256 << 10);
    let mut most = 0;
    for _ in 0..10 {
        fill(&db, &hot, &cold, 2);
        db.wait_for_compaction().unwrap();
        most = most.max(wal_files(dir.path()));
    }
    let stats = db.stats();
    assert!(stats.wal_limit_flushes > 0, "{stats}");
    assert!(
        most <= 8,
        "at most {most} logs of 64 KiB memtables under a 256 KiB limit"
    );
    drop(db);
    let db = Db::open(dir.path(), options(256 << 10)).unwrap();
    let cold = db.keyspace("cold", small(64 << 20)).unwrap();
    assert_eq!(
        cold.get(b"cold-key").unwrap().as_deref(),
        Some(&b"cold-value"[..])
    );
    assert_eq!(cold.get(b"pair").unwrap().as_deref(), Some(&b"cold"[..]));
}

#[test]
fn a_dropped_keyspace_stays_dropped_and_its_logged_writes_are_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(1 << 40)).unwrap();
    let doomed = db.keyspace("doomed", small(1 << 20)).unwrap();
    let kept = db.keyspace("kept", small(1 << 20)).unwrap();
    doomed.put(b"k", b"doomed").unwrap();
    kept.put(b"k", b"kept").unwrap();
    doomed.flush().unwrap();
    doomed.put(b"unflushed", b"doomed").unwrap();
    db.drop_keyspace("doomed").unwrap();
    assert!(doomed.get(b"k").is_err());
    assert!(doomed.put(b"k", b"again").is_err());
    let mut batch = WriteBatch::new();
    batch.put_in(&kept, b"other", b"x").unwrap();
    batch.put_in(&doomed, b"k", b"x").unwrap();
    assert!(db.write(batch, &WriteOptions::SYNC).is_err());
    assert_eq!(
        kept.get(b"other").unwrap(),
        None,
        "nothing of the batch was written"
    );
    drop(db);
    let db = Db::open(dir.path(), options(1 << 40)).unwrap();
    assert_eq!(db.keyspaces(), ["default", "kept"]);
    let kept = db.keyspace("kept", small(1 << 20)).unwrap();
    assert_eq!(kept.get(b"k").unwrap().as_deref(), Some(&b"kept"[..]));
    let again = db.keyspace("doomed", small(1 << 20)).unwrap();
    assert_eq!(
        again.iter().count(),
        0,
        "a new keyspace under the old name is empty"
    );
    let tables = files_ending(dir.path(), ".sst");
    assert_eq!(
        tables, 1,
        "the dropped keyspace's table was deleted; kept's remains"
    );
}

#[test]
fn a_checkpoint_and_a_read_only_open_hold_every_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hot, cold) = open_hot_and_cold(dir.path(), 1 << 40);
    // The cold keyspace's writes are only in the logs; the hot one's mostly in tables.
    fill(&db, &hot, &cold, 5);
    db.wait_for_compaction().unwrap();
    let copy = dir.path().join("checkpoint");
    db.checkpoint(&copy).unwrap();
    hot.put(b"after", b"checkpoint").unwrap();
    for (path, read_only) in [(copy.as_path(), false), (dir.path(), true)] {
        let other = if read_only {
            Db::open_read_only(path, options(1 << 40)).unwrap()
        } else {
            Db::open(path, options(1 << 40)).unwrap()
        };
        assert_eq!(other.keyspaces(), ["default", "hot", "cold"]);
        let cold = other.keyspace("cold", small(64 << 20)).unwrap();
        let hot = other.keyspace("hot", small(64 << 10)).unwrap();
        assert_eq!(
            cold.get(b"cold-key").unwrap().as_deref(),
            Some(&b"cold-value"[..])
        );
        assert_eq!(cold.get(b"pair").unwrap().as_deref(), Some(&b"cold"[..]));
        assert_eq!(hot.iter().count(), 5 * 80 + 1 + usize::from(read_only));
        if read_only {
            assert!(other.keyspace("new", small(1 << 20)).is_err());
        }
    }
}

#[test]
fn a_snapshot_and_iterators_see_every_keyspace_at_one_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(1 << 40)).unwrap();
    let a = db.keyspace("a", small(64 << 10)).unwrap();
    let b = db.keyspace("b", small(64 << 10)).unwrap();
    let mut batch = WriteBatch::new();
    batch.put_in(&a, b"k", b"a1").unwrap();
    batch.put_in(&b, b"k", b"b1").unwrap();
    batch.put(b"k", b"default1").unwrap();
    db.write(batch, &WriteOptions::NO_SYNC).unwrap();
    let snapshot = db.snapshot();
    let at = shaledb::ReadOptions {
        snapshot: Some(&snapshot),
        ..Default::default()
    };
    let mut batch = WriteBatch::new();
    batch.delete_in(&a, b"k").unwrap();
    batch.put_in(&b, b"k", b"b2").unwrap();
    batch.delete_range_in(&b, b"a", b"j").unwrap();
    db.write(batch, &WriteOptions::NO_SYNC).unwrap();
    a.flush().unwrap();
    b.compact_range(..).unwrap();
    assert_eq!(a.get_with(b"k", &at).unwrap().as_deref(), Some(&b"a1"[..]));
    assert_eq!(b.get_with(b"k", &at).unwrap().as_deref(), Some(&b"b1"[..]));
    assert_eq!(
        db.get_with(b"k", &at).unwrap().as_deref(),
        Some(&b"default1"[..])
    );
    assert_eq!(a.range_with(.., &at).count(), 1);
    assert_eq!(a.get(b"k").unwrap(), None);
    assert_eq!(b.get(b"k").unwrap().as_deref(), Some(&b"b2"[..]));
    assert_eq!(a.stats().unwrap().levels[0].files, 1);
    assert_eq!(db.stats().keyspaces.len(), 3);
}

#[test]
fn a_batch_cannot_write_to_another_databases_keyspace() {
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = Db::open(first_dir.path(), options(1 << 40)).unwrap();
    let second = Db::open(second_dir.path(), options(1 << 40)).unwrap();
    let theirs = first.keyspace("same-id", small(1 << 20)).unwrap();
    let ours = second.keyspace("same-id", small(1 << 20)).unwrap();
    let mut batch = WriteBatch::new();
    batch.put_in(&theirs, b"k", b"v").unwrap();
    assert!(second.write(batch.clone(), &WriteOptions::SYNC).is_err());
    assert_eq!(ours.get(b"k").unwrap(), None);
    assert!(
        batch.put_in(&ours, b"k", b"v").is_err(),
        "a batch holds one database's keyspaces"
    );
    first.write(batch, &WriteOptions::SYNC).unwrap();
    assert_eq!(theirs.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    let values = second.multi_get_in(&[(&theirs, b"k")], &shaledb::ReadOptions::default());
    assert!(values.is_err());
}
