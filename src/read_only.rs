//! Opening a database read-only (`Db::open_read_only`): the state of the manifest `CURRENT`
//! names, its tables, and the writes of its write-ahead logs replayed into memory — without
//! writing, creating or locking anything, so that a database can be inspected as it is, even
//! while a writer (in this process or another) has it open.
//!
//! The differences from `recovery.rs`, which opens for writing:
//! - Nothing is written: no directory, `LOCK`, level-0 table, manifest, `CURRENT` or log is
//!   created, and no file is deleted. Each replayed log goes into a memtable of its own, which
//!   the read view holds as a frozen memtable; the engine has no log to write to, no lock and
//!   no threads.
//! - A writer may be changing the files while they are read. It deletes a file only after a
//!   manifest edit stops naming it, so a file found missing, a manifest or log tail caught in
//!   the middle of an append, or logs that do not join up may mean that the state moved on:
//!   after any corruption error or missing file (the two cannot be told apart by one look) the
//!   whole open starts again from `CURRENT` (`engine::read_only_attempts`, at most 10
//!   attempts), and real damage, which fails every attempt, is reported as usual.
//! - The newest log of a running writer ends in whatever it is writing, so a torn tail is
//!   accepted the way `TolerateCorruptedTailRecords` accepts it (at the end of the last log
//!   with writes only), under `AbsoluteConsistency` too: a read-only open changes nothing, so
//!   accepting the tail cannot lose it, and the next read-write open judges it again. Every
//!   other check of `recovery.rs` and `integrity.rs` is kept, because each holds beside a
//!   running writer as well — they assume only the order in which the writer changes files:
//!   a table, log or manifest is complete and synced before anything names it, so a table of
//!   the wrong size, a recorded log shorter than its preallocation, or a finished log whose
//!   records do not end at its recorded synced size is damage, never a race; a file named but
//!   missing, or a torn log followed by a later log with writes, can be a race (a flush,
//!   compaction, manifest roll or log switch during the open), which the next attempt gets past.
//! - Logs must join up: the writes of each log continue the sequence numbers of the log before
//!   it without a gap. A writer only moves to its next log once the previous one is complete,
//!   so a gap means the earlier log was read before its last writes landed — a later read sees
//!   them. (Not checked under `SkipAnyCorruptedRecords`, where skipped records leave gaps.)
//!
//! What a read-only handle sees is therefore the database as of some moment during the open: a
//! prefix of the writer's history, whole batches only. It does not follow later writes; open it
//! again to see them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::BatchReader;
use crate::cache::BlockCache;
use crate::durability::WalSync;
use crate::engine::{Engine, EngineState, OpenedParts, read_only_attempts};
use crate::error::{Error, Result};
use crate::fs::{FileKind, wal_path};
use crate::key::{FileNumber, KeyspaceId};
use crate::log::FILE_HEADER_SIZE;
use crate::manifest::{RecoveredManifest, read_current_on, recover_manifest_on};
use crate::memtable::Memtable;
use crate::options::{Options, WalRecoveryMode};
use crate::recovery::{
    ReplayFilter, ReplayPlan, ReplaySink, fresh_view, keyspace_entries, list_files, replay_floor,
    replay_logs,
};
use crate::version::Version;
use crate::version_set::VersionSet;

/// How many operations a replayed log held (skipped ones of dropped keyspaces too) and its
/// largest sequence number: what `check_logs_join_up` compares.
#[derive(Clone, Copy, Default)]
struct LogTally {
    operations: u64,
    largest_sequence: u64,
}

/// The sink of a read-only replay: each log's writes in memtables of its own, one per keyspace
/// (kept in memory; nothing may be written).
struct MemtablesPerLog {
    filter: ReplayFilter,
    keyspaces: Vec<KeyspaceId>,
    numbers: Vec<FileNumber>,
    memtables: Vec<BTreeMap<KeyspaceId, Memtable>>,
    tallies: Vec<LogTally>,
}

impl ReplaySink for MemtablesPerLog {
    fn insert(&mut self, log: FileNumber, payload: &[u8]) -> Result<()> {
        let index = self
            .numbers
            .iter()
            .position(|&number| number == log)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("log {log} was not listed for replay"))
            })?;
        let reader =
            BatchReader::new(payload).map_err(|error| Error::InvalidArgument(error.to_string()))?;
        let tally = &mut self.tallies[index];
        let count = u64::from(BatchReader::count(&reader));
        tally.operations += count;
        tally.largest_sequence = (reader.first_sequence().0 + count).saturating_sub(1);
        let keyspaces = &self.keyspaces;
        let memtables = &mut self.memtables[index];
        for &keyspace in keyspaces {
            memtables.entry(keyspace).or_default();
        }
        let memtables = &*memtables;
        self.filter
            .insert(log, payload, |keyspace| memtables.get(&keyspace))
    }
}

