//! The engine workloads of `shale bench`, db_bench style: `fillseq` and `fillrandom` (unsynced
//! single puts in key or random order), `overwrite` (every key once more, random order),
//! `readrandom` (point reads of present keys, from several threads), `readmissing` (point reads
//! of absent keys inside the key range), `seekrandom` (a seek and a scan of 100 entries),
//! `multiget` (100 keys per call) and `fillsync` (synced single puts from several threads,
//! where group commit lets concurrent writers share one fdatasync).
//!
//! Every loop runs on any [`Engine`] (shaledb alone, or each engine of `--compare` in turn), so
//! the peers run exactly the same code; notes that need shaledb's statistics are added by the
//! caller. Every loop records each operation's latency and checks its results (a present key is
//! found with a value of the configured size, an absent one is not, a scan sees the entries
//! that follow its key) and fails the benchmark rather than report figures for wrong work.

use std::time::Duration;

use shaledb::CommitPolicy;
use shaledb::stats::Histogram;

use super::config::BenchConfig;
use super::engine::{Engine, PutBatch};
use super::keys::{KeyMaker, ValuePool};
use super::measurement::{Latency, Measurement, time, timed};
use super::progress::Progress;
use super::random::SplitMix64;
use crate::cli::args::PolicyChoice;
use crate::cli::error::CliError;

const READ_SEED: u64 = 0x5eed_0003;
const MISSING_SEED: u64 = 0x5eed_0004;
const SEEK_SEED: u64 = 0x5eed_0005;
const MULTI_GET_SEED: u64 = 0x5eed_0006;
/// A prime: `index * PERMUTATION_MULTIPLIER mod entries` visits every index once when the two
/// are coprime.
const PERMUTATION_MULTIPLIER: u64 = 2_654_435_761;
/// Entries one `seekrandom` operation reads after its seek.
pub const SEEK_SCAN_LENGTH: u64 = 100;
/// Keys of one `multiget` call.
pub const MULTI_GET_KEYS: u64 = 100;

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

/// Puts entries `0..num` (pass `pass` chooses the values and where the random order starts) in
/// key order or a random order, unsynced.
fn write_pass(
    config: &BenchConfig,
    engine: &dyn Engine,
    ordered: bool,
    pass: u64,
) -> Result<(Duration, Histogram), CliError> {
    let values = ValuePool::new(config.value_size);
    let mut keys = KeyMaker::new(config.key_size);
    let histogram = Histogram::default();
    let progress = Progress::bar(
        config,
        if pass == 0 { "fill" } else { "overwrite" },
        config.num,
    );
    let offset = pass * (config.num / 3);
    let (result, elapsed) = time(|| -> Result<(), CliError> {
        for step in 0..config.num {
            let index = if ordered {
                step
            } else {
                permuted((step + offset) % config.num, config.num)
            };
            let value = values.value(index + pass * config.num);
            timed(&histogram, || engine.put(keys.key(2 * index), value))?;
            progress.step(step + 1);
        }
        Ok(())
    });
    progress.finish();
    result?;
    Ok((elapsed, histogram))
}

/// `fillseq` (`ordered`) or `fillrandom` on `engine`.
pub fn fill(
    config: &BenchConfig,
    engine: &dyn Engine,
    ordered: bool,
) -> Result<Measurement, CliError> {
    let (elapsed, histogram) = write_pass(config, engine, ordered, 0)?;
    Ok(Measurement {
        name: if ordered { "fillseq" } else { "fillrandom" }.into(),
        operations: config.num,
        bytes: config.num * config.entry_bytes(),
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: "no sync".into(),
    })
}

/// `overwrite`: entries `0..num` again with other values, in random order.
pub fn overwrite(config: &BenchConfig, engine: &dyn Engine) -> Result<Measurement, CliError> {
    let (elapsed, histogram) = write_pass(config, engine, false, 1)?;
    Ok(Measurement {
        name: "overwrite".into(),
        operations: config.num,
        bytes: config.num * config.entry_bytes(),
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: "no sync".into(),
    })
}

/// Runs `work(thread, histogram, progress)` on `threads` scoped threads and returns the sum of
/// what they return and the time until the last one finished.
pub(super) fn on_threads(
    threads: u64,
    histogram: &Histogram,
    progress: &Progress,
    work: impl Fn(u64, &Histogram, &Progress) -> Result<u64, CliError> + Sync,
) -> Result<(u64, Duration), CliError> {
    let (outcome, elapsed) = time(|| {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|thread| {
                    let work = &work;
                    scope.spawn(move || work(thread, histogram, progress))
                })
                .collect();
            let mut total = 0;
            for worker in workers {
                total += worker
                    .join()
                    .map_err(|_| CliError::Failed("a benchmark thread panicked".into()))??;
            }
            Ok::<u64, CliError>(total)
        })
    });
    Ok((outcome?, elapsed))
}

