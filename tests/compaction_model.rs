//! Compaction against a `BTreeMap` model: random puts, deletes and batches with options so small
//! that memtables flush and compactions run through every level all the time, while several
//! snapshots (each with its own copy of the model) are held across many compactions, a reader
//! thread checks that what it reads at its own snapshots is consistent, and the database is
//! reopened between phases. At the end every snapshot, the latest state and the files on disk
//! (levels 1 to 3 without overlaps, no leftover tables) must be right.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{
    HeldSnapshot, Model, Pairs, Rng, assert_matches_model, check_levels_on_disk, collect,
    model_range, random_bounds, temp_dir, test_seed, tiny_options,
};
use shaledb::{Db, ReadOptions, WriteBatch, WriteOptions};

/// Distinct keys: with values of 50 to 400 bytes about 3.6 MiB of live data, more than levels 1
/// and 2 target together, so data reaches level 3.
const KEY_SPACE: u64 = 16_000;
const PHASES: usize = 3;
const OPERATIONS_PER_PHASE: usize = 30_000;
/// Snapshots held at once.
const MAX_SNAPSHOTS: usize = 4;

fn key(index: u64) -> Vec<u8> {
    format!("key{index:06}").into_bytes()
}

fn random_key(rng: &mut Rng) -> Vec<u8> {
    key(rng.below(KEY_SPACE))
}

fn random_value(rng: &mut Rng) -> Vec<u8> {
    let length = rng.between(50, 400);
    rng.bytes(length)
}

/// Checks a random range both ways and some point reads at `held`'s snapshot.
fn check_snapshot_sample(db: &Db, held: &HeldSnapshot, rng: &mut Rng, context: &str) {
    let options = ReadOptions {
        snapshot: Some(&held.snapshot),
        ..ReadOptions::default()
    };
    let context = format!("{context}, snapshot taken {}", held.taken_at);
    let (lower, upper) = random_bounds(rng, random_key);
    let expected = model_range(&held.model, &lower, &upper);
    let bounds = (lower.clone(), upper.clone());
    let forward = collect(db.range_with(bounds.clone(), &options), &context);
    assert!(
        forward == expected,
        "{context}: forward range {lower:?}..{upper:?} differs: got {} pairs, want {}",
        forward.len(),
        expected.len()
    );
    let mut backward = collect(db.range_with(bounds, &options).rev(), &context);
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: reverse range {lower:?}..{upper:?} differs"
    );
    for _ in 0..20 {
        let key = random_key(rng);
        let found = db.get_with(&key, &options).unwrap();
        assert_eq!(
            found.as_deref(),
            held.model.get(&key).map(Vec::as_slice),
            "{context}: get {key:?}"
        );
    }
}

/// Checks every key and full scans both ways at `held`'s snapshot.
fn check_snapshot_fully(db: &Db, held: &HeldSnapshot, context: &str) {
    let options = ReadOptions {
        snapshot: Some(&held.snapshot),
        ..ReadOptions::default()
    };
    let context = format!("{context}, snapshot taken {}", held.taken_at);
    let expected: Pairs = held
        .model
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let forward = collect(db.range_with(.., &options), &context);
    assert!(
        forward == expected,
        "{context}: full scan differs: got {} pairs, want {}",
        forward.len(),
        expected.len()
    );
    let mut backward = collect(db.range_with(.., &options).rev(), &context);
    backward.reverse();
    assert!(backward == expected, "{context}: reverse full scan differs");
    for index in 0..KEY_SPACE {
        let key = key(index);
        let found = db.get_with(&key, &options).unwrap();
        assert_eq!(
            found.as_deref(),
            held.model.get(&key).map(Vec::as_slice),
            "{context}: get {key:?}"
        );
    }
}

/// The reader thread: until `stop`, takes its own snapshot and checks that a range read forward,
/// the same range read backward and point reads all agree at it, while flushes and compactions
/// replace the files underneath. Returns how many rounds it checked.
fn reader(db: Arc<Db>, stop: Arc<AtomicBool>, seed: u64, context: String) -> u64 {
    let mut rng = Rng::new(seed);
    let mut rounds = 0;
    while !stop.load(Ordering::Acquire) {
        let snapshot = db.snapshot();
        let options = ReadOptions {
            snapshot: Some(&snapshot),
            ..ReadOptions::default()
        };
        let (lower, upper) = random_bounds(&mut rng, random_key);
        let bounds = (lower, upper);
        let forward = collect(db.range_with(bounds.clone(), &options), &context);
        let mut backward = collect(db.range_with(bounds, &options).rev(), &context);
        backward.reverse();
        assert!(
            forward == backward,
            "{context}: reader: forward and reverse scans at one snapshot differ ({} vs {} pairs)",
            forward.len(),
            backward.len()
        );
        for (key, value) in forward.iter().step_by(forward.len() / 16 + 1) {
            let found = db.get_with(key, &options).unwrap();
            assert_eq!(
                found.as_deref(),
                Some(value.as_slice()),
                "{context}: reader: get {key:?} disagrees with the scan at one snapshot"
            );
        }
        rounds += 1;
    }
    rounds
}

