//! `Db`: the database handle. Every read and write enters here; this module coordinates the
//! commit queue, the memtables, the flush thread and the versions, and parses no bytes itself.
//!
//! Locks, always taken in this order: `wal` (held by the commit leader while it logs and
//! inserts a group) → `state` (file numbers, frozen memtables, the manifest, the current
//! version) → `view` (what readers see; written only while `state` is held). Readers take only a
//! brief read lock on `view`.
//!
//! Invariants:
//! - `visible_sequence` is published after every entry at or below it is in a memtable that is
//!   in `view` (or in a table of the version in `view`); a reader loads the sequence first and
//!   the view second, so it always finds every entry its sequence promises.
//! - A frozen memtable leaves `view` in the same update that adds its table to the version.
//! - A write-ahead log is deleted only after the manifest durably records a log number above it.

use std::collections::{HashSet, VecDeque};
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::batch::WriteBatch;
use crate::cache::BlockCache;
use crate::commit::GroupCommit;
use crate::compaction::picker::PickerOptions;
use crate::db_iterator::{DbIterator, SourceFactory, prefix_successor};
use crate::error::{Error, Result};
use crate::fs::{LOCK_FILE_NAME, remove_file, wal_path};
use crate::iterator::{InternalIterator, LevelIterator, MemtableIterator, TableSource};
use crate::key::{FileNumber, SequenceNumber, check_key};
use crate::log::LogWriter;
use crate::manifest::{ManifestWriter, NUM_LEVELS, VersionEdit, write_current_on};
use crate::memtable::{Memtable, MemtableLookup};
use crate::options::{Options, ReadOptions, WriteOptions};
use crate::snapshot::{Snapshot, SnapshotRegistry};
use crate::sstable::{Block, BlockReadOptions, LookupResult};
use crate::stats::pressure::{Pressure, PressureInputs};
use crate::stats::rate::RateMeter;
use crate::stats::{EngineStats, Stats};
use crate::value::Value;
use crate::version::{TableHandle, Version};
use crate::vfs::{FileLock, FileSystem};

/// What readers see: the memtables and tables that together hold every visible entry.
pub(crate) struct ReadView {
    pub memtable: Arc<Memtable>,
    /// Frozen memtables waiting for their flush, newest first.
    pub immutables: Vec<Arc<Memtable>>,
    pub version: Arc<Version>,
}

/// The commit leader's state: the log being written and the memtable it feeds.
pub(crate) struct WalState {
    pub writer: LogWriter,
    pub number: FileNumber,
    pub memtable: Arc<Memtable>,
    /// The last sequence number handed out (equal to the visible one between groups).
    pub last_sequence: SequenceNumber,
}

/// A frozen memtable and the log that holds its writes.
#[derive(Clone)]
pub(crate) struct ImmutableMemtable {
    pub memtable: Arc<Memtable>,
    pub wal_number: FileNumber,
}

/// A preallocated write-ahead log waiting to become the current one.
pub(crate) struct SpareWal {
    pub number: FileNumber,
    pub writer: LogWriter,
}

/// Everything that changes when memtables rotate and flushes finish.
pub(crate) struct EngineState {
    /// Frozen memtables, oldest first.
    pub immutables: VecDeque<ImmutableMemtable>,
    pub version: Arc<Version>,
    pub manifest: ManifestWriter,
    pub next_file_number: u64,
    /// The log the current memtable writes to (the manifest's log number once everything older
    /// is flushed).
    pub current_wal_number: FileNumber,
    /// The next write-ahead log, preallocated by the flush thread so that a rotation does not
    /// wait for its zeros to be written. Its number is above `current_wal_number`.
    pub spare_wal: Option<SpareWal>,
    /// Whether the flush thread should prepare a spare log when it is idle.
    pub spare_wanted: bool,
    pub shutting_down: bool,
    /// Set when a flush failed for good; the database is read-only from then on.
    pub background_error: Option<String>,
    /// Files that a running compaction reads: no other compaction may take them.
    pub compacting: HashSet<FileNumber>,
    /// Compactions running now (background and manual).
    pub running_compactions: usize,
    /// Per level, the largest key of the last file compacted out of it (round robin).
    pub cursors: [Option<Vec<u8>>; NUM_LEVELS],
}

