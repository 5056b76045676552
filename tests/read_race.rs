//! Reads racing with flushes and compactions, under load: writers overwrite keys with
//! increasing versions on a database with tiny write buffers (a flush every few hundred
//! writes, compactions all the time), while readers check what no interleaving may break:
//! - a read never goes backwards: each reader's later `get`, `multi_get` or scan of a key
//!   returns a version at least as new as its earlier reads (its sequence number only grows);
//! - a key that was present is never found absent (nothing is deleted);
//! - a snapshot's reads never change, however many flushes and compactions pass.
//!
//! The interleaving a flush must not win is also forced deterministically by the unit tests
//! in `src/db.rs` (`read_race_tests`). `SHALEDB_READ_RACE_MS=N` runs for N milliseconds instead
//! of the default 1500.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Rng, count_from_env, test_seed, tiny_options};
use shaledb::{Db, Options, ReadOptions};

const KEYS: u64 = 64;
const WRITERS: u64 = 2;

fn key(index: u64) -> Vec<u8> {
    format!("key{index:04}").into_bytes()
}

/// A value holding `version`, padded so that memtables fill quickly.
fn value(version: u64) -> Vec<u8> {
    let mut value = version.to_be_bytes().to_vec();
    value.resize(200, b'.');
    value
}

fn version_of(value: &[u8]) -> u64 {
    let bytes: [u8; 8] = value[..8].try_into().expect("values hold a version");
    u64::from_be_bytes(bytes)
}

/// What one reader has seen of each key: the newest version.
#[derive(Default)]
struct Seen(HashMap<u64, u64>);

impl Seen {
    fn check(&mut self, index: u64, found: Option<u64>, how: &str) {
        let previous = self.0.get(&index).copied();
        match (previous, found) {
            (Some(previous), None) => {
                panic!("{how}: key {index} was at version {previous}, now absent")
            }
            (Some(previous), Some(found)) if found < previous => {
                panic!("{how}: key {index} went back from version {previous} to {found}")
            }
            (_, Some(found)) => {
                self.0.insert(index, found);
            }
            (None, None) => {}
        }
    }
}

fn options() -> Options {
    Options {
        level0_compaction_trigger: 2,
        ..tiny_options()
    }
}

/// Writer `writer` owns the keys `index % WRITERS == writer` and writes increasing versions of
/// them until `stop`.
fn write(db: &Db, writer: u64, stop: &AtomicBool) {
    let mut rng = Rng::new(test_seed("read_race") ^ writer);
    let mut versions = vec![0u64; KEYS as usize];
    while !stop.load(Ordering::Relaxed) {
        let index = rng.below(KEYS / WRITERS) * WRITERS + writer;
        versions[index as usize] += 1;
        db.put(&key(index), &value(versions[index as usize]))
            .expect("put");
    }
}

fn read(db: &Db, reader: u64, stop: &AtomicBool) -> u64 {
    let mut rng = Rng::new(test_seed("read_race") ^ (reader << 8));
    let mut seen = Seen::default();
    let mut reads = 0;
    while !stop.load(Ordering::Relaxed) {
        match rng.below(10) {
            0..=5 => {
                let index = rng.below(KEYS);
                let found = db.get(&key(index)).expect("get");
                seen.check(index, found.as_deref().map(version_of), "get");
            }
            6..=7 => {
                let indexes: Vec<u64> = (0..8).map(|_| rng.below(KEYS)).collect();
                let keys: Vec<Vec<u8>> = indexes.iter().map(|&index| key(index)).collect();
                let values = db.multi_get(&keys).expect("multi_get");
                for (index, found) in indexes.into_iter().zip(values) {
                    seen.check(index, found.as_deref().map(version_of), "multi_get");
                }
            }
            8 => {
                let mut present = Vec::new();
                for item in db.iter() {
                    let (found_key, found_value) = item.expect("scan");
                    let index: u64 = String::from_utf8_lossy(&found_key[3..])
                        .parse()
                        .expect("key index");
                    present.push(index);
                    seen.check(index, Some(version_of(&found_value)), "scan");
                }
                for index in 0..KEYS {
                    if !present.contains(&index) {
                        seen.check(index, None, "scan");
                    }
                }
            }
            _ => check_snapshot(db, &mut rng),
        }
        reads += 1;
    }
    reads
}

/// Reads a few keys at a new snapshot, lets writes, flushes and compactions pass, and reads
/// them again at the same snapshot: the same values.
fn check_snapshot(db: &Db, rng: &mut Rng) {
    let snapshot = db.snapshot();
    let at = ReadOptions {
        snapshot: Some(&snapshot),
        ..ReadOptions::default()
    };
    let indexes: Vec<u64> = (0..8).map(|_| rng.below(KEYS)).collect();
    let first: Vec<_> = indexes
        .iter()
        .map(|&index| db.get_with(&key(index), &at).expect("get at snapshot"))
        .collect();
    std::thread::sleep(Duration::from_millis(rng.below(5)));
    for (&index, before) in indexes.iter().zip(&first) {
        let again = db.get_with(&key(index), &at).expect("get at snapshot");
        assert_eq!(
            again.as_deref().map(version_of),
            before.as_deref().map(version_of),
            "key {index} changed under a snapshot"
        );
    }
    let scanned: Vec<(Vec<u8>, u64)> = db
        .range_with(.., &at)
        .map(|item| item.map(|(found_key, found)| (found_key, version_of(&found))))
        .collect::<Result<_, _>>()
        .expect("scan at snapshot");
    for (&index, before) in indexes.iter().zip(&first) {
        let in_scan = scanned
            .iter()
            .find(|(found_key, _)| *found_key == key(index))
            .map(|(_, version)| *version);
        assert_eq!(
            in_scan,
            before.as_deref().map(version_of),
            "key {index}: the snapshot's scan disagrees with its get"
        );
    }
}

#[test]
fn reads_never_go_backwards_while_flushes_and_compactions_run() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Arc::new(Db::open(dir.path(), options()).expect("open"));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || write(&db, writer, &stop))
        })
        .collect();
    let readers: Vec<_> = (0..3)
        .map(|reader| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || read(&db, reader, &stop))
        })
        .collect();
    let run = Duration::from_millis(count_from_env("SHALEDB_READ_RACE_MS", 1500));
    let started = Instant::now();
    while started.elapsed() < run {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().expect("writer");
    }
    let reads: u64 = readers
        .into_iter()
        .map(|reader| reader.join().expect("reader"))
        .sum();
    let stats = db.stats();
    eprintln!(
        "{reads} reads checked over {} flushes and {} compactions",
        stats.flushes, stats.compactions
    );
    assert!(stats.flushes >= 5, "too few flushes to race with: {stats}");
    db.close().expect("close");
}
