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
use crate::sstable::reader::{BlockReadOptions, Table, decode_handle};
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
}

impl TableIterator {
    pub(crate) fn new(table: Table, options: BlockReadOptions) -> Self {
        let index = table.index_block().iter();
        TableIterator {
            table,
            options,
            index,
            data: None,
            data_handle: None,
            bounds: None,
        }
    }

    /// Limits the blocks read to those that may hold user keys within `bounds` (see the module
    /// documentation).
    pub(crate) fn set_bounds(&mut self, bounds: Arc<KeyBounds>) {
        self.bounds = Some(bounds);
    }

    /// Whether the iterator is at an entry.
    pub fn valid(&self) -> bool {
        self.data.as_ref().is_some_and(BlockIterator::valid)
    }

    /// The current entry's internal key (empty when not valid).
    pub fn key(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], BlockIterator::key)
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
        result
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
