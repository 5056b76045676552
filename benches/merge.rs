//! Counter increments: `Db::merge` with `CounterAdd` against a read-modify-write (`get`, add,
//! `put`) of the same counters, in one run. Each workload increments `SHALEDB_MERGE_COUNTERS`
//! (default 1,000) counters `SHALEDB_MERGE_INCREMENTS` (default 200,000) times in all, unsynced,
//! on a fresh database with the default options, then reads every counter once (a merge's read
//! pays for its operands: with the default 64 MiB write buffer they are all still in the
//! memtable), and again after `compact_range(..)` (each counter is one put then). Three runs of each, alternating; medians and their ratios printed.
//! The read-modify-write is also only correct with one writer per counter; the merge is not.
//!
//! `cargo bench --bench merge`. Not a criterion benchmark: one measurement per run, printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shaledb::{CounterAdd, Db, Options, WriteOptions};

fn count_from_env(variable: &str, default: u64) -> u64 {
    std::env::var(variable)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// (time of the increments, time of reading every counter, time of reading every counter
/// again after a full compaction) of one workload.
fn run(merge: bool, counters: u64, increments: u64) -> (Duration, Duration, Duration) {
    let dir = tempfile::tempdir().expect("scratch directory");
    let options = Options {
        sync_writes: false,
        merge_operator: Some(Arc::new(CounterAdd)),
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).expect("open");
    let key = |index: u64| format!("counter{:08}", index % counters).into_bytes();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let started = Instant::now();
    for _ in 0..increments {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let key = key(seed);
        if merge {
            db.merge_with(&key, &CounterAdd::encode(1), &WriteOptions::NO_SYNC)
                .expect("merge");
        } else {
            let count = db
                .get(&key)
                .expect("get")
                .and_then(|value| CounterAdd::decode(&value))
                .unwrap_or(0);
            db.put_with(&key, &CounterAdd::encode(count + 1), &WriteOptions::NO_SYNC)
                .expect("put");
        }
    }
    let writes = started.elapsed();
    let read_all = || {
        let started = Instant::now();
        let mut total = 0;
        for index in 0..counters {
            let value = db.get(&key(index)).expect("get");
            total += value
                .and_then(|value| CounterAdd::decode(&value))
                .unwrap_or(0);
        }
        assert_eq!(total as u64, increments, "the counters lost increments");
        started.elapsed()
    };
    let reads = read_all();
    db.compact_range(..).expect("compact");
    (writes, reads, read_all())
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let counters = count_from_env("SHALEDB_MERGE_COUNTERS", 1_000);
    let increments = count_from_env("SHALEDB_MERGE_INCREMENTS", 200_000);
    let (mut merge_runs, mut rmw_runs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        merge_runs.push(run(true, counters, increments));
        rmw_runs.push(run(false, counters, increments));
    }
    let medians = |runs: &[(Duration, Duration, Duration)]| {
        (
            median(runs.iter().map(|run| run.0).collect()),
            median(runs.iter().map(|run| run.1).collect()),
            median(runs.iter().map(|run| run.2).collect()),
        )
    };
    let (merge_writes, merge_reads, merge_compacted) = medians(&merge_runs);
    let (rmw_writes, rmw_reads, rmw_compacted) = medians(&rmw_runs);
    let per_second = |elapsed: Duration| increments as f64 / elapsed.as_secs_f64();
    println!(
        "{increments} increments of {counters} counters (medians of 3):\n\
         merge:              {:>10.0} increments/s, reading every counter {:.1} ms ({:.1} ms compacted)\n\
         read-modify-write:  {:>10.0} increments/s, reading every counter {:.1} ms ({:.1} ms compacted)\n\
         merge / read-modify-write: {:.2}x the increments per second, {:.2}x the read time \
         ({:.2}x compacted)",
        per_second(merge_writes),
        merge_reads.as_secs_f64() * 1000.0,
        merge_compacted.as_secs_f64() * 1000.0,
        per_second(rmw_writes),
        rmw_reads.as_secs_f64() * 1000.0,
        rmw_compacted.as_secs_f64() * 1000.0,
        rmw_writes.as_secs_f64() / merge_writes.as_secs_f64(),
        merge_reads.as_secs_f64() / rmw_reads.as_secs_f64(),
        merge_compacted.as_secs_f64() / rmw_compacted.as_secs_f64(),
    );
}
