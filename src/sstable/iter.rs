//! [`TableIterator`]: walks every entry of a table in internal-key order, forward and backward,
//! through the index block and one data block at a time.
//!
//! Invariant: when valid, the iterator sits on an entry whose key is a well-formed internal key
//! (FORMAT.md, section 3). Every step returns `Result`: damage (a bad checksum, a malformed
//! block, a bad handle) is `Err(Error::Corruption)` and leaves the iterator invalid; nothing
//! panics on bad bytes. Blocks are read through [`Table::read_block`], the block-cache seam.
//!
//! An iterator may be given bounds on user keys (an iterator of the database passes its own):
//! then a step forward does not read the next data block when the index shows that every key
//! in it is above the upper bound, nor a step backward the previous block when every key in it
//! is below the lower bound; the iterator becomes invalid instead. Block `i` holds keys after
//! index key `i - 1` and at or before index key `i`, so the index keys on either side are the
//! test. Entries of a block already read are still returned, bounds or not: the caller filters.

use std::sync::Arc;

use crate::error::Result;
use crate::key::{compare_internal_keys, parse_internal_key, user_key};
use crate::key_range::KeyBounds;
use crate::sstable::block::BlockIterator;
use crate::sstable::format::BlockHandle;
use crate::key::SequenceNumber;
use crate::sstable::reader::{BlockReadOptions, Table, decode_handle, set_sequence};
use crate::value::Value;

// The iterator methods of `Table` live beside the iterator, so that the reader does not import
// the iterator that imports it.
impl Table {
    /// An iterator over every entry, checking block checksums; not yet positioned.
    pub fn iter(&self) -> TableIterator {
        self.iter_with(BlockReadOptions::default())
    }

    /// [`iter`](Self::iter), with checksum verification and caching as parameters.
    pub fn iter_with(&self, options: BlockReadOptions) -> TableIterator {
        TableIterator::new(self.clone(), options)
    }
}

/// A two-level iterator over a [`Table`]: the index picks the data block, the block iterator
/// picks the entry. Owns a clone of the table, so it can outlive the borrow it came from.
#[derive(Debug)]
pub struct TableIterator {
    table: Table,
    options: BlockReadOptions,
    index: BlockIterator,
    data: Option<BlockIterator>,
    data_handle: Option<BlockHandle>,
    /// The user keys the caller wants: no block wholly outside them is read (see the module
    /// documentation).
    bounds: Option<Arc<KeyBounds>>,
    /// The table's global sequence number, if it has one: keys are then returned from
    /// `global_key`, the current entry's key at that sequence number (see `raw_target`).
    global: Option<SequenceNumber>,
    global_key: Vec<u8>,
}

impl TableIterator {
    pub(crate) fn new(table: Table, options: BlockReadOptions) -> Self {
        let index = table.index_block().iter();
        let global = table.global_sequence();
        TableIterator {
            table,
            options,
            index,
            data: None,
            data_handle: None,
            bounds: None,
            global,
            global_key: Vec::new(),
        }
    }

    /// Limits the blocks read to those that may hold user keys within `bounds` (see the module
    /// documentation).
    pub(crate) fn set_bounds(&mut self, bounds: Arc<KeyBounds>) {
        self.bounds = Some(bounds);
    }

    /// The table it reads.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Whether the iterator is at an entry.
    pub fn valid(&self) -> bool {
        self.data.as_ref().is_some_and(BlockIterator::valid)
    }

    /// The current entry's internal key (empty when not valid).
    pub fn key(&self) -> &[u8] {
        match self.data.as_ref() {
            Some(data) if data.valid() && self.global.is_some() => &self.global_key,
            Some(data) => data.key(),
            None => &[],
        }
    }

