//! Merge operators against a `BTreeMap` model that applies the operator itself: random puts,
//! deletes, range deletes and merges (alone and in batches), with options so small that
//! memtables flush and compactions run through every level all the time, snapshots held
//! across them (each with its copy of the model), manual compactions of random ranges,
//! flushes, and reopens between phases. Once with each shipped operator: `CounterAdd` on the
//! default keyspace (it has a partial merge, so compactions combine operands early) and
//! `ListAppend` on a keyspace of its own. Every check compares `get`, `multi_get`, ranges both
//! ways, both ends of one iterator, seeks, `first_key_value`/`last_key_value` and
//! `contains_key` with the model, at the latest state and at each snapshot.

mod common;

use std::sync::Arc;

use common::{
    HeldSnapshot, Model, Pairs, Rng, check_levels_on_disk, collect, random_bounds, temp_dir,
    test_seed, tiny_options,
};
use shaledb::{
    CounterAdd, Db, Keyspace, KeyspaceOptions, ListAppend, MergeOperator, ReadOptions,
    SharedMergeOperator, WriteBatch, WriteOptions,
};

const KEY_SPACE: u64 = 1_500;
const PHASES: usize = 3;
/// Writes per phase; `SHALEDB_MERGE_MODEL_OPERATIONS` asks for more.
fn operations_per_phase() -> usize {
    common::count_from_env("SHALEDB_MERGE_MODEL_OPERATIONS", 12_000) as usize
}
const MAX_SNAPSHOTS: usize = 3;

fn key(index: u64) -> Vec<u8> {
    format!("key{index:05}").into_bytes()
}

fn random_key(rng: &mut Rng) -> Vec<u8> {
    key(rng.below(KEY_SPACE))
}

/// What one run merges with: the operator, how to draw an operand and a put's value.
struct Flavor {
    operator: SharedMergeOperator,
    operand: fn(&mut Rng) -> Vec<u8>,
    value: fn(&mut Rng) -> Vec<u8>,
}

fn counter_operand(rng: &mut Rng) -> Vec<u8> {
    CounterAdd::encode(rng.below(1_000) as i64 - 300).to_vec()
}

fn counter_value(rng: &mut Rng) -> Vec<u8> {
    CounterAdd::encode(rng.next_u64() as i64).to_vec()
}

fn list_operand(rng: &mut Rng) -> Vec<u8> {
    let length = rng.between(0, 12);
    ListAppend::item(&rng.bytes(length))
}

fn list_value(rng: &mut Rng) -> Vec<u8> {
    let items: Vec<Vec<u8>> = (0..rng.between(0, 3))
        .map(|_| {
            let length = rng.between(0, 30);
            rng.bytes(length)
        })
        .collect();
    ListAppend::encode(items.iter().map(Vec::as_slice))
}

