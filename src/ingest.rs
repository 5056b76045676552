//! Committing whole tables: the one path that both a large batch (`large_batch.rs`) and
//! [`Db::ingest`](crate::Db::ingest) take, and the taking-in of external table files.
//!
//! A commit gets tables that are already complete, fsynced and named `NNNNNN.sst` in the
//! database directory, but that no manifest names yet (so the next open removes them, FORMAT.md
//! 6.6). Table `i` of `n` takes two sequence numbers: its range tombstones are read at
//! `base + 2i` and its entries at its global sequence number `base + 2i + 1` (FORMAT.md 6.1,
//! tag 14), so a later table wins over an earlier one, all of them over every write before, and
//! a table's range tombstones delete what came before it but not its own entries. The commit,
//! in order:
//!
//! 1. syncs the directory, so that every table's name is durable;
//! 2. takes the commit leader's `wal` lock, so that no write group runs meanwhile and
//!    `base = last_sequence + 1` is above every earlier write;
//! 3. if a memtable of the keyspace (active or frozen) holds a key in a table's range, freezes
//!    it and waits, with `wal` still held, until the flush thread has written it out: data in
//!    a memtable is read before every table, so a table newer than it must not sit below it.
//!    A database that never had a keyspace besides `default` flushes a memtable that holds
//!    anything at all: recovery there requires the first replayed write to follow the
//!    manifest's last sequence, which the commit moves to the batch's last one;
//! 4. with `state` held, places each table (below) and logs **one** manifest edit adding every
//!    table with its global sequence number and the new last sequence;
//! 5. installs the version in the read view, then publishes the last sequence: a reader sees
//!    the new tables only through a view whose sequence number is at or past them, so it sees
//!    none of them before step 5 and all of them after; a snapshot taken before keeps a
//!    sequence number below `base` and never sees them.
//!
//! **Several keyspaces** (a large batch that wrote to more than one): the tables of every
//! keyspace are numbered in one sequence, `i` counted across the keyspaces, step 3 runs for
//! each keyspace, and step 4 logs one edit, the first keyspace's tables as its own files (tag
//! 14) and every other keyspace's as tag 15 (FORMAT.md 6.1); step 5 installs every keyspace's
//! view before it publishes the last sequence, so a reader or snapshot of any keyspace sees the
//! whole commit or none of it, and a crash keeps it in every keyspace or in none.
//!
//! **Placement.** Table `i` goes to the deepest level `L` such that no table of levels `0..=L`
//! (including the tables of this commit placed before it) overlaps its key range, else to
//! level 0, where the highest sequence number sorts first. A running compaction may write
//! outputs anywhere between its inputs' keys, so a table overlapping the key hull of the files
//! being compacted stays above the shallowest of them. Overlap is judged on user keys,
//! inclusive, which may place a table shallower than needed but never wrongly.
//!
//! A failed manifest append leaves the tables for the next open to remove or keep, as the
//! record did or did not reach the disk; either way the commit is whole or absent, and the
//! sequence numbers it reserved are not handed out again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{Engine, WalState, lock};
use crate::error::{Error, Result};
use crate::fs::{remove_file, sync_dir, table_path};
use crate::key::{FileNumber, KeyspaceId, SequenceNumber, user_key};
use crate::manifest::{FileMetadata, NUM_LEVELS, VersionEdit};
use crate::memtable::Memtable;
use crate::sstable::{BlockReadOptions, Table};
use crate::version::{TableHandle, Version};

/// A table to commit: its file `NNNNNN.sst` in the database directory, complete and synced,
/// opened (without a global sequence number).
pub(crate) struct PreparedTable {
    pub number: FileNumber,
    pub table: Table,
}

