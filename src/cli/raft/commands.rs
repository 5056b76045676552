//! The `shale raft` commands: `node` (one node), `demo` (a three-node cluster on loopback,
//! started, used and stopped), `init`, `put`, `get`, `delete`, `scan` and `status` against a
//! running cluster, and `bench` (replicated writes through three nodes, on shaledb and on the
//! in-memory store).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use shaledb::raft::Request;

use super::bench::{self, BenchArgs};
use super::client::{Client, ClientError};
use super::cluster::Cluster;
use super::node::{self, NodeArgs};
use super::setup::{WorkDirectory, block_on, this_program};
use super::wire::{Message, NodeId, Reply};
use crate::cli::CliError;
use crate::cli::escape::{escape_bytes, unescape};

/// `shale raft ...`
#[derive(Debug, clap::Subcommand)]
pub enum RaftCommand {
    /// Run one node of a cluster (prints `listening ADDR`, then serves until shut down).
    Node(NodeArgs),
    /// Start three nodes on 127.0.0.1, make them a cluster, write, read and stop them.
    Demo {
        /// Keep the nodes' databases in this directory (default: a temporary one, removed).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Make running nodes a cluster: the first initialises, the others join as learners and
    /// then all become voters.
    Init {
        #[command(flatten)]
        cluster: ClusterChoice,
    },
    /// Set KEY to VALUE (committed on a majority before it returns).
    Put {
        #[command(flatten)]
        cluster: ClusterChoice,
        /// The key; `\xNN` and `\\` escapes are decoded.
        key: String,
        /// The value; `\xNN` and `\\` escapes are decoded.
        value: String,
    },
    /// Print the value of KEY, read through the leader (exit status 1 if it is absent).
    Get {
        #[command(flatten)]
        cluster: ClusterChoice,
        /// The key; `\xNN` and `\\` escapes are decoded.
        key: String,
    },
    /// Delete KEY.
    Delete {
        #[command(flatten)]
        cluster: ClusterChoice,
        /// The key; `\xNN` and `\\` escapes are decoded.
        key: String,
    },
    /// Print keys and values in key order, `KEY<TAB>VALUE` escaped, read through the leader.
    Scan {
        #[command(flatten)]
        cluster: ClusterChoice,
        /// Start at this key (inclusive).
        #[arg(long, value_name = "KEY", default_value = "")]
        from: String,
        /// Stop before this key (exclusive).
        #[arg(long, value_name = "KEY")]
        to: Option<String>,
        /// Print at most this many entries.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        limit: u64,
    },
    /// Print each node's role, term, log and applied indexes, and fsyncs.
    Status {
        #[command(flatten)]
        cluster: ClusterChoice,
    },
    /// Replicated writes per second from concurrent clients through a three-node loopback
    /// cluster, on shaledb and on an in-memory store (the upper bound), in the same run.
    Bench(BenchArgs),
}

/// The nodes of a running cluster.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterChoice {
    /// The nodes, as `ID=ADDR,ID=ADDR,...` (for example `1=127.0.0.1:7001,2=127.0.0.1:7002`).
    #[arg(long, value_name = "ID=ADDR,...", value_parser = parse_cluster)]
    pub cluster: BTreeMap<NodeId, String>,
}

fn parse_cluster(text: &str) -> Result<BTreeMap<NodeId, String>, String> {
    let mut nodes = BTreeMap::new();
    for item in text.split(',').filter(|item| !item.is_empty()) {
        let (id, addr) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not ID=ADDR"))?;
        let id: NodeId = id
            .parse()
            .map_err(|error| format!("node id {id:?}: {error}"))?;
        if nodes.insert(id, addr.to_string()).is_some() {
            return Err(format!("node {id} is listed twice"));
        }
    }
    if nodes.is_empty() {
        return Err("no nodes listed".to_string());
    }
    Ok(nodes)
}

/// Runs a `shale raft` command.
pub fn run(command: RaftCommand) -> Result<(), CliError> {
    match command {
        RaftCommand::Node(args) => node::run(&args),
        RaftCommand::Bench(args) => bench::run(&args),
        other => block_on(client_command(other)),
    }
}

