//! `Db::open_read_only` beside a running writer: a writer thread commits numbered batches with
//! tiny options (flushes every few dozen batches, compactions all the time, manifest edits and
//! log switches under the reader's feet), and explicit flushes and range compactions, while the
//! test opens the database read-only again and again. Every open must succeed (retrying
//! internally when a file vanishes under it), and what each handle sees must be a prefix of the
//! writer's history, whole batches only:
//! - batch `n` sets every key of group `n % GROUPS` to `n`, so a group whose keys differ shows a
//!   partial batch;
//! - with `newest` the highest batch number seen, every group must hold the last batch at or
//!   below `newest` that wrote it (an older one means a batch in the middle is missing);
//! - `newest` never goes down from one open to the next.
//!
//! Reads go through a full scan, `multi_get`, `get` at a snapshot, and `verify` now and then
//! (which must cope with tables the writer deletes meanwhile). `SHALEDB_READ_ONLY_MS=N` runs
//! for N milliseconds instead of the default 1500.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Rng, count_from_env, temp_dir, test_seed, tiny_options};
use shaledb::{Db, Options, ReadOptions, WriteBatch, WriteOptions};

const GROUPS: u64 = 8;
const KEYS_PER_GROUP: u64 = 12;

fn key(group: u64, index: u64) -> Vec<u8> {
    format!("group{group:02}-key{index:02}").into_bytes()
}

/// A value holding batch number `batch`, padded so that memtables fill quickly.
fn value(batch: u64) -> Vec<u8> {
    let mut value = batch.to_be_bytes().to_vec();
    value.resize(120, b'.');
    value
}

fn batch_of(value: &[u8]) -> u64 {
    let bytes: [u8; 8] = value[..8].try_into().expect("values hold a batch number");
    u64::from_be_bytes(bytes)
}

fn options() -> Options {
    Options {
        level0_compaction_trigger: 2,
        max_manifest_size: 4 << 10,
        ..tiny_options()
    }
}

/// Commits batches 1, 2, ... until `stop`, each setting every key of group `n % GROUPS` to `n`;
/// flushes and compacts now and then. Publishes the last committed batch in `committed`.
fn write(db: &Db, seed: u64, stop: &AtomicBool, committed: &AtomicU64) {
    let mut rng = Rng::new(seed);
    let mut batch_number = 0;
    while !stop.load(Ordering::Relaxed) {
        batch_number += 1;
        let group = batch_number % GROUPS;
        let mut batch = WriteBatch::new();
        for index in 0..KEYS_PER_GROUP {
            batch
                .put(&key(group, index), &value(batch_number))
                .expect("batch put");
        }
        let sync = rng.chance(1, 20);
        let options = if sync {
            WriteOptions::SYNC
        } else {
            WriteOptions::NO_SYNC
        };
        db.write(batch, &options).expect("write");
        committed.store(batch_number, Ordering::Release);
        if rng.chance(1, 40) {
            db.flush().expect("flush");
        }
        if rng.chance(1, 400) {
            db.compact_range(..).expect("compact_range");
        }
    }
}

/// The batch numbers of each group that `db` holds: `None` for a group never written, else its
/// keys' batch numbers (which must all be equal).
fn read_groups(db: &Db, context: &str) -> Vec<Option<u64>> {
    let mut groups: Vec<Vec<u64>> = vec![Vec::new(); GROUPS as usize];
    for item in db.iter() {
        let (found_key, found_value) =
            item.unwrap_or_else(|error| panic!("{context}: scan: {error}"));
        let text = String::from_utf8_lossy(&found_key).into_owned();
        let group: usize = text[5..7].parse().expect("a group number");
        groups[group].push(batch_of(&found_value));
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(group, batches)| {
            if batches.is_empty() {
                return None;
            }
            assert_eq!(
                batches.len() as u64,
                KEYS_PER_GROUP,
                "{context}: group {group} has only some of its keys: {batches:?}"
            );
            assert!(
                batches.iter().all(|&batch| batch == batches[0]),
                "{context}: group {group} shows a partial batch: {batches:?}"
            );
            Some(batches[0])
        })
        .collect()
}

