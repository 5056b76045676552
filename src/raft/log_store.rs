//! [`LogStore`] and [`LogReader`]: openraft's log, and the vote, committed and purge points
//! that go with it, on shaledb (FORMAT.md 9.2, 9.3).
//!
//! Owns: the log keyspace (`{group}.log`, one entry per key, the key its index in big-endian
//! bytes) and the log's keys of the metadata keyspace (`vote`, `committed`, `purged`).
//!
//! Invariants:
//! - The entries above the purge point are one run of consecutive indexes: an append starts
//!   at most one past the log's last index (its last entry's, or the purge point's when that is
//!   greater) and after the last entry present (overwriting takes a truncation first), and
//!   continues without a gap; a truncation cuts the run's tail and a purge its head. An append
//!   that would leave a hole is refused, and nothing of it is written. (openraft's storage
//!   suite appends below the purge point too; openraft never reads such entries, and the next
//!   purge deletes them.)
//! - `last_present` and `last_purged` are what the keyspaces hold: a write that fails leaves
//!   both as they were.
//! - The vote, a truncation and a purge (its range deletion and the new purge point, one
//!   batch) are synced before their call returns. The committed point is not: it is saved at
//!   every advance of the commit index, on openraft's core task, and an older one after a
//!   crash is still a committed point (shaledb loses an unsynced write only with every later
//!   one). An append is visible when
//!   `append` returns and durable when its `LogFlushed` callback runs: it is written with
//!   `Db::write_durable_then`, so that concurrent appends share an fdatasync, and callbacks run
//!   in commit order, each once every earlier write is durable too.
//!
//! Threads: openraft calls the `LogStore` from its core task only (`&mut self`), one call at a
//! time, which keeps the writes in order; `LogReader`s (one per replication task) read beside
//! it. Each call does its shaledb work on the calling thread, blocking it for the commit (and
//! for the fsync of a synced write): run openraft on tokio's multi-threaded runtime.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, LogState, OptionalSend, RaftLogReader, StorageIOError, Vote};

use super::types::{
    Entry, LOG_END_KEY, LogId, NodeId, StorageError, TypeConfig, any, decode, encode, io_error,
    log_index, log_key, meta_key,
};
use crate::batch::WriteBatch;
use crate::db::Db;
use crate::keyspace::Keyspace;
use crate::options::WriteOptions;

/// openraft's log storage on a shaledb database: the entries in the log keyspace, the vote,
/// committed and purge points in the metadata keyspace. Get one, with its
/// [`StateMachine`](super::StateMachine), from [`open`](super::open), and give both to
/// `openraft::Raft::new`.
///
/// ```
/// use std::sync::Arc;
/// use openraft::storage::RaftLogStorage;
/// use openraft::{CommittedLeaderId, Vote};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
/// let (mut log_store, _state_machine) = shaledb::raft::open(&db, "raft")?;
/// tokio::runtime::Runtime::new()?.block_on(async {
///     log_store.save_vote(&Vote::new(1, 0)).await?; // synced when it returns
///     assert_eq!(log_store.read_vote().await?, Some(Vote::new(1, 0)));
///     let state = log_store.get_log_state().await?;
///     assert_eq!(state.last_log_id, None); // nothing appended yet
///     Ok::<_, shaledb::raft::StorageError>(())
/// })?;
/// # Ok(())
/// # }
/// ```
pub struct LogStore {
    db: Arc<Db>,
    log: Keyspace,
    meta: Keyspace,
    /// The id of the last entry present, `None` when there is none.
    last_present: Option<LogId>,
    /// The purge point: every entry at or below it is gone.
    last_purged: Option<LogId>,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("log", &self.log.name())
            .field("last_present", &self.last_present)
            .field("last_purged", &self.last_purged)
            .finish()
    }
}

impl LogStore {
    /// The log store over `log` and `meta` of `db`, with its last entry and purge point read.
    pub(crate) fn open(
        db: Arc<Db>,
        log: Keyspace,
        meta: Keyspace,
    ) -> Result<LogStore, StorageError> {
        let last_purged = read_meta(&meta, meta_key::PURGED, "purge point")
            .map_err(|error| StorageError::from(StorageIOError::read_logs(error)))?;
        let last_present = last_entry_id(&log)?;
        Ok(LogStore {
            db,
            log,
            meta,
            last_present,
            last_purged,
        })
    }

