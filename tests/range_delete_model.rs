//! Range deletes against a `BTreeMap` model: random puts, deletes, range deletes (alone and in
//! batches beside puts) with options so small that memtables flush and compactions run through
//! every level all the time, snapshots held across them (each with its copy of the model),
//! manual compactions of random ranges, and reopens between phases. Every check compares
//! `get`, `multi_get`, ranges both ways, both ends of one iterator, and seeks with the model, at
//! the latest state and at each snapshot; at the end, after a full compaction, no range
//! tombstone and no deleted entry may be left on disk.

mod common;

use common::{
    HeldSnapshot, Model, Pairs, Rng, assert_matches_model, check_levels_on_disk, collect,
    random_bounds, temp_dir, test_seed, tiny_options,
};
use shaledb::{Db, ReadOptions, WriteBatch, WriteOptions};

const KEY_SPACE: u64 = 6_000;
const PHASES: usize = 3;
const OPERATIONS_PER_PHASE: usize = 25_000;
const MAX_SNAPSHOTS: usize = 3;

fn key(index: u64) -> Vec<u8> {
    format!("key{index:05}").into_bytes()
}

fn random_key(rng: &mut Rng) -> Vec<u8> {
    key(rng.below(KEY_SPACE))
}

fn random_value(rng: &mut Rng) -> Vec<u8> {
    let length = rng.between(20, 200);
    rng.bytes(length)
}

/// A random `[start, end)`: mostly short, sometimes hundreds of keys, sometimes empty, and
/// sometimes with ends between the keys of the key space ("key00012x").
fn random_range(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let start = rng.below(KEY_SPACE);
    let span = match rng.below(10) {
        0 => 0,
        1..=6 => rng.between(1, 20) as u64,
        7 | 8 => rng.between(20, 400) as u64,
        _ => rng.between(400, 2_000) as u64,
    };
    let mut start_key = key(start);
    let mut end_key = key((start + span).min(KEY_SPACE));
    if rng.chance(1, 4) {
        start_key.push(b'x');
    }
    if rng.chance(1, 4) {
        end_key.push(b'x');
    }
    if start_key > end_key {
        std::mem::swap(&mut start_key, &mut end_key);
    }
    (start_key, end_key)
}

fn model_delete_range(model: &mut Model, start: &[u8], end: &[u8]) {
    let doomed: Vec<Vec<u8>> = model
        .range(start.to_vec()..end.to_vec())
        .map(|(key, _)| key.clone())
        .collect();
    for key in doomed {
        model.remove(&key);
    }
}

/// Applies one random write to the database and the model.
fn random_write(db: &Db, model: &mut Model, rng: &mut Rng) {
    match rng.below(40) {
        0..=27 => {
            let (key, value) = (random_key(rng), random_value(rng));
            db.put(&key, &value).unwrap();
            model.insert(key, value);
        }
        28..=31 => {
            let key = random_key(rng);
            db.delete(&key).unwrap();
            model.remove(&key);
        }
        32..=33 => {
            let (start, end) = random_range(rng);
            db.delete_range(start.as_slice()..end.as_slice()).unwrap();
            model_delete_range(model, &start, &end);
        }
        _ => {
            // A batch of puts, deletes and range deletes, applied in order: a later put inside
            // an earlier range delete of the same batch survives it.
            let mut batch = WriteBatch::new();
            let mut staged = model.clone();
            for _ in 0..rng.between(2, 10) {
                match rng.below(6) {
                    0 => {
                        let (start, end) = random_range(rng);
                        batch.delete_range(&start, &end).unwrap();
                        model_delete_range(&mut staged, &start, &end);
                    }
                    1 => {
                        let key = random_key(rng);
                        batch.delete(&key).unwrap();
                        staged.remove(&key);
                    }
                    _ => {
                        let (key, value) = (random_key(rng), random_value(rng));
                        batch.put(&key, &value).unwrap();
                        staged.insert(key, value);
                    }
                }
            }
            db.write(batch, &WriteOptions::NO_SYNC).unwrap();
            *model = staged;
        }
    }
}

/// Compares a sample of reads at `options` (the latest state, or a snapshot) with `model`.
fn check_sample(db: &Db, model: &Model, options: &ReadOptions<'_>, rng: &mut Rng, context: &str) {
    let keyspace = db.default_keyspace();
    common::check_sample_reads(&keyspace, model, options, rng, random_key, context);
}

