//! Readers never see part of a batch: writers set N keys to one generation value per batch (or
//! delete all N), while readers iterate both ways and `multi_get` the N keys and a flusher keeps
//! rotating memtables into tables.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Rng, small_options, temp_dir, test_seed};
use shaledb::{Db, WriteBatch, WriteOptions};

const KEYS_PER_BATCH: usize = 8;
const GROUPS: u64 = 3;
const RUN_TIME: Duration = Duration::from_secs(3);

fn group_key(group: u64, index: usize) -> Vec<u8> {
    format!("group{group}-{index}").into_bytes()
}

/// Checks that the (key, value) pairs of one group are all absent or all present with one
/// value.
fn check_group(values: &[Option<Vec<u8>>], context: &str) {
    let first = &values[0];
    assert!(
        values.iter().all(|value| value == first),
        "{context}: a reader saw part of a batch: {:?}",
        values
            .iter()
            .map(|value| value
                .as_ref()
                .map(|v| String::from_utf8_lossy(&v[..v.len().min(24)]).into_owned()))
            .collect::<Vec<_>>()
    );
}

fn writer(db: &Db, seed: u64, thread: u64, stop: &AtomicBool) -> u64 {
    let mut rng = Rng::new(seed ^ thread);
    let mut generation = 0;
    while !stop.load(Ordering::Relaxed) {
        generation += 1;
        let group = rng.below(GROUPS);
        let mut batch = WriteBatch::new();
        if rng.chance(1, 10) {
            for index in 0..KEYS_PER_BATCH {
                batch.delete(&group_key(group, index)).unwrap();
            }
        } else {
            // Padding makes the memtable rotate every few hundred batches.
            let mut value = format!("writer {thread} generation {generation} ").into_bytes();
            value.extend(std::iter::repeat_n(b'.', rng.between(0, 400)));
            for index in 0..KEYS_PER_BATCH {
                batch.put(&group_key(group, index), &value).unwrap();
            }
        }
        db.write(batch, &WriteOptions::NO_SYNC).unwrap();
    }
    generation
}

fn reader(db: &Db, seed: u64, thread: u64, stop: &AtomicBool) -> u64 {
    let mut rng = Rng::new(seed ^ (thread << 40));
    let mut checks = 0;
    while !stop.load(Ordering::Relaxed) {
        checks += 1;
        let group = rng.below(GROUPS);
        let context = format!("seed {seed}, reader {thread}, group {group}, check {checks}");
        let prefix = format!("group{group}-").into_bytes();
        let keys: Vec<Vec<u8>> = (0..KEYS_PER_BATCH)
            .map(|index| group_key(group, index))
            .collect();
        let values: Vec<Option<Vec<u8>>> = match rng.below(3) {
            0 => db
                .multi_get(&keys)
                .unwrap()
                .into_iter()
                .map(|value| value.map(|v| v.to_vec()))
                .collect(),
            kind => {
                let iterator = db.prefix(&prefix);
                let pairs: Vec<_> = if kind == 1 {
                    iterator.map(|item| item.unwrap()).collect()
                } else {
                    let mut pairs: Vec<_> = iterator.rev().map(|item| item.unwrap()).collect();
                    pairs.reverse();
                    pairs
                };
                assert!(
                    pairs.is_empty() || pairs.len() == KEYS_PER_BATCH,
                    "{context}: a scan saw {} of {KEYS_PER_BATCH} keys",
                    pairs.len()
                );
                if pairs.is_empty() {
                    vec![None; KEYS_PER_BATCH]
                } else {
                    for ((key, _), expected) in pairs.iter().zip(&keys) {
                        assert_eq!(key, expected, "{context}: unexpected key");
                    }
                    pairs
                        .into_iter()
                        .map(|(_, value)| Some(value.to_vec()))
                        .collect()
                }
            }
        };
        check_group(&values, &context);
    }
    checks
}

#[test]
fn readers_never_see_part_of_a_batch() {
    let seed = test_seed("readers_never_see_part_of_a_batch");
    let dir = temp_dir();
    let db = Arc::new(Db::open(dir.path(), small_options()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for thread in 0..2 {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        writers.push(std::thread::spawn(move || writer(&db, seed, thread, &stop)));
    }
    for thread in 0..2 {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        readers.push(std::thread::spawn(move || reader(&db, seed, thread, &stop)));
    }
    let flusher = {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut flushes = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                db.flush().unwrap();
                flushes += 1;
            }
            flushes
        })
    };
    let started = Instant::now();
    while started.elapsed() < RUN_TIME && !readers.iter().any(|reader| reader.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let batches: u64 = writers
        .into_iter()
        .map(|writer| writer.join().expect("writer panicked"))
        .sum();
    let checks: u64 = readers
        .into_iter()
        .map(|reader| reader.join().expect("reader panicked"))
        .sum();
    let explicit_flushes = flusher.join().expect("flusher panicked");
    let stats = db.stats();
    assert!(
        batches > 100 && checks > 100,
        "seed {seed}: too little happened: {batches} batches, {checks} checks"
    );
    assert!(
        stats.flushes > 0 && explicit_flushes > 0,
        "seed {seed}: no flushes:\n{stats}"
    );
}
