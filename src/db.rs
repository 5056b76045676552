//! `Db`: the database handle. Every read and write enters here; this module opens the engine
//! (`recovery.rs`), starts its threads, and turns each public call into work on the engine's
//! parts (`engine.rs` lists them, with the lock order and the invariants). It parses no bytes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::batch::WriteBatch;
use crate::commit_token::{CommitStatus, CommitToken, CommitTokens, TokenWrite};
use crate::db_iterator::{DbIterator, Key};
use crate::durability::{Completion, DurableTicket};
use crate::engine::{Engine, lock};
use crate::error::{Error, Result};
use crate::fs::{LOCK_FILE_NAME, remove_file, wal_path};
use crate::key::{FileNumber, KeyspaceId};
use crate::key_range::KeyRange;
use crate::keyspace::Keyspace;
use crate::keyspace_options::KeyspaceOptions;
use crate::manifest::{NUM_LEVELS, VersionEdit};
use crate::options::{Options, ReadOptions, WriteOptions};
use crate::snapshot::Snapshot;
use crate::stats::pressure::Pressure;
use crate::stats::{Gauges, KeyspaceStats, Stats};
use crate::value::Value;
use crate::vfs::FileLock;

/// An embedded key-value store. Open it, share it between threads (`Db` is `Send + Sync`; use
/// `&Db` or `Arc<Db>`), and close it or drop it.
///
/// ```
/// use shaledb::{Db, Options, WriteBatch, WriteOptions};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"greeting", b"hello")?;
/// let mut batch = WriteBatch::new();
/// batch.put(b"a", b"1")?;
/// batch.delete(b"greeting")?;
/// db.write(batch, &WriteOptions::SYNC)?;
/// assert_eq!(db.get(b"a")?.as_deref(), Some(&b"1"[..]));
/// assert_eq!(db.get(b"greeting")?, None);
/// let keys: Vec<_> = db.iter().map(|item| item.map(|(key, _)| key)).collect::<Result<_, _>>()?;
/// assert_eq!(keys, vec![b"a".to_vec()]);
/// db.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Db {
    engine: Arc<Engine>,
    /// The keyspace `put`, `get` and the rest work on.
    default: Keyspace,
    /// The commit tokens of `write_with_token` and `was_committed`.
    tokens: CommitTokens,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.engine.dir)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if `options.create_if_missing`) the database in directory `path`,
    /// recovering every acknowledged write from the manifest and the write-ahead logs.
    ///
    /// Fails with [`Error::Locked`] if the directory is already open, in this process or
    /// another (to read it meanwhile, use [`open_read_only`](Self::open_read_only)); with `Error::InvalidArgument` for invalid options or a missing database when
    /// `create_if_missing` is off; with `Error::Corruption` for damage recovery must not skip.
    ///
    /// ```
    /// use shaledb::{Db, Error, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?; // creates the database
    /// assert!(matches!(Db::open(dir.path(), Options::default()), Err(Error::Locked(_))));
    /// db.close()?; // lets go of the directory's LOCK
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let existing_only = Options { create_if_missing: false, ..Options::default() };
    /// let missing = Db::open(dir.path().join("missing"), existing_only);
    /// assert!(matches!(missing, Err(Error::InvalidArgument(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        options.validate()?;
        let dir = path.as_ref().to_path_buf();
        let lock_file = acquire_lock(&dir, &options)?;
        let engine = crate::recovery::open_engine(dir, options, lock_file)?;
        let engine = Arc::new(engine);
        crate::flush::start_flusher(&engine)?;
        crate::compaction::scheduler::start(&engine)?;
        crate::wal_sync::start_syncer(&engine)?;
        Ok(Db::around(engine))
    }

    /// Opens the database in directory `path` for reading only, writing nothing at all: no
    /// file or directory is created, changed or deleted, and no `LOCK` is taken, so it may be
    /// opened beside a running writer (in this process or another) or any number of other
    /// readers. This is RocksDB's `DB::OpenForReadOnly`; a separate constructor rather than an
    /// `Options` field, so that a handle that can never write is visible where it is opened.
    ///
    /// The handle reads the state as of the open: the tables the manifest names and every
    /// write of the write-ahead logs, replayed into memory (nothing is flushed); it does not
    /// follow a writer's later writes (open again to see them). Beside a writer, what it sees is
    /// a prefix of the writer's history (whole batches only): when a file vanishes or changes
    /// under the open (a flush, compaction or manifest rewrite), the open starts again from
    /// `CURRENT`, up to 10 times. A torn last record of the newest log is accepted in every
    /// recovery mode (it is what a writer in the middle of a write leaves); otherwise
    /// [`Options::wal_recovery_mode`] applies as usual. `create_if_missing` does not apply.
    ///
    /// Reads, snapshots, iterators, [`stats`](Self::stats), [`pressure`](Self::pressure) and
    /// [`verify`](Self::verify) work as usual. Every write — `put`, `delete`, `write`,
    /// `flush`, `compact_range`, and so a [`BatchWriter`](crate::BatchWriter)'s commits — fails
    /// with [`Error::ReadOnly`]; [`wait_for_compaction`](Self::wait_for_compaction) returns at
    /// once; `close` writes nothing. No flush or compaction thread is started.
    ///
    /// Fails with `Error::InvalidArgument` when `path` holds no database (or `options` are
    /// invalid), and with `Error::Corruption` for damage recovery must not skip.
    ///
    /// ```
    /// use shaledb::{Db, Error, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let writer = Db::open(dir.path(), Options::default())?;
    /// writer.put(b"k", b"v")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// assert!(matches!(reader.put(b"k", b"w"), Err(Error::ReadOnly(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        options.validate()?;
        let dir = path.as_ref().to_path_buf();
        let engine = crate::read_only::open_engine_read_only(dir, options)?;
        Ok(Db::around(Arc::new(engine)))
    }

    /// Sets `key` to `value`, with the default sync from [`Options::sync_writes`].
    ///
    /// ```
    /// use shaledb::{Db, Error, Options, MAX_KEY_SIZE};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v1")?;
    /// db.put(b"k", b"v2")?; // replaces v1
    /// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v2"[..]));
    /// let too_long = vec![0; MAX_KEY_SIZE + 1];
    /// assert!(matches!(db.put(&too_long, b""), Err(Error::InvalidArgument(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.default.put(key, value)
    }

    /// Deletes `key` (no error if it is absent), with the default sync.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// db.delete(b"k")?;
    /// db.delete(b"never-set")?; // not an error
    /// assert_eq!(db.get(b"k")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.default.delete(key)
    }

    /// Applies every operation of `batch` atomically: readers see all of it or none of it, and
    /// after a crash all of it or none of it is present. With `options.sync` the batch is on
    /// stable storage when this returns.
    ///
    /// After a failed log write or fsync every write fails with `Error::ReadOnly`: reopen the
    /// database to recover from the log. A database opened with
    /// [`open_read_only`](Self::open_read_only) refuses every write with `Error::ReadOnly`.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"alice", b"100")?;
    /// let mut transfer = WriteBatch::new();
    /// transfer.put(b"alice", b"60")?;
    /// transfer.put(b"bob", b"40")?;
    /// db.write(transfer, &WriteOptions::SYNC)?; // both or neither, across crashes
    /// assert_eq!(db.get(b"alice")?.as_deref(), Some(&b"60"[..]));
    /// assert_eq!(db.get(b"bob")?.as_deref(), Some(&b"40"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, batch: WriteBatch, options: &WriteOptions) -> Result<()> {
        crate::keyspace::commit(&self.engine, batch, options.sync, None)
    }

    /// [`write`](Self::write) for a batch that carries `token`, a name the caller chose for it
    /// ([`CommitToken::new`] makes one), recorded in the same batch: applied at most once per
    /// token. If a batch carrying `token` committed before, nothing is written and the answer
    /// is [`TokenWrite::AlreadyCommitted`] with that batch's sequence number; so a writer that
    /// does not know whether its last attempt committed (its process crashed, its connection
    /// dropped, the call returned an error) retries with the same token and never applies the
    /// batch twice. [`was_committed`](Self::was_committed) answers for the token without
    /// writing.
    ///
    /// Tokens are remembered for the window of [`Options::commit_token_retention`], across
    /// flushes, compactions and restarts. Fails with `Error::InvalidArgument` for a token
    /// stamped before the window (whether it committed is forgotten) or while another write
    /// carrying the same token runs; otherwise as [`write`](Self::write). The record costs the
    /// batch one operation of 34 bytes.
    ///
    /// ```
    /// use shaledb::{CommitStatus, CommitToken, Db, Options, TokenWrite, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let token = CommitToken::new(); // journaled by the writer before it writes
    /// let mut order = WriteBatch::new();
    /// order.put(b"order/7", b"2 pallets")?;
    /// order.put(b"stock/pallets", b"38")?;
    /// let outcome = db.write_with_token(order.clone(), token, &WriteOptions::SYNC)?;
    /// assert!(matches!(outcome, TokenWrite::Applied { .. }));
    /// // After a restart, the writer asks about the tokens of its journal...
    /// db.close()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// assert!(matches!(db.was_committed(&token)?, CommitStatus::Committed { .. }));
    /// // ...and a retry just in case changes nothing.
    /// let again = db.write_with_token(order, token, &WriteOptions::SYNC)?;
    /// assert!(matches!(again, TokenWrite::AlreadyCommitted { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_with_token(
        &self,
        batch: WriteBatch,
        token: CommitToken,
        options: &WriteOptions,
    ) -> Result<TokenWrite> {
        self.tokens.write(&self.engine, batch, token, options)
    }

    /// Whether a batch carrying `token` ([`write_with_token`](Self::write_with_token)) has
    /// committed: [`CommitStatus::Committed`] (all of it is in the database, with the sequence
    /// number of its last operation), [`CommitStatus::NotCommitted`] (none of it is, and no
    /// write made so far will make it so: what a crash in the middle of the write leaves) or
    /// [`CommitStatus::Unknown`] (the token is older than the window of
    /// [`Options::commit_token_retention`]). A write carrying the token that is still running
    /// in this process may commit after the answer. Works on a database opened read-only.
    ///
    /// ```
    /// use shaledb::{CommitStatus, CommitToken, Db, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let sent = CommitToken::new();
    /// let lost = CommitToken::new(); // its writer crashed before the write reached the log
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"k", b"v")?;
    /// db.write_with_token(batch, sent, &WriteOptions::SYNC)?;
    /// assert!(matches!(db.was_committed(&sent)?, CommitStatus::Committed { .. }));
    /// assert_eq!(db.was_committed(&lost)?, CommitStatus::NotCommitted); // retry it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn was_committed(&self, token: &CommitToken) -> Result<CommitStatus> {
        self.engine.check_open()?;
        self.tokens.was_committed(&self.engine, token)
    }

    /// `Error::Closed` after close, `Error::ReadOnly` when opened read-only.
    fn check_not_read_only(&self) -> Result<()> {
        crate::keyspace::check_writable_handle(&self.engine)
    }

    /// The value of `key`, or `None` if it is absent or deleted.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// assert_eq!(db.get(b"k")?, None);
    /// db.put(b"k", b"v")?;
    /// let value = db.get(b"k")?.expect("just written");
    /// assert_eq!(&*value, b"v");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        self.default.get(key)
    }

    /// [`get`](Self::get) with options: a snapshot, caching and checksum verification.
    ///
    /// ```
    /// use shaledb::{Db, Options, ReadOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// db.flush()?; // into a table on disk
    /// let uncached = ReadOptions { fill_cache: false, ..ReadOptions::default() };
    /// assert_eq!(db.get_with(b"k", &uncached)?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(db.stats().cache_bytes, 0); // the block read was not kept
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_with(&self, key: &[u8], options: &ReadOptions<'_>) -> Result<Option<Value>> {
        self.default.get_with(key, options)
    }

    /// The values of `keys`, in the order of `keys`. The keys are sorted internally and looked up
    /// against one consistent view, so that neighbouring keys share cached blocks.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"a", b"1")?;
    /// db.put(b"c", b"3")?;
    /// let values = db.multi_get(&[b"c", b"b", b"a"])?;
    /// let values: Vec<Option<&[u8]>> = values.iter().map(|value| value.as_deref()).collect();
    /// assert_eq!(values, [Some(&b"3"[..]), None, Some(&b"1"[..])]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn multi_get<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Value>>> {
        self.default.multi_get(keys)
    }

    /// [`multi_get`](Self::multi_get) with options.
    ///
    /// ```
    /// use shaledb::{Db, Options, ReadOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"a", b"old")?;
    /// let snapshot = db.snapshot();
    /// db.put(b"a", b"new")?;
    /// db.put(b"b", b"new")?;
    /// let keys = vec![b"a".to_vec(), b"b".to_vec()];
    /// let at_snapshot = ReadOptions { snapshot: Some(&snapshot), ..ReadOptions::default() };
    /// let values = db.multi_get_with(&keys, &at_snapshot)?;
    /// assert_eq!(values[0].as_deref(), Some(&b"old"[..]));
    /// assert_eq!(values[1], None); // written after the snapshot
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn multi_get_with<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        options: &ReadOptions<'_>,
    ) -> Result<Vec<Option<Value>>> {
        self.default.multi_get_with(keys, options)
    }

    /// A snapshot of the database as it is now. Pass it in [`ReadOptions::snapshot`] to read
    /// that state; drop it to let compaction discard the versions only it could see.
    ///
    /// ```
    /// use shaledb::{Db, Options, ReadOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"old")?;
    /// let snapshot = db.snapshot();
    /// db.put(b"k", b"new")?;
    /// let at_snapshot = ReadOptions { snapshot: Some(&snapshot), ..ReadOptions::default() };
    /// assert_eq!(db.get_with(b"k", &at_snapshot)?.as_deref(), Some(&b"old"[..]));
    /// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"new"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let visibility = &self.engine.visibility;
        self.engine.snapshots.take(|| {
            let sequence = visibility.visible_sequence();
            #[cfg(test)]
            visibility.pause.call();
            sequence
        })
    }

    /// Every key and value in key order (reverse with `.rev()`), as of now.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"b", b"2")?;
    /// db.put(b"a", b"1")?;
    /// let entries: Vec<_> = db
    ///     .iter()
    ///     .map(|item| item.map(|(key, value)| (key, value.to_vec())))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(entries, vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())]);
    /// let last = db.iter().rev().next().transpose()?.map(|(key, _)| key);
    /// assert_eq!(last, Some(b"b".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> DbIterator {
        self.default.iter()
    }

    /// The keys within `range` and their values, in key order (reverse with `.rev()`), as of
    /// now. `range` is any of Rust's range forms over any key type, `..` included, without an
    /// annotation: see [`KeyRange`].
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// for key in [b"a", b"b", b"c", b"d"] {
    ///     db.put(key, b"")?;
    /// }
    /// let keys: Vec<_> = db
    ///     .range(b"b".as_slice()..b"d")
    ///     .map(|item| item.map(|(key, _)| key))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec()]);
    /// let last = db.range(..=b"c").next_back().transpose()?.map(|(key, _)| key);
    /// assert_eq!(last, Some(b"c".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn range<R: KeyRange>(&self, range: R) -> DbIterator {
        self.default.range(range)
    }

    /// The keys starting with `prefix` and their values, in key order, as of now.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// for key in ["user:1", "user:2", "users", "video:1"] {
    ///     db.put(key.as_bytes(), b"")?;
    /// }
    /// let keys: Vec<_> = db
    ///     .prefix(b"user:")
    ///     .map(|item| item.map(|(key, _)| key))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![b"user:1".to_vec(), b"user:2".to_vec()]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&self, prefix: &[u8]) -> DbIterator {
        self.default.prefix(prefix)
    }

    /// [`range`](Self::range) with options (a snapshot, bounds, caching, checksum
    /// verification). An iterator reads one consistent view: the state when it was created, or
    /// the snapshot's. It yields the keys within both `range` and the options'
    /// [`iterate_lower_bound`](ReadOptions::iterate_lower_bound) and
    /// [`iterate_upper_bound`](ReadOptions::iterate_upper_bound), and reads no table and no
    /// block that holds only keys outside them (as far as the tables' key ranges and index
    /// blocks tell).
    ///
    /// ```
    /// use shaledb::{Db, Options, ReadOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// for key in [b"a", b"b", b"c"] {
    ///     db.put(key, b"old")?;
    /// }
    /// let snapshot = db.snapshot();
    /// db.put(b"b", b"new")?;
    /// db.delete(b"c")?;
    /// let at_snapshot = ReadOptions { snapshot: Some(&snapshot), ..ReadOptions::default() };
    /// let entries: Vec<_> = db
    ///     .range_with(b"b".as_slice().., &at_snapshot)
    ///     .map(|item| item.map(|(key, value)| (key, value.to_vec())))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(entries, vec![(b"b".to_vec(), b"old".to_vec()), (b"c".to_vec(), b"old".to_vec())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn range_with<R: KeyRange>(&self, range: R, options: &ReadOptions<'_>) -> DbIterator {
        self.default.range_with(range, options)
    }

    /// Reads back everything the database's current state depends on and reports the first bad
    /// place as [`Error::Corruption`] naming the file and byte offset: the manifest chain from
    /// `CURRENT` is replayed again with all its consistency checks and must describe the live
    /// state, and every live table is reopened from its file, every block's checksum verified
    /// (bypassing the block cache), every entry decoded, and the result compared with the
    /// table's properties and manifest record (size, smallest and largest keys, entry count,
    /// sequence numbers). Write-ahead logs are not read: they are checked at open.
    ///
    /// Reads every byte of every table, so it costs as much I/O as the database is large.
    /// Writes, flushes and compactions may go on meanwhile (it checks the version current when
    /// it starts). `Ok` tells how much was checked.
    ///
    /// On a database opened read-only, a writer may be running beside it: the manifest on disk
    /// must then describe the state the handle opened or a later one, and a table the writer
    /// has deleted since (after the manifest stopped naming it) is checked from the bytes the
    /// handle keeps open.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// db.flush()?;
    /// let report = db.verify()?; // Err(Error::Corruption { file, offset, .. }) on damage
    /// assert_eq!(report.files, 2); // the manifest and the one table
    /// assert_eq!(report.entries, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self) -> Result<crate::VerifyReport> {
        self.engine.check_open()?;
        crate::verify::verify(&self.engine, None)
    }

    /// Freezes the memtable and waits until it and every memtable frozen before it are written
    /// to level-0 SSTables.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// db.flush()?;
    /// let stats = db.stats();
    /// assert_eq!(stats.levels[0].files, 1);
    /// assert_eq!(stats.memtable_bytes, 0);
    /// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v"[..])); // read from the table now
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.check_not_read_only()?;
        crate::flush::flush_and_wait(&self.engine, None)
    }

    /// A [`LargeBatch`](crate::LargeBatch) of the default keyspace: an atomic batch of any size,
    /// its operations staged on disk as sorted runs and committed with one manifest edit, at
    /// a sequence number above every earlier write (see [`LargeBatch`](crate::LargeBatch)).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let mut batch = db.large_batch()?;
    /// batch.put(b"k", b"v")?;
    /// batch.commit()?;
    /// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn large_batch(&self) -> Result<crate::LargeBatch> {
        self.default.large_batch()
    }

    /// [`large_batch`](Self::large_batch) with `options` (the staging buffer's size).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let options = shaledb::LargeBatchOptions { buffer_size: 8 << 20, ..Default::default() };
    /// let mut batch = db.large_batch_with(&options)?;
    /// batch.put(b"k", b"v")?;
    /// batch.commit()?;
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn large_batch_with(
        &self,
        options: &crate::LargeBatchOptions,
    ) -> Result<crate::LargeBatch> {
        self.default.large_batch_with(options)
    }

    /// Takes the SSTable files `paths`, written by [`TableWriter`](crate::TableWriter), into
    /// the default keyspace atomically (RocksDB's `IngestExternalFile`). Each file is checked
    /// whole first (an SSTable of a format this build reads, every block's checksum, keys
    /// strictly increasing at sequence 0) and the files must not overlap each other; anything
    /// else is refused before the database changes. The files are hard-linked into the
    /// database directory (copied and fsynced when the link fails, as across file systems; the
    /// original must then not be changed while the database uses the link), get sequence
    /// numbers above every earlier write and are committed in one manifest edit, each placed
    /// in the deepest level where nothing above it overlaps it (a memtable holding keys in
    /// their ranges is flushed first).
    ///
    /// ```
    /// use shaledb::{TableOptions, TableWriter};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path().join("db"), shaledb::Options::default())?;
    /// let path = dir.path().join("bulk.sst");
    /// let mut writer = TableWriter::create(&path, &TableOptions::default())?;
    /// for index in 0..1000u32 {
    ///     writer.put(format!("{index:04}").as_bytes(), b"value")?;
    /// }
    /// writer.finish()?;
    /// let report = db.ingest(&[&path])?;
    /// assert_eq!(report.entries, 1000);
    /// assert!(db.ingest(&[dir.path().join("missing.sst")]).is_err());
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn ingest<P: AsRef<std::path::Path>>(&self, paths: &[P]) -> Result<crate::IngestReport> {
        self.default.ingest(paths)
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
    /// db.ingest_with(&[&path], &IngestOptions { move_files: true, ..Default::default() })?;
    /// assert!(!path.exists());
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn ingest_with<P: AsRef<std::path::Path>>(
        &self,
        paths: &[P],
        options: &crate::IngestOptions,
    ) -> Result<crate::IngestReport> {
        self.default.ingest_with(paths, options)
    }

    /// Flushes the memtable, then compacts every file holding keys in `range`, level by level,
    /// down to the last level: deleted and overwritten versions that no snapshot can see are
    /// dropped. Waits until done.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// for index in 0..100u32 {
    ///     db.put(&index.to_be_bytes(), b"value")?;
    /// }
    /// db.flush()?;
    /// for index in 0..50u32 {
    ///     db.delete(&index.to_be_bytes())?;
    /// }
    /// db.compact_range(..)?; // flushes the deletes, then merges everything down
    /// let stats = db.stats();
    /// assert_eq!(stats.levels[0].files, 0);
    /// assert_eq!(stats.levels[3].files, 1); // the last level: tombstones dropped with their keys
    /// assert_eq!(db.iter().count(), 50);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact_range<R: KeyRange>(&self, range: R) -> Result<()> {
        self.default.compact_range(range)
    }

    /// Waits until no flush or compaction is running or due. Returns at once on a database
    /// opened read-only, which runs neither.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let options = Options { level0_compaction_trigger: 2, ..Options::default() };
    /// let db = Db::open(dir.path(), options)?;
    /// for round in 0..2u8 {
    ///     db.put(b"a", &[round])?;
    ///     db.put(b"z", &[round])?;
    ///     db.flush()?; // one level-0 table each, over the same keys
    /// }
    /// db.wait_for_compaction()?; // the second table made a compaction due
    /// let stats = db.stats();
    /// // Into the base level, which is the last level while the data is small.
    /// assert_eq!((stats.levels[0].files, stats.levels[3].files), (0, 1));
    /// assert_eq!(db.get(b"z")?.as_deref(), Some(&[1][..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_compaction(&self) -> Result<()> {
        self.engine.check_open()?;
        if self.engine.read_only {
            return Ok(());
        }
        crate::compaction::scheduler::wait_for_compaction(&self.engine)
    }

    /// How close writes are to being slowed down or stopped by compaction debt, so that an
    /// application can shed or defer load before a stall happens.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// db.flush()?;
    /// let pressure = db.pressure();
    /// assert_eq!(pressure.level0_files, 1);
    /// assert_eq!(pressure.level0_files_until_slowdown, 19); // Options::level0_slowdown_trigger is 20
    /// assert_eq!(pressure.immutable_memtables, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pressure(&self) -> Pressure {
        self.default.pressure()
    }

    /// What opening the database recovered from its write-ahead logs: how many logs and
    /// batches were replayed, and whether an unsynced tail that a power loss left with holes
    /// was dropped (the same report is in [`Stats::recovery`]).
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"a", b"1")?;
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"b", b"2")?;
    /// batch.put(b"c", b"3")?;
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// db.close()?; // the writes are in the write-ahead log only
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let report = db.recovery_report();
    /// assert_eq!((report.logs_replayed, report.batches_replayed), (1, 2));
    /// assert!(report.dropped_tail.is_none()); // the log ended cleanly
    /// assert_eq!(db.stats().recovery, report);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recovery_report(&self) -> crate::stats::RecoveryReport {
        self.engine.stats.recovery.clone()
    }

    /// Counters and gauges: files and bytes per level, memtables, write groups, fsyncs, stalls,
    /// cache hits, flushes, compactions. `Display` prints them as a table.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"a", b"1")?;
    /// db.put(b"b", b"2")?;
    /// let stats = db.stats();
    /// assert_eq!(stats.write_groups, 2); // one thread: each put committed alone
    /// assert_eq!(stats.synced_groups, 2); // Options::sync_writes
    /// assert!(stats.memtable_bytes > 0 && stats.levels[0].files == 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Stats {
        stats(&self.engine)
    }

    /// Syncs the write-ahead log (completing every [`write_durable`](Self::write_durable)
    /// handle still pending), stops the flush, compaction and sync threads (a running compaction
    /// is abandoned; its inputs stay live) and releases the directory lock; on a database
    /// opened read-only it only lets go of the files. Every
    /// call after this fails with [`Error::Closed`]. Dropping a `Db` closes it too (ignoring
    /// errors); call `close` to see them.
    ///
    /// ```
    /// use shaledb::{Db, Error, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// db.close()?;
    /// assert!(matches!(db.get(b"k"), Err(Error::Closed)));
    /// let reopened = Db::open(dir.path(), Options::default())?; // the lock was released
    /// assert_eq!(reopened.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        close(&self.engine)
    }
}

