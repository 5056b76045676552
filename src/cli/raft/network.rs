//! openraft's network over [`Link`]s: one link per target node, used by that target's
//! replication task one RPC at a time. A failure to reach the node is `Unreachable` (openraft
//! backs off and retries), a timeout is `Timeout`, and an error the node returned is a
//! `RemoteError`.

use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{AnyError, BasicNode};
use shaledb::raft::TypeConfig;

use super::wire::{Link, Message, NodeId, Reply};

/// Makes a [`Peer`] for each node openraft replicates to.
pub struct Network {
    /// This node's id (the source of every RPC, for timeouts' reports).
    pub id: NodeId,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        Peer {
            id: self.id,
            target,
            link: Link::new(node.addr.clone()),
        }
    }
}

/// The connection to one node.
pub struct Peer {
    id: NodeId,
    target: NodeId,
    link: Link,
}

type Error<E = openraft::error::Infallible> = RPCError<NodeId, BasicNode, RaftError<NodeId, E>>;

impl Peer {
    /// Sends `message` within the RPC's hard deadline.
    async fn call<E>(
        &mut self,
        message: Message,
        action: RPCTypes,
        option: &RPCOption,
    ) -> Result<Reply, Error<E>>
    where
        E: std::error::Error,
    {
        let timeout = option.hard_ttl();
        self.link
            .call(&message, timeout)
            .await
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::TimedOut => RPCError::Timeout(Timeout {
                    action,
                    id: self.id,
                    target: self.target,
                    timeout,
                }),
                std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe => RPCError::Unreachable(Unreachable::new(&error)),
                _ => RPCError::Network(NetworkError::new(&error)),
            })
    }

    fn unexpected<E: std::error::Error>(&self, reply: &Reply) -> Error<E> {
        RPCError::Network(NetworkError::new(&AnyError::error(format!(
            "node {} answered with an unexpected {reply:?}",
            self.target
        ))))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, Error> {
        match self
            .call(
                Message::AppendEntries(rpc),
                RPCTypes::AppendEntries,
                &option,
            )
            .await?
        {
            Reply::AppendEntries(Ok(response)) => Ok(response),
            Reply::AppendEntries(Err(error)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, error)))
            }
            other => Err(self.unexpected(&other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, Error<InstallSnapshotError>> {
        match self
            .call(
                Message::InstallSnapshot(rpc),
                RPCTypes::InstallSnapshot,
                &option,
            )
            .await?
        {
            Reply::InstallSnapshot(Ok(response)) => Ok(response),
            Reply::InstallSnapshot(Err(error)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, error)))
            }
            other => Err(self.unexpected(&other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, Error> {
        match self
            .call(Message::Vote(rpc), RPCTypes::Vote, &option)
            .await?
        {
            Reply::Vote(Ok(response)) => Ok(response),
            Reply::Vote(Err(error)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, error)))
            }
            other => Err(self.unexpected(&other)),
        }
    }

    fn backoff(&self) -> openraft::network::Backoff {
        // A dead node on loopback: try again every 100 ms rather than openraft's 500 ms, so a
        // restarted node is found quickly.
        openraft::network::Backoff::new(std::iter::repeat(Duration::from_millis(100)))
    }
}
