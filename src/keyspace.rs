//! [`Keyspace`]: the handle of one named tree of a database, and every read and write that goes
//! to one keyspace. `Db`'s own reads and writes are those of its default keyspace, and go
//! through here too; so do the keyspace operations of a [`WriteBatch`] (`put_in` and the rest).
//!
//! Every keyspace has its own memtables, levels and compactions; all share the write-ahead log,
//! the group commit and the sequence numbers (`engine.rs`), so a batch spanning keyspaces is
//! atomic and a snapshot sees every keyspace at one sequence. Creating and dropping keyspaces is
//! `keyspace_admin.rs`.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::batch::{MERGE_OPERATION, RANGE_DELETE_OPERATION, WriteBatch};
use crate::compaction_filter::{now_micros, unwrap_expiring};
use crate::db_iterator::{DbIterator, Key, prefix_successor};
use crate::durability::Completion;
use crate::engine::{Engine, KeyspaceShared, lock};
use crate::error::{Error, Result};
use crate::key::{KeyspaceId, SequenceNumber, ValueKind, check_key, check_value};
use crate::key_range::{KeyBounds, KeyRange};
use crate::keyspace_options::KeyspaceOptions;
use crate::manifest::NUM_LEVELS;
use crate::options::{ReadOptions, WriteOptions};
use crate::read_view::ReadView;
use crate::sstable::BlockReadOptions;
use crate::stats::pressure::{Pressure, PressureInputs};
use crate::stats::{KeyspaceStats, LevelStats};
use crate::value::Value;

