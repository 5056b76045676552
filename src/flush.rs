//! Flushing: the background thread that writes frozen memtables to level-0 SSTables, oldest
//! first, and `Db::flush`, which freezes the memtable and waits for that.
//!
//! One flush, in the order durability needs: write the table and fsync it, fsync the directory,
//! append the manifest edit (new table, new log number) and fsync it, install the new version
//! and drop the memtable from the read view in one step, and only then delete the memtable's
//! write-ahead log (unless a checkpoint is copying logs: then the checkpoint deletes it when it
//! ends). A failed flush is retried with exponential backoff a few times; after that
//! the database turns read-only with the cause in every write's error and in `stats()`. A flush
//! that failed because the disk is full is retried until space returns (the backoff capped at
//! `RETRY_DELAY_MAX`, each retry counted in `stats().storage_full_retries`), while writers wait
//! at `max_immutable_memtables`.
//!
//! When it has nothing to flush, the thread preallocates the next write-ahead log, so that a
//! memtable rotation swaps logs instead of waiting for its preallocation and syncs (with the
//! default file system the space is reserved, not written: `WritableFile::preallocate`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::compaction::stripes::{
    SnapshotStripes, hidden_by_range_tombstone, prune_range_tombstones,
};
use crate::engine::{Engine, ImmutableMemtable, RETRY_DELAY_MAX, SpareWal, lock};
use crate::error::{Error, Result};
use crate::fs::{remove_file, sync_dir, table_path, wal_path};
use crate::key::{FileNumber, KeyspaceId, SequenceNumber};
use crate::manifest::{FileMetadata, VersionEdit};
use crate::memtable::Memtable;
use crate::range_tombstone::Fragments;
use crate::sstable::{TableBuilder, TableOptions};
use crate::version::open_table_handle;
use crate::vfs::FileSystem;

/// Attempts per flush before the database gives up and turns read-only.
const FLUSH_ATTEMPTS: u32 = 4;
/// Wait before the first retry; doubled before each later one.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(50);

/// Writes the entries of `memtable` that a reader can still see (given the live `snapshots`,
/// ascending) to a new level-0 table `number` in `dir`, fsyncs it and the directory, and returns
/// its manifest record (`None` for an empty memtable).
pub(crate) fn write_level0_table(
    file_system: &Arc<dyn FileSystem>,
    dir: &Path,
    memtable: &Memtable,
    number: FileNumber,
    table: &TableOptions,
    snapshots: &[SequenceNumber],
) -> Result<Option<FileMetadata>> {
    if memtable.is_empty() {
        return Ok(None);
    }
    let path = table_path(dir, number);
    let mut builder = TableBuilder::create_on(Arc::clone(file_system), &path, table.clone())?;
    // Versions that no snapshot and no later reader can see are not written, nor those that a
    // range deletion of the memtable hides from every reader. (Tombstones are kept: older
    // versions of their keys may sit in tables below.) Merge operands are written as they
    // are, with every version below them in their stripe (`SnapshotStripes::admit`): a flush
    // does not merge; compactions do.
    let mut stripes = SnapshotStripes::new(snapshots);
    let mut range_tombstones = Fragments::clone(&memtable.range_tombstones());
    for entry in memtable.iter() {
        if !stripes
            .admit(entry.user_key(), entry.sequence(), entry.kind())
            .visible
        {
            continue;
        }
        let hidden = range_tombstones
            .find(entry.user_key())
            .is_some_and(|piece| hidden_by_range_tombstone(snapshots, entry.sequence(), piece));
        if hidden {
            continue;
        }
        if let Err(error) = builder.add(&entry.internal_key(), &entry.value()) {
            let _ = builder.abandon();
            return Err(error);
        }
    }
    prune_range_tombstones(&mut range_tombstones, snapshots, |_, _| false);
    builder.set_range_tombstones(range_tombstones);
    if builder.is_empty() {
        // Every entry was hidden and no tombstone is left: no table to write.
        builder.abandon()?;
        return Ok(None);
    }
    let summary = builder.finish()?;
    sync_dir(&**file_system, dir)?;
    let properties = summary.properties;
    Ok(Some(FileMetadata {
        number,
        file_size: summary.file_size,
        smallest: summary.smallest,
        largest: summary.largest,
        smallest_sequence: properties.smallest_sequence,
        largest_sequence: properties.largest_sequence,
        global_sequence: None,
    }))
}

