//! Power loss at every point of a workload, through `shaledb::vfs::FaultFileSystem`.
//!
//! Each cycle runs a seeded workload — two writers, each with its own keys, writing batches of
//! puts and deletes (overwriting earlier keys), some synced and some not — on a fresh database
//! with options small enough that it flushes and compacts. The fault file system simulates a
//! power loss after the cycle's chosen number of file operations (sweeping the whole workload,
//! opening included); half the cycles keep a random prefix of the unsynced writes (a torn
//! power loss). Then the database is dropped, the machine restarted, and the database reopened
//! with the same file system. The reopen must succeed (no corruption, no missing table: every
//! file the manifest names was durable before the manifest named it), and for each writer the
//! recovered keys must equal its model after some prefix of its batches that includes every
//! batch acknowledged as synced: nothing partial, nothing never written, nothing synced lost.
//!
//! `SHALEDB_FAULT_CYCLES=N` runs N cycles instead of the default (the ignored long test runs
//! 3000 unless told otherwise).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{Rng, test_seed, tiny_options};
use shaledb::vfs::FaultFileSystem;
use shaledb::{Db, Options, WriteBatch, WriteOptions};

const WRITERS: usize = 2;
const BATCHES_PER_WRITER: usize = 150;
const KEYS_PER_WRITER: u64 = 40;

/// One writer's batch: its operations (`None` value = delete) and whether it was synced.
#[derive(Clone)]
struct Batch {
    operations: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    sync: bool,
}

/// What one writer did: every batch it attempted, and how many were acknowledged.
struct WriterLog {
    batches: Vec<Batch>,
    acknowledged: usize,
    last_synced_acknowledged: Option<usize>,
}

fn options(file_system: &FaultFileSystem) -> Options {
    Options {
        level0_compaction_trigger: 2,
        file_system: Arc::new(file_system.clone()),
        ..tiny_options()
    }
}

fn make_batches(rng: &mut Rng, writer: usize) -> Vec<Batch> {
    (0..BATCHES_PER_WRITER)
        .map(|index| {
            let count = rng.between(1, 6);
            let operations = (0..count)
                .map(|operation| {
                    let key = format!("w{writer}-key{:03}", rng.below(KEYS_PER_WRITER));
                    let value = (!rng.chance(1, 5)).then(|| {
                        let mut value = format!("w{writer}-b{index}-o{operation}-").into_bytes();
                        let length = rng.between(50, 400);
                        value.extend(rng.bytes(length));
                        value
                    });
                    (key.into_bytes(), value)
                })
                .collect();
            Batch {
                operations,
                sync: rng.chance(1, 3),
            }
        })
        .collect()
}