/// One named tree of a database (a column family in RocksDB, a keyspace in fjall): its own
/// memtables, levels, compactions and [`KeyspaceOptions`], beside the others in one write-ahead
/// log. Get one with [`Db::keyspace`](crate::Db::keyspace); it is cheap to clone and
/// `Send + Sync`. A [`WriteBatch`] may write to several keyspaces at once, atomically, and a
/// [`Snapshot`](crate::Snapshot) reads every keyspace at the same point.
///
/// ```
/// use shaledb::{Db, KeyspaceOptions, Options, ReadOptions, WriteBatch, WriteOptions};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let users = db.keyspace("users", KeyspaceOptions::default())?;
/// let by_email = db.keyspace("users-by-email", KeyspaceOptions::default())?;
/// // A row and its index entry: both or neither, before and after any crash.
/// let mut batch = WriteBatch::new();
/// batch.put_in(&users, b"u1", b"Ada")?;
/// batch.put_in(&by_email, b"ada@example.com", b"u1")?;
/// db.write(batch, &WriteOptions::SYNC)?;
/// let snapshot = db.snapshot();
/// let at = ReadOptions { snapshot: Some(&snapshot), ..ReadOptions::default() };
/// let id = by_email.get_with(b"ada@example.com", &at)?.expect("indexed");
/// assert_eq!(users.get_with(&id, &at)?.as_deref(), Some(&b"Ada"[..]));
/// assert_eq!(db.get(b"u1")?, None); // the default keyspace is another tree
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Keyspace {
    engine: Arc<Engine>,
    shared: Arc<KeyspaceShared>,
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

impl Keyspace {
    /// The handle of the keyspace `shared` of `engine`.
    pub(crate) fn new(engine: Arc<Engine>, shared: Arc<KeyspaceShared>) -> Keyspace {
        Keyspace { engine, shared }
    }

    pub(crate) fn id(&self) -> KeyspaceId {
        self.shared.id
    }

    /// The engine, for tests that reach into it.
    #[cfg(test)]
    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The keyspace's name (`default` for the default keyspace).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// assert_eq!(db.default_keyspace().name(), "default");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The options the keyspace runs with (for the default keyspace, the per-tree fields of the
    /// database's [`Options`](crate::Options)).
    ///
    /// ```
    /// use shaledb::{Db, KeyspaceOptions, Options};
    /// # let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let small = KeyspaceOptions { write_buffer_size: 1 << 20, ..KeyspaceOptions::default() };
    /// assert_eq!(db.keyspace("small", small.clone())?.options(), small);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn options(&self) -> KeyspaceOptions {
        let state = lock(&self.engine.state);
        match state.keyspace_options(self.id()) {
            Some(options) => KeyspaceOptions::clone(&options),
            None => KeyspaceOptions::from_options(&self.engine.options),
        }
    }

    /// `Error::InvalidArgument` unless the keyspace has a merge operator (for writers that
    /// share batches between callers, so that one caller's merge does not fail the others').
    pub(crate) fn check_takes_merges(&self) -> Result<()> {
        let has_operator = self
            .engine
            .visibility
            .view(self.id())
            .is_some_and(|view| view.merge_operator.is_some());
        if has_operator {
            return Ok(());
        }
        Err(Error::InvalidArgument(format!(
            "keyspace {:?} has no merge operator, so it takes no merges",
            self.shared.name
        )))
    }

    /// `Error::InvalidArgument` once the keyspace was dropped.
    fn check_live(&self) -> Result<()> {
        if self.shared.dropped.load(Ordering::Acquire) {
            return Err(dropped_error(&self.shared.name));
        }
        Ok(())
    }

    fn default_write_options(&self) -> WriteOptions {
        WriteOptions {
            sync: self.engine.options.sync_writes,
        }
    }

    /// Sets `key` to `value` in this keyspace, synced as [`Options::sync_writes`](crate::Options::sync_writes)
    /// says. As [`Db::put`](crate::Db::put).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let sessions = db.keyspace("sessions", shaledb::KeyspaceOptions::default())?;
    /// sessions.put(b"s1", b"alice")?;
    /// assert_eq!(sessions.get(b"s1")?.as_deref(), Some(&b"alice"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_with(key, value, &self.default_write_options())
    }

    /// [`put`](Self::put) with explicit write options.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let cache = db.keyspace("cache", shaledb::KeyspaceOptions::default())?;
    /// cache.put_with(b"k", b"rebuildable", &shaledb::WriteOptions::NO_SYNC)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_with(&self, key: &[u8], value: &[u8], options: &WriteOptions) -> Result<()> {
        let batch = if self.shared.expiring() {
            WriteBatch::single_expiring_put(self.id(), key, value, self.shared.default_expiry())?
        } else {
            WriteBatch::single_put(self.id(), key, value)?
        };
        commit(&self.engine, batch, options.sync, None)
    }

    /// Sets `key` to `value` for `ttl` from now (then it is absent to every read, and
    /// compactions drop it), with the default sync: a put of its own lifetime in a keyspace of
    /// expiring values ([`KeyspaceOptions::time_to_live`]). `Duration::MAX` never expires.
    /// Fails with `Error::InvalidArgument` in a keyspace without a time to live.
    ///
    /// ```
    /// use std::time::Duration;
    /// use shaledb::{Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let hour = KeyspaceOptions { time_to_live: Some(Duration::from_secs(3600)), ..KeyspaceOptions::default() };
    /// let sessions = db.keyspace("sessions", hour)?;
    /// sessions.put(b"s1", b"alice")?; // lives an hour
    /// sessions.put_with_ttl(b"s2", b"bob", Duration::from_millis(1))?;
    /// std::thread::sleep(Duration::from_millis(5));
    /// assert_eq!(sessions.get(b"s1")?.as_deref(), Some(&b"alice"[..]));
    /// assert_eq!(sessions.get(b"s2")?, None); // expired: absent at once
    /// assert!(db.default_keyspace().put_with_ttl(b"k", b"v", Duration::from_secs(1)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_with_ttl(&self, key: &[u8], value: &[u8], ttl: std::time::Duration) -> Result<()> {
        self.check_expiring()?;
        let expiry = crate::compaction_filter::expiry_after(ttl);
        let batch = WriteBatch::single_expiring_put(self.id(), key, value, expiry)?;
        commit(&self.engine, batch, self.default_write_options().sync, None)
    }

    /// `Error::InvalidArgument` unless this is a keyspace of expiring values.
    fn check_expiring(&self) -> Result<()> {
        if !self.shared.expiring() {
            return Err(Error::InvalidArgument(format!(
                "keyspace {:?} has no time to live (KeyspaceOptions::time_to_live is None): \
                 its values carry no expiry",
                self.shared.name
            )));
        }
        Ok(())
    }

    /// Deletes `key` from this keyspace. As [`Db::delete`](crate::Db::delete).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"k", b"v")?;
    /// tree.delete(b"k")?;
    /// assert_eq!(tree.get(b"k")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.delete_with(key, &self.default_write_options())
    }

    /// [`delete`](Self::delete) with explicit write options.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.delete_with(b"k", &shaledb::WriteOptions::SYNC)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_with(&self, key: &[u8], options: &WriteOptions) -> Result<()> {
        let batch = WriteBatch::single_delete(self.id(), key)?;
        commit(&self.engine, batch, options.sync, None)
    }

    /// Records `operand` for `key` in this keyspace, to be combined with the value below it by
    /// the keyspace's merge operator ([`KeyspaceOptions::merge_operator`]). As
    /// [`Db::merge`](crate::Db::merge).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{CounterAdd, Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let counters = KeyspaceOptions { merge_operator: Some(Arc::new(CounterAdd)), ..KeyspaceOptions::default() };
    /// let stats = db.keyspace("stats", counters)?;
    /// stats.merge(b"requests", &CounterAdd::encode(3))?;
    /// stats.merge(b"requests", &CounterAdd::encode(4))?;
    /// assert_eq!(CounterAdd::decode(&stats.get(b"requests")?.unwrap()), Some(7));
    /// let plain = db.keyspace("plain", KeyspaceOptions::default())?;
    /// assert!(plain.merge(b"k", b"x").is_err()); // no merge operator: Error::InvalidArgument
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge(&self, key: &[u8], operand: &[u8]) -> Result<()> {
        self.merge_with(key, operand, &self.default_write_options())
    }

    /// [`merge`](Self::merge) with explicit write options.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{Db, KeyspaceOptions, ListAppend, Options, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let lists = KeyspaceOptions { merge_operator: Some(Arc::new(ListAppend)), ..KeyspaceOptions::default() };
    /// let tags = db.keyspace("tags", lists)?;
    /// tags.merge_with(b"post-1", &ListAppend::item(b"rust"), &WriteOptions::NO_SYNC)?;
    /// assert_eq!(ListAppend::items(&tags.get(b"post-1")?.unwrap())?, vec![&b"rust"[..]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge_with(&self, key: &[u8], operand: &[u8], options: &WriteOptions) -> Result<()> {
        let batch = WriteBatch::single_merge(self.id(), key, operand)?;
        commit(&self.engine, batch, options.sync, None)
    }

    /// Deletes every key of this keyspace in `range` (`start..end`). As
    /// [`Db::delete_range`](crate::Db::delete_range).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let log = db.keyspace("raft-log", shaledb::KeyspaceOptions::default())?;
    /// for index in 1..=5u64 {
    ///     log.put(&index.to_be_bytes(), b"entry")?;
    /// }
    /// log.delete_range(1u64.to_be_bytes()..4u64.to_be_bytes())?; // compact the log up to 4
    /// assert_eq!(log.iter().count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range<K: AsRef<[u8]>>(&self, range: std::ops::Range<K>) -> Result<()> {
        self.delete_range_with(range, &self.default_write_options())
    }

    /// [`delete_range`](Self::delete_range) with explicit write options.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.delete_range_with(&b"a"[..]..&b"m"[..], &shaledb::WriteOptions::SYNC)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range_with<K: AsRef<[u8]>>(
        &self,
        range: std::ops::Range<K>,
        options: &WriteOptions,
    ) -> Result<()> {
        let (start, end) = (range.start.as_ref(), range.end.as_ref());
        let batch = WriteBatch::single_delete_range(self.id(), start, end)?;
        commit(&self.engine, batch, options.sync, None)
    }

    /// The value of `key` in this keyspace. As [`Db::get`](crate::Db::get).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// assert_eq!(tree.get(b"missing")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        self.get_with(key, &ReadOptions::default())
    }

    /// [`get`](Self::get) with explicit read options (a snapshot, cache and checksum choices).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"k", b"old")?;
    /// let snapshot = db.snapshot();
    /// tree.put(b"k", b"new")?;
    /// let at = shaledb::ReadOptions { snapshot: Some(&snapshot), ..Default::default() };
    /// assert_eq!(tree.get_with(b"k", &at)?.as_deref(), Some(&b"old"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_with(&self, key: &[u8], options: &ReadOptions<'_>) -> Result<Option<Value>> {
        self.engine.check_open()?;
        check_key(key)?;
        let (sequence, view) = self.read_point(options)?;
        let value = view.get(key, sequence, block_options(options))?;
        self.visible(value, now_micros())
    }

    /// What a reader at `now` sees of `value`, a stored value of this keyspace: in a keyspace
    /// of expiring values, nothing once it expired, else the value without its expiry.
    fn visible(&self, value: Option<Value>, now: u64) -> Result<Option<Value>> {
        match value {
            Some(stored) if self.shared.expiring() => {
                unwrap_expiring(stored, now).map_err(|reason| {
                    Error::corruption(format!("keyspace {}", self.shared.name), 0, reason)
                })
            }
            value => Ok(value),
        }
    }

    /// The values of `keys` in this keyspace, all at one sequence. As
    /// [`Db::multi_get`](crate::Db::multi_get).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"a", b"1")?;
    /// let values = tree.multi_get(&[&b"a"[..], &b"b"[..]])?;
    /// assert_eq!(values[0].as_deref(), Some(&b"1"[..]));
    /// assert_eq!(values[1], None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn multi_get<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Value>>> {
        self.multi_get_with(keys, &ReadOptions::default())
    }

    /// [`multi_get`](Self::multi_get) with explicit read options.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// let values = tree.multi_get_with(&[b"a"], &shaledb::ReadOptions::default())?;
    /// assert_eq!(values, vec![None]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn multi_get_with<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        options: &ReadOptions<'_>,
    ) -> Result<Vec<Option<Value>>> {
        self.engine.check_open()?;
        for key in keys {
            check_key(key.as_ref())?;
        }
        let (sequence, view) = self.read_point(options)?;
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by(|&a, &b| keys[a].as_ref().cmp(keys[b].as_ref()));
        let mut results = vec![None; keys.len()];
        let mut previous: Option<(usize, &[u8])> = None;
        for index in order {
            let key = keys[index].as_ref();
            results[index] = match previous {
                Some((earlier, previous_key)) if previous_key == key => results[earlier].clone(),
                _ => view.get(key, sequence, block_options(options))?,
            };
            previous = Some((index, key));
        }
        if self.shared.expiring() {
            let now = now_micros();
            for result in &mut results {
                *result = self.visible(result.take(), now)?;
            }
        }
        Ok(results)
    }

    /// Whether this keyspace holds `key`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"k", b"")?;
    /// assert!(tree.contains_key(b"k")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains_key(&self, key: &[u8]) -> Result<bool> {
        self.contains_key_with(key, &ReadOptions::default())
    }

    /// [`contains_key`](Self::contains_key) with explicit read options.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// assert!(!tree.contains_key_with(b"k", &shaledb::ReadOptions::default())?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains_key_with(&self, key: &[u8], options: &ReadOptions<'_>) -> Result<bool> {
        Ok(self.get_with(key, options)?.is_some())
    }

    /// Every entry of this keyspace, in key order. As [`Db::iter`](crate::Db::iter).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"b", b"2")?;
    /// tree.put(b"a", b"1")?;
    /// let keys: Vec<_> = tree.iter().map(|item| item.map(|(key, _)| key)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> DbIterator {
        self.range(..)
    }

    /// The entries of this keyspace in `range`. As [`Db::range`](crate::Db::range).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// for key in [b"a", b"b", b"c"] {
    ///     tree.put(key, b"")?;
    /// }
    /// assert_eq!(tree.range(&b"b"[..]..).count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn range<R: KeyRange>(&self, range: R) -> DbIterator {
        self.range_with(range, &ReadOptions::default())
    }

    /// The entries of this keyspace whose keys start with `prefix`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"user/1", b"")?;
    /// tree.put(b"order/1", b"")?;
    /// assert_eq!(tree.prefix(b"user/").count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&self, prefix: &[u8]) -> DbIterator {
        match prefix_successor(prefix) {
            Some(end) => self.range(prefix..end.as_slice()),
            None => self.range(prefix..),
        }
    }

    /// [`range`](Self::range) with explicit read options. As
    /// [`Db::range_with`](crate::Db::range_with).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// let snapshot = db.snapshot();
    /// tree.put(b"later", b"")?;
    /// let at = shaledb::ReadOptions { snapshot: Some(&snapshot), ..Default::default() };
    /// assert_eq!(tree.range_with(.., &at).count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn range_with<R: KeyRange>(&self, range: R, options: &ReadOptions<'_>) -> DbIterator {
        let bounds = KeyBounds::of(&range).intersect(iterate_bounds(options));
        match self
            .engine
            .check_open()
            .and_then(|()| self.read_point(options))
        {
            Ok((sequence, view)) => {
                let tombstones = view.range_tombstones(sequence);
                let merge_operator = view.merge_operator.clone();
                DbIterator::new(
                    view.sources(block_options(options), bounds.clone()),
                    sequence,
                    bounds,
                )
                .with_range_tombstones(tombstones)
                .with_merge_operator(merge_operator)
                .with_expiry(self.shared.expiring().then(now_micros))
            }
            Err(error) => DbIterator::failed(error),
        }
    }

    /// The first entry of this keyspace, if any.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"b", b"2")?;
    /// tree.put(b"a", b"1")?;
    /// assert_eq!(tree.first_key_value()?.map(|(key, _)| key), Some(b"a".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn first_key_value(&self) -> Result<Option<(Key, Value)>> {
        self.range(..).next().transpose()
    }

    /// The last entry of this keyspace, if any.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"b", b"2")?;
    /// tree.put(b"a", b"1")?;
    /// assert_eq!(tree.last_key_value()?.map(|(key, _)| key), Some(b"b".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn last_key_value(&self) -> Result<Option<(Key, Value)>> {
        self.range(..).next_back().transpose()
    }

    /// Writes this keyspace's memtable to a level-0 table and waits for it (and for every one
    /// of its memtables frozen before). Other keyspaces are not flushed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"k", b"v")?;
    /// tree.flush()?;
    /// assert_eq!(tree.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        check_writable_handle(&self.engine)?;
        self.check_live()?;
        crate::flush::flush_and_wait(&self.engine, Some(&[self.id()]))
    }

    /// A [`LargeBatch`](crate::LargeBatch) of this keyspace with the default
    /// [`LargeBatchOptions`](crate::LargeBatchOptions) (a 64 MiB buffer): an atomic batch of
    /// any size, staged on disk and committed with one manifest edit.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// let mut batch = tree.large_batch()?;
    /// batch.put(b"k", b"v")?;
    /// batch.commit()?;
    /// assert_eq!(tree.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(db.get(b"k")?, None); // another keyspace
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn large_batch(&self) -> Result<crate::LargeBatch> {
        self.large_batch_with(&crate::LargeBatchOptions::default())
    }

    /// [`large_batch`](Self::large_batch) with `options`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let options = shaledb::LargeBatchOptions { buffer_size: 1 << 20, ..Default::default() };
    /// let batch = db.default_keyspace().large_batch_with(&options)?;
    /// assert!(batch.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn large_batch_with(
        &self,
        options: &crate::LargeBatchOptions,
    ) -> Result<crate::LargeBatch> {
        check_writable_handle(&self.engine)?;
        self.check_live()?;
        crate::large_batch::LargeBatch::new(
            Arc::clone(&self.engine),
            Arc::clone(&self.shared),
            options,
        )
    }

    /// Takes the SSTable files `paths`, written by [`TableWriter`](crate::TableWriter), into
    /// this keyspace atomically, linked (or copied) into the database directory: as
    /// [`Db::ingest`](crate::Db::ingest).
    ///
    /// ```
    /// use shaledb::{TableOptions, TableWriter};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path().join("db"), shaledb::Options::default())?;
    /// let path = dir.path().join("t.sst");
    /// let mut writer = TableWriter::create(&path, &TableOptions::default())?;
    /// writer.put(b"k", b"v")?;
    /// writer.finish()?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.ingest(&[&path])?;
    /// assert_eq!(tree.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ingest<P: AsRef<std::path::Path>>(&self, paths: &[P]) -> Result<crate::IngestReport> {
        self.ingest_with(paths, &crate::IngestOptions::default())
    }

    /// [`ingest`](Self::ingest) with `options` (to move the files instead of linking them).
    ///
    /// ```
    /// use shaledb::{IngestOptions, TableOptions, TableWriter};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path().join("db"), shaledb::Options::default())?;
    /// let path = dir.path().join("t.sst");
    /// let mut writer = TableWriter::create(&path, &TableOptions::default())?;
    /// writer.put(b"k", b"v")?;
    /// writer.finish()?;
    /// let moving = IngestOptions { move_files: true, ..IngestOptions::default() };
    /// db.default_keyspace().ingest_with(&[&path], &moving)?;
    /// assert!(!path.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ingest_with<P: AsRef<std::path::Path>>(
        &self,
        paths: &[P],
        options: &crate::IngestOptions,
    ) -> Result<crate::IngestReport> {
        check_writable_handle(&self.engine)?;
        self.check_live()?;
        if self.shared.expiring() {
            return Err(Error::InvalidArgument(format!(
                "keyspace {:?} holds expiring values (KeyspaceOptions::time_to_live), whose \
                 bytes carry an expiry (FORMAT.md 7.3) that a table built by TableWriter does \
                 not; ingest into a keyspace without a time to live, or write through a \
                 LargeBatch",
                self.shared.name
            )));
        }
        let paths: Vec<std::path::PathBuf> = paths
            .iter()
            .map(|path| path.as_ref().to_path_buf())
            .collect();
        let tables = crate::ingest::take_in_files(&self.engine, &paths, options)?;
        self.check_live()?;
        crate::ingest::commit_tables(&self.engine, self.id(), tables)
    }

    /// Compacts every file of this keyspace overlapping `range` down to the last level. As
    /// [`Db::compact_range`](crate::Db::compact_range).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"k", b"v")?;
    /// tree.compact_range(..)?;
    /// assert_eq!(tree.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact_range<R: KeyRange>(&self, range: R) -> Result<()> {
        check_writable_handle(&self.engine)?;
        self.check_live()?;
        let KeyBounds { lower, upper } = KeyBounds::of(&range);
        crate::flush::flush_and_wait(&self.engine, Some(&[self.id()]))?;
        crate::compaction::scheduler::compact_range(&self.engine, self.id(), lower, upper)
    }

    /// Checks the manifest and every table of this keyspace, as
    /// [`Db::verify`](crate::Db::verify) does for all of them.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"k", b"v")?;
    /// tree.flush()?;
    /// let report = tree.verify()?;
    /// assert_eq!(report.files, 2); // the manifest and the one table
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self) -> Result<crate::VerifyReport> {
        self.engine.check_open()?;
        self.check_live()?;
        crate::verify::verify(&self.engine, Some(self.id()))
    }

    /// This keyspace's levels and memtables (what [`Stats::keyspaces`](crate::Stats::keyspaces)
    /// holds for it). Fails once the keyspace is dropped.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// tree.put(b"k", b"v")?;
    /// assert!(tree.stats()?.memtable_bytes > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Result<KeyspaceStats> {
        self.engine.check_open()?;
        keyspace_stats(&self.engine, self.id()).ok_or_else(|| dropped_error(&self.shared.name))
    }

    /// How close writes to this keyspace are to being slowed down or stopped by its compaction
    /// debt. As [`Db::pressure`](crate::Db::pressure), for this keyspace; each keyspace's
    /// writers feel only its own debt.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let tree = db.keyspace("tree", shaledb::KeyspaceOptions::default())?;
    /// assert_eq!(tree.pressure().level0_files, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pressure(&self) -> Pressure {
        let (options, levels, immutables) = {
            let state = lock(&self.engine.state);
            // A dropped keyspace has no files and no debt (its options no longer matter).
            let Some(options) = state.keyspace_options(self.id()) else {
                let options = Arc::new(KeyspaceOptions::from_options(&self.engine.options));
                return pressure_of(&self.engine, &options, &Default::default(), 0);
            };
            (
                options,
                state
                    .versions
                    .manifest_state()
                    .keyspace(self.id())
                    .levels
                    .clone(),
                state
                    .immutables
                    .iter()
                    .filter(|frozen| frozen.keyspace == self.id())
                    .count(),
            )
        };
        pressure_of(&self.engine, &options, &levels, immutables)
    }

    /// The sequence number and view a read with `options` sees.
    fn read_point(&self, options: &ReadOptions<'_>) -> Result<(SequenceNumber, Arc<ReadView>)> {
        let read = match options.snapshot {
            Some(snapshot) if !snapshot.belongs_to(&self.engine.snapshots) => {
                return Err(Error::InvalidArgument(
                    "ReadOptions::snapshot was taken from another database".into(),
                ));
            }
            Some(snapshot) => self
                .engine
                .visibility
                .view(self.id())
                .map(|view| (snapshot.sequence(), view)),
            None => self.engine.visibility.read_point(self.id()),
        };
        read.ok_or_else(|| dropped_error(&self.shared.name))
    }
}