fn client_failed(error: ClientError) -> CliError {
    CliError::Failed(error.to_string())
}

fn key_argument(text: &str) -> Result<Vec<u8>, CliError> {
    unescape(text).map_err(|error| CliError::Usage(format!("{text:?}: {error}")))
}

async fn client_command(command: RaftCommand) -> Result<(), CliError> {
    match command {
        RaftCommand::Node(_) | RaftCommand::Bench(_) => Ok(()),
        RaftCommand::Demo { dir } => demo(dir.as_deref()).await,
        RaftCommand::Init { cluster } => {
            let nodes = cluster.cluster;
            let cluster = Cluster::attach(nodes);
            cluster.initialize().await.map_err(client_failed)?;
            say!(
                "initialised: nodes {:?}",
                cluster.addresses().keys().collect::<Vec<_>>()
            );
            Ok(())
        }
        RaftCommand::Put {
            cluster,
            key,
            value,
        } => {
            let request = Request::Put {
                key: key_argument(&key)?,
                value: key_argument(&value)?,
            };
            write_one(&cluster, request).await
        }
        RaftCommand::Delete { cluster, key } => {
            let request = Request::Delete {
                key: key_argument(&key)?,
            };
            write_one(&cluster, request).await
        }
        RaftCommand::Get { cluster, key } => {
            let key = key_argument(&key)?;
            match Client::new(&cluster.cluster)
                .get(&key)
                .await
                .map_err(client_failed)?
            {
                Some(value) => {
                    say!("{}", escape_bytes(&value));
                    Ok(())
                }
                None => Err(CliError::Failed(format!(
                    "{} is absent",
                    escape_bytes(&key)
                ))),
            }
        }
        RaftCommand::Scan {
            cluster,
            from,
            to,
            limit,
        } => {
            let start = key_argument(&from)?;
            let end = to.as_deref().map(key_argument).transpose()?;
            let entries = Client::new(&cluster.cluster)
                .scan(&start, end.as_deref(), limit)
                .await
                .map_err(client_failed)?;
            for (key, value) in entries {
                say!("{}\t{}", escape_bytes(&key), escape_bytes(&value));
            }
            Ok(())
        }
        RaftCommand::Status { cluster } => {
            let mut client = Client::new(&cluster.cluster);
            for &id in cluster.cluster.keys() {
                match client.status(id).await {
                    Ok(status) => say!(
                        "node {id}: {} (leader {:?}), term {}, last log {:?}, applied {:?}, purged {:?}, voters {:?}, {} fsyncs",
                        status.state,
                        status.leader,
                        status.term,
                        status.last_log_index,
                        status.last_applied,
                        status.purged,
                        status.voters,
                        status.fsyncs
                    ),
                    Err(error) => say!("node {id}: {error}"),
                }
            }
            Ok(())
        }
    }
}

async fn demo(dir: Option<&Path>) -> Result<(), CliError> {
    let work = WorkDirectory::create(dir, "raft-demo")?;
    let program = this_program()?;
    let mut cluster =
        Cluster::start(&program, work.path(), 3, "shaledb", &[]).map_err(CliError::Failed)?;
    say!("started 3 nodes: {:?}", cluster.addresses());
    let outcome = demo_steps(&mut cluster).await;
    cluster.stop().await;
    outcome?;
    match dir {
        Some(dir) => say!("stopped; the databases are in {}", dir.display()),
        None => say!("stopped; the temporary databases are removed"),
    }
    Ok(())
}