/// Reads built on the iterator and the point read: the first and last entries, and whether a
/// key is present.
impl Db {
    /// The smallest key and its value (its newest version; deleted keys are skipped), or `None`
    /// when the database holds no key, as of now.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// assert_eq!(db.first_key_value()?, None);
    /// db.put(b"b", b"2")?;
    /// db.put(b"a", b"1")?;
    /// db.delete(b"a")?;
    /// let (key, value) = db.first_key_value()?.expect("b is there");
    /// assert_eq!((key.as_slice(), &*value), (&b"b"[..], &b"2"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn first_key_value(&self) -> Result<Option<(Key, Value)>> {
        self.first_key_value_with(&ReadOptions::default())
    }

    /// [`first_key_value`](Self::first_key_value) with options: at a snapshot, and the first
    /// key at or after [`ReadOptions::iterate_lower_bound`] and before
    /// [`ReadOptions::iterate_upper_bound`].
    ///
    /// ```
    /// use shaledb::{Db, Options, ReadOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"a", b"1")?;
    /// db.put(b"c", b"3")?;
    /// let from_b = ReadOptions { iterate_lower_bound: Some(b"b"), ..ReadOptions::default() };
    /// assert_eq!(db.first_key_value_with(&from_b)?.map(|(key, _)| key), Some(b"c".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn first_key_value_with(&self, options: &ReadOptions<'_>) -> Result<Option<(Key, Value)>> {
        self.range_with(.., options).next().transpose()
    }

    /// The largest key and its value (its newest version; deleted keys are skipped), or `None`
    /// when the database holds no key, as of now.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"a", b"1")?;
    /// db.put(b"b", b"2")?;
    /// db.delete(b"b")?;
    /// assert_eq!(db.last_key_value()?.map(|(key, _)| key), Some(b"a".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn last_key_value(&self) -> Result<Option<(Key, Value)>> {
        self.last_key_value_with(&ReadOptions::default())
    }

    /// [`last_key_value`](Self::last_key_value) with options: at a snapshot, and the last key
    /// before [`ReadOptions::iterate_upper_bound`] and at or after
    /// [`ReadOptions::iterate_lower_bound`].
    ///
    /// ```
    /// use shaledb::{Db, Options, ReadOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"a", b"old")?;
    /// let snapshot = db.snapshot();
    /// db.put(b"a", b"new")?;
    /// db.put(b"z", b"26")?;
    /// let at_snapshot = ReadOptions { snapshot: Some(&snapshot), ..ReadOptions::default() };
    /// let (key, value) = db.last_key_value_with(&at_snapshot)?.expect("a was there");
    /// assert_eq!((key.as_slice(), &*value), (&b"a"[..], &b"old"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn last_key_value_with(&self, options: &ReadOptions<'_>) -> Result<Option<(Key, Value)>> {
        self.range_with(.., options).next_back().transpose()
    }

    /// Whether `key` is present (set and not deleted), as of now. The lookup of
    /// [`get`](Self::get), without handing back the value (which `get` does not copy either:
    /// a [`Value`] shares the block or memtable it was found in).
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// assert!(db.contains_key(b"k")?);
    /// db.delete(b"k")?;
    /// assert!(!db.contains_key(b"k")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains_key(&self, key: &[u8]) -> Result<bool> {
        self.contains_key_with(key, &ReadOptions::default())
    }

    /// [`contains_key`](Self::contains_key) with options: at a snapshot, with caching and
    /// checksum verification as set. The iterator bounds do not apply.
    ///
    /// ```
    /// use shaledb::{Db, Options, ReadOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let snapshot = db.snapshot();
    /// db.put(b"k", b"v")?;
    /// let at_snapshot = ReadOptions { snapshot: Some(&snapshot), ..ReadOptions::default() };
    /// assert!(!db.contains_key_with(b"k", &at_snapshot)?);
    /// assert!(db.contains_key(b"k")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains_key_with(&self, key: &[u8], options: &ReadOptions<'_>) -> Result<bool> {
        self.default.contains_key_with(key, options)
    }
}