/// Writes `batches` in order until one fails (the power loss), and says how far it got.
fn run_writer(db: &Db, batches: Vec<Batch>) -> WriterLog {
    let mut log = WriterLog {
        batches,
        acknowledged: 0,
        last_synced_acknowledged: None,
    };
    for (index, batch) in log.batches.iter().enumerate() {
        let mut write = WriteBatch::new();
        for (key, value) in &batch.operations {
            match value {
                Some(value) => write.put(key, value).expect("valid put"),
                None => write.delete(key).expect("valid delete"),
            }
        }
        let options = WriteOptions { sync: batch.sync };
        if db.write(write, &options).is_err() {
            break;
        }
        log.acknowledged = index + 1;
        if batch.sync {
            log.last_synced_acknowledged = Some(index);
        }
    }
    log
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn apply(model: &mut Model, batch: &Batch) {
    for (key, value) in &batch.operations {
        match value {
            Some(value) => model.insert(key.clone(), value.clone()),
            None => model.remove(key),
        };
    }
}

/// Checks that `recovered` (this writer's keys) is the model after a prefix of its batches
/// that includes every acknowledged synced batch; returns that prefix length.
fn check_writer(recovered: &Model, log: &WriterLog, context: &str) -> usize {
    let required = log.last_synced_acknowledged.map_or(0, |index| index + 1);
    // The batch that failed may still have reached the log before the power loss.
    let possible = (log.acknowledged + 1).min(log.batches.len());
    let mut model = Model::new();
    for prefix in 0..=possible {
        if prefix >= required && model == *recovered {
            return prefix;
        }
        if let Some(batch) = log.batches.get(prefix) {
            apply(&mut model, batch);
        }
    }
    panic!(
        "{context}: recovered state is not the model after any prefix of {required}..={possible} batches \
         ({} acknowledged, {} keys recovered)",
        log.acknowledged,
        recovered.len()
    );
}

/// Totals over a sweep.
#[derive(Default, Debug)]
struct Totals {
    cycles: u64,
    power_losses: u64,
    acknowledged_batches: u64,
    synced_batches_checked: u64,
}

/// One cycle: workload, power loss after `crash_after` operations, restart, reopen, check.
fn run_cycle(seed: u64, crash_after: u64, torn: bool, totals: &mut Totals) -> u64 {
    let context = format!("seed {seed}, crash after {crash_after} operations, torn {torn}");
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    file_system.set_torn_power_loss(torn.then_some(seed));
    file_system.crash_after_operations(crash_after);
    let mut rng = Rng::new(seed);
    let batches: Vec<Vec<Batch>> = (0..WRITERS)
        .map(|writer| make_batches(&mut rng, writer))
        .collect();
    let logs: Vec<WriterLog> = match Db::open(dir.path(), options(&file_system)) {
        Ok(db) => {
            let logs = std::thread::scope(|scope| {
                let db = &db;
                let handles: Vec<_> = batches
                    .into_iter()
                    .map(|batches| scope.spawn(move || run_writer(db, batches)))
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| handle.join().expect("writer thread"))
                    .collect()
            });
            if !file_system.is_dead() {
                file_system.power_loss();
            }
            drop(db);
            logs
        }
        Err(_) => {
            assert!(
                file_system.is_dead(),
                "{context}: open failed without a power loss"
            );
            batches
                .into_iter()
                .map(|batches| WriterLog {
                    batches,
                    acknowledged: 0,
                    last_synced_acknowledged: None,
                })
                .collect()
        }
    };
    let operations = file_system.stats().operations;
    file_system.restart();
    let db = Db::open(dir.path(), options(&file_system))
        .unwrap_or_else(|error| panic!("{context}: reopen after power loss failed: {error}"));
    let mut recovered: Vec<Model> = vec![Model::new(); WRITERS];
    for item in db.iter() {
        let (key, value) = item.unwrap_or_else(|error| panic!("{context}: read failed: {error}"));
        let writer = usize::from(key[1] - b'0');
        recovered[writer].insert(key.to_vec(), value.to_vec());
    }
    for (writer, log) in logs.iter().enumerate() {
        check_writer(
            &recovered[writer],
            log,
            &format!("{context}, writer {writer}"),
        );
        totals.acknowledged_batches += log.acknowledged as u64;
        totals.synced_batches_checked += log.last_synced_acknowledged.map_or(0, |index| {
            log.batches[..=index]
                .iter()
                .filter(|batch| batch.sync)
                .count() as u64
        });
    }
    db.close()
        .unwrap_or_else(|error| panic!("{context}: close failed: {error}"));
    totals.cycles += 1;
    totals.power_losses += file_system.stats().power_losses;
    operations
}

/// Sweeps `cycles` crash points evenly over the operations of an uninterrupted run.
fn sweep(test: &str, cycles: u64) -> Totals {
    let seed = test_seed(test);
    let mut totals = Totals::default();
    // An uninterrupted run (crash point far past the end) measures the workload's length.
    let length = run_cycle(seed, u64::MAX, false, &mut totals).max(1);
    for cycle in 0..cycles {
        let crash_after = cycle * length / cycles;
        let cycle_seed = seed.wrapping_add(cycle.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        run_cycle(cycle_seed, crash_after, cycle % 2 == 1, &mut totals);
    }
    eprintln!("{test}: seed {seed}, workload of about {length} file operations, {totals:?}");
    totals
}

fn cycles_from_environment(default: u64) -> u64 {
    std::env::var("SHALEDB_FAULT_CYCLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

#[test]
fn synced_writes_survive_power_loss_at_any_point() {
    let totals = sweep(
        "synced_writes_survive_power_loss_at_any_point",
        cycles_from_environment(240),
    );
    assert!(totals.power_losses > totals.cycles / 2, "{totals:?}");
    assert!(totals.synced_batches_checked > 0, "{totals:?}");
}

#[test]
#[ignore = "long: run with --ignored (SHALEDB_FAULT_CYCLES sets the number of crash points)"]
fn synced_writes_survive_power_loss_at_any_point_long() {
    sweep(
        "synced_writes_survive_power_loss_at_any_point_long",
        cycles_from_environment(3000),
    );
}