impl WriteBatch {
    /// Adds "set `key` to `value` in `keyspace`". Fails like [`put`](Self::put). Each
    /// operation belongs to its keyspace; the batch is atomic across all of them.
    ///
    /// ```
    /// use shaledb::{Db, KeyspaceOptions, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let log = db.keyspace("log", KeyspaceOptions::default())?;
    /// let state = db.keyspace("state", KeyspaceOptions::default())?;
    /// let mut batch = WriteBatch::new();
    /// batch.put_in(&log, b"entry-7", b"set x = 1")?;
    /// batch.put_in(&state, b"x", b"1")?;
    /// batch.put_in(&state, b"applied", b"7")?;
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// assert_eq!(state.get(b"applied")?.as_deref(), Some(&b"7"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_in(&mut self, keyspace: &Keyspace, key: &[u8], value: &[u8]) -> Result<()> {
        if keyspace.shared.expiring() {
            return self.push_expiring_in(keyspace, key, value, keyspace.shared.default_expiry());
        }
        check_key(key)?;
        check_value(value)?;
        self.claim_keyspace(keyspace)?;
        self.push_in(keyspace.id(), ValueKind::Value as u8, key, Some(value))
    }

    /// Adds "set `key` to `value` in `keyspace` for `ttl` from now": as
    /// [`Keyspace::put_with_ttl`], in a batch. Fails like [`put_in`](Self::put_in), and with
    /// `Error::InvalidArgument` for a keyspace without a time to live.
    ///
    /// ```
    /// use std::time::Duration;
    /// use shaledb::{Db, KeyspaceOptions, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let only_per_write = KeyspaceOptions { time_to_live: Some(Duration::MAX), ..KeyspaceOptions::default() };
    /// let cache = db.keyspace("cache", only_per_write)?;
    /// let mut batch = WriteBatch::new();
    /// batch.put_in_with_ttl(&cache, b"page/1", b"<html>", Duration::from_secs(60))?;
    /// batch.put_in(&cache, b"config", b"kept")?; // Duration::MAX: never expires
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// assert_eq!(cache.get(b"page/1")?.as_deref(), Some(&b"<html>"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_in_with_ttl(
        &mut self,
        keyspace: &Keyspace,
        key: &[u8],
        value: &[u8],
        ttl: std::time::Duration,
    ) -> Result<()> {
        keyspace.check_expiring()?;
        let expiry = crate::compaction_filter::expiry_after(ttl);
        self.push_expiring_in(keyspace, key, value, expiry)
    }

    fn push_expiring_in(
        &mut self,
        keyspace: &Keyspace,
        key: &[u8],
        value: &[u8],
        expiry: u64,
    ) -> Result<()> {
        check_key(key)?;
        crate::batch::check_expiring_value(value)?;
        self.claim_keyspace(keyspace)?;
        let stored = crate::compaction_filter::with_expiry(expiry, value);
        self.push_in(keyspace.id(), ValueKind::Value as u8, key, Some(&stored))
    }

    /// Adds "delete `key` from `keyspace`". Fails like [`delete`](Self::delete).
    ///
    /// ```
    /// # use shaledb::{Db, KeyspaceOptions, Options, WriteBatch, WriteOptions};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), Options::default())?;
    /// let index = db.keyspace("index", KeyspaceOptions::default())?;
    /// index.put(b"old", b"")?;
    /// let mut batch = WriteBatch::new();
    /// batch.delete_in(&index, b"old")?;
    /// batch.put_in(&index, b"new", b"")?;
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// assert_eq!(index.get(b"old")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_in(&mut self, keyspace: &Keyspace, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.claim_keyspace(keyspace)?;
        self.push_in(keyspace.id(), ValueKind::Tombstone as u8, key, None)
    }

    /// Adds "merge `operand` into `key` of `keyspace`". Fails like [`merge`](Self::merge);
    /// writing the batch fails (and writes nothing) if `keyspace` has no merge operator.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{CounterAdd, Db, KeyspaceOptions, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let counters = KeyspaceOptions { merge_operator: Some(Arc::new(CounterAdd)), ..KeyspaceOptions::default() };
    /// let totals = db.keyspace("totals", counters)?;
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"order-9", b"2 items")?;
    /// batch.merge_in(&totals, b"items", &CounterAdd::encode(2))?;
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// assert_eq!(CounterAdd::decode(&totals.get(b"items")?.unwrap()), Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge_in(&mut self, keyspace: &Keyspace, key: &[u8], operand: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(operand)?;
        self.claim_keyspace(keyspace)?;
        self.push_in(keyspace.id(), MERGE_OPERATION, key, Some(operand))
    }

    /// Adds "delete every key of `keyspace` in `[start, end)`". Fails like
    /// [`delete_range`](Self::delete_range).
    ///
    /// ```
    /// # use shaledb::{Db, KeyspaceOptions, Options, WriteBatch, WriteOptions};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), Options::default())?;
    /// let log = db.keyspace("log", KeyspaceOptions::default())?;
    /// log.put(b"1", b"")?;
    /// log.put(b"2", b"")?;
    /// let mut batch = WriteBatch::new();
    /// batch.delete_range_in(&log, b"1", b"2")?;
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// assert_eq!(log.iter().count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range_in(&mut self, keyspace: &Keyspace, start: &[u8], end: &[u8]) -> Result<()> {
        crate::batch::check_range(start, end)?;
        self.claim_keyspace(keyspace)?;
        self.push_in(keyspace.id(), RANGE_DELETE_OPERATION, start, Some(end))
    }

    /// Adds, last, a put of `key` in `keyspace` whose value is its own sequence number (the
    /// record of a commit token: `commit_token.rs`).
    pub(crate) fn push_sequence_record_in(
        &mut self,
        keyspace: &Keyspace,
        key: &[u8],
    ) -> Result<()> {
        check_key(key)?;
        self.claim_keyspace(keyspace)?;
        self.push_sequence_record(keyspace.id(), key)
    }

    /// Ties the batch to `keyspace`'s database (the default keyspace is every database's).
    fn claim_keyspace(&mut self, keyspace: &Keyspace) -> Result<()> {
        if keyspace.id() == KeyspaceId::DEFAULT {
            return Ok(());
        }
        self.claim_owner(keyspace.engine.instance)
    }
}