    /// The current entry's value (empty when not valid).
    pub fn value(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], BlockIterator::value)
    }

    /// The current entry's value, sharing its block instead of copying (empty when not valid).
    pub fn shared_value(&self) -> Value {
        self.data
            .as_ref()
            .map_or_else(|| Value::from(Vec::new()), BlockIterator::shared_value)
    }

    /// Positions at the first entry (invalid if the table is empty).
    pub fn seek_to_first(&mut self) -> Result<()> {
        self.step(|iterator| {
            iterator.index.seek_to_first()?;
            iterator.load_data_block()?;
            if let Some(data) = &mut iterator.data {
                data.seek_to_first()?;
            }
            iterator.skip_empty_blocks_forward()
        })
    }

    /// Positions at the last entry (invalid if the table is empty).
    pub fn seek_to_last(&mut self) -> Result<()> {
        self.step(|iterator| {
            iterator.index.seek_to_last()?;
            iterator.load_data_block()?;
            if let Some(data) = &mut iterator.data {
                data.seek_to_last()?;
            }
            iterator.skip_empty_blocks_backward()
        })
    }

    /// Positions at the first entry whose key is >= `target` in internal-key order (invalid if
    /// there is none).
    pub fn seek(&mut self, target: &[u8]) -> Result<()> {
        let raw = self.raw_target(target, true);
        let target = raw.as_deref().unwrap_or(target);
        self.step(|iterator| {
            iterator.index.seek(target)?;
            iterator.load_data_block()?;
            if let Some(data) = &mut iterator.data {
                data.seek(target)?;
            }
            iterator.skip_empty_blocks_forward()
        })
    }

    /// Positions at the last entry whose key is <= `target` in internal-key order (invalid if
    /// there is none). Reads the block `target` falls in and, when every key of it is above
    /// `target`, the one before.
    pub fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        let raw = self.raw_target(target, false);
        let target = raw.as_deref().unwrap_or(target);
        self.step(|iterator| {
            iterator.index.seek(target)?;
            if !iterator.index.valid() {
                // Every index key, and so every key of the table, is below `target`.
                iterator.index.seek_to_last()?;
                if iterator.block_below_lower() {
                    iterator.data = None;
                    iterator.data_handle = None;
                    return Ok(());
                }
                iterator.load_data_block()?;
                if let Some(data) = &mut iterator.data {
                    data.seek_to_last()?;
                }
                return iterator.skip_empty_blocks_backward();
            }
            if iterator.block_below_lower() {
                iterator.data = None;
                iterator.data_handle = None;
                return Ok(());
            }
            iterator.load_data_block()?;
            if let Some(data) = &mut iterator.data {
                data.seek(target)?;
                if !data.valid() {
                    // Every key of this block is below `target`: its last one is the answer.
                    data.seek_to_last()?;
                } else if compare_internal_keys(data.key(), target) == std::cmp::Ordering::Greater
                {
                    data.prev()?;
                }
            }
            iterator.skip_empty_blocks_backward()
        })
    }

    /// Moves to the next entry (invalid after the last). A no-op when not valid.
    // The lint only looks at exported methods: without `internals` this one is crate-private.
    #[cfg_attr(
        feature = "internals",
        expect(
            clippy::should_implement_trait,
            reason = "a fallible cursor step, not an Iterator: it returns Result and yields nothing"
        )
    )]
    pub fn next(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.step(|iterator| {
            if let Some(data) = &mut iterator.data {
                data.next()?;
            }
            iterator.skip_empty_blocks_forward()
        })
    }

    /// Moves to the previous entry (invalid before the first). A no-op when not valid.
    pub fn prev(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.step(|iterator| {
            if let Some(data) = &mut iterator.data {
                data.prev()?;
            }
            iterator.skip_empty_blocks_backward()
        })
    }

    /// Runs a positioning step; on error, or if it lands on a malformed key, the iterator
    /// becomes invalid and the error is returned.
    fn step(&mut self, action: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let result = action(self).and_then(|()| self.check_current_key());
        if result.is_err() {
            self.data = None;
            self.data_handle = None;
        }
        if let (Some(global), Some(data)) = (self.global, self.data.as_ref())
            && data.valid()
        {
            self.global_key.clear();
            self.global_key.extend_from_slice(data.key());
            set_sequence(&mut self.global_key, global);
        }
        result
    }

    /// For a table read at a global sequence number `g`, the target in the file's own keys
    /// (`None`: `target` itself) that a seek (`forward`) or a seek for the previous entry
    /// lands on exactly as `target` would among the keys at `g`. The file holds each user key
    /// once, at sequence 0, so its order is that of the keys at `g`, and only the entry of
    /// the target's own user key compares differently: its trailer is its kind `k` in the
    /// file and `g << 8 | k` as read. For a target trailer `t`, a seek wants it when
    /// `g << 8 | k <= t`, that is `k <= t - (g << 8)`; a seek for the previous entry when
    /// `k >= t - (g << 8)`. The target is rewritten to ask the same of `k`.
    fn raw_target(&self, target: &[u8], forward: bool) -> Option<Vec<u8>> {
        let global = self.global?;
        let start = target.len().checked_sub(crate::key::TRAILER_SIZE)?;
        let (user, trailer_bytes) = target.split_at(start);
        let trailer = u64::from_le_bytes(trailer_bytes.try_into().ok()?);
        let base = global.0 << 8;
        let raw_trailer = match (forward, trailer.checked_sub(base)) {
            // A seek: the entry qualifies when its kind is at most `excess`.
            (true, Some(excess)) => excess.min(u64::from(u8::MAX)),
            // No kind qualifies: land after every entry of `user` (the first key of the
            // smallest longer user key).
            (true, None) => {
                let mut after = user.to_vec();
                after.push(0);
                after.extend_from_slice(&u64::MAX.to_le_bytes());
                return Some(after);
            }
            // A seek for the previous entry: every kind qualifies below `base`.
            (false, None) | (false, Some(0)) => 0,
            // Kinds of at least `excess` qualify; none does past a byte.
            (false, Some(excess)) if excess <= u64::from(u8::MAX) => excess,
            (false, Some(_)) => u64::MAX,
        };
        let mut raw = user.to_vec();
        raw.extend_from_slice(&raw_trailer.to_le_bytes());
        Some(raw)
    }

    fn check_current_key(&self) -> Result<()> {
        let Some(data) = self.data.as_ref().filter(|data| data.valid()) else {
            return Ok(());
        };
        match parse_internal_key(data.key()) {
            Ok(_) => Ok(()),
            Err(reason) => Err(data.block().origin().corruption(0, reason)),
        }
    }

    /// Points `data` at the block the index is on (or at nothing if the index is exhausted).
    fn load_data_block(&mut self) -> Result<()> {
        if !self.index.valid() {
            self.data = None;
            self.data_handle = None;
            return Ok(());
        }
        let handle = decode_handle(&self.index)?;
        if self.data_handle != Some(handle) || self.data.is_none() {
            let block = self.table.read_block(handle, self.options)?;
            self.data = Some(block.iter());
            self.data_handle = Some(handle);
        }
        Ok(())
    }

    /// Whether the index is on a block and `outside(bounds, user key of its index key)` says
    /// so; false without bounds.
    fn index_key_outside(&self, outside: impl FnOnce(&KeyBounds, &[u8]) -> bool) -> bool {
        match &self.bounds {
            Some(bounds) if self.index.valid() => outside(bounds, user_key(self.index.key())),
            _ => false,
        }
    }

    /// Whether every key of the block the index is on is below the lower bound: the block
    /// holds keys at or before its index key only.
    fn block_below_lower(&self) -> bool {
        self.index_key_outside(|bounds, key| !bounds.is_above_lower(key))
    }

    fn skip_empty_blocks_forward(&mut self) -> Result<()> {
        while self.data.as_ref().is_some_and(|data| !data.valid()) {
            // The next block holds keys after this block's index key only.
            if self.index_key_outside(|bounds, key| !bounds.is_below_upper(key)) {
                self.data = None;
                self.data_handle = None;
                break;
            }
            self.index.next()?;
            self.load_data_block()?;
            if let Some(data) = &mut self.data {
                data.seek_to_first()?;
            }
        }
        Ok(())
    }

    fn skip_empty_blocks_backward(&mut self) -> Result<()> {
        while self.data.as_ref().is_some_and(|data| !data.valid()) {
            self.index.prev()?;
            if self.block_below_lower() {
                self.data = None;
                self.data_handle = None;
                break;
            }
            self.load_data_block()?;
            if let Some(data) = &mut self.data {
                data.seek_to_last()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use super::*;
    use crate::key::{SequenceNumber, ValueKind, internal_key};
    use crate::sstable::{Compression, TableBuilder, TableOptions};

    /// Larger than the block size: one entry per data block.
    const VALUE_SIZE: usize = 5_000;

    /// `k00000`, `k00002`, ... `k00398`, one per data block: the index key between the blocks
    /// of `k00300` and `k00302` is `k00301`, but between `k00308` and `k00310` it is `k00308`
    /// itself (no shorter key sits between them).
    fn one_entry_per_block() -> (Table, Vec<Vec<u8>>) {
        let options = TableOptions {
            compression: Compression::None,
            ..TableOptions::default()
        };
        let mut builder = TableBuilder::in_memory(options).unwrap();
        let keys: Vec<Vec<u8>> = (0..200)
            .map(|index| format!("k{:05}", 2 * index).into_bytes())
            .collect();
        for key in &keys {
            let internal = internal_key(key, SequenceNumber(1), ValueKind::Value);
            builder.add(&internal, &[7; VALUE_SIZE]).unwrap();
        }
        let (_, bytes) = builder.finish_into_vec().unwrap();
        let table = Table::from_bytes("bounded.sst", bytes).unwrap();
        assert_eq!(table.properties().data_block_count, 200);
        (table, keys)
    }

    fn bound(text: &str) -> Vec<u8> {
        text.as_bytes().to_vec()
    }

    /// The user keys a walk yields from where `iterator` is, `forward` or backward, until it is
    /// invalid.
    fn walk(iterator: &mut TableIterator, forward: bool) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        while iterator.valid() {
            keys.push(user_key(iterator.key()).to_vec());
            if forward {
                iterator.next().unwrap();
            } else {
                iterator.prev().unwrap();
            }
        }
        keys
    }

    #[test]
    fn bounded_walks_stop_where_the_index_shows_the_bound() {
        let (table, keys) = one_entry_per_block();
        let cases = [
            // (lower, upper, keys yielded walking forward, walking backward)
            (
                Bound::Included(bound("k00300")),
                Bound::Excluded(bound("k00301")),
                // The index key k00301 after k00300's block shows the bound: nothing more.
                &["k00300"][..],
                &["k00300"][..],
            ),
            (
                Bound::Included(bound("k00300")),
                Bound::Excluded(bound("k00302")),
                // Forward, k00302's block may hold keys below k00302 for all the index knows.
                &["k00300", "k00302"][..],
                &["k00300"][..],
            ),
            (
                Bound::Excluded(bound("k00308")),
                Bound::Included(bound("k00310")),
                // Backward, the index key k00308 shows its block holds nothing above k00308.
                &["k00308", "k00310"][..],
                &["k00310"][..],
            ),
        ];
        for (lower, upper, forward, backward) in cases {
            let context = format!("{lower:?}..{upper:?}");
            let bounds = Arc::new(KeyBounds {
                lower: lower.clone(),
                upper: upper.clone(),
            });
            // Where a database iterator seeks for each bound (`db_iterator.rs`).
            let lower_target = match &lower {
                Bound::Included(key) | Bound::Excluded(key) => {
                    internal_key(key, SequenceNumber::MAX, ValueKind::Value)
                }
                Bound::Unbounded => unreachable!(),
            };
            let upper_target = match &upper {
                Bound::Included(key) => internal_key(key, SequenceNumber(0), ValueKind::Tombstone),
                Bound::Excluded(key) => internal_key(key, SequenceNumber::MAX, ValueKind::Value),
                Bound::Unbounded => unreachable!(),
            };
            let mut iterator = table.iter();
            iterator.set_bounds(Arc::clone(&bounds));
            iterator.seek(&lower_target).unwrap();
            let text = |keys: Vec<Vec<u8>>| -> Vec<String> {
                keys.into_iter()
                    .map(|key| String::from_utf8(key).unwrap())
                    .collect()
            };
            assert_eq!(text(walk(&mut iterator, true)), forward, "{context} forward");
            let mut iterator = table.iter();
            iterator.set_bounds(bounds);
            iterator.seek_for_prev(&upper_target).unwrap();
            assert_eq!(text(walk(&mut iterator, false)), backward, "{context} backward");
        }
        // Without bounds, the walks go to either end.
        let mut iterator = table.iter();
        iterator.seek_to_first().unwrap();
        assert_eq!(walk(&mut iterator, true), keys);
    }

    #[test]
    fn a_bounded_seek_for_prev_past_the_upper_bound_does_not_fall_back_to_the_last_entry() {
        let (table, _) = one_entry_per_block();
        let mut iterator = table.iter();
        iterator.set_bounds(Arc::new(KeyBounds {
            lower: Bound::Unbounded,
            upper: Bound::Excluded(bound("k00301")),
        }));
        // A target past the bound lands where the target falls, not at the table's end.
        iterator
            .seek_for_prev(&internal_key(b"k00301", SequenceNumber::MAX, ValueKind::Value))
            .unwrap();
        assert_eq!(user_key(iterator.key()), b"k00300");
        // A target below the lower bound, in a block the index shows to be wholly below it
        // (its index key is k00303): nothing.
        let mut iterator = table.iter();
        iterator.set_bounds(Arc::new(KeyBounds {
            lower: Bound::Included(bound("k00305")),
            upper: Bound::Unbounded,
        }));
        iterator
            .seek_for_prev(&internal_key(b"k00301", SequenceNumber(0), ValueKind::Tombstone))
            .unwrap();
        assert!(!iterator.valid());
        // Unbounded, the same seek finds k00300.
        let mut iterator = table.iter();
        iterator
            .seek_for_prev(&internal_key(b"k00301", SequenceNumber(0), ValueKind::Tombstone))
            .unwrap();
        assert_eq!(user_key(iterator.key()), b"k00300");
    }
}
