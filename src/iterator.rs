//! Iterators: one trait over internal keys shared by every layer (memtable, SSTable, level),
//! a merging iterator over many of them, and [`DbIterator`], the public iterator that turns
//! internal entries into the user's view at one sequence number.
//!
//! Each direction of a `DbIterator` runs its own one-way merge (forward: smallest key first;
//! backward: largest first) over the same pinned memtables and tables, so no iterator ever
//! switches direction. The two ends stop when they meet, so no key is yielded twice.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::key::{
    SequenceNumber, ValueKind, compare_internal_keys, internal_key, parse_internal_key,
};
use crate::memtable::{Memtable, MemtableEntry};
use crate::sstable::{BlockReadOptions, TableIterator};
use crate::value::Value;
use crate::version::TableHandle;

/// A key as iterators return it: an owned copy of the user key.
pub type Key = Vec<u8>;

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
}

/// The tables of one sorted, non-overlapping level as one iterator, opening each table's
/// iterator only when the cursor reaches it.
pub(crate) struct LevelIterator {
    tables: Vec<Arc<TableHandle>>,
    options: BlockReadOptions,
    index: usize,
    current: Option<TableIterator>,
}

impl LevelIterator {
    pub fn new(tables: Vec<Arc<TableHandle>>, options: BlockReadOptions) -> Self {
        LevelIterator {
            tables,
            options,
            index: 0,
            current: None,
        }
    }

    fn open(&mut self, index: usize) -> Option<&mut TableIterator> {
        self.index = index;
        self.current = self
            .tables
            .get(index)
            .map(|handle| handle.table.iter_with(self.options));
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
    fn prev(&mut self) -> Result<()> {
        if let Some(iterator) = self.current.as_mut() {
            iterator.prev()?;
        }
        self.skip_backward()
    }
}

/// Which way a merge runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// A one-way merge of many internal iterators: forward yields the smallest key among the
/// sources, backward the largest. Sources are few (memtables, level-0 tables, three levels), so
/// the current source is found by a linear scan.
pub(crate) struct MergingIterator {
    sources: Vec<Box<dyn InternalIterator>>,
    direction: Direction,
    current: Option<usize>,
}

impl MergingIterator {
    pub fn new(sources: Vec<Box<dyn InternalIterator>>) -> Self {
        MergingIterator {
            sources,
            direction: Direction::Forward,
            current: None,
        }
    }

    fn pick(&mut self) {
        let mut best: Option<usize> = None;
        for (index, source) in self.sources.iter().enumerate() {
            if !source.valid() {
                continue;
            }
            let better = match best {
                None => true,
                Some(best) => {
                    let order = compare_internal_keys(source.key(), self.sources[best].key());
                    match self.direction {
                        Direction::Forward => order == Ordering::Less,
                        Direction::Backward => order == Ordering::Greater,
                    }
                }
            };
            if better {
                best = Some(index);
            }
        }
        self.current = best;
    }

    pub fn valid(&self) -> bool {
        self.current.is_some()
    }

    pub fn key(&self) -> &[u8] {
        self.current.map_or(&[], |index| self.sources[index].key())
    }

    pub fn value(&self) -> Value {
        self.current.map_or_else(
            || Value::from(Vec::new()),
            |index| self.sources[index].value(),
        )
    }

    /// Positions every source for a forward walk from `target` (or the start).
    pub fn seek_forward(&mut self, target: Option<&[u8]>) -> Result<()> {
        self.direction = Direction::Forward;
        for source in &mut self.sources {
            match target {
                Some(target) => source.seek(target)?,
                None => source.seek_to_first()?,
            }
        }
        self.pick();
        Ok(())
    }

    /// Positions every source for a backward walk from `target` (or the end).
    pub fn seek_backward(&mut self, target: Option<&[u8]>) -> Result<()> {
        self.direction = Direction::Backward;
        for source in &mut self.sources {
            match target {
                Some(target) => source.seek_for_prev(target)?,
                None => source.seek_to_last()?,
            }
        }
        self.pick();
        Ok(())
    }