impl crate::LargeBatch {
    /// Sets `key` to `value` in `keyspace` when the batch commits: a large batch may span
    /// keyspaces of its database, and commits all of them at once (one manifest edit, one range
    /// of sequence numbers), atomically before and after a crash. Fails like
    /// [`put`](crate::LargeBatch::put), and with `Error::InvalidArgument` for a keyspace of
    /// another database or one dropped.
    ///
    /// ```
    /// use shaledb::{Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let users = db.keyspace("users", KeyspaceOptions::default())?;
    /// let by_email = db.keyspace("by_email", KeyspaceOptions::default())?;
    /// let mut batch = users.large_batch()?;
    /// for id in 0..1_000u32 {
    ///     batch.put(&id.to_be_bytes(), format!("user {id}").as_bytes())?;
    ///     batch.put_in(&by_email, format!("{id}@example.com").as_bytes(), &id.to_be_bytes())?;
    /// }
    /// assert_eq!(by_email.get(b"7@example.com")?, None); // nothing before the commit
    /// batch.commit()?;
    /// assert_eq!(users.get(&7u32.to_be_bytes())?.as_deref(), Some(&b"user 7"[..]));
    /// assert_eq!(by_email.get(b"7@example.com")?.as_deref(), Some(&7u32.to_be_bytes()[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_in(&mut self, keyspace: &Keyspace, key: &[u8], value: &[u8]) -> Result<()> {
        let index = self.large_batch_part(keyspace)?;
        self.put_at(index, key, value)
    }

    /// Deletes `key` from `keyspace` when the batch commits. Fails like
    /// [`put_in`](crate::LargeBatch::put_in).
    ///
    /// ```
    /// use shaledb::{Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let index = db.keyspace("index", KeyspaceOptions::default())?;
    /// index.put(b"stale", b"")?;
    /// let mut batch = db.large_batch()?;
    /// batch.put(b"record", b"new")?;
    /// batch.delete_in(&index, b"stale")?;
    /// batch.commit()?;
    /// assert_eq!(index.get(b"stale")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_in(&mut self, keyspace: &Keyspace, key: &[u8]) -> Result<()> {
        let index = self.large_batch_part(keyspace)?;
        self.delete_at(index, key)
    }

    /// Deletes every key of `keyspace` in `[start, end)` when the batch commits (what the
    /// keyspace held and what the batch wrote to it before this call), as
    /// [`delete_range`](crate::LargeBatch::delete_range) does in the batch's own keyspace.
    /// Fails like [`put_in`](crate::LargeBatch::put_in).
    ///
    /// ```
    /// use shaledb::{Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let log = db.keyspace("log", KeyspaceOptions::default())?;
    /// log.put(b"1", b"old")?;
    /// let mut batch = db.large_batch()?;
    /// batch.put(b"snapshot", b"taken")?;
    /// batch.delete_range_in(&log, b"0", b"9")?;
    /// batch.put_in(&log, b"2", b"after the snapshot")?;
    /// batch.commit()?;
    /// assert_eq!(log.get(b"1")?, None);
    /// assert_eq!(log.get(b"2")?.as_deref(), Some(&b"after the snapshot"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range_in(&mut self, keyspace: &Keyspace, start: &[u8], end: &[u8]) -> Result<()> {
        let index = self.large_batch_part(keyspace)?;
        self.delete_range_at(index, start, end)
    }

    /// The batch's part for `keyspace`, which must be live and of the batch's database.
    fn large_batch_part(&mut self, keyspace: &Keyspace) -> Result<usize> {
        keyspace.check_live()?;
        self.part_of(&keyspace.engine, &keyspace.shared)
    }
}