/// Opens the database in `dir` read-only (see the module documentation).
pub(crate) fn open_engine_read_only(dir: PathBuf, options: Options) -> Result<Engine> {
    let file_system = &*options.file_system;
    let exists = file_system
        .exists(&dir)
        .map_err(|error| Error::io(&dir, error))?;
    if !exists {
        return Err(Error::InvalidArgument(format!(
            "{} does not exist: there is no database to open read-only",
            dir.display()
        )));
    }
    read_only_attempts(|| open_once(&dir, &options))
}

/// One attempt at opening: reads the manifest, opens its tables, replays the logs.
fn open_once(dir: &Path, options: &Options) -> Result<Engine> {
    let file_system = &*options.file_system;
    let manifest = read_manifest(dir, options)?;
    let state = &manifest.state;
    let found = list_files(file_system, dir)?;
    let torn_manifest = manifest
        .torn_at
        .map(|offset| (manifest.path.clone(), offset));
    crate::integrity::check_files_at_open(
        file_system,
        dir,
        state,
        &found,
        options.wal_recovery_mode,
    )
    .map_err(|error| crate::integrity::blame_torn_manifest(error, torn_manifest.as_ref()))?;
    // Tables first: once open, a table a compaction deletes stays readable.
    let cache = Arc::new(BlockCache::new(options.block_cache_capacity));
    let versions = Version::open_all(&options.file_system, dir, state, &cache)?;
    let keyspaces = keyspace_entries(state, options, dir)?;

    let mut wal_numbers: Vec<FileNumber> = found
        .iter()
        .filter(|(kind, number)| matches!(kind, FileKind::Wal(_)) && *number >= state.log_number)
        .map(|(_, number)| *number)
        .collect();
    wal_numbers.sort();
    let mut sink = MemtablesPerLog {
        filter: ReplayFilter::new(dir, state),
        keyspaces: keyspaces.keys().copied().collect(),
        memtables: wal_numbers.iter().map(|_| BTreeMap::new()).collect(),
        tallies: vec![LogTally::default(); wal_numbers.len()],
        numbers: wal_numbers.clone(),
    };
    let mode = read_only_mode(options.wal_recovery_mode);
    // Read into memory, not mapped: a running writer may be appending to the newest log.
    let plan = ReplayPlan {
        file_system,
        dir,
        logs: &wal_numbers,
        recorded: &state.wals,
        mode,
        last_sequence: replay_floor(state),
        map_logs: false,
    };
    let (last_sequence, recovery_report) = replay_logs(&plan, &mut sink)?;
    let last_sequence = last_sequence.max(state.last_sequence);
    let logs: Vec<(FileNumber, LogTally)> = wal_numbers.iter().copied().zip(sink.tallies).collect();
    if mode != WalRecoveryMode::SkipAnyCorruptedRecords {
        check_logs_join_up(dir, &logs)?;
    }

    // A view per keyspace: an empty active memtable, and the replayed logs' memtables of the
    // keyspace, newest first.
    let mut per_log = sink.memtables;
    let mut views = BTreeMap::new();
    for (&id, version) in &versions {
        let Some(entry) = keyspaces.get(&id) else {
            continue;
        };
        let mut view = fresh_view(&Arc::new(Memtable::new()), version, &entry.options);
        view.immutables = per_log
            .iter_mut()
            .rev()
            .filter_map(|memtables| memtables.remove(&id))
            .filter(|memtable| !memtable.is_empty())
            .map(Arc::new)
            .collect();
        views.insert(id, view);
    }
    let RecoveredManifest { state, path, .. } = manifest;
    let log_number = state.log_number;
    let versions = VersionSet::read_only(
        dir.to_path_buf(),
        Arc::clone(&options.file_system),
        path,
        state,
        versions,
    );
    let mut engine_state = EngineState::new(versions, keyspaces, log_number);
    engine_state.spare_wanted = false;
    Ok(Engine::assemble(OpenedParts {
        dir: dir.to_path_buf(),
        options: options.clone(),
        lock_file: None,
        wal: None,
        durability: WalSync::default(),
        state: engine_state,
        views,
        last_sequence,
        cache,
        recovery: recovery_report,
    }))
}

