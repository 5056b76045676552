//! [`StateMachine`], [`SnapshotBuilder`] and [`StateReader`]: openraft's state machine as a
//! key-value store in its own keyspace, and its snapshots (FORMAT.md 9.3, 9.4).
//!
//! Owns: the state keyspace (`{group}.state`: the replicated keys and values, as they are), the
//! snapshot keyspace (`{group}.snapshot`: the current snapshot's blob in chunks) and the state
//! machine's keys of the metadata keyspace (`applied`, `membership`, `snapshot`, and the client
//! sessions under `session/`, whose table `sessions.rs` keeps).
//!
//! Invariants:
//! - The state keyspace, `applied` and `membership` change together, in one batch: an `apply`
//!   writes its entries' requests and the last applied log id (and membership, when an entry
//!   changed it) at once, and installing a snapshot deletes the whole state keyspace and writes
//!   the snapshot's entries and metadata in one batch. A reader at one shaledb snapshot never
//!   sees a state without the log id that produced it.
//! - The sessions change in the same batches: an `apply` records a session request's serial
//!   and response (and forgets the sessions over the limit) with the state change it made,
//!   and an install replaces them with the snapshot's. So a node that restarts, or installs
//!   a snapshot, decides which session requests are retries exactly as the node that applied
//!   the log did. The table in memory is the one on disk; an `apply` whose batch fails takes
//!   its changes to it back.
//! - The snapshot keyspace and the `snapshot` key change together too (one batch, synced), and
//!   only ever to a snapshot at least as new as the one they hold: a builder that finishes
//!   after a newer snapshot was installed or built does not replace it.
//! - `apply` is not synced. It comes after the log entries it applies in the write-ahead log,
//!   and shaledb loses an unsynced write only with every write after it, so after a crash the
//!   state is that of some applied prefix, and openraft applies the rest again from the log
//!   (which keeps every entry above the purge point, itself synced after the applies it
//!   covers).
//!
//! Threads: openraft calls the `StateMachine` from its state-machine task only; a
//! `SnapshotBuilder` may run beside it, reading at the shaledb snapshot it was made with, and
//! `StateReader`s read beside both. `snapshot_lock` orders the replacements of the current
//! snapshot. Every call blocks its thread for its shaledb work, as in `log_store.rs`.

use std::io::Cursor;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use openraft::storage::RaftStateMachine;
use openraft::{AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};

mod sessions;

use super::log_store::read_meta;
use super::snapshot_blob::{BlobReader, BlobWriter};
use super::types::{
    Entry, LogId, Request, Response, SnapshotMeta, StorageError, StoredMembership, TypeConfig, any,
    decode, encode, meta_key,
};
use crate::batch::WriteBatch;
use crate::db::Db;
use crate::db_iterator::DbIterator;
use crate::error::Result;
use crate::key::MAX_KEY_SIZE;
use crate::key_range::KeyRange;
use crate::keyspace::Keyspace;
use crate::options::{ReadOptions, WriteOptions};
use crate::snapshot::Snapshot;
use crate::value::Value;
use sessions::{Decision, Session, SessionTable, Undo, session_key, stored_sessions};

/// Bytes of the current snapshot's blob per key of the snapshot keyspace.
const CHUNK_SIZE: usize = 1 << 20;

/// The keyspaces a state machine, its builders and its readers share.
#[derive(Clone)]
struct Parts {
    db: Arc<Db>,
    state: Keyspace,
    meta: Keyspace,
    snapshot: Keyspace,
    /// Held while the current snapshot is compared with a new one and replaced.
    snapshot_lock: Arc<Mutex<()>>,
}

