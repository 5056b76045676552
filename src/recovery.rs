//! Opening a database: create or recover the manifest, replay the write-ahead logs the manifest
//! does not cover, write what they held to a level-0 table, start a new manifest and log, and
//! remove the files nothing references any more.
//!
//! The order makes every crash during open safe: new files are fsynced and the directory synced
//! before `CURRENT` names the manifest that references them, and old files are deleted only
//! after that. A crash before `CURRENT` changes leaves the old manifest and old logs in charge,
//! and the next open replays them again; files the crash left behind unreferenced are removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::BatchReader;
use crate::cache::BlockCache;
use crate::durability::WalSync;
use crate::engine::{ActiveMemtable, Engine, EngineState, KeyspaceEntry, OpenedParts, WalState};
use crate::error::{Error, Result};
use crate::fs::{FileKind, parse_file_name, remove_file, sync_dir, table_path, wal_path};
use crate::key::{FileNumber, KeyspaceId, SequenceNumber};
use crate::keyspace_options::KeyspaceOptions;
use crate::log::format::record_end;
use crate::log::{
    FILE_HEADER_SIZE, LogEvent, LogFileKind, LogReader, LogWriter, scan_full_fragments,
};
use crate::manifest::{
    FileMetadata, ManifestState, ManifestWriter, VersionEdit, WalMetadata, read_current_on,
    recover_manifest_on, write_current_on,
};
use crate::memtable::Memtable;
use crate::options::{Options, WalRecoveryMode};
use crate::read_view::ReadView;
use crate::stats::{DroppedTail, RecoveryReport};
use crate::sync_marker::{SYNC_MARKER_SIZE, decode_sync_marker};
use crate::version::Version;
use crate::version_set::VersionSet;
use crate::vfs::{FileBytes, FileLock, FileSystem};
use crate::write::insert_batch;