    /// The id of the log's last entry as openraft sees it: the last entry present or, when
    /// there is none above it, the purge point.
    fn last_log_id(&self) -> Option<LogId> {
        match (self.last_present, self.last_purged) {
            (Some(present), Some(purged)) if purged.index > present.index => Some(purged),
            (present, purged) => present.or(purged),
        }
    }

    /// Refuses an append of `index` after `previous` (the entry before it in the same append,
    /// `None` for the first) that would leave a hole or overwrite an entry present.
    fn check_append(&self, index: u64, previous: Option<u64>) -> Result<(), AnyError> {
        let refused = |why: String| {
            Err(AnyError::error(format!(
                "an append of entry {index} refused: {why}"
            )))
        };
        if let Some(previous) = previous {
            if previous.checked_add(1) != Some(index) {
                return refused(format!("it follows entry {previous} in the same append"));
            }
            return Ok(());
        }
        if let Some(last) = self.last_log_id()
            && index > last.index.saturating_add(1)
        {
            return refused(format!("the log ends at {}: a hole", last.index));
        }
        if let Some(present) = self.last_present
            && index <= present.index
        {
            return refused(format!(
                "entry {} is present; truncate before overwriting",
                present.index
            ));
        }
        Ok(())
    }

    /// Writes `batch` synced; a failure is openraft's error `wrap` makes of it.
    fn write_synced(
        &self,
        batch: WriteBatch,
        wrap: fn(AnyError) -> StorageIOError<NodeId>,
    ) -> Result<(), StorageError> {
        self.db
            .write(batch, &WriteOptions::SYNC)
            .map_err(|error| StorageError::from(wrap(any(&error))))
    }
}

/// The metadata value at `key`, decoded, or `None` when absent.
pub(crate) fn read_meta<T: for<'de> serde::Deserialize<'de>>(
    meta: &Keyspace,
    key: &[u8],
    what: &str,
) -> Result<Option<T>, AnyError> {
    match meta.get(key).map_err(|error| any(&error))? {
        Some(bytes) => decode(&bytes, what).map(Some),
        None => Ok(None),
    }
}

/// The log id of the last entry of `log`, `None` when it has none.
fn last_entry_id(log: &Keyspace) -> Result<Option<LogId>, StorageError> {
    let read = |error: AnyError| StorageError::from(StorageIOError::read_logs(error));
    match log.last_key_value().map_err(|error| read(any(&error)))? {
        Some((key, value)) => {
            let entry = decode_entry(&key, &value).map_err(read)?;
            Ok(Some(entry.log_id))
        }
        None => Ok(None),
    }
}

/// The entry stored under `key`, checked to be the entry of that index.
fn decode_entry(key: &[u8], value: &[u8]) -> Result<Entry, AnyError> {
    let index = log_index(key)
        .ok_or_else(|| AnyError::error(format!("a log key of {} bytes, not 8", key.len())))?;
    let entry: Entry = decode(value, "log entry")?;
    if entry.log_id.index != index {
        return Err(AnyError::error(format!(
            "the log entry under index {index} says it is index {}",
            entry.log_id.index
        )));
    }
    Ok(entry)
}

