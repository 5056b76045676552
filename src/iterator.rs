//! The internal iterator: one trait over internal keys shared by every layer, and its
//! adapters over a memtable ([`MemtableIterator`]), one SSTable ([`TableSource`]) and the sorted,
//! disjoint tables of one level ([`LevelIterator`], which opens one table at a time). The merge
//! of many of them is in `merging_iterator.rs`; the public iterator in `db_iterator.rs`.
//!
//! Table iterators and level iterators may carry the user-key bounds of the public iterator
//! they serve: a level iterator then holds only the tables overlapping the bounds, and each
//! table iterator reads no block wholly outside them (`sstable/iter.rs`). Entries outside the
//! bounds may still appear (from a block or memtable read anyway); the public iterator filters.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::key::{
    SequenceNumber, compare_internal_keys, parse_internal_key, range_end_key, range_start_key,
    user_key,
};
use crate::key_range::KeyBounds;
use crate::memtable::{Memtable, MemtableEntry};
use crate::range_tombstone::{Fragment, Fragments};
use crate::sstable::{BlockReadOptions, TableIterator};
use crate::value::Value;
use crate::version::TableHandle;

/// A cursor over entries in internal-key order, movable both ways.
pub(crate) trait InternalIterator: Send {
    /// Whether the cursor is on an entry.
    fn valid(&self) -> bool;
    /// The internal key of the current entry (only when valid).
    fn key(&self) -> &[u8];
    /// The value of the current entry (only when valid).
    fn value(&self) -> Value;
    /// Moves to the first entry at or after `target`.
    fn seek(&mut self, target: &[u8]) -> Result<()>;
    /// Moves to the first entry.
    fn seek_to_first(&mut self) -> Result<()>;
    /// Moves to the last entry.
    fn seek_to_last(&mut self) -> Result<()>;
    /// Moves to the next entry.
    fn next(&mut self) -> Result<()>;
    /// Moves to the previous entry.
    fn prev(&mut self) -> Result<()>;

    /// The highest sequence number of any entry this source holds, if it knows one: what lets
    /// a range tombstone newer than all of them skip them without reading each.
    fn largest_sequence(&self) -> Option<SequenceNumber> {
        None
    }

    /// Walking forward: if every entry from the current one up to `target` (an internal key)
    /// is older than `tombstone` — so a range tombstone at `tombstone` ending at `target`'s
    /// user key hides them all — moves to the first entry at or after `target` without
    /// reading them. Otherwise may stay where it is (the caller then steps over them).
    fn skip_older_forward(&mut self, target: &[u8], tombstone: SequenceNumber) -> Result<()> {
        if self.valid()
            && self
                .largest_sequence()
                .is_some_and(|largest| largest < tombstone)
            && compare_internal_keys(self.key(), target).is_lt()
        {
            self.seek(target)?;
        }
        Ok(())
    }

    /// Walking backward: the mirror of [`skip_older_forward`](Self::skip_older_forward), to
    /// the last entry at or before `target`.
    fn skip_older_backward(&mut self, target: &[u8], tombstone: SequenceNumber) -> Result<()> {
        if self.valid()
            && self
                .largest_sequence()
                .is_some_and(|largest| largest < tombstone)
            && compare_internal_keys(self.key(), target).is_gt()
        {
            self.seek_for_prev(target)?;
        }
        Ok(())
    }

    /// [`seek`](Self::seek), landing past the pieces of `tombstones` (visible at the reader's
    /// sequence number) that hide every entry of this source from `target` on: a seek into a
    /// deleted range reads no block inside it.
    fn seek_past(&mut self, target: &[u8], tombstones: &Fragments) -> Result<()> {
        match self.largest_sequence() {
            Some(largest) => self.seek(&target_past(target, tombstones, largest)),
            None => self.seek(target),
        }
    }

    /// [`seek_for_prev`](Self::seek_for_prev), landing before the pieces of `tombstones` that
    /// hide every entry of this source from `target` down.
    fn seek_for_prev_past(&mut self, target: &[u8], tombstones: &Fragments) -> Result<()> {
        match self.largest_sequence() {
            Some(largest) => self.seek_for_prev(&target_before(target, tombstones, largest)),
            None => self.seek_for_prev(target),
        }
    }

    /// Moves to the last entry at or before `target`.
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.seek(target)?;
        if !self.valid() {
            return self.seek_to_last();
        }
        if compare_internal_keys(self.key(), target) == Ordering::Greater {
            self.prev()?;
        }
        Ok(())
    }
}