/// Builds the engine for the database in `dir` (whose lock is held by `lock_file`).
pub(crate) fn open_engine(
    dir: PathBuf,
    options: Options,
    lock_file: Box<dyn FileLock>,
) -> Result<Engine> {
    let file_system = Arc::clone(&options.file_system);
    let file_system = &*file_system;
    let (state, torn_manifest) = load_or_create_manifest(&dir, &options)?;
    let found = list_files(file_system, &dir)?;
    let highest_found = found.iter().map(|(_, number)| number.0).max().unwrap_or(0);
    let mut next_file_number = state.next_file_number.0.max(highest_found + 1);

    crate::integrity::check_files_at_open(
        file_system,
        &dir,
        &state,
        &found,
        options.wal_recovery_mode,
    )
    .map_err(|error| crate::integrity::blame_torn_manifest(error, torn_manifest.as_ref()))?;
    let wal_numbers: Vec<FileNumber> = found
        .iter()
        .filter(|(kind, number)| matches!(kind, FileKind::Wal(_)) && *number >= state.log_number)
        .map(|(_, number)| *number)
        .collect();
    let keyspaces = keyspace_entries(&state, &options, &dir)?;
    let mut sink = FlushingSink {
        dir: &dir,
        options: &options,
        filter: ReplayFilter::new(&dir, &state),
        memtables: keyspaces
            .iter()
            .map(|(&id, entry)| (id, (Memtable::new(), Arc::clone(&entry.options))))
            .collect(),
        tables: Vec::new(),
        next_file_number: &mut next_file_number,
    };
    let plan = ReplayPlan {
        file_system,
        dir: &dir,
        logs: &wal_numbers,
        recorded: &state.wals,
        mode: options.wal_recovery_mode,
        last_sequence: replay_floor(&state),
        map_logs: true,
    };
    let (last_sequence, recovery_report) = replay_logs(&plan, &mut sink)?;
    let last_sequence = last_sequence.max(state.last_sequence);
    sink.flush_all()?;
    let tables = std::mem::take(&mut sink.tables);
    drop(sink);
    let mut allocate = || {
        let number = FileNumber(next_file_number);
        next_file_number += 1;
        number
    };

    let cache = Arc::new(BlockCache::new(options.block_cache_capacity));
    let mut edit = VersionEdit::new();
    let mut keyspace_edits: Vec<VersionEdit> = Vec::new();
    for (keyspace, metadata) in tables {
        if keyspace == KeyspaceId::DEFAULT {
            edit.add_file(0, metadata);
            continue;
        }
        match keyspace_edits
            .iter_mut()
            .find(|edit| edit.keyspace == keyspace)
        {
            Some(edit) => edit.add_file(0, metadata),
            None => {
                let mut edit = VersionEdit::new();
                edit.keyspace = keyspace;
                edit.add_file(0, metadata);
                keyspace_edits.push(edit);
            }
        }
    }
    let wal_number = allocate();
    let manifest_number = allocate();
    let wal = LogWriter::create_preallocated_on(
        file_system,
        &wal_path(&dir, wal_number),
        LogFileKind::Wal,
        options.write_buffer_size as u64,
    )?;
    edit.log_number = Some(wal_number);
    edit.wals.push(WalMetadata {
        number: wal_number,
        preallocated_size: crate::log::preallocated_length(options.write_buffer_size as u64),
        synced_size: None,
    });
    edit.next_file_number = Some(FileNumber(next_file_number));
    edit.last_sequence = Some(last_sequence);
    let mut new_state = state.clone();
    for edit in std::iter::once(&edit).chain(&keyspace_edits) {
        new_state.apply(edit).map_err(|error| {
            Error::InvalidArgument(format!("recovery built an inconsistent edit: {error}"))
        })?;
    }
    // `ManifestWriter::create` syncs the new manifest and the directory (and so the new log's
    // and table's directory entries) before CURRENT names it.
    let manifest = ManifestWriter::create_on(file_system, &dir, manifest_number, &new_state)?;
    write_current_on(file_system, &dir, manifest_number)?;
    let live_state = manifest.state().clone();
    remove_obsolete_files(file_system, &dir, &live_state, wal_number, &found)?;

    let versions = Version::open_all(&options.file_system, &dir, &live_state, &cache)?;
    let mut views = BTreeMap::new();
    let mut memtables = BTreeMap::new();
    for (&id, version) in &versions {
        let memtable = Arc::new(Memtable::new());
        let Some(entry) = keyspaces.get(&id) else {
            continue;
        };
        let keyspace_options = &entry.options;
        views.insert(id, fresh_view(&memtable, version, keyspace_options));
        memtables.insert(
            id,
            ActiveMemtable {
                memtable,
                write_buffer_size: keyspace_options.write_buffer_size,
            },
        );
    }
    let versions = VersionSet::new(
        dir.clone(),
        Arc::clone(&options.file_system),
        options.max_manifest_size,
        manifest,
        next_file_number,
        versions,
    );
    let durability = WalSync::new(
        wal_number.0,
        wal.path().to_path_buf(),
        // Without a handle, syncs take the log lock: slower, as safe.
        wal.sync_handle().unwrap_or(None),
        wal.offset(),
        wal.synced_offset(),
    );
    Ok(Engine::assemble(OpenedParts {
        dir,
        options,
        lock_file: Some(lock_file),
        wal: Some(WalState {
            marked_synced_offset: wal.synced_offset(),
            writer: wal,
            number: wal_number,
            memtables,
            last_sequence,
        }),
        durability,
        state: EngineState::new(versions, keyspaces, wal_number),
        views,
        last_sequence,
        cache,
        recovery: recovery_report,
    }))
}

