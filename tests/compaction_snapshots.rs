//! Compaction and snapshots: a snapshot keeps every version it sees (values and deletions)
//! through full compactions, and once it is dropped the next compaction reclaims them; a
//! tombstone that hides an older value in a deeper level survives compactions above that level.

mod common;

use common::{
    Model, Pairs, Rng, check_levels_on_disk, collect, table_bytes, temp_dir, test_seed,
    tiny_options,
};
use shaledb::{Db, Options, ReadOptions, Snapshot};

const KEYS: u64 = 4_000;

fn key(index: u64) -> Vec<u8> {
    format!("k{index:06}").into_bytes()
}

/// Checks a full scan both ways and every key of `model` (and the absence of every other key
/// in the key space) at `snapshot`, or at the latest state.
fn check_at(db: &Db, snapshot: Option<&Snapshot>, model: &Model, context: &str) {
    let options = ReadOptions {
        snapshot,
        ..ReadOptions::default()
    };
    let expected: Pairs = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let forward = collect(db.range_with(.., &options), context);
    assert!(
        forward == expected,
        "{context}: scan differs: got {} pairs, want {}",
        forward.len(),
        expected.len()
    );
    let mut backward = collect(db.range_with(.., &options).rev(), context);
    backward.reverse();
    assert!(backward == expected, "{context}: reverse scan differs");
    for index in 0..KEYS {
        let key = key(index);
        assert_eq!(
            db.get_with(&key, &options).unwrap().as_deref(),
            model.get(&key).map(Vec::as_slice),
            "{context}: get {key:?}"
        );
    }
}

/// Writes `value_of(index)` (a put, or a delete for `None`) for every key, updating `model`.
fn write_all(db: &Db, model: &mut Model, mut value_of: impl FnMut(u64) -> Option<Vec<u8>>) {
    for index in 0..KEYS {
        let key = key(index);
        match value_of(index) {
            Some(value) => {
                db.put(&key, &value).unwrap();
                model.insert(key, value);
            }
            None => {
                db.delete(&key).unwrap();
                model.remove(&key);
            }
        }
    }
}

#[test]
fn snapshots_keep_their_versions_through_compaction() {
    let seed = test_seed("snapshots_keep_their_versions_through_compaction");
    snapshot_versions_through_compaction(seed, false);
}

/// Regression test: versions that a snapshot kept alive once they reached level 3 (and
/// tombstones that reached it under a snapshot) are reclaimed by `compact_range` after the
/// snapshot is dropped (the last level is rewritten in place, one file at a time).
#[test]
fn dropping_a_snapshot_lets_compact_range_reclaim_its_versions() {
    let seed = test_seed("dropping_a_snapshot_lets_compact_range_reclaim_its_versions");
    snapshot_versions_through_compaction(seed, true);
}

/// Holds two snapshots over three generations of every key through full compactions, then
/// drops them one by one; with `check_space`, each drop and compaction must shrink the tables.
fn snapshot_versions_through_compaction(seed: u64, check_space: bool) {
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    let mut model = Model::new();
    write_all(&db, &mut model, |_| Some(rng.bytes(200)));
    let first = (db.snapshot(), model.clone());
    write_all(&db, &mut model, |_| Some(rng.bytes(200)));
    let second = (db.snapshot(), model.clone());
    // Every third key deleted, every third overwritten again, the rest left at the second value.
    write_all(&db, &mut model, |index| match index % 3 {
        0 => None,
        1 => Some(rng.bytes(200)),
        _ => second.1.get(&key(index)).cloned(),
    });

    db.compact_range(..).unwrap();
    let context = format!("seed {seed}, both snapshots held");
    check_at(&db, Some(&first.0), &first.1, &format!("{context}, first"));
    check_at(
        &db,
        Some(&second.0),
        &second.1,
        &format!("{context}, second"),
    );
    check_at(&db, None, &model, &format!("{context}, latest"));
    let with_both = table_bytes(dir.path());

    drop(first);
    db.compact_range(..).unwrap();
    let context = format!("seed {seed}, first snapshot dropped");
    check_at(
        &db,
        Some(&second.0),
        &second.1,
        &format!("{context}, second"),
    );
    check_at(&db, None, &model, &format!("{context}, latest"));
    let with_second = table_bytes(dir.path());
    // The first snapshot's 4000 values of 200 bytes (800 KB) are gone.
    assert!(
        !check_space || with_second + 600_000 < with_both,
        "{context}: tables went from {with_both} to only {with_second} bytes"
    );

    drop(second);
    db.compact_range(..).unwrap();
    let context = format!("seed {seed}, no snapshot");
    check_at(&db, None, &model, &context);
    let latest_only = table_bytes(dir.path());
    let live: u64 = model.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
    // Only the latest versions remain (plus the tables' own overhead).
    assert!(
        !check_space || (latest_only < with_second && (latest_only as f64) < live as f64 * 1.3),
        "{context}: tables hold {latest_only} bytes (before {with_second}) for {live} live bytes"
    );
    db.close().unwrap();
    check_levels_on_disk(dir.path(), &context);
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    check_at(&db, None, &model, &format!("{context}, after reopening"));
}