/// The pressure on writes of a keyspace with `options`, manifest `levels` and `immutables` frozen
/// memtables.
fn pressure_of(
    engine: &Engine,
    options: &KeyspaceOptions,
    levels: &[Vec<crate::manifest::FileMetadata>; NUM_LEVELS],
    immutables: usize,
) -> Pressure {
    let picker = crate::compaction::picker::PickerOptions {
        level0_compaction_trigger: options.level0_compaction_trigger,
        level1_target_size: options.level1_target_size,
        level_size_multiplier: options.level_size_multiplier,
        target_file_size: options.target_file_size,
        level0_size_percent_trigger: options.level0_size_percent_trigger,
        dynamic_level_sizes: options.dynamic_level_sizes,
    };
    let targets = crate::compaction::picker::level_targets(levels, &picker);
    let level0 = levels[0].len();
    let mut debt = 0u64;
    if level0 >= options.level0_compaction_trigger {
        debt += levels[0].iter().map(|file| file.file_size).sum::<u64>();
    }
    for (level, files) in levels.iter().enumerate().take(NUM_LEVELS - 1).skip(1) {
        let bytes: u64 = files.iter().map(|file| file.file_size).sum();
        // A level above the base level owes all it holds (it drains whole).
        let target = match targets.size(level) {
            Some(_) if level < targets.base_level => 0,
            target => target.unwrap_or(u64::MAX),
        };
        debt += bytes.saturating_sub(target);
    }
    Pressure::estimate(PressureInputs {
        compaction_debt_bytes: debt,
        level0_files: level0,
        level0_slowdown_trigger: options.level0_slowdown_trigger,
        level0_stop_trigger: options.level0_stop_trigger,
        immutable_memtables: immutables,
        max_immutable_memtables: options.max_immutable_memtables,
        write_buffer_size: options.write_buffer_size as u64,
        write_rate_bytes_per_second: engine.stats.write_rate.rate(),
    })
}

