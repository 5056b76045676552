//! [`DbIterator`], the public iterator: it turns internal entries into the user's view at one
//! sequence number (the newest visible version of each key, tombstones hidden, bounds applied).
//!
//! Each direction of a `DbIterator` runs its own one-way merge (forward: smallest key first;
//! backward: largest first) over the same pinned memtables and tables, so no iterator ever
//! switches direction. Each end has a position: the front yields keys at or after its position
//! (its seek target) or after it (the last key it yielded), the back keys at or before or
//! before its own; neither end yields a key beyond the other's position, so the two ends stop
//! when they meet and no key is yielded twice. A seek moves one end's position and restarts
//! that end's merge there, over the same sources (same sequence number, same files); the
//! other end keeps its position and its merge.
//!
//! Range tombstones: the iterator holds those it sees (from every source, fragmented, each
//! piece with its newest tombstone at or below the iterator's sequence number). A key whose
//! newest visible version is older than the piece holding it is deleted. Reading past a deleted
//! range costs no more than the entries newer than its tombstone: the merge moves every source
//! whose entries are all older than the tombstone (a memtable, a table, the tables of a level,
//! by their largest sequence numbers) to the end of the piece in one seek, instead of stepping
//! over each entry it hides (`MergingIterator::skip_older`).
//!
//! The bounds (the range and the read options' bounds, intersected) go down to the sources:
//! tables wholly outside them are left out of the merge and no table iterator reads a block
//! wholly outside them (`read_view.rs`, `iterator.rs`).

use std::ops::Bound;

use crate::error::{Error, Result};
use crate::iterator::InternalIterator;
use std::cell::Cell;
use std::sync::Arc;

use crate::key::{
    SequenceNumber, ValueKind, internal_key, parse_internal_key, range_end_key, range_start_key,
};
use crate::key_range::{KeyBounds, as_slice, is_above, is_below, tighter_lower, tighter_upper};
use crate::merge_operator::{SharedMergeOperator, merge_values};
use crate::merging_iterator::{Direction, MergingIterator};
use crate::range_tombstone::{Fragment, Fragments};
use crate::value::Value;

/// A key as iterators return it: an owned copy of the user key.
///
/// ```
/// use shaledb::{Db, Key, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"k", b"v")?;
/// let keys: Vec<Key> = db.iter().map(|item| item.map(|(key, _)| key)).collect::<Result<_, _>>()?;
/// assert_eq!(keys, [b"k".to_vec()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Key = Vec<u8>;

/// Builds the merging iterators of one consistent view (memtables and tables of a version).
pub(crate) type SourceFactory = Box<dyn Fn() -> Vec<Box<dyn InternalIterator>> + Send>;

/// One end of a [`DbIterator`].
struct End {
    /// This end's merge, built on its first step.
    merge: Option<MergingIterator>,
    /// Whether `merge` is positioned for the next step: false before the first step, after a
    /// seek and after an error (the next step seeks the merge to `position`).
    positioned: bool,
    /// Where this end stands (see the module documentation): `Unbounded` until it yields or
    /// seeks, `Excluded(key)` after yielding `key`, `Included(target)` after a seek.
    position: Bound<Vec<u8>>,
}

impl End {
    fn new() -> Self {
        End {
            merge: None,
            positioned: false,
            position: Bound::Unbounded,
        }
    }
}