/// The piece holding `target`'s user key, if it hides entries up to `largest`.
fn hiding<'a>(
    tombstones: &'a Fragments,
    target: &[u8],
    largest: SequenceNumber,
) -> Option<&'a Fragment> {
    tombstones
        .find(user_key(target))
        .filter(|piece| piece.hides(largest))
}

/// `target`, moved forward past every piece of `tombstones` that hides entries up to
/// `largest` from it on (adjacent pieces one after the other).
fn target_past<'a>(
    target: &'a [u8],
    tombstones: &Fragments,
    largest: SequenceNumber,
) -> Cow<'a, [u8]> {
    let mut target = Cow::Borrowed(target);
    while let Some(piece) = hiding(tombstones, &target, largest) {
        target = Cow::Owned(range_end_key(&piece.end));
    }
    target
}

/// `target`, moved backward before every piece of `tombstones` that hides entries up to
/// `largest` from it down (adjacent pieces one after the other).
fn target_before<'a>(
    target: &'a [u8],
    tombstones: &Fragments,
    largest: SequenceNumber,
) -> Cow<'a, [u8]> {
    let Some(mut piece) = hiding(tombstones, target, largest) else {
        return Cow::Borrowed(target);
    };
    let pieces = tombstones.pieces();
    loop {
        let index = pieces.partition_point(|other| other.end.as_slice() <= piece.start.as_slice());
        match index.checked_sub(1).and_then(|index| pieces.get(index)) {
            Some(previous) if previous.end == piece.start && previous.hides(largest) => {
                piece = previous;
            }
            _ => return Cow::Owned(range_start_key(&piece.start)),
        }
    }
}

/// A memtable as an internal iterator. Holds the memtable alive.
pub(crate) struct MemtableIterator {
    memtable: Arc<Memtable>,
    current: Option<MemtableEntry>,
    key: Vec<u8>,
}

impl MemtableIterator {
    pub fn new(memtable: Arc<Memtable>) -> Self {
        MemtableIterator {
            memtable,
            current: None,
            key: Vec::new(),
        }
    }

    fn set(&mut self, entry: Option<MemtableEntry>) {
        self.key.clear();
        if let Some(entry) = &entry {
            crate::key::append_internal_key(
                &mut self.key,
                entry.user_key(),
                entry.sequence(),
                entry.kind(),
            );
        }
        self.current = entry;
    }
}

impl InternalIterator for MemtableIterator {
    fn valid(&self) -> bool {
        self.current.is_some()
    }
    fn largest_sequence(&self) -> Option<SequenceNumber> {
        Some(self.memtable.largest_sequence())
    }
    fn key(&self) -> &[u8] {
        &self.key
    }
    fn value(&self) -> Value {
        self.current
            .as_ref()
            .map(MemtableEntry::value)
            .unwrap_or_else(|| Value::from(Vec::new()))
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let parsed =
            parse_internal_key(target).map_err(|reason| Error::InvalidArgument(reason.into()))?;
        // The memtable seeks by (user key, snapshot); a trailer's kind byte below 0xff would
        // only matter between two entries of one sequence number, which cannot exist.
        let mut entry = self.memtable.seek(parsed.user_key, parsed.sequence);
        // `Memtable::seek` includes the whole sequence `parsed.sequence`; drop an entry that
        // sorts before `target` (same sequence, larger kind).
        if let Some(found) = &entry {
            let found_key =
                crate::key::internal_key(found.user_key(), found.sequence(), found.kind());
            if compare_internal_keys(&found_key, target) == Ordering::Less {
                entry = self.memtable.next_after(found);
            }
        }
        self.set(entry);
        Ok(())
    }
    fn seek_to_first(&mut self) -> Result<()> {
        let first = self.memtable.first();
        self.set(first);
        Ok(())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        let last = self.memtable.last();
        self.set(last);
        Ok(())
    }
    fn next(&mut self) -> Result<()> {
        let next = self
            .current
            .as_ref()
            .and_then(|entry| self.memtable.next_after(entry));
        self.set(next);
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        let previous = self
            .current
            .as_ref()
            .and_then(|entry| self.memtable.previous_before(entry));
        self.set(previous);
        Ok(())
    }
}

/// One SSTable as an internal iterator.
pub(crate) struct TableSource {
    iterator: TableIterator,
}

impl TableSource {
    pub fn new(iterator: TableIterator) -> Self {
        TableSource { iterator }
    }
}

impl InternalIterator for TableSource {
    fn valid(&self) -> bool {
        self.iterator.valid()
    }
    fn largest_sequence(&self) -> Option<SequenceNumber> {
        Some(self.iterator.table().largest_sequence())
    }
    fn key(&self) -> &[u8] {
        self.iterator.key()
    }
    fn value(&self) -> Value {
        self.iterator.shared_value()
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.iterator.seek(target)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.iterator.seek_to_first()
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.iterator.seek_to_last()
    }
    fn next(&mut self) -> Result<()> {
        self.iterator.next()
    }
    fn prev(&mut self) -> Result<()> {
        self.iterator.prev()
    }
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.iterator.seek_for_prev(target)
    }
}

