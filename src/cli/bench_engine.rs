//! The engine workloads of `shaledb bench`, db_bench style: `fillrandom` (unsynced single puts
//! in random key order), `readrandom` (point reads of present keys on that database), and
//! `fillsync` (synced single puts from 1, 4, 16 and 64 threads on fresh databases, where group
//! commit lets concurrent writers share one fdatasync). The notes give fsyncs per second and
//! the mean number of batches per write group, from `Db::stats`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use shaledb::{CommitPolicy, Db, Options, WriteBatch, WriteOptions};

use super::CliError;
use super::bench::{BenchConfig, Measurement, time};
use super::bench_workloads::{KeyMaker, ValuePool};
use super::random::SplitMix64;

const READ_SEED: u64 = 0x5eed_0003;
/// A prime: `index * PERMUTATION_MULTIPLIER mod entries` visits every index once when the two
/// are coprime.
const PERMUTATION_MULTIPLIER: u64 = 2_654_435_761;
/// Thread counts of the synced-put workloads.
pub const SYNC_THREAD_COUNTS: [u64; 4] = [1, 4, 16, 64];

fn unsynced_options() -> Options {
    Options {
        sync_writes: false,
        ..Options::default()
    }
}

/// The entry index written `step`-th: a permutation of `0..entries`.
pub(super) fn permuted(step: u64, entries: u64) -> u64 {
    let coprime = gcd(PERMUTATION_MULTIPLIER % entries, entries) == 1;
    let multiplier = if coprime { PERMUTATION_MULTIPLIER } else { 1 };
    ((u128::from(step) * u128::from(multiplier)) % u128::from(entries)) as u64
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Puts every entry once, in random order, without sync; returns the open database.
pub fn fill_random(config: &BenchConfig, dir: &Path) -> Result<(Db, Measurement), CliError> {
    let db = Db::open(dir, unsynced_options())?;
    let values = ValuePool::new(config.value_size);
    let mut keys = KeyMaker::new(config.key_size);
    let (result, elapsed) = time(|| -> Result<(), CliError> {
        for step in 0..config.entries {
            let index = permuted(step, config.entries);
            db.put(keys.key(2 * index), values.value(index))?;
        }
        Ok(())
    });
    result?;
    let stats = db.stats();
    let measurement = Measurement {
        name: "db fillrandom (no sync)".into(),
        operations: config.entries,
        bytes: config.entries * config.entry_bytes(),
        elapsed,
        note: format!(
            "{} write groups, {} flushes",
            stats.write_groups, stats.flushes
        ),
    };
    Ok((db, measurement))
}

/// Reads random present keys of the database `fill_random` wrote, checking each is found.
pub fn read_random(config: &BenchConfig, db: &Db) -> Result<Measurement, CliError> {
    let mut random = SplitMix64::new(READ_SEED);
    let mut keys = KeyMaker::new(config.key_size);
    let (found, elapsed) = time(|| -> Result<u64, CliError> {
        let mut found = 0;
        for _ in 0..config.entries {
            let number = 2 * random.below(config.entries);
            if black_box(db.get(keys.key(number))?).is_some() {
                found += 1;
            }
        }
        Ok(found)
    });
    let found = found?;
    if found != config.entries {
        return Err(CliError::Failed(format!(
            "readrandom found {found} of {} present keys",
            config.entries
        )));
    }
    let stats = db.stats();
    let level0 = stats.levels.first().map_or(0, |level| level.files);
    Ok(Measurement {
        name: "db readrandom".into(),
        operations: config.entries,
        bytes: config.entries * config.entry_bytes(),
        elapsed,
        note: format!(
            "{found} found; memtable {:.0} MB, {level0} L0 files; cache {:.0}% hits",
            stats.memtable_bytes as f64 / 1e6,
            100.0 * stats.cache_hits as f64 / (stats.cache_hits + stats.cache_misses).max(1) as f64
        ),
    })
}

/// The commit policies the synced workloads compare, with their names in the table.
pub fn commit_policies() -> [(&'static str, CommitPolicy); 3] {
    [
        ("immediate", CommitPolicy::Immediate),
        (
            "window 1ms",
            CommitPolicy::Window {
                max_wait: Duration::from_millis(1),
                max_batches: 1024,
                max_bytes: 1 << 20,
            },
        ),
        ("adaptive", CommitPolicy::default()),
    ]
}

/// Synced single puts from `threads` threads on a fresh database in `dir`, committed under
/// `policy`.
pub fn fill_sync(
    config: &BenchConfig,
    dir: &Path,
    threads: u64,
    policy_name: &str,
    policy: CommitPolicy,
) -> Result<Measurement, CliError> {
    let options = Options {
        commit_policy: policy,
        ..unsynced_options()
    };
    let db = Arc::new(Db::open(dir, options)?);
    let puts_per_thread = config.sync_records.div_ceil(threads).max(16);
    let values = Arc::new(ValuePool::new(config.value_size));
    let (outcome, elapsed) = time(|| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (db, values) = (Arc::clone(&db), Arc::clone(&values));
                let key_size = config.key_size;
                std::thread::spawn(move || -> Result<(), CliError> {
                    let mut keys = KeyMaker::new(key_size);
                    for put in 0..puts_per_thread {
                        let index = thread * puts_per_thread + put;
                        let mut batch = WriteBatch::new();
                        batch.put(keys.key(index), values.value(index))?;
                        db.write(batch, &WriteOptions::SYNC)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .map_err(|_| CliError::Failed("a writer thread panicked".into()))?
            })
            .collect::<Result<Vec<()>, CliError>>()
    });
    outcome?;
    let stats = db.stats();
    let operations = threads * puts_per_thread;
    let seconds = elapsed.as_secs_f64().max(1e-9);
    Ok(Measurement {
        name: format!("db fillsync {policy_name}, {threads} thr"),
        operations,
        bytes: operations * config.entry_bytes(),
        elapsed,
        note: format!(
            "{:.0} fsyncs/s; {:.1} per group; latency p50 {:?} p99 {:?}; fsync p50 {:?}",
            stats.fsync_latency.count as f64 / seconds,
            stats.batches_per_group_mean,
            stats.commit_latency.p50,
            stats.commit_latency.p99,
            stats.fsync_latency.p50,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_visits_every_index_once() {
        for entries in [1u64, 2, 7, 1000, 2_654_435_761 * 2] {
            if entries > 100_000 {
                // Not coprime with the multiplier: falls back to the identity.
                assert_eq!(permuted(5, entries), 5);
                continue;
            }
            let mut seen: Vec<u64> = (0..entries).map(|step| permuted(step, entries)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..entries).collect::<Vec<_>>());
        }
    }
}