/// The last batch at or below `newest` that wrote `group`, if any.
fn expected_batch(group: u64, newest: u64) -> Option<u64> {
    if newest < group || (group == 0 && newest < GROUPS) {
        return None;
    }
    Some(newest - (newest - group) % GROUPS)
}

/// Checks that `groups` is exactly the state after batches `1..=newest`, where `newest` is the
/// highest batch number it holds; returns `newest`.
fn check_prefix(groups: &[Option<u64>], context: &str) -> u64 {
    let newest = groups.iter().flatten().copied().max().unwrap_or(0);
    for (group, found) in groups.iter().enumerate() {
        assert_eq!(
            *found,
            expected_batch(group as u64, newest),
            "{context}: group {group} after batches 1..={newest}: not a prefix of the history \
             (groups {groups:?})"
        );
    }
    newest
}

/// One read-only open and the reads on it; returns the newest batch it sees.
fn read_once(dir: &std::path::Path, rng: &mut Rng, verify: bool, context: &str) -> u64 {
    let db = Db::open_read_only(dir, options())
        .unwrap_or_else(|error| panic!("{context}: read-only open beside the writer: {error}"));
    let groups = read_groups(&db, context);
    let newest = check_prefix(&groups, context);
    // The same state through the other read paths.
    let group = rng.below(GROUPS);
    let keys: Vec<Vec<u8>> = (0..KEYS_PER_GROUP).map(|index| key(group, index)).collect();
    let values = db.multi_get(&keys).expect("multi_get");
    for found in &values {
        assert_eq!(
            found.as_deref().map(batch_of),
            groups[group as usize],
            "{context}: multi_get of group {group}"
        );
    }
    let snapshot = db.snapshot();
    let at_snapshot = ReadOptions {
        snapshot: Some(&snapshot),
        ..ReadOptions::default()
    };
    let found = db.get_with(&key(group, 0), &at_snapshot).expect("get");
    assert_eq!(
        found.as_deref().map(batch_of),
        groups[group as usize],
        "{context}: get"
    );
    if verify {
        db.verify()
            .unwrap_or_else(|error| panic!("{context}: verify beside the writer: {error}"));
    }
    db.close().expect("close");
    newest
}

#[test]
fn read_only_opens_beside_a_running_writer_see_a_prefix_of_its_history() {
    let seed = test_seed("read_only_beside_writer");
    let duration = Duration::from_millis(count_from_env("SHALEDB_READ_ONLY_MS", 1500));
    let dir = temp_dir();
    let db = Arc::new(Db::open(dir.path(), options()).expect("open the writer"));
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let started = Arc::new(Barrier::new(2));
    let writer = {
        let (db, stop, committed, started) = (
            Arc::clone(&db),
            Arc::clone(&stop),
            Arc::clone(&committed),
            Arc::clone(&started),
        );
        std::thread::spawn(move || {
            started.wait();
            write(&db, seed, &stop, &committed);
        })
    };
    started.wait();

    let mut rng = Rng::new(seed ^ 0x5eed);
    let deadline = Instant::now() + duration;
    let mut previous = 0;
    let mut opens = 0u64;
    while Instant::now() < deadline {
        let context = format!("seed {seed}, open {opens}");
        let committed_before = committed.load(Ordering::Acquire);
        let newest = read_once(dir.path(), &mut rng, opens % 8 == 7, &context);
        assert!(
            newest >= previous,
            "{context}: batch {newest} seen after batch {previous}: went backwards"
        );
        assert!(
            newest >= committed_before,
            "{context}: batch {committed_before} was committed before the open, but the open \
             saw only up to {newest}"
        );
        previous = newest;
        opens += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("the writer thread");
    let stats = db.stats();
    db.close().expect("close the writer");
    eprintln!(
        "read_only_beside_writer: {opens} read-only opens, the last saw batch {previous}; the \
         writer committed {} batches, {} flushes, {} compactions, {} manifest rolls",
        committed.load(Ordering::Acquire),
        stats.flushes,
        stats.compactions,
        stats.manifest_rolls
    );
    assert!(opens >= 10, "seed {seed}: only {opens} opens");
    assert!(
        stats.flushes >= 5 && stats.compactions >= 1,
        "seed {seed}: the writer must flush and compact while the reader opens:\n{stats}"
    );
}