/// What a commit of tables did: the sequence numbers it took and where each table went.
///
/// ```
/// use shaledb::{Db, Options, TableOptions, TableWriter};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// let path = dir.path().join("t.sst");
/// let mut writer = TableWriter::create(&path, &TableOptions::default())?;
/// writer.put(b"k", b"v")?;
/// writer.finish()?;
/// let report = db.ingest(&[&path])?;
/// assert_eq!(report.levels, vec![3]); // an empty database: the last level
/// assert_eq!(report.last_sequence.0, report.first_sequence.0 + 1); // two per table
/// # Ok::<(), shaledb::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IngestReport {
    /// The first sequence number the commit took (two per table: range tombstones, then
    /// entries). Every earlier write has a lower one; a snapshot at a lower one does not see
    /// the tables.
    pub first_sequence: SequenceNumber,
    /// The last sequence number it took (the last table's entries'): the database's last
    /// sequence after the commit.
    pub last_sequence: SequenceNumber,
    /// The level each table went to, in the order given (a large batch spanning keyspaces:
    /// the runs of each keyspace it wrote to, in the order the keyspaces were first named).
    pub levels: Vec<usize>,
    /// Entries (puts and deletes) in all the tables.
    pub entries: u64,
    /// Bytes of all the tables.
    pub bytes: u64,
    /// Whether a memtable had to be flushed first (it held keys in the tables' ranges, or
    /// the database has only its default keyspace and the memtable held anything).
    pub flushed_memtable: bool,
}

/// How [`Db::ingest_with`](crate::Db::ingest_with) takes files in.
///
/// ```
/// use shaledb::IngestOptions;
///
/// let options = IngestOptions { move_files: true, ..IngestOptions::default() };
/// assert!(options.move_files);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// Move the files into the database (rename, or link and remove the original) instead of
    /// linking or copying them and leaving the originals (default `false`).
    pub move_files: bool,
}

/// The user keys `[first, last]` a table's key range touches (inclusive; a range tombstone's
/// exclusive end is counted in, which only makes overlap tests stricter).
#[derive(Debug, Clone)]
struct UserRange {
    first: Vec<u8>,
    last: Vec<u8>,
}

impl UserRange {
    fn of(table: &Table) -> UserRange {
        let (smallest, largest) = table.key_range();
        UserRange {
            first: user_key(&smallest).to_vec(),
            last: user_key(&largest).to_vec(),
        }
    }

    fn of_file(metadata: &FileMetadata) -> UserRange {
        UserRange {
            first: user_key(&metadata.smallest).to_vec(),
            last: user_key(&metadata.largest).to_vec(),
        }
    }

