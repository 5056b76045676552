//! Large batches against a `BTreeMap` model: random large batches (puts, deletes and range
//! deletions, with a staging buffer so small that every batch is written as several runs that
//! overlap each other) mixed with ordinary writes made while a batch is being staged, ingested
//! tables, snapshots held across commits, flushes, manual compactions and reopens. A batch is
//! applied to the model when it commits, above everything before; before the commit the
//! database must show none of it, after it all of it, and snapshots taken before must never
//! see it. At the end the manifest's levels must be consistent and no staged file may be left.
//!
//! A third test runs large batches spanning two keyspaces (the default one and `other`, through
//! `put_in`, `delete_in` and `delete_range_in`) against a model per keyspace: each batch is
//! visible in both keyspaces at once or in neither, and a snapshot taken before it sees it in
//! neither.
//!
//! `SHALEDB_LARGE_BATCH_ROUNDS` asks for more rounds (default 40).

mod common;

use common::{
    HeldSnapshot, Model, Rng, assert_matches_model, check_levels_on_disk, collect, count_from_env,
    temp_dir, test_seed, tiny_options,
};
use shaledb::{Db, Keyspace, KeyspaceOptions, LargeBatchOptions, TableOptions, TableWriter};

const KEY_SPACE: u64 = 3_000;

fn key(index: u64) -> Vec<u8> {
    format!("key{index:05}").into_bytes()
}