/// openraft's state machine on a shaledb database: a key-value store in the state keyspace,
/// changed by [`Request`]s, with its last applied log id and membership beside it, the client
/// sessions that make a retried [`Request::Session`] apply once, and snapshots built from a
/// shaledb snapshot of it all. Get one, with its [`LogStore`](super::LogStore), from
/// [`open`](super::open).
///
/// A session request is answered [`Response::Duplicate`] when its serial is its client's last
/// applied one (a retry) and [`Response::Stale`] when lower, and changes nothing then; the
/// sessions are kept with the state, in the same batches, survive a reopen and go into
/// snapshots, so every node, however it came by its state, decides alike. At most
/// [`DEFAULT_SESSION_LIMIT`](Self::DEFAULT_SESSION_LIMIT) sessions are kept, or what
/// [`with_session_limit`](Self::with_session_limit) says.
///
/// ```
/// use std::sync::Arc;
/// use openraft::storage::RaftStateMachine;
/// use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
/// use shaledb::raft::{Request, Response, TypeConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
/// let (_log_store, mut state_machine) = shaledb::raft::open(&db, "raft")?;
/// let reader = state_machine.reader();
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let put = Entry::<TypeConfig> {
///         log_id: LogId::new(CommittedLeaderId::new(1, 0), 1),
///         payload: EntryPayload::Normal(Request::Put { key: b"k".to_vec(), value: b"v".to_vec() }),
///     };
///     // openraft applies committed entries in log order; a test may do it by hand.
///     assert_eq!(state_machine.apply([put]).await?, vec![Response::Applied]);
///     // Client 9's request 1, and its retry: applied once.
///     let once = Request::Session {
///         client: 9,
///         serial: 1,
///         request: Box::new(Request::Delete { key: b"k".to_vec() }),
///     };
///     let entry = |index| Entry::<TypeConfig> {
///         log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
///         payload: EntryPayload::Normal(once.clone()),
///     };
///     assert_eq!(state_machine.apply([entry(2)]).await?, vec![Response::Applied]);
///     let retry = state_machine.apply([entry(3)]).await?;
///     let original = Box::new(Response::Applied);
///     assert_eq!(retry, vec![Response::Duplicate { serial: 1, response: original }]);
///     let (applied, _membership) = state_machine.applied_state().await?;
///     assert_eq!(applied.map(|log_id| log_id.index), Some(3));
///     Ok::<_, shaledb::raft::StorageError>(())
/// })?;
/// assert_eq!(reader.get(b"k")?, None); // deleted by client 9, once
/// # Ok(())
/// # }
/// ```
pub struct StateMachine {
    parts: Parts,
    /// The last applied log id, as the metadata keyspace holds it.
    applied: Option<LogId>,
    /// The last applied membership, as the metadata keyspace holds it.
    membership: StoredMembership,
    /// The client sessions, as the metadata keyspace holds them.
    sessions: SessionTable,
    /// How many sessions `apply` keeps (it forgets the oldest over it).
    session_limit: usize,
}

impl std::fmt::Debug for StateMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachine")
            .field("state", &self.parts.state.name())
            .field("applied", &self.applied)
            .field("sessions", &self.sessions.len())
            .field("session_limit", &self.session_limit)
            .finish()
    }
}

impl StateMachine {
    /// The state machine over the keyspaces of `db`, with its applied state read.
    pub(crate) fn open(
        db: Arc<Db>,
        state: Keyspace,
        meta: Keyspace,
        snapshot: Keyspace,
    ) -> Result<StateMachine, StorageError> {
        let read = |error| StorageError::from(StorageIOError::read_state_machine(error));
        let applied = read_meta(&meta, meta_key::APPLIED, "applied log id").map_err(read)?;
        let membership = read_meta(&meta, meta_key::MEMBERSHIP, "membership")
            .map_err(read)?
            .unwrap_or_default();
        let sessions = SessionTable::load(&meta, &ReadOptions::default()).map_err(read)?;
        let parts = Parts {
            db,
            state,
            meta,
            snapshot,
            snapshot_lock: Arc::new(Mutex::new(())),
        };
        Ok(StateMachine {
            parts,
            applied,
            membership,
            sessions,
            session_limit: Self::DEFAULT_SESSION_LIMIT,
        })
    }

    /// The session limit of a state machine from [`open`](super::open).
    pub const DEFAULT_SESSION_LIMIT: usize = 65_536;