/// The manifest state of an existing database, or of a new one created now; and, when the
/// manifest ended in a torn record, its path and the offset of the tear.
fn load_or_create_manifest(
    dir: &Path,
    options: &Options,
) -> Result<(ManifestState, Option<(PathBuf, u64)>)> {
    let file_system = &*options.file_system;
    match read_current_on(file_system, dir)? {
        Some(_) if options.error_if_exists => Err(Error::InvalidArgument(format!(
            "a database already exists in {} and Options::error_if_exists is true",
            dir.display()
        ))),
        Some(_) => {
            let recovered = recover_manifest_on(file_system, dir)?;
            let torn = recovered.torn_at.map(|offset| (recovered.path, offset));
            Ok((recovered.state, torn))
        }
        None if !options.create_if_missing => Err(Error::InvalidArgument(format!(
            "no database in {} (no CURRENT file) and Options::create_if_missing is false",
            dir.display()
        ))),
        None => {
            crate::integrity::check_no_database_without_current(file_system, dir)?;
            let number = FileNumber(1);
            let state = ManifestState::empty(number);
            ManifestWriter::create_on(file_system, dir, number, &state)?;
            write_current_on(file_system, dir, number)?;
            Ok((state, None))
        }
    }
}

/// Every file in `dir` that shaledb could have written, with its number (0 for CURRENT/LOCK).
pub(crate) fn list_files(
    file_system: &dyn FileSystem,
    dir: &Path,
) -> Result<Vec<(FileKind, FileNumber)>> {
    let names = file_system
        .list(dir)
        .map_err(|error| Error::io(dir, error))?;
    let mut files = Vec::new();
    for name in names {
        let Some(kind) = parse_file_name(&name) else {
            continue;
        };
        let number = match kind {
            FileKind::Wal(number)
            | FileKind::Table(number)
            | FileKind::Manifest(number)
            | FileKind::Temporary(number) => number,
            FileKind::Current | FileKind::Lock => FileNumber(0),
        };
        files.push((kind, number));
    }
    Ok(files)
}

/// What replay does after damage, by recovery mode.
enum DamageAction {
    Fail(Error),
    StopEverything,
    Continue,
}

/// What to do with damage other than a tolerated torn tail.
fn on_damage(mode: WalRecoveryMode, error: Error) -> DamageAction {
    match mode {
        WalRecoveryMode::AbsoluteConsistency | WalRecoveryMode::TolerateCorruptedTailRecords => {
            DamageAction::Fail(error)
        }
        WalRecoveryMode::PointInTime => DamageAction::StopEverything,
        WalRecoveryMode::SkipAnyCorruptedRecords => DamageAction::Continue,
    }
}

fn with_advice(error: Error) -> Error {
    match error {
        Error::Corruption {
            file,
            offset,
            reason,
        } => Error::Corruption {
            file,
            offset,
            reason: format!(
                "{reason}; open with WalRecoveryMode::PointInTime to recover the writes before the damage, or SkipAnyCorruptedRecords to salvage around it"
            ),
        },
        other => other,
    }
}

/// Whether replay goes on with the next log after one log.
#[derive(PartialEq, Eq)]
enum Flow {
    Next,
    Stop,
}

/// Where replayed batches go: the memtables of a read-only open, or a memtable that is written
/// to a level-0 table whenever it fills (`FlushingSink`).
pub(crate) trait ReplaySink {
    /// Inserts `payload`, a batch of log `log` that replay decoded whole and checked.
    fn insert(&mut self, log: FileNumber, payload: &[u8]) -> Result<()>;
}

/// A read view of an opened keyspace: empty memtable `memtable` over `version`.
pub(crate) fn fresh_view(
    memtable: &Arc<Memtable>,
    version: &Arc<Version>,
    options: &KeyspaceOptions,
) -> ReadView {
    ReadView {
        memtable: Arc::clone(memtable),
        immutables: Vec::new(),
        version: Arc::clone(version),
        level0_triggers: (options.level0_slowdown_trigger, options.level0_stop_trigger),
        merge_operator: options.merge_operator.clone(),
    }
}

