//! `shale raft bench`: replicated writes per second through a three-node loopback cluster, from
//! 1, 16 and 64 concurrent clients (by default), on the shaledb store and, in the same run, on
//! the in-memory store (the upper bound: the same nodes, network and clients with nothing on
//! disk). Each client is a task with its own connection that sends one write at a time and
//! waits for its commit. Beside ops/s and latency: the leader's write-ahead-log fsyncs per
//! second, log entries and client writes per leader fsync (a node proposes the writes that
//! wait as one entry), and the followers' fsyncs per second (each).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use shaledb::raft::{Request, Response};

use super::client::Client;
use super::cluster::Cluster;
use super::node::Store;
use super::setup::{WorkDirectory, block_on, this_program};
use super::wire::{NodeId, Status};
use crate::cli::CliError;

/// The options of `shale raft bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Concurrent clients, one row per count.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub clients: Vec<usize>,
    /// Writes per row (split over the clients).
    #[arg(long, default_value_t = 20_000)]
    pub writes: u64,
    /// Bytes per value (keys are about 20 bytes).
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// The stores to run, in the order of the first row (the order alternates per row).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "shaledb,memory"
    )]
    pub stores: Vec<Store>,
    /// Keep the nodes' databases in this directory (default: a temporary one, removed).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// One row.
struct Row {
    ops_per_second: f64,
    p50: Duration,
    p99: Duration,
    leader_fsyncs_per_second: f64,
    entries_per_fsync: f64,
    writes_per_fsync: f64,
    follower_fsyncs_per_second: f64,
    failed: u64,
}

/// Runs the benchmark.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    if args.clients.contains(&0) || args.clients.is_empty() {
        return Err(CliError::Usage(
            "--clients needs counts of at least 1".to_string(),
        ));
    }
    if args.stores.is_empty() {
        return Err(CliError::Usage(
            "--stores needs at least one store".to_string(),
        ));
    }
    block_on(bench(args))
}

fn store_name(store: Store) -> &'static str {
    match store {
        Store::Shaledb => "shaledb",
        Store::Memory => "memory",
    }
}

async fn bench(args: &BenchArgs) -> Result<(), CliError> {
    let work = WorkDirectory::create(args.dir.as_deref(), "raft-bench")?;
    let program = this_program()?;
    let mut clusters = Vec::new();
    for &store in &args.stores {
        let root = work.path().join(store_name(store));
        // Snapshots every 100,000 entries: the benchmark measures the write path, not them.
        let cluster = Cluster::start(
            &program,
            &root,
            3,
            store_name(store),
            &["--snapshot-logs", "100000"],
        )
        .map_err(CliError::Failed)?;
        cluster
            .initialize()
            .await
            .map_err(|error| CliError::Failed(format!("{}: {error}", store_name(store))))?;
        clusters.push((store, cluster));
    }
    say!(
        "3 nodes per store on 127.0.0.1; {} writes per row, values of {} bytes, each client one write at a time",
        args.writes,
        args.value_size
    );
    say!(
        "{:<9} {:>7} {:>9} {:>10} {:>8} {:>8} {:>15} {:>13} {:>12} {:>17} {:>6}",
        "store",
        "clients",
        "writes",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "leader fsync/s",
        "entries/fsync",
        "writes/fsync",
        "follower fsync/s",
        "failed"
    );
    let mut outcome = Ok(());
    for (row_number, &clients) in args.clients.iter().enumerate() {
        let mut order: Vec<usize> = (0..clusters.len()).collect();
        if row_number % 2 == 1 {
            order.reverse();
        }
        let mut figures = Vec::new();
        for index in order {
            let (store, cluster) = &clusters[index];
            let row = match measure(cluster, clients, args, row_number).await {
                Ok(row) => row,
                Err(error) => {
                    outcome = Err(error);
                    break;
                }
            };
            say!(
                "{:<9} {:>7} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>15.0} {:>13.1} {:>12.1} {:>17.0} {:>6}",
                store_name(*store),
                clients,
                args.writes,
                row.ops_per_second,
                row.p50.as_secs_f64() * 1e3,
                row.p99.as_secs_f64() * 1e3,
                row.leader_fsyncs_per_second,
                row.entries_per_fsync,
                row.writes_per_fsync,
                row.follower_fsyncs_per_second,
                row.failed
            );
            figures.push((*store, row.ops_per_second));
        }
        if outcome.is_err() {
            break;
        }
        let shale = figures.iter().find(|(store, _)| *store == Store::Shaledb);
        let memory = figures.iter().find(|(store, _)| *store == Store::Memory);
        if let (Some((_, shale)), Some((_, memory))) = (shale, memory) {
            let target = if clients >= 64 {
                "target 0.50x"
            } else {
                "no target"
            };
            say!(
                "{:<9} {:>7} shaledb / memory: {:.2}x ({target})",
                "ratio",
                clients,
                shale / memory
            );
        }
    }
    for (_, cluster) in &mut clusters {
        cluster.stop().await;
    }
    outcome
}