/// Durability under the caller's control: single writes with their own [`WriteOptions`],
/// [`sync_wal`](Db::sync_wal), and writes that return once visible, with a handle that
/// completes once they are durable.
impl Db {
    /// Sets `key` to `value`, synced or not as `options` say (`put` uses
    /// [`Options::sync_writes`]).
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put_with(b"k", b"v", &WriteOptions::NO_SYNC)?; // survives a crash of the process
    /// db.sync_wal()?; // and now a power loss too
    /// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_with(&self, key: &[u8], value: &[u8], options: &WriteOptions) -> Result<()> {
        self.default.put_with(key, value, options)
    }

    /// Deletes `key` (no error if it is absent), synced or not as `options` say (`delete` uses
    /// [`Options::sync_writes`]).
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// db.delete_with(b"k", &WriteOptions::NO_SYNC)?;
    /// assert_eq!(db.get(b"k")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_with(&self, key: &[u8], options: &WriteOptions) -> Result<()> {
        self.default.delete_with(key, options)
    }

    /// Records `operand` for `key` (a merge), with the default sync: a read of `key` returns
    /// the merge operator's ([`Options::merge_operator`]) combination of the value below it
    /// (or none, if the key is absent or deleted) and every operand merged since, oldest first.
    /// The write does not read: it costs what a put of the operand costs. Compactions combine
    /// operands that no snapshot separates (see [`MergeOperator`](crate::MergeOperator)).
    ///
    /// Fails with `Error::InvalidArgument` if the default keyspace has no merge operator, or
    /// the key or operand is over its size limit; a read fails with
    /// [`Error::Merge`](crate::Error::Merge) if the operator cannot merge the key's operands.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{CounterAdd, Db, Error, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let options = Options { merge_operator: Some(Arc::new(CounterAdd)), ..Options::default() };
    /// let db = Db::open(dir.path(), options)?;
    /// db.put(b"likes", &CounterAdd::encode(10))?;
    /// db.merge(b"likes", &CounterAdd::encode(1))?;
    /// db.merge(b"likes", &CounterAdd::encode(1))?;
    /// assert_eq!(CounterAdd::decode(&db.get(b"likes")?.unwrap()), Some(12));
    /// db.merge(b"broken", b"not 8 bytes")?; // written: operands are only read later
    /// assert!(matches!(db.get(b"broken"), Err(Error::Merge { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge(&self, key: &[u8], operand: &[u8]) -> Result<()> {
        self.default.merge(key, operand)
    }

    /// [`merge`](Self::merge), synced or not as `options` say.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{CounterAdd, Db, Options, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let options = Options { merge_operator: Some(Arc::new(CounterAdd)), ..Options::default() };
    /// let db = Db::open(dir.path(), options)?;
    /// db.merge_with(b"n", &CounterAdd::encode(5), &WriteOptions::NO_SYNC)?;
    /// assert_eq!(CounterAdd::decode(&db.get(b"n")?.unwrap()), Some(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge_with(&self, key: &[u8], operand: &[u8], options: &WriteOptions) -> Result<()> {
        self.default.merge_with(key, operand, options)
    }

    /// Deletes every key in `range` — from `range.start` up to but not including `range.end` —
    /// as one write, with the default sync: a range tombstone, whatever the number of keys.
    /// Keys written after it returns are not affected. Reads (`get`, `multi_get`, iterators
    /// both ways, snapshots taken after it) no longer see the keys, and reading past the range
    /// costs no more than if the keys had never been written: sources older than the
    /// tombstone are moved past it in one seek. Compaction drops the deleted entries, and the
    /// tombstone once no older data and no snapshot can need it.
    ///
    /// Fails with `Error::InvalidArgument` if a key is over [`MAX_KEY_SIZE`](crate::MAX_KEY_SIZE)
    /// or the start sorts after the end. Use [`WriteBatch::delete_range`] to combine it with
    /// other writes atomically.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// for index in 0..1000u32 {
    ///     db.put(format!("event/{index:04}").as_bytes(), b"")?;
    /// }
    /// db.delete_range(b"event/0000".as_slice()..b"event/0900")?;
    /// assert_eq!(db.get(b"event/0899")?, None);
    /// assert!(db.get(b"event/0900")?.is_some());
    /// assert_eq!(db.iter().count(), 100);
    /// assert_eq!(db.iter().rev().count(), 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range<K: AsRef<[u8]>>(&self, range: std::ops::Range<K>) -> Result<()> {
        self.default.delete_range(range)
    }

    /// [`delete_range`](Self::delete_range), synced or not as `options` say.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"a", b"1")?;
    /// db.put(b"b", b"2")?;
    /// db.delete_range_with("a".."b", &WriteOptions::SYNC)?;
    /// assert_eq!(db.get(b"a")?, None);
    /// assert_eq!(db.get(b"b")?.as_deref(), Some(&b"2"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range_with<K: AsRef<[u8]>>(
        &self,
        range: std::ops::Range<K>,
        options: &WriteOptions,
    ) -> Result<()> {
        self.default.delete_range_with(range, options)
    }

    /// Makes every write acknowledged so far durable: when this returns, each of them survives
    /// a power loss, synced or not, and every pending [`write_durable`](Self::write_durable)
    /// handle of them is complete.
    ///
    /// It shares fdatasyncs with everything else that syncs the log: it returns at once when a
    /// completed sync covers the log's end already (or the write's log was rotated away,
    /// which syncs it), and when a sync is running it waits for that one and syncs again only
    /// if that one began before the end it must cover. Its own sync runs without holding up
    /// the commits that arrive meanwhile (through the file's
    /// [`sync_handle`](crate::vfs::WritableFile::sync_handle), when the file system has one).
    ///
    /// A failed sync turns the database read-only, as a failed synced write does (the sync is
    /// never retried: reopen to recover from the log), and returns the I/O error; after that,
    /// it returns [`Error::ReadOnly`]. On a database opened with
    /// [`open_read_only`](Self::open_read_only) it returns `Error::ReadOnly`.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options { sync_writes: false, ..Options::default() })?;
    /// for index in 0..100u32 {
    ///     db.put(&index.to_be_bytes(), b"value")?; // unsynced
    /// }
    /// db.sync_wal()?; // one fdatasync makes all hundred durable
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sync_wal(&self) -> Result<()> {
        self.check_not_read_only()?;
        let engine = &self.engine;
        engine.sync_wal_through(engine.durability.written(), None)
    }

    /// Applies `batch` atomically and returns once it is in the memtable and visible to
    /// readers, without waiting for an fsync; the returned [`DurableTicket`] completes when an
    /// fdatasync of the write-ahead log has made the batch durable. What a replicated log
    /// needs (openraft's `append(entries, callback)`): many writes overlap with one fsync.
    ///
    /// Who syncs: the database's sync thread, as soon as a write waits and no sync runs — so
    /// one fsync covers every write made while the one before ran, from any number of
    /// threads; or sooner, whatever syncs the log first: a synced write,
    /// [`sync_wal`](Self::sync_wal), a memtable rotation (which syncs the old log), or
    /// [`close`](Self::close). The sync runs without holding up later commits.
    ///
    /// Ordering: handles complete in commit order, and one completes only when every write
    /// committed before it (synced or not) is durable too. Until then the write is visible but
    /// not durable: a power loss may lose it, together with every later write, never an earlier
    /// one without it.
    ///
    /// If this returns an error the batch was not written. A failed sync (or log write)
    /// completes every pending handle with the error and turns the database read-only, as for
    /// synced writes. An empty batch writes nothing; its ticket completes once every write
    /// acknowledged before it is durable.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let mut tickets = Vec::new();
    /// for index in 0..10u32 {
    ///     let mut batch = WriteBatch::new();
    ///     batch.put(&index.to_be_bytes(), b"entry")?;
    ///     tickets.push(db.write_durable(batch)?); // visible now
    /// }
    /// assert!(db.get(&9u32.to_be_bytes())?.is_some());
    /// for ticket in tickets {
    ///     ticket.wait()?; // durable, sharing fsyncs
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_durable(&self, batch: WriteBatch) -> Result<DurableTicket> {
        let (ticket, completion) = DurableTicket::new();
        self.write_with_completion(batch, completion)?;
        Ok(ticket)
    }

    /// [`write_durable`](Self::write_durable) with a callback instead of a ticket: `on_durable`
    /// is called once with `Ok(())` when the batch is durable, or with the error that keeps it
    /// from becoming so — in commit order, one callback at a time, on the thread that did the
    /// sync (the sync thread, a synced writer's, or the one calling `sync_wal` or `close`).
    /// If this returns an error the batch was not written and `on_durable` is never called.
    ///
    /// `on_durable` must be quick (the next sync waits for it) and must not write to this
    /// database (`put`, `write`, `flush`, `sync_wal`, `close`, ...), which may deadlock: hand
    /// the news to another thread instead, as the example does. Reads are fine. A panic in it
    /// is caught, and the database then refuses writes as after a panic in the engine.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let (durable, notices) = std::sync::mpsc::channel();
    /// for index in 0..10u64 {
    ///     let mut batch = WriteBatch::new();
    ///     batch.put(&index.to_be_bytes(), b"entry")?;
    ///     let durable = durable.clone();
    ///     db.write_durable_then(batch, move |result| {
    ///         let _ = durable.send((index, result.is_ok()));
    ///     })?;
    /// }
    /// let order: Vec<_> = notices.iter().take(10).collect();
    /// assert_eq!(order, (0..10).map(|index| (index, true)).collect::<Vec<_>>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_durable_then(
        &self,
        batch: WriteBatch,
        on_durable: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        self.write_with_completion(batch, Completion::Callback(Box::new(on_durable)))
    }

    /// Commits `batch` unsynced, with `completion` for when it is durable.
    fn write_with_completion(&self, batch: WriteBatch, completion: Completion) -> Result<()> {
        crate::keyspace::commit(&self.engine, batch, false, Some(completion))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = close(&self.engine);
    }
}

