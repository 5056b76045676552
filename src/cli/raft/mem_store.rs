//! The in-memory store of the benchmark's upper bound: openraft's log storage and state machine
//! with nothing on disk, after the design of openraft's own examples (a log in a `BTreeMap`
//! behind a lock, `LogFlushed` signalled as soon as an append is in memory, a key-value map as
//! the state machine, snapshots as a serialized copy of the map). Same [`TypeConfig`] as the
//! shaledb store, so the same nodes, network and clients run on either; what differs between
//! the two benchmark rows is the storage alone.
//!
//! Not durable: a node that restarts on it comes back empty. The benchmark never restarts one.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, LogId, OptionalSend, RaftLogReader,
    RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use shaledb::raft::{Request, Response, TypeConfig};

use super::wire::NodeId;

type Result<T> = std::result::Result<T, StorageError<NodeId>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Log {
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
    purged: Option<LogId<NodeId>>,
    entries: BTreeMap<u64, Entry<TypeConfig>>,
}

/// The in-memory log: cheap to clone, every clone the same log (openraft's readers are clones).
#[derive(Clone, Default)]
pub struct MemLog {
    log: Arc<Mutex<Log>>,
}

impl RaftLogReader<TypeConfig> for MemLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>> {
        Ok(lock(&self.log)
            .entries
            .range(range)
            .map(|(_, entry)| entry.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for MemLog {
    type LogReader = MemLog;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>> {
        let log = lock(&self.log);
        let last = log.entries.values().next_back().map(|entry| entry.log_id);
        Ok(LogState {
            last_purged_log_id: log.purged,
            last_log_id: last.or(log.purged),
        })
    }

    async fn get_log_reader(&mut self) -> MemLog {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<()> {
        lock(&self.log).vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>> {
        Ok(lock(&self.log).vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<()> {
        lock(&self.log).committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>> {
        Ok(lock(&self.log).committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        {
            let mut log = lock(&self.log);
            for entry in entries {
                log.entries.insert(entry.log_id.index, entry);
            }
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<()> {
        lock(&self.log).entries.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<()> {
        let mut log = lock(&self.log);
        log.purged = Some(log_id);
        let kept = log.entries.split_off(&log_id.index.saturating_add(1));
        log.entries = kept;
        Ok(())
    }
}

#[derive(Default)]
struct State {
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    data: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Per client: the last serial applied and its answer.
    sessions: BTreeMap<u64, (u64, Response)>,
    snapshot: Option<(SnapshotMeta<NodeId, BasicNode>, Vec<u8>)>,
    snapshots_built: u64,
}

/// The in-memory state machine: a key-value map; clones share it (the node reads through one).
#[derive(Clone, Default)]
pub struct MemStateMachine {
    state: Arc<Mutex<State>>,
}

impl MemStateMachine {
    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        lock(&self.state).data.get(key).cloned()
    }

    /// Up to `limit` entries from `start` to `end` (exclusive).
    pub fn scan(&self, start: &[u8], end: Option<&[u8]>, limit: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let upper = match end {
            Some(end) => Bound::Excluded(end.to_vec()),
            None => Bound::Unbounded,
        };
        lock(&self.state)
            .data
            .range((Bound::Included(start.to_vec()), upper))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

/// Applies `request`, with the session rules of `shaledb::raft::Request::Session` (the last
/// serial and answer per client; no bound on clients: the benchmark has 64 at most).
fn apply_request(state: &mut State, request: Request) -> Response {
    if let Err(error) = request.validate() {
        return Response::Rejected {
            reason: error.to_string(),
        };
    }
    if let Request::Batch(requests) = request {
        // `validate` let no batch into the batch.
        let responses = requests
            .into_iter()
            .map(|request| apply_request(state, request))
            .collect();
        return Response::Batch(responses);
    }
    if let Request::Session {
        client,
        serial,
        request,
    } = request
    {
        match state.sessions.get(&client) {
            Some((last, response)) if *last == serial => {
                return Response::Duplicate {
                    serial,
                    response: Box::new(response.clone()),
                };
            }
            Some((last, _)) if *last > serial => {
                return Response::Stale {
                    serial,
                    last_serial: *last,
                };
            }
            _ => {}
        }
        let response = apply_plain(&mut state.data, *request);
        state.sessions.insert(client, (serial, response.clone()));
        return response;
    }
    apply_plain(&mut state.data, request)
}

fn apply_plain(data: &mut BTreeMap<Vec<u8>, Vec<u8>>, request: Request) -> Response {
    match request {
        Request::Put { key, value } => {
            data.insert(key, value);
        }
        Request::Delete { key } => {
            data.remove(&key);
        }
        Request::DeleteRange { start, end } => {
            let mut tail = data.split_off(&start);
            let mut kept = tail.split_off(&end);
            data.append(&mut kept);
            drop(tail);
        }
        // `validate` refuses a session or a batch inside a session.
        Request::Session { .. } | Request::Batch(_) => {
            return Response::Rejected {
                reason: "a session or a batch inside a session".to_string(),
            };
        }
        // A request of a later shaledb than this store knows (the enum is non-exhaustive).
        other => {
            return Response::Rejected {
                reason: format!("the in-memory store cannot apply {other:?}"),
            };
        }
    }
    Response::Applied
}

fn storage_error(error: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageError::from(StorageIOError::read_snapshot(
        None,
        AnyError::error(error.to_string()),
    ))
}

impl RaftSnapshotBuilder<TypeConfig> for MemStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>> {
        let mut state = lock(&self.state);
        let data = postcard::to_allocvec(&(&state.data, &state.sessions)).map_err(storage_error)?;
        state.snapshots_built += 1;
        let meta = SnapshotMeta {
            last_log_id: state.applied,
            last_membership: state.membership.clone(),
            snapshot_id: format!(
                "{}-{}",
                state.applied.map_or(0, |log_id| log_id.index),
                state.snapshots_built
            ),
        };
        state.snapshot = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for MemStateMachine {
    type SnapshotBuilder = MemStateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>)> {
        let state = lock(&self.state);
        Ok((state.applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut state = lock(&self.state);
        let mut responses = Vec::new();
        for entry in entries {
            state.applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => Response::NoRequest,
                EntryPayload::Normal(request) => apply_request(&mut state, request),
                EntryPayload::Membership(membership) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), membership);
                    Response::NoRequest
                }
            };
            responses.push(response);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> MemStateMachine {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<()> {
        let bytes = snapshot.into_inner();
        type Image = (BTreeMap<Vec<u8>, Vec<u8>>, BTreeMap<u64, (u64, Response)>);
        let (data, sessions): Image = postcard::from_bytes(&bytes).map_err(storage_error)?;
        let mut state = lock(&self.state);
        state.data = data;
        state.sessions = sessions;
        state.applied = meta.last_log_id;
        state.membership = meta.last_membership.clone();
        state.snapshot = Some((meta.clone(), bytes));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>> {
        Ok(lock(&self.state)
            .snapshot
            .as_ref()
            .map(|(meta, data)| Snapshot {
                meta: meta.clone(),
                snapshot: Box::new(Cursor::new(data.clone())),
            }))
    }
}
