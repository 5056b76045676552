//! Several threads write at once, each in its own key space and all of them to a set of shared
//! keys, with reopens between rounds. Each thread keeps its own model; a shared batch always
//! writes one value to every shared key, so whichever batch committed last, all shared keys must
//! agree on one of the values the threads wrote last.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{Model, Rng, collect, small_options, temp_dir, test_seed};
use shaledb::{Db, WriteBatch, WriteOptions};

const THREADS: u64 = 4;
const ROUNDS: u64 = 3;
const OPERATIONS_PER_ROUND: u64 = 2_500;
const SHARED_KEYS: usize = 16;

fn shared_key(index: usize) -> Vec<u8> {
    format!("shared-{index:02}").into_bytes()
}

/// One thread's round: random writes to its own keys and shared batches. Returns the value of
/// its last shared batch, if it wrote one.
fn run_writer(db: &Db, seed: u64, thread: u64, round: u64, model: &mut Model) -> Option<Vec<u8>> {
    let mut rng = Rng::new(seed ^ (thread << 32) ^ (round << 48));
    let mut last_shared = None;
    for operation in 0..OPERATIONS_PER_ROUND {
        let key = format!("t{thread}-{:04}", rng.below(500)).into_bytes();
        match rng.below(100) {
            0..=49 => {
                let length = rng.between(1, 300);
                let value = rng.bytes(length);
                db.put(&key, &value).unwrap();
                model.insert(key, value);
            }
            50..=64 => {
                db.delete(&key).unwrap();
                model.remove(&key);
            }
            65..=79 => {
                let mut batch = WriteBatch::new();
                for _ in 0..rng.between(1, 10) {
                    let key = format!("t{thread}-{:04}", rng.below(500)).into_bytes();
                    let length = rng.between(1, 300);
                    let value = rng.bytes(length);
                    batch.put(&key, &value).unwrap();
                    model.insert(key, value);
                }
                db.write(batch, &WriteOptions::NO_SYNC).unwrap();
            }
            80..=89 => {
                let value =
                    format!("round {round} thread {thread} operation {operation}").into_bytes();
                let mut batch = WriteBatch::new();
                for index in 0..SHARED_KEYS {
                    batch.put(&shared_key(index), &value).unwrap();
                }
                let options = if rng.chance(1, 4) {
                    WriteOptions::SYNC
                } else {
                    WriteOptions::NO_SYNC
                };
                db.write(batch, &options).unwrap();
                last_shared = Some(value);
            }
            90..=98 => {
                let found = db.get(&key).unwrap();
                assert_eq!(
                    found.as_deref(),
                    model.get(&key).map(Vec::as_slice),
                    "seed {seed}, thread {thread}: get {key:?}"
                );
            }
            _ => db.flush().unwrap(),
        }
    }
    last_shared
}

fn check_state(db: &Db, models: &[Model], last_values: &BTreeSet<Vec<u8>>, context: &str) {
    for (thread, model) in models.iter().enumerate() {
        let prefix = format!("t{thread}-").into_bytes();
        let found = collect(db.prefix(&prefix), context);
        let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert!(
            found == expected,
            "{context}: thread {thread}'s keys differ from its model ({} vs {} pairs)",
            found.len(),
            expected.len()
        );
    }
    let shared = collect(db.prefix(b"shared-"), context);
    if last_values.is_empty() {
        assert!(
            shared.is_empty(),
            "{context}: shared keys without shared writes"
        );
        return;
    }
    assert_eq!(
        shared.len(),
        SHARED_KEYS,
        "{context}: some shared keys are missing"
    );
    let value = &shared[0].1;
    assert!(
        shared.iter().all(|(_, other)| other == value),
        "{context}: shared keys disagree"
    );
    assert!(
        last_values.contains(value),
        "{context}: shared value {:?} is no thread's last write",
        String::from_utf8_lossy(value)
    );
}

#[test]
fn concurrent_writers_with_reopens_match_their_models() {
    let seed = test_seed("concurrent_writers_with_reopens_match_their_models");
    let dir = temp_dir();
    let mut models: Vec<Model> = (0..THREADS).map(|_| Model::new()).collect();
    let mut last_shared: Vec<Option<Vec<u8>>> = vec![None; THREADS as usize];
    for round in 0..ROUNDS {
        let db = Arc::new(Db::open(dir.path(), small_options()).unwrap());
        let handles: Vec<_> = models
            .drain(..)
            .enumerate()
            .map(|(thread, mut model)| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    let last = run_writer(&db, seed, thread as u64, round, &mut model);
                    (model, last)
                })
            })
            .collect();
        for (thread, handle) in handles.into_iter().enumerate() {
            let (model, last) = handle.join().expect("a writer thread panicked");
            models.push(model);
            if last.is_some() {
                last_shared[thread] = last;
            }
        }
        // Only the last shared batch of some thread can have committed last.
        let last_values: BTreeSet<Vec<u8>> = last_shared.iter().flatten().cloned().collect();
        let context = format!("seed {seed}, round {round}");
        check_state(
            &db,
            &models,
            &last_values,
            &format!("{context}, before reopen"),
        );
        let stats = db.stats();
        assert!(
            stats.write_groups > 0,
            "{context}: no write groups counted:\n{stats}"
        );
        drop(db);
        let db = Db::open(dir.path(), small_options()).unwrap();
        check_state(
            &db,
            &models,
            &last_values,
            &format!("{context}, after reopen"),
        );
    }
}
