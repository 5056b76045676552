//! Snapshots: a sequence number pinned so that reads see the database exactly as it was, and
//! the registry of live snapshots that compaction consults before dropping old versions.
//!
//! Thread safety: the registry is a mutex-protected multiset of sequence numbers; taking and
//! dropping a snapshot are O(log n) under that mutex and never touch the write path.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::key::SequenceNumber;

/// The live snapshots of one database.
#[derive(Debug, Default)]
pub(crate) struct SnapshotRegistry {
    live: Mutex<BTreeMap<SequenceNumber, usize>>,
    /// How many snapshots were ever taken (changed with `live` locked).
    taken: AtomicU64,
}

impl SnapshotRegistry {
    fn live(&self) -> MutexGuard<'_, BTreeMap<SequenceNumber, usize>> {
        // The map is updated by single insert/remove calls, never left half-changed.
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Pins the sequence number `current` returns until the returned snapshot is dropped.
    /// `current` is called with the registry locked, so that a flush or compaction that reads
    /// the pinned sequences (`pinned`) either sees this snapshot or started before its sequence
    /// was read (and so holds no entry newer than it): no version the snapshot can see is
    /// dropped in between.
    pub(crate) fn take(self: &Arc<Self>, current: impl FnOnce() -> SequenceNumber) -> Snapshot {
        let mut live = self.live();
        let sequence = current();
        *live.entry(sequence).or_insert(0) += 1;
        self.taken.fetch_add(1, Ordering::Relaxed);
        drop(live);
        Snapshot {
            sequence,
            registry: Arc::clone(self),
        }
    }

    /// Every pinned sequence number, ascending (compaction keeps one version per snapshot).
    pub(crate) fn pinned(&self) -> Vec<SequenceNumber> {
        self.live().keys().copied().collect()
    }

    /// [`pinned`](Self::pinned), with how many snapshots had been taken then.
    pub(crate) fn pinned_and_taken(&self) -> (Vec<SequenceNumber>, u64) {
        let live = self.live();
        (
            live.keys().copied().collect(),
            self.taken.load(Ordering::Relaxed),
        )
    }

    /// Runs `install` unless a snapshot was taken since `taken` (of
    /// [`pinned_and_taken`](Self::pinned_and_taken)), with the registry locked so that none is
    /// taken meanwhile: how a compaction that filtered entries publishes its result only if no
    /// snapshot could have read what it changed (a snapshot taken after the compaction read the
    /// pinned list would have seen the entries before the filter). Takes the engine's `state`
    /// inside: no thread takes the registry with `state` held.
    pub(crate) fn unless_taken_since<T>(
        &self,
        taken: u64,
        install: impl FnOnce() -> T,
    ) -> Option<T> {
        let _live = self.live();
        (self.taken.load(Ordering::Relaxed) == taken).then(install)
    }

    fn release(&self, sequence: SequenceNumber) {
        let mut live = self.live();
        if let Some(count) = live.get_mut(&sequence) {
            *count -= 1;
            if *count == 0 {
                live.remove(&sequence);
            }
        }
    }
}

/// A consistent, read-only view of the database as of the moment it was taken.
///
/// Pass it in [`ReadOptions::snapshot`](crate::ReadOptions) to read that state. While it is
/// alive, compaction keeps the versions it can see; drop it to let them go.
///
/// ```
/// use shaledb::{Db, Options, ReadOptions};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"balance", b"100")?;
/// let before = db.snapshot();
/// db.put(b"balance", b"40")?;
/// db.delete(b"balance")?;
///
/// let at_before = ReadOptions { snapshot: Some(&before), ..ReadOptions::default() };
/// assert_eq!(db.get_with(b"balance", &at_before)?.as_deref(), Some(&b"100"[..]));
/// assert_eq!(db.range_with(.., &at_before).count(), 1);
/// assert_eq!(db.get(b"balance")?, None);
/// drop(before); // lets compaction drop the old version
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Snapshot {
    sequence: SequenceNumber,
    registry: Arc<SnapshotRegistry>,
}

impl Snapshot {
    /// The sequence number of the last write this snapshot sees (every write is numbered, in
    /// commit order).
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let before = db.snapshot();
    /// db.put(b"k", b"v")?;
    /// let after = db.snapshot();
    /// assert!(after.sequence() > before.sequence());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sequence(&self) -> SequenceNumber {
        self.sequence
    }

    /// Whether this snapshot belongs to the database that owns `registry`.
    pub(crate) fn belongs_to(&self, registry: &Arc<SnapshotRegistry>) -> bool {
        Arc::ptr_eq(&self.registry, registry)
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("sequence", &self.sequence)
            .finish()
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.registry.release(self.sequence);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_tracks_live_snapshots() {
        let registry = Arc::new(SnapshotRegistry::default());
        let first = registry.take(|| SequenceNumber(5));
        let second = registry.take(|| SequenceNumber(5));
        let third = registry.take(|| SequenceNumber(9));
        assert_eq!(registry.pinned().first(), Some(&SequenceNumber(5)));
        drop(first);
        assert_eq!(
            registry.pinned(),
            vec![SequenceNumber(5), SequenceNumber(9)]
        );
        drop(second);
        assert_eq!(registry.pinned(), vec![SequenceNumber(9)]);
        assert!(third.belongs_to(&registry));
        drop(third);
        assert!(registry.pinned().is_empty());
    }
}