/// The manifest `CURRENT` names, replayed; `InvalidArgument` when the directory holds no
/// database (and corruption when it holds database files without `CURRENT`).
fn read_manifest(dir: &Path, options: &Options) -> Result<RecoveredManifest> {
    let file_system = &*options.file_system;
    match read_current_on(file_system, dir)? {
        None => {
            crate::integrity::check_no_database_without_current(file_system, dir)?;
            Err(Error::InvalidArgument(format!(
                "no database in {} (no CURRENT file): there is nothing to open read-only",
                dir.display()
            )))
        }
        Some(_) if options.error_if_exists => Err(Error::InvalidArgument(format!(
            "a database already exists in {} and Options::error_if_exists is true",
            dir.display()
        ))),
        Some(_) => recover_manifest_on(file_system, dir),
    }
}

/// The recovery mode a read-only open replays with: `mode`, except that the torn tail a running
/// writer's newest log normally has is accepted under `AbsoluteConsistency` too (the two modes
/// differ in nothing else).
fn read_only_mode(mode: WalRecoveryMode) -> WalRecoveryMode {
    match mode {
        WalRecoveryMode::AbsoluteConsistency => WalRecoveryMode::TolerateCorruptedTailRecords,
        other => other,
    }
}

/// Fails with corruption when the writes of a log (each log replayed into its own memtable,
/// in number order) do not take up every sequence number from the last write of the log before
/// it up to its own last: the earlier log was read before its last writes reached it, while a
/// writer went on into the next one.
fn check_logs_join_up(dir: &Path, logs: &[(FileNumber, LogTally)]) -> Result<()> {
    let mut previous: Option<(FileNumber, u64)> = None;
    for &(number, tally) in logs {
        if tally.operations == 0 {
            continue;
        }
        let largest = tally.largest_sequence;
        if let Some((previous_number, previous_largest)) = previous {
            let taken = largest.saturating_sub(previous_largest);
            if taken != tally.operations {
                return Err(Error::corruption(
                    wal_path(dir, number),
                    FILE_HEADER_SIZE as u64,
                    format!(
                        "its {} writes do not take up the {taken} sequence numbers after {} \
                         (the last write of log {}) through {largest}: writes between the two \
                         logs are missing",
                        tally.operations, previous_largest, previous_number
                    ),
                ));
            }
        }
        previous = Some((number, largest));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memtable_with(sequences: &[u64]) -> LogTally {
        LogTally {
            operations: sequences.len() as u64,
            largest_sequence: sequences.iter().copied().max().unwrap_or(0),
        }
    }

    #[test]
    fn logs_join_up_when_no_sequence_is_missing_between_them() {
        let (first, empty, second) = (
            memtable_with(&[5, 6, 7]),
            LogTally::default(),
            memtable_with(&[8, 9]),
        );
        let logs = [
            (FileNumber(4), first),
            (FileNumber(6), empty),
            (FileNumber(7), second),
        ];
        check_logs_join_up(Path::new("/db"), &logs).unwrap();
    }

    #[test]
    fn a_gap_between_logs_names_the_later_log() {
        // Log 4 was read before its writes 8 and 9 reached it; log 7 already holds 10 and 11.
        let (first, second) = (memtable_with(&[5, 6, 7]), memtable_with(&[10, 11]));
        let logs = [(FileNumber(4), first), (FileNumber(7), second)];
        match check_logs_join_up(Path::new("/db"), &logs) {
            Err(Error::Corruption { file, reason, .. }) => {
                assert_eq!(file, wal_path(Path::new("/db"), FileNumber(7)));
                assert!(reason.contains("missing"), "{reason}");
            }
            other => panic!("a gap between logs: {other:?}"),
        }
    }

    #[test]
    fn absolute_consistency_accepts_a_torn_tail_when_read_only() {
        assert_eq!(
            read_only_mode(WalRecoveryMode::AbsoluteConsistency),
            WalRecoveryMode::TolerateCorruptedTailRecords
        );
        for mode in [
            WalRecoveryMode::TolerateCorruptedTailRecords,
            WalRecoveryMode::PointInTime,
            WalRecoveryMode::SkipAnyCorruptedRecords,
        ] {
            assert_eq!(read_only_mode(mode), mode);
        }
    }
}