impl EngineState {
    pub fn allocate_file_number(&mut self) -> FileNumber {
        let number = FileNumber(self.next_file_number);
        self.next_file_number += 1;
        number
    }
}

pub(crate) struct DbInner {
    pub dir: PathBuf,
    pub options: Options,
    pub lock_file: Mutex<Option<Box<dyn FileLock>>>,
    pub commit: GroupCommit,
    pub wal: Mutex<WalState>,
    pub state: Mutex<EngineState>,
    /// Signalled when `state` changes: a memtable was frozen, a flush finished, shutdown began.
    pub state_changed: Condvar,
    pub view: RwLock<Arc<ReadView>>,
    pub visible_sequence: AtomicU64,
    pub snapshots: Arc<SnapshotRegistry>,
    pub cache: Arc<BlockCache<Block>>,
    pub stats: EngineStats,
    /// Why writes are refused, after a failed log write or fsync.
    pub poisoned: Mutex<Option<String>>,
    pub closed: AtomicBool,
    pub flusher: Mutex<Option<JoinHandle<()>>>,
    /// The compaction threads.
    pub background_threads: Mutex<Vec<JoinHandle<()>>>,
    /// Level-0 files in the current version, for the write path's backpressure check.
    pub level0_files: AtomicUsize,
    /// Bytes written by the write path, for the write rate in `pressure()`.
    pub write_rate: RateMeter,
    /// Bytes of records in the current write-ahead log, for `stats()`.
    pub wal_bytes: AtomicU64,
}