/// The two ends of a range of keys.
type KeyBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The keys of the log indexes in `range`, as bounds of a keyspace range; `None` when the
/// range starts after the largest index.
fn key_bounds(range: &impl RangeBounds<u64>) -> Option<KeyBounds> {
    let start = match range.start_bound() {
        Bound::Included(&index) => Bound::Included(log_key(index).to_vec()),
        Bound::Excluded(&index) => Bound::Included(log_key(index.checked_add(1)?).to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    let end = match range.end_bound() {
        Bound::Included(&u64::MAX) | Bound::Unbounded => Bound::Unbounded,
        Bound::Included(&index) => Bound::Excluded(log_key(index + 1).to_vec()),
        Bound::Excluded(&index) => Bound::Excluded(log_key(index).to_vec()),
    };
    Some((start, end))
}

/// The entries of `log` in `range` (those present: purged and truncated ones are not), in
/// index order.
fn read_entries(log: &Keyspace, range: impl RangeBounds<u64>) -> Result<Vec<Entry>, StorageError> {
    let read = |error: AnyError| StorageError::from(StorageIOError::read_logs(error));
    let Some(bounds) = key_bounds(&range) else {
        return Ok(Vec::new());
    };
    let mut entries = Vec::new();
    for item in log.range(bounds) {
        let (key, value) = item.map_err(|error| read(any(&error)))?;
        entries.push(decode_entry(&key, &value).map_err(read)?);
    }
    Ok(entries)
}

/// A reader of the log, for openraft's replication tasks: cheap to clone, and reads beside the
/// [`LogStore`] that made it (`get_log_reader`).
///
/// ```
/// use std::sync::Arc;
/// use openraft::storage::RaftLogStorage;
/// use openraft::RaftLogReader;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(shaledb::Db::open(dir.path(), shaledb::Options::default())?);
/// let (mut log_store, _state_machine) = shaledb::raft::open(&db, "raft")?;
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let mut reader = log_store.get_log_reader().await;
///     assert!(reader.try_get_log_entries(0..10).await?.is_empty());
///     Ok::<_, shaledb::raft::StorageError>(())
/// })?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct LogReader {
    log: Keyspace,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("log", &self.log.name())
            .finish()
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        read_entries(&self.log, range)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        read_entries(&self.log, range)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        Ok(LogState {
            last_purged_log_id: self.last_purged,
            last_log_id: self.last_log_id(),
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        LogReader {
            log: self.log.clone(),
        }
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let write = |error| StorageError::from(StorageIOError::write_vote(error));
        let mut batch = WriteBatch::new();
        let value = encode(vote).map_err(write)?;
        batch
            .put_in(&self.meta, meta_key::VOTE, &value)
            .map_err(|error| write(any(&error)))?;
        self.write_synced(batch, StorageIOError::write_vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        read_meta(&self.meta, meta_key::VOTE, "vote")
            .map_err(|error| StorageError::from(StorageIOError::read_vote(error)))
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let write = |error| StorageError::from(StorageIOError::write(error));
        let mut batch = WriteBatch::new();
        match committed {
            Some(committed) => {
                let value = encode(&committed).map_err(write)?;
                batch.put_in(&self.meta, meta_key::COMMITTED, &value)
            }
            None => batch.delete_in(&self.meta, meta_key::COMMITTED),
        }
        .map_err(|error| write(any(&error)))?;
        // Not synced: openraft calls this on its core task at every advance of the commit
        // index, and a synced write there would hold every append behind one fdatasync each.
        // Losing it is safe: shaledb loses an unsynced write only with every write after it,
        // so after a crash `committed` is an older committed point (or none), and openraft
        // learns the rest from the leader.
        self.db
            .write(batch, &WriteOptions { sync: false })
            .map_err(|error| write(any(&error)))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        read_meta(&self.meta, meta_key::COMMITTED, "committed log id")
            .map_err(|error| StorageError::from(StorageIOError::read(error)))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let write = |error| StorageError::from(StorageIOError::write_logs(error));
        let mut batch = WriteBatch::new();
        let mut previous = None;
        let mut last = self.last_present;
        for entry in entries {
            let index = entry.log_id.index;
            self.check_append(index, previous).map_err(write)?;
            let value = encode(&entry).map_err(write)?;
            batch
                .put_in(&self.log, &log_key(index), &value)
                .map_err(|error| write(any(&error)))?;
            previous = Some(index);
            last = Some(entry.log_id);
        }
        // Even an empty append gets its callback from the sync thread: it must not come before
        // the callbacks of the appends before it.
        self.db
            .write_durable_then(batch, move |result| {
                callback.log_io_completed(result.map_err(io_error));
            })
            .map_err(|error| write(any(&error)))?;
        self.last_present = last;
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let write = |error| StorageError::from(StorageIOError::write_logs(error));
        let mut batch = WriteBatch::new();
        batch
            .delete_range_in(&self.log, &log_key(log_id.index), &LOG_END_KEY)
            .map_err(|error| write(any(&error)))?;
        self.write_synced(batch, StorageIOError::write_logs)?;
        self.last_present = last_entry_id(&self.log)?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let write = |error| StorageError::from(StorageIOError::write_logs(error));
        let mut batch = WriteBatch::new();
        let end = match log_id.index.checked_add(1) {
            Some(next) => log_key(next).to_vec(),
            None => LOG_END_KEY.to_vec(),
        };
        let value = encode(&log_id).map_err(write)?;
        batch
            .delete_range_in(&self.log, &log_key(0), &end)
            .and_then(|()| batch.put_in(&self.meta, meta_key::PURGED, &value))
            .map_err(|error| write(any(&error)))?;
        self.write_synced(batch, StorageIOError::write_logs)?;
        self.last_purged = Some(log_id);
        if self
            .last_present
            .is_some_and(|last| last.index <= log_id.index)
        {
            self.last_present = None;
        }
        Ok(())
    }
}
