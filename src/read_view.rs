//! What readers see: [`ReadView`] (one keyspace's active memtable, its frozen ones and its
//! version, which together hold every visible entry of the keyspace) and [`Visibility`], which
//! publishes a view per keyspace and the one visible sequence number to readers. A point read and the sources of an iterator are read
//! from one view here; the view is never changed, only replaced.
//!
//! Thread safety: the current view sits behind a read-write lock that readers hold only for
//! one `Arc` clone; it is replaced only by the engine with its `state` lock held. The visible
//! sequence is an atomic, stored by the commit leader after its group is in the memtable.
//!
//! Invariant: every entry at or below the visible sequence is in a memtable of the current view
//! or in a table of its version. A frozen memtable leaves the view in the same replacement that
//! adds its table to the version.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::db_iterator::SourceFactory;
use crate::error::Result;
use crate::iterator::{InternalIterator, LevelIterator, MemtableIterator, TableSource};
use crate::key::{KeyspaceId, SequenceNumber, ValueKind, user_key};
use crate::key_range::KeyBounds;
use crate::memtable::Memtable;
use crate::merge_operator::{SharedMergeOperator, merge_values};
use crate::range_tombstone::Fragments;
use crate::sstable::BlockReadOptions;
use crate::value::Value;
use crate::version::Version;

/// The memtables and tables that together hold every visible entry.
pub(crate) struct ReadView {
    pub memtable: Arc<Memtable>,
    /// Frozen memtables waiting for their flush, newest first.
    pub immutables: Vec<Arc<Memtable>>,
    pub version: Arc<Version>,
    /// The keyspace's level-0 slowdown and stop triggers, for the writers' backpressure check.
    pub level0_triggers: (usize, usize),
    /// How the keyspace combines merge operands (`None`: it has no operator; a read meeting an
    /// operand fails).
    pub merge_operator: Option<SharedMergeOperator>,
}

impl ReadView {
    /// The newest version of `key` at or below `sequence`: the memtables newest first, then
    /// the tables that may hold the key, newest first. Each source's range tombstones are
    /// consulted before its entries: a version older than a tombstone seen so far that covers
    /// the key is deleted. (A source holds nothing newer for a key than the sources before it,
    /// so the first version found decides.) Merge operands found on the way are collected,
    /// and the walk goes on to the first put, tombstone or covering range tombstone below them;
    /// the keyspace's merge operator then combines them with that base.
    pub fn get(
        &self,
        key: &[u8],
        sequence: SequenceNumber,
        options: BlockReadOptions,
    ) -> Result<Option<Value>> {
        let mut deleted_at: Option<SequenceNumber> = None;
        // Merge operands seen so far, newest first.
        let mut operands: Vec<Value> = Vec::new();
        let memtables = std::iter::once(&self.memtable).chain(self.immutables.iter());
        for memtable in memtables {
            if memtable.has_range_tombstones() {
                deleted_at = deleted_at.max(memtable.range_tombstones().covering(key, sequence));
            }
            let mut entry = memtable.get_entry(key, sequence);
            while let Some(found) = entry {
                match visit(
                    &mut operands,
                    deleted_at,
                    found.sequence(),
                    found.kind(),
                    || found.value(),
                ) {
                    Visit::More => {}
                    Visit::Base(base) => return self.resolve(key, base, operands),
                }
                entry = memtable
                    .next_after(&found)
                    .filter(|next| next.user_key() == key);
            }
            if deleted_at.is_some() {
                // Everything below is older than this memtable's tombstone.
                return self.resolve(key, None, operands);
            }
        }
        for handle in self.version.tables_for_key(key) {
            let tombstones = handle.table.range_tombstones();
            if !tombstones.is_empty() {
                deleted_at = deleted_at.max(tombstones.covering(key, sequence));
            }
            let mut base: Option<Option<Value>> = None;
            handle.table.visit_versions(
                key,
                sequence,
                options,
                |found, kind, value| match visit(&mut operands, deleted_at, found, kind, || value) {
                    Visit::More => true,
                    Visit::Base(found_base) => {
                        base = Some(found_base);
                        false
                    }
                },
            )?;
            if let Some(base) = base {
                return self.resolve(key, base, operands);
            }
        }
        self.resolve(key, None, operands)
    }