/// The tables of one sorted, non-overlapping level as one iterator, opening each table's
/// iterator only when the cursor reaches it.
pub(crate) struct LevelIterator {
    tables: Vec<Arc<TableHandle>>,
    options: BlockReadOptions,
    /// Passed to each table iterator: see the module documentation.
    bounds: Option<Arc<KeyBounds>>,
    index: usize,
    current: Option<TableIterator>,
}

impl LevelIterator {
    pub fn new(tables: Vec<Arc<TableHandle>>, options: BlockReadOptions) -> Self {
        LevelIterator {
            tables,
            options,
            bounds: None,
            index: 0,
            current: None,
        }
    }

    /// The tables of `level` (sorted, disjoint) that overlap `bounds`, each opened with them:
    /// no table wholly outside the bounds is ever opened.
    pub fn bounded(
        level: &[Arc<TableHandle>],
        options: BlockReadOptions,
        bounds: Arc<KeyBounds>,
    ) -> Self {
        let tables = overlapping_tables(level, &bounds).to_vec();
        LevelIterator {
            bounds: Some(bounds),
            ..LevelIterator::new(tables, options)
        }
    }

    /// Whether there is any table to open.
    pub fn has_tables(&self) -> bool {
        !self.tables.is_empty()
    }

    fn open(&mut self, index: usize) -> Option<&mut TableIterator> {
        self.index = index;
        self.current = self.tables.get(index).map(|handle| {
            let mut iterator = handle.table.iter_with(self.options);
            if let Some(bounds) = &self.bounds {
                iterator.set_bounds(Arc::clone(bounds));
            }
            iterator
        });
        self.current.as_mut()
    }

    /// Moves forward over exhausted tables.
    fn skip_forward(&mut self) -> Result<()> {
        while self
            .current
            .as_ref()
            .is_some_and(|iterator| !iterator.valid())
        {
            match self.open(self.index + 1) {
                Some(iterator) => iterator.seek_to_first()?,
                None => self.current = None,
            }
        }
        Ok(())
    }

    /// Moves backward over exhausted tables.
    fn skip_backward(&mut self) -> Result<()> {
        while self
            .current
            .as_ref()
            .is_some_and(|iterator| !iterator.valid())
        {
            if self.index == 0 {
                self.current = None;
                break;
            }
            if let Some(iterator) = self.open(self.index - 1) {
                iterator.seek_to_last()?;
            }
        }
        Ok(())
    }
}

