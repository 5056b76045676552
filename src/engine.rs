//! [`Engine`]: the parts of an open database, each with one owner, and the few rules they share.
//! `db.rs` wraps it in the public `Db`; the write path (`write.rs`), the flush thread
//! (`flush.rs`), the compaction threads (`compaction/`), opening (`recovery.rs`) and
//! `verify.rs` work on it. It imports none of them.
//!
//! The parts:
//! - `commit` (`commit.rs`): the queue of writers and its group commit.
//! - `wal`: the commit leader's log writer and the memtable it feeds.
//! - `durability` (`durability.rs`): how far the current log is synced, the one sync of it that
//!   may run, and the writes waiting for a sync (`Db::write_durable`).
//! - `state`: the [`VersionSet`] (file numbers, manifest, current version), the frozen
//!   memtables, the spare log, and what the background workers coordinate on.
//! - `visibility` (`read_view.rs`): the view and sequence number readers see.
//! - `workers`: the flush, compaction and sync threads.
//! - `stats` (`stats/`): counters the parts update as they work.
//!
//! An engine opened read-only (`read_only.rs`) has no log (`wal` is `None`), no lock file, no
//! threads and a version set that never writes; every write is refused (`check_writable`).
//!
//! Locks, always taken in this order: `wal` (held by the commit leader while it logs and
//! inserts a group) → `state` → the view's lock inside `visibility` (written only while `state`
//! is held). Readers take only a brief read lock on the view. `durability`'s mutex is a leaf,
//! taken after `wal`; a thread holding `wal` may wait for a running log sync to end, so no one
//! holding `state` does (a rotation syncs the old log before it takes `state`).
//!
//! Invariants:
//! - The visible sequence is published after every entry at or below it is in a memtable of the
//!   current view (or in a table of its version).
//! - A frozen memtable leaves the view in the same update that adds its table to the version.
//! - A write-ahead log is deleted only after the manifest durably records a log number above it,
//!   and not while a checkpoint (`checkpoint.rs`) may be copying it: a flush that makes a log
//!   obsolete during one leaves it to the last checkpoint running to delete
//!   ([`EngineState::may_delete_log`]).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cache::BlockCache;
use crate::commit::GroupCommit;
use crate::compaction::picker::PickerOptions;
use crate::durability::WalSync;
use crate::error::{Error, Result};
use crate::fs::{remove_file, sync_dir, wal_path};
use crate::key::{FileNumber, KeyspaceId};
use crate::keyspace_options::KeyspaceOptions;
use crate::log::{LogFileKind, LogWriter, preallocated_length};
use crate::manifest::{NUM_LEVELS, VersionEdit, WalMetadata};
use crate::memtable::Memtable;
use crate::options::Options;
use crate::read_view::{ReadView, Visibility};
use crate::snapshot::SnapshotRegistry;
use crate::sstable::Block;
use crate::stats::EngineStats;
use crate::version::TableHandle;
use crate::version_set::VersionSet;
use crate::vfs::{FileLock, FileSystem};

/// The longest wait between two attempts of a failed flush or compaction.
pub(crate) const RETRY_DELAY_MAX: Duration = Duration::from_secs(1);

/// Attempts of a read-only reader at reading the files of a database that a writer may be
/// changing meanwhile (`read_only_attempts`).
pub(crate) const READ_ONLY_ATTEMPTS: u32 = 10;