/// The engine's entry of every keyspace `state` lists: the default one with the per-tree
/// fields of `options`, the others with the options the manifest recorded (corruption naming
/// the manifest of `dir` if they do not decode).
pub(crate) fn keyspace_entries(
    state: &ManifestState,
    options: &Options,
    dir: &Path,
) -> Result<BTreeMap<KeyspaceId, KeyspaceEntry>> {
    let mut entries = BTreeMap::new();
    for (&id, keyspace) in &state.keyspaces {
        let keyspace_options = if id == KeyspaceId::DEFAULT {
            crate::merge_operator::check_recorded(
                &keyspace.name,
                keyspace.merge_operator.as_deref(),
                options.merge_operator.as_ref(),
                "Options::merge_operator",
            )?;
            KeyspaceOptions::from_options(options)
        } else {
            KeyspaceOptions::decode(&keyspace.options).map_err(|error| {
                Error::corruption(
                    crate::fs::manifest_path(dir, state.manifest_number),
                    0,
                    format!(
                        "the options of keyspace {id} ({:?}): {error}",
                        keyspace.name
                    ),
                )
            })?
        };
        entries.insert(
            id,
            KeyspaceEntry::new(id, keyspace.name.clone(), keyspace_options),
        );
    }
    Ok(entries)
}

/// The sequence number the first replayed batch must be above. With the default keyspace
/// alone, that is the manifest's last sequence: every write up to it is in a table. Once the
/// database has had other keyspaces, a flush of one records its own last sequence while
/// another keyspace's older writes stay in the logs, so only the order of the replayed batches
/// is checked, from the first on.
pub(crate) fn replay_floor(state: &ManifestState) -> SequenceNumber {
    if state.next_keyspace_id > KeyspaceId(1) {
        SequenceNumber(0)
    } else {
        state.last_sequence
    }
}

/// Which replayed operations go to which keyspace: those of a live keyspace from logs at or
/// above its log number; those of a dropped keyspace nowhere. An operation of a keyspace the
/// manifest never created is corruption.
pub(crate) struct ReplayFilter {
    /// Per live keyspace, the first log whose operations of it are not in its tables.
    log_numbers: BTreeMap<KeyspaceId, FileNumber>,
    next_keyspace_id: KeyspaceId,
    dir: PathBuf,
}

impl ReplayFilter {
    pub fn new(dir: &Path, state: &ManifestState) -> Self {
        ReplayFilter {
            log_numbers: state
                .keyspaces
                .keys()
                .map(|&id| (id, state.keyspace_log_number(id)))
                .collect(),
            next_keyspace_id: state.next_keyspace_id,
            dir: dir.to_path_buf(),
        }
    }

    /// Whether an operation of `keyspace` in log `log` is replayed.
    pub fn replays(&self, log: FileNumber, keyspace: KeyspaceId) -> Result<bool> {
        match self.log_numbers.get(&keyspace) {
            Some(&first) => Ok(log >= first),
            None if keyspace < self.next_keyspace_id => Ok(false),
            None => Err(Error::corruption(
                wal_path(&self.dir, log),
                0,
                format!(
                    "a batch writes to keyspace {keyspace}, which the manifest never created \
                     (its next keyspace id is {})",
                    self.next_keyspace_id
                ),
            )),
        }
    }

    /// Inserts the operations of batch `payload` from log `log` that are replayed into the
    /// memtable `memtable_of` gives for their keyspace.
    pub fn insert<'m>(
        &self,
        log: FileNumber,
        payload: &[u8],
        mut memtable_of: impl FnMut(KeyspaceId) -> Option<&'m Memtable>,
    ) -> Result<()> {
        let mut failure = None;
        insert_batch(
            |keyspace| match self.replays(log, keyspace) {
                Ok(true) => memtable_of(keyspace),
                Ok(false) => None,
                Err(error) => {
                    failure.get_or_insert(error);
                    None
                }
            },
            payload,
        )?;
        failure.map_or(Ok(()), Err)
    }
}

