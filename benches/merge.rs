//! Counter increments: `Db::merge` with `CounterAdd` against a read-modify-write (`get`, add,
//! `put`) of the same counters, in one run. Each workload increments `SHALEDB_MERGE_COUNTERS`
//! (default 1,000) counters `SHALEDB_MERGE_INCREMENTS` (default 200,000) times in all, unsynced,
//! on a fresh database with the default options, then reads every counter once (a merge's read
//! pays for its operands). Three runs of each, alternating; medians and their ratios printed.
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

/// (time of the increments, time of reading every counter) of one workload.
fn run(merge: bool, counters: u64, increments: u64) -> (Duration, Duration) {
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
    let started = Instant::now();
    let mut total = 0;
    for index in 0..counters {
        let value = db.get(&key(index)).expect("get");
        total += value
            .and_then(|value| CounterAdd::decode(&value))
            .unwrap_or(0);
    }
    let reads = started.elapsed();
    assert_eq!(total as u64, increments, "the counters lost increments");
    (writes, reads)
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let counters = count_from_env("SHALEDB_MERGE_COUNTERS", 1_000);
    let increments = count_from_env("SHALEDB_MERGE_INCREMENTS", 200_000);
    let (mut merge_writes, mut merge_reads, mut rmw_writes, mut rmw_reads) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let (writes, reads) = run(true, counters, increments);
        merge_writes.push(writes);
        merge_reads.push(reads);
        let (writes, reads) = run(false, counters, increments);
        rmw_writes.push(writes);
        rmw_reads.push(reads);
    }
    let (merge_writes, merge_reads) = (median(merge_writes), median(merge_reads));
    let (rmw_writes, rmw_reads) = (median(rmw_writes), median(rmw_reads));
    let per_second = |elapsed: Duration| increments as f64 / elapsed.as_secs_f64();
    println!(
        "{increments} increments of {counters} counters (medians of 3):\n\
         merge:              {:>10.0} increments/s, reading every counter {:.1} ms\n\
         read-modify-write:  {:>10.0} increments/s, reading every counter {:.1} ms\n\
         merge / read-modify-write: {:.2}x the increments per second, {:.2}x the read time",
        per_second(merge_writes),
        merge_reads.as_secs_f64() * 1000.0,
        per_second(rmw_writes),
        rmw_reads.as_secs_f64() * 1000.0,
        rmw_writes.as_secs_f64() / merge_writes.as_secs_f64(),
        merge_reads.as_secs_f64() / rmw_reads.as_secs_f64(),
    );
}
