//! The batched-write workloads of `shale bench`: `fillbatch` (synced hand-built `WriteBatch`es
//! of 100 puts from several threads) and `batchwriter` (one producer writing single puts
//! through a `BatchWriter`, keeping a window of durable tickets outstanding, once per chosen
//! strategy). Both write `sync_num * PUTS_PER_SYNC_OPERATION` puts (at most `num`), since each
//! commit carries many. Latency is per batch for fillbatch and per acknowledged put (ticket
//! issued to ticket durable) for batchwriter.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shaledb::stats::Histogram;
use shaledb::{BatchStrategy, BatchWriter, BatchWriterOptions, Db, Ticket};

use super::config::BenchConfig;
use super::engine::{Engine, PutBatch};
use super::keys::{KeyMaker, ValuePool};
use super::measurement::{Latency, Measurement, time, timed};
use super::progress::Progress;
use crate::cli::args::StrategyChoice;
use crate::cli::error::CliError;

/// Puts per synced `WriteBatch` of fillbatch.
pub const BATCH_SIZE: u64 = 100;
/// Tickets the batch-writer producer keeps outstanding before it waits on the oldest.
const OUTSTANDING_TICKETS: usize = 4_000;
/// Puts per synced operation of `--sync-num`.
const PUTS_PER_SYNC_OPERATION: u64 = 50;

/// Puts a batched workload writes from `threads` threads: a whole number of batches per
/// thread.
pub fn operations(config: &BenchConfig, threads: u64) -> u64 {
    let puts = (config.sync_num * PUTS_PER_SYNC_OPERATION).min(config.num);
    let batches_per_thread = (puts / threads).div_ceil(BATCH_SIZE).max(1);
    batches_per_thread * BATCH_SIZE * threads
}

/// The strategies `choice` selects for batchwriter, with their names.
pub fn batch_strategies(choice: StrategyChoice) -> Vec<(&'static str, BatchStrategy)> {
    let all = [
        (
            StrategyChoice::LowLatency,
            "low_latency",
            BatchStrategy::LowLatency,
        ),
        (
            StrategyChoice::FixedSize,
            "fixed_size 1000",
            BatchStrategy::FixedSize(1000),
        ),
        (
            StrategyChoice::Adaptive,
            "adaptive",
            BatchStrategy::Adaptive {
                min_operations: 64,
                max_operations: 4096,
                target_latency: Duration::from_millis(5),
            },
        ),
        (
            StrategyChoice::TimeWindow,
            "time_window 2ms",
            BatchStrategy::TimeWindow(Duration::from_millis(2)),
        ),
    ];
    all.into_iter()
        .filter(|(strategy, _, _)| choice == StrategyChoice::All || choice == *strategy)
        .map(|(_, name, strategy)| (name, strategy))
        .collect()
}

/// `fillbatch`: synced batches of `BATCH_SIZE` puts from `threads` threads on a fresh `engine`.
pub fn fill_batch(
    config: &BenchConfig,
    engine: &dyn Engine,
    threads: u64,
) -> Result<Measurement, CliError> {
    let batches_per_thread = operations(config, threads) / threads / BATCH_SIZE;
    let values = ValuePool::new(config.value_size);
    let histogram = Histogram::default();
    let progress = Progress::bar(config, "fillbatch", batches_per_thread * threads);
    let (outcome, elapsed) = time(|| {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|thread| {
                    let (values, histogram, progress) = (&values, &histogram, &progress);
                    scope.spawn(move || -> Result<(), CliError> {
                        let mut keys = KeyMaker::new(config.key_size);
                        for number in 0..batches_per_thread {
                            let first = (thread * batches_per_thread + number) * BATCH_SIZE;
                            let mut batch = PutBatch::default();
                            for index in first..first + BATCH_SIZE {
                                batch.put(keys.key(2 * index), values.value(index));
                            }
                            timed(histogram, || engine.write(&batch, true))?;
                            progress.step(number + 1);
                        }
                        Ok(())
                    })
                })
                .collect();
            join_all(workers)
        })
    });
    progress.finish();
    outcome?;
    let operations = threads * batches_per_thread * BATCH_SIZE;
    Ok(Measurement {
        name: format!("fillbatch, {threads} threads"),
        operations,
        bytes: operations * config.entry_bytes(),
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: format!(
            "{} synced batches of {BATCH_SIZE} puts; latency per batch",
            threads * batches_per_thread
        ),
    })
}

fn join_all(
    workers: Vec<std::thread::ScopedJoinHandle<'_, Result<(), CliError>>>,
) -> Result<(), CliError> {
    for worker in workers {
        worker
            .join()
            .map_err(|_| CliError::Failed("a writer thread panicked".into()))??;
    }
    Ok(())
}

/// `batchwriter`: one producer writing single synced puts through a `BatchWriter` with
/// `strategy`, waiting on the oldest ticket once `OUTSTANDING_TICKETS` are outstanding.
pub fn batch_writer(
    config: &BenchConfig,
    db: &Arc<Db>,
    name: &str,
    strategy: BatchStrategy,
) -> Result<Measurement, CliError> {
    let writer = BatchWriter::new(
        Arc::clone(db),
        BatchWriterOptions {
            strategy,
            ..BatchWriterOptions::default()
        },
    )?;
    let operations = operations(config, 1);
    let values = ValuePool::new(config.value_size);
    let mut keys = KeyMaker::new(config.key_size);
    let histogram = Histogram::default();
    let progress = Progress::bar(config, "batchwriter", operations);
    let (outcome, elapsed) = time(|| -> Result<(), CliError> {
        let mut tickets: VecDeque<(Instant, Ticket)> = VecDeque::with_capacity(OUTSTANDING_TICKETS);
        for index in 0..operations {
            if tickets.len() == OUTSTANDING_TICKETS
                && let Some((issued, oldest)) = tickets.pop_front()
            {
                oldest.wait()?;
                histogram.record_duration(issued.elapsed());
            }
            let ticket = writer.put(keys.key(2 * index), values.value(index))?;
            tickets.push_back((Instant::now(), ticket));
            progress.step(index + 1);
        }
        // A fixed-size strategy holds its last partial batch until a flush.
        writer.flush()?;
        for (issued, ticket) in tickets {
            ticket.wait()?;
            histogram.record_duration(issued.elapsed());
        }
        Ok(())
    });
    progress.finish();
    outcome?;
    let stats = writer.stats();
    Ok(Measurement {
        name: format!("batchwriter {name}"),
        operations,
        bytes: operations * config.entry_bytes(),
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: format!(
            "{} commits, {:.0} puts per batch; {OUTSTANDING_TICKETS} tickets outstanding; \
             latency put to durable (upper bound)",
            stats.commits, stats.mean_batch_size
        ),
    })
}