/// An iterator over the database's keys and values in key order, as of one sequence number,
/// between optional bounds. Iterates forward with `next` and backward with `next_back`; the two
/// ends never yield the same key. [`seek`](Self::seek) and [`seek_back`](Self::seek_back) move
/// one end without building a new iterator.
///
/// Items are `Result`s: after an error (a damaged block), the iterator ends, until a seek
/// starts it again.
///
/// ```
/// use shaledb::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// for key in [b"a", b"b", b"c", b"d"] {
///     db.put(key, b"")?;
/// }
/// let mut iterator = db.iter();
/// let first = iterator.next().transpose()?.map(|(key, _)| key);
/// let last = iterator.next_back().transpose()?.map(|(key, _)| key);
/// assert_eq!((first, last), (Some(b"a".to_vec()), Some(b"d".to_vec())));
/// db.put(b"bb", b"")?; // not seen: the iterator reads the state it was created with
/// let middle: Vec<_> = iterator.map(|item| item.map(|(key, _)| key)).collect::<Result<_, _>>()?;
/// assert_eq!(middle, vec![b"b".to_vec(), b"c".to_vec()]); // the two ends met
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DbIterator {
    sources: SourceFactory,
    sequence: SequenceNumber,
    bounds: KeyBounds,
    front: End,
    back: End,
    finished: bool,
    /// An error to yield before anything else.
    pending_error: Option<Error>,
    /// The range tombstones this iterator sees (see the module documentation).
    tombstones: Arc<Fragments>,
    /// Where each end last found its key among the tombstones' pieces
    /// ([`Fragments::find_from`]).
    front_piece: Cell<usize>,
    back_piece: Cell<usize>,
    /// How the keyspace combines merge operands.
    merge_operator: Option<SharedMergeOperator>,
}

/// The versions of one key seen walking backward (oldest first): the visible ones from the
/// newest put or tombstone so far on (a put or tombstone makes the older ones irrelevant; the
/// merge operands above it are combined with it), oldest first.
struct Group {
    key: Vec<u8>,
    versions: Vec<(SequenceNumber, ValueKind, Value)>,
}

impl DbIterator {
    pub(crate) fn new(sources: SourceFactory, sequence: SequenceNumber, bounds: KeyBounds) -> Self {
        DbIterator {
            sources,
            sequence,
            bounds,
            front: End::new(),
            back: End::new(),
            finished: false,
            pending_error: None,
            tombstones: Fragments::shared_empty(),
            front_piece: Cell::new(0),
            back_piece: Cell::new(0),
            merge_operator: None,
        }
    }

    /// The iterator, combining merge operands with `operator`.
    pub(crate) fn with_merge_operator(mut self, operator: Option<SharedMergeOperator>) -> Self {
        self.merge_operator = operator;
        self
    }

    /// The iterator, seeing `tombstones` (fragmented, visible at its sequence number).
    pub(crate) fn with_range_tombstones(mut self, tombstones: Arc<Fragments>) -> Self {
        self.tombstones = tombstones;
        self
    }

    /// The piece of range tombstones hiding the version of `key` at `sequence`, if any, as
    /// the end walking `direction` sees it.
    fn hiding_piece(
        &self,
        direction: Direction,
        key: &[u8],
        sequence: SequenceNumber,
    ) -> Option<&Fragment> {
        if self.tombstones.is_empty() {
            return None;
        }
        let hint = match direction {
            Direction::Forward => &self.front_piece,
            Direction::Backward => &self.back_piece,
        };
        let mut index = hint.get();
        let piece = self.tombstones.find_from(&mut index, key);
        hint.set(index);
        piece.filter(|piece| piece.hides(sequence))
    }

    /// Moves the front end to `key`: the next [`next`](Iterator::next) yields the first key at
    /// or after `key` — within the iterator's range, and before the back end's position (the
    /// last key `next_back` yielded, or its [`seek_back`](Self::seek_back) target), since the
    /// two ends stop where they meet. The front may move backward as well as forward, and
    /// yields again keys it yielded before. The back end is not moved.
    ///
    /// The iterator keeps reading the state it was created with (its snapshot, its files): a
    /// seek only repositions the front end's merge over them, when `next` is next called. A seek
    /// also starts again an iterator that had ended (at the end of its range, where the ends
    /// met, or after an error).
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// for key in [b"a", b"c", b"e", b"g"] {
    ///     db.put(key, b"")?;
    /// }
    /// let mut iterator = db.iter();
    /// iterator.seek(b"b");
    /// assert_eq!(iterator.next().transpose()?.map(|(key, _)| key), Some(b"c".to_vec()));
    /// assert_eq!(iterator.next_back().transpose()?.map(|(key, _)| key), Some(b"g".to_vec()));
    /// iterator.seek(b"e");
    /// let rest: Vec<_> = iterator.map(|item| item.map(|(key, _)| key)).collect::<Result<_, _>>()?;
    /// assert_eq!(rest, vec![b"e".to_vec()]); // "g" was yielded by the back end
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seek(&mut self, key: &[u8]) {
        self.front.position = Bound::Included(key.to_vec());
        self.front.positioned = false;
        self.finished = false;
    }