    /// The value of `key` given its `base` (the first put found, or `None` for a tombstone or
    /// nothing) and the merge `operands` above it, newest first.
    fn resolve(
        &self,
        key: &[u8],
        base: Option<Value>,
        operands: Vec<Value>,
    ) -> Result<Option<Value>> {
        if operands.is_empty() {
            return Ok(base);
        }
        merge_values(
            self.merge_operator.as_ref(),
            key,
            base.as_deref(),
            &operands,
        )
        .map(Some)
    }

    /// The range tombstones a reader at `sequence` sees, from every memtable and table of the
    /// view, fragmented together: each piece with its newest tombstone at or below `sequence`.
    /// The tables' are fragmented once per version; without tombstones in the memtables, an
    /// iterator shares them as they are when it sees every one.
    pub fn range_tombstones(&self, sequence: SequenceNumber) -> Arc<Fragments> {
        let mut sources: Vec<Arc<Fragments>> = Vec::new();
        let memtables = std::iter::once(&self.memtable).chain(self.immutables.iter());
        for memtable in memtables {
            if memtable.has_range_tombstones() {
                sources.push(memtable.range_tombstones());
            }
        }
        let tables = self.version.range_tombstones();
        if !tables.is_empty() {
            sources.push(tables);
        }
        match sources.as_slice() {
            [] => Fragments::shared_empty(),
            [only] if only.is_visible_as_is(sequence) => Arc::clone(only),
            [only] => Arc::new(only.visible_at(sequence)),
            _ => Arc::new(Fragments::merge(sources.iter().map(Arc::as_ref)).visible_at(sequence)),
        }
    }

    /// The sources of a merge over this view for an iterator within `bounds`: memtables, the
    /// level-0 tables overlapping the bounds, one iterator per deeper level over its tables
    /// overlapping the bounds; every table iterator reads no block wholly outside them
    /// (`iterator.rs`). The factory keeps the view (and so its files) alive.
    pub fn sources(self: Arc<Self>, options: BlockReadOptions, bounds: KeyBounds) -> SourceFactory {
        let bounds = Arc::new(bounds);
        Box::new(move || {
            let mut sources: Vec<Box<dyn InternalIterator>> = Vec::new();
            sources.push(Box::new(MemtableIterator::new(Arc::clone(&self.memtable))));
            for memtable in &self.immutables {
                sources.push(Box::new(MemtableIterator::new(Arc::clone(memtable))));
            }
            for handle in &self.version.levels[0] {
                let metadata = &handle.metadata;
                if bounds.overlaps(user_key(&metadata.smallest), user_key(&metadata.largest)) {
                    let mut iterator = handle.table.iter_with(options);
                    iterator.set_bounds(Arc::clone(&bounds));
                    sources.push(Box::new(TableSource::new(iterator)));
                }
            }
            for level in &self.version.levels[1..] {
                let level = LevelIterator::bounded(level, options, Arc::clone(&bounds));
                if level.has_tables() {
                    sources.push(Box::new(level));
                }
            }
            sources
        })
    }
}

/// What a point read does with one version of its key.
enum Visit {
    /// It was a merge operand (now collected): read on.
    More,
    /// The read stops here, with this base below the operands collected (`None`: deleted, by
    /// a tombstone or a range tombstone).
    Base(Option<Value>),
}

/// Looks at the version of kind `kind` at `sequence` (its value from `value`), given the
/// newest range tombstone covering the key so far (`deleted_at`).
fn visit(
    operands: &mut Vec<Value>,
    deleted_at: Option<SequenceNumber>,
    sequence: SequenceNumber,
    kind: ValueKind,
    value: impl FnOnce() -> Value,
) -> Visit {
    if deleted_at.is_some_and(|deleted| sequence <= deleted) {
        return Visit::Base(None);
    }
    match kind {
        ValueKind::Value => Visit::Base(Some(value())),
        ValueKind::Tombstone => Visit::Base(None),
        ValueKind::Merge => {
            operands.push(value());
            Visit::More
        }
    }
}