fn acquire_lock(dir: &Path, options: &Options) -> Result<Box<dyn FileLock>> {
    let file_system = &*options.file_system;
    let exists = file_system
        .exists(dir)
        .map_err(|error| Error::io(dir, error))?;
    if !exists {
        if !options.create_if_missing {
            return Err(Error::InvalidArgument(format!(
                "{} does not exist and Options::create_if_missing is false",
                dir.display()
            )));
        }
        file_system
            .create_dir_all(dir)
            .map_err(|error| Error::io(dir, error))?;
    }
    let path = dir.join(LOCK_FILE_NAME);
    match file_system.lock(&path) {
        Ok(lock) => Ok(lock),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
            Err(Error::Locked(dir.to_path_buf()))
        }
        Err(error) => Err(Error::io(&path, error)),
    }
}

/// See [`Db::stats`].
fn stats(engine: &Engine) -> Stats {
    let keyspaces: Vec<KeyspaceStats> = {
        let ids: Vec<KeyspaceId> = lock(&engine.state).keyspaces.keys().copied().collect();
        ids.into_iter()
            .filter_map(|id| crate::keyspace::keyspace_stats(engine, id))
            .collect()
    };
    let (background_error, manifest_rolls) = {
        let state = lock(&engine.state);
        (
            state.background_error.clone(),
            state.versions.manifest_rolls(),
        )
    };
    let default = keyspaces.first().cloned().unwrap_or_default();
    let mut levels = [(0, 0); NUM_LEVELS];
    for (slot, level) in levels.iter_mut().zip(&default.levels) {
        *slot = (level.files, level.bytes);
    }
    let mut level_scores = [0.0; NUM_LEVELS - 1];
    for (slot, score) in level_scores.iter_mut().zip(&default.level_scores) {
        *slot = *score;
    }
    let poisoned = lock(&engine.poisoned).clone();
    engine.stats.snapshot(Gauges {
        levels,
        level_scores,
        memtable_bytes: default.memtable_bytes,
        immutable_memtables: default.immutable_memtables,
        immutable_bytes: default.immutable_memtable_bytes,
        commit: &engine.commit.stats,
        cache: &engine.cache,
        error: poisoned.or(background_error),
        manifest_rolls,
        commit_wait_budget: engine.commit.wait_budget(),
        keyspaces,
    })
}