/// `readrandom`: `num` reads of random present keys, split over `threads` threads.
pub fn read_random(
    config: &BenchConfig,
    engine: &dyn Engine,
    live_keys: u64,
    threads: u64,
) -> Result<Measurement, CliError> {
    let per_thread = config.num.div_ceil(threads);
    let histogram = Histogram::default();
    let progress = Progress::bar(config, "readrandom", per_thread * threads);
    let (found, elapsed) = on_threads(
        threads,
        &histogram,
        &progress,
        |thread, histogram, progress| {
            let mut random = SplitMix64::new(READ_SEED + thread);
            let mut keys = KeyMaker::new(config.key_size);
            let mut found = 0;
            for read in 0..per_thread {
                let key = keys.key(2 * random.below(live_keys));
                let length = timed(histogram, || engine.get(key))?;
                if length == Some(config.value_size) {
                    found += 1;
                }
                progress.step(read + 1);
            }
            Ok(found)
        },
    )?;
    progress.finish();
    let operations = per_thread * threads;
    if found != operations {
        return Err(CliError::Failed(format!(
            "readrandom found {found} of {operations} present keys with their {}-byte values",
            config.value_size
        )));
    }
    Ok(Measurement {
        name: format!("readrandom, {threads} threads"),
        operations,
        bytes: operations * config.entry_bytes(),
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: format!("{found} found"),
    })
}

/// `readmissing`: `num` reads of absent keys between present ones.
pub fn read_missing(
    config: &BenchConfig,
    engine: &dyn Engine,
    live_keys: u64,
) -> Result<Measurement, CliError> {
    let mut random = SplitMix64::new(MISSING_SEED);
    let mut keys = KeyMaker::new(config.key_size);
    let histogram = Histogram::default();
    let progress = Progress::bar(config, "readmissing", config.num);
    let (found, elapsed) = time(|| -> Result<u64, CliError> {
        let mut found = 0;
        for read in 0..config.num {
            let key = keys.key(2 * random.below(live_keys) + 1);
            if timed(&histogram, || engine.get(key))?.is_some() {
                found += 1;
            }
            progress.step(read + 1);
        }
        Ok(found)
    });
    progress.finish();
    let found = found?;
    if found != 0 {
        return Err(CliError::Failed(format!(
            "readmissing found {found} keys that were never written"
        )));
    }
    Ok(Measurement {
        name: "readmissing".into(),
        operations: config.num,
        bytes: config.num * config.key_size as u64,
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: "0 found; MB/s counts key bytes".into(),
    })
}

/// `seekrandom`: `num / 10` seeks to a random present key, each reading the next
/// `SEEK_SCAN_LENGTH` entries.
pub fn seek_random(
    config: &BenchConfig,
    engine: &dyn Engine,
    live_keys: u64,
) -> Result<Measurement, CliError> {
    let seeks = (config.num / 10).max(1);
    let expected = |start: u64| SEEK_SCAN_LENGTH.min(live_keys - start);
    seek_loop(config, engine, "seekrandom", seeks, live_keys, expected)
}

/// `seeks` seeks, each to the key of a random entry of `0..key_space` and reading the next
/// `SEEK_SCAN_LENGTH` entries, of which there must be `expected(entry)`; the row is `name`.
pub fn seek_loop(
    config: &BenchConfig,
    engine: &dyn Engine,
    name: &str,
    seeks: u64,
    key_space: u64,
    expected: impl Fn(u64) -> u64,
) -> Result<Measurement, CliError> {
    let mut random = SplitMix64::new(SEEK_SEED);
    let mut keys = KeyMaker::new(config.key_size);
    let histogram = Histogram::default();
    let progress = Progress::bar(config, name, seeks);
    let (read, elapsed) = time(|| -> Result<(u64, u64), CliError> {
        let (mut entries, mut bytes) = (0, 0);
        for seek in 0..seeks {
            let start = random.below(key_space);
            let key = keys.key(2 * start);
            let (seen, seen_bytes) =
                timed(&histogram, || engine.scan(key, SEEK_SCAN_LENGTH as usize))?;
            let expected = expected(start);
            if seen != expected {
                return Err(CliError::Failed(format!(
                    "{name} read {seen} entries from entry {start}, expected {expected}"
                )));
            }
            entries += seen;
            bytes += seen_bytes;
            progress.step(seek + 1);
        }
        Ok((entries, bytes))
    });
    progress.finish();
    let (entries, bytes) = read?;
    Ok(Measurement {
        name: name.into(),
        operations: seeks,
        bytes,
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: format!("seek + next {SEEK_SCAN_LENGTH}; {entries} entries read"),
    })
}