    /// The state machine, keeping at most `limit` client sessions
    /// ([`Request::Session`]) instead of [`DEFAULT_SESSION_LIMIT`](Self::DEFAULT_SESSION_LIMIT).
    ///
    /// When applying a client's first session request makes one more than `limit`, the state
    /// machine forgets the session whose last new serial was applied longest ago (in log order;
    /// a retry does not count), in the same batch. Forgotten, a client is a new client: a retry
    /// of its last request is applied again. So the limit must exceed the number of clients
    /// that may retry at once, with a margin for the clients that write between a request and
    /// its retry. Give every node of a group the same limit: which session is forgotten is
    /// decided in apply order on each, and nodes with different limits would disagree about
    /// which requests are retries. A limit lowered below the sessions held takes effect at
    /// the next new client (the oldest are forgotten then, together); a snapshot installs
    /// all its sessions, however many.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::sync::Arc;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
    /// let (_log_store, state_machine) = shaledb::raft::open(&db, "raft")?;
    /// let state_machine = state_machine.with_session_limit(NonZeroUsize::new(1_000).expect("not 0"));
    /// assert!(format!("{state_machine:?}").contains("session_limit: 1000"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_session_limit(mut self, limit: NonZeroUsize) -> StateMachine {
        self.session_limit = limit.get();
        self
    }

    /// Adds `request`, the entry at `index`, to `batch` (the state change, and the session it
    /// records and those it forgets), with the changes to the session table noted in `undo`;
    /// returns its response.
    fn add_request(
        &mut self,
        batch: &mut WriteBatch,
        undo: &mut Undo,
        index: u64,
        request: &Request,
    ) -> Result<Response, AnyError> {
        if let Err(error) = request.validate() {
            return Ok(Response::Rejected {
                reason: error.to_string(),
            });
        }
        if let Request::Batch(requests) = request {
            // `validate` let no batch into the batch: one level of recursion.
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                responses.push(self.add_request(batch, undo, index, request)?);
            }
            return Ok(Response::Batch(responses));
        }
        let parts = &self.parts;
        let Request::Session {
            client,
            serial,
            request,
        } = request
        else {
            request
                .add_to(batch, &parts.state)
                .map_err(|error| any(&error))?;
            return Ok(Response::Applied);
        };
        if let Decision::Answer(response) = self.sessions.decide(*client, *serial) {
            return Ok(response);
        }
        request
            .add_to(batch, &parts.state)
            .map_err(|error| any(&error))?;
        let session = Session {
            serial: *serial,
            applied_index: index,
            response: Response::Applied,
        };
        batch
            .put_in(&parts.meta, &session_key(*client), &encode(&session)?)
            .map_err(|error| any(&error))?;
        self.sessions.record(*client, session, undo);
        for expired in self.sessions.expire_over(self.session_limit, undo) {
            batch
                .delete_in(&parts.meta, &session_key(expired))
                .map_err(|error| any(&error))?;
        }
        Ok(Response::Applied)
    }

    /// A reader of the replicated keys and values as this node has applied them.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
    /// let (_log_store, state_machine) = shaledb::raft::open(&db, "raft")?;
    /// let reader = state_machine.reader(); // keep it; the state machine goes to openraft
    /// assert_eq!(reader.get(b"missing")?, None);
    /// assert_eq!(reader.range(..).count(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn reader(&self) -> StateReader {
        StateReader {
            parts: self.parts.clone(),
        }
    }
}

/// Reads the replicated key-value store as one node has applied it: cheap to clone,
/// `Send + Sync`, and reads beside the [`StateMachine`] that made it. What it reads is as new
/// as this node's applied log, which may lag the leader's; a read that must see every
/// acknowledged write goes through the leader (`Raft::ensure_linearizable`) first.
///
/// ```
/// # use std::sync::Arc;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
/// let (_log_store, state_machine) = shaledb::raft::open(&db, "raft")?;
/// let reader = state_machine.reader();
/// assert_eq!(reader.applied()?, None); // nothing applied yet
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct StateReader {
    parts: Parts,
}

impl std::fmt::Debug for StateReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateReader")
            .field("state", &self.parts.state.name())
            .finish()
    }
}