/// See [`Db::multi_get_in`](crate::Db::multi_get_in).
pub(crate) fn multi_get_in<K: AsRef<[u8]>>(
    engine: &Engine,
    keys: &[(&Keyspace, K)],
    options: &ReadOptions<'_>,
) -> Result<Vec<Option<Value>>> {
    engine.check_open()?;
    let mut ids: Vec<KeyspaceId> = Vec::new();
    for (keyspace, key) in keys {
        check_key(key.as_ref())?;
        if !std::ptr::eq(&*keyspace.engine, engine) {
            return Err(Error::InvalidArgument(format!(
                "keyspace {:?} belongs to another database",
                keyspace.name()
            )));
        }
        keyspace.check_live()?;
        if !ids.contains(&keyspace.id()) {
            ids.push(keyspace.id());
        }
    }
    let (sequence, views) = match options.snapshot {
        Some(snapshot) if !snapshot.belongs_to(&engine.snapshots) => {
            return Err(Error::InvalidArgument(
                "ReadOptions::snapshot was taken from another database".into(),
            ));
        }
        Some(snapshot) => {
            let views = ids
                .iter()
                .map(|&id| engine.visibility.view(id))
                .collect::<Option<Vec<_>>>();
            (snapshot.sequence(), views)
        }
        None => match engine.visibility.read_point_many(&ids) {
            Some((sequence, views)) => (sequence, Some(views)),
            None => (SequenceNumber(0), None),
        },
    };
    let Some(views) = views else {
        return Err(Error::InvalidArgument(
            "a keyspace of the read was dropped meanwhile".into(),
        ));
    };
    let mut results = Vec::with_capacity(keys.len());
    let now = now_micros();
    for (keyspace, key) in keys {
        let index = ids.iter().position(|&id| id == keyspace.id());
        let Some(view) = index.and_then(|index| views.get(index)) else {
            return Err(dropped_error(keyspace.name()));
        };
        let value = view.get(key.as_ref(), sequence, block_options(options))?;
        results.push(keyspace.visible(value, now)?);
    }
    Ok(results)
}