/// Starts the flush thread of `engine`.
pub(crate) fn start_flusher(engine: &Arc<Engine>) -> Result<()> {
    let worker = Arc::clone(engine);
    let handle = std::thread::Builder::new()
        .name("shaledb-flush".into())
        .spawn(move || worker.catch_panic("the flush thread", || flush_loop(&worker)))
        .map_err(|error| Error::io(&engine.dir, error))?;
    engine.workers.set_flusher(handle);
    Ok(())
}

/// What the flush thread does next.
enum Job {
    Flush(ImmutableMemtable),
    PrepareSpareWal(FileNumber),
}

/// Waits for frozen memtables and flushes them, oldest first, until shutdown; when idle,
/// preallocates the next write-ahead log.
fn flush_loop(engine: &Engine) {
    loop {
        let job = {
            let mut state = lock(&engine.state);
            loop {
                if state.shutting_down {
                    return;
                }
                if state.background_error.is_none()
                    && let Some(oldest) = state.immutables.front()
                {
                    break Job::Flush(oldest.clone());
                }
                if state.spare_wanted
                    && state.spare_wal.is_none()
                    && state.background_error.is_none()
                {
                    state.spare_wanted = false;
                    break Job::PrepareSpareWal(state.versions.allocate_file_number());
                }
                state = engine
                    .state_changed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        match job {
            Job::Flush(frozen) => {
                match flush_with_retries(engine, &frozen) {
                    // Closing stopped the retries: the frozen memtable's log still holds it.
                    Ok(()) | Err(Error::Closed) => {}
                    Err(error) => {
                        let cause =
                            format!("flushing a memtable failed {FLUSH_ATTEMPTS} times: {error}");
                        engine.poison(cause.clone());
                        let mut state = lock(&engine.state);
                        state.background_error = Some(cause);
                        engine.state_changed.notify_all();
                    }
                }
            }
            Job::PrepareSpareWal(number) => prepare_spare_wal(engine, number),
        }
    }
}

/// Creates log `number` ahead of the next rotation. A failure is not an error: the rotation
/// then creates its log itself (and reports any failure to the writers).
fn prepare_spare_wal(engine: &Engine, number: FileNumber) {
    let Ok(writer) = engine.create_wal(number) else {
        let _ = remove_file(engine.file_system(), &wal_path(&engine.dir, number));
        return;
    };
    let mut state = lock(&engine.state);
    // A rotation that could not wait for this spare made a newer log: logs must be used in
    // file-number order (recovery replays them in that order), so this one is discarded.
    if number > state.current_wal_number && state.spare_wal.is_none() && !state.shutting_down {
        state.spare_wal = Some(SpareWal { number, writer });
    } else {
        drop(state);
        drop(writer);
        let _ = remove_file(engine.file_system(), &wal_path(&engine.dir, number));
    }
}

/// Flushes `job`, retrying: a few times for most errors, and for as long as it takes when the
/// disk is full. `Error::Closed` if the database closed while waiting to retry.
fn flush_with_retries(engine: &Engine, job: &ImmutableMemtable) -> Result<()> {
    let mut delay = FIRST_RETRY_DELAY;
    let mut attempt = 1;
    loop {
        let error = match flush_one(engine, job) {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        if error.is_storage_full() {
            engine
                .stats
                .storage_full_retries
                .fetch_add(1, Ordering::Relaxed);
        } else if attempt >= FLUSH_ATTEMPTS {
            return Err(error);
        } else {
            attempt += 1;
        }
        if !engine.wait_before_retry(delay) {
            return Err(Error::Closed);
        }
        delay = (delay * 2).min(RETRY_DELAY_MAX);
    }
}

/// Flushes the oldest frozen memtable `job` (see the module documentation for the order).
fn flush_one(engine: &Engine, job: &ImmutableMemtable) -> Result<()> {
    let (number, options) = {
        let mut state = lock(&engine.state);
        let Some(options) = state.keyspace_options(job.keyspace) else {
            // Dropped since it was frozen: nothing to write.
            state
                .immutables
                .retain(|frozen| !Arc::ptr_eq(&frozen.memtable, &job.memtable));
            engine.state_changed.notify_all();
            return Ok(());
        };
        (state.versions.allocate_file_number(), options)
    };
    let snapshots = engine.snapshots.pinned();
    let metadata = write_level0_table(
        &engine.options.file_system,
        &engine.dir,
        &job.memtable,
        number,
        &options.table,
        &snapshots,
    )?;
    let handle = match metadata {
        Some(metadata) => Some(open_table_handle(
            &engine.options.file_system,
            &engine.dir,
            metadata,
            &engine.cache,
        )?),
        None => None,
    };

    let mut state = lock(&engine.state);
    if !state.keyspaces.contains_key(&job.keyspace) {
        // Dropped while the table was written: the table is no one's.
        if let Some(handle) = &handle {
            handle.mark_obsolete();
        }
        state
            .immutables
            .retain(|frozen| !Arc::ptr_eq(&frozen.memtable, &job.memtable));
        engine.state_changed.notify_all();
        return Ok(());
    }
    // Logs from the oldest one some other memtable still needs on hold unflushed writes.
    let views = engine.visibility.all_views();
    let previous_log_number = state.versions.manifest_state().log_number;
    let log_number = state
        .oldest_needed_log(&views, Some(&job.memtable))
        .max(previous_log_number);
    let mut edit = VersionEdit::new();
    edit.keyspace = job.keyspace;
    edit.log_number = Some(log_number);
    if job.next_log > log_number {
        // The keyspace's later writes are all in logs from `next_log` on.
        let recorded = state
            .versions
            .manifest_state()
            .keyspace_log_number(job.keyspace);
        if job.next_log > recorded {
            edit.keyspace_log_number = Some(job.next_log);
        }
    }
    let previous_last = state.versions.manifest_state().last_sequence;
    edit.last_sequence = Some(previous_last.max(job.memtable.largest_sequence()));
    let mut added = Vec::new();
    if let Some(handle) = handle {
        edit.add_file(0, handle.metadata.clone());
        added.push(Arc::new(handle));
    }
    let flushed_bytes: u64 = edit.new_files.iter().map(|(_, file)| file.file_size).sum();
    if let Err(error) = state.versions.log_and_apply(edit, added.clone()) {
        // A failed manifest write may still have reached the disk naming the table: keep the
        // file then (the next open removes it if nothing names it). Otherwise the table never
        // became live and its handle deletes the file.
        let maybe_named = state.versions.is_manifest_poisoned();
        drop(state);
        if !maybe_named {
            added.iter().for_each(|handle| handle.mark_obsolete());
        }
        return Err(error);
    }
    state
        .immutables
        .retain(|frozen| !Arc::ptr_eq(&frozen.memtable, &job.memtable));
    engine.install_view(&state, job.keyspace);
    // Counted before the waiters wake, so that `Db::flush` returns with the flush in `stats()`.
    engine.stats.record_flush(flushed_bytes);
    engine.state_changed.notify_all();
    let obsolete: Vec<FileNumber> = state
        .live_logs
        .range(..log_number)
        .map(|(&number, _)| number)
        .collect();
    let mut delete = Vec::new();
    for number in obsolete {
        state.live_logs.remove(&number);
        if state.may_delete_log(number) {
            delete.push(number);
        }
    }
    drop(state);

    // The manifest no longer needs these logs; a failure to delete one only leaves a file that
    // the next open removes. A checkpoint copying logs deletes them when it ends.
    for number in delete {
        let _ = remove_file(engine.file_system(), &wal_path(&engine.dir, number));
    }
    Ok(())
}

/// Freezes the active memtables of `keyspaces` (every keyspace when `None`) that hold
/// anything, and waits until each memtable of theirs frozen so far is flushed.
pub(crate) fn flush_and_wait(engine: &Engine, keyspaces: Option<&[KeyspaceId]>) -> Result<()> {
    let wanted = |keyspace: KeyspaceId| keyspaces.is_none_or(|wanted| wanted.contains(&keyspace));
    let targets: Vec<Arc<Memtable>> = {
        let mut wal = lock(&engine.wal);
        engine.check_open()?;
        let Some(wal) = wal.as_mut() else {
            return Err(Error::opened_read_only());
        };
        let freeze: Vec<KeyspaceId> = wal
            .memtables
            .iter()
            .filter(|&(&id, active)| wanted(id) && !active.memtable.is_empty())
            .map(|(&id, _)| id)
            .collect();
        if !freeze.is_empty() {
            // The rotation's sync of the old log, before `state` is taken (`rotate_memtable`).
            engine.sync_current_wal(wal)?;
        }
        let mut state = lock(&engine.state);
        if !freeze.is_empty() {
            engine.rotate_memtable(wal, &mut state, &freeze)?;
        }
        state
            .immutables
            .iter()
            .filter(|frozen| wanted(frozen.keyspace))
            .map(|frozen| Arc::clone(&frozen.memtable))
            .collect()
    };
    let mut state = lock(&engine.state);
    while state.immutables.iter().any(|frozen| {
        targets
            .iter()
            .any(|target| Arc::ptr_eq(target, &frozen.memtable))
    }) {
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
    Ok(())
}
