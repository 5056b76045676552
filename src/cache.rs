//! The block cache: decompressed SSTable blocks shared by all readers, evicted least recently
//! used first.
//!
//! Keys are (file number, block offset). The cache is split into shards by key hash, each behind
//! its own mutex, so that concurrent readers rarely contend; each shard holds an equal part of
//! the capacity and keeps its entries on an intrusive doubly-linked list in a slab (no per-hit
//! allocation). Values are `Arc`s: an evicted block stays alive for readers still using it.
//!
//! Invariant per shard: `usage` is the sum of the charges of the entries in `map`, and after
//! every insert `usage <= capacity` unless a single entry is larger than the whole shard (such
//! an entry is not kept).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::key::FileNumber;

/// Where a block lives: its file and its offset in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockKey {
    /// The SSTable's file number.
    pub file: FileNumber,
    /// The block's offset in the file.
    pub offset: u64,
}

const NO_SLOT: usize = usize::MAX;
const SHARD_COUNT: usize = 16;

struct Slot<V> {
    key: BlockKey,
    value: Arc<V>,
    charge: usize,
    previous: usize,
    next: usize,
}

/// One shard: a hash map into a slab of slots linked from most to least recently used.
struct Shard<V> {
    map: HashMap<BlockKey, usize>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    usage: usize,
    capacity: usize,
}

impl<V> Shard<V> {
    fn new(capacity: usize) -> Self {
        Shard {
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NO_SLOT,
            tail: NO_SLOT,
            usage: 0,
            capacity,
        }
    }

    fn slot(&mut self, index: usize) -> &mut Slot<V> {
        self.slots[index].as_mut().expect("linked slot is occupied")
    }

    fn unlink(&mut self, index: usize) {
        let (previous, next) = {
            let slot = self.slot(index);
            (slot.previous, slot.next)
        };
        match previous {
            NO_SLOT => self.head = next,
            previous => self.slot(previous).next = next,
        }
        match next {
            NO_SLOT => self.tail = previous,
            next => self.slot(next).previous = previous,
        }
    }

    fn push_front(&mut self, index: usize) {
        let head = self.head;
        {
            let slot = self.slot(index);
            slot.previous = NO_SLOT;
            slot.next = head;
        }
        match head {
            NO_SLOT => self.tail = index,
            head => self.slot(head).previous = index,
        }
        self.head = index;
    }

    fn get(&mut self, key: &BlockKey) -> Option<Arc<V>> {
        let index = *self.map.get(key)?;
        self.unlink(index);
        self.push_front(index);
        Some(self.slot(index).value.clone())
    }

    fn remove_slot(&mut self, index: usize) {
        self.unlink(index);
        if let Some(slot) = self.slots[index].take() {
            self.map.remove(&slot.key);
            self.usage -= slot.charge;
        }
        self.free.push(index);
    }

    fn insert(&mut self, key: BlockKey, value: Arc<V>, charge: usize) {
        if let Some(&index) = self.map.get(&key) {
            self.remove_slot(index);
        }
        if charge > self.capacity {
            return;
        }
        while self.usage + charge > self.capacity && self.tail != NO_SLOT {
            self.remove_slot(self.tail);
        }
        let slot = Slot {
            key,
            value,
            charge,
            previous: NO_SLOT,
            next: NO_SLOT,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index] = Some(slot);
                index
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.map.insert(key, index);
        self.usage += charge;
        self.push_front(index);
    }

    fn remove_file(&mut self, file: FileNumber) {
        let doomed: Vec<usize> = self
            .map
            .iter()
            .filter(|(key, _)| key.file == file)
            .map(|(_, &index)| index)
            .collect();
        for index in doomed {
            self.remove_slot(index);
        }
    }
}

/// A sharded LRU cache of `Arc<V>` charged by a caller-given size. See the module docs.
pub struct BlockCache<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    hasher: std::collections::hash_map::RandomState,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V> BlockCache<V> {
    /// A cache holding at most about `capacity` bytes of charges (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARD_COUNT);
        BlockCache {
            shards: (0..SHARD_COUNT)
                .map(|_| Mutex::new(Shard::new(per_shard)))
                .collect(),
            hasher: Default::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &BlockKey) -> MutexGuard<'_, Shard<V>> {
        let index = (self.hasher.hash_one(key) as usize) % SHARD_COUNT;
        // A panic while holding a shard lock cannot leave the shard half-updated in a way that
        // matters more than losing the cache, so a poisoned lock is simply taken over.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached value for `key`, marking it most recently used; counts a hit or a miss.
    pub fn get(&self, key: &BlockKey) -> Option<Arc<V>> {
        let found = self.shard(key).get(key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Caches `value` under `key`, charged `charge` bytes, evicting least recently used entries.
    pub fn insert(&self, key: BlockKey, value: Arc<V>, charge: usize) {
        self.shard(&key).insert(key, value, charge);
    }

    /// Drops every block of `file` (after the file is deleted).
    pub fn remove_file(&self, file: FileNumber) {
        for shard in self.shards.iter() {
            shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove_file(file);
        }
    }

    /// Bytes of charges currently held.
    pub fn usage(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .usage
            })
            .sum()
    }

    /// Lookups that found their block.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that did not.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(file: u64, offset: u64) -> BlockKey {
        BlockKey {
            file: FileNumber(file),
            offset,
        }
    }

    #[test]
    fn evicts_least_recently_used_within_a_shard() {
        let mut shard = Shard::new(30);
        shard.insert(key(1, 0), Arc::new("a"), 10);
        shard.insert(key(1, 1), Arc::new("b"), 10);
        shard.insert(key(1, 2), Arc::new("c"), 10);
        assert!(shard.get(&key(1, 0)).is_some()); // "a" is now the most recent
        shard.insert(key(1, 3), Arc::new("d"), 10); // evicts "b"
        assert!(shard.get(&key(1, 1)).is_none());
        assert!(shard.get(&key(1, 0)).is_some());
        assert!(shard.get(&key(1, 2)).is_some());
        assert_eq!(shard.usage, 30);
        shard.insert(key(1, 4), Arc::new("huge"), 31);
        assert!(shard.get(&key(1, 4)).is_none());
        assert_eq!(shard.usage, 30);
    }

    #[test]
    fn replacing_a_key_keeps_usage_exact() {
        let mut shard = Shard::new(100);
        shard.insert(key(1, 0), Arc::new(1), 40);
        shard.insert(key(1, 0), Arc::new(2), 50);
        assert_eq!(shard.usage, 50);
        assert_eq!(*shard.get(&key(1, 0)).unwrap(), 2);
        shard.remove_file(FileNumber(1));
        assert_eq!(shard.usage, 0);
        assert!(shard.map.is_empty());
    }

    #[test]
    fn cache_counts_hits_and_misses_and_stays_within_capacity() {
        let cache = BlockCache::new(16 * 1024);
        for offset in 0..1_000 {
            cache.insert(key(7, offset), Arc::new(offset), 100);
        }
        assert!(cache.usage() <= 16 * 1024);
        let found = (0..1_000)
            .filter(|&offset| cache.get(&key(7, offset)).is_some())
            .count();
        assert!(found > 0 && found < 1_000);
        assert_eq!(cache.hits() + cache.misses(), 1_000);
        cache.remove_file(FileNumber(7));
        assert_eq!(cache.usage(), 0);
    }
}