/// The sink of a read-write open: a memtable per keyspace, each written to a new level-0 table
/// (and replaced by an empty one) whenever it reaches its keyspace's write buffer size, so that
/// replaying logs of any size holds at most one write buffer per keyspace in memory. The tables
/// are named by the edits that start the new manifest; until then they are unreferenced files,
/// which the next open removes if this one crashes.
struct FlushingSink<'a> {
    dir: &'a Path,
    options: &'a Options,
    filter: ReplayFilter,
    memtables: BTreeMap<KeyspaceId, (Memtable, Arc<KeyspaceOptions>)>,
    /// The level-0 tables written so far with their keyspaces, oldest first (their numbers
    /// ascend).
    tables: Vec<(KeyspaceId, FileMetadata)>,
    next_file_number: &'a mut u64,
}

impl FlushingSink<'_> {
    /// Writes the memtable of `keyspace` to a level-0 table, if it holds anything, and starts
    /// an empty one.
    fn flush(&mut self, keyspace: KeyspaceId) -> Result<()> {
        let Some((memtable, keyspace_options)) = self.memtables.get_mut(&keyspace) else {
            return Ok(());
        };
        if memtable.is_empty() {
            return Ok(());
        }
        let number = FileNumber(*self.next_file_number);
        *self.next_file_number += 1;
        let memtable = std::mem::replace(memtable, Memtable::new());
        let table = &keyspace_options.table;
        let written = crate::flush::write_level0_table(
            &self.options.file_system,
            self.dir,
            &memtable,
            number,
            table,
            &[],
        )?;
        if let Some(metadata) = written {
            self.tables.push((keyspace, metadata));
        }
        Ok(())
    }

    fn flush_all(&mut self) -> Result<()> {
        let keyspaces: Vec<KeyspaceId> = self.memtables.keys().copied().collect();
        for keyspace in keyspaces {
            self.flush(keyspace)?;
        }
        Ok(())
    }
}

impl ReplaySink for FlushingSink<'_> {
    fn insert(&mut self, log: FileNumber, payload: &[u8]) -> Result<()> {
        let memtables = &self.memtables;
        self.filter.insert(log, payload, |keyspace| {
            memtables.get(&keyspace).map(|(memtable, _)| memtable)
        })?;
        let full: Vec<KeyspaceId> = self
            .memtables
            .iter()
            .filter(|(_, (memtable, options))| {
                memtable.approximate_size() >= options.write_buffer_size
            })
            .map(|(&id, _)| id)
            .collect();
        for keyspace in full {
            self.flush(keyspace)?;
        }
        Ok(())
    }
}

/// What to replay, and how.
#[derive(Clone, Copy)]
pub(crate) struct ReplayPlan<'a> {
    pub file_system: &'a dyn FileSystem,
    pub dir: &'a Path,
    /// The logs in the directory at or above the manifest's log number.
    pub logs: &'a [FileNumber],
    /// What the manifest records of logs.
    pub recorded: &'a [WalMetadata],
    pub mode: WalRecoveryMode,
    /// The sequence number replayed batches must follow ([`replay_floor`]).
    pub last_sequence: SequenceNumber,
    /// Map the logs (nobody else writes them) instead of reading them into memory.
    pub map_logs: bool,
}

/// Replays the logs numbered `logs` (those in the directory at or above the manifest's log
/// number), in number order, into `sink`, applying whole batches only, and checks each against
/// what the manifest records of it (`recorded`); returns the last sequence number replayed (or
/// `last_sequence` if none) and what was replayed and dropped. Missing logs were refused
/// before, by the integrity checks. Each log is mapped, not read into memory: replay holds one
/// record at a time.
pub(crate) fn replay_logs(
    plan: &ReplayPlan<'_>,
    sink: &mut dyn ReplaySink,
) -> Result<(SequenceNumber, RecoveryReport)> {
    let ReplayPlan {
        file_system,
        dir,
        logs,
        recorded,
        mode,
        last_sequence,
        map_logs,
    } = *plan;
    let mut logs = logs.to_vec();
    logs.sort();
    let mut replay = Replay {
        file_system,
        mode,
        sink,
        map_logs,
        log: FileNumber(0),
        last_sequence,
        pending_torn_tail: None,
        report: RecoveryReport::default(),
    };
    for number in logs {
        let path = wal_path(dir, number);
        let record = recorded.iter().find(|wal| wal.number == number);
        replay.log = number;
        if replay.log(&path, record)? == Flow::Stop {
            break;
        }
    }
    Ok((replay.last_sequence, replay.report))
}