/// Takes a mutex even if a panicking thread poisoned it. Every critical section in the engine
/// leaves its data consistent at each step that can panic (only assertions can), so the data is
/// still usable; a panicked background worker poisons the database through `poisoned` instead.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

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
    inner: Arc<DbInner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if `options.create_if_missing`) the database in directory `path`,
    /// recovering every acknowledged write from the manifest and the write-ahead logs.
    ///
    /// Fails with [`Error::Locked`] if the directory is already open, in this process or
    /// another; with `Error::InvalidArgument` for invalid options or a missing database when
    /// `create_if_missing` is off; with `Error::Corruption` for damage recovery must not skip.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        options.validate()?;
        let dir = path.as_ref().to_path_buf();
        let lock_file = acquire_lock(&dir, &options)?;
        let inner = crate::recovery::open_inner(dir, options, lock_file)?;
        let inner = Arc::new(inner);
        crate::flush::start_flusher(&inner)?;
        crate::compaction::scheduler::start(&inner)?;
        Ok(Db { inner })
    }

    /// Sets `key` to `value`, with the default sync from [`Options::sync_writes`].
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let batch = WriteBatch::single_put(key, value)?;
        self.write(batch, &self.default_write_options())
    }

    /// Deletes `key` (no error if it is absent), with the default sync.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        let batch = WriteBatch::single_delete(key)?;
        self.write(batch, &self.default_write_options())
    }

    /// Applies every operation of `batch` atomically: readers see all of it or none of it, and
    /// after a crash all of it or none of it is present. With `options.sync` the batch is on
    /// stable storage when this returns.
    ///
    /// After a failed log write or fsync every write fails with `Error::ReadOnly`: reopen the
    /// database to recover from the log.
    pub fn write(&self, batch: WriteBatch, options: &WriteOptions) -> Result<()> {
        self.inner.check_open()?;
        if batch.is_empty() {
            return Ok(());
        }
        let inner = &self.inner;
        inner
            .commit
            .write(batch, options.sync, |group| inner.commit_group(group))
    }

    fn default_write_options(&self) -> WriteOptions {
        WriteOptions {
            sync: self.inner.options.sync_writes,
        }
    }

    /// The value of `key`, or `None` if it is absent or deleted.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        self.get_with(key, &ReadOptions::default())
    }

    /// [`get`](Self::get) with options: a snapshot, caching and checksum verification.
    pub fn get_with(&self, key: &[u8], options: &ReadOptions<'_>) -> Result<Option<Value>> {
        self.inner.check_open()?;
        check_key(key)?;
        let (sequence, view) = self.inner.read_point(options)?;
        self.inner
            .get_in_view(&view, key, sequence, block_options(options))
    }

    /// The values of `keys`, in the order of `keys`. The keys are sorted internally and looked up
    /// against one consistent view, so that neighbouring keys share cached blocks.
    pub fn multi_get<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Value>>> {
        self.multi_get_with(keys, &ReadOptions::default())
    }

    /// [`multi_get`](Self::multi_get) with options.
    pub fn multi_get_with<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        options: &ReadOptions<'_>,
    ) -> Result<Vec<Option<Value>>> {
        self.inner.check_open()?;
        for key in keys {
            check_key(key.as_ref())?;
        }
        let (sequence, view) = self.inner.read_point(options)?;
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by(|&a, &b| keys[a].as_ref().cmp(keys[b].as_ref()));
        let mut results = vec![None; keys.len()];
        let mut previous: Option<(usize, &[u8])> = None;
        for index in order {
            let key = keys[index].as_ref();
            results[index] = match previous {
                Some((earlier, previous_key)) if previous_key == key => results[earlier].clone(),
                _ => self
                    .inner
                    .get_in_view(&view, key, sequence, block_options(options))?,
            };
            previous = Some((index, key));
        }
        Ok(results)
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
        let sequence = SequenceNumber(self.inner.visible_sequence.load(Ordering::Acquire));
        self.inner.snapshots.take(sequence)
    }

    /// Every key and value in key order (reverse with `.rev()`), as of now.
    pub fn iter(&self) -> DbIterator {
        self.range::<&[u8], _>(..)
    }

    /// The keys within `range` and their values, in key order (reverse with `.rev()`), as of
    /// now.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIterator {
        self.range_with(range, &ReadOptions::default())
    }

    /// The keys starting with `prefix` and their values, in key order, as of now.
    pub fn prefix(&self, prefix: &[u8]) -> DbIterator {
        match prefix_successor(prefix) {
            Some(end) => self.range(prefix..end.as_slice()),
            None => self.range(prefix..),
        }
    }

    /// [`range`](Self::range) with options (a snapshot, caching, checksum verification). An
    /// iterator reads one consistent view: the state when it was created, or the snapshot's.
    pub fn range_with<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        range: R,
        options: &ReadOptions<'_>,
    ) -> DbIterator {
        let lower = owned_bound(range.start_bound());
        let upper = owned_bound(range.end_bound());
        match self
            .inner
            .check_open()
            .and_then(|()| self.inner.read_point(options))
        {
            Ok((sequence, view)) => DbIterator::new(
                view_sources(view, block_options(options)),
                sequence,
                lower,
                upper,
            ),
            Err(error) => DbIterator::failed(error),
        }
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
    pub fn verify(&self) -> Result<crate::VerifyReport> {
        self.inner.check_open()?;
        crate::verify::verify(&self.inner)
    }

    /// Freezes the memtable and waits until it and every memtable frozen before it are written
    /// to level-0 SSTables.
    pub fn flush(&self) -> Result<()> {
        self.inner.check_open()?;
        crate::flush::flush_and_wait(&self.inner)
    }

    /// Flushes the memtable, then compacts every file holding keys in `range`, level by level,
    /// down to the last level: deleted and overwritten versions that no snapshot can see are
    /// dropped. Waits until done.
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        self.inner.check_open()?;
        let lower = owned_bound(range.start_bound());
        let upper = owned_bound(range.end_bound());
        crate::flush::flush_and_wait(&self.inner)?;
        crate::compaction::scheduler::compact_range(&self.inner, lower, upper)
    }

    /// Waits until no flush or compaction is running or due.
    pub fn wait_for_compaction(&self) -> Result<()> {
        self.inner.check_open()?;
        crate::compaction::scheduler::wait_for_compaction(&self.inner)
    }

    /// How close writes are to being slowed down or stopped by compaction debt, so that an
    /// application can shed or defer load before a stall happens.
    pub fn pressure(&self) -> Pressure {
        self.inner.pressure()
    }

    /// Counters and gauges: files and bytes per level, memtables, write groups, fsyncs, stalls,
    /// cache hits, flushes, compactions. `Display` prints them as a table.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Syncs the write-ahead log, stops the flush and compaction threads (a running compaction
    /// is abandoned; its inputs stay live) and releases the directory lock. Every
    /// call after this fails with [`Error::Closed`]. Dropping a `Db` closes it too (ignoring
    /// errors); call `close` to see them.
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.inner.close();
    }
}