impl InternalIterator for LevelIterator {
    fn valid(&self) -> bool {
        self.current.as_ref().is_some_and(TableIterator::valid)
    }
    fn key(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], TableIterator::key)
    }
    fn value(&self) -> Value {
        self.current
            .as_ref()
            .map_or_else(|| Value::from(Vec::new()), TableIterator::shared_value)
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        // The first table whose largest key is >= target.
        let index = self.tables.partition_point(|handle| {
            compare_internal_keys(&handle.metadata.largest, target) == Ordering::Less
        });
        if let Some(iterator) = self.open(index) {
            iterator.seek(target)?;
        }
        self.skip_forward()
    }
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        // The last table whose smallest key is <= target: any entry <= target is in it or
        // before it, and it holds one (its smallest).
        let after = self.tables.partition_point(|handle| {
            compare_internal_keys(&handle.metadata.smallest, target) != Ordering::Greater
        });
        let Some(index) = after.checked_sub(1) else {
            self.current = None;
            return Ok(());
        };
        if let Some(iterator) = self.open(index) {
            iterator.seek_for_prev(target)?;
        }
        self.skip_backward()
    }
    fn seek_to_first(&mut self) -> Result<()> {
        if let Some(iterator) = self.open(0) {
            iterator.seek_to_first()?;
        }
        self.skip_forward()
    }
    fn seek_to_last(&mut self) -> Result<()> {
        match self.tables.len().checked_sub(1) {
            Some(last) => {
                if let Some(iterator) = self.open(last) {
                    iterator.seek_to_last()?;
                }
                self.skip_backward()
            }
            None => {
                self.current = None;
                Ok(())
            }
        }
    }
    fn next(&mut self) -> Result<()> {
        if let Some(iterator) = self.current.as_mut() {
            iterator.next()?;
        }
        self.skip_forward()
    }
    /// Per table, by its largest sequence number: a table whose entries from `target` on are
    /// all hidden is passed over without being opened.
    fn seek_past(&mut self, target: &[u8], tombstones: &Fragments) -> Result<()> {
        if tombstones.is_empty() {
            return self.seek(target);
        }
        let mut index = self.tables.partition_point(|handle| {
            compare_internal_keys(&handle.metadata.largest, target).is_lt()
        });
        while let Some(handle) = self.tables.get(index) {
            let moved = target_past(target, tombstones, handle.metadata.largest_sequence);
            if compare_internal_keys(&moved, &handle.metadata.largest).is_le() {
                if let Some(iterator) = self.open(index) {
                    iterator.seek(&moved)?;
                }
                return self.skip_forward();
            }
            // Everything of this table from `target` on is hidden.
            index += 1;
        }
        self.index = self.tables.len();
        self.current = None;
        Ok(())
    }
    /// The mirror of [`seek_past`](Self::seek_past).
    fn seek_for_prev_past(&mut self, target: &[u8], tombstones: &Fragments) -> Result<()> {
        if tombstones.is_empty() {
            return self.seek_for_prev(target);
        }
        let after = self.tables.partition_point(|handle| {
            compare_internal_keys(&handle.metadata.smallest, target).is_le()
        });
        // From the last table that may hold `target` down to the first.
        for index in (0..after).rev() {
            let handle = &self.tables[index];
            let moved = target_before(target, tombstones, handle.metadata.largest_sequence);
            if compare_internal_keys(&moved, &handle.metadata.smallest).is_ge() {
                if let Some(iterator) = self.open(index) {
                    iterator.seek_for_prev(&moved)?;
                }
                return self.skip_backward();
            }
            // Everything of this table from `target` down is hidden.
        }
        self.index = 0;
        self.current = None;
        Ok(())
    }
    /// Skips whole tables by their manifest records (key range, largest sequence number)
    /// without opening them, then seeks inside the table where `target` falls.
    fn skip_older_forward(&mut self, target: &[u8], tombstone: SequenceNumber) -> Result<()> {
        if !self.valid() || compare_internal_keys(self.key(), target).is_ge() {
            return Ok(());
        }
        let mut index = self.index;
        while let Some(handle) = self.tables.get(index) {
            if handle.metadata.largest_sequence >= tombstone {
                // Entries of this table may be newer: stand at its first one the skip reaches.
                if index != self.index
                    && let Some(iterator) = self.open(index)
                {
                    iterator.seek_to_first()?;
                }
                return self.skip_forward();
            }
            if compare_internal_keys(&handle.metadata.largest, target).is_lt() {
                index += 1;
                continue;
            }
            if let Some(iterator) = self.open(index) {
                iterator.seek(target)?;
            }
            return self.skip_forward();
        }
        self.index = self.tables.len();
        self.current = None;
        Ok(())
    }
    /// The mirror of [`skip_older_forward`](Self::skip_older_forward), by smallest keys.
    fn skip_older_backward(&mut self, target: &[u8], tombstone: SequenceNumber) -> Result<()> {
        if !self.valid() || compare_internal_keys(self.key(), target).is_le() {
            return Ok(());
        }
        let mut index = self.index;
        while let Some(handle) = self.tables.get(index) {
            if handle.metadata.largest_sequence >= tombstone {
                if index != self.index
                    && let Some(iterator) = self.open(index)
                {
                    iterator.seek_to_last()?;
                }
                return self.skip_backward();
            }
            if compare_internal_keys(&handle.metadata.smallest, target).is_gt() {
                match index.checked_sub(1) {
                    Some(previous) => {
                        index = previous;
                        continue;
                    }
                    None => break,
                }
            }
            if let Some(iterator) = self.open(index) {
                iterator.seek_for_prev(target)?;
            }
            return self.skip_backward();
        }
        self.index = 0;
        self.current = None;
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        if let Some(iterator) = self.current.as_mut() {
            iterator.prev()?;
        }
        self.skip_backward()
    }
}

/// The tables of a sorted, disjoint level that overlap `bounds`: a contiguous run of them.
pub(crate) fn overlapping_tables<'a>(
    level: &'a [Arc<TableHandle>],
    bounds: &KeyBounds,
) -> &'a [Arc<TableHandle>] {
    // Skip the tables wholly below the lower bound, then keep those starting at or below the
    // upper bound.
    let start =
        level.partition_point(|handle| !bounds.is_above_lower(user_key(&handle.metadata.largest)));
    let rest = &level[start..];
    let count =
        rest.partition_point(|handle| bounds.is_below_upper(user_key(&handle.metadata.smallest)));
    &rest[..count]
}