    /// Advances in the merge's direction.
    pub fn advance(&mut self) -> Result<()> {
        if let Some(index) = self.current {
            match self.direction {
                Direction::Forward => self.sources[index].next()?,
                Direction::Backward => self.sources[index].prev()?,
            }
        }
        self.pick();
        Ok(())
    }
}

/// Builds the merging iterators of one consistent view (memtables and tables of a version).
pub(crate) type SourceFactory = Box<dyn Fn() -> Vec<Box<dyn InternalIterator>> + Send>;

/// One end of a [`DbIterator`].
struct End {
    merge: Option<MergingIterator>,
    /// The last user key this end yielded.
    last_yielded: Option<Vec<u8>>,
}

/// An iterator over the database's keys and values in key order, as of one sequence number,
/// between optional bounds. Iterates forward with `next` and backward with `next_back`; the two
/// ends never yield the same key.
///
/// Items are `Result`s: after an error (a damaged block), the iterator ends.
pub struct DbIterator {
    sources: SourceFactory,
    sequence: SequenceNumber,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    front: End,
    back: End,
    finished: bool,
    /// An error to yield before anything else.
    pending_error: Option<Error>,
}

impl DbIterator {
    pub(crate) fn new(
        sources: SourceFactory,
        sequence: SequenceNumber,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> Self {
        DbIterator {
            sources,
            sequence,
            lower,
            upper,
            front: End {
                merge: None,
                last_yielded: None,
            },
            back: End {
                merge: None,
                last_yielded: None,
            },
            finished: false,
            pending_error: None,
        }
    }

    fn below_upper(&self, key: &[u8]) -> bool {
        match &self.upper {
            Bound::Included(upper) => key <= upper.as_slice(),
            Bound::Excluded(upper) => key < upper.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn above_lower(&self, key: &[u8]) -> bool {
        match &self.lower {
            Bound::Included(lower) => key >= lower.as_slice(),
            Bound::Excluded(lower) => key > lower.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn start_front(&mut self) -> Result<MergingIterator> {
        let mut merge = MergingIterator::new((self.sources)());
        let target = match &self.lower {
            Bound::Included(lower) | Bound::Excluded(lower) => {
                Some(internal_key(lower, SequenceNumber::MAX, ValueKind::Value))
            }
            Bound::Unbounded => None,
        };
        merge.seek_forward(target.as_deref())?;
        Ok(merge)
    }

    fn start_back(&mut self) -> Result<MergingIterator> {
        let mut merge = MergingIterator::new((self.sources)());
        let target = match &self.upper {
            // Every entry of `upper` sorts at or before (upper, 0, tombstone).
            Bound::Included(upper) => {
                Some(internal_key(upper, SequenceNumber(0), ValueKind::Tombstone))
            }
            // Every entry of a smaller key sorts before (upper, MAX): no entry has sequence MAX.
            Bound::Excluded(upper) => {
                Some(internal_key(upper, SequenceNumber::MAX, ValueKind::Value))
            }
            Bound::Unbounded => None,
        };
        merge.seek_backward(target.as_deref())?;
        Ok(merge)
    }

    /// The next visible (key, value) walking forward, or `None` at the end.
    fn step_forward(&mut self, merge: &mut MergingIterator) -> Result<Option<(Key, Value)>> {
        let mut skip_key: Option<Vec<u8>> = None;
        while merge.valid() {
            let parsed = parse_internal_key(merge.key())
                .map_err(|reason| Error::corruption("<iterator>", 0, reason))?;
            if parsed.sequence > self.sequence
                || skip_key.as_deref() == Some(parsed.user_key)
                || self.front.last_yielded.as_deref() == Some(parsed.user_key)
                || !self.above_lower(parsed.user_key)
            {
                merge.advance()?;
                continue;
            }
            if !self.below_upper(parsed.user_key) {
                return Ok(None);
            }
            let key = parsed.user_key.to_vec();
            match parsed.kind {
                ValueKind::Tombstone => {
                    skip_key = Some(key);
                    merge.advance()?;
                }
                ValueKind::Value => {
                    let value = merge.value();
                    merge.advance()?;
                    return Ok(Some((key, value)));
                }
            }
        }
        Ok(None)
    }

    /// The next visible (key, value) walking backward, or `None` at the start.
    fn step_backward(&mut self, merge: &mut MergingIterator) -> Result<Option<(Key, Value)>> {
        // Walking backward, a key's versions come oldest first: remember the newest visible one
        // and yield it when the walk moves on to a smaller key.
        let mut group: Option<(Vec<u8>, Option<Value>)> = None;
        while merge.valid() {
            let parsed = parse_internal_key(merge.key())
                .map_err(|reason| Error::corruption("<iterator>", 0, reason))?;
            if !self.above_lower(parsed.user_key) {
                break;
            }
            if let Some((group_key, newest)) = &group
                && group_key.as_slice() != parsed.user_key
            {
                if let Some(value) = newest {
                    return Ok(Some((group_key.clone(), value.clone())));
                }
                group = None;
            }
            if !self.below_upper(parsed.user_key) {
                merge.advance()?;
                continue;
            }
            let entry = group.get_or_insert_with(|| (parsed.user_key.to_vec(), None));
            if parsed.sequence <= self.sequence {
                entry.1 = match parsed.kind {
                    ValueKind::Value => Some(merge.value()),
                    ValueKind::Tombstone => None,
                };
            }
            merge.advance()?;
        }
        Ok(group.and_then(|(key, newest)| newest.map(|value| (key, value))))
    }

    /// An iterator that yields `error` once and ends (the database was closed, say).
    pub(crate) fn failed(error: Error) -> Self {
        let mut iterator = DbIterator::new(
            Box::new(Vec::new),
            SequenceNumber(0),
            Bound::Unbounded,
            Bound::Unbounded,
        );
        iterator.pending_error = Some(error);
        iterator
    }

    fn finish_with(&mut self, error: Error) -> Option<Result<(Key, Value)>> {
        self.finished = true;
        Some(Err(error))
    }
}

impl DbIterator {
    /// One step from the front (`Direction::Forward`) or the back: start that end's merge if
    /// needed, find its next visible entry, and end the iteration where the two ends meet.
    fn step(&mut self, direction: Direction) -> Option<Result<(Key, Value)>> {
        if let Some(error) = self.pending_error.take() {
            return self.finish_with(error);
        }
        if self.finished {
            return None;
        }
        let forward = direction == Direction::Forward;
        let taken = if forward {
            self.front.merge.take()
        } else {
            self.back.merge.take()
        };
        let mut merge = match taken {
            Some(merge) => merge,
            None => match if forward {
                self.start_front()
            } else {
                self.start_back()
            } {
                Ok(merge) => merge,
                Err(error) => return self.finish_with(error),
            },
        };
        let step = if forward {
            self.step_forward(&mut merge)
        } else {
            self.step_backward(&mut merge)
        };
        let (this_end, other_end) = if forward {
            (&mut self.front, &self.back)
        } else {
            (&mut self.back, &self.front)
        };
        this_end.merge = Some(merge);
        let (key, value) = match step {
            Err(error) => return self.finish_with(error),
            Ok(None) => {
                self.finished = true;
                return None;
            }
            Ok(Some(entry)) => entry,
        };
        // The other end already yielded this key or one beyond it: the ends have met.
        let met = other_end.last_yielded.as_ref().is_some_and(|other| {
            if forward {
                key >= *other
            } else {
                key <= *other
            }
        });
        if met {
            self.finished = true;
            return None;
        }
        this_end.last_yielded = Some(key.clone());
        Some(Ok((key, value)))
    }
}

impl Iterator for DbIterator {
    type Item = Result<(Key, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(Direction::Forward)
    }
}

impl DoubleEndedIterator for DbIterator {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(Direction::Backward)
    }
}

/// The smallest key greater than every key starting with `prefix`, if there is one.
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut successor = prefix.to_vec();
    while let Some(last) = successor.pop() {
        if last < u8::MAX {
            successor.push(last + 1);
            return Some(successor);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successors() {
        assert_eq!(prefix_successor(b"abc"), Some(b"abd".to_vec()));
        assert_eq!(prefix_successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    fn memtable_view(entries: &[(&[u8], u64, ValueKind, &[u8])]) -> SourceFactory {
        let memtable = Arc::new(Memtable::new());
        for (key, sequence, kind, value) in entries {
            memtable.insert(key, SequenceNumber(*sequence), *kind, value);
        }
        Box::new(move || {
            vec![Box::new(MemtableIterator::new(memtable.clone())) as Box<dyn InternalIterator>]
        })
    }

    fn collect(iterator: impl Iterator<Item = Result<(Key, Value)>>) -> Vec<(Vec<u8>, Vec<u8>)> {
        iterator
            .map(|item| item.map(|(key, value)| (key, value.to_vec())).unwrap())
            .collect()
    }

    #[test]
    fn versions_tombstones_and_snapshots_both_ways() {
        use ValueKind::{Tombstone, Value as Put};
        let entries: &[(&[u8], u64, ValueKind, &[u8])] = &[
            (b"a", 1, Put, b"a1"),
            (b"a", 4, Put, b"a4"),
            (b"b", 2, Put, b"b2"),
            (b"b", 5, Tombstone, b""),
            (b"c", 3, Put, b"c3"),
            (b"d", 6, Put, b"d6"),
        ];
        let expected_at = |sequence: u64| -> Vec<(Vec<u8>, Vec<u8>)> {
            let mut model = std::collections::BTreeMap::new();
            for (key, entry_sequence, kind, value) in entries {
                if *entry_sequence <= sequence {
                    match kind {
                        Put => model.insert(key.to_vec(), value.to_vec()),
                        Tombstone => model.remove(*key),
                    };
                }
            }
            model.into_iter().collect()
        };
        for sequence in 0..=7 {
            let forward = DbIterator::new(
                memtable_view(entries),
                SequenceNumber(sequence),
                Bound::Unbounded,
                Bound::Unbounded,
            );
            assert_eq!(
                collect(forward),
                expected_at(sequence),
                "forward at {sequence}"
            );
            let backward = DbIterator::new(
                memtable_view(entries),
                SequenceNumber(sequence),
                Bound::Unbounded,
                Bound::Unbounded,
            );
            let mut reversed = collect(backward.rev());
            reversed.reverse();
            assert_eq!(reversed, expected_at(sequence), "backward at {sequence}");
        }
    }

    #[test]
    fn ends_meet_without_repeating_and_bounds_hold() {
        let entries: Vec<(Vec<u8>, u64)> = (0..20u64)
            .map(|index| (format!("k{index:02}").into_bytes(), index + 1))
            .collect();
        let borrowed: Vec<(&[u8], u64, ValueKind, &[u8])> = entries
            .iter()
            .map(|(key, sequence)| (key.as_slice(), *sequence, ValueKind::Value, key.as_slice()))
            .collect();
        let mut iterator = DbIterator::new(
            memtable_view(&borrowed),
            SequenceNumber(100),
            Bound::Unbounded,
            Bound::Unbounded,
        );
        let mut seen = Vec::new();
        loop {
            let front = iterator.next();
            let back = iterator.next_back();
            if front.is_none() && back.is_none() {
                break;
            }
            seen.extend(front.map(|item| item.unwrap().0));
            seen.extend(back.map(|item| item.unwrap().0));
        }
        seen.sort();
        assert_eq!(
            seen,
            entries
                .iter()
                .map(|(key, _)| key.clone())
                .collect::<Vec<_>>()
        );

        let bounded = DbIterator::new(
            memtable_view(&borrowed),
            SequenceNumber(100),
            Bound::Excluded(b"k03".to_vec()),
            Bound::Included(b"k07".to_vec()),
        );
        let keys: Vec<_> = collect(bounded).into_iter().map(|(key, _)| key).collect();
        assert_eq!(
            keys,
            vec![
                b"k04".to_vec(),
                b"k05".to_vec(),
                b"k06".to_vec(),
                b"k07".to_vec()
            ]
        );
        let bounded_back = DbIterator::new(
            memtable_view(&borrowed),
            SequenceNumber(100),
            Bound::Included(b"k03".to_vec()),
            Bound::Excluded(b"k07".to_vec()),
        );
        let keys: Vec<_> = collect(bounded_back.rev())
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(
            keys,
            vec![
                b"k06".to_vec(),
                b"k05".to_vec(),
                b"k04".to_vec(),
                b"k03".to_vec()
            ]
        );
    }
}