/// The gauges of keyspace `id` of `engine`, `None` once it is dropped.
pub(crate) fn keyspace_stats(engine: &Engine, id: KeyspaceId) -> Option<KeyspaceStats> {
    let view = engine.visibility.view(id)?;
    let (name, level_scores) = {
        let state = lock(&engine.state);
        let entry = state.keyspaces.get(&id)?;
        let levels = &state.versions.manifest_state().keyspace(id).levels;
        let scores = crate::compaction::picker::level_scores(levels, &entry.picker_options());
        (entry.shared.name.clone(), scores.to_vec())
    };
    Some(KeyspaceStats {
        name,
        levels: view
            .version
            .level_summary()
            .iter()
            .map(|&(files, bytes)| LevelStats { files, bytes })
            .collect(),
        level_scores,
        memtable_bytes: view.memtable.approximate_size() as u64,
        immutable_memtables: view.immutables.len(),
        immutable_memtable_bytes: view
            .immutables
            .iter()
            .map(|memtable| memtable.approximate_size() as u64)
            .sum(),
    })
}

/// The error of an operation on a dropped keyspace.
pub(crate) fn dropped_error(name: &str) -> Error {
    Error::InvalidArgument(format!(
        "keyspace {name:?} was dropped (Db::drop_keyspace); open it again with Db::keyspace to \
         start a new, empty one"
    ))
}