/// Level-0 compactions start at one file, so that each flush is compacted into level 1 at once.
fn eager_options() -> Options {
    Options {
        level0_compaction_trigger: 1,
        // Fixed level sizes: the tests place tables in level 1 and below it.
        dynamic_level_sizes: false,
        ..tiny_options()
    }
}

#[test]
fn a_tombstone_over_a_deeper_value_is_kept_until_the_last_level() {
    let seed = test_seed("a_tombstone_over_a_deeper_value_is_kept_until_the_last_level");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let db = Db::open(dir.path(), eager_options()).unwrap();
    let mut model = Model::new();
    write_all(&db, &mut model, |_| Some(rng.bytes(100)));
    // Every key's first value goes to the last level.
    db.compact_range(..).unwrap();
    let context = format!("seed {seed}");
    let stats = db.stats();
    assert!(
        stats.levels[3].files > 0 && stats.levels[..3].iter().all(|level| level.files == 0),
        "{context}: after compact_range {:?}",
        stats.levels
    );
    // A file spanning the whole key range in level 1, so that the tombstones' flush below is
    // merged with it (not moved trivially) in a compaction whose output level is not the last.
    db.put(b"a", b"low end").unwrap();
    db.put(b"z", b"high end").unwrap();
    model.insert(b"a".to_vec(), b"low end".to_vec());
    model.insert(b"z".to_vec(), b"high end".to_vec());
    db.flush().unwrap();
    db.wait_for_compaction().unwrap();
    let before_deletes = (db.snapshot(), model.clone());
    let merges_before = stats.compactions - stats.trivial_moves;
    // Deletes for a random half of the keys, flushed and compacted into level 1 only.
    write_all(&db, &mut model, |index| {
        if rng.chance(1, 2) {
            None
        } else {
            model_value(&before_deletes.1, index)
        }
    });
    db.flush().unwrap();
    db.wait_for_compaction().unwrap();
    let stats = db.stats();
    assert!(
        stats.compactions - stats.trivial_moves > merges_before && stats.levels[1].files > 0,
        "{context}: the deletes were not merged into level 1: {stats}"
    );
    assert_eq!(stats.levels[0].files, 0, "{context}: {stats}");
    check_at(
        &db,
        None,
        &model,
        &format!("{context}, tombstones in level 1"),
    );
    check_at(
        &db,
        Some(&before_deletes.0),
        &before_deletes.1,
        &format!("{context}, snapshot before the deletes"),
    );

    db.compact_range(..).unwrap();
    check_at(
        &db,
        None,
        &model,
        &format!("{context}, after compact_range"),
    );
    check_at(
        &db,
        Some(&before_deletes.0),
        &before_deletes.1,
        &format!("{context}, snapshot after compact_range"),
    );
    drop(before_deletes);
    db.compact_range(..).unwrap();
    check_at(&db, None, &model, &format!("{context}, snapshot dropped"));
    db.close().unwrap();
    check_levels_on_disk(dir.path(), &context);
    let db = Db::open(dir.path(), eager_options()).unwrap();
    check_at(&db, None, &model, &format!("{context}, after reopening"));
}

/// The value `model` holds for key `index` (the unchanged value a put of the same rewrites).
fn model_value(model: &Model, index: u64) -> Option<Vec<u8>> {
    model.get(&key(index)).cloned()
}
