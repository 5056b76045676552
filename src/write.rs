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
use crate::key::{SequenceNumber, ValueKind};
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
        self.apply_backpressure()?;
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
        for batch in &group.batches {
            if let Err(error) = insert_batch(&wal.memtable, batch.encoded()) {
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

    /// Delays this write group while level 0 is past the slowdown trigger (longer the further
    /// past, and bounded), and holds it while level 0 is at the stop trigger, until compaction
    /// brings it down. Called by the commit leader, so the whole write path feels it.
    fn apply_backpressure(&self) -> Result<()> {
        let level0 = self.visibility.level0_files();
        let slowdown = self.options.level0_slowdown_trigger;
        let stop = self.options.level0_stop_trigger;
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
        while state.versions.current().levels[0].len() >= stop {
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

    /// Freezes a full memtable, waiting first while too many frozen ones wait for their flush.
    fn make_room_for_write(&self, wal: &mut WalState) -> Result<()> {
        if wal.memtable.approximate_size() < self.options.write_buffer_size {
            return Ok(());
        }
        // The rotation syncs the old log; before `state` is taken (see `rotate_memtable`).
        self.sync_current_wal(wal)?;
        let mut state = lock(&self.state);
        let mut stall_started: Option<Instant> = None;
        while state.immutables.len() >= self.options.max_immutable_memtables {
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
        self.rotate_memtable(wal, &mut state)
    }

    /// Freezes the current memtable and starts a new log and memtable. The old log is synced
    /// first, so that a synced write in the new log never survives a crash that an earlier
    /// unsynced write in the old log does not; and so a write waiting for a sync of the old log
    /// (`Db::write_durable`) is durable once its log is rotated away.
    ///
    /// The caller syncs the old log (`sync_current_wal`) before it takes `state`: a sync may
    /// wait for a running one, whose completions may read `state`. Here it is only checked.
    pub fn rotate_memtable(&self, wal: &mut WalState, state: &mut EngineState) -> Result<()> {
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
        let old_writer = std::mem::replace(&mut wal.writer, writer);
        drop(old_writer);
        let old_number = std::mem::replace(&mut wal.number, number);
        let old_memtable = std::mem::replace(&mut wal.memtable, Arc::new(Memtable::new()));
        state.immutables.push_back(ImmutableMemtable {
            memtable: old_memtable,
            wal_number: old_number,
        });
        state.current_wal_number = number;
        state.spare_wanted = true;
        self.install_view(state, Arc::clone(&wal.memtable));
        self.state_changed.notify_all();
        Ok(())
    }
}

/// Inserts every operation of an encoded batch into `memtable`, with consecutive sequence
/// numbers from the batch header.
pub(crate) fn insert_batch(memtable: &Memtable, encoded: &[u8]) -> Result<()> {
    let reader =
        BatchReader::new(encoded).map_err(|error| Error::InvalidArgument(error.to_string()))?;
    let first = reader.first_sequence().0;
    for (sequence, operation) in (first..).zip(reader) {
        let operation = operation.map_err(|error| Error::InvalidArgument(error.to_string()))?;
        let sequence = SequenceNumber(sequence);
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
        }
    }
    Ok(())
}
