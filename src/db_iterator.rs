//! [`DbIterator`], the public iterator: it turns internal entries into the user's view at one
//! sequence number (the newest visible version of each key, tombstones hidden, bounds applied).
//!
//! Each direction of a `DbIterator` runs its own one-way merge (forward: smallest key first;
//! backward: largest first) over the same pinned memtables and tables, so no iterator ever
//! switches direction. The two ends stop when they meet, so no key is yielded twice.

use std::ops::Bound;

use crate::error::{Error, Result};
use crate::iterator::InternalIterator;
use crate::key::{SequenceNumber, ValueKind, internal_key, parse_internal_key};
use crate::merging_iterator::{Direction, MergingIterator};
use crate::value::Value;

/// A key as iterators return it: an owned copy of the user key.
pub type Key = Vec<u8>;

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
