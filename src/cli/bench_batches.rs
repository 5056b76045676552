//! The batched-write workloads of `shaledb bench`: `fillbatch` (synced hand-built
//! `WriteBatch`es of 1,000 or 100 puts, from 1 or 4 threads) and `batchwriter` (one producer
//! writing single puts through a `BatchWriter`, keeping a window of durable tickets outstanding,
//! once per strategy). The 1,000-put row is the reference the batch writer is compared with:
//! the batch writer should reach at least half of its throughput.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use shaledb::{
    BatchStrategy, BatchWriter, BatchWriterOptions, Db, Options, Ticket, WriteBatch, WriteOptions,
};

use super::CliError;
use super::bench::{BenchConfig, Measurement, time};
use super::bench_workloads::{KeyMaker, ValuePool};

/// (threads, puts per batch) of the `fillbatch` rows.
pub const BATCH_THREAD_COUNTS: [(u64, u64); 3] = [(1, 1000), (1, 100), (4, 100)];
/// Tickets the batch-writer producer keeps outstanding before it waits on the oldest.
const OUTSTANDING_TICKETS: usize = 4_000;
/// Puts per synced fsync record of `--sync-records`: the batched workloads write this many
/// times more puts than the single-put ones, since each commit carries many.
const PUTS_PER_SYNC_RECORD: u64 = 50;

/// Puts each batched workload writes.
fn operations(config: &BenchConfig) -> u64 {
    (config.sync_records * PUTS_PER_SYNC_RECORD).min(config.entries)
}

/// The strategies of the `batchwriter` rows, with their names.
pub fn batch_strategies() -> [(&'static str, BatchStrategy); 4] {
    [
        ("low_latency", BatchStrategy::LowLatency),
        ("fixed_size 1000", BatchStrategy::FixedSize(1000)),
        (
            "adaptive",
            BatchStrategy::Adaptive {
                min_operations: 64,
                max_operations: 4096,
                target_latency: Duration::from_millis(5),
            },
        ),
        (
            "time_window 2ms",
            BatchStrategy::TimeWindow(Duration::from_millis(2)),
        ),
    ]
}

/// Synced batches of `batch_size` puts from `threads` threads on a fresh database.
pub fn fill_batch(
    config: &BenchConfig,
    dir: &Path,
    (threads, batch_size): (u64, u64),
) -> Result<Measurement, CliError> {
    let db_dir = dir.join(format!("{threads}-{batch_size}"));
    let db = Arc::new(Db::open(&db_dir, Options::default())?);
    let batches_per_thread = (operations(config) / threads).div_ceil(batch_size).max(1);
    let values = Arc::new(ValuePool::new(config.value_size));
    let (outcome, elapsed) = time(|| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (db, values) = (Arc::clone(&db), Arc::clone(&values));
                let key_size = config.key_size;
                std::thread::spawn(move || -> Result<(), CliError> {
                    let mut keys = KeyMaker::new(key_size);
                    for batch_number in 0..batches_per_thread {
                        let mut batch = WriteBatch::new();
                        for put in 0..batch_size {
                            let index =
                                (thread * batches_per_thread + batch_number) * batch_size + put;
                            batch.put(keys.key(index), values.value(index))?;
                        }
                        db.write(batch, &WriteOptions::SYNC)?;
                    }
                    Ok(())
                })
            })
            .collect();
        join_all(workers)
    });
    outcome?;
    let stats = db.stats();
    let operations = threads * batches_per_thread * batch_size;
    Ok(Measurement {
        name: format!("db fillbatch {batch_size}/batch, {threads} thr"),
        operations,
        bytes: operations * config.entry_bytes(),
        elapsed,
        note: format!(
            "{} synced batches; commit latency p50 {:?} p99 {:?}",
            threads * batches_per_thread,
            stats.commit_latency.p50,
            stats.commit_latency.p99
        ),
    })
}

fn join_all(workers: Vec<std::thread::JoinHandle<Result<(), CliError>>>) -> Result<(), CliError> {
    for worker in workers {
        worker
            .join()
            .map_err(|_| CliError::Failed("a writer thread panicked".into()))??;
    }
    Ok(())
}

/// One producer writing single synced puts through a `BatchWriter` with `strategy`, waiting on
/// the oldest ticket once `OUTSTANDING_TICKETS` are outstanding.
pub fn batch_writer(
    config: &BenchConfig,
    dir: &Path,
    name: &str,
    strategy: BatchStrategy,
) -> Result<Measurement, CliError> {
    let db = Arc::new(Db::open(dir, Options::default())?);
    let writer = BatchWriter::new(
        Arc::clone(&db),
        BatchWriterOptions {
            strategy,
            ..BatchWriterOptions::default()
        },
    )?;
    let operations = operations(config);
    let values = ValuePool::new(config.value_size);
    let mut keys = KeyMaker::new(config.key_size);
    let (outcome, elapsed) = time(|| -> Result<(), CliError> {
        let mut tickets: VecDeque<Ticket> = VecDeque::with_capacity(OUTSTANDING_TICKETS);
        for index in 0..operations {
            if tickets.len() == OUTSTANDING_TICKETS
                && let Some(oldest) = tickets.pop_front()
            {
                oldest.wait()?;
            }
            tickets.push_back(writer.put(keys.key(index), values.value(index))?);
        }
        // A fixed-size strategy holds its last partial batch until a flush.
        writer.flush()?;
        for ticket in tickets {
            ticket.wait()?;
        }
        Ok(())
    });
    outcome?;
    let stats = writer.stats();
    Ok(Measurement {
        name: format!("db batchwriter {name}"),
        operations,
        bytes: operations * config.entry_bytes(),
        elapsed,
        note: format!(
            "{} commits, {:.0} puts per batch; one producer, {OUTSTANDING_TICKETS} tickets \
             outstanding",
            stats.commits, stats.mean_batch_size
        ),
    })
}