/// See [`Db::close`].
fn close(engine: &Engine) -> Result<()> {
    if engine.closed.swap(true, Ordering::AcqRel) {
        return Ok(());
    }
    let (synced, finished_wal) = match lock(&engine.wal).as_mut() {
        // Opened read-only: there is no log to sync or record.
        None => (Ok(()), None),
        // A failed log write or sync is never followed by a sync (the waiting writes failed).
        Some(wal) if wal.writer.is_poisoned() || engine.durability.has_failed() => (Ok(()), None),
        Some(wal) => {
            // Completes every write waiting for a sync (`write_durable`).
            let synced = engine.sync_current_wal(wal);
            let finished = synced.is_ok().then(|| (wal.number, wal.writer.offset()));
            (synced, finished)
        }
    };
    // The sync thread stops; a write still waiting for a sync (only after a failure) fails.
    let panics = engine.durability.shut_down();
    engine.record_callback_panics(panics);
    {
        let mut state = lock(&engine.state);
        state.shutting_down = true;
        engine.state_changed.notify_all();
    }
    if let Some(cause) = engine.workers.join() {
        engine.poison(cause);
    }
    let recorded = match finished_wal {
        Some((number, synced_size)) => record_finished_wal(engine, number, synced_size),
        None => Ok(()),
    };
    // An unused preallocated log holds nothing; leaving it would only cost the next open a
    // replay of zeros.
    if let Some(spare) = lock(&engine.state).spare_wal.take() {
        drop(spare.writer);
        let _ = remove_file(engine.file_system(), &wal_path(&engine.dir, spare.number));
    }
    // Dropping the lock releases it.
    drop(lock(&engine.lock_file).take());
    let panicked = match lock(&engine.panicked).clone() {
        Some(cause) => Err(Error::refused_after(&cause)),
        None => Ok(()),
    };
    synced.and(recorded).and(panicked)
}