/// Where damage reported by a log reader starts, and what it is.
fn damage_start(event: &LogEvent) -> (u64, String) {
    match event {
        LogEvent::TornTail { offset, reason } => (*offset, format!("torn log tail: {reason}")),
        LogEvent::Corruption { start, end, reason } => (
            *start,
            format!("{reason} (damaged log bytes {start}..{end})"),
        ),
        LogEvent::Record { offset, .. } => (*offset, "an intact record".into()),
    }
}

/// The state of a replay across logs.
struct Replay<'a> {
    file_system: &'a dyn FileSystem,
    mode: WalRecoveryMode,
    sink: &'a mut dyn ReplaySink,
    /// Whether logs are mapped (opened for writing: nobody else writes them) or read into
    /// memory (read-only, beside a writer that may be appending to them).
    map_logs: bool,
    /// The log being replayed.
    log: FileNumber,
    last_sequence: SequenceNumber,
    /// A torn tail is only acceptable at the end of the history: a later log with records
    /// means the torn log lost writes that had been synced before the later log started.
    pending_torn_tail: Option<Error>,
    /// What was replayed and dropped, for `Db::recovery_report`.
    report: RecoveryReport,
}

impl Replay<'_> {
    /// Handles damage other than a tolerated torn tail, by recovery mode.
    fn damage(&mut self, error: Error) -> Result<Flow> {
        match on_damage(self.mode, error) {
            DamageAction::Fail(error) => Err(with_advice(error)),
            DamageAction::StopEverything => Ok(Flow::Stop),
            DamageAction::Continue => Ok(Flow::Next),
        }
    }

    /// Replays one log; `record` is what the manifest knows of it (FORMAT.md 6.1, tag 7).
    ///
    /// The log is known to be durable through the synced size the manifest records, and through
    /// the offset of every intact sync marker in it (FORMAT.md 7.1), wherever the marker lies.
    /// In the default mode, damage wholly past that point in a log the manifest does not record
    /// as finished is an unsynced tail that reached the disk with holes: every batch before it
    /// is recovered, it and everything after it are dropped (and reported), and the rest of the
    /// log is read only for markers that would prove the damage synced after all.
    fn log(&mut self, path: &Path, record: Option<&WalMetadata>) -> Result<Flow> {
        let opened = if self.map_logs {
            LogReader::open_mapped_on(self.file_system, path, LogFileKind::Wal)
        } else {
            LogReader::open_on(self.file_system, path, LogFileKind::Wal)
        };
        let reader = match opened {
            Ok(reader) => reader,
            Err(error) if error.is_corruption() => return self.damage(error),
            Err(error) => return Err(error),
        };
        self.report.logs_replayed += 1;
        let recorded_synced = record.and_then(|wal| wal.synced_size);
        let file_size = reader.file_size();
        let data_end = reader.data_end();
        let mut records_end = FILE_HEADER_SIZE as u64;
        let mut synced = recorded_synced.unwrap_or(0);
        let mut unsynced_tail: Option<(u64, String)> = None;
        for event in reader {
            if unsynced_tail.is_some() {
                if let LogEvent::Record { payload, .. } = &event
                    && let Some(claimed) = decode_sync_marker(payload)
                {
                    synced = synced.max(claimed);
                }
                continue;
            }
            let flow = match event {
                LogEvent::Record { offset, payload } => {
                    records_end = record_end(offset, payload.len());
                    match decode_sync_marker(&payload) {
                        Some(claimed) => {
                            synced = synced.max(claimed);
                            Flow::Next
                        }
                        None => self.record(path, offset, &payload)?,
                    }
                }
                // A file whose header was never completely written (a crash just after it was
                // created) holds nothing at all: not damage, in any mode (FORMAT.md 4.5, 7).
                LogEvent::TornTail { offset: 0, .. } if recorded_synced.is_none() => {
                    records_end = 0;
                    Flow::Next
                }
                damage @ (LogEvent::TornTail { .. } | LogEvent::Corruption { .. }) => {
                    let (offset, reason) = damage_start(&damage);
                    if offset < synced {
                        self.damage(Error::corruption(
                            path,
                            offset,
                            format!("{reason}, before offset {synced} through which this log is known to have been synced: synced writes are lost"),
                        ))?
                    } else if self.mode == WalRecoveryMode::TolerateCorruptedTailRecords
                        && recorded_synced.is_none()
                    {
                        unsynced_tail = Some((offset, reason));
                        Flow::Next
                    } else if matches!(damage, LogEvent::TornTail { .. }) {
                        self.torn_tail(path, &damage)?
                    } else {
                        match damage.to_error(path) {
                            Some(error) => self.damage(error)?,
                            None => Flow::Next,
                        }
                    }
                }
            };
            if flow == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        if let Some((offset, reason)) = unsynced_tail {
            return self.unsynced_tail(path, offset, reason, synced, data_end);
        }
        match check_extent(path, record, file_size, records_end) {
            Some(error) => self.damage(error),
            None => Ok(Flow::Next),
        }
    }

    /// Damage at `offset` past everything known to be synced, in the live log: dropped with all
    /// after it, unless a sync marker read past it proves it synced (then synced writes are
    /// lost). Like a torn tail, it is acceptable only at the end of the history.
    fn unsynced_tail(
        &mut self,
        path: &Path,
        offset: u64,
        reason: String,
        synced: u64,
        data_end: u64,
    ) -> Result<Flow> {
        // The reader resumes after damage only at the next block, so markers in the rest of the
        // damaged block are not among its records: look for them byte by byte.
        let bytes: FileBytes = if self.map_logs {
            self.file_system.map(path)
        } else {
            self.file_system
                .read(path)
                .map(|bytes| Arc::new(bytes) as FileBytes)
        }
        .map_err(|error| Error::io(path, error))?;
        let synced = scan_full_fragments((*bytes).as_ref(), offset + 1, SYNC_MARKER_SIZE as u16)
            .filter_map(|(_, payload)| decode_sync_marker(payload))
            .fold(synced, u64::max);
        if offset < synced {
            return self.damage(Error::corruption(
                path,
                offset,
                format!("{reason}; a sync marker after it shows the log was synced through offset {synced}: synced writes are lost"),
            ));
        }
        self.report.dropped_tail = Some(DroppedTail {
            file: path.to_path_buf(),
            offset,
            bytes: data_end.saturating_sub(offset),
            reason: reason.clone(),
        });
        self.pending_torn_tail = Some(Error::corruption(
            path,
            offset,
            format!(
                "{reason}: this write-ahead log lost unsynced writes, but a later log holds writes, which means they had been synced"
            ),
        ));
        Ok(Flow::Next)
    }

    /// Applies one intact record, or handles it as damage.
    fn record(&mut self, path: &Path, offset: u64, payload: &[u8]) -> Result<Flow> {
        let last = match check_record(path, offset, payload, self.last_sequence) {
            Ok(last) => last,
            Err(error) => return self.damage(error),
        };
        if let Some(error) = self.pending_torn_tail.take() {
            return Err(with_advice(error));
        }
        self.sink.insert(self.log, payload)?;
        self.last_sequence = last;
        self.report.batches_replayed += 1;
        Ok(Flow::Next)
    }

    /// A torn tail that the manifest does not contradict: tolerated at the end of the history
    /// in `TolerateCorruptedTailRecords`, damage in the other modes.
    fn torn_tail(&mut self, path: &Path, torn: &LogEvent) -> Result<Flow> {
        let Some(error) = torn.to_error(path) else {
            return Ok(Flow::Next);
        };
        if self.mode != WalRecoveryMode::TolerateCorruptedTailRecords {
            return self.damage(error);
        }
        self.pending_torn_tail = Some(Error::corruption(
            path,
            error_offset(&error),
            "this write-ahead log ends in a torn record, but a later log holds writes: writes that were synced are missing",
        ));
        Ok(Flow::Next)
    }
}