/// The views of every keyspace and the sequence number that readers see, published by the
/// engine.
pub(crate) struct Visibility {
    views: RwLock<BTreeMap<KeyspaceId, Arc<ReadView>>>,
    visible_sequence: AtomicU64,
    /// Called by a read between taking its sequence number and its view: tests use it to
    /// force the interleavings the invariants must survive.
    #[cfg(test)]
    pub pause: crate::test_hook::TestHook,
}

impl Visibility {
    /// Publishes `views` (one per keyspace) with every entry through `sequence` visible.
    pub fn new(views: BTreeMap<KeyspaceId, ReadView>, sequence: SequenceNumber) -> Self {
        Visibility {
            views: RwLock::new(
                views
                    .into_iter()
                    .map(|(id, view)| (id, Arc::new(view)))
                    .collect(),
            ),
            visible_sequence: AtomicU64::new(sequence.0),
            #[cfg(test)]
            pause: Default::default(),
        }
    }

    fn read_views(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<KeyspaceId, Arc<ReadView>>> {
        self.views
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current view of keyspace `keyspace` (`None` once it is dropped).
    pub fn view(&self, keyspace: KeyspaceId) -> Option<Arc<ReadView>> {
        self.read_views().get(&keyspace).cloned()
    }

    /// The current view of every keyspace.
    pub fn all_views(&self) -> Vec<(KeyspaceId, Arc<ReadView>)> {
        self.read_views()
            .iter()
            .map(|(&id, view)| (id, Arc::clone(view)))
            .collect()
    }

    /// Replaces the current view of `keyspace` (called by the engine with its `state` lock
    /// held).
    pub fn install(&self, keyspace: KeyspaceId, view: ReadView) {
        self.views
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(keyspace, Arc::new(view));
    }

    /// Removes the view of a dropped keyspace (with `state` held).
    pub fn remove(&self, keyspace: KeyspaceId) {
        self.views
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&keyspace);
    }

    /// The newest sequence number readers may see.
    pub fn visible_sequence(&self) -> SequenceNumber {
        SequenceNumber(self.visible_sequence.load(Ordering::Acquire))
    }

    /// Makes every entry through `sequence` visible (called by the commit leader once its
    /// group is in the memtables of the current views).
    pub fn publish(&self, sequence: SequenceNumber) {
        self.visible_sequence.store(sequence.0, Ordering::Release);
    }

    /// The sequence number a read without a snapshot sees and the views of `keyspaces` it
    /// reads (`None` once one of them is dropped), taken together: the sequence is loaded while the
    /// view lock is held, so no view can be installed between the two. A later view would be
    /// wrong for that sequence: its tables may come from a flush or compaction that kept only a
    /// newer version of a key than the sequence can see (no registered snapshot pinned the
    /// older one), and the read would return an older value, or none. An earlier view would
    /// miss entries of a newer memtable. Holding the read lock across one atomic load delays
    /// an install by nanoseconds.
    pub fn read_point_many(
        &self,
        keyspaces: &[KeyspaceId],
    ) -> Option<(SequenceNumber, Vec<Arc<ReadView>>)> {
        let views = self.read_views();
        let sequence = self.visible_sequence();
        let taken = keyspaces
            .iter()
            .map(|keyspace| views.get(keyspace).cloned())
            .collect::<Option<Vec<_>>>()?;
        Some((sequence, taken))
    }

    /// [`read_point_many`](Self::read_point_many) for one keyspace.
    pub fn read_point(&self, keyspace: KeyspaceId) -> Option<(SequenceNumber, Arc<ReadView>)> {
        let views = self.read_views();
        let sequence = self.visible_sequence();
        #[cfg(test)]
        self.pause.call();
        views
            .get(&keyspace)
            .map(|view| (sequence, Arc::clone(view)))
    }
}