/// Records in the manifest that the last write-ahead log was synced through `synced_size`
/// when the database closed, so that the next open can tell a truncated or zeroed tail of
/// it from a torn one. Skipped (it only makes recovery less strict) when the manifest can
/// no longer be written or the disk is full.
fn record_finished_wal(engine: &Engine, number: FileNumber, synced_size: u64) -> Result<()> {
    let mut state = lock(&engine.state);
    if state.versions.is_manifest_poisoned() || state.background_error.is_some() {
        return Ok(());
    }
    let mut edit = VersionEdit::new();
    edit.wals
        .push(engine.wal_metadata(number, Some(synced_size)));
    match state.versions.log_edit(&mut edit) {
        // Every write is durable already; only the stricter check at the next open is
        // lost, so a full disk does not fail the close.
        Err(error) if error.is_storage_full() => Ok(()),
        other => other,
    }
}

/// Keyspaces (`keyspace.rs`, `keyspace_admin.rs`).
impl Db {
    /// A handle around an opened engine, with its default keyspace.
    fn around(engine: Arc<Engine>) -> Db {
        let shared = {
            let state = lock(&engine.state);
            match state.keyspaces.get(&KeyspaceId::DEFAULT) {
                Some(entry) => Arc::clone(&entry.shared),
                None => unreachable!("every engine has the default keyspace"),
            }
        };
        let default = Keyspace::new(Arc::clone(&engine), shared);
        let tokens = CommitTokens::new(engine.options.commit_token_retention);
        Db {
            engine,
            default,
            tokens,
        }
    }

    /// The keyspace named `name`, created with `options` if the database has none of that
    /// name (durably, before this returns); an existing one keeps its data, and takes `options`
    /// if they differ from what it had (recorded too). `"default"` is the default keyspace
    /// (what [`put`](Self::put), [`get`](Self::get) and the rest of `Db` use), whose options are
    /// the database's and `options` does not change. A database opened read-only opens
    /// existing keyspaces only.
    ///
    /// Fails with `Error::InvalidArgument` for a name that is empty or over 255 bytes, or
    /// options out of range.
    ///
    /// ```
    /// use shaledb::{Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let events = db.keyspace("events", KeyspaceOptions::default())?;
    /// events.put(b"e1", b"started")?;
    /// db.close()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let events = db.keyspace("events", KeyspaceOptions::default())?;
    /// assert_eq!(events.get(b"e1")?.as_deref(), Some(&b"started"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyspace(&self, name: &str, options: KeyspaceOptions) -> Result<Keyspace> {
        if name == crate::key::DEFAULT_KEYSPACE_NAME {
            self.engine.check_open()?;
            return Ok(self.default.clone());
        }
        let shared = crate::keyspace_admin::open_keyspace(&self.engine, name, &options)?;
        Ok(Keyspace::new(Arc::clone(&self.engine), shared))
    }

    /// The keyspace named `name` as it is, without creating it or changing its options (`None`
    /// if the database has none of that name): what a tool that inspects or serves a keyspace
    /// another program configured wants, where [`keyspace`](Self::keyspace) would record the
    /// options it is given.
    ///
    /// ```
    /// use shaledb::{Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let tuned = KeyspaceOptions { write_buffer_size: 1 << 20, ..KeyspaceOptions::default() };
    /// db.keyspace("tuned", tuned.clone())?;
    /// let found = db.existing_keyspace("tuned")?.expect("created above");
    /// assert_eq!(found.options(), tuned);
    /// assert!(db.existing_keyspace("missing")?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn existing_keyspace(&self, name: &str) -> Result<Option<Keyspace>> {
        self.engine.check_open()?;
        if name == crate::key::DEFAULT_KEYSPACE_NAME {
            return Ok(Some(self.default.clone()));
        }
        crate::keyspace_admin::refuse_reserved(name)?;
        let state = lock(&self.engine.state);
        let shared = state
            .keyspaces
            .values()
            .find(|entry| entry.shared.name == name)
            .map(|entry| Arc::clone(&entry.shared));
        drop(state);
        Ok(shared.map(|shared| Keyspace::new(Arc::clone(&self.engine), shared)))
    }

    /// The default keyspace: the one `Db`'s own reads and writes use.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// db.put(b"k", b"v")?;
    /// assert_eq!(db.default_keyspace().get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn default_keyspace(&self) -> Keyspace {
        self.default.clone()
    }

    /// The names of the database's keyspaces: `"default"` first, then the others in the order
    /// they were created.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// db.keyspace("b", shaledb::KeyspaceOptions::default())?;
    /// db.keyspace("a", shaledb::KeyspaceOptions::default())?;
    /// assert_eq!(db.keyspaces(), ["default", "b", "a"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyspaces(&self) -> Vec<String> {
        let state = lock(&self.engine.state);
        state
            .keyspaces
            .values()
            .map(|entry| entry.shared.name.clone())
            .filter(|name| !crate::keyspace_admin::is_reserved(name))
            .collect()
    }

    /// Drops the keyspace named `name` with all its data: durably (a crash after this returns
    /// never brings it back), and at once, whatever its size: it returns once the manifest
    /// records the drop, and a thread of its own deletes the keyspace's tables, unread, as soon
    /// as no iterator or read holds them ([`close`](Self::close) waits for it; files a crash
    /// leaves behind are removed at the next open). Its handles fail from then on;
    /// [`keyspace`](Self::keyspace) with the same name makes a new, empty keyspace. Fails with
    /// `Error::InvalidArgument` for `"default"` or a name no keyspace has.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let scratch = db.keyspace("scratch", shaledb::KeyspaceOptions::default())?;
    /// scratch.put(b"k", b"v")?;
    /// db.drop_keyspace("scratch")?;
    /// assert!(scratch.get(b"k").is_err());
    /// assert_eq!(db.keyspaces(), ["default"]);
    /// assert!(db.drop_keyspace("default").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drop_keyspace(&self, name: &str) -> Result<()> {
        crate::keyspace_admin::drop_keyspace(&self.engine, name)
    }

    /// The values of keys in several keyspaces, all read at one sequence (the latest, or
    /// `options.snapshot`'s): each entry is a keyspace and a key of it, and the result holds
    /// each one's value in the same order. As [`multi_get`](Self::multi_get), across keyspaces.
    ///
    /// ```
    /// use shaledb::{Db, KeyspaceOptions, Options, ReadOptions, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let rows = db.keyspace("rows", KeyspaceOptions::default())?;
    /// let index = db.keyspace("index", KeyspaceOptions::default())?;
    /// let mut batch = WriteBatch::new();
    /// batch.put_in(&rows, b"r1", b"Ada")?;
    /// batch.put_in(&index, b"ada", b"r1")?;
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// let values = db.multi_get_in(&[(&rows, &b"r1"[..]), (&index, &b"ada"[..])], &ReadOptions::default())?;
    /// assert_eq!(values[0].as_deref(), Some(&b"Ada"[..]));
    /// assert_eq!(values[1].as_deref(), Some(&b"r1"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn multi_get_in<K: AsRef<[u8]>>(
        &self,
        keys: &[(&Keyspace, K)],
        options: &ReadOptions<'_>,
    ) -> Result<Vec<Option<Value>>> {
        crate::keyspace::multi_get_in(&self.engine, keys, options)
    }
}

