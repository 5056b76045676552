//! The write path of the engine, run by the leader of each commit group (`commit.rs`):
//! backpressure from compaction debt, freezing a full memtable behind a fresh write-ahead log,
//! stamping sequence numbers, one log write and at most one fsync for the group, memtable
//! inserts, publishing the new sequence number, and registering what the group's
//! `Db::write_durable` writers wait for. `engine.rs` states the lock order and the invariants
//! this code keeps; the syncs themselves go through `wal_sync.rs`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::batch::{BatchOperation, BatchReader, WriteBatch};
use crate::commit::WriteGroup;
use crate::durability::WalPosition;
use crate::engine::{Engine, EngineState, ImmutableMemtable, WalState, lock};
use crate::error::{Error, Result};
use crate::key::FileNumber;
use crate::key::{KeyspaceId, SequenceNumber, ValueKind};
use crate::manifest::VersionEdit;
use crate::memtable::Memtable;
use crate::sync_marker::encode_sync_marker;

/// Delay per level-0 file past the slowdown trigger, for each write group.
const SLOWDOWN_STEP: Duration = Duration::from_millis(1);
/// The longest a write group is delayed before the stop trigger.
const SLOWDOWN_MAX: Duration = Duration::from_millis(20);

impl Engine {
    /// Commits one group (run by the group's leader; see `commit.rs`): sequence numbers, one log
    /// write, at most one fsync, memtable inserts, then the new sequence becomes visible.
    ///
    /// A panic anywhere in it (a bug, or a panicking `FileSystem`) is caught: the log may hold
    /// part of the group, so the database turns read-only, and the group's writers and every
    /// later one get `Error::ReadOnly` naming the panic, instead of waiting for a leader that
    /// is gone.
    pub(crate) fn commit_group(&self, group: &mut WriteGroup) -> Result<()> {
        let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.commit_group_inner(group)
        }));
        committed.unwrap_or_else(|payload| Err(self.record_panic("the commit leader", &*payload)))
    }

    fn commit_group_inner(&self, group: &mut WriteGroup) -> Result<()> {
        let mut wal = lock(&self.wal);
        // Checked with the log locked: `close` sets `closed` before it takes this lock to sync
        // and release the directory, so no group can write after the LOCK file is released.
        self.check_writable()?;
        let Some(wal) = wal.as_mut() else {
            return Err(Error::opened_read_only());
        };
        self.make_room_for_write(wal)?;
        let mut last = wal.last_sequence.0;
        for batch in &mut group.batches {
            let first = last + 1;
            last += batch.len() as u64;
            if last > SequenceNumber::MAX.0 {
                return Err(Error::InvalidArgument(
                    "sequence numbers are exhausted".into(),
                ));
            }
            batch.set_first_sequence(SequenceNumber(first));
        }
        // A sync since the last marker (by a synced group, `Db::sync_wal` or the sync thread)
        // is recorded before the group's batches, in the same write, so that recovery knows
        // how far this log is durable (sync_marker.rs).
        let synced = self.durability.synced_offset(wal.number.0);
        let marker = (synced > wal.marked_synced_offset).then(|| encode_sync_marker(synced));
        let records = marker
            .iter()
            .map(|marker| marker.as_slice())
            .chain(group.batches.iter().map(WriteBatch::encoded));
        let logged = wal.writer.add_records(records);
        if let Err(error) = logged {
            let cause = format!("writing the write-ahead log failed: {error}");
            self.poison(cause.clone());
            // What was written before may never be synced: the writes waiting for a sync fail.
            let panics = self.durability.fail(&error, cause);
            self.record_callback_panics(panics);
            return Err(error);
        }
        self.durability.logged(wal.writer.offset());
        if marker.is_some() {
            wal.marked_synced_offset = synced;
        }
        if group.sync {
            self.sync_current_wal(wal)?;
        }
        let log = wal.number.0;
        for batch in &group.batches {
            // A keyspace dropped after the batch was admitted has no memtable: its operations
            // went before the drop, which removed them with the keyspace (and recovery skips
            // them the same way).
            let memtables = &wal.memtables;
            let memtable_of = |keyspace: KeyspaceId| {
                let active = memtables.get(&keyspace)?;
                active.memtable.note_log(log);
                Some(&*active.memtable)
            };
            if let Err(error) = insert_batch(memtable_of, batch.encoded()) {
                // The log holds a batch the memtable lacks: later writes would be visible
                // without it, and the next open would replay it. Only a reopen sets that right.
                self.poison(format!(
                    "inserting a logged batch into the memtable failed: {error}"
                ));
                return Err(error);
            }
        }
        wal.last_sequence = SequenceNumber(last);
        self.visibility.publish(SequenceNumber(last));
        self.stats
            .wal_bytes
            .store(wal.writer.offset(), Ordering::Relaxed);
        let bytes = group
            .batches
            .iter()
            .map(WriteBatch::approximate_size)
            .sum::<usize>();
        self.stats.write_rate.add(bytes as u64);
        // Last, so that a completion is registered only for a group that is committed: it runs
        // now if the group was synced, else when a later sync covers the group.
        let position = WalPosition {
            log: wal.number.0,
            offset: wal.writer.offset(),
        };
        let panics = self
            .durability
            .register(position, std::mem::take(&mut group.completions));
        self.record_callback_panics(panics);
        Ok(())
    }

    /// Delays a write to `keyspaces` while the level 0 of one of them is past its slowdown
    /// trigger (longer the further past, and bounded), and holds it while one is at its stop
    /// trigger, until compaction brings it down. Called by each writer before it joins the
    /// commit queue, so that one keyspace's compaction debt slows the writes to it and not
    /// the others.
    pub(crate) fn apply_backpressure(
        &self,
        keyspaces: impl IntoIterator<Item = KeyspaceId>,
    ) -> Result<()> {
        for keyspace in keyspaces {
            self.apply_keyspace_backpressure(keyspace)?;
        }
        Ok(())
    }

    fn apply_keyspace_backpressure(&self, keyspace: KeyspaceId) -> Result<()> {
        let Some(view) = self.visibility.view(keyspace) else {
            return Err(Error::InvalidArgument(format!(
                "the batch writes to keyspace {keyspace}, which was dropped or belongs to \
                 another database; nothing of it was written"
            )));
        };
        let level0 = view.version.levels[0].len();
        let (slowdown, stop) = view.level0_triggers;
        drop(view);
        if level0 < slowdown {
            return Ok(());
        }
        if level0 < stop {
            let excess = (level0 - slowdown + 1) as u32;
            let delay = (SLOWDOWN_STEP * excess).min(SLOWDOWN_MAX);
            std::thread::sleep(delay);
            self.stats.slowdowns.record_duration(delay);
            return Ok(());
        }
        let started = Instant::now();
        let mut state = lock(&self.state);
        while state
            .versions
            .current(keyspace)
            .is_some_and(|version| version.levels[0].len() >= stop)
        {
            if state.shutting_down || self.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            if let Some(cause) = &state.background_error {
                return Err(Error::refused_after(cause));
            }
            state = self
                .state_changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        self.stats.record_stall(started.elapsed());
        Ok(())
    }

    /// Freezes the memtables that are full behind a new log, waiting first while a keyspace
    /// whose memtable is full has too many frozen ones waiting for their flush. Past the WAL
    /// limit (`Options::max_total_wal_size`), the same rotation also freezes the memtables that
    /// hold writes in the oldest live log, so that their flush lets it be deleted.
    fn make_room_for_write(&self, wal: &mut WalState) -> Result<()> {
        let full: Vec<KeyspaceId> = wal
            .memtables
            .iter()
            .filter(|(_, active)| active.memtable.approximate_size() >= active.write_buffer_size)
            .map(|(&id, _)| id)
            .collect();
        if full.is_empty() {
            return Ok(());
        }
        // The rotation syncs the old log; before `state` is taken (see `rotate_memtable`).
        self.sync_current_wal(wal)?;
        let mut state = lock(&self.state);
        let mut stall_started: Option<Instant> = None;
        loop {
            let waiting = full.iter().any(|&keyspace| {
                let limit = state
                    .keyspace_options(keyspace)
                    .map_or(usize::MAX, |options| options.max_immutable_memtables);
                let frozen = state
                    .immutables
                    .iter()
                    .filter(|frozen| frozen.keyspace == keyspace)
                    .count();
                frozen >= limit
            });
            if !waiting {
                break;
            }
            // `close` sets `closed` first and then waits for this log lock: give it up.
            if state.shutting_down || self.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            if let Some(cause) = &state.background_error {
                return Err(Error::refused_after(cause));
            }
            stall_started.get_or_insert_with(Instant::now);
            state = self
                .state_changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        if let Some(started) = stall_started {
            self.stats.record_stall(started.elapsed());
        }
        let mut freeze = full;
        state.live_logs.insert(wal.number, wal.writer.offset());
        let total: u64 = state.live_logs.values().sum();
        if total > self.options.max_total_wal_size {
            // The keyspaces whose active memtables hold writes in the oldest log in use.
            let oldest = wal
                .memtables
                .values()
                .filter_map(|active| active.memtable.first_log())
                .min();
            let pinning: Vec<KeyspaceId> = wal
                .memtables
                .iter()
                .filter(|(id, active)| {
                    oldest.is_some()
                        && active.memtable.first_log() == oldest
                        && !freeze.contains(id)
                })
                .map(|(&id, _)| id)
                .collect();
            if !pinning.is_empty() {
                self.stats.wal_limit_flushes.fetch_add(1, Ordering::Relaxed);
                freeze.extend(pinning);
            }
        }
        self.rotate_memtable(wal, &mut state, &freeze)
    }

    /// Freezes the current memtable and starts a new log and memtable. The old log is synced
    /// first, so that a synced write in the new log never survives a crash that an earlier
    /// unsynced write in the old log does not; and so a write waiting for a sync of the old log
    /// (`Db::write_durable`) is durable once its log is rotated away.
    ///
    /// The caller syncs the old log (`sync_current_wal`) before it takes `state`: a sync may
    /// wait for a running one, whose completions may read `state`. Here it is only checked.
    pub fn rotate_memtable(
        &self,
        wal: &mut WalState,
        state: &mut EngineState,
        freeze: &[KeyspaceId],
    ) -> Result<()> {
        if !self.durability.covers(self.durability.written()) {
            debug_assert!(false, "a rotation of a log its caller did not sync");
            self.sync_current_wal(wal)?;
        }
        // A log the flush thread preallocated ahead of time, or else one made now.
        let (number, writer) = match state.spare_wal.take() {
            Some(spare) => (spare.number, spare.writer),
            None => {
                let number = state.versions.allocate_file_number();
                (number, self.create_wal(number)?)
            }
        };
        // The manifest learns how far the old log was synced and that the new one exists before
        // any write goes to the new one, so recovery can tell lost synced writes or a deleted
        // log from a torn tail (FORMAT.md 6.1, tag 7).
        let mut edit = VersionEdit::new();
        edit.wals
            .push(self.wal_metadata(wal.number, Some(wal.writer.offset())));
        edit.wals.push(self.wal_metadata(number, None));
        match state.versions.log_edit(&mut edit) {
            Ok(()) => {}
            // The record only makes recovery stricter, and switching is safe whether or not it
            // reached the disk: recovery replays every log it finds from the manifest's log
            // number, and one the manifest does not record is checked as before tag 7. So a
            // full disk does not stop the switch; the next manifest edit starts a fresh
            // manifest (the failed append poisoned this one).
            Err(error) if error.is_storage_full() => {}
            Err(error) => {
                self.poison(format!(
                    "recording a write-ahead log switch in the manifest failed: {error}"
                ));
                return Err(error);
            }
        }
        wal.marked_synced_offset = writer.synced_offset();
        self.durability.switch_log(
            number.0,
            writer.path().to_path_buf(),
            // Without a handle, syncs take the log lock: slower, as safe.
            writer.sync_handle().unwrap_or(None),
            writer.offset(),
            writer.synced_offset(),
        );
        let old_size = wal.writer.offset();
        let old_writer = std::mem::replace(&mut wal.writer, writer);
        drop(old_writer);
        let old_number = std::mem::replace(&mut wal.number, number);
        state.live_logs.insert(old_number, old_size);
        state.live_logs.insert(number, 0);
        state.current_wal_number = number;
        for &keyspace in freeze {
            let Some(active) = wal.memtables.get_mut(&keyspace) else {
                continue;
            };
            if active.memtable.is_empty() {
                continue;
            }
            if let Some(options) = state.keyspace_options(keyspace) {
                active.write_buffer_size = options.write_buffer_size;
            }
            let old_memtable = std::mem::replace(&mut active.memtable, Arc::new(Memtable::new()));
            state.immutables.push_back(ImmutableMemtable {
                keyspace,
                first_log: old_memtable.first_log().map_or(old_number, FileNumber),
                memtable: old_memtable,
                next_log: number,
            });
            self.install_view_with(state, keyspace, Arc::clone(&active.memtable));
        }
        state.spare_wanted = true;
        self.state_changed.notify_all();
        Ok(())
    }
}

/// Inserts every operation of an encoded batch into the memtable of its keyspace that
/// `memtable_of` gives, with consecutive sequence numbers from the batch header; an operation
/// of a keyspace without one (dropped) is skipped, its sequence number unused.
pub(crate) fn insert_batch<'m>(
    mut memtable_of: impl FnMut(KeyspaceId) -> Option<&'m Memtable>,
    encoded: &[u8],
) -> Result<()> {
    let mut reader =
        BatchReader::new(encoded).map_err(|error| Error::InvalidArgument(error.to_string()))?;
    let mut sequence = reader.first_sequence().0;
    // Most batches touch one keyspace: look it up once per run of operations.
    let mut last: Option<(KeyspaceId, Option<&'m Memtable>)> = None;
    while let Some(item) = reader.next_in_keyspace() {
        let (keyspace, operation) =
            item.map_err(|error| Error::InvalidArgument(error.to_string()))?;
        let memtable = match last {
            Some((known, memtable)) if known == keyspace => memtable,
            _ => {
                let memtable = memtable_of(keyspace);
                last = Some((keyspace, memtable));
                memtable
            }
        };
        let current = SequenceNumber(sequence);
        sequence += 1;
        let Some(memtable) = memtable else {
            continue;
        };
        let sequence = current;
        match operation {
            BatchOperation::Put { key, value } => {
                memtable.insert(key, sequence, ValueKind::Value, value)
            }
            BatchOperation::Delete { key } => {
                memtable.insert(key, sequence, ValueKind::Tombstone, &[])
            }
            BatchOperation::DeleteRange { start, end } => {
                memtable.insert_range_tombstone(start, end, sequence)
            }
            BatchOperation::Merge { key, operand } => {
                memtable.insert(key, sequence, ValueKind::Merge, operand)
            }
        }
    }
    Ok(())
}