async fn statuses(client: &mut Client, ids: &[NodeId]) -> Result<Vec<Status>, CliError> {
    let mut statuses = Vec::new();
    for &id in ids {
        statuses.push(
            client
                .status(id)
                .await
                .map_err(|error| CliError::Failed(error.to_string()))?,
        );
    }
    Ok(statuses)
}

async fn measure(
    cluster: &Cluster,
    clients: usize,
    args: &BenchArgs,
    row_number: usize,
) -> Result<Row, CliError> {
    let ids: Vec<NodeId> = cluster.addresses().into_keys().collect();
    let mut probe = cluster.client();
    let leader = probe
        .wait_for_leader(Duration::from_secs(10))
        .await
        .map_err(|error| CliError::Failed(error.to_string()))?;
    let before = statuses(&mut probe, &ids).await?;
    let per_client = args.writes.div_ceil(clients as u64);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client_number in 0..clients {
        // Each client its own session: a write retried after a lost answer applies once.
        let session = ((row_number as u64) << 32) | (client_number as u64 + 1);
        let mut client = cluster.client().with_session(session);
        let value = vec![b'v'; args.value_size];
        let count = per_client.min(
            args.writes
                .saturating_sub(per_client * client_number as u64),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count as usize);
            let mut failed = 0u64;
            for i in 0..count {
                let key = format!("r{row_number}-c{client_number}-{i:08}").into_bytes();
                let begun = Instant::now();
                match client
                    .write(Request::Put {
                        key,
                        value: value.clone(),
                    })
                    .await
                {
                    Ok(written) if written.response == Response::Applied => {
                        latencies.push(begun.elapsed());
                    }
                    _ => failed += 1,
                }
            }
            (latencies, failed)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (mut some, failures) = task
            .await
            .map_err(|error| CliError::Failed(format!("a client task failed: {error}")))?;
        latencies.append(&mut some);
        failed += failures;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = statuses(&mut probe, &ids).await?;
    latencies.sort_unstable();
    let percentile = |fraction: f64| {
        latencies
            .get(
                ((latencies.len() as f64 * fraction) as usize)
                    .min(latencies.len().saturating_sub(1)),
            )
            .copied()
            .unwrap_or_default()
    };
    let mut leader_fsyncs = 0u64;
    let mut leader_entries = 0u64;
    let mut follower_fsyncs = 0u64;
    for (before, after) in before.iter().zip(&after) {
        let fsyncs = after.fsyncs.saturating_sub(before.fsyncs);
        if before.id == leader {
            leader_fsyncs = fsyncs;
            leader_entries = after
                .last_log_index
                .unwrap_or(0)
                .saturating_sub(before.last_log_index.unwrap_or(0));
        } else {
            follower_fsyncs += fsyncs;
        }
    }
    let followers = (ids.len() - 1).max(1) as f64;
    Ok(Row {
        ops_per_second: latencies.len() as f64 / elapsed,
        p50: percentile(0.5),
        p99: percentile(0.99),
        leader_fsyncs_per_second: leader_fsyncs as f64 / elapsed,
        writes_per_fsync: if leader_fsyncs == 0 {
            0.0
        } else {
            latencies.len() as f64 / leader_fsyncs as f64
        },
        entries_per_fsync: if leader_fsyncs == 0 {
            0.0
        } else {
            leader_entries as f64 / leader_fsyncs as f64
        },
        follower_fsyncs_per_second: follower_fsyncs as f64 / followers / elapsed,
        failed,
    })
}