/// Checkpoints (`checkpoint.rs`).
impl Db {
    /// Makes a checkpoint: a consistent copy of the database in the new directory `dir`, which
    /// opens with [`Db::open`] or [`Db::open_read_only`] as an independent database holding
    /// the state at one sequence number — every write acknowledged before this call (synced or
    /// not), whole batches only, nothing half-applied. `dir` must not exist or be empty
    /// (`Error::InvalidArgument` otherwise); it uses this database's
    /// [`Options::file_system`].
    ///
    /// Tables are hard-linked ([`FileSystem::hard_link`](crate::vfs::FileSystem::hard_link)),
    /// so on the same file system a checkpoint costs next to no space or time, whatever the
    /// size of the database: tables are never modified once written, and a later compaction
    /// here only removes this database's name of a file the checkpoint still names. Where a
    /// link fails (another file system) the file is copied. The write-ahead logs of the writes
    /// not yet in a table are copied (the live one up to the consistent point) and synced; a
    /// manifest naming exactly those files and a `CURRENT` are written last. When this returns
    /// everything is synced, the directory too: the checkpoint survives a power loss.
    ///
    /// Writers are held only while the point is recorded (no I/O); reads, writes, flushes and
    /// compactions go on while the files are linked and copied. A failed checkpoint removes
    /// what it wrote (an interrupted one leaves no `CURRENT`, so `dir` never opens as a
    /// database). A database opened read-only refuses with `Error::ReadOnly`, as does one
    /// that refuses writes after a failure.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path().join("db"), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// let report = db.checkpoint(dir.path().join("backup"))?;
    /// db.put(b"k", b"later")?;
    /// let backup = Db::open_read_only(dir.path().join("backup"), Options::default())?;
    /// assert_eq!(backup.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(report.sequence.0, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<crate::CheckpointReport> {
        crate::checkpoint::checkpoint(&self.engine, dir.as_ref())
    }
}

// The compiler checks the promise the documentation makes.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Db>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::{FaultFileSystem, FileClass};
    use std::time::Duration;

    fn batch_of(name: &str) -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch
            .put(format!("{name}-1").as_bytes(), name.as_bytes())
            .unwrap();
        batch
            .put(format!("{name}-2").as_bytes(), name.as_bytes())
            .unwrap();
        batch
    }

    /// Holds the log lock so that one leader (`first`) blocks in its commit while `followers`
    /// queue behind it and then form the next group together; `arm` makes the log operation
    /// of that second group fail (the first group's is the first of its kind from then on).
    /// Returns each writer's result.
    fn second_group_fails(
        arm: fn(&FaultFileSystem),
    ) -> (tempfile::TempDir, Arc<Db>, Vec<Result<()>>) {
        let dir = tempfile::tempdir().unwrap();
        let file_system = FaultFileSystem::new();
        let options = Options {
            write_buffer_size: 1 << 20,
            file_system: Arc::new(file_system.clone()),
            ..Options::default()
        };
        let db = Arc::new(Db::open(dir.path(), options).unwrap());
        // The flush thread's spare log writes and syncs a log too: let it finish first.
        while lock(&db.engine.state).spare_wal.is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let guard = lock(&db.engine.wal);
        arm(&file_system);
        let spawn = |name: String| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || db.write(batch_of(&name), &WriteOptions::SYNC))
        };
        let first = spawn("first".into());
        std::thread::sleep(Duration::from_millis(50));
        let followers: Vec<_> = (0..7)
            .map(|index| spawn(format!("follower{index}")))
            .collect();
        std::thread::sleep(Duration::from_millis(150));
        drop(guard);
        let mut results = vec![first.join().unwrap()];
        results.extend(
            followers
                .into_iter()
                .map(|follower| follower.join().unwrap()),
        );
        (dir, db, results)
    }

    fn check_poisoned_after(results: &[Result<()>], db: &Db, injected: &str) {
        assert!(
            results[0].is_ok(),
            "the first group was fine: {:?}",
            results[0]
        );
        for result in &results[1..] {
            match result {
                Err(Error::Io { source, .. }) => assert!(source.to_string().contains(injected)),
                other => panic!("a member of the failed group got {other:?}"),
            }
        }
        assert_eq!(
            db.engine.commit.stats.batches.max(),
            7,
            "the followers formed one group"
        );
        match db.put(b"later", b"write") {
            Err(Error::ReadOnly(cause)) => assert!(cause.contains(injected), "{cause}"),
            other => panic!("a write after the failure got {other:?}"),
        }
        assert!(
            db.stats()
                .error
                .is_some_and(|cause| cause.contains(injected))
        );
        assert_eq!(db.get(b"first-1").unwrap().as_deref(), Some(&b"first"[..]));
    }

    #[test]
    fn a_failed_log_sync_fails_the_whole_group_and_the_database_refuses_writes() {
        let (_dir, db, results) =
            second_group_fails(|file_system| file_system.fail_sync(2, FileClass::Wal));
        check_poisoned_after(&results, &db, "injected sync failure");
        // The failed sync is not retried: closing does not sync the poisoned log again.
        db.close().unwrap();
    }

    #[test]
    fn a_failed_log_write_fails_the_whole_group_and_the_database_refuses_writes() {
        let (_dir, db, results) =
            second_group_fails(|file_system| file_system.fail_write(2, FileClass::Wal));
        check_poisoned_after(&results, &db, "injected write failure");
        // Nothing of the failed group reached the memtable.
        assert_eq!(db.get(b"follower0-1").unwrap(), None);
        db.close().unwrap();
    }
}

/// Reads racing with a flush: a read takes its sequence number and then its view, and a flush
/// keeps only the newest version of a key the registered snapshots do not pin. Each test stops
/// a read between its two steps (the engine's test pause point), overwrites the key and flushes
/// meanwhile, then lets the read finish: it must return the value at its own sequence.
#[cfg(test)]
mod read_race_tests {
    use super::*;
    use std::sync::{Mutex, mpsc};
    use std::time::Duration;

    /// A database where `k` is `v0` in a table and `v1` in the memtable, and no compaction
    /// runs.
    fn setup() -> (tempfile::TempDir, Arc<Db>) {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            level0_size_percent_trigger: 0,
            ..Options::default()
        };
        let db = Arc::new(Db::open(dir.path(), options).unwrap());
        db.put(b"k", b"v0").unwrap();
        db.flush().unwrap();
        db.put(b"k", b"v1").unwrap();
        (dir, db)
    }

    /// Runs `read` on its own thread, paused at the pause point while `k` is overwritten with
    /// `v2` and the memtable flushed (by a thread of its own, which may have to wait for the
    /// read); returns what the read returned.
    fn race<T: Send + 'static>(db: &Arc<Db>, read: impl FnOnce(&Db) -> T + Send + 'static) -> T {
        let (paused_sender, paused) = mpsc::channel::<()>();
        let (resume, resumed) = mpsc::channel::<()>();
        let resumed = Mutex::new(resumed);
        let paused_sender = Mutex::new(paused_sender);
        db.engine.visibility.pause.set(move || {
            let _ = lock(&paused_sender).send(());
            let _ = lock(&resumed).recv_timeout(Duration::from_secs(10));
        });
        let reader = {
            let db = Arc::clone(db);
            std::thread::spawn(move || read(&db))
        };
        paused.recv_timeout(Duration::from_secs(10)).unwrap();
        db.engine.visibility.pause.clear();
        let writer = {
            let db = Arc::clone(db);
            std::thread::spawn(move || {
                db.put(b"k", b"v2").unwrap();
                db.flush().unwrap();
            })
        };
        // Let the flush finish before the read goes on; where the read holds the view steady,
        // the flush waits for the read instead, and this gives up after a second.
        let flushes = db.engine.stats.flushes.load(Ordering::Acquire);
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while db.engine.stats.flushes.load(Ordering::Acquire) == flushes
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        resume.send(()).unwrap();
        let result = reader.join().unwrap();
        writer.join().unwrap();
        assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v2"[..]));
        result
    }

    #[test]
    fn a_get_preempted_by_a_flush_returns_the_value_at_its_sequence() {
        let (_dir, db) = setup();
        let value = race(&db, |db| db.get(b"k").unwrap());
        assert_eq!(value.as_deref(), Some(&b"v1"[..]));
    }

    #[test]
    fn an_iterator_preempted_by_a_flush_reads_the_state_at_its_sequence() {
        let (_dir, db) = setup();
        let entries = race(&db, |db| {
            db.iter()
                .map(|item| item.map(|(key, value)| (key, value.to_vec())))
                .collect::<Result<Vec<_>>>()
                .unwrap()
        });
        assert_eq!(entries, vec![(b"k".to_vec(), b"v1".to_vec())]);
    }

    #[test]
    fn a_multi_get_preempted_by_a_flush_returns_the_values_at_its_sequence() {
        let (_dir, db) = setup();
        let values = race(&db, |db| {
            db.multi_get(&[&b"k"[..], &b"absent"[..]]).unwrap()
        });
        assert_eq!(values[0].as_deref(), Some(&b"v1"[..]));
        assert_eq!(values[1], None);
    }

    #[test]
    fn a_snapshot_taken_during_a_flush_keeps_the_value_at_its_sequence() {
        let (_dir, db) = setup();
        let snapshot = race(&db, |db| db.snapshot());
        let at_snapshot = ReadOptions {
            snapshot: Some(&snapshot),
            ..ReadOptions::default()
        };
        assert_eq!(
            db.get_with(b"k", &at_snapshot).unwrap().as_deref(),
            Some(&b"v1"[..])
        );
    }
}

