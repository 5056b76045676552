//! Compaction benchmarks, 16-byte keys and 100-byte values (32 random bytes repeated, so LZ4
//! roughly halves them). Every iteration builds a fresh database outside the timed span
//! (`iter_custom`), so only the compaction itself is timed.
//!
//! - `compaction/compact_range/<N>_runs`: N level-0 tables of `RUN_ENTRIES` entries each, whose
//!   keys interleave (run `r` holds keys `i * N + r`), so every run overlaps every other. The
//!   automatic level-0 trigger is N + 1, so nothing compacts before the timer starts. Timed:
//!   `Db::compact_range(..)`, which does one N-way merge L0 → L1 and then, because manual
//!   compactions never move files trivially, rewrites the result L1 → L2 and L2 → L3: three
//!   passes over the data. Throughput is the bytes of the N level-0 tables (the input of the
//!   merge), so the MB/s shown is input bytes over the time of all three passes.
//! - `compaction/level0_to_level1/4_files`: exactly one automatic L0 → L1 compaction of four
//!   overlapping tables. The trigger is 4; three runs are flushed outside the timer; the timer
//!   starts just before the fourth `flush()` and stops when `wait_for_compaction()` returns, so
//!   the span is the flush of the fourth run plus the 4-way merge (the compaction starts as soon
//!   as the fourth table is installed, before `flush()` returns, so it cannot be timed alone
//!   through the public API). Level 1 stays far below its target, so nothing else runs; the
//!   benchmark checks that `stats().compactions` grew by exactly one and that L0 is empty.
//!   Throughput is the bytes of the four level-0 tables.
//!
//! `shale bench` (`cargo run --release`) reports write and space amplification of a long
//! random fill, which is too slow for criterion's repetitions.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use shaledb::{Db, Options, Stats, WriteBatch, WriteOptions};

const KEY_SIZE: usize = 16;
const VALUE_SIZE: usize = 100;
/// Entries per run (per level-0 table): about 5.8 MB of keys and values, so an 8-run compaction
/// takes well under a second.
const RUN_ENTRIES: u64 = 50_000;
/// Entries per write batch while building the runs (setup only).
const BATCH_ENTRIES: u64 = 1_000;

/// SplitMix64: repeatable pseudo-random bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn key(index: u64) -> [u8; KEY_SIZE] {
    let mut key = [0u8; KEY_SIZE];
    let digits = format!("{index:016}");
    key.copy_from_slice(digits.as_bytes());
    key
}

/// 32 random bytes repeated, then cut to the value size: compressible about two to one.
fn value(index: u64) -> [u8; VALUE_SIZE] {
    let mut half = [0u8; 32];
    for (chunk, word) in half.chunks_exact_mut(8).zip(0u64..) {
        chunk.copy_from_slice(&mix(index * 4 + word).to_le_bytes());
    }
    let mut value = [0u8; VALUE_SIZE];
    for (position, byte) in value.iter_mut().enumerate() {
        *byte = half[position % half.len()];
    }
    value
}

fn options(level0_compaction_trigger: usize) -> Options {
    Options {
        sync_writes: false,
        // Large enough that a run never flushes on its own; small enough that preallocating
        // each write-ahead log stays cheap in the setup.
        write_buffer_size: 16 << 20,
        level0_compaction_trigger,
        // Only the file count may start a compaction: the benchmarks decide how many L0 files
        // a compaction takes.
        level0_size_percent_trigger: 0,
        level0_slowdown_trigger: 20.max(level0_compaction_trigger),
        level0_stop_trigger: 36.max(level0_compaction_trigger),
        ..Options::default()
    }
}

/// Writes run `run` of `runs` (keys `i * runs + run`) into the memtable; the caller flushes.
fn write_run(db: &Db, run: u64, runs: u64) {
    let mut batch = WriteBatch::new();
    for entry in 0..RUN_ENTRIES {
        let index = entry * runs + run;
        batch.put(&key(index), &value(index)).unwrap();
        if batch.len() as u64 == BATCH_ENTRIES {
            db.write(std::mem::take(&mut batch), &WriteOptions::NO_SYNC)
                .unwrap();
        }
    }
    db.write(batch, &WriteOptions::NO_SYNC).unwrap();
}

fn level0_bytes(stats: &Stats) -> u64 {
    stats.levels[0].bytes
}

/// A database in `dir` holding `runs` overlapping level-0 tables and nothing else.
fn database_with_runs(dir: &Path, runs: u64) -> Db {
    let db = Db::open(dir, options(runs as usize + 1)).unwrap();
    for run in 0..runs {
        write_run(&db, run, runs);
        db.flush().unwrap();
    }
    let stats = db.stats();
    assert_eq!(stats.levels[0].files as u64, runs, "{stats}");
    assert_eq!(stats.compactions, 0, "{stats}");
    db
}

/// The bytes of the level-0 tables of one setup, for the throughput figure.
fn input_bytes(runs: u64) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let db = database_with_runs(dir.path(), runs);
    level0_bytes(&db.stats())
}

fn compact_range_of_runs(c: &mut Criterion) {
    let mut group = c.benchmark_group("compaction/compact_range");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for runs in [4u64, 8] {
        group.throughput(Throughput::Bytes(input_bytes(runs)));
        group.bench_function(format!("{runs}_runs"), |bencher| {
            bencher.iter_custom(|iterations| {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    let dir = tempfile::tempdir().unwrap();
                    let db = database_with_runs(dir.path(), runs);
                    let started = Instant::now();
                    db.compact_range(..).unwrap();
                    timed += started.elapsed();
                    let stats = db.stats();
                    assert_eq!(stats.levels[0].files, 0, "{stats}");
                    assert_eq!(stats.compactions, 3, "L0→L1, L1→L2, L2→L3: {stats}");
                    db.close().unwrap();
                }
                timed
            })
        });
    }
    group.finish();
}

fn level0_to_level1(c: &mut Criterion) {
    const FILES: u64 = 4;
    let mut group = c.benchmark_group("compaction/level0_to_level1");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes(input_bytes(FILES)));
    group.bench_function(format!("{FILES}_files"), |bencher| {
        bencher.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                let dir = tempfile::tempdir().unwrap();
                let db = Db::open(dir.path(), options(FILES as usize)).unwrap();
                for run in 0..FILES - 1 {
                    write_run(&db, run, FILES);
                    db.flush().unwrap();
                }
                write_run(&db, FILES - 1, FILES);
                let before = db.stats();
                assert_eq!(before.compactions, 0, "{before}");
                let started = Instant::now();
                db.flush().unwrap();
                db.wait_for_compaction().unwrap();
                timed += started.elapsed();
                let after = db.stats();
                assert_eq!(after.compactions, 1, "one L0→L1 compaction: {after}");
                assert_eq!(after.trivial_moves, 0, "{after}");
                assert_eq!(after.levels[0].files, 0, "{after}");
                assert!(after.levels[1].files > 0, "{after}");
                db.close().unwrap();
            }
            timed
        })
    });
    group.finish();
}

criterion_group!(benches, compact_range_of_runs, level0_to_level1);
criterion_main!(benches);