/// Rare events between writes: snapshots, checks, manual compactions, flushes.
fn random_event(
    db: &Db,
    model: &Model,
    snapshots: &mut Vec<HeldSnapshot>,
    rng: &mut Rng,
    context: &str,
) {
    match rng.below(6) {
        0 if snapshots.len() < MAX_SNAPSHOTS => snapshots.push(HeldSnapshot {
            snapshot: db.snapshot(),
            model: model.clone(),
            taken_at: context.to_string(),
        }),
        1 if !snapshots.is_empty() => {
            let index = rng.below(snapshots.len() as u64) as usize;
            let held = &snapshots[index];
            let context = format!("{context}, snapshot taken {}", held.taken_at);
            check_sample(db, &held.model, &held.options(), rng, &context);
            if rng.chance(1, 2) {
                snapshots.swap_remove(index);
            }
        }
        2 => {
            let (lower, upper) = random_bounds(rng, random_key);
            db.compact_range((lower, upper)).unwrap();
        }
        3 => db.flush().unwrap(),
        _ => check_sample(db, model, &ReadOptions::default(), rng, context),
    }
}

fn run_phase(db: &Db, model: &mut Model, rng: &mut Rng, phase: usize, seed: u64) {
    let mut snapshots: Vec<HeldSnapshot> = Vec::new();
    for operation in 0..OPERATIONS_PER_PHASE {
        random_write(db, model, rng);
        if rng.chance(1, 500) {
            let context = format!("seed {seed}, phase {phase}, operation {operation}");
            random_event(db, model, &mut snapshots, rng, &context);
        }
    }
    let context = format!("seed {seed}, end of phase {phase}");
    for held in &snapshots {
        let context = format!("{context}, snapshot taken {}", held.taken_at);
        for _ in 0..4 {
            check_sample(db, &held.model, &held.options(), rng, &context);
        }
        let everything = collect(db.range_with(.., &held.options()), &context);
        let expected: Pairs = held
            .model
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        assert!(
            everything == expected,
            "{context}: full scan at the snapshot"
        );
    }
    assert_matches_model(db, model, &context);
    drop(snapshots);
    db.wait_for_compaction().unwrap();
    assert_matches_model(db, model, &format!("{context}, snapshots dropped"));
    let stats = db.stats();
    assert!(stats.error.is_none(), "{context}: {:?}", stats.error);
}

#[test]
fn range_deletes_keep_the_model_through_flushes_compactions_snapshots_and_reopens() {
    let seed = test_seed("range_deletes_keep_the_model");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut model = Model::new();
    let mut tables_with_range_tombstones = 0;
    for phase in 0..PHASES {
        let context = format!("seed {seed}, phase {phase}");
        let db = Db::open(dir.path(), tiny_options()).unwrap();
        assert_matches_model(&db, &model, &format!("{context}, after reopening"));
        run_phase(&db, &mut model, &mut rng, phase, seed);
        db.verify()
            .unwrap_or_else(|error| panic!("{context}: verify: {error}"));
        let stats = db.stats();
        assert!(
            stats.compactions > 0,
            "{context}: no compaction ran:\n{stats}"
        );
        db.close().unwrap();
        check_levels_on_disk(dir.path(), &context);
        tables_with_range_tombstones += tables(dir.path())
            .iter()
            .filter(|(_, table)| !table.range_tombstones().is_empty())
            .count();
    }
    assert!(
        tables_with_range_tombstones > 0,
        "seed {seed}: no table ever held a range tombstone"
    );
    // A full compaction leaves only live entries: no range tombstone, no deleted version.
    let context = format!("seed {seed}, at the end");
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    db.compact_range(..).unwrap();
    assert_matches_model(&db, &model, &context);
    db.close().unwrap();
    check_levels_on_disk(dir.path(), &context);
    let mut entries = 0;
    for (level, table) in tables(dir.path()) {
        assert!(
            table.range_tombstones().is_empty(),
            "{context}: a table of level {level} still holds range tombstones after a full \
             compaction"
        );
        entries += table.properties().entry_count;
    }
    assert_eq!(
        entries,
        model.len() as u64,
        "{context}: the tables hold other entries than the live keys"
    );
}

/// Every live table of the closed database in `dir`, with its level.
fn tables(dir: &std::path::Path) -> Vec<(usize, shaledb::sstable::Table)> {
    let state = shaledb::manifest::recover(dir).unwrap();
    let mut tables = Vec::new();
    for (level, files) in state.levels().iter().enumerate() {
        for file in files {
            let path = dir.join(format!("{:06}.sst", file.number.0));
            tables.push((
                level,
                shaledb::sstable::Table::open(&path, file.number).unwrap(),
            ));
        }
    }
    tables
}