    fn overlaps(&self, other: &UserRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    fn hull(&self, other: &UserRange) -> UserRange {
        UserRange {
            first: self.first.clone().min(other.first.clone()),
            last: self.last.clone().max(other.last.clone()),
        }
    }
}

/// Whether `memtable` holds an entry or a range tombstone touching `range`.
fn memtable_overlaps(memtable: &Memtable, range: &UserRange) -> bool {
    if memtable.is_empty() {
        return false;
    }
    let entry = memtable
        .seek(&range.first, SequenceNumber::MAX)
        .is_some_and(|entry| entry.user_key() <= range.last.as_slice());
    entry
        || memtable.range_tombstones().pieces().iter().any(|piece| {
            piece.start.as_slice() <= range.last.as_slice()
                && range.first.as_slice() < piece.end.as_slice()
        })
}

/// Commits `tables` to `keyspace` (see the module documentation); table `i` is read at the
/// commit's first sequence number plus `2i + 1`. On error nothing of them is visible and their
/// files are removed, except after a failed manifest append (the record may be on disk): then
/// the next open keeps them all or removes them all.
pub(crate) fn commit_tables(
    engine: &Engine,
    keyspace: KeyspaceId,
    tables: Vec<PreparedTable>,
) -> Result<IngestReport> {
    commit_keyspace_tables(engine, vec![(keyspace, tables)])
}

/// [`commit_tables`] of the tables of several keyspaces at once, in one manifest edit (the
/// first keyspace's tables as its tags 14, the others' as tags 15, FORMAT.md 6.1): the tables
/// are numbered across the groups in order, table `i` read at the first sequence number plus
/// `2i + 1`, so the commit is one range of sequence numbers, above every earlier write, and
/// readers of any keyspace, and snapshots, see all of it or none. Each keyspace appears once.
pub(crate) fn commit_keyspace_tables(
    engine: &Engine,
    groups: Vec<(KeyspaceId, Vec<PreparedTable>)>,
) -> Result<IngestReport> {
    let numbers: Vec<FileNumber> = groups
        .iter()
        .flat_map(|(_, tables)| tables.iter().map(|prepared| prepared.number))
        .collect();
    let mut reached_manifest = false;
    let committed = commit_tables_inner(engine, groups, &mut reached_manifest);
    if committed.is_err() && !reached_manifest {
        for number in numbers {
            let _ = remove_file(engine.file_system(), &table_path(&engine.dir, number));
        }
    }
    committed
}

/// The tables of one keyspace in a commit, with their key ranges.
struct KeyspaceTables {
    keyspace: KeyspaceId,
    tables: Vec<PreparedTable>,
    ranges: Vec<UserRange>,
}

fn dropped_before_commit() -> Error {
    Error::InvalidArgument("the keyspace was dropped before the tables were committed".into())
}

fn commit_tables_inner(
    engine: &Engine,
    groups: Vec<(KeyspaceId, Vec<PreparedTable>)>,
    reached_manifest: &mut bool,
) -> Result<IngestReport> {
    let groups: Vec<KeyspaceTables> = groups
        .into_iter()
        .filter(|(_, tables)| !tables.is_empty())
        .map(|(keyspace, tables)| KeyspaceTables {
            keyspace,
            ranges: tables
                .iter()
                .map(|prepared| UserRange::of(&prepared.table))
                .collect(),
            tables,
        })
        .collect();
    if groups.is_empty() {
        return Ok(IngestReport::default());
    }
    sync_dir(engine.file_system(), &engine.dir)?;
    let mut wal_guard = lock(&engine.wal);
    engine.check_writable()?;
    let Some(wal) = wal_guard.as_mut() else {
        return Err(Error::opened_read_only());
    };
    if groups
        .iter()
        .any(|group| !wal.memtables.contains_key(&group.keyspace))
    {
        return Err(dropped_before_commit());
    }
    let mut flushed_memtable = false;
    for group in &groups {
        flushed_memtable |=
            flush_overlapping_memtables(engine, wal, group.keyspace, &group.ranges)?;
    }
    let mut state = lock(&engine.state);
    // Two sequence numbers per table: its range tombstones at the first, its entries at the
    // second (a tombstone never shares a sequence number with what it must not delete).
    let table_count: usize = groups.iter().map(|group| group.tables.len()).sum();
    let base = wal.last_sequence.0 + 1;
    let last = base + 2 * table_count as u64 - 1;
    if last > SequenceNumber::MAX.0 {
        return Err(Error::InvalidArgument(
            "sequence numbers are exhausted".into(),
        ));
    }
    let mut edit = VersionEdit::new();
    edit.keyspace = groups[0].keyspace;
    edit.last_sequence = Some(SequenceNumber(last));
    let mut handles = Vec::with_capacity(table_count);
    let mut report = IngestReport {
        first_sequence: SequenceNumber(base),
        last_sequence: SequenceNumber(last),
        flushed_memtable,
        ..IngestReport::default()
    };
    let mut index = 0u64;
    for group in groups {
        let Some(version) = state.versions.current(group.keyspace).cloned() else {
            return Err(dropped_before_commit());
        };
        let compacting = compacting_hull(&version, &state.compacting);
        let levels = place_tables(&version, &group.ranges, compacting.as_ref());
        for (prepared, &level) in group.tables.into_iter().zip(&levels) {
            let sequence = SequenceNumber(base + 2 * index + 1);
            index += 1;
            let (metadata, handle) = committed_table(engine, prepared, sequence)?;
            report.entries += handle.table.properties().entry_count;
            report.bytes += metadata.file_size;
            if group.keyspace == edit.keyspace {
                edit.add_file(level, metadata);
            } else {
                edit.keyspace_new_files
                    .push((group.keyspace, level, metadata));
            }
            handles.push(handle);
        }
        report.levels.extend(levels);
    }
    // `log_and_apply` takes the handles of `new_files`, then of `keyspace_new_files`: the
    // first group's tables come first, in both.
    let keyspaces: Vec<KeyspaceId> = std::iter::once(edit.keyspace)
        .chain(
            edit.keyspace_new_files
                .iter()
                .map(|(keyspace, _, _)| *keyspace),
        )
        .collect();
    *reached_manifest = true;
    let logged = state.versions.log_and_apply(edit, handles);
    // Whether or not the record reached the disk, its sequence numbers are not handed out
    // again: a manifest holding it would otherwise name them twice.
    wal.last_sequence = SequenceNumber(last);
    if let Err(error) = logged {
        engine.visibility.publish(SequenceNumber(last));
        return Err(error);
    }
    let mut installed: Vec<KeyspaceId> = Vec::new();
    for keyspace in keyspaces {
        if !installed.contains(&keyspace) {
            engine.install_view(&state, keyspace);
            installed.push(keyspace);
        }
    }
    engine.visibility.publish(SequenceNumber(last));
    engine.state_changed.notify_all();
    Ok(report)
}

/// The manifest record and the open handle of `prepared` read at global sequence `sequence`.
fn committed_table(
    engine: &Engine,
    prepared: PreparedTable,
    sequence: SequenceNumber,
) -> Result<(FileMetadata, Arc<TableHandle>)> {
    let table = prepared.table.at_global_sequence(sequence)?;
    let (smallest, largest) = table.key_range();
    let smallest_sequence = match table.range_tombstones().is_empty() {
        true => sequence,
        false => SequenceNumber(sequence.0 - 1),
    };
    let metadata = FileMetadata {
        number: prepared.number,
        file_size: table.file_size(),
        smallest,
        largest,
        smallest_sequence,
        largest_sequence: sequence,
        global_sequence: Some(sequence),
    };
    let handle = Arc::new(TableHandle::new(
        metadata.clone(),
        table,
        table_path(&engine.dir, prepared.number),
        Arc::clone(&engine.options.file_system),
        Some(Arc::clone(&engine.cache)),
    ));
    Ok((metadata, handle))
}

/// Step 3 of the module documentation: freezes the active memtable of `keyspace` and waits
/// for every frozen one of it to be flushed, when one of them must not stay above the tables;
/// returns whether it did. Runs with `wal` held (the flush thread never takes it), so no write
/// reaches a memtable between the flush and the commit.
fn flush_overlapping_memtables(
    engine: &Engine,
    wal: &mut WalState,
    keyspace: KeyspaceId,
    ranges: &[UserRange],
) -> Result<bool> {
    let needs_flush = |memtable: &Memtable, only_keyspace: bool| {
        !memtable.is_empty()
            && (only_keyspace
                || ranges
                    .iter()
                    .any(|range| memtable_overlaps(memtable, range)))
    };
    let active = wal
        .memtables
        .get(&keyspace)
        .map(|active| Arc::clone(&active.memtable));
    let flush = {
        let state = lock(&engine.state);
        // As `recovery::replay_floor`: a database that never made another keyspace checks
        // the first replayed write against the manifest's last sequence.
        let only_keyspace = state.versions.manifest_state().next_keyspace_id <= KeyspaceId(1);
        let frozen = state
            .immutables
            .iter()
            .filter(|frozen| frozen.keyspace == keyspace)
            .any(|frozen| needs_flush(&frozen.memtable, only_keyspace));
        frozen
            || active
                .as_deref()
                .is_some_and(|memtable| needs_flush(memtable, only_keyspace))
    };
    if !flush {
        return Ok(false);
    }
    let active_holds_data = active
        .as_deref()
        .is_some_and(|memtable| !memtable.is_empty());
    if active_holds_data {
        // The rotation's sync of the old log, before `state` is taken (`rotate_memtable`).
        engine.sync_current_wal(wal)?;
    }
    let mut state = lock(&engine.state);
    if active_holds_data {
        engine.rotate_memtable(wal, &mut state, &[keyspace])?;
    }
    while state
        .immutables
        .iter()
        .any(|frozen| frozen.keyspace == keyspace)
    {
        if let Some(cause) = &state.background_error {
            return Err(Error::refused_after(cause));
        }
        if state.shutting_down {
            return Err(Error::Closed);
        }
        state = engine
            .state_changed
            .wait(state)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    Ok(true)
}

/// The key hull of the files of `version` being compacted, and the shallowest level among
/// them.
fn compacting_hull(
    version: &Version,
    compacting: &std::collections::HashSet<FileNumber>,
) -> Option<(UserRange, usize)> {
    let mut hull: Option<(UserRange, usize)> = None;
    for (level, handle) in version.all_tables() {
        if !compacting.contains(&handle.metadata.number) {
            continue;
        }
        let range = UserRange::of_file(&handle.metadata);
        hull = Some(match hull {
            None => (range, level),
            Some((hull, shallowest)) => (hull.hull(&range), shallowest.min(level)),
        });
    }
    hull
}

/// The level of each table, in order (see "Placement" in the module documentation).
fn place_tables(
    version: &Version,
    ranges: &[UserRange],
    compacting: Option<&(UserRange, usize)>,
) -> Vec<usize> {
    let mut occupied: [Vec<UserRange>; NUM_LEVELS] = Default::default();
    for (level, handle) in version.all_tables() {
        occupied[level].push(UserRange::of_file(&handle.metadata));
    }
    let mut levels = Vec::with_capacity(ranges.len());
    for range in ranges {
        let deepest_allowed = match compacting {
            Some((hull, shallowest)) if hull.overlaps(range) => shallowest.saturating_sub(1),
            _ => NUM_LEVELS - 1,
        };
        let mut level = 0;
        for candidate in (1..=deepest_allowed).rev() {
            let free = occupied[..=candidate]
                .iter()
                .flatten()
                .all(|file| !file.overlaps(range));
            if free {
                level = candidate;
                break;
            }
        }
        occupied[level].push(range.clone());
        levels.push(level);
    }
    levels
}

/// Takes the external table files `paths` into the database directory under new file
/// numbers (a hard link, else a copy; with `move_files`, a rename or a link and the removal
/// of the original), after checking each whole: an SSTable of a version this build reads,
/// every block's checksum, user keys strictly increasing at sequence 0 (as
/// [`TableWriter`](crate::TableWriter) writes them), and no two files overlapping. Returns the
/// opened tables, in the order given; on error, removes what it made.
pub(crate) fn take_in_files(
    engine: &Engine,
    paths: &[PathBuf],
    options: &IngestOptions,
) -> Result<Vec<PreparedTable>> {
    let file_system = engine.file_system();
    let mut checked = Vec::with_capacity(paths.len());
    for path in paths {
        let table = Table::open_on(file_system, path, FileNumber(0), None)?;
        check_external_table(&table)?;
        checked.push((path, UserRange::of(&table)));
    }
    for (index, (path, range)) in checked.iter().enumerate() {
        if let Some((other, _)) = checked[..index]
            .iter()
            .find(|(_, other)| other.overlaps(range))
        {
            return Err(Error::InvalidArgument(format!(
                "{} and {} overlap: files ingested together must hold disjoint key ranges \
                 (ingest them one after the other for the later to win)",
                other.display(),
                path.display()
            )));
        }
    }
    let mut made: Vec<PreparedTable> = Vec::with_capacity(paths.len());
    for (path, _) in &checked {
        match take_in_file(engine, path, options.move_files) {
            Ok(prepared) => made.push(prepared),
            Err(error) => {
                remove_prepared(engine, &made);
                return Err(error);
            }
        }
    }
    Ok(made)
}

/// Removes the files of `tables`, which no manifest names (a failure leaves them for the next
/// open).
pub(crate) fn remove_prepared(engine: &Engine, tables: &[PreparedTable]) {
    for prepared in tables {
        let _ = remove_file(
            engine.file_system(),
            &table_path(&engine.dir, prepared.number),
        );
    }
}

fn take_in_file(engine: &Engine, path: &Path, move_file: bool) -> Result<PreparedTable> {
    let file_system = engine.file_system();
    let number = lock(&engine.state).versions.allocate_file_number();
    let target = table_path(&engine.dir, number);
    let renamed = move_file && file_system.rename(path, &target).is_ok();
    if !renamed {
        if let Err(link_error) = file_system.hard_link(path, &target) {
            crate::vfs::copy_file(file_system, path, &target).map_err(|error| {
                let _ = remove_file(file_system, &target);
                Error::io(
                    &target,
                    std::io::Error::new(
                        error.kind(),
                        format!(
                            "linking {} failed ({link_error}), and so did copying it: {error}",
                            path.display()
                        ),
                    ),
                )
            })?;
        }
        if move_file {
            let _ = remove_file(file_system, path);
        }
    }
    let cache = Some(Arc::clone(&engine.cache));
    match Table::open_on(file_system, &target, number, cache) {
        Ok(table) => Ok(PreparedTable { number, table }),
        Err(error) => {
            let _ = remove_file(file_system, &target);
            Err(error)
        }
    }
}

/// Reads every entry of `table` with checksums verified and checks what a table read at a
/// global sequence number must be: each user key once, in increasing order, all at sequence
/// number 0, and something in it.
fn check_external_table(table: &Table) -> Result<()> {
    let properties = table.properties();
    if properties.entry_count == 0 && table.range_tombstones().is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: the table holds nothing to ingest",
            table.file().display()
        )));
    }
    if properties.largest_sequence != SequenceNumber(0) {
        return Err(Error::InvalidArgument(format!(
            "{}: the table holds sequence numbers up to {} (a database's own table?); only \
             tables written by TableWriter, at sequence 0, can be ingested",
            table.file().display(),
            properties.largest_sequence
        )));
    }
    let options = BlockReadOptions {
        verify_checksums: true,
        fill_cache: false,
    };
    let mut iterator = table.iter_with(options);
    iterator.seek_to_first()?;
    // The previous user key, in a buffer reused from entry to entry.
    let mut previous: Vec<u8> = Vec::new();
    let mut count = 0u64;
    while iterator.valid() {
        let parsed = crate::key::parse_internal_key(iterator.key())
            .map_err(|reason| Error::corruption(table.file(), 0, reason))?;
        if parsed.sequence != SequenceNumber(0)
            || (count > 0 && previous.as_slice() >= parsed.user_key)
        {
            return Err(Error::InvalidArgument(format!(
                "{}: entry {count} (key {:?}) is not at sequence 0 or does not follow the \
                 previous key: only tables written by TableWriter can be ingested",
                table.file().display(),
                String::from_utf8_lossy(parsed.user_key)
            )));
        }
        previous.clear();
        previous.extend_from_slice(parsed.user_key);
        count += 1;
        iterator.next()?;
    }
    if count != properties.entry_count {
        return Err(Error::corruption(
            table.file(),
            0,
            format!(
                "the properties count {} entries, the blocks hold {count}",
                properties.entry_count
            ),
        ));
    }
    Ok(())
}