    /// Moves the back end to `key` (RocksDB's `SeekForPrev`): the next
    /// [`next_back`](DoubleEndedIterator::next_back) yields the last key at or before `key` —
    /// within the iterator's range, and after the front end's position (the last key `next`
    /// yielded, or its [`seek`](Self::seek) target). The front end is not moved. Otherwise as
    /// [`seek`](Self::seek).
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// for key in [b"a", b"c", b"e", b"g"] {
    ///     db.put(key, b"")?;
    /// }
    /// let mut iterator = db.range(b"b".as_slice()..);
    /// iterator.seek_back(b"f");
    /// let keys: Vec<_> = iterator.by_ref().rev().map(|item| item.map(|(key, _)| key)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![b"e".to_vec(), b"c".to_vec()]); // "a" is outside the range
    /// iterator.seek_back(b"z");
    /// assert_eq!(iterator.next_back().transpose()?.map(|(key, _)| key), Some(b"g".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seek_back(&mut self, key: &[u8]) {
        self.back.position = Bound::Included(key.to_vec());
        self.back.positioned = false;
        self.finished = false;
    }

    /// Whether the front end may yield `key`: above the lower bound and its own position, and
    /// below the upper bound and the back end's position.
    fn front_may_start_at(&self, key: &[u8]) -> bool {
        self.bounds.is_above_lower(key) && is_above(&self.front.position, key)
    }

    fn front_may_reach(&self, key: &[u8]) -> bool {
        self.bounds.is_below_upper(key) && is_below(&self.back.position, key)
    }

    fn back_may_start_at(&self, key: &[u8]) -> bool {
        self.bounds.is_below_upper(key) && is_below(&self.back.position, key)
    }

    fn back_may_reach(&self, key: &[u8]) -> bool {
        self.bounds.is_above_lower(key) && is_above(&self.front.position, key)
    }

    /// Seeks `merge` to where the front end starts: its position or the lower bound, the
    /// tighter of the two.
    fn position_front(&self, merge: &mut MergingIterator) -> Result<()> {
        let start = tighter_lower(as_slice(&self.bounds.lower), as_slice(&self.front.position));
        let target = match start {
            Bound::Included(key) | Bound::Excluded(key) => {
                Some(internal_key(key, SequenceNumber::MAX, ValueKind::Value))
            }
            Bound::Unbounded => None,
        };
        match target {
            Some(target) if !self.tombstones.is_empty() => {
                merge.seek_forward_past(&target, &self.tombstones)
            }
            _ => merge.seek_forward(target.as_deref()),
        }
    }

    /// Seeks `merge` to where the back end starts: its position or the upper bound, the tighter
    /// of the two.
    fn position_back(&self, merge: &mut MergingIterator) -> Result<()> {
        let start = tighter_upper(as_slice(&self.bounds.upper), as_slice(&self.back.position));
        let target = match start {
            // Every entry of `key` sorts at or before (key, 0, tombstone).
            Bound::Included(key) => {
                Some(internal_key(key, SequenceNumber(0), ValueKind::Tombstone))
            }
            // Every entry of a smaller key sorts before (key, MAX): no entry has sequence MAX.
            Bound::Excluded(key) => Some(internal_key(key, SequenceNumber::MAX, ValueKind::Value)),
            Bound::Unbounded => None,
        };
        match target {
            Some(target) if !self.tombstones.is_empty() => {
                merge.seek_backward_past(&target, &self.tombstones)
            }
            _ => merge.seek_backward(target.as_deref()),
        }
    }

    /// The next visible (key, value) walking forward, or `None` at the end.
    fn step_forward(&self, merge: &mut MergingIterator) -> Result<Option<(Key, Value)>> {
        let mut skip_key: Option<Vec<u8>> = None;
        while merge.valid() {
            let parsed = parse_internal_key(merge.key())
                .map_err(|reason| Error::corruption("<iterator>", 0, reason))?;
            if parsed.sequence > self.sequence
                || skip_key.as_deref() == Some(parsed.user_key)
                || !self.front_may_start_at(parsed.user_key)
            {
                merge.advance()?;
                continue;
            }
            // Stops on the first visible entry of a key, so that a later step that may go
            // further (the back end moved) resumes here.
            if !self.front_may_reach(parsed.user_key) {
                return Ok(None);
            }
            let key = parsed.user_key.to_vec();
            if let Some(piece) =
                self.hiding_piece(Direction::Forward, parsed.user_key, parsed.sequence)
            {
                // Deleted by a range tombstone: step past it, and move the sources whose
                // entries are all older than the tombstone to the end of its piece.
                if let Some(tombstone) = piece.newest() {
                    merge.skip_older(&range_end_key(&piece.end), tombstone)?;
                }
                skip_key = Some(key);
                continue;
            }
            match parsed.kind {
                ValueKind::Tombstone => {
                    skip_key = Some(key);
                    merge.advance()?;
                }
                // The merge stays on the entry: the next step skips it (its key is this end's
                // position then), so that a step reads no further than it yields.
                ValueKind::Value => return Ok(Some((key, merge.value()))),
                ValueKind::Merge => {
                    let value = self.merge_forward(&key, merge)?;
                    return Ok(Some((key, value)));
                }
            }
        }
        Ok(None)
    }

    /// The value of `key`, whose newest visible version is the merge operand `merge` is on:
    /// the operands from there down to the first put, tombstone or range tombstone hiding a
    /// version, combined. Leaves `merge` on that put or tombstone, or past the key (the next
    /// step skips the rest of the key).
    fn merge_forward(&self, key: &[u8], merge: &mut MergingIterator) -> Result<Value> {
        let mut operands = vec![merge.value()];
        let mut base = None;
        merge.advance()?;
        while merge.valid() {
            let parsed = parse_internal_key(merge.key())
                .map_err(|reason| Error::corruption("<iterator>", 0, reason))?;
            // Every later version of the key is older than the first, so visible too.
            if parsed.user_key != key
                || self
                    .hiding_piece(Direction::Forward, key, parsed.sequence)
                    .is_some()
            {
                break;
            }
            match parsed.kind {
                ValueKind::Merge => operands.push(merge.value()),
                ValueKind::Value => {
                    base = Some(merge.value());
                    break;
                }
                ValueKind::Tombstone => break,
            }
            merge.advance()?;
        }
        merge_values(
            self.merge_operator.as_ref(),
            key,
            base.as_deref(),
            &operands,
        )
    }

    /// The next visible (key, value) walking backward, or `None` at the start.
    fn step_backward(&self, merge: &mut MergingIterator) -> Result<Option<(Key, Value)>> {
        // Walking backward, a key's versions come oldest first: remember the newest visible one
        // and yield it when the walk moves on to a smaller key.
        let mut group: Option<Group> = None;
        while merge.valid() {
            let parsed = parse_internal_key(merge.key())
                .map_err(|reason| Error::corruption("<iterator>", 0, reason))?;
            // Stops on the first (oldest) entry of a key, so that a later step resumes here.
            if !self.back_may_reach(parsed.user_key) {
                break;
            }
            if let Some(done) = group.take_if(|group| group.key.as_slice() != parsed.user_key) {
                if let Some(item) = self.resolve_backward(done, merge)? {
                    return Ok(Some(item));
                }
                // The merge may have moved (past a deleted range): read its entry again.
                continue;
            }
            if !self.back_may_start_at(parsed.user_key) {
                merge.advance()?;
                continue;
            }
            let entry = group.get_or_insert_with(|| Group {
                key: parsed.user_key.to_vec(),
                versions: Vec::new(),
            });
            if parsed.sequence <= self.sequence {
                let value = match parsed.kind {
                    ValueKind::Value | ValueKind::Merge => merge.value(),
                    ValueKind::Tombstone => Value::from(Vec::new()),
                };
                if parsed.kind != ValueKind::Merge {
                    entry.versions.clear();
                }
                entry.versions.push((parsed.sequence, parsed.kind, value));
            }
            merge.advance()?;
        }
        match group {
            Some(group) => self.resolve_backward(group, merge),
            None => Ok(None),
        }
    }

    /// What a finished group yields walking backward: its newest visible version, unless that
    /// is a tombstone or hidden by a range tombstone (then the sources whose entries are all
    /// older than the range tombstone move below its piece).
    fn resolve_backward(
        &self,
        group: Group,
        merge: &mut MergingIterator,
    ) -> Result<Option<(Key, Value)>> {
        let Some(&(sequence, kind, _)) = group.versions.last() else {
            return Ok(None);
        };
        if let Some(piece) = self.hiding_piece(Direction::Backward, &group.key, sequence) {
            if let Some(tombstone) = piece.newest() {
                merge.skip_older(&range_start_key(&piece.start), tombstone)?;
            }
            return Ok(None);
        }
        let Group { key, mut versions } = group;
        match kind {
            ValueKind::Tombstone => return Ok(None),
            ValueKind::Value => return Ok(versions.pop().map(|(_, _, value)| (key, value))),
            ValueKind::Merge => {}
        }
        // Newest first: the operands down to a put, a tombstone or a version a range
        // tombstone hides.
        let mut operands = Vec::new();
        let mut base = None;
        for (sequence, kind, value) in versions.into_iter().rev() {
            if self
                .hiding_piece(Direction::Backward, &key, sequence)
                .is_some()
            {
                break;
            }
            match kind {
                ValueKind::Merge => operands.push(value),
                ValueKind::Value => {
                    base = Some(value);
                    break;
                }
                ValueKind::Tombstone => break,
            }
        }
        let value = merge_values(
            self.merge_operator.as_ref(),
            &key,
            base.as_deref(),
            &operands,
        )?;
        Ok(Some((key, value)))
    }

    /// An iterator that yields `error` once and ends (the database was closed, say).
    pub(crate) fn failed(error: Error) -> Self {
        let mut iterator =
            DbIterator::new(Box::new(Vec::new), SequenceNumber(0), KeyBounds::UNBOUNDED);
        iterator.pending_error = Some(error);
        iterator
    }

    /// Ends the iteration with `error`. The merges may have lost a source to the error (a
    /// table iterator is invalid after one), so either end seeks its merge again before it
    /// steps again.
    fn finish_with(&mut self, error: Error) -> Option<Result<(Key, Value)>> {
        self.finished = true;
        self.front.positioned = false;
        self.back.positioned = false;
        Some(Err(error))
    }

    fn end_mut(&mut self, direction: Direction) -> &mut End {
        match direction {
            Direction::Forward => &mut self.front,
            Direction::Backward => &mut self.back,
        }
    }

    /// Positions `merge` for the end walking `direction` if it is not, then finds that end's
    /// next visible entry.
    fn step_end(
        &mut self,
        direction: Direction,
        merge: &mut MergingIterator,
    ) -> Result<Option<(Key, Value)>> {
        let forward = direction == Direction::Forward;
        if !self.end_mut(direction).positioned {
            if forward {
                self.position_front(merge)?;
            } else {
                self.position_back(merge)?;
            }
            self.end_mut(direction).positioned = true;
        }
        if forward {
            self.step_forward(merge)
        } else {
            self.step_backward(merge)
        }
    }

    /// One step from the front (`Direction::Forward`) or the back: build that end's merge if
    /// needed, find its next visible entry, and end the iteration where the two ends meet.
    fn step(&mut self, direction: Direction) -> Option<Result<(Key, Value)>> {
        if let Some(error) = self.pending_error.take() {
            return self.finish_with(error);
        }
        if self.finished {
            return None;
        }
        let mut merge = match self.end_mut(direction).merge.take() {
            Some(merge) => merge,
            None => MergingIterator::new((self.sources)()),
        };
        let step = self.step_end(direction, &mut merge);
        let end = self.end_mut(direction);
        end.merge = Some(merge);
        match step {
            Err(error) => self.finish_with(error),
            // The end of the range, or the other end's position: nothing is left for either
            // end until a seek.
            Ok(None) => {
                self.finished = true;
                None
            }
            Ok(Some((key, value))) => {
                end.position = Bound::Excluded(key.clone());
                Some(Ok((key, value)))
            }
        }
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
    use crate::iterator::MemtableIterator;
    use crate::memtable::Memtable;
    use std::sync::Arc;

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
                        ValueKind::Merge => unreachable!("no merges here"),
                    };
                }
            }
            model.into_iter().collect()
        };
        for sequence in 0..=7 {
            let forward = DbIterator::new(
                memtable_view(entries),
                SequenceNumber(sequence),
                KeyBounds::UNBOUNDED,
            );
            assert_eq!(
                collect(forward),
                expected_at(sequence),
                "forward at {sequence}"
            );
            let backward = DbIterator::new(
                memtable_view(entries),
                SequenceNumber(sequence),
                KeyBounds::UNBOUNDED,
            );
            let mut reversed = collect(backward.rev());
            reversed.reverse();
            assert_eq!(reversed, expected_at(sequence), "backward at {sequence}");
        }
    }

    #[test]
    fn merge_operands_combine_with_their_base_at_every_sequence_both_ways() {
        use crate::merge_operator::{CounterAdd, MergeOperator};
        use ValueKind::{Merge, Tombstone, Value as Put};
        let n = |count: i64| CounterAdd::encode(count).to_vec();
        let owned: Vec<(&[u8], u64, ValueKind, Vec<u8>)> = vec![
            (b"a", 1, Put, n(10)),
            (b"a", 2, Merge, n(1)),
            (b"a", 4, Merge, n(2)),
            (b"b", 3, Merge, n(5)), // on nothing
            (b"b", 5, Tombstone, Vec::new()),
            (b"b", 6, Merge, n(7)), // on a tombstone
            (b"c", 7, Merge, n(1)),
            (b"c", 8, Put, n(100)), // a put hides the operand below it
            (b"c", 9, Merge, n(3)),
        ];
        let entries: Vec<(&[u8], u64, ValueKind, &[u8])> = owned
            .iter()
            .map(|(key, sequence, kind, value)| (*key, *sequence, *kind, value.as_slice()))
            .collect();
        let expected_at = |sequence: u64| -> Vec<(Vec<u8>, Vec<u8>)> {
            let mut model = std::collections::BTreeMap::<Vec<u8>, Vec<u8>>::new();
            for (key, entry_sequence, kind, value) in &entries {
                if *entry_sequence > sequence {
                    continue;
                }
                match kind {
                    Put => {
                        model.insert(key.to_vec(), value.to_vec());
                    }
                    Tombstone => {
                        model.remove(*key);
                    }
                    Merge => {
                        let merged = CounterAdd
                            .full_merge(key, model.get(*key).map(Vec::as_slice), &[value])
                            .unwrap();
                        model.insert(key.to_vec(), merged);
                    }
                }
            }
            model.into_iter().collect()
        };
        let operator: crate::merge_operator::SharedMergeOperator = Arc::new(CounterAdd);
        for sequence in 0..=10 {
            let iterator = || {
                DbIterator::new(
                    memtable_view(&entries),
                    SequenceNumber(sequence),
                    KeyBounds::UNBOUNDED,
                )
                .with_merge_operator(Some(Arc::clone(&operator)))
            };
            assert_eq!(
                collect(iterator()),
                expected_at(sequence),
                "forward at {sequence}"
            );
            let mut reversed = collect(iterator().rev());
            reversed.reverse();
            assert_eq!(reversed, expected_at(sequence), "backward at {sequence}");
        }
        // Without an operator, a key holding operands is an error, not a value.
        let mut without = DbIterator::new(
            memtable_view(&entries),
            SequenceNumber(10),
            KeyBounds::UNBOUNDED,
        );
        assert!(matches!(without.next(), Some(Err(Error::Merge { .. }))));
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
            KeyBounds::UNBOUNDED,
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
            KeyBounds {
                lower: Bound::Excluded(b"k03".to_vec()),
                upper: Bound::Included(b"k07".to_vec()),
            },
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
            KeyBounds {
                lower: Bound::Included(b"k03".to_vec()),
                upper: Bound::Excluded(b"k07".to_vec()),
            },
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
