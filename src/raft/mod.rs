//! shaledb as the storage of an [openraft](https://docs.rs/openraft/0.9) node (the `raft`
//! feature): openraft 0.9's log storage and state machine (its `storage-v2` traits) on one
//! shaledb database, in four keyspaces of their own.
//!
//! - [`LogStore`] (`RaftLogStorage`, with [`LogReader`] for the replication tasks): the log in
//!   `{group}.log`, one entry per key, keyed by the big-endian index; the vote, the committed
//!   log id and the purge point in `{group}.meta`, each synced before its save returns. An
//!   append is readable when `append` returns and signals openraft's `LogFlushed` callback
//!   when a shared fdatasync has made it durable ([`Db::write_durable_then`]), so that
//!   concurrent appends share one fsync; appends continue the log with no hole, and a
//!   truncation or a purge is one range deletion (with the new purge point, in the same batch).
//! - [`StateMachine`] (`RaftStateMachine`, with [`SnapshotBuilder`]): a key-value store in
//!   `{group}.state`, changed by [`Request`]s; each `apply` writes its entries' requests, the
//!   last applied log id and any new membership in one batch. A snapshot is built by streaming
//!   the state keyspace from a shaledb [`Snapshot`](crate::Snapshot) into a checksummed blob
//!   (FORMAT.md 9.4), kept as the current snapshot in `{group}.snapshot`; installing one
//!   replaces the whole state keyspace and the applied state in one synced batch.
//! - [`StateReader`]: reads of the replicated keys and values as a node has applied them.
//!
//! [`open`] makes the pair from a database; the database may hold other keyspaces (and other
//! raft groups, under other group names) beside them, and every batch of the raft storage is
//! atomic across its keyspaces. The bytes are specified in FORMAT.md, section 9.
//!
//! ```
//! use std::sync::Arc;
//! use openraft::storage::{RaftLogStorage, RaftStateMachine};
//! use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader};
//! use shaledb::raft::{Request, TypeConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
//! let (mut log_store, mut state_machine) = shaledb::raft::open(&db, "raft")?;
//! let reader = state_machine.reader(); // local reads of the replicated keys
//! // Hand both to openraft: `openraft::Raft::new(id, config, network, log_store, state_machine)`.
//! // It saves votes, appends entries and applies the committed ones; here, two of those by hand.
//! let entry = Entry::<TypeConfig> {
//!     log_id: LogId::new(CommittedLeaderId::new(1, 0), 0),
//!     payload: EntryPayload::Normal(Request::Put { key: b"k".to_vec(), value: b"v".to_vec() }),
//! };
//! tokio::runtime::Runtime::new()?.block_on(async {
//!     log_store.save_vote(&openraft::Vote::new(1, 0)).await?;
//!     state_machine.apply([entry]).await?;
//!     let mut log = log_store.get_log_reader().await;
//!     assert!(log.try_get_log_entries(0..10).await?.is_empty()); // openraft appends, not us
//!     Ok::<_, shaledb::raft::StorageError>(())
//! })?;
//! assert_eq!(reader.get(b"k")?.as_deref(), Some(&b"v"[..]));
//! assert!(db.keyspaces().contains(&"raft.log".to_string()));
//! # Ok(())
//! # }
//! ```
//!
//! The storage only: the network is the application's (the `shale` program's `raft-cluster`
//! feature has a TCP one for its loopback cluster, `shale raft demo`). Snapshots are
//! held in memory whole (openraft 0.9's `Cursor<Vec<u8>>` snapshot data) while they are built,
//! sent, received and installed, so a state machine must fit in memory a few times over.

#![expect(
    clippy::result_large_err,
    reason = "openraft's traits return its StorageError (224 bytes); the functions around them \
              return it too rather than box it only to unbox it at the trait"
)]

mod log_store;
mod snapshot_blob;
mod state_machine;
mod types;

use std::sync::Arc;

use openraft::StorageIOError;

pub use log_store::{LogReader, LogStore};
pub use state_machine::{SnapshotBuilder, StateMachine, StateReader};
pub use types::{Request, Response, StorageError, TypeConfig};

use crate::db::Db;
use crate::keyspace_options::KeyspaceOptions;
use types::{KeyspaceNames, any};

/// The log store and state machine of raft group `group` in `db`: its keyspaces
/// `{group}.log`, `{group}.meta`, `{group}.state` and `{group}.snapshot`, created if missing,
/// with what they hold (the log's last entry, the purge point, the applied state) read back.
/// Open each group once at a time: two stores over the same keyspaces would interleave their
/// writes.
///
/// Fails when a keyspace cannot be opened (the group name too long for a keyspace name, a
/// database opened read-only without them, a closed one) or what it holds cannot be decoded.
///
/// ```
/// use std::sync::Arc;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
/// let (log_store, state_machine) = shaledb::raft::open(&db, "orders")?;
/// let mut keyspaces = db.keyspaces();
/// keyspaces.sort();
/// assert_eq!(keyspaces, ["default", "orders.log", "orders.meta", "orders.snapshot", "orders.state"]);
/// # drop((log_store, state_machine));
/// # Ok(())
/// # }
/// ```
pub fn open(db: &Arc<Db>, group: &str) -> Result<(LogStore, StateMachine), StorageError> {
    let names = KeyspaceNames::of(group);
    let keyspace = |name: &str| {
        db.keyspace(name, KeyspaceOptions::default())
            .map_err(|error| StorageError::from(StorageIOError::read(any(&error))))
    };
    let log = keyspace(&names.log)?;
    let meta = keyspace(&names.meta)?;
    let state = keyspace(&names.state)?;
    let snapshot = keyspace(&names.snapshot)?;
    let log_store = LogStore::open(Arc::clone(db), log, meta.clone())?;
    let state_machine = StateMachine::open(Arc::clone(db), state, meta, snapshot)?;
    Ok((log_store, state_machine))
}
