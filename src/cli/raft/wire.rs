//! The messages of the loopback cluster and how they cross a TCP connection: each message is
//! one frame, its length (`u32`, little-endian) and then its postcard encoding (the serde forms
//! openraft gives its RPCs). A connection carries one request at a time and then its reply.
//!
//! [`Link`] is the calling end: a connection to one node, opened on first use and again after
//! any failure, with a deadline per call. The node's end is `node.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use shaledb::raft::{Request, Response, TypeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// A node id.
pub type NodeId = u64;

/// The largest frame either end accepts: a snapshot chunk or a batch of log entries is far
/// smaller; a length above it is a stray connection or a damaged stream.
const MAX_FRAME: usize = 256 << 20;

/// What a node is asked: raft's own RPCs (from the other nodes) and the key-value API and
/// administration (from clients).
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Raft: replicate entries (or a heartbeat).
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Raft: a candidate asks for a vote.
    Vote(VoteRequest<NodeId>),
    /// Raft: one chunk of a snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Propose a write (leader only).
    Write(Request),
    /// The value of a key: `linearizable` asks the leader to confirm it still leads first, so
    /// that the read sees every acknowledged write; otherwise this node's applied state.
    Get {
        /// The key.
        key: Vec<u8>,
        /// Read through the leader, after a quorum confirms it.
        linearizable: bool,
    },
    /// Keys and values from `start` (inclusive) to `end` (exclusive; `None`: to the end), at
    /// most `limit` of them.
    Scan {
        /// The first key.
        start: Vec<u8>,
        /// The key the scan stops before.
        end: Option<Vec<u8>>,
        /// At most this many entries.
        limit: u64,
        /// As for `Get`.
        linearizable: bool,
    },
    /// Make this node the leader of a new cluster of these members (ids and addresses).
    Initialize(BTreeMap<NodeId, String>),
    /// Add a node as a learner and wait until it has caught up (leader only).
    AddLearner {
        /// Its id.
        id: NodeId,
        /// Its address.
        addr: String,
    },
    /// Make these nodes (already learners or members) the voting members (leader only).
    ChangeMembership(BTreeSet<NodeId>),
    /// This node's view of the cluster and of its storage.
    Status,
    /// Take a snapshot now (tests and the benchmark use it to force a purge).
    Snapshot,
    /// Stop raft, close the database and exit the process.
    Shutdown,
}

/// What a node answers.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The answer to [`Message::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// The answer to [`Message::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// The answer to [`Message::InstallSnapshot`].
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// A write is committed and applied: what applying it answered, and its log index.
    Written {
        /// The state machine's answer.
        response: Response,
        /// The log index of the entry.
        index: u64,
    },
    /// The answer to [`Message::Get`].
    Value(Option<Vec<u8>>),
    /// The answer to [`Message::Scan`].
    Entries(Vec<(Vec<u8>, Vec<u8>)>),
    /// The answer to [`Message::Status`].
    Status(Status),
    /// Done (initialize, add-learner, change-membership, snapshot, shutdown).
    Done,
    /// This node does not lead; the leader it knows of, if any.
    NotLeader(Option<(NodeId, String)>),
    /// The request failed; why.
    Failed(String),
}

/// A node's view of the cluster and of its storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// The node's id.
    pub id: NodeId,
    /// Leader, Follower, Candidate or Learner.
    pub state: String,
    /// The leader this node knows of.
    pub leader: Option<NodeId>,
    /// The current term.
    pub term: u64,
    /// The index of the last log entry.
    pub last_log_index: Option<u64>,
    /// The index of the last applied entry.
    pub last_applied: Option<u64>,
    /// The index of the last entry purged from the log.
    pub purged: Option<u64>,
    /// The index of the last entry the current snapshot covers.
    pub snapshot: Option<u64>,
    /// The voting members.
    pub voters: Vec<NodeId>,
    /// Write-ahead-log fsyncs of the node's database since it opened (0 for the in-memory
    /// store).
    pub fsyncs: u64,
    /// Snapshots this node installed from a leader since it started.
    pub snapshots_installed: u64,
}

/// Writes `message` as one frame.
pub async fn write_frame<T: Serialize>(
    stream: &mut BufWriter<OwnedWriteHalf>,
    message: &T,
) -> io::Result<()> {
    let bytes = postcard::to_allocvec(message)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    let length = u32::try_from(bytes.len())
        .ok()
        .filter(|&length| length as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "message too large"))?;
    stream.write_all(&length.to_le_bytes()).await?;
    stream.write_all(&bytes).await?;
    stream.flush().await
}

/// Reads one frame; `Ok(None)` when the peer closed the connection between frames.
pub async fn read_frame<T: for<'de> Deserialize<'de>>(
    stream: &mut BufReader<OwnedReadHalf>,
) -> io::Result<Option<T>> {
    let mut length = [0u8; 4];
    match stream.read_exact(&mut length).await {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let length = u32::from_le_bytes(length) as usize;
    if length > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {length} bytes, above the limit of {MAX_FRAME}"),
        ));
    }
    let mut bytes = vec![0u8; length];
    stream.read_exact(&mut bytes).await?;
    postcard::from_bytes(&bytes)
        .map(Some)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

/// The two halves of a connection, buffered.
pub struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
}

impl Connection {
    /// Wraps an accepted or connected stream.
    pub fn new(stream: TcpStream) -> Connection {
        // Small frames (votes, heartbeats, single writes) must not wait for Nagle's timer.
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        Connection {
            reader: BufReader::new(reader),
            writer: BufWriter::new(writer),
        }
    }

    /// Reads the next message; `None` when the peer has closed the connection.
    pub async fn receive<T: for<'de> Deserialize<'de>>(&mut self) -> io::Result<Option<T>> {
        read_frame(&mut self.reader).await
    }

    /// Sends one message.
    pub async fn send<T: Serialize>(&mut self, message: &T) -> io::Result<()> {
        write_frame(&mut self.writer, message).await
    }
}

/// The calling end of a connection to one node: connects on first use, and again on the call
/// after any failure (a dead node, a timeout, a damaged stream).
pub struct Link {
    addr: String,
    connection: Option<Connection>,
}

impl Link {
    /// A link to the node at `addr`; nothing is connected yet.
    pub fn new(addr: String) -> Link {
        Link {
            addr,
            connection: None,
        }
    }

    /// Sends `message` and waits for the reply, all within `timeout`. On any failure, or if
    /// the call is dropped before its reply, the connection is dropped with it (a late reply
    /// must not answer the next call).
    pub async fn call(&mut self, message: &Message, timeout: Duration) -> io::Result<Reply> {
        match tokio::time::timeout(timeout, self.exchange(message)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer from {} within {timeout:?}", self.addr),
            )),
        }
    }

    async fn exchange(&mut self, message: &Message) -> io::Result<Reply> {
        // The connection is out of `self` while a call is under way and goes back only once
        // its reply is read: a call dropped half-way (a timeout, a cancelled future) must not
        // leave its reply to answer the next call.
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => Connection::new(TcpStream::connect(&self.addr).await?),
        };
        connection.send(message).await?;
        match connection.receive().await? {
            Some(reply) => {
                self.connection = Some(connection);
                Ok(reply)
            }
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} closed the connection before answering", self.addr),
            )),
        }
    }
}