/// `multiget`: `num / 100` calls of `multi_get` with `MULTI_GET_KEYS` random present keys.
pub fn multi_get(
    config: &BenchConfig,
    engine: &dyn Engine,
    live_keys: u64,
) -> Result<Measurement, CliError> {
    let calls = (config.num / MULTI_GET_KEYS).max(1);
    let mut random = SplitMix64::new(MULTI_GET_SEED);
    let mut keys = KeyMaker::new(config.key_size);
    let histogram = Histogram::default();
    let progress = Progress::bar(config, "multiget", calls);
    let (found, elapsed) = time(|| -> Result<u64, CliError> {
        let mut found = 0;
        for call in 0..calls {
            let batch: Vec<Vec<u8>> = (0..MULTI_GET_KEYS)
                .map(|_| keys.key(2 * random.below(live_keys)).to_vec())
                .collect();
            found += timed(&histogram, || engine.multi_get(&batch))?;
            progress.step(call + 1);
        }
        Ok(found)
    });
    progress.finish();
    let found = found?;
    if found != calls * MULTI_GET_KEYS {
        return Err(CliError::Failed(format!(
            "multiget found {found} of {} present keys",
            calls * MULTI_GET_KEYS
        )));
    }
    Ok(Measurement {
        name: "multiget".into(),
        operations: calls,
        bytes: found * config.entry_bytes(),
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: format!("{MULTI_GET_KEYS} keys per call, all found; ops = calls"),
    })
}

/// The commit policies `choice` selects for fillsync, with their names in the table.
pub fn commit_policies(choice: PolicyChoice) -> Vec<(&'static str, CommitPolicy)> {
    let all = [
        (PolicyChoice::Adaptive, "adaptive", CommitPolicy::default()),
        (
            PolicyChoice::Immediate,
            "immediate",
            CommitPolicy::Immediate,
        ),
        (
            PolicyChoice::Window,
            "window 1ms",
            CommitPolicy::Window {
                max_wait: Duration::from_millis(1),
                max_batches: 1024,
                max_bytes: 1 << 20,
            },
        ),
    ];
    all.into_iter()
        .filter(|(policy, _, _)| choice == PolicyChoice::All || choice == *policy)
        .map(|(_, name, policy)| (name, policy))
        .collect()
}

/// `fillsync`: synced single puts from `threads` threads on `engine` (fresh, opened by the
/// caller; `label` names its commit policy, if it has one), `sync_num` in all.
pub fn fill_sync(
    config: &BenchConfig,
    engine: &dyn Engine,
    threads: u64,
    label: &str,
) -> Result<Measurement, CliError> {
    let per_thread = config.sync_num.div_ceil(threads);
    let values = ValuePool::new(config.value_size);
    let histogram = Histogram::default();
    let progress = Progress::bar(config, "fillsync", per_thread * threads);
    let (_, elapsed) = on_threads(
        threads,
        &histogram,
        &progress,
        |thread, histogram, progress| {
            let mut keys = KeyMaker::new(config.key_size);
            for put in 0..per_thread {
                let index = thread * per_thread + put;
                let mut batch = PutBatch::default();
                batch.put(keys.key(2 * index), values.value(index));
                timed(histogram, || engine.write(&batch, true))?;
                progress.step(put + 1);
            }
            Ok(per_thread)
        },
    )?;
    progress.finish();
    let operations = threads * per_thread;
    Ok(Measurement {
        name: if label.is_empty() {
            format!("fillsync, {threads} threads")
        } else {
            format!("fillsync {label}, {threads} threads")
        },
        operations,
        bytes: operations * config.entry_bytes(),
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: "synced single puts".into(),
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

    #[test]
    fn policy_choice_selects_one_or_all() {
        assert_eq!(commit_policies(PolicyChoice::All).len(), 3);
        let immediate = commit_policies(PolicyChoice::Immediate);
        assert_eq!(immediate.len(), 1);
        assert_eq!(immediate[0].0, "immediate");
    }
}
