//! The `largebatch` workload of `shale bench`: `num` entries committed atomically, four ways,
//! each on a fresh database in the scratch directory, beside the disk's sequential write rate
//! measured in the same run:
//!
//! - `disk-seqwrite`: the same number of bytes as the entries' keys and values written to one
//!   file in 1 MiB writes, then `fsync` (the rate the disk takes a sequential stream at);
//! - `writebatch-1000`: the entries in random order as ordinary 1,000-entry `WriteBatch`es
//!   (`Db::write`, unsynced), then `Db::flush` (so that both sides end with the data in synced
//!   tables);
//! - `largebatch`: the same entries, same order, as one `LargeBatch`, then `commit`;
//! - `ingest`: the entries in key order written as tables of 64 MiB with `TableWriter`, then
//!   `Db::ingest` of all of them in one call (timed together, and the build and the ingest
//!   apart in the note).
//!
//! Each row's note gives the peak anonymous memory (`RssAnon`, sampled every 5 ms) above what
//! the process held when the row began, beside the write buffer and block cache sizes, and
//! the ratio of the row's time to `writebatch-1000`'s. Compactions the rows leave behind are
//! not timed; each database is closed (waiting for nothing) before the next row.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use shaledb::{Db, LargeBatchOptions, TableWriter, WriteBatch, WriteOptions};

use super::config::BenchConfig;
use super::directory::clear_directory;
use super::keys::{KeyMaker, ValuePool};
use super::measurement::Measurement;
use super::memory::{HeapPeakSampler, release_free_memory};
use super::report;
use crate::cli::error::CliError;

/// Entries per ordinary batch.
const BATCH_ENTRIES: u64 = 1_000;
/// Bytes of each table the `ingest` row builds, about.
const INGEST_TABLE_BYTES: u64 = 64 << 20;

/// Entry `position`'s number in a fixed random order of `0..num` (a multiplicative
/// permutation: the multiplier is odd and coprime with `num` by construction).
fn shuffled(position: u64, num: u64) -> u64 {
    let mut multiplier = (0x9e37_79b9_7f4a_7c15 % num) | 1;
    while gcd(multiplier, num) != 1 {
        multiplier += 2;
    }
    ((u128::from(position) * u128::from(multiplier)) % u128::from(num)) as u64
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The anonymous memory now, as a peak sample of no time.
fn anonymous_now() -> u64 {
    HeapPeakSampler::start().finish().anonymous.unwrap_or(0)
}

/// Runs the four rows (see the module documentation) in `dir`.
pub fn run(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    let num = config.num.max(BATCH_ENTRIES);
    let values = ValuePool::new(config.value_size);
    let user_bytes = num * config.entry_bytes();
    clear_directory(dir)?;
    report::row(config, &disk_sequential_write(dir, user_bytes)?, None)?;
    let mut baseline = None;
    for row in ["writebatch-1000", "largebatch", "ingest"] {
        clear_directory(dir)?;
        let db_dir = dir.join("db");
        let db = Db::open(&db_dir, config.db_options())?;
        release_free_memory();
        let heap_before = anonymous_now();
        let sampler = HeapPeakSampler::start();
        let start = Instant::now();
        let detail = match row {
            "writebatch-1000" => write_batches(config, &db, &values, num)?,
            "largebatch" => large_batch(config, &db, &values, num)?,
            _ => ingest(config, &db, dir, &values, num)?,
        };
        let elapsed = start.elapsed();
        let peak = sampler.finish().anonymous.unwrap_or(0);
        db.close()?;
        let ratio = match baseline {
            None => {
                baseline = Some(elapsed);
                "baseline".to_string()
            }
            Some(base) => format!(
                "{:.2}x faster than writebatch-1000",
                base.as_secs_f64() / elapsed.as_secs_f64().max(1e-9)
            ),
        };
        let measurement = Measurement {
            name: row.to_string(),
            operations: num,
            bytes: user_bytes,
            elapsed,
            latency: None,
            note: format!(
                "peak heap +{} MiB (write buffer {} MiB, cache {} MiB); {detail}; {ratio}",
                peak.saturating_sub(heap_before) >> 20,
                config.write_buffer_size >> 20,
                config.block_cache_capacity >> 20,
            ),
        };
        report::row(config, &measurement, None)?;
    }
    clear_directory(dir)
}

/// `bytes` written to one file in 1 MiB writes, then fsynced.
fn disk_sequential_write(dir: &Path, bytes: u64) -> Result<Measurement, CliError> {
    let path = dir.join("sequential.dat");
    let chunk = vec![0x5a_u8; 1 << 20];
    let start = Instant::now();
    let mut file = std::fs::File::create(&path).map_err(shaledb::Error::from)?;
    let mut written = 0;
    while written < bytes {
        let length = (bytes - written).min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..length])
            .map_err(shaledb::Error::from)?;
        written += length as u64;
    }
    file.sync_all().map_err(shaledb::Error::from)?;
    let elapsed = start.elapsed();
    drop(file);
    let _ = std::fs::remove_file(&path);
    Ok(Measurement {
        name: "disk-seqwrite".into(),
        operations: 0,
        bytes,
        elapsed,
        latency: None,
        note: "1 MiB writes then fsync, the entries' bytes: the disk's sequential rate".into(),
    })
}