impl StateReader {
    /// The value of `key`, `None` if it has none.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
    /// let (_log_store, state_machine) = shaledb::raft::open(&db, "raft")?;
    /// assert_eq!(state_machine.reader().get(b"k")?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        self.parts.state.get(key)
    }

    /// The keys and values in `range` (any Rust range over keys, as
    /// [`Db::range`](crate::Db::range)), in key order or, from the back, in reverse.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
    /// let (_log_store, state_machine) = shaledb::raft::open(&db, "raft")?;
    /// let reader = state_machine.reader();
    /// for item in reader.range(b"user/".as_slice()..b"user0".as_slice()) {
    ///     let (key, value) = item?;
    ///     println!("{key:?} = {value:?}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn range<R: KeyRange>(&self, range: R) -> DbIterator {
        self.parts.state.range(range)
    }

    /// The log id of the last entry applied, `None` before the first.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
    /// let (_log_store, state_machine) = shaledb::raft::open(&db, "raft")?;
    /// assert_eq!(state_machine.reader().applied()?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn applied(&self) -> Result<Option<openraft::LogId<u64>>, StorageError> {
        read_meta(&self.parts.meta, meta_key::APPLIED, "applied log id")
            .map_err(|error| StorageError::from(StorageIOError::read_state_machine(error)))
    }
}

impl StateMachine {
    /// Applies `entries` in one batch, the session table's changes noted in `undo` (for the
    /// caller to take back if this fails); returns their responses.
    fn commit_entries(
        &mut self,
        entries: impl IntoIterator<Item = Entry>,
        undo: &mut Undo,
    ) -> Result<Vec<Response>, AnyError> {
        let mut batch = WriteBatch::new();
        let mut responses = Vec::new();
        let mut last = None;
        let mut membership = None;
        for entry in entries {
            let response = match entry.payload {
                EntryPayload::Blank => Response::NoRequest,
                EntryPayload::Normal(request) => {
                    self.add_request(&mut batch, undo, entry.log_id.index, &request)?
                }
                EntryPayload::Membership(changed) => {
                    membership = Some(StoredMembership::new(Some(entry.log_id), changed));
                    Response::NoRequest
                }
            };
            responses.push(response);
            last = Some(entry.log_id);
        }
        let Some(last) = last else {
            return Ok(responses);
        };
        let parts = &self.parts;
        batch
            .put_in(&parts.meta, meta_key::APPLIED, &encode(&last)?)
            .map_err(|error| any(&error))?;
        if let Some(membership) = &membership {
            batch
                .put_in(&parts.meta, meta_key::MEMBERSHIP, &encode(membership)?)
                .map_err(|error| any(&error))?;
        }
        parts
            .db
            .write(batch, &WriteOptions { sync: false })
            .map_err(|error| any(&error))?;
        self.applied = Some(last);
        if let Some(membership) = membership {
            self.membership = membership;
        }
        Ok(responses)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let write = |error| StorageError::from(StorageIOError::write_state_machine(error));
        let mut undo = Undo::default();
        let result = self.commit_entries(entries, &mut undo);
        if result.is_err() {
            self.sessions.undo(undo);
        }
        result.map_err(write)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            at: self.parts.db.snapshot(),
            parts: self.parts.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let signature = Some(meta.signature());
        let write =
            |error| StorageError::from(StorageIOError::write_snapshot(signature.clone(), error));
        let blob = snapshot.into_inner();
        let parts = &self.parts;
        let mut batch = WriteBatch::new();
        let sessions = (|| {
            let reader = BlobReader::new(&blob)?;
            let sessions = SessionTable::from_blob(reader.sessions())?;
            delete_everything(&mut batch, &parts.state).map_err(|error| any(&error))?;
            for (key, value) in reader.entries() {
                batch
                    .put_in(&parts.state, key, value)
                    .map_err(|error| any(&error))?;
            }
            batch
                .delete_range_in(&parts.meta, meta_key::SESSION_PREFIX, meta_key::SESSION_END)
                .map_err(|error| any(&error))?;
            for (client, value) in reader.sessions() {
                // The client id's bytes, as a session key of the metadata keyspace ends.
                let key = [meta_key::SESSION_PREFIX, client].concat();
                batch
                    .put_in(&parts.meta, &key, value)
                    .map_err(|error| any(&error))?;
            }
            match &meta.last_log_id {
                Some(applied) => batch.put_in(&parts.meta, meta_key::APPLIED, &encode(applied)?),
                None => batch.delete_in(&parts.meta, meta_key::APPLIED),
            }
            .map_err(|error| any(&error))?;
            batch
                .put_in(
                    &parts.meta,
                    meta_key::MEMBERSHIP,
                    &encode(&meta.last_membership)?,
                )
                .map_err(|error| any(&error))?;
            add_current_snapshot(&mut batch, parts, meta, &blob)?;
            Ok(sessions)
        })()
        .map_err(write)?;
        let _replacing = parts
            .snapshot_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        parts
            .db
            .write(batch, &WriteOptions::SYNC)
            .map_err(|error| write(any(&error)))?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.sessions = sessions;
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<openraft::Snapshot<TypeConfig>>, StorageError> {
        let read = |error| StorageError::from(StorageIOError::read_snapshot(None, error));
        let parts = &self.parts;
        let at = parts.db.snapshot();
        let options = ReadOptions {
            snapshot: Some(&at),
            ..ReadOptions::default()
        };
        let Some(meta) = parts
            .meta
            .get_with(meta_key::SNAPSHOT, &options)
            .map_err(|error| read(any(&error)))?
        else {
            return Ok(None);
        };
        let meta: SnapshotMeta = decode(&meta, "snapshot metadata").map_err(read)?;
        let mut blob = Vec::new();
        for item in parts.snapshot.range_with(.., &options) {
            let (_, chunk) = item.map_err(|error| read(any(&error)))?;
            blob.extend_from_slice(&chunk);
        }
        Ok(Some(openraft::Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(blob)),
        }))
    }
}