fn block_options(options: &ReadOptions<'_>) -> BlockReadOptions {
    BlockReadOptions {
        verify_checksums: options.verify_checksums,
        fill_cache: options.fill_cache,
    }
}

fn owned_bound<K: AsRef<[u8]>>(bound: Bound<&K>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(key) => Bound::Included(key.as_ref().to_vec()),
        Bound::Excluded(key) => Bound::Excluded(key.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The sources of a merge over `view`: memtables, level-0 tables, one iterator per deeper level.
fn view_sources(view: Arc<ReadView>, options: BlockReadOptions) -> SourceFactory {
    Box::new(move || {
        let mut sources: Vec<Box<dyn InternalIterator>> = Vec::new();
        sources.push(Box::new(MemtableIterator::new(Arc::clone(&view.memtable))));
        for memtable in &view.immutables {
            sources.push(Box::new(MemtableIterator::new(Arc::clone(memtable))));
        }
        for handle in &view.version.levels[0] {
            sources.push(Box::new(TableSource::new(handle.table.iter_with(options))));
        }
        for level in &view.version.levels[1..] {
            if !level.is_empty() {
                sources.push(Box::new(LevelIterator::new(level.clone(), options)));
            }
        }
        sources
    })
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

/// The longest wait between two attempts of a failed flush or compaction.
pub(crate) const RETRY_DELAY_MAX: Duration = Duration::from_secs(1);

impl DbInner {
    /// Waits `delay` before a background retry, waking early when the database closes; false
    /// if it is closing, so that a retry loop never holds up `close`.
    pub fn wait_before_retry(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        let mut state = lock(&self.state);
        loop {
            if state.shutting_down || self.closed.load(Ordering::Acquire) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            state = self
                .state_changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// The file system every file operation goes through (`Options::file_system`).
    pub fn file_system(&self) -> &dyn FileSystem {
        &*self.options.file_system
    }

    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    pub fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        match lock(&self.poisoned).as_ref() {
            Some(cause) => Err(Error::ReadOnly(cause.clone())),
            None => Ok(()),
        }
    }

    /// Refuses every later write, keeping the first cause.
    pub fn poison(&self, cause: String) {
        lock(&self.poisoned).get_or_insert(cause);
    }

    /// The sequence number a read sees and the view it reads, in that order (see the module
    /// invariants).
    fn read_point(&self, options: &ReadOptions<'_>) -> Result<(SequenceNumber, Arc<ReadView>)> {
        let sequence = match options.snapshot {
            Some(snapshot) if !snapshot.belongs_to(&self.snapshots) => {
                return Err(Error::InvalidArgument(
                    "ReadOptions::snapshot was taken from another database".into(),
                ));
            }
            Some(snapshot) => snapshot.sequence(),
            None => SequenceNumber(self.visible_sequence.load(Ordering::Acquire)),
        };
        let view = Arc::clone(
            &self
                .view
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        Ok((sequence, view))
    }

    fn get_in_view(
        &self,
        view: &ReadView,
        key: &[u8],
        sequence: SequenceNumber,
        options: BlockReadOptions,
    ) -> Result<Option<Value>> {
        let memtables = std::iter::once(&view.memtable).chain(view.immutables.iter());
        for memtable in memtables {
            match memtable.get(key, sequence) {
                Some(MemtableLookup::Found(value)) => return Ok(Some(value)),
                Some(MemtableLookup::Deleted) => return Ok(None),
                None => {}
            }
        }
        for handle in view.version.tables_for_key(key) {
            match handle.table.get_with(key, sequence, options)? {
                Some(LookupResult::Value(value)) => return Ok(Some(value)),
                Some(LookupResult::Deleted) => return Ok(None),
                None => {}
            }
        }
        Ok(None)
    }

    /// See [`Db::pressure`].
    fn pressure(&self) -> Pressure {
        let options = self.picker_options();
        let (levels, immutables) = {
            let state = lock(&self.state);
            (
                state.manifest.state().levels.clone(),
                state.immutables.len(),
            )
        };
        let level0 = levels[0].len();
        let mut debt = 0u64;
        if level0 >= options.level0_compaction_trigger {
            debt += levels[0].iter().map(|file| file.file_size).sum::<u64>();
        }
        for (level, files) in levels.iter().enumerate().take(NUM_LEVELS - 1).skip(1) {
            let bytes: u64 = files.iter().map(|file| file.file_size).sum();
            let target =
                crate::compaction::picker::level_target_size(level, &options).unwrap_or(u64::MAX);
            debt += bytes.saturating_sub(target);
        }
        Pressure::estimate(PressureInputs {
            compaction_debt_bytes: debt,
            level0_files: level0,
            level0_slowdown_trigger: self.options.level0_slowdown_trigger,
            level0_stop_trigger: self.options.level0_stop_trigger,
            immutable_memtables: immutables,
            max_immutable_memtables: self.options.max_immutable_memtables,
            write_buffer_size: self.options.write_buffer_size as u64,
            write_rate_bytes_per_second: self.write_rate.rate(),
        })
    }

    /// The picker's sizing, from the options.
    pub fn picker_options(&self) -> PickerOptions {
        PickerOptions {
            level0_compaction_trigger: self.options.level0_compaction_trigger,
            level1_target_size: self.options.level1_target_size,
            level_size_multiplier: self.options.level_size_multiplier,
            target_file_size: self.options.target_file_size,
            level0_size_percent_trigger: self.options.level0_size_percent_trigger,
        }
    }

    /// Makes `edit` durable in the manifest (with the current next file number), starting a new
    /// manifest when this one has grown past `Options::max_manifest_size`.
    ///
    /// After a failed append the manifest's tail is unknown, so the next call first starts a
    /// new manifest from the state as of the last good edit (what the failed edit would have
    /// changed is not in it; the caller keeps that edit's new files for the next open to sort
    /// out, since the failed record may still have reached the disk).
    pub fn log_edit(&self, state: &mut EngineState, edit: &mut VersionEdit) -> Result<()> {
        if state.manifest.is_poisoned() {
            self.roll_manifest(state)?;
        }
        edit.next_file_number = Some(FileNumber(state.next_file_number));
        state.manifest.append(edit)?;
        if state.manifest.file_size() > self.options.max_manifest_size {
            // A failure here leaves the old manifest, which is complete, in charge.
            let _ = self.roll_manifest(state);
        }
        Ok(())
    }

    /// Writes the current state as the snapshot that starts a new manifest, points CURRENT at
    /// it, and deletes the old manifest.
    fn roll_manifest(&self, state: &mut EngineState) -> Result<()> {
        let number = state.allocate_file_number();
        let mut snapshot = state.manifest.state().clone();
        snapshot.next_file_number = FileNumber(state.next_file_number);
        let manifest = ManifestWriter::create_on(self.file_system(), &self.dir, number, &snapshot)?;
        write_current_on(self.file_system(), &self.dir, number)?;
        let old = std::mem::replace(&mut state.manifest, manifest);
        let _ = remove_file(self.file_system(), old.path());
        self.stats.manifest_rolls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Logs `edit` (which only adds and deletes tables) and installs the version it makes;
    /// `added` holds the handles of `edit.new_files` in order.
    pub fn install_edit(&self, mut edit: VersionEdit, added: Vec<Arc<TableHandle>>) -> Result<()> {
        let mut state = lock(&self.state);
        self.log_edit(&mut state, &mut edit)?;
        state.version = Arc::new(state.version.apply(&edit, added));
        let memtable = self.current_memtable();
        self.install_view(&state, memtable);
        self.state_changed.notify_all();
        Ok(())
    }

    /// Publishes a new read view built from `state` (called with `state` locked).
    pub fn install_view(&self, state: &EngineState, memtable: Arc<Memtable>) {
        let view = ReadView {
            memtable,
            immutables: state
                .immutables
                .iter()
                .rev()
                .map(|frozen| Arc::clone(&frozen.memtable))
                .collect(),
            version: Arc::clone(&state.version),
        };
        self.level0_files
            .store(state.version.levels[0].len(), Ordering::Release);
        *self
            .view
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(view);
    }

    /// The memtable readers currently see as the active one (with `state` locked).
    pub fn current_memtable(&self) -> Arc<Memtable> {
        Arc::clone(
            &self
                .view
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .memtable,
        )
    }

    fn stats(&self) -> Stats {
        let view = Arc::clone(
            &self
                .view
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let (background_error, level_scores) = {
            let state = lock(&self.state);
            let levels = &state.manifest.state().levels;
            let scores = crate::compaction::picker::level_scores(levels, &self.picker_options());
            (state.background_error.clone(), scores)
        };
        let poisoned = lock(&self.poisoned).clone();
        self.stats.snapshot(crate::stats::Gauges {
            levels: view.version.level_summary(),
            level_scores,
            memtable_bytes: view.memtable.approximate_size() as u64,
            immutable_memtables: view.immutables.len(),
            immutable_bytes: view
                .immutables
                .iter()
                .map(|memtable| memtable.approximate_size() as u64)
                .sum(),
            commit: &self.commit.stats,
            cache: &self.cache,
            error: poisoned.or(background_error),
            user_bytes_written: self.write_rate.total(),
            wal_bytes: self.wal_bytes.load(Ordering::Relaxed),
            commit_wait_budget: self.commit.wait_budget(),
        })
    }

    fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let (synced, finished_wal) = {
            let mut wal = lock(&self.wal);
            if wal.writer.is_poisoned() {
                (Ok(()), None)
            } else {
                let synced = wal.writer.sync();
                let finished = synced.is_ok().then(|| (wal.number, wal.writer.offset()));
                (synced, finished)
            }
        };
        {
            let mut state = lock(&self.state);
            state.shutting_down = true;
            self.state_changed.notify_all();
        }
        let compactors: Vec<_> = lock(&self.background_threads).drain(..).collect();
        for compactor in compactors {
            if compactor.join().is_err() {
                self.poison("a compaction thread panicked".into());
            }
        }
        if let Some(flusher) = lock(&self.flusher).take()
            && flusher.join().is_err()
        {
            self.poison("the flush thread panicked".into());
        }
        let recorded = match finished_wal {
            Some((number, synced_size)) => self.record_finished_wal(number, synced_size),
            None => Ok(()),
        };
        // An unused preallocated log holds nothing; leaving it would only cost the next open a
        // replay of zeros.
        if let Some(spare) = lock(&self.state).spare_wal.take() {
            drop(spare.writer);
            let _ = remove_file(self.file_system(), &wal_path(&self.dir, spare.number));
        }
        // Dropping the lock releases it.
        drop(lock(&self.lock_file).take());
        synced.and(recorded)
    }

    /// Records in the manifest that the last write-ahead log was synced through `synced_size`
    /// when the database closed, so that the next open can tell a truncated or zeroed tail of
    /// it from a torn one. Skipped (it only makes recovery less strict) when the manifest can
    /// no longer be written or the disk is full.
    fn record_finished_wal(&self, number: FileNumber, synced_size: u64) -> Result<()> {
        let mut state = lock(&self.state);
        if state.manifest.is_poisoned() || state.background_error.is_some() {
            return Ok(());
        }
        let mut edit = VersionEdit::new();
        edit.wals.push(self.wal_metadata(number, Some(synced_size)));
        match self.log_edit(&mut state, &mut edit) {
            // Every write is durable already; only the stricter check at the next open is
            // lost, so a full disk does not fail the close.
            Err(error) if error.is_storage_full() => Ok(()),
            other => other,
        }
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
        while lock(&db.inner.state).spare_wal.is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let guard = lock(&db.inner.wal);
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
            db.inner.commit.stats.batches.max(),
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