/// Checks a log against what the manifest records of it: a file shorter than its synced
/// preallocation was truncated; valid records that end before (or run past) the recorded
/// synced size mean synced writes were lost (or the log is not the one the manifest knew).
fn check_extent(
    path: &Path,
    record: Option<&WalMetadata>,
    file_size: u64,
    records_end: u64,
) -> Option<Error> {
    let wal = record?;
    if file_size < wal.preallocated_size {
        return Some(Error::corruption(
            path,
            file_size,
            format!(
                "the file is {file_size} bytes, shorter than the {} bytes it was preallocated and synced to: it was truncated",
                wal.preallocated_size
            ),
        ));
    }
    let synced = wal.synced_size?;
    if records_end < synced {
        return Some(Error::corruption(
            path,
            records_end,
            format!(
                "valid records end at offset {records_end}, but the manifest records that this log was synced through offset {synced}: synced writes are lost"
            ),
        ));
    }
    if records_end > synced {
        return Some(Error::corruption(
            path,
            synced,
            format!(
                "records continue to offset {records_end}, past offset {synced} where the manifest records that this log was finished"
            ),
        ));
    }
    None
}

fn error_offset(error: &Error) -> u64 {
    match error {
        Error::Corruption { offset, .. } => *offset,
        _ => 0,
    }
}