/// Refuses writes through a closed or read-only database.
pub(crate) fn check_writable_handle(engine: &Engine) -> Result<()> {
    engine.check_open()?;
    if engine.read_only {
        return Err(Error::opened_read_only());
    }
    Ok(())
}

/// Commits `batch` through the group commit: after checking that its keyspaces are live and
/// waiting out their backpressure. `completion` runs once the batch is durable
/// (`Db::write_durable`).
pub(crate) fn commit(
    engine: &Engine,
    batch: WriteBatch,
    sync: bool,
    completion: Option<Completion>,
) -> Result<()> {
    check_writable_handle(engine)?;
    if batch.owner().is_some_and(|owner| owner != engine.instance) {
        return Err(Error::InvalidArgument(
            "the batch writes to keyspaces of another database; nothing of it was written".into(),
        ));
    }
    let merges = u64::from(batch.merge_count());
    if merges > 0 {
        record_merge_operators(engine, batch.merge_keyspaces())?;
    }
    // Refuses a batch for a keyspace dropped before it (one dropped after this check, before
    // the batch commits, loses its part of the batch with the rest of its data).
    engine.apply_backpressure(batch.keyspaces())?;
    match completion {
        None if batch.is_empty() => Ok(()),
        Some(completion) if batch.is_empty() => {
            let panics = engine
                .durability
                .register(engine.durability.written(), vec![completion]);
            engine.record_callback_panics(panics);
            Ok(())
        }
        completion => {
            engine
                .commit
                .write(batch, sync, completion, |group| engine.commit_group(group))?;
            if merges > 0 {
                engine
                    .stats
                    .merge_operands_written
                    .fetch_add(merges, Ordering::Relaxed);
            }
            Ok(())
        }
    }
}

/// Refuses merges into a keyspace without a merge operator, and records in the manifest the
/// name of the operator of each keyspace in `keyspaces` that does not have it recorded yet
/// (FORMAT.md 6.1, tag 13), durably, before the first merge into it is logged: from then on the
/// keyspace opens only with an operator of that name. Once per keyspace; later merges find it
/// in `Engine::merge_recorded`.
fn record_merge_operators(engine: &Engine, keyspaces: &[KeyspaceId]) -> Result<()> {
    {
        let recorded = engine
            .merge_recorded
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if keyspaces.iter().all(|id| recorded.contains(id)) {
            return Ok(());
        }
    }
    let mut state = lock(&engine.state);
    let mut edit = crate::manifest::VersionEdit::new();
    for &id in keyspaces {
        let Some(entry) = state.keyspaces.get(&id) else {
            return Err(Error::InvalidArgument(format!(
                "keyspace {id} of a merge was dropped; nothing of the batch was written"
            )));
        };
        let Some(operator) = &entry.options.merge_operator else {
            let field = if id == KeyspaceId::DEFAULT {
                "Options::merge_operator"
            } else {
                "KeyspaceOptions::merge_operator"
            };
            return Err(Error::InvalidArgument(format!(
                "keyspace {:?} has no merge operator ({field} is None), so it takes no merges; \
                 nothing of the batch was written",
                entry.shared.name
            )));
        };
        let known = state.versions.manifest_state().keyspace(id);
        if known.merge_operator.is_none() {
            edit.merge_operators.push((id, operator.name().to_string()));
        }
    }
    if !edit.merge_operators.is_empty() {
        state.versions.log_and_apply(edit, Vec::new())?;
    }
    let mut recorded = engine
        .merge_recorded
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    recorded.extend(keyspaces.iter().copied());
    Ok(())
}

fn block_options(options: &ReadOptions<'_>) -> BlockReadOptions {
    BlockReadOptions {
        verify_checksums: options.verify_checksums,
        fill_cache: options.fill_cache,
    }
}

fn iterate_bounds(options: &ReadOptions<'_>) -> KeyBounds {
    let bound = |key: Option<&[u8]>, make: fn(Vec<u8>) -> Bound<Vec<u8>>| {
        key.map_or(Bound::Unbounded, |key| make(key.to_vec()))
    };
    KeyBounds {
        lower: bound(options.iterate_lower_bound, Bound::Included),
        upper: bound(options.iterate_upper_bound, Bound::Excluded),
    }
}

// The compiler checks the promise the documentation makes.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Keyspace>();
};