/// Runs `read` (which reads a database's files from `CURRENT` on, without its lock) again
/// while it fails in a way that a writer running beside it can cause, at most
/// [`READ_ONLY_ATTEMPTS`] times in all, and returns the last result.
///
/// A writer deletes files only after a manifest edit no longer names them, rolls the manifest
/// under the reader, and appends to its newest log and its manifest while they are read; so a
/// reader may find a file it was told about gone (`NotFound`), a tail or a range that reads as
/// damage, or logs that do not join up (both `Error::Corruption`). Reading again from `CURRENT`
/// sees the newer state. Real damage fails every attempt the same way and is then reported.
pub(crate) fn read_only_attempts<T>(mut read: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 1;
    loop {
        match read() {
            Err(error) if attempt < READ_ONLY_ATTEMPTS && may_come_from_a_writer(&error) => {
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Whether a writer changing the files while they are read can cause `error` (see
/// [`read_only_attempts`]).
fn may_come_from_a_writer(error: &Error) -> bool {
    match error {
        Error::Corruption { .. } => true,
        Error::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// A keyspace's memtable being written, and when it is full.
pub(crate) struct ActiveMemtable {
    pub memtable: Arc<Memtable>,
    /// The keyspace's write buffer size: the memtable is frozen once it holds this much.
    pub write_buffer_size: usize,
}

/// The commit leader's state: the log being written and the memtable of each keyspace it feeds.
pub(crate) struct WalState {
    pub writer: LogWriter,
    pub number: FileNumber,
    /// The active memtable of every live keyspace.
    pub memtables: BTreeMap<KeyspaceId, ActiveMemtable>,
    /// The last sequence number handed out (equal to the visible one between groups).
    pub last_sequence: crate::key::SequenceNumber,
    /// The synced offset the last sync marker in this log claims (the log's synced offset
    /// when it was created, before any).
    pub marked_synced_offset: u64,
}

/// A frozen memtable of one keyspace and the logs that hold its writes.
#[derive(Clone)]
pub(crate) struct ImmutableMemtable {
    pub keyspace: KeyspaceId,
    pub memtable: Arc<Memtable>,
    /// The oldest log holding writes of this memtable.
    pub first_log: FileNumber,
    /// The log that became current when it was frozen: the keyspace's later writes are in it
    /// or in later ones, so once this memtable is flushed the keyspace needs no older log.
    pub next_log: FileNumber,
}

/// What every handle of one keyspace shares.
pub(crate) struct KeyspaceShared {
    pub id: KeyspaceId,
    pub name: String,
    /// Set (with `wal` and `state` held) when the keyspace is dropped.
    pub dropped: AtomicBool,
    /// For a keyspace of expiring values (`KeyspaceOptions::time_to_live`), its time to live
    /// in microseconds (`u64::MAX`: `Duration::MAX`); 0 for any other keyspace, whose values
    /// carry no expiry (FORMAT.md 7.3). Changed only with the options, with `state` held.
    pub time_to_live_micros: AtomicU64,
}

impl KeyspaceShared {
    /// Whether the keyspace's values carry an expiry (FORMAT.md 7.3).
    pub fn expiring(&self) -> bool {
        self.time_to_live_micros.load(Ordering::Acquire) != 0
    }

    /// The expiry of a value written now with the keyspace's time to live.
    pub fn default_expiry(&self) -> u64 {
        match self.time_to_live_micros.load(Ordering::Acquire) {
            u64::MAX => crate::compaction_filter::NEVER,
            micros => crate::compaction_filter::now_micros().saturating_add(micros),
        }
    }
}

/// A keyspace's time to live as `KeyspaceShared` holds it.
pub(crate) fn time_to_live_micros(options: &KeyspaceOptions) -> u64 {
    match options.time_to_live {
        None => 0,
        Some(ttl) if ttl == std::time::Duration::MAX => u64::MAX,
        Some(ttl) => u64::try_from(ttl.as_micros())
            .unwrap_or(u64::MAX - 1)
            .max(1),
    }
}

/// A live keyspace, as the engine's `state` keeps it.
pub(crate) struct KeyspaceEntry {
    pub shared: Arc<KeyspaceShared>,
    pub options: Arc<KeyspaceOptions>,
    /// Per level, the largest key of the last file compacted out of it (round robin).
    pub cursors: [Option<Vec<u8>>; NUM_LEVELS],
}

impl KeyspaceEntry {
    pub fn new(id: KeyspaceId, name: String, options: KeyspaceOptions) -> Self {
        KeyspaceEntry {
            shared: Arc::new(KeyspaceShared {
                id,
                name,
                dropped: AtomicBool::new(false),
                time_to_live_micros: AtomicU64::new(time_to_live_micros(&options)),
            }),
            options: Arc::new(options),
            cursors: Default::default(),
        }
    }

    /// The picker's sizing, from the keyspace's options.
    pub fn picker_options(&self) -> PickerOptions {
        let options = &self.options;
        PickerOptions {
            level0_compaction_trigger: options.level0_compaction_trigger,
            level1_target_size: options.level1_target_size,
            level_size_multiplier: options.level_size_multiplier,
            target_file_size: options.target_file_size,
            level0_size_percent_trigger: options.level0_size_percent_trigger,
            dynamic_level_sizes: options.dynamic_level_sizes,
        }
    }
}

/// A preallocated write-ahead log waiting to become the current one.
pub(crate) struct SpareWal {
    pub number: FileNumber,
    pub writer: LogWriter,
}

/// Everything that changes when memtables rotate, flushes finish and compactions run.
pub(crate) struct EngineState {
    /// File numbers, the manifest and the current version of each keyspace.
    pub versions: VersionSet,
    /// The live keyspaces.
    pub keyspaces: BTreeMap<KeyspaceId, KeyspaceEntry>,
    /// Frozen memtables of every keyspace, oldest first.
    pub immutables: VecDeque<ImmutableMemtable>,
    /// The live write-ahead logs and their sizes (the current one's as of its last rotation
    /// check; finished ones' final sizes): the total the WAL limit counts.
    pub live_logs: BTreeMap<FileNumber, u64>,
    /// The log the current memtable writes to (the manifest's log number once everything older
    /// is flushed).
    pub current_wal_number: FileNumber,
    /// The next write-ahead log, preallocated by the flush thread so that a rotation does not
    /// wait for its zeros to be written. Its number is above `current_wal_number`.
    pub spare_wal: Option<SpareWal>,
    /// Whether the flush thread should prepare a spare log when it is idle.
    pub spare_wanted: bool,
    pub shutting_down: bool,
    /// Set when a flush or compaction failed for good; the database is read-only from then on.
    pub background_error: Option<String>,
    /// Files that a running compaction reads: no other compaction may take them.
    pub compacting: HashSet<FileNumber>,
    /// Compactions running now (background and manual).
    pub running_compactions: usize,
    /// Checkpoints running now (`checkpoint.rs`), which copy write-ahead logs without a lock.
    pub checkpoints_running: usize,
    /// Logs that flushes made obsolete while a checkpoint was running, for the last one
    /// running to delete when it ends.
    pub logs_kept_for_checkpoints: Vec<FileNumber>,
}

impl EngineState {
    /// The state of a freshly opened database around `versions` and `keyspaces`, whose
    /// current log is `wal_number`.
    pub fn new(
        versions: VersionSet,
        keyspaces: BTreeMap<KeyspaceId, KeyspaceEntry>,
        wal_number: FileNumber,
    ) -> Self {
        EngineState {
            versions,
            keyspaces,
            immutables: VecDeque::new(),
            live_logs: BTreeMap::from([(wal_number, 0)]),
            current_wal_number: wal_number,
            spare_wal: None,
            spare_wanted: true,
            shutting_down: false,
            background_error: None,
            compacting: HashSet::new(),
            running_compactions: 0,
            checkpoints_running: 0,
            logs_kept_for_checkpoints: Vec::new(),
        }
    }

    /// Called when a flush made write-ahead log `number` obsolete: whether the caller deletes
    /// it now. While a checkpoint runs the log is kept instead, since the checkpoint may be
    /// copying it, and the last checkpoint to end deletes it.
    pub fn may_delete_log(&mut self, number: FileNumber) -> bool {
        if self.checkpoints_running == 0 {
            return true;
        }
        self.logs_kept_for_checkpoints.push(number);
        false
    }

    /// The options of live keyspace `keyspace`.
    pub fn keyspace_options(&self, keyspace: KeyspaceId) -> Option<Arc<KeyspaceOptions>> {
        self.keyspaces
            .get(&keyspace)
            .map(|entry| Arc::clone(&entry.options))
    }

    /// The oldest write-ahead log that still holds writes no table has: the oldest log of any
    /// frozen memtable (but `except`, being flushed) or active memtable in `views`, and the
    /// current log at most. Logs below it may be deleted.
    pub fn oldest_needed_log(
        &self,
        views: &[(KeyspaceId, Arc<ReadView>)],
        except: Option<&Arc<Memtable>>,
    ) -> FileNumber {
        let frozen = self
            .immutables
            .iter()
            .filter(|frozen| except.is_none_or(|except| !Arc::ptr_eq(except, &frozen.memtable)))
            .map(|frozen| frozen.first_log);
        let active = views
            .iter()
            .filter_map(|(_, view)| view.memtable.first_log().map(FileNumber));
        frozen
            .chain(active)
            .fold(self.current_wal_number, FileNumber::min)
    }
}

/// The background threads of one database.
#[derive(Default)]
pub(crate) struct Workers {
    flusher: Mutex<Option<JoinHandle<()>>>,
    compactors: Mutex<Vec<JoinHandle<()>>>,
    syncer: Mutex<Option<JoinHandle<()>>>,
    /// Threads deleting the tables of dropped keyspaces (`keyspace_admin.rs`).
    deleters: Mutex<Vec<JoinHandle<()>>>,
}

impl Workers {
    pub fn set_flusher(&self, handle: JoinHandle<()>) {
        *lock(&self.flusher) = Some(handle);
    }

    pub fn add_compactor(&self, handle: JoinHandle<()>) {
        lock(&self.compactors).push(handle);
    }

    pub fn set_syncer(&self, handle: JoinHandle<()>) {
        *lock(&self.syncer) = Some(handle);
    }

    /// Keeps a table-deleting thread for `join`, forgetting those that ended.
    pub fn add_deleter(&self, handle: JoinHandle<()>) {
        let mut deleters = lock(&self.deleters);
        deleters.retain(|deleter| !deleter.is_finished());
        deleters.push(handle);
    }

    /// Waits for every thread to end (compaction threads first, then the flush thread, then the
    /// sync thread, then the threads deleting dropped keyspaces' tables), and returns the cause for the first one that panicked.
    pub fn join(&self) -> Option<String> {
        let mut cause = None;
        let compactors: Vec<_> = lock(&self.compactors).drain(..).collect();
        for compactor in compactors {
            if compactor.join().is_err() {
                cause.get_or_insert_with(|| "a compaction thread panicked".to_string());
            }
        }
        if let Some(flusher) = lock(&self.flusher).take()
            && flusher.join().is_err()
        {
            cause.get_or_insert_with(|| "the flush thread panicked".to_string());
        }
        if let Some(syncer) = lock(&self.syncer).take()
            && syncer.join().is_err()
        {
            cause.get_or_insert_with(|| "the sync thread panicked".to_string());
        }
        let deleters: Vec<_> = lock(&self.deleters).drain(..).collect();
        for deleter in deleters {
            if deleter.join().is_err() {
                cause.get_or_insert_with(|| "a table-deleting thread panicked".to_string());
            }
        }
        cause
    }
}

/// An open database: its parts, each with one owner (see the module documentation).
pub(crate) struct Engine {
    /// This engine's number among the engines of this process (from 1): what a
    /// `WriteBatch` holding operations of keyspaces records, so that a batch cannot write to
    /// another database's keyspace that has the same id.
    pub instance: u64,
    pub dir: PathBuf,
    pub options: Options,
    pub lock_file: Mutex<Option<Box<dyn FileLock>>>,
    /// Opened with `Db::open_read_only`: `wal` is `None` and every write is refused.
    pub read_only: bool,
    pub commit: GroupCommit,
    /// The commit leader's log and memtable; `None` when opened read-only.
    pub wal: Mutex<Option<WalState>>,
    /// How far the current log is synced, and the writes waiting for a sync.
    pub durability: WalSync,
    pub state: Mutex<EngineState>,
    /// Signalled when `state` changes: a memtable was frozen, a flush finished, shutdown began.
    pub state_changed: Condvar,
    pub visibility: Visibility,
    pub snapshots: Arc<SnapshotRegistry>,
    pub cache: Arc<BlockCache<Block>>,
    pub workers: Workers,
    pub stats: EngineStats,
    /// Why writes are refused, after a failed log write or fsync.
    pub poisoned: Mutex<Option<String>>,
    /// The first panic caught in the commit path or a background thread; `close` returns it.
    pub panicked: Mutex<Option<String>>,
    pub closed: AtomicBool,
    /// The keyspaces whose merge operator's name the manifest records (FORMAT.md 6.1, tag 13):
    /// a commit of merges into any other first records it (`keyspace::record_merge_operators`).
    pub merge_recorded: std::sync::RwLock<std::collections::BTreeSet<KeyspaceId>>,
    /// Called when a compaction job starts: tests use it to inject a panic.
    #[cfg(test)]
    pub compaction_started: crate::test_hook::TestHook,
    /// Called when a compaction has written its outputs, before it installs them: tests use it
    /// to take a snapshot meanwhile.
    #[cfg(test)]
    pub compaction_merged: crate::test_hook::TestHook,
}

/// Takes a mutex even if a panicking thread poisoned it. Every critical section in the engine
/// leaves its data consistent at each step that can panic (only assertions can), so the data is
/// still usable; a panicked background worker poisons the database through `poisoned` instead.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What opening found or made, from which [`Engine::assemble`] builds an engine.
pub(crate) struct OpenedParts {
    pub dir: PathBuf,
    pub options: Options,
    /// The directory's lock (`None` when opened read-only).
    pub lock_file: Option<Box<dyn FileLock>>,
    /// The log being written (`None` when opened read-only).
    pub wal: Option<WalState>,
    pub durability: WalSync,
    pub state: EngineState,
    /// The read view of every keyspace.
    pub views: BTreeMap<KeyspaceId, ReadView>,
    pub last_sequence: crate::key::SequenceNumber,
    pub cache: Arc<BlockCache<Block>>,
    pub recovery: crate::stats::RecoveryReport,
}

impl Engine {
    /// An engine from what opening found; every other part starts empty.
    pub fn assemble(parts: OpenedParts) -> Engine {
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let read_only = parts.wal.is_none();
        let merge_recorded = parts
            .state
            .versions
            .manifest_state()
            .keyspaces
            .iter()
            .filter(|(_, keyspace)| keyspace.merge_operator.is_some())
            .map(|(&id, _)| id)
            .collect();
        Engine {
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            dir: parts.dir,
            lock_file: Mutex::new(parts.lock_file),
            read_only,
            commit: GroupCommit::new(
                parts.options.commit_policy,
                parts.options.max_write_group_bytes,
            ),
            wal: Mutex::new(parts.wal),
            durability: parts.durability,
            state: Mutex::new(parts.state),
            state_changed: Condvar::new(),
            visibility: Visibility::new(parts.views, parts.last_sequence),
            snapshots: Arc::new(SnapshotRegistry::default()),
            cache: parts.cache,
            workers: Workers::default(),
            stats: EngineStats {
                recovery: parts.recovery,
                ..EngineStats::default()
            },
            poisoned: Mutex::new(None),
            panicked: Mutex::new(None),
            closed: AtomicBool::new(false),
            #[cfg(test)]
            compaction_started: Default::default(),
            #[cfg(test)]
            compaction_merged: Default::default(),
            merge_recorded: std::sync::RwLock::new(merge_recorded),
            options: parts.options,
        }
    }

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
        if self.read_only {
            return Err(Error::opened_read_only());
        }
        match lock(&self.poisoned).as_ref() {
            Some(cause) => Err(Error::refused_after(cause)),
            None => Ok(()),
        }
    }

    /// Refuses every later write, keeping the first cause.
    pub fn poison(&self, cause: String) {
        lock(&self.poisoned).get_or_insert(cause);
    }

    /// Records a panic caught in `place` ("the flush thread", ...): the database refuses writes
    /// from now on, background work stops, every waiting writer wakes to the cause, and
    /// `close` returns it. Returns the error for the caller that caught it.
    pub fn record_panic(&self, place: &str, payload: &(dyn std::any::Any + Send)) -> Error {
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        let cause = format!("{place} panicked ({message})");
        self.poison(cause.clone());
        lock(&self.panicked).get_or_insert_with(|| cause.clone());
        let mut state = lock(&self.state);
        state.background_error.get_or_insert_with(|| cause.clone());
        self.state_changed.notify_all();
        Error::refused_after(&cause)
    }

    /// Runs `work` for a background thread named `place`, turning a panic into
    /// [`record_panic`](Self::record_panic).
    pub fn catch_panic(&self, place: &str, work: impl FnOnce()) {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            self.record_panic(place, &*payload);
        }
    }

    /// Logs `edit` (which only adds and deletes tables of `edit.keyspace`), installs the
    /// version it makes and publishes it to readers; `added` holds the handles of
    /// `edit.new_files` in order. `Ok(false)` without logging anything when the keyspace was
    /// dropped meanwhile: the caller's new tables are then no one's.
    pub fn install_edit(&self, edit: VersionEdit, added: Vec<Arc<TableHandle>>) -> Result<bool> {
        let mut state = lock(&self.state);
        let keyspace = edit.keyspace;
        if !state.keyspaces.contains_key(&keyspace) {
            return Ok(false);
        }
        state.versions.log_and_apply(edit, added)?;
        self.install_view(&state, keyspace);
        self.state_changed.notify_all();
        Ok(true)
    }

    /// Publishes a new read view of `keyspace` built from `state` and the active memtable
    /// readers see now (called with `state` locked).
    pub fn install_view(&self, state: &EngineState, keyspace: KeyspaceId) {
        if let Some(memtable) = self.current_memtable(keyspace) {
            self.install_view_with(state, keyspace, memtable);
        }
    }

    /// Publishes a new read view of `keyspace` built from `state` around active memtable
    /// `memtable` (called with `state` locked).
    pub fn install_view_with(
        &self,
        state: &EngineState,
        keyspace: KeyspaceId,
        memtable: Arc<Memtable>,
    ) {
        let Some(version) = state.versions.current(keyspace) else {
            return;
        };
        let level0_triggers = state
            .keyspace_options(keyspace)
            .map_or((usize::MAX, usize::MAX), |options| {
                (options.level0_slowdown_trigger, options.level0_stop_trigger)
            });
        self.visibility.install(
            keyspace,
            ReadView {
                memtable,
                immutables: state
                    .immutables
                    .iter()
                    .rev()
                    .filter(|frozen| frozen.keyspace == keyspace)
                    .map(|frozen| Arc::clone(&frozen.memtable))
                    .collect(),
                version: Arc::clone(version),
                level0_triggers,
                merge_operator: state
                    .keyspace_options(keyspace)
                    .and_then(|options| options.merge_operator.clone()),
            },
        );
    }

    /// The memtable readers currently see as the active one of `keyspace`.
    pub fn current_memtable(&self, keyspace: KeyspaceId) -> Option<Arc<Memtable>> {
        self.visibility
            .view(keyspace)
            .map(|view| Arc::clone(&view.memtable))
    }

    /// The manifest record of write-ahead log `number`, created by this engine (so preallocated
    /// to the write buffer size), synced and finished at `synced_size` if given.
    pub fn wal_metadata(&self, number: FileNumber, synced_size: Option<u64>) -> WalMetadata {
        WalMetadata {
            number,
            preallocated_size: preallocated_length(self.options.write_buffer_size as u64),
            synced_size,
        }
    }

    /// Creates write-ahead log `number`, preallocated to the write buffer size, and makes its
    /// directory entry durable.
    pub fn create_wal(&self, number: FileNumber) -> Result<LogWriter> {
        let path = wal_path(&self.dir, number);
        let size = self.options.write_buffer_size as u64;
        let created =
            LogWriter::create_preallocated_on(self.file_system(), &path, LogFileKind::Wal, size)
                .and_then(|writer| sync_dir(self.file_system(), &self.dir).map(|()| writer));
        if created.is_err() {
            // A log that is not complete and named durably is never used; removing it keeps a
            // full disk from filling up with attempts.
            let _ = remove_file(self.file_system(), &path);
        }
        created
    }
}
