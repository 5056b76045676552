//! The keyspace workloads of `shale bench` (issue 15), shaledb only, each on a fresh database
//! in the benchmark's directory, which they leave empty:
//!
//! - `keyspaces`: fillrandom from `KEYSPACE_THREADS` threads, twice. First every thread writes
//!   the default keyspace (the baseline), then thread `i` writes keyspace `i` of as many. Both
//!   runs write the same entries (`0..num`, in fillrandom's order, thread `t` taking the `t`-th
//!   stretch of it) with the same values, unsynced, and every keyspace has the options of the
//!   default one (`KeyspaceOptions::from_options`, so the same `--write-buffer-size`); only the
//!   keyspace each put goes to differs. All keyspaces share one log and one group commit, so
//!   the target is that the second run keeps 0.9x the ops/s of the first; the second row's
//!   note gives the ratio. Each note also gives the process's CPU time per put (every thread:
//!   writers, flush, compaction, during the timed loop), steadier than ops/s on a shared
//!   machine. Afterwards (untimed) every keyspace is read back in full: it must hold exactly
//!   its thread's entries.
//! - `dropkeyspace`: `--drop-size` bytes of keys and values (default 1 GiB) written into one
//!   keyspace in random order, settled (flush, then every compaction), and then one timed
//!   `Db::drop_keyspace`. The target is under 100 ms for 1 GiB. A few entries in the default
//!   keyspace, in a table of their own, check that the drop takes its own tables only: after it
//!   returns, every table of the dropped keyspace must be gone from the directory, the default
//!   keyspace's table must still be there and its entries readable, and the dropped keyspace's
//!   handle must fail.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use shaledb::stats::Histogram;
use shaledb::{Db, Keyspace, KeyspaceOptions, WriteBatch, WriteOptions};

use super::config::BenchConfig;
use super::directory::clear_directory;
use super::keys::{KeyMaker, ValuePool};
use super::measurement::{Latency, Measurement, process_cpu_time, time, timed};
use super::progress::Progress;
use super::report;
use super::workloads::{on_threads, permuted};
use crate::cli::error::CliError;

/// Writer threads of `keyspaces`, and keyspaces of its second run.
pub const KEYSPACE_THREADS: u64 = 4;
/// The name of the keyspace `dropkeyspace` fills and drops.
const DROPPED_NAME: &str = "dropped";
/// Puts per unsynced batch of `dropkeyspace`'s (untimed) fill.
const FILL_BATCH: u64 = 1_000;
/// Entries `dropkeyspace` writes to the default keyspace, which the drop must leave alone.
const DEFAULT_ENTRIES: u64 = 1_000;
/// How long the dropped keyspace's tables may stay after `drop_keyspace` returns (a flush or
/// compaction that was finishing may hold them a moment) before the benchmark fails.
const LINGER_MAX: Duration = Duration::from_secs(10);

/// Runs `keyspaces` in `dir`: the baseline row, then the row of `KEYSPACE_THREADS` keyspaces.
pub fn run_keyspaces(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    let mut baseline: Option<f64> = None;
    for keyspaces in [1, KEYSPACE_THREADS] {
        clear_directory(dir)?;
        let options = config.db_options();
        let db = Db::open(dir, options.clone())?;
        let handles: Vec<Keyspace> = if keyspaces == 1 {
            vec![db.default_keyspace(); KEYSPACE_THREADS as usize]
        } else {
            (0..keyspaces)
                .map(|number| {
                    db.keyspace(
                        &format!("keyspace{number}"),
                        KeyspaceOptions::from_options(&options),
                    )
                })
                .collect::<Result<_, _>>()?
        };
        let cpu_before = process_cpu_time();
        let mut measurement = fill_keyspaces(config, &handles, keyspaces)?;
        let cpu = process_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before));
        let stats = db.stats();
        check_contents(config, &handles, keyspaces)?;
        let rate = measurement.operations as f64 / measurement.elapsed.as_secs_f64().max(1e-9);
        let comparison = match baseline {
            None => {
                baseline = Some(rate);
                "baseline".to_string()
            }
            Some(one_keyspace) => format!(
                "{:.2}x the ops/s of 1 keyspace (target >= 0.90x)",
                rate / one_keyspace.max(1e-9)
            ),
        };
        let cpu_per_put = cpu.map_or_else(
            || "n/a".to_string(),
            |cpu| {
                let micros = cpu.as_secs_f64() * 1e6 / measurement.operations.max(1) as f64;
                format!("{micros:.1}")
            },
        );
        measurement.note = format!(
            "{}; {} write groups, {} stalls; {cpu_per_put} µs CPU per put (all threads); \
             {comparison}",
            measurement.note, stats.write_groups, stats.stall_count
        );
        report::row(config, &measurement, None)?;
        db.close()?;
    }
    clear_directory(dir)
}

/// The steps of fillrandom's order that thread `thread` writes, of `num`.
fn thread_steps(thread: u64, num: u64) -> std::ops::Range<u64> {
    thread * num / KEYSPACE_THREADS..(thread + 1) * num / KEYSPACE_THREADS
}