/// Adds "delete every key of `keyspace`" to `batch`: one range deletion from the empty key to
/// just past the last key present (with a delete of that key when it is as long as a key can
/// be, since the end of a range is excluded and no longer). Only the state machine writes to
/// its keyspaces, and not meanwhile (`&mut self`), so no key can appear past it before the batch
/// commits.
fn delete_everything(batch: &mut WriteBatch, keyspace: &Keyspace) -> Result<()> {
    let Some((mut last, _)) = keyspace.last_key_value()? else {
        return Ok(());
    };
    if last.len() < MAX_KEY_SIZE {
        last.push(0);
        batch.delete_range_in(keyspace, b"", &last)
    } else {
        batch.delete_range_in(keyspace, b"", &last)?;
        batch.delete_in(keyspace, &last)
    }
}

/// Adds to `batch` "the current snapshot is `meta` with `blob`": the chunks of the old one
/// deleted, the new ones and the metadata written.
fn add_current_snapshot(
    batch: &mut WriteBatch,
    parts: &Parts,
    meta: &SnapshotMeta,
    blob: &[u8],
) -> Result<(), AnyError> {
    delete_everything(batch, &parts.snapshot).map_err(|error| any(&error))?;
    for (number, chunk) in (0u64..).zip(blob.chunks(CHUNK_SIZE)) {
        batch
            .put_in(&parts.snapshot, &number.to_be_bytes(), chunk)
            .map_err(|error| any(&error))?;
    }
    batch
        .put_in(&parts.meta, meta_key::SNAPSHOT, &encode(meta)?)
        .map_err(|error| any(&error))
}