async fn demo_steps(cluster: &mut Cluster) -> Result<(), CliError> {
    cluster.initialize().await.map_err(client_failed)?;
    let mut client = cluster.client().with_session(session_id());
    let leader = client
        .wait_for_leader(Duration::from_secs(10))
        .await
        .map_err(client_failed)?;
    say!(
        "initialised: node 1, then nodes 2 and 3 as learners, then all three voters; leader: node {leader}"
    );
    for (key, value) in [
        ("apple", "red"),
        ("banana", "yellow"),
        ("cherry", "dark red"),
    ] {
        let written = client
            .write(Request::Put {
                key: key.as_bytes().to_vec(),
                value: value.as_bytes().to_vec(),
            })
            .await
            .map_err(client_failed)?;
        say!(
            "put {key} = {value}: committed at log index {}",
            written.index
        );
    }
    client
        .write(Request::Delete {
            key: b"banana".to_vec(),
        })
        .await
        .map_err(client_failed)?;
    say!("deleted banana");
    let apple = client.get(b"apple").await.map_err(client_failed)?;
    say!(
        "get apple (through the leader): {:?}",
        apple.as_deref().map(escape_bytes)
    );
    let entries = client.scan(b"", None, 100).await.map_err(client_failed)?;
    say!("scan: {} entries", entries.len());
    for (key, value) in &entries {
        say!("  {}\t{}", escape_bytes(key), escape_bytes(value));
    }
    check_replicas(cluster, &mut client, leader).await?;
    // A leader dies: the others elect a new one, and writes go on through it.
    cluster.kill(leader);
    say!("killed node {leader} (SIGKILL)");
    let mut client = cluster.client().with_session(session_id());
    let new_leader = wait_for_other_leader(&mut client, leader).await?;
    say!("node {new_leader} is the new leader");
    let written = client
        .write(Request::Put {
            key: b"date".to_vec(),
            value: b"brown".to_vec(),
        })
        .await
        .map_err(client_failed)?;
    say!("put date = brown: committed at log index {}", written.index);
    cluster.restart(leader).map_err(CliError::Failed)?;
    say!("restarted node {leader} on its database: it catches up from the new leader");
    check_replicas(cluster, &mut client, new_leader).await?;
    Ok(())
}

/// Waits for a leader other than `old` (which is dead).
async fn wait_for_other_leader(client: &mut Client, old: NodeId) -> Result<NodeId, CliError> {
    for _ in 0..200 {
        let leader = client
            .wait_for_leader(Duration::from_secs(10))
            .await
            .map_err(client_failed)?;
        if leader != old {
            return Ok(leader);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(CliError::Failed(format!(
        "node {old} is still reported as the leader"
    )))
}

/// Waits until every node has applied the leader's whole log, then checks that each node's
/// own copy of the data equals the leader's.
async fn check_replicas(
    cluster: &Cluster,
    client: &mut Client,
    leader: NodeId,
) -> Result<(), CliError> {
    let entries = client.scan(b"", None, 1000).await.map_err(client_failed)?;
    let last = client
        .status(leader)
        .await
        .map_err(client_failed)?
        .last_log_index;
    for id in cluster.addresses().into_keys() {
        let mut status = None;
        for _ in 0..200 {
            if let Ok(now) = client.status(id).await {
                let done = now.last_applied >= last;
                status = Some(now);
                if done {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let Some(status) = status else {
            return Err(CliError::Failed(format!("node {id} does not answer")));
        };
        let message = Message::Scan {
            start: Vec::new(),
            end: None,
            limit: 1000,
            linearizable: false,
        };
        let local = match client
            .call_node(id, &message)
            .await
            .map_err(client_failed)?
        {
            Reply::Entries(entries) => entries,
            other => return Err(CliError::Failed(format!("node {id} answered {other:?}"))),
        };
        let same = local == entries;
        say!(
            "node {id} ({}): applied up to {:?}, {} entries, {}",
            status.state,
            status.last_applied,
            local.len(),
            if same {
                "the same as the leader's"
            } else {
                "DIFFERENT from the leader's"
            }
        );
        if !same {
            return Err(CliError::Failed(format!(
                "node {id} differs from the leader"
            )));
        }
    }
    Ok(())
}

/// A client id for a session of this process: the clock's nanoseconds and the process id, so
/// that two runs of a command do not share one.
fn session_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 48)
}

/// Writes `request` in a session of its own and prints what it was answered.
async fn write_one(cluster: &ClusterChoice, request: Request) -> Result<(), CliError> {
    let written = Client::new(&cluster.cluster)
        .with_session(session_id())
        .write(request)
        .await
        .map_err(client_failed)?;
    say!("{:?} at log index {}", written.response, written.index);
    Ok(())
}
