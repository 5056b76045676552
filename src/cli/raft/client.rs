//! A client of the loopback cluster: finds the leader (following the `NotLeader` hints), sends
//! it writes and linearizable reads, and retries on another node when a node fails, until a
//! deadline. Used by the `shale raft` commands, the benchmark and the cluster tests.
//!
//! A write that reaches no answer before the deadline is *unacknowledged*: it may or may not
//! have committed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use shaledb::raft::{Request, Response};

use super::wire::{Link, Message, NodeId, Reply, Status};

/// Why a request failed.
#[derive(Debug)]
pub enum ClientError {
    /// No node answered it before the deadline: the last failure seen.
    Unacknowledged(String),
    /// A node answered with a failure that retrying does not cure.
    Failed(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Unacknowledged(last) => {
                write!(f, "no node acknowledged the request in time (last: {last})")
            }
            ClientError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ClientError {}

/// An acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// What the state machine answered.
    pub response: Response,
    /// The log index of its entry.
    pub index: u64,
}

/// A client of one cluster.
pub struct Client {
    links: BTreeMap<NodeId, Link>,
    leader: Option<NodeId>,
    /// The node tried next when no leader is known.
    next: usize,
    /// The deadline of one call to one node.
    pub call_timeout: Duration,
    /// How long a request is retried before it is given up.
    pub deadline: Duration,
    /// The client's session: its id and the serial of its last write (see [`Client::write`]).
    session: Option<(u64, u64)>,
}

impl Client {
    /// A client of the nodes at these addresses.
    pub fn new(nodes: &BTreeMap<NodeId, String>) -> Client {
        Client {
            links: nodes
                .iter()
                .map(|(&id, addr)| (id, Link::new(addr.clone())))
                .collect(),
            leader: None,
            next: 0,
            call_timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(10),
            session: None,
        }
    }

    /// Sends every later write in a session of client `id` (unique to this client: no other
    /// client may use it), so that a write retried after a lost answer is applied once
    /// (`Request::Session`).
    pub fn with_session(mut self, id: u64) -> Client {
        self.session = Some((id, 0));
        self
    }

    /// Sends `message` to the leader, following redirections and retrying on other nodes
    /// until a node answers other than `NotLeader` or the deadline passes.
    pub async fn call_leader(&mut self, message: &Message) -> Result<Reply, ClientError> {
        let started = Instant::now();
        let mut last = String::from("no node tried");
        while started.elapsed() < self.deadline {
            let Some(target) = self.target() else {
                return Err(ClientError::Failed("the client knows no node".to_string()));
            };
            let Some(link) = self.links.get_mut(&target) else {
                self.leader = None;
                continue;
            };
            match link.call(message, self.call_timeout).await {
                Ok(Reply::NotLeader(Some((leader, addr)))) if leader != target => {
                    self.links
                        .entry(leader)
                        .or_insert_with(|| Link::new(addr.clone()));
                    self.leader = Some(leader);
                    last = format!("node {target} is not the leader");
                }
                Ok(Reply::NotLeader(_)) => {
                    last = format!("node {target} knows no leader");
                    self.forget_leader();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(Reply::Failed(why)) => {
                    // A leader that is stepping down or shutting down fails the request;
                    // another node may take it.
                    last = format!("node {target}: {why}");
                    self.forget_leader();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(reply) => {
                    self.leader = Some(target);
                    return Ok(reply);
                }
                Err(error) => {
                    last = format!("node {target}: {error}");
                    self.forget_leader();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        Err(ClientError::Unacknowledged(last))
    }

    fn target(&mut self) -> Option<NodeId> {
        if let Some(leader) = self.leader {
            return Some(leader);
        }
        let ids: Vec<NodeId> = self.links.keys().copied().collect();
        let id = *ids.get(self.next % ids.len().max(1))?;
        self.next = self.next.wrapping_add(1);
        Some(id)
    }

    fn forget_leader(&mut self) {
        if self.leader.take().is_none() {
            return;
        }
        // Start the search from the node after the failed leader.
        self.next = self.next.wrapping_add(1);
    }

    /// Proposes `request` and waits until it is committed and applied. In a session (see
    /// [`Client::with_session`]) the request takes the next serial, and every retry (after a
    /// failed node, a timeout, a new leader) resends the same serial: a write that had in fact
    /// committed is then answered as a duplicate with its first answer, and not applied again.
    pub async fn write(&mut self, request: Request) -> Result<Written, ClientError> {
        let request = match &mut self.session {
            Some((client, serial)) => {
                *serial += 1;
                Request::Session {
                    client: *client,
                    serial: *serial,
                    request: Box::new(request),
                }
            }
            None => request,
        };
        match self.call_leader(&Message::Write(request)).await? {
            Reply::Written {
                response: Response::Duplicate { response, .. },
                index,
            } => Ok(Written {
                response: *response,
                index,
            }),
            Reply::Written { response, index } => Ok(Written { response, index }),
            other => Err(ClientError::Failed(format!("unexpected answer {other:?}"))),
        }
    }

    /// The value of `key`, read through the leader after a quorum confirmed it (it sees every
    /// acknowledged write).
    pub async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        let message = Message::Get {
            key: key.to_vec(),
            linearizable: true,
        };
        match self.call_leader(&message).await? {
            Reply::Value(value) => Ok(value),
            other => Err(ClientError::Failed(format!("unexpected answer {other:?}"))),
        }
    }

    /// Up to `limit` keys and values from `start` to `end` (exclusive), read as `get` reads.
    pub async fn scan(
        &mut self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: u64,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, ClientError> {
        let message = Message::Scan {
            start: start.to_vec(),
            end: end.map(<[u8]>::to_vec),
            limit,
            linearizable: true,
        };
        match self.call_leader(&message).await? {
            Reply::Entries(entries) => Ok(entries),
            other => Err(ClientError::Failed(format!("unexpected answer {other:?}"))),
        }
    }

    /// Sends `message` to node `id` alone, once.
    pub async fn call_node(&mut self, id: NodeId, message: &Message) -> Result<Reply, ClientError> {
        let timeout = self.call_timeout;
        let link = self
            .links
            .get_mut(&id)
            .ok_or_else(|| ClientError::Failed(format!("no node {id} in the client's list")))?;
        link.call(message, timeout)
            .await
            .map_err(|error| ClientError::Unacknowledged(format!("node {id}: {error}")))
    }

    /// Node `id`'s status.
    pub async fn status(&mut self, id: NodeId) -> Result<Status, ClientError> {
        match self.call_node(id, &Message::Status).await? {
            Reply::Status(status) => Ok(status),
            other => Err(ClientError::Failed(format!("unexpected answer {other:?}"))),
        }
    }

    /// Waits until some node reports itself the leader; its id.
    pub async fn wait_for_leader(&mut self, timeout: Duration) -> Result<NodeId, ClientError> {
        let started = Instant::now();
        loop {
            let ids: Vec<NodeId> = self.links.keys().copied().collect();
            for id in ids {
                if let Ok(status) = self.status(id).await
                    && status.state == "Leader"
                {
                    self.leader = Some(id);
                    return Ok(id);
                }
            }
            if started.elapsed() > timeout {
                return Err(ClientError::Unacknowledged(format!(
                    "no leader within {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