/// Builds a snapshot of the state machine as it was when openraft asked for the builder: reads
/// at the shaledb [`Snapshot`] taken then, so the state machine applies on meanwhile. The
/// snapshot it builds becomes the current one (unless a newer one is already), synced before
/// `build_snapshot` returns.
///
/// ```
/// use std::sync::Arc;
/// use openraft::storage::RaftStateMachine;
/// use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftSnapshotBuilder};
/// use shaledb::raft::{Request, TypeConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
/// let (_log_store, mut state_machine) = shaledb::raft::open(&db, "raft")?;
/// let put = |index: u64, value: &[u8]| Entry::<TypeConfig> {
///     log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
///     payload: EntryPayload::Normal(Request::Put { key: b"k".to_vec(), value: value.to_vec() }),
/// };
/// tokio::runtime::Runtime::new()?.block_on(async {
///     state_machine.apply([put(1, b"old")]).await?;
///     let mut builder = state_machine.get_snapshot_builder().await; // the point is taken here
///     state_machine.apply([put(2, b"new")]).await?;
///     let snapshot = builder.build_snapshot().await?;
///     assert_eq!(snapshot.meta.last_log_id.map(|log_id| log_id.index), Some(1));
///     let current = state_machine.get_current_snapshot().await?.expect("kept");
///     assert_eq!(current.meta, snapshot.meta);
///     Ok::<_, shaledb::raft::StorageError>(())
/// })?;
/// # Ok(())
/// # }
/// ```
pub struct SnapshotBuilder {
    parts: Parts,
    at: Snapshot,
}

impl std::fmt::Debug for SnapshotBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotBuilder")
            .field("at", &self.at)
            .finish()
    }
}

impl SnapshotBuilder {
    /// The snapshot's metadata and blob: the applied state at `self.at`, the state keyspace's
    /// entries streamed into the blob one by one.
    fn build(&self) -> Result<(SnapshotMeta, Vec<u8>), AnyError> {
        let parts = &self.parts;
        let options = ReadOptions {
            snapshot: Some(&self.at),
            // One pass over every block: leave the block cache to the working set.
            fill_cache: false,
            ..ReadOptions::default()
        };
        let meta_value = |key: &[u8]| parts.meta.get_with(key, &options);
        let applied: Option<LogId> = match meta_value(meta_key::APPLIED).map_err(|e| any(&e))? {
            Some(bytes) => Some(decode(&bytes, "applied log id")?),
            None => None,
        };
        let membership: StoredMembership =
            match meta_value(meta_key::MEMBERSHIP).map_err(|e| any(&e))? {
                Some(bytes) => decode(&bytes, "membership")?,
                None => StoredMembership::default(),
            };
        let mut writer = BlobWriter::new();
        for item in parts.state.range_with(.., &options) {
            let (key, value) = item.map_err(|error| any(&error))?;
            writer.add(&key, &value);
        }
        for item in stored_sessions(&parts.meta, &options) {
            let (client, value) = item?;
            writer.add_session(client, &value);
        }
        let snapshot_id = match applied {
            Some(log_id) => format!(
                "{}-{}-{}-{}",
                log_id.leader_id.term,
                log_id.leader_id.node_id,
                log_id.index,
                self.at.sequence()
            ),
            None => format!("none-{}", self.at.sequence()),
        };
        let meta = SnapshotMeta {
            last_log_id: applied,
            last_membership: membership,
            snapshot_id,
        };
        Ok((meta, writer.finish()))
    }

    /// Makes `meta` and `blob` the current snapshot, unless the current one is newer.
    fn keep(&self, meta: &SnapshotMeta, blob: &[u8]) -> Result<(), AnyError> {
        let parts = &self.parts;
        let _replacing = parts
            .snapshot_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current: Option<SnapshotMeta> =
            read_meta(&parts.meta, meta_key::SNAPSHOT, "snapshot metadata")?;
        if current.is_some_and(|current| current.last_log_id > meta.last_log_id) {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        add_current_snapshot(&mut batch, parts, meta, blob)?;
        parts
            .db
            .write(batch, &WriteOptions::SYNC)
            .map_err(|error| any(&error))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<openraft::Snapshot<TypeConfig>, StorageError> {
        let (meta, blob) = self
            .build()
            .map_err(|error| StorageError::from(StorageIOError::read_state_machine(error)))?;
        self.keep(&meta, &blob).map_err(|error| {
            StorageError::from(StorageIOError::write_snapshot(
                Some(meta.signature()),
                error,
            ))
        })?;
        Ok(openraft::Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(blob)),
        })
    }
}