fn write_batches(
    config: &BenchConfig,
    db: &Db,
    values: &ValuePool,
    num: u64,
) -> Result<String, CliError> {
    let mut keys = KeyMaker::new(config.key_size);
    let options = WriteOptions { sync: false };
    let mut batch = WriteBatch::new();
    for position in 0..num {
        let index = shuffled(position, num);
        batch.put(keys.key(index), values.value(index))?;
        if batch.len() as u64 == BATCH_ENTRIES {
            db.write(std::mem::take(&mut batch), &options)?;
        }
    }
    if !batch.is_empty() {
        db.write(batch, &options)?;
    }
    db.flush()?;
    Ok(format!("{} files in level 0", db.stats().levels[0].files))
}

fn large_batch(
    config: &BenchConfig,
    db: &Db,
    values: &ValuePool,
    num: u64,
) -> Result<String, CliError> {
    let mut keys = KeyMaker::new(config.key_size);
    let mut batch = db.large_batch_with(&LargeBatchOptions::default())?;
    for position in 0..num {
        let index = shuffled(position, num);
        batch.put(keys.key(index), values.value(index))?;
    }
    let runs = batch.staged_runs();
    let report = batch.commit()?;
    Ok(format!(
        "{} runs staged, levels {:?}",
        runs + 1,
        level_counts(&report.levels)
    ))
}

fn ingest(
    config: &BenchConfig,
    db: &Db,
    dir: &Path,
    values: &ValuePool,
    num: u64,
) -> Result<String, CliError> {
    let mut keys = KeyMaker::new(config.key_size);
    let entries_per_table = (INGEST_TABLE_BYTES / config.entry_bytes()).max(1);
    let start = Instant::now();
    let mut paths = Vec::new();
    let mut index = 0;
    while index < num {
        let path = dir.join(format!("external-{}.sst", paths.len()));
        let mut writer = TableWriter::create(&path, &config.table_options)?;
        let end = (index + entries_per_table).min(num);
        for entry in index..end {
            writer.put(keys.key(entry), values.value(entry))?;
        }
        writer.finish()?;
        paths.push(path);
        index = end;
    }
    let built = start.elapsed();
    let report = db.ingest(&paths)?;
    let ingested = start.elapsed() - built;
    let rate =
        |elapsed: std::time::Duration| report.bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9);
    Ok(format!(
        "{} tables ({} MB) built in {:.2} s ({:.0} MB/s of table), ingested in {:.3} s ({:.0} MB/s), levels {:?}",
        paths.len(),
        report.bytes / 1_000_000,
        built.as_secs_f64(),
        rate(built),
        ingested.as_secs_f64(),
        rate(ingested),
        level_counts(&report.levels)
    ))
}

/// Tables per level, from the level of each.
fn level_counts(levels: &[usize]) -> [usize; 4] {
    let mut counts = [0; 4];
    for &level in levels {
        if let Some(count) = counts.get_mut(level) {
            *count += 1;
        }
    }
    counts
}