fn random_value(rng: &mut Rng) -> Vec<u8> {
    let length = rng.between(10, 120);
    rng.bytes(length)
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

/// One operation of a batch, as the model replays it.
enum Operation {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    DeleteRange(Vec<u8>, Vec<u8>),
}

fn apply(model: &mut Model, operation: &Operation) {
    match operation {
        Operation::Put(key, value) => {
            model.insert(key.clone(), value.clone());
        }
        Operation::Delete(key) => {
            model.remove(key);
        }
        Operation::DeleteRange(start, end) => model_delete_range(model, start, end),
    }
}

fn random_operation(rng: &mut Rng, dense: Option<(u64, u64)>) -> Operation {
    let index = match dense {
        Some((start, span)) => start + rng.below(span),
        None => rng.below(KEY_SPACE),
    };
    match rng.below(30) {
        0..=22 => Operation::Put(key(index), random_value(rng)),
        23..=28 => Operation::Delete(key(index)),
        _ => {
            let span = rng.between(1, 60) as u64;
            Operation::DeleteRange(key(index), key((index + span).min(KEY_SPACE)))
        }
    }
}

fn ordinary_write(db: &Db, model: &mut Model, rng: &mut Rng) {
    let operation = random_operation(rng, None);
    match &operation {
        Operation::Put(key, value) => db.put(key, value).unwrap(),
        Operation::Delete(key) => db.delete(key).unwrap(),
        Operation::DeleteRange(start, end) => db.delete_range(start.clone()..end.clone()).unwrap(),
    }
    apply(model, &operation);
}

/// A large batch of random operations (sometimes within a narrow key range, so that it is
/// placed below level 0), with ordinary writes made while it is staged; committed (into the
/// model as well) or, sometimes, aborted.
fn large_batch_round(db: &Db, model: &mut Model, rng: &mut Rng, context: &str) {
    let options = LargeBatchOptions {
        buffer_size: 4 << 10,
        // Both ways the runs can be written: uncompressed (the default) and compressed.
        compress_runs: rng.chance(1, 2),
    };
    let mut batch = db.large_batch_with(&options).unwrap();
    let dense = rng
        .chance(1, 3)
        .then(|| (rng.below(KEY_SPACE - 200), rng.between(20, 200) as u64));
    let count = rng.between(50, 1_500);
    let mut operations = Vec::with_capacity(count);
    for _ in 0..count {
        let operation = random_operation(rng, dense);
        match &operation {
            Operation::Put(key, value) => batch.put(key, value).unwrap(),
            Operation::Delete(key) => batch.delete(key).unwrap(),
            Operation::DeleteRange(start, end) => batch.delete_range(start, end).unwrap(),
        }
        operations.push(operation);
        if rng.chance(1, 50) {
            ordinary_write(db, model, rng);
        }
    }
    // Nothing of the batch is visible before the commit.
    assert_matches_model(db, model, &format!("{context}: before the commit"));
    if rng.chance(1, 10) {
        batch.abort();
        return;
    }
    let runs = batch.staged_runs();
    let report = batch.commit().unwrap();
    assert!(
        report.levels.len() >= runs,
        "{context}: {} tables for {runs} staged runs",
        report.levels.len()
    );
    for operation in &operations {
        apply(model, operation);
    }
}

/// A table written with `TableWriter` over a random narrow range, ingested.
fn ingest_round(db: &Db, dir: &std::path::Path, model: &mut Model, rng: &mut Rng, round: usize) {
    let path = dir.join(format!("external-{round}.sst"));
    let mut writer = TableWriter::create(&path, &TableOptions::default()).unwrap();
    let start = rng.below(KEY_SPACE - 100);
    let mut written = false;
    if rng.chance(1, 4) {
        let end = (start + rng.between(1, 50) as u64).min(KEY_SPACE);
        writer.delete_range(&key(start), &key(end)).unwrap();
        model_delete_range(model, &key(start), &key(end));
        written = true;
    }
    for index in start..start + rng.between(0, 100) as u64 {
        if rng.chance(1, 2) {
            continue;
        }
        if rng.chance(1, 5) {
            writer.delete(&key(index)).unwrap();
            model.remove(&key(index));
        } else {
            let value = random_value(rng);
            writer.put(&key(index), &value).unwrap();
            model.insert(key(index), value);
        }
        written = true;
    }
    if !written {
        writer.put(&key(start), b"single").unwrap();
        model.insert(key(start), b"single".to_vec());
    }
    writer.finish().unwrap();
    db.ingest(&[&path]).unwrap();
}

fn check_snapshots(db: &Db, snapshots: &[HeldSnapshot]) {
    for held in snapshots {
        let options = held.options();
        let found = collect(db.range_with(.., &options), &held.taken_at);
        let expected: Vec<(Vec<u8>, Vec<u8>)> = held
            .model
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        assert!(
            found == expected,
            "{}: the snapshot sees other data than when it was taken",
            held.taken_at
        );
    }
}

#[test]
fn large_batches_match_the_model() {
    run_model("large_batches_match_the_model", false);
}

/// With a second keyspace, a commit flushes only a memtable holding keys in the batch's
/// ranges (without one, any memtable holding anything: see `ingest.rs`).
#[test]
fn large_batches_match_the_model_beside_another_keyspace() {
    run_model(
        "large_batches_match_the_model_beside_another_keyspace",
        true,
    );
}

fn run_model(name: &str, other_keyspace: bool) {
    let seed = test_seed(name);
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let external = temp_dir();
    let rounds = count_from_env("SHALEDB_LARGE_BATCH_ROUNDS", 40) as usize;
    let mut db = Db::open(dir.path(), tiny_options()).unwrap();
    if other_keyspace {
        let other = db
            .keyspace("other", shaledb::KeyspaceOptions::default())
            .unwrap();
        other.put(b"elsewhere", b"1").unwrap();
    }
    let mut model = Model::new();
    let mut snapshots: Vec<HeldSnapshot> = Vec::new();
    for round in 0..rounds {
        let context = format!("seed {seed}, round {round}");
        for _ in 0..rng.between(0, 400) {
            ordinary_write(&db, &mut model, &mut rng);
        }
        match rng.below(10) {
            0..=5 => large_batch_round(&db, &mut model, &mut rng, &context),
            6 | 7 => ingest_round(&db, external.path(), &mut model, &mut rng, round),
            8 => db.flush().unwrap(),
            _ => {
                let start = rng.below(KEY_SPACE);
                db.compact_range(key(start)..key(start + 500)).unwrap();
            }
        }
        assert_matches_model(&db, &model, &context);
        check_snapshots(&db, &snapshots);
        if rng.chance(1, 4) {
            snapshots.push(HeldSnapshot {
                snapshot: db.snapshot(),
                model: model.clone(),
                taken_at: context.clone(),
            });
            if snapshots.len() > 3 {
                snapshots.remove(0);
            }
        }
        if rng.chance(1, 8) {
            snapshots.clear();
            db.close().unwrap();
            drop(db);
            db = Db::open(dir.path(), tiny_options()).unwrap();
            assert_matches_model(&db, &model, &format!("{context}, after a reopen"));
        }
    }
    db.verify().unwrap();
    snapshots.clear();
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    assert_matches_model(&db, &model, &format!("seed {seed}: at the end, reopened"));
    db.close().unwrap();
    if !other_keyspace {
        check_levels_on_disk(dir.path(), &format!("seed {seed}: at the end"));
    }
    assert_no_unreferenced_tables(dir.path(), &format!("seed {seed}: at the end"));
}

/// Every table in `dir` is named by the manifest (no staged run or ingested file is left).
fn assert_no_unreferenced_tables(dir: &std::path::Path, context: &str) {
    let state = shaledb::manifest::recover(dir).unwrap();
    let listed: std::collections::BTreeSet<String> = state
        .keyspaces
        .values()
        .flat_map(|keyspace| keyspace.levels.iter().flatten())
        .map(|file| format!("{:06}.sst", file.number.0))
        .collect();
    let on_disk: std::collections::BTreeSet<String> = common::files_ending_with(dir, ".sst")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        on_disk, listed,
        "{context}: tables on disk the manifest does not name"
    );
}

