//! One node of the loopback cluster (`shale raft node`): an openraft `Raft` on the shaledb store
//! (or on the in-memory store, for the benchmark's upper bound), listening for its peers' RPCs
//! and its clients' requests on one TCP address, each connection served by a task of its own.
//!
//! The node prints `listening ADDR` on standard output once it accepts connections (so that a
//! parent that asked for port 0 learns the port), and runs until a `Shutdown` message or until
//! it is killed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use shaledb::raft::{Request, Response, StateReader, TypeConfig};
use shaledb::{Db, Options};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::mem_store::{MemLog, MemStateMachine};
use super::network::Network;
use super::wire::{Connection, Message, NodeId, Reply, Status};
use crate::cli::CliError;

/// Which storage a node runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Store {
    /// shaledb (`shaledb::raft`), in `--db`.
    Shaledb,
    /// Memory only: the benchmark's upper bound; nothing survives a restart.
    Memory,
}

/// How a node is started.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// The node's id (any number but 0 is fine; unique in the cluster).
    #[arg(long)]
    pub id: NodeId,
    /// The address to listen on; port 0 picks a free one (printed as `listening ADDR`).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The database directory (created if missing); ignored by `--store memory`.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// The storage.
    #[arg(long, value_enum, default_value_t = Store::Shaledb)]
    pub store: Store,
    /// Take a snapshot (and then purge the log behind it) every this many applied entries.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_logs: u64,
    /// Entries kept in the log behind a snapshot (followers that lag further catch up by
    /// snapshot).
    #[arg(long, default_value_t = 1_000)]
    pub keep_logs: u64,
}

enum Reader {
    Shaledb(StateReader),
    Memory(MemStateMachine),
}

/// A client's write waiting for the proposer, with where its answer goes.
type Proposal = (Request, oneshot::Sender<Reply>);

/// Batches in flight at once: while one is being made durable, replicated and applied, the
/// writes that arrive meanwhile gather into the next. One was fastest: two rounds of `shale
/// raft bench --clients 64` gave 14.7k and 15.6k writes/s with one, 14.5k and 12.3k with two,
/// 13.5k and 13.6k with three (the more batches in flight, the smaller each, and openraft
/// appends them one at a time).
const BATCHES_IN_FLIGHT: usize = 1;

/// The most client writes proposed in one entry.
const MAX_BATCH: usize = 1024;

struct Node {
    id: NodeId,
    raft: Raft<TypeConfig>,
    proposals: mpsc::UnboundedSender<Proposal>,
    reader: Reader,
    db: Option<Arc<Db>>,
    snapshots_installed: AtomicU64,
    shutdown: tokio::sync::Notify,
}

/// Runs a node until it is told to shut down.
pub fn run(args: &NodeArgs) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| CliError::Failed(format!("cannot start the async runtime: {error}")))?;
    runtime.block_on(serve(args))
}

fn failed(what: &str) -> impl Fn(&dyn std::fmt::Display) -> CliError + '_ {
    move |error| CliError::Failed(format!("{what}: {error}"))
}

async fn serve(args: &NodeArgs) -> Result<(), CliError> {
    let config = Config {
        cluster_name: "shale".to_string(),
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(args.snapshot_logs),
        max_in_snapshot_log_to_keep: args.keep_logs,
        ..Config::default()
    }
    .validate()
    .map_err(|error| CliError::Usage(format!("raft configuration: {error}")))?;
    let config = Arc::new(config);
    let network = Network { id: args.id };
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|error| failed(&format!("cannot listen on {}", args.listen))(&error))?;
    let (raft, reader, db) = match args.store {
        Store::Shaledb => {
            let dir = args.db.as_ref().ok_or_else(|| {
                CliError::Usage("--db DIR is needed with the shaledb store".to_string())
            })?;
            let db = Arc::new(
                Db::open(dir, Options::default())
                    .map_err(|error| failed(&format!("cannot open {}", dir.display()))(&error))?,
            );
            let (log_store, state_machine) = shaledb::raft::open(&db, "raft")
                .map_err(|error| failed("cannot open the raft storage")(&error))?;
            let reader = state_machine.reader();
            let raft = Raft::new(args.id, config, network, log_store, state_machine)
                .await
                .map_err(|error| failed("cannot start raft")(&error))?;
            (raft, Reader::Shaledb(reader), Some(db))
        }
        Store::Memory => {
            let state_machine = MemStateMachine::default();
            let reader = state_machine.clone();
            let raft = Raft::new(args.id, config, network, MemLog::default(), state_machine)
                .await
                .map_err(|error| failed("cannot start raft")(&error))?;
            (raft, Reader::Memory(reader), None)
        }
    };
    let addr = listener
        .local_addr()
        .map_err(|error| failed("cannot read the listening address")(&error))?;
    println!("listening {addr}");
    std::io::stdout()
        .flush()
        .map_err(|error| failed("cannot write to standard output")(&error))?;
    let (proposals, queue) = mpsc::unbounded_channel();
    tokio::spawn(propose(raft.clone(), queue));
    let node = Arc::new(Node {
        id: args.id,
        raft,
        proposals,
        reader,
        db,
        snapshots_installed: AtomicU64::new(0),
        shutdown: tokio::sync::Notify::new(),
    });
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let node = Arc::clone(&node);
                    tokio::spawn(async move { node.serve_connection(Connection::new(stream)).await });
                }
                Err(error) => eprintln!("node {}: accept failed: {error}", node.id),
            },
            () = node.shutdown.notified() => break,
        }
    }
    node.raft
        .shutdown()
        .await
        .map_err(|error| failed("raft did not stop cleanly")(&error))?;
    if let Some(db) = &node.db {
        // The state machine and log store hold clones of the database; they were dropped
        // with raft's tasks, so this is the last handle but the node's own.
        db.sync_wal()
            .map_err(|error| failed("cannot sync the database")(&error))?;
    }
    Ok(())
}