/// The timed loop of `keyspaces`: thread `t` puts its stretch of entries into `handles[t]`.
fn fill_keyspaces(
    config: &BenchConfig,
    handles: &[Keyspace],
    keyspaces: u64,
) -> Result<Measurement, CliError> {
    let values = ValuePool::new(config.value_size);
    let histogram = Histogram::default();
    let label = if keyspaces == 1 {
        "1 keyspace".to_string()
    } else {
        format!("{keyspaces} keyspaces")
    };
    let progress = Progress::bar(config, &label, config.num);
    let (written, elapsed) = on_threads(
        KEYSPACE_THREADS,
        &histogram,
        &progress,
        |thread, histogram, progress| {
            let keyspace = handles
                .get(thread as usize)
                .ok_or_else(|| CliError::Failed(format!("no keyspace for thread {thread}")))?;
            let mut keys = KeyMaker::new(config.key_size);
            let mut written = 0;
            for step in thread_steps(thread, config.num) {
                let index = permuted(step, config.num);
                let (key, value) = (keys.key(2 * index), values.value(index));
                timed(histogram, || {
                    keyspace.put_with(key, value, &WriteOptions::NO_SYNC)
                })?;
                written += 1;
                progress.step(written);
            }
            Ok(written)
        },
    )?;
    progress.finish();
    Ok(Measurement {
        name: format!("fillrandom {label}, {KEYSPACE_THREADS} threads"),
        operations: written,
        bytes: written * config.entry_bytes(),
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: if keyspaces == 1 {
            "no sync; every thread writes the default keyspace".into()
        } else {
            "no sync; thread i writes keyspace i".into()
        },
    })
}

/// Reads every keyspace of `handles` back (untimed): each must hold exactly the entries its
/// threads wrote, with values of the configured size.
fn check_contents(
    config: &BenchConfig,
    handles: &[Keyspace],
    keyspaces: u64,
) -> Result<(), CliError> {
    let spinner = Progress::spinner(config, "check");
    for (number, keyspace) in handles.iter().take(keyspaces as usize).enumerate() {
        let expected = if keyspaces == 1 {
            config.num
        } else {
            let steps = thread_steps(number as u64, config.num);
            steps.end - steps.start
        };
        let mut found = 0;
        for item in keyspace.iter() {
            let (_, value) = item?;
            if value.len() != config.value_size {
                return Err(CliError::Failed(format!(
                    "keyspaces: a value of {} bytes in {}, expected {}",
                    value.len(),
                    keyspace.name(),
                    config.value_size
                )));
            }
            found += 1;
        }
        if found != expected {
            return Err(CliError::Failed(format!(
                "keyspaces: {} holds {found} entries, expected {expected}",
                keyspace.name()
            )));
        }
    }
    spinner.finish();
    Ok(())
}

/// The tables (`.sst` files) in `dir`, by name, with their sizes.
fn tables_in(dir: &Path) -> Result<BTreeMap<String, u64>, CliError> {
    let failed =
        |error: std::io::Error| CliError::Failed(format!("cannot list {}: {error}", dir.display()));
    let mut tables = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sst") {
            continue;
        }
        match entry.metadata() {
            Ok(metadata) => {
                tables.insert(name, metadata.len());
            }
            // Deleted between the listing and now: no longer a table of the database.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(failed(error)),
        }
    }
    Ok(tables)
}

/// Runs `dropkeyspace` in `dir` (see the module documentation).
pub fn run_drop(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    clear_directory(dir)?;
    let options = config.db_options();
    let db = Db::open(dir, options.clone())?;
    let result = drop_on(config, &db, dir, KeyspaceOptions::from_options(&options));
    let closed = db.close();
    result?;
    closed?;
    clear_directory(dir)
}