/// The keyspace the cross-keyspace test writes beside the default one.
const OTHER: &str = "other";

fn other_keyspace_options() -> KeyspaceOptions {
    KeyspaceOptions {
        write_buffer_size: 64 << 10,
        ..KeyspaceOptions::default()
    }
}

/// The whole of `keyspace` at `options`.
fn keyspace_pairs(
    keyspace: &Keyspace,
    options: &shaledb::ReadOptions<'_>,
    context: &str,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    collect(keyspace.range_with(.., options), context)
}

fn model_pairs(model: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Both keyspaces against their models (the default one with every get and both scan
/// directions, `other` with a scan and its gets).
fn assert_both_match(db: &Db, other: &Keyspace, models: &[Model; 2], context: &str) {
    assert_matches_model(db, &models[0], &format!("{context} (default keyspace)"));
    let found = keyspace_pairs(other, &shaledb::ReadOptions::default(), context);
    assert!(
        found == model_pairs(&models[1]),
        "{context}: keyspace {OTHER} differs from its model ({} entries, {} expected)",
        found.len(),
        models[1].len()
    );
    for (key, value) in &models[1] {
        assert_eq!(
            other.get(key).unwrap().as_deref(),
            Some(value.as_slice()),
            "{context}: get {key:?} in {OTHER}"
        );
    }
}

/// An ordinary write to one of the two keyspaces.
fn ordinary_write_in(db: &Db, other: &Keyspace, models: &mut [Model; 2], rng: &mut Rng) {
    if rng.chance(1, 2) {
        ordinary_write(db, &mut models[0], rng);
        return;
    }
    let operation = random_operation(rng, None);
    match &operation {
        Operation::Put(key, value) => other.put(key, value).unwrap(),
        Operation::Delete(key) => other.delete(key).unwrap(),
        Operation::DeleteRange(start, end) => {
            other.delete_range(start.clone()..end.clone()).unwrap()
        }
    }
    apply(&mut models[1], &operation);
}

/// A large batch over both keyspaces, with ordinary writes to both while it is staged;
/// committed or, sometimes, aborted. Half the batches are made from `other` (so that the
/// default keyspace is the one named through `put_in`).
fn cross_keyspace_round(
    db: &Db,
    other: &Keyspace,
    models: &mut [Model; 2],
    rng: &mut Rng,
    context: &str,
) {
    let options = LargeBatchOptions {
        buffer_size: 4 << 10,
        compress_runs: rng.chance(1, 2),
    };
    let made_from_other = rng.chance(1, 2);
    let default = db.default_keyspace();
    let mut batch = match made_from_other {
        true => other.large_batch_with(&options).unwrap(),
        false => db.large_batch_with(&options).unwrap(),
    };
    // Per keyspace, the operations in order; one of them may get none.
    let mut operations: [Vec<Operation>; 2] = [Vec::new(), Vec::new()];
    let lopsided = rng.below(4);
    for _ in 0..rng.between(50, 1_500) {
        let slot = match lopsided {
            0 => 0,
            1 => 1,
            _ => rng.below(2) as usize,
        };
        let keyspace = [&default, other][slot];
        let operation = random_operation(rng, None);
        match &operation {
            Operation::Put(key, value) => batch.put_in(keyspace, key, value).unwrap(),
            Operation::Delete(key) => batch.delete_in(keyspace, key).unwrap(),
            Operation::DeleteRange(start, end) => {
                batch.delete_range_in(keyspace, start, end).unwrap()
            }
        }
        operations[slot].push(operation);
        if rng.chance(1, 50) {
            ordinary_write_in(db, other, models, rng);
        }
    }
    assert_both_match(db, other, models, &format!("{context}: before the commit"));
    if rng.chance(1, 10) {
        batch.abort();
        return;
    }
    let before = db.snapshot();
    let report = batch.commit().unwrap();
    assert!(
        report.first_sequence > before.sequence(),
        "{context}: the commit is above the snapshot"
    );
    for (model, operations) in models.iter_mut().zip(&operations) {
        for operation in operations {
            apply(model, operation);
        }
    }
}

#[test]
fn large_batches_spanning_two_keyspaces_match_the_models() {
    let seed = test_seed("large_batches_spanning_two_keyspaces_match_the_models");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let rounds = count_from_env("SHALEDB_LARGE_BATCH_ROUNDS", 40) as usize;
    let mut db = Db::open(dir.path(), tiny_options()).unwrap();
    let mut other = db.keyspace(OTHER, other_keyspace_options()).unwrap();
    let mut models: [Model; 2] = [Model::new(), Model::new()];
    let mut snapshots: Vec<(shaledb::Snapshot, [Model; 2], String)> = Vec::new();
    for round in 0..rounds {
        let context = format!("seed {seed}, round {round}");
        for _ in 0..rng.between(0, 300) {
            ordinary_write_in(&db, &other, &mut models, &mut rng);
        }
        match rng.below(10) {
            0..=6 => cross_keyspace_round(&db, &other, &mut models, &mut rng, &context),
            7 => db.flush().unwrap(),
            8 => other.flush().unwrap(),
            _ => {
                let start = rng.below(KEY_SPACE);
                other.compact_range(key(start)..key(start + 500)).unwrap();
            }
        }
        assert_both_match(&db, &other, &models, &context);
        for (snapshot, held, taken_at) in &snapshots {
            let options = shaledb::ReadOptions {
                snapshot: Some(snapshot),
                ..Default::default()
            };
            let default = keyspace_pairs(&db.default_keyspace(), &options, taken_at);
            let in_other = keyspace_pairs(&other, &options, taken_at);
            assert!(
                default == model_pairs(&held[0]) && in_other == model_pairs(&held[1]),
                "{context}: the snapshot of {taken_at} sees other data than when it was taken"
            );
        }
        if rng.chance(1, 4) {
            snapshots.push((db.snapshot(), models.clone(), context.clone()));
            if snapshots.len() > 3 {
                snapshots.remove(0);
            }
        }
        if rng.chance(1, 8) {
            snapshots.clear();
            drop(other);
            db.close().unwrap();
            drop(db);
            db = Db::open(dir.path(), tiny_options()).unwrap();
            other = db.keyspace(OTHER, other_keyspace_options()).unwrap();
            assert_both_match(&db, &other, &models, &format!("{context}, after a reopen"));
        }
    }
    db.verify().unwrap();
    snapshots.clear();
    drop(other);
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    let other = db.keyspace(OTHER, other_keyspace_options()).unwrap();
    assert_both_match(
        &db,
        &other,
        &models,
        &format!("seed {seed}: at the end, reopened"),
    );
    drop(other);
    db.close().unwrap();
    assert_no_unreferenced_tables(dir.path(), &format!("seed {seed}: at the end"));
}

/// A keyspace of another database is refused, as `WriteBatch` refuses it, and so is a dropped
/// one; the batch stays usable.
#[test]
fn a_large_batch_refuses_keyspaces_of_another_database() {
    let (first_dir, second_dir) = (temp_dir(), temp_dir());
    let first = Db::open(first_dir.path(), tiny_options()).unwrap();
    let second = Db::open(second_dir.path(), tiny_options()).unwrap();
    let elsewhere = second
        .keyspace("elsewhere", KeyspaceOptions::default())
        .unwrap();
    let dropped = first
        .keyspace("dropped", KeyspaceOptions::default())
        .unwrap();
    first.drop_keyspace("dropped").unwrap();
    let mut batch = first.large_batch().unwrap();
    batch.put(b"k", b"v").unwrap();
    let error = batch.put_in(&elsewhere, b"k", b"v").unwrap_err();
    assert!(
        matches!(&error, shaledb::Error::InvalidArgument(message) if message.contains("two databases")),
        "{error}"
    );
    let error = batch
        .put_in(&second.default_keyspace(), b"k", b"v")
        .unwrap_err();
    assert!(
        matches!(error, shaledb::Error::InvalidArgument(_)),
        "{error}"
    );
    assert!(batch.delete_in(&elsewhere, b"k").is_err());
    assert!(batch.delete_range_in(&elsewhere, b"a", b"z").is_err());
    assert!(matches!(
        batch.put_in(&dropped, b"k", b"v"),
        Err(shaledb::Error::InvalidArgument(_))
    ));
    batch.commit().unwrap();
    assert_eq!(first.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(elsewhere.get(b"k").unwrap(), None);
    assert_eq!(second.get(b"k").unwrap(), None);
}

/// Regression (found by `large_batches_match_the_model_beside_another_keyspace`): a run or an
/// ingested table holding range deletions only is recorded at its global sequence number `g`
/// with its tombstones at `g - 1`, and `Db::verify` took that for a manifest disagreeing with
/// the table ("the manifest records sequences g-1..=g, the table holds g-1..=g-1").
#[test]
fn tables_of_range_deletions_only_verify() {
    let dir = temp_dir();
    let external = temp_dir();
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    db.put(b"a1", b"old").unwrap();
    db.put(b"b1", b"old").unwrap();
    db.flush().unwrap();
    let mut batch = db.large_batch().unwrap();
    batch.delete_range(b"a", b"b").unwrap();
    batch.commit().unwrap();
    let path = external.path().join("ranges.sst");
    let mut writer = TableWriter::create(&path, &TableOptions::default()).unwrap();
    writer.delete_range(b"b", b"c").unwrap();
    writer.finish().unwrap();
    db.ingest(&[&path]).unwrap();
    assert_eq!(db.get(b"a1").unwrap(), None);
    assert_eq!(db.get(b"b1").unwrap(), None);
    db.verify().unwrap();
}