/// Panics in background threads and on the caller's thread during a manual compaction turn the
/// database read-only with the cause, instead of leaving writers waiting for work that will never
/// finish. (The commit leader and the flush thread are tested through `FaultFileSystem`'s
/// panicking write in `tests/panic_safety.rs`.)
#[cfg(test)]
mod panic_tests {
    use super::*;
    use std::time::Duration;

    fn options() -> Options {
        Options {
            level0_compaction_trigger: 2,
            level0_size_percent_trigger: 0,
            ..Options::default()
        }
    }

    fn expect_read_only_naming(result: Result<()>, place: &str) {
        match result {
            Err(Error::ReadOnly(cause)) => assert!(cause.contains(place), "{cause}"),
            other => panic!("expected a read-only error naming {place}, got {other:?}"),
        }
    }

    #[test]
    fn a_panicking_compaction_thread_turns_the_database_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), options()).unwrap();
        db.engine
            .compaction_started
            .set(|| panic!("injected compaction panic"));
        for round in 0..2 {
            db.put(format!("key{round}").as_bytes(), b"value").unwrap();
            db.flush().unwrap();
        }
        // The compaction that two level-0 files start panics on its thread.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while db.stats().error.is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "no error after the panic"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        expect_read_only_naming(db.put(b"later", b"write"), "a compaction thread");
        expect_read_only_naming(db.wait_for_compaction(), "a compaction thread");
        assert_eq!(db.get(b"key0").unwrap().as_deref(), Some(&b"value"[..]));
        expect_read_only_naming(db.close(), "a compaction thread");
    }

    #[test]
    fn a_panicking_manual_compaction_returns_an_error_and_turns_the_database_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            level0_compaction_trigger: 8,
            ..options()
        };
        let db = Db::open(dir.path(), options).unwrap();
        for round in 0..2 {
            db.put(format!("key{round}").as_bytes(), b"value").unwrap();
            db.flush().unwrap();
        }
        db.engine
            .compaction_started
            .set(|| panic!("injected compaction panic"));
        expect_read_only_naming(db.compact_range(..), "a manual compaction");
        expect_read_only_naming(db.put(b"later", b"write"), "a manual compaction");
        assert_eq!(db.get(b"key1").unwrap().as_deref(), Some(&b"value"[..]));
        expect_read_only_naming(db.close(), "a manual compaction");
    }
}

#[cfg(test)]
mod keyspace_tests {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use crate::{Db, KeyspaceOptions, Options, WriteOptions};

    use super::*;

    /// A keyspace whose level 0 is at its stop trigger (its compactions held) stops its own
    /// writers, and only them.
    #[test]
    fn one_keyspaces_compaction_debt_stops_its_writers_and_not_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let slow = db
            .keyspace(
                "slow",
                KeyspaceOptions {
                    level0_compaction_trigger: 1,
                    level0_slowdown_trigger: 1,
                    level0_stop_trigger: 2,
                    ..KeyspaceOptions::default()
                },
            )
            .unwrap();
        let other = db.keyspace("other", KeyspaceOptions::default()).unwrap();
        let held = Arc::new(AtomicBool::new(true));
        let hold = Arc::clone(&held);
        slow.engine().compaction_started.set(move || {
            while hold.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        for round in 0..2 {
            slow.put(format!("k{round}").as_bytes(), b"v").unwrap();
            slow.flush().unwrap();
        }
        assert_eq!(slow.stats().unwrap().levels[0].files, 2);
        let blocked = {
            let slow = slow.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                slow.put_with(b"blocked", b"v", &WriteOptions::NO_SYNC)
                    .unwrap();
                started.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !blocked.is_finished(),
            "a write to the stopped keyspace went through"
        );
        let others = {
            let default = db.default_keyspace();
            std::thread::spawn(move || {
                for index in 0..100 {
                    let key = format!("o{index}");
                    other.put_with(key.as_bytes(), b"v", &WriteOptions::NO_SYNC)?;
                    default.put_with(key.as_bytes(), b"v", &WriteOptions::NO_SYNC)?;
                }
                Ok::<(), Error>(())
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !others.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let finished = others.is_finished();
        let still_blocked = !blocked.is_finished();
        held.store(false, Ordering::Release);
        assert!(
            finished,
            "the other keyspaces' writes waited for the stopped one"
        );
        others.join().unwrap().unwrap();
        assert!(
            still_blocked,
            "the stopped keyspace's write went through meanwhile"
        );
        let waited = blocked.join().unwrap();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert_eq!(slow.get(b"blocked").unwrap().as_deref(), Some(&b"v"[..]));
        slow.engine().compaction_started.clear();
    }
}

/// Commit tokens and compaction filters, tested through a database (their modules sit below
/// `db`).
#[cfg(test)]
mod token_and_filter_tests {
    use std::sync::{Arc, Mutex};

    use super::Db;
    use crate::batch::WriteBatch;
    use crate::commit_token::{CommitStatus, CommitToken};
    use crate::compaction_filter::{CompactionFilter, FilterDecision, now_micros};
    use crate::options::{CommitTokenRetention, Options, ReadOptions, WriteOptions};
    use crate::snapshot::Snapshot;

    /// A prune never raises the cut past a write in flight: that write checked its token
    /// against the cut before, and reads its record back after it commits.
    #[test]
    fn a_prune_stops_below_a_write_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            commit_token_retention: CommitTokenRetention {
                max_count: 10,
                ..CommitTokenRetention::default()
            },
            ..Options::default()
        };
        let db = Db::open(dir.path(), options).unwrap();
        let base = now_micros();
        let write = |index: u64| {
            let token = CommitToken::from_parts(base + index, index);
            db.write_with_token(WriteBatch::new(), token, &WriteOptions::NO_SYNC)
                .unwrap();
            token
        };
        let written: Vec<CommitToken> = (1..=11).map(write).collect();
        let in_flight = CommitToken::from_parts(base, 0);
        db.tokens.set_pending_for_test(in_flight, true);
        write(12); // 12 remembered: a prune is due, and may not pass `in_flight`
        assert_eq!(db.tokens.cut_for_test(), base);
        for token in &written {
            let status = db.was_committed(token).unwrap();
            assert!(
                matches!(status, CommitStatus::Committed { .. }),
                "{status:?}"
            );
        }
        db.tokens.set_pending_for_test(in_flight, false);
        write(13);
        assert!(db.tokens.cut_for_test() > base + 1);
        assert_eq!(
            db.was_committed(&written[0]).unwrap(),
            CommitStatus::Unknown
        );
    }

    struct RemoveAll;

    impl CompactionFilter for RemoveAll {
        fn name(&self) -> &str {
            "remove-all"
        }
        fn filter(&self, _level: usize, _key: &[u8], _value: &[u8]) -> FilterDecision {
            FilterDecision::Remove
        }
    }

    /// A snapshot taken while a compaction filter runs must not see the compaction's result
    /// (it read the entries before the filter): the compaction is discarded.
    #[test]
    fn a_snapshot_taken_during_a_filtering_compaction_discards_it() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            compaction_filter: Some(Arc::new(RemoveAll)),
            ..Options::default()
        };
        let db = Arc::new(Db::open(dir.path(), options).unwrap());
        db.put(b"k", b"v").unwrap();
        db.flush().unwrap();
        let taken: Arc<Mutex<Option<Snapshot>>> = Arc::default();
        let engine = Arc::clone(&db.engine);
        {
            let (db, taken) = (Arc::downgrade(&db), Arc::clone(&taken));
            engine.compaction_merged.set(move || {
                let mut taken = taken.lock().unwrap();
                if taken.is_none() {
                    *taken = db.upgrade().map(|db| db.snapshot());
                }
            });
        }
        db.compact_range(..).unwrap();
        engine.compaction_merged.clear();
        let snapshot = taken
            .lock()
            .unwrap()
            .take()
            .expect("taken during the compaction");
        let at = ReadOptions {
            snapshot: Some(&snapshot),
            ..ReadOptions::default()
        };
        assert_eq!(db.get_with(b"k", &at).unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        assert!(db.stats().filtered_compactions_discarded >= 1);
        drop(snapshot);
        db.compact_range(..).unwrap();
        assert_eq!(db.get(b"k").unwrap(), None);
    }
}