fn drop_on(
    config: &BenchConfig,
    db: &Db,
    dir: &Path,
    options: KeyspaceOptions,
) -> Result<(), CliError> {
    let values = ValuePool::new(config.value_size);
    let mut keys = KeyMaker::new(config.key_size);
    for index in 0..DEFAULT_ENTRIES {
        db.put_with(
            keys.key(2 * index),
            values.value(index),
            &WriteOptions::NO_SYNC,
        )?;
    }
    db.flush()?;
    let kept = tables_in(dir)?;
    let keyspace = db.keyspace(DROPPED_NAME, options)?;
    let entries = config.drop_entries();
    fill_dropped(config, db, &keyspace, entries)?;
    let spinner = Progress::spinner(config, "flush + compaction");
    db.flush()?;
    db.wait_for_compaction()?;
    spinner.finish();
    let before = tables_in(dir)?;
    let dropped: BTreeMap<&String, u64> = before
        .iter()
        .filter(|(name, _)| !kept.contains_key(*name))
        .map(|(name, size)| (name, *size))
        .collect();
    let (outcome, elapsed) = time(|| db.drop_keyspace(DROPPED_NAME));
    outcome?;
    let still_there = |tables: &BTreeMap<String, u64>| {
        dropped
            .keys()
            .filter(|name| tables.contains_key(name.as_str()))
            .count()
    };
    let left_at_return = still_there(&tables_in(dir)?);
    let deletion = if left_at_return == 0 {
        "gone when it returned".to_string()
    } else {
        let lingered = wait_until_gone(dir, &still_there)?;
        format!(
            "{left_at_return} of them still there when it returned (another thread held them), \
             gone {:.1} ms later",
            lingered.as_secs_f64() * 1e3
        )
    };
    check_dropped(config, db, &keyspace, &kept, &dropped, &tables_in(dir)?)?;
    let dropped_bytes: u64 = dropped.values().sum();
    let user_bytes = entries * config.entry_bytes();
    let measurement = Measurement {
        name: "dropkeyspace".into(),
        operations: 1,
        bytes: user_bytes,
        elapsed,
        latency: None,
        note: format!(
            "{:.1} ms; {entries} entries ({:.1} MB of keys and values): {} tables, {:.1} MB, \
             {deletion}; MB/s = keys and values dropped per second; target < 100 ms for 1 GiB",
            elapsed.as_secs_f64() * 1e3,
            user_bytes as f64 / 1e6,
            dropped.len(),
            dropped_bytes as f64 / 1e6,
        ),
    };
    report::row(config, &measurement, None)
}

/// Waits (polling, at most `LINGER_MAX`) until `still_there` counts no table of `dir`, and
/// returns how long that took; fails if they stay.
fn wait_until_gone(
    dir: &Path,
    still_there: &dyn Fn(&BTreeMap<String, u64>) -> usize,
) -> Result<Duration, CliError> {
    let start = Instant::now();
    loop {
        let left = still_there(&tables_in(dir)?);
        if left == 0 {
            return Ok(start.elapsed());
        }
        if start.elapsed() > LINGER_MAX {
            return Err(CliError::Failed(format!(
                "dropkeyspace: {left} tables of the dropped keyspace are still in the directory \
                 {LINGER_MAX:?} after drop_keyspace returned"
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The untimed fill of `dropkeyspace`: entries `0..entries` into `keyspace` in a random order,
/// in unsynced batches of `FILL_BATCH`.
fn fill_dropped(
    config: &BenchConfig,
    db: &Db,
    keyspace: &Keyspace,
    entries: u64,
) -> Result<(), CliError> {
    let values = ValuePool::new(config.value_size);
    let mut keys = KeyMaker::new(config.key_size);
    let progress = Progress::bar(config, "fill keyspace", entries);
    let mut batch = WriteBatch::new();
    for step in 0..entries {
        let index = permuted(step, entries);
        batch.put_in(keyspace, keys.key(2 * index), values.value(index))?;
        if (step + 1) % FILL_BATCH == 0 || step + 1 == entries {
            db.write(std::mem::take(&mut batch), &WriteOptions::NO_SYNC)?;
        }
        progress.step(step + 1);
    }
    progress.finish();
    Ok(())
}

/// Checks what the drop left (once its tables are gone): none of the `dropped` tables in `after`, every `kept` one (the
/// default keyspace's) still there and its entries readable, the dropped handle failing.
fn check_dropped(
    config: &BenchConfig,
    db: &Db,
    keyspace: &Keyspace,
    kept: &BTreeMap<String, u64>,
    dropped: &BTreeMap<&String, u64>,
    after: &BTreeMap<String, u64>,
) -> Result<(), CliError> {
    if dropped.is_empty() {
        return Err(CliError::Failed(
            "dropkeyspace: the keyspace had no tables to drop".into(),
        ));
    }
    if let Some(name) = dropped
        .keys()
        .find(|name| after.contains_key(name.as_str()))
    {
        return Err(CliError::Failed(format!(
            "dropkeyspace: {name}, a table of the dropped keyspace, is still there"
        )));
    }
    if let Some(name) = kept.keys().find(|name| !after.contains_key(name.as_str())) {
        return Err(CliError::Failed(format!(
            "dropkeyspace: {name}, a table of the default keyspace, was deleted by the drop"
        )));
    }
    let mut keys = KeyMaker::new(config.key_size);
    for index in 0..DEFAULT_ENTRIES {
        let found = db.get(keys.key(2 * index))?.map(|value| value.len());
        if found != Some(config.value_size) {
            return Err(CliError::Failed(format!(
                "dropkeyspace: entry {index} of the default keyspace read as {found:?} after \
                 the drop"
            )));
        }
    }
    if keyspace.get(keys.key(0)).is_ok() {
        return Err(CliError::Failed(
            "dropkeyspace: the dropped keyspace's handle still reads".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_split_the_steps_without_gaps_or_overlaps() {
        for num in [1, 3, 4, 5, 1_000, 1_000_003] {
            let mut next = 0;
            for thread in 0..KEYSPACE_THREADS {
                let steps = thread_steps(thread, num);
                assert_eq!(steps.start, next, "num {num}, thread {thread}");
                next = steps.end;
            }
            assert_eq!(next, num);
        }
    }
}