/// Applies one random write to the database and the model.
fn random_write(db: &Db, model: &mut Model, rng: &mut Rng) {
    match rng.below(20) {
        0..=13 => {
            let (key, value) = (random_key(rng), random_value(rng));
            db.put(&key, &value).unwrap();
            model.insert(key, value);
        }
        14..=16 => {
            let key = random_key(rng);
            db.delete(&key).unwrap();
            model.remove(&key);
        }
        _ => {
            let mut batch = WriteBatch::new();
            // Applied to the model only once the batch is written: (key, None) deletes.
            let mut staged: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
            for _ in 0..rng.between(2, 12) {
                let key = random_key(rng);
                if rng.chance(1, 3) {
                    batch.delete(&key).unwrap();
                    staged.push((key, None));
                } else {
                    let value = random_value(rng);
                    batch.put(&key, &value).unwrap();
                    staged.push((key, Some(value)));
                }
            }
            db.write(batch, &WriteOptions::NO_SYNC).unwrap();
            for (key, value) in staged {
                match value {
                    Some(value) => model.insert(key, value),
                    None => model.remove(&key),
                };
            }
        }
    }
}

/// Rare events between writes: take, check or drop snapshots, compact a random range, flush.
fn random_event(
    db: &Db,
    model: &Model,
    snapshots: &mut Vec<HeldSnapshot>,
    rng: &mut Rng,
    context: &str,
) {
    match rng.below(5) {
        0 if snapshots.len() < MAX_SNAPSHOTS => snapshots.push(HeldSnapshot {
            snapshot: db.snapshot(),
            model: model.clone(),
            taken_at: context.to_string(),
        }),
        1 if !snapshots.is_empty() => {
            let index = rng.below(snapshots.len() as u64) as usize;
            check_snapshot_sample(db, &snapshots[index], rng, context);
            if rng.chance(1, 3) {
                snapshots.swap_remove(index);
            }
        }
        2 => {
            let (lower, upper) = random_bounds(rng, random_key);
            db.compact_range((lower, upper)).unwrap();
        }
        3 => db.flush().unwrap(),
        _ => {}
    }
}

/// Runs one phase of writes and checks; returns the compactions it ran.
fn run_phase(db: &Arc<Db>, model: &mut Model, rng: &mut Rng, phase: usize, seed: u64) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let reader_thread = {
        let (db, stop) = (Arc::clone(db), Arc::clone(&stop));
        let context = format!("seed {seed}, phase {phase}");
        let reader_seed = rng.next_u64();
        std::thread::spawn(move || reader(db, stop, reader_seed, context))
    };
    let mut snapshots: Vec<HeldSnapshot> = Vec::new();
    for operation in 0..OPERATIONS_PER_PHASE {
        random_write(db, model, rng);
        if rng.chance(1, 1_500) {
            let context = format!("seed {seed}, phase {phase}, operation {operation}");
            random_event(db, model, &mut snapshots, rng, &context);
        }
    }
    let context = format!("seed {seed}, end of phase {phase}");
    for held in &snapshots {
        check_snapshot_fully(db, held, &context);
    }
    assert_matches_model(db, model, &context);
    stop.store(true, Ordering::Release);
    let rounds = reader_thread.join().expect("the reader thread panicked");
    assert!(rounds > 0, "{context}: the reader never ran");
    // Once no snapshot holds them, compactions may drop the old versions; the state stays.
    drop(snapshots);
    if phase % 2 == 1 {
        db.wait_for_compaction().unwrap();
    }
    assert_matches_model(db, model, &format!("{context}, snapshots dropped"));
    let stats = db.stats();
    assert!(stats.error.is_none(), "{context}: {:?}", stats.error);
    stats.compactions
}

#[test]
fn compaction_keeps_the_model_and_every_snapshot() {
    let seed = test_seed("compaction_keeps_the_model_and_every_snapshot");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut model = Model::new();
    let mut compactions = 0;
    for phase in 0..PHASES {
        let context = format!("seed {seed}, phase {phase}");
        let db = Arc::new(Db::open(dir.path(), tiny_options()).unwrap());
        assert_matches_model(&db, &model, &format!("{context}, after reopening"));
        compactions += run_phase(&db, &mut model, &mut rng, phase, seed);
        db.close().unwrap();
        check_levels_on_disk(dir.path(), &context);
    }
    let context = format!("seed {seed}, at the end");
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    db.wait_for_compaction().unwrap();
    assert_matches_model(&db, &model, &context);
    let stats = db.stats();
    eprintln!("{context}:\n{stats}");
    assert!(stats.error.is_none(), "{context}: {:?}", stats.error);
    assert!(compactions > 0, "{context}: no compaction ran");
    // Data reached the last level. Levels 1 and 2 may be empty: a `compact_range` over most of
    // the key space late in the last phase moves everything to level 3, and the writes after
    // it may not fill level 0 again (seed 1796278778131135075 ends with L0 2 files, L1 and L2
    // none, L3 44).
    assert!(
        stats.levels[3].files > 0,
        "{context}: level 3 holds no files: {:?}",
        stats.levels
    );
    for (level, score) in stats.level_scores.iter().enumerate() {
        assert!(
            *score < 1.0,
            "{context}: level {level} still needs compaction after wait_for_compaction ({score})"
        );
    }
    db.close().unwrap();
    check_levels_on_disk(dir.path(), &context);
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    assert_matches_model(&db, &model, &format!("{context}, after the last reopen"));
}