fn model_merge(model: &mut Model, operator: &dyn MergeOperator, key: &[u8], operand: &[u8]) {
    let merged = operator
        .full_merge(key, model.get(key).map(Vec::as_slice), &[operand])
        .expect("the model's operands are well formed");
    model.insert(key.to_vec(), merged);
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

fn random_range(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let start = rng.below(KEY_SPACE);
    let span = rng.between(0, 60) as u64;
    (key(start), key((start + span).min(KEY_SPACE)))
}

/// Applies one random write to `tree` and the model.
fn random_write(db: &Db, tree: &Keyspace, flavor: &Flavor, model: &mut Model, rng: &mut Rng) {
    let operator = flavor.operator.as_ref();
    match rng.below(40) {
        0..=19 => {
            let (key, operand) = (random_key(rng), (flavor.operand)(rng));
            tree.merge(&key, &operand).unwrap();
            model_merge(model, operator, &key, &operand);
        }
        20..=29 => {
            let (key, value) = (random_key(rng), (flavor.value)(rng));
            tree.put(&key, &value).unwrap();
            model.insert(key, value);
        }
        30..=32 => {
            let key = random_key(rng);
            tree.delete(&key).unwrap();
            model.remove(&key);
        }
        33 => {
            let (start, end) = random_range(rng);
            tree.delete_range(start.as_slice()..end.as_slice()).unwrap();
            model_delete_range(model, &start, &end);
        }
        _ => {
            // A batch of merges, puts, deletes and range deletes, applied in order (several
            // merges of one key in one batch among them).
            let mut batch = WriteBatch::new();
            let mut staged = model.clone();
            let hot = random_key(rng);
            for _ in 0..rng.between(2, 10) {
                match rng.below(8) {
                    0 => {
                        let (start, end) = random_range(rng);
                        batch.delete_range_in(tree, &start, &end).unwrap();
                        model_delete_range(&mut staged, &start, &end);
                    }
                    1 => {
                        let key = random_key(rng);
                        batch.delete_in(tree, &key).unwrap();
                        staged.remove(&key);
                    }
                    2 => {
                        let (key, value) = (random_key(rng), (flavor.value)(rng));
                        batch.put_in(tree, &key, &value).unwrap();
                        staged.insert(key, value);
                    }
                    _ => {
                        let key = if rng.chance(1, 2) {
                            hot.clone()
                        } else {
                            random_key(rng)
                        };
                        let operand = (flavor.operand)(rng);
                        batch.merge_in(tree, &key, &operand).unwrap();
                        model_merge(&mut staged, operator, &key, &operand);
                    }
                }
            }
            db.write(batch, &WriteOptions::NO_SYNC).unwrap();
            *model = staged;
        }
    }
}

/// Compares a sample of reads of `tree` at `options` with `model`.
fn check_sample(
    tree: &Keyspace,
    model: &Model,
    options: &ReadOptions<'_>,
    rng: &mut Rng,
    at: &str,
) {
    common::check_sample_reads(tree, model, options, rng, random_key, at);
    let first = tree.range_with(.., options).next().transpose().unwrap();
    let want_first = model.iter().next();
    assert_eq!(
        first.map(|(key, value)| (key, value.to_vec())),
        want_first.map(|(key, value)| (key.clone(), value.clone())),
        "{at}: first entry"
    );
    let last = tree
        .range_with(.., options)
        .next_back()
        .transpose()
        .unwrap();
    let want_last = model.iter().next_back();
    assert_eq!(
        last.map(|(key, value)| (key, value.to_vec())),
        want_last.map(|(key, value)| (key.clone(), value.clone())),
        "{at}: last entry"
    );
    let probe = random_key(rng);
    assert_eq!(
        tree.contains_key_with(&probe, options).unwrap(),
        model.contains_key(&probe),
        "{at}: contains_key {probe:?}"
    );
}

/// Checks every key of the model and a full scan both ways against `tree`.
fn assert_matches_model(tree: &Keyspace, model: &Model, at: &str) {
    let expected: Pairs = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let forward = collect(tree.iter(), at);
    assert!(
        forward == expected,
        "{at}: forward scan differs from the model"
    );
    let mut backward = collect(tree.iter().rev(), at);
    backward.reverse();
    assert!(
        backward == expected,
        "{at}: reverse scan differs from the model"
    );
    for index in 0..KEY_SPACE {
        let key = key(index);
        let found = tree
            .get(&key)
            .unwrap_or_else(|error| panic!("{at}: get: {error}"));
        assert_eq!(
            found.as_deref(),
            model.get(&key).map(Vec::as_slice),
            "{at}: get {key:?}"
        );
    }
    assert_eq!(
        tree.first_key_value().unwrap().map(|(key, _)| key),
        model.keys().next().cloned(),
        "{at}: first_key_value"
    );
    assert_eq!(
        tree.last_key_value().unwrap().map(|(key, _)| key),
        model.keys().next_back().cloned(),
        "{at}: last_key_value"
    );
}

/// Rare events between writes: snapshots, checks, manual compactions, flushes.
fn random_event(
    db: &Db,
    tree: &Keyspace,
    model: &Model,
    snapshots: &mut Vec<HeldSnapshot>,
    rng: &mut Rng,
    at: &str,
) {
    match rng.below(6) {
        0 if snapshots.len() < MAX_SNAPSHOTS => snapshots.push(HeldSnapshot {
            snapshot: db.snapshot(),
            model: model.clone(),
            taken_at: at.to_string(),
        }),
        1 if !snapshots.is_empty() => {
            let index = rng.below(snapshots.len() as u64) as usize;
            let held = &snapshots[index];
            let at = format!("{at}, snapshot taken {}", held.taken_at);
            check_sample(tree, &held.model, &held.options(), rng, &at);
            if rng.chance(1, 2) {
                snapshots.swap_remove(index);
            }
        }
        2 => {
            let (lower, upper) = random_bounds(rng, random_key);
            tree.compact_range((lower, upper)).unwrap();
        }
        3 => tree.flush().unwrap(),
        _ => check_sample(tree, model, &ReadOptions::default(), rng, at),
    }
}

fn run_phase(
    db: &Db,
    tree: &Keyspace,
    flavor: &Flavor,
    model: &mut Model,
    rng: &mut Rng,
    at: &str,
) {
    let mut snapshots: Vec<HeldSnapshot> = Vec::new();
    for operation in 0..operations_per_phase() {
        random_write(db, tree, flavor, model, rng);
        if rng.chance(1, 300) {
            let at = format!("{at}, operation {operation}");
            random_event(db, tree, model, &mut snapshots, rng, &at);
        }
    }
    for held in &snapshots {
        let at = format!("{at}, end of phase, snapshot taken {}", held.taken_at);
        check_sample(tree, &held.model, &held.options(), rng, &at);
        let everything = collect(tree.range_with(.., &held.options()), &at);
        let expected: Pairs = held
            .model
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert!(everything == expected, "{at}: full scan at the snapshot");
    }
    assert_matches_model(tree, model, &format!("{at}, end of phase"));
    drop(snapshots);
    db.wait_for_compaction().unwrap();
    assert_matches_model(tree, model, &format!("{at}, snapshots dropped"));
}

/// Runs the phases with `flavor`, in the default keyspace or in a keyspace named `keyspace`.
fn run(test: &str, flavor: Flavor, keyspace: Option<&str>) {
    let seed = test_seed(test);
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut model = Model::new();
    let options = || match keyspace {
        None => shaledb::Options {
            merge_operator: Some(Arc::clone(&flavor.operator)),
            ..tiny_options()
        },
        Some(_) => tiny_options(),
    };
    let tree_options = KeyspaceOptions {
        merge_operator: Some(Arc::clone(&flavor.operator)),
        ..KeyspaceOptions::from_options(&tiny_options())
    };
    let mut merges_in_compactions = 0;
    for phase in 0..PHASES {
        let at = format!("seed {seed}, phase {phase}");
        let db = Db::open(dir.path(), options()).unwrap();
        let tree = match keyspace {
            None => db.default_keyspace(),
            Some(name) => db.keyspace(name, tree_options.clone()).unwrap(),
        };
        assert_matches_model(&tree, &model, &format!("{at}, after reopening"));
        run_phase(&db, &tree, &flavor, &mut model, &mut rng, &at);
        db.verify()
            .unwrap_or_else(|error| panic!("{at}: verify: {error}"));
        let stats = db.stats();
        assert!(stats.error.is_none(), "{at}: {:?}", stats.error);
        assert!(stats.compactions > 0, "{at}: no compaction ran:\n{stats}");
        assert!(stats.merge_operands_written > 0, "{at}: no merge counted");
        assert_eq!(stats.compaction_merge_failures, 0, "{at}");
        merges_in_compactions += stats.compaction_merges;
        db.close().unwrap();
        if keyspace.is_none() {
            // (It reads the default keyspace's levels.)
            check_levels_on_disk(dir.path(), &at);
        }
    }
    assert!(
        merges_in_compactions > 0,
        "seed {seed}: no compaction merged operands"
    );
    // A full compaction without snapshots merges every key into a put: no operand is left.
    let at = format!("seed {seed}, after a full compaction");
    let db = Db::open(dir.path(), options()).unwrap();
    let tree = match keyspace {
        None => db.default_keyspace(),
        Some(name) => db.keyspace(name, tree_options.clone()).unwrap(),
    };
    tree.compact_range(..).unwrap();
    assert_matches_model(&tree, &model, &at);
}

#[test]
fn counter_add_keeps_the_model_through_flushes_compactions_snapshots_and_reopens() {
    let flavor = Flavor {
        operator: Arc::new(CounterAdd),
        operand: counter_operand,
        value: counter_value,
    };
    run("merge_model_counter_add", flavor, None);
}

#[test]
fn list_append_keeps_the_model_in_a_keyspace_of_its_own() {
    let flavor = Flavor {
        operator: Arc::new(ListAppend),
        operand: list_operand,
        value: list_value,
    };
    run("merge_model_list_append", flavor, Some("lists"));
}
