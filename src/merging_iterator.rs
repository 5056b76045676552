//! [`MergingIterator`]: a one-way merge of many internal iterators (memtables, level-0
//! tables, one level iterator per deeper level) into one stream in internal-key order, forward
//! (smallest first) or backward (largest first). It never switches direction: each end of a
//! `DbIterator` runs its own.

use std::cmp::Ordering;

use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::{SequenceNumber, compare_internal_keys};
use crate::range_tombstone::Fragments;
use crate::value::Value;

/// Which way a merge runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
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

    /// [`seek_forward`](Self::seek_forward) to `target`, each source landing past the pieces of
    /// `tombstones` (visible at the reader's sequence number) that hide all its entries there.
    pub fn seek_forward_past(&mut self, target: &[u8], tombstones: &Fragments) -> Result<()> {
        self.direction = Direction::Forward;
        for source in &mut self.sources {
            source.seek_past(target, tombstones)?;
        }
        self.pick();
        Ok(())
    }

    /// The mirror of [`seek_forward_past`](Self::seek_forward_past), walking backward.
    pub fn seek_backward_past(&mut self, target: &[u8], tombstones: &Fragments) -> Result<()> {
        self.direction = Direction::Backward;
        for source in &mut self.sources {
            source.seek_for_prev_past(target, tombstones)?;
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

    /// Moves every source past the entries a range tombstone at `tombstone` hides, where the
    /// source can tell they are all older than it: forward up to `target` (the internal key
    /// of the tombstone's end), backward down to it (that of its start). Sources that cannot
    /// tell stay; the caller steps over their entries.
    pub fn skip_older(&mut self, target: &[u8], tombstone: SequenceNumber) -> Result<()> {
        for source in &mut self.sources {
            match self.direction {
                Direction::Forward => source.skip_older_forward(target, tombstone)?,
                Direction::Backward => source.skip_older_backward(target, tombstone)?,
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