impl Node {
    async fn serve_connection(self: Arc<Self>, mut connection: Connection) {
        loop {
            let message = match connection.receive::<Message>().await {
                Ok(Some(message)) => message,
                Ok(None) => return,
                Err(error) => {
                    eprintln!("node {}: dropping a connection: {error}", self.id);
                    return;
                }
            };
            let shutdown = matches!(message, Message::Shutdown);
            let reply = self.answer(message).await;
            if connection.send(&reply).await.is_err() {
                return;
            }
            if shutdown {
                self.shutdown.notify_one();
                return;
            }
        }
    }

    async fn answer(&self, message: Message) -> Reply {
        match message {
            Message::AppendEntries(rpc) => {
                Reply::AppendEntries(self.raft.append_entries(rpc).await)
            }
            Message::Vote(rpc) => Reply::Vote(self.raft.vote(rpc).await),
            Message::InstallSnapshot(rpc) => {
                let done = rpc.done;
                let result = self.raft.install_snapshot(rpc).await;
                if done && result.is_ok() {
                    self.snapshots_installed.fetch_add(1, Ordering::Relaxed);
                }
                Reply::InstallSnapshot(result)
            }
            // A client's own batch is proposed alone: inside the proposer's batch it would be
            // a batch in a batch, rejected with every other client's write beside it.
            Message::Write(request @ Request::Batch(_)) => {
                let (answer, reply) = oneshot::channel();
                commit(&self.raft, vec![(request, answer)]).await;
                reply.await.unwrap_or_else(|_| {
                    Reply::Failed(format!("node {} dropped the write", self.id))
                })
            }
            Message::Write(request) => {
                let (answer, reply) = oneshot::channel();
                if self.proposals.send((request, answer)).is_err() {
                    return Reply::Failed(format!("node {} is shutting down", self.id));
                }
                reply.await.unwrap_or_else(|_| {
                    Reply::Failed(format!("node {} dropped the write", self.id))
                })
            }
            Message::Get { key, linearizable } => {
                if let Some(reply) = self.confirm_leader(linearizable).await {
                    return reply;
                }
                match &self.reader {
                    Reader::Shaledb(reader) => match reader.get(&key) {
                        Ok(value) => Reply::Value(value.map(|value| value.to_vec())),
                        Err(error) => Reply::Failed(error.to_string()),
                    },
                    Reader::Memory(state) => Reply::Value(state.get(&key)),
                }
            }
            Message::Scan {
                start,
                end,
                limit,
                linearizable,
            } => {
                if let Some(reply) = self.confirm_leader(linearizable).await {
                    return reply;
                }
                match &self.reader {
                    Reader::Shaledb(reader) => scan_shaledb(reader, start, end, limit),
                    Reader::Memory(state) => {
                        Reply::Entries(state.scan(&start, end.as_deref(), limit))
                    }
                }
            }
            Message::Initialize(members) => {
                let nodes: BTreeMap<NodeId, BasicNode> = members
                    .into_iter()
                    .map(|(id, addr)| (id, BasicNode { addr }))
                    .collect();
                match self.raft.initialize(nodes).await {
                    Ok(()) => Reply::Done,
                    Err(error) => Reply::Failed(error.to_string()),
                }
            }
            Message::AddLearner { id, addr } => {
                match self.raft.add_learner(id, BasicNode { addr }, true).await {
                    Ok(_) => Reply::Done,
                    Err(error) => not_leader_or_failed(&error),
                }
            }
            Message::ChangeMembership(members) => {
                let members: BTreeSet<NodeId> = members;
                match self.raft.change_membership(members, false).await {
                    Ok(_) => Reply::Done,
                    Err(error) => not_leader_or_failed(&error),
                }
            }
            Message::Status => Reply::Status(self.status()),
            Message::Snapshot => match self.raft.trigger().snapshot().await {
                Ok(()) => Reply::Done,
                Err(error) => Reply::Failed(error.to_string()),
            },
            Message::Shutdown => Reply::Done,
        }
    }

