//! A cluster of `shale raft node` processes on loopback: started as children of this process
//! (each on a port of its own, read from its `listening ADDR` line), initialised with node 1 as
//! the first member and the others added as learners and then voters, killed or restarted one
//! at a time, and stopped (killed if need be) when dropped, so no run leaves a node behind.
//!
//! Used by `shale raft demo`, the benchmark and the cluster tests (which give the path of the
//! `shale` binary; the commands use their own).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::client::{Client, ClientError};
use super::wire::{Message, NodeId, Reply};

/// One node process.
struct NodeProcess {
    child: Option<Child>,
    addr: String,
    dir: PathBuf,
}

/// The node processes of one cluster.
pub struct Cluster {
    program: PathBuf,
    store: &'static str,
    extra: Vec<String>,
    nodes: BTreeMap<NodeId, NodeProcess>,
}

impl Cluster {
    /// Starts `count` nodes (ids 1 to `count`) of `program` (the `shale` binary) with `store`
    /// (`shaledb` or `memory`), each with its database in `root/node-ID`, and `extra`
    /// arguments of `shale raft node`. Not yet a cluster: see [`Cluster::initialize`].
    pub fn start(
        program: &Path,
        root: &Path,
        count: u64,
        store: &'static str,
        extra: &[&str],
    ) -> Result<Cluster, String> {
        let mut cluster = Cluster {
            program: program.to_path_buf(),
            store,
            extra: extra.iter().map(|argument| argument.to_string()).collect(),
            nodes: BTreeMap::new(),
        };
        for id in 1..=count {
            let dir = root.join(format!("node-{id}"));
            let (child, addr) = cluster.spawn(id, &dir, "127.0.0.1:0")?;
            cluster.nodes.insert(
                id,
                NodeProcess {
                    child: Some(child),
                    addr,
                    dir,
                },
            );
        }
        Ok(cluster)
    }

    /// The nodes already running at these addresses (started elsewhere): initialised and
    /// asked through this value, never started, killed or stopped by it.
    pub fn attach(nodes: BTreeMap<NodeId, String>) -> Cluster {
        Cluster {
            program: PathBuf::new(),
            store: "shaledb",
            extra: Vec::new(),
            nodes: nodes
                .into_iter()
                .map(|(id, addr)| {
                    let node = NodeProcess {
                        child: None,
                        addr,
                        dir: PathBuf::new(),
                    };
                    (id, node)
                })
                .collect(),
        }
    }

    fn spawn(&self, id: NodeId, dir: &Path, listen: &str) -> Result<(Child, String), String> {
        let mut child = Command::new(&self.program)
            .args(["raft", "node", "--id", &id.to_string(), "--listen", listen])
            .arg("--db")
            .arg(dir)
            .args(["--store", self.store])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", self.program.display()))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err("node started without standard output".to_string());
        };
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        match (read, line.trim().strip_prefix("listening ")) {
            (Ok(_), Some(addr)) => Ok((child, addr.to_string())),
            (read, _) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "node {id} did not start (it printed {line:?}; {read:?})"
                ))
            }
        }
    }

    /// Every node's id and address.
    pub fn addresses(&self) -> BTreeMap<NodeId, String> {
        self.nodes
            .iter()
            .map(|(&id, node)| (id, node.addr.clone()))
            .collect()
    }

    /// A client of every node.
    pub fn client(&self) -> Client {
        Client::new(&self.addresses())
    }

    /// Node 1 initialises a cluster of itself; every other node joins as a learner (caught up
    /// before the call returns) and then all become voters. Returns when the membership is
    /// committed.
    pub async fn initialize(&self) -> Result<(), ClientError> {
        let addresses = self.addresses();
        let mut client = self.client();
        let Some((&first, first_addr)) = addresses.iter().next() else {
            return Err(ClientError::Failed("a cluster of no nodes".to_string()));
        };
        let only_first = BTreeMap::from([(first, first_addr.clone())]);
        expect_done(
            client
                .call_node(first, &Message::Initialize(only_first))
                .await?,
        )?;
        client.wait_for_leader(Duration::from_secs(10)).await?;
        for (&id, addr) in addresses.iter().skip(1) {
            let message = Message::AddLearner {
                id,
                addr: addr.clone(),
            };
            expect_done(client.call_leader(&message).await?)?;
        }
        let voters: BTreeSet<NodeId> = addresses.keys().copied().collect();
        expect_done(
            client
                .call_leader(&Message::ChangeMembership(voters))
                .await?,
        )
    }

    /// Kills node `id` at once (SIGKILL): what a crash of its machine looks like to the
    /// others, and to its own storage what a crash of the process is.
    pub fn kill(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get_mut(&id)
            && let Some(mut child) = node.child.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `id` again, on its old address and database.
    pub fn restart(&mut self, id: NodeId) -> Result<(), String> {
        let Some(node) = self.nodes.get(&id) else {
            return Err(format!("no node {id}"));
        };
        if node.child.is_some() {
            return Err(format!("node {id} is running"));
        }
        let (dir, addr) = (node.dir.clone(), node.addr.clone());
        // The old port may be briefly taken by the dead node's sockets; try for a while.
        let mut last = String::new();
        for _ in 0..50 {
            match self.spawn(id, &dir, &addr) {
                Ok((child, _)) => {
                    if let Some(node) = self.nodes.get_mut(&id) {
                        node.child = Some(child);
                    }
                    return Ok(());
                }
                Err(error) => last = error,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last)
    }

    /// Asks every running node to shut down, and kills those that do not within a few
    /// seconds.
    pub async fn stop(&mut self) {
        let mut client = self.client();
        client.call_timeout = Duration::from_secs(5);
        let running: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, node)| node.child.is_some())
            .map(|(&id, _)| id)
            .collect();
        for id in running {
            let _ = client.call_node(id, &Message::Shutdown).await;
        }
        for node in self.nodes.values_mut() {
            if let Some(mut child) = node.child.take() {
                for _ in 0..50 {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in self.nodes.values_mut() {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn expect_done(reply: Reply) -> Result<(), ClientError> {
    match reply {
        Reply::Done => Ok(()),
        Reply::Failed(why) => Err(ClientError::Failed(why)),
        other => Err(ClientError::Failed(format!("unexpected answer {other:?}"))),
    }
}