/// Decodes one log record as a write batch whole (a batch is applied whole or not at all) and
/// checks that it follows `last_sequence`; returns the batch's last sequence number, or
/// reports the record damaged.
fn check_record(
    path: &Path,
    offset: u64,
    payload: &[u8],
    last_sequence: SequenceNumber,
) -> Result<SequenceNumber> {
    let damaged =
        |reason: String| Error::corruption(path, offset, format!("write batch: {reason}"));
    let reader = BatchReader::new(payload).map_err(|error| damaged(error.to_string()))?;
    let count = reader
        .clone()
        .try_fold(0u64, |count, operation| operation.map(|_| count + 1));
    let count = count.map_err(|error| damaged(error.to_string()))?;
    if count == 0 {
        return Err(damaged("empty batch".into()));
    }
    if reader.first_sequence() <= last_sequence {
        return Err(damaged(format!(
            "sequence {} does not follow the last replayed sequence {}",
            reader.first_sequence(),
            last_sequence
        )));
    }
    Ok(SequenceNumber(reader.first_sequence().0 + count - 1))
}

/// Deletes every file the live state does not reference: logs older than `wal_number`, tables
/// not in any level, manifests other than the live one, temporary files.
fn remove_obsolete_files(
    file_system: &dyn FileSystem,
    dir: &Path,
    state: &ManifestState,
    wal_number: FileNumber,
    found: &[(FileKind, FileNumber)],
) -> Result<()> {
    let mut removed_any = false;
    for &(kind, number) in found {
        let obsolete = match kind {
            FileKind::Wal(_) => number < wal_number,
            FileKind::Table(_) => state.level_of(number).is_none(),
            FileKind::Manifest(_) => number != state.manifest_number,
            FileKind::Temporary(_) => true,
            FileKind::Current | FileKind::Lock => false,
        };
        if !obsolete {
            continue;
        }
        let path = match kind {
            FileKind::Wal(_) => wal_path(dir, number),
            FileKind::Table(_) => table_path(dir, number),
            FileKind::Manifest(_) => crate::fs::manifest_path(dir, number),
            _ => crate::fs::temporary_path(dir, number),
        };
        remove_file(file_system, &path)?;
        removed_any = true;
    }
    if removed_any {
        sync_dir(file_system, dir)?;
    }
    Ok(())
}