    /// For a linearizable read: `None` once a quorum confirmed this node leads and it has
    /// applied everything committed before the read; otherwise the reply to send instead.
    async fn confirm_leader(&self, linearizable: bool) -> Option<Reply> {
        if !linearizable {
            return None;
        }
        match self.raft.ensure_linearizable().await {
            Ok(_) => None,
            Err(error) => match error.forward_to_leader() {
                Some(forward) => {
                    Some(Reply::NotLeader(forward.leader_id.zip(
                        forward.leader_node.as_ref().map(|node| node.addr.clone()),
                    )))
                }
                None => Some(Reply::Failed(error.to_string())),
            },
        }
    }

    fn status(&self) -> Status {
        let metrics = self.raft.metrics().borrow().clone();
        let fsyncs = self
            .db
            .as_ref()
            .map_or(0, |db| db.stats().fsync_latency.count);
        Status {
            id: self.id,
            state: format!("{:?}", metrics.state),
            leader: metrics.current_leader,
            term: metrics.current_term,
            last_log_index: metrics.last_log_index,
            last_applied: metrics.last_applied.map(|log_id| log_id.index),
            purged: metrics.purged.map(|log_id| log_id.index),
            snapshot: metrics.snapshot.map(|log_id| log_id.index),
            voters: metrics.membership_config.membership().voter_ids().collect(),
            fsyncs,
            snapshots_installed: self.snapshots_installed.load(Ordering::Relaxed),
        }
    }
}

fn scan_shaledb(reader: &StateReader, start: Vec<u8>, end: Option<Vec<u8>>, limit: u64) -> Reply {
    let range = match end {
        Some(end) => (
            std::ops::Bound::Included(start),
            std::ops::Bound::Excluded(end),
        ),
        None => (std::ops::Bound::Included(start), std::ops::Bound::Unbounded),
    };
    let mut entries = Vec::new();
    for item in reader.range(range) {
        if entries.len() as u64 >= limit {
            break;
        }
        match item {
            Ok((key, value)) => entries.push((key, value.to_vec())),
            Err(error) => return Reply::Failed(error.to_string()),
        }
    }
    Reply::Entries(entries)
}

/// The answer to a write that raft refused: where the leader is, or why it failed.
fn not_leader_or_failed(error: &RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> Reply {
    match error.forward_to_leader() {
        Some(forward) => Reply::NotLeader(
            forward
                .leader_id
                .zip(forward.leader_node.as_ref().map(|node| node.addr.clone())),
        ),
        None => Reply::Failed(error.to_string()),
    }
}

/// The proposer: gathers the client writes that wait and proposes them as one entry (a
/// `Request::Batch` when there are several), at most [`BATCHES_IN_FLIGHT`] at a time.
///
/// Why: openraft 0.9's core waits for each log append to be durable before it takes the next
/// request, so a leader that proposed each write alone would make one fsync per write, whatever
/// the storage can share. The writes that arrive while an entry is being made durable go into
/// the next one instead, which shares its append and fsync on every node.
async fn propose(raft: Raft<TypeConfig>, mut queue: mpsc::UnboundedReceiver<Proposal>) {
    let permits = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let Some(first) = queue.recv().await else {
            return;
        };
        let mut proposals = vec![first];
        while proposals.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(proposal) => proposals.push(proposal),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let _permit = permit;
            commit(&raft, proposals).await;
        });
    }
}

/// Proposes the writes as one entry and answers each.
async fn commit(raft: &Raft<TypeConfig>, mut proposals: Vec<Proposal>) {
    if proposals.len() == 1 {
        let Some((request, answer)) = proposals.pop() else {
            return;
        };
        let reply = match raft.client_write(request).await {
            Ok(written) => Reply::Written {
                response: written.data,
                index: written.log_id.index,
            },
            Err(error) => not_leader_or_failed(&error),
        };
        let _ = answer.send(reply);
        return;
    }
    let (requests, answers): (Vec<Request>, Vec<oneshot::Sender<Reply>>) =
        proposals.into_iter().unzip();
    match raft.client_write(Request::Batch(requests)).await {
        Ok(written) => match written.data {
            Response::Batch(responses) if responses.len() == answers.len() => {
                for (response, answer) in responses.into_iter().zip(answers) {
                    let _ = answer.send(Reply::Written {
                        response,
                        index: written.log_id.index,
                    });
                }
            }
            other => {
                for answer in answers {
                    let _ = answer.send(Reply::Failed(format!(
                        "a batch of writes was answered with {other:?}"
                    )));
                }
            }
        },
        Err(error) => {
            for answer in answers {
                let _ = answer.send(not_leader_or_failed(&error));
            }
        }
    }
}
