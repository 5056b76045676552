//! The block cache: decompressed SSTable blocks shared by all readers, evicted by the CLOCK
//! algorithm (second chance), an approximation of least recently used.
//!
//! Keys are (file number, block offset). The cache is split into shards by key hash, each behind
//! its own mutex, so that concurrent readers rarely contend; each shard holds an equal part of
//! the capacity and keeps its entries in a slab of slots. A hit only sets the slot's
//! `referenced` flag, so it touches one slot, not the neighbours a linked LRU list would relink
//! (relinking was 5-8% of a random-read benchmark). To make room, the clock hand sweeps the
//! slab: a referenced slot loses its flag and is passed over once, an unreferenced one is
//! evicted. Values are `Arc`s: an evicted block stays alive for readers still using it.
//!
//! Keys are hashed with a multiply-and-fold mix, not SipHash: file numbers and offsets are
//! chosen by the engine, not by anyone who could aim collisions at the map.
//!
//! Invariant per shard: `usage` is the sum of the charges of the entries in `map`, every entry
//! of `map` points at an occupied slot with its key, and after every insert
//! `usage <= capacity` unless a single entry is larger than the whole shard (such an entry is
//! not kept).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
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

impl BlockKey {
    /// A well-mixed 64-bit hash of the key.
    fn mix(&self) -> u64 {
        let folded =
            (self.file.0.rotate_left(32) ^ self.offset).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        folded ^ (folded >> 29)
    }
}

/// A [`Hasher`] for [`BlockKey`] maps: the key writes its two `u64`s, which are mixed.
#[derive(Default)]
struct KeyHasher {
    state: u64,
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for types other than `BlockKey`'s fields; still a valid hash.
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.state = (self.state.rotate_left(32) ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.state ^ (self.state >> 29)
    }
}

const SHARD_COUNT: usize = 16;

struct Slot<V> {
    key: BlockKey,
    value: Arc<V>,
    charge: usize,
    /// Set by a hit; cleared by the clock hand, which evicts the slot next time round.
    referenced: bool,
}

/// One shard: a hash map into a slab of slots swept by a clock hand.
struct Shard<V> {
    map: HashMap<BlockKey, usize, BuildHasherDefault<KeyHasher>>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<usize>,
    hand: usize,
    usage: usize,
    capacity: usize,
}

impl<V> Shard<V> {
    fn new(capacity: usize) -> Self {
        Shard {
            map: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            usage: 0,
            capacity,
        }
    }

    fn get(&mut self, key: &BlockKey) -> Option<Arc<V>> {
        let index = *self.map.get(key)?;
        let slot = self.slots.get_mut(index)?.as_mut()?;
        slot.referenced = true;
        Some(Arc::clone(&slot.value))
    }

    fn remove_slot(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index).and_then(Option::take) {
            self.map.remove(&slot.key);
            self.usage -= slot.charge;
            self.free.push(index);
        }
    }

    /// Evicts one entry chosen by the clock hand; `false` if the shard is empty.
    fn evict_one(&mut self) -> bool {
        if self.map.is_empty() {
            return false;
        }
        // Each slot is passed over at most once after losing its flag, so this ends within two
        // sweeps of the slab.
        loop {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let index = self.hand;
            self.hand += 1;
            match self.slots[index].as_mut() {
                Some(slot) if slot.referenced => slot.referenced = false,
                Some(_) => {
                    self.remove_slot(index);
                    return true;
                }
                None => {}
            }
        }
    }

    fn insert(&mut self, key: BlockKey, value: Arc<V>, charge: usize) {
        if let Some(&index) = self.map.get(&key) {
            self.remove_slot(index);
        }
        if charge > self.capacity {
            return;
        }
        while self.usage + charge > self.capacity && self.evict_one() {}
        let slot = Slot {
            key,
            value,
            charge,
            referenced: false,
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

/// A sharded CLOCK cache of `Arc<V>` charged by a caller-given size. See the module docs.
pub struct BlockCache<V> {
    shards: Box<[Mutex<Shard<V>>]>,
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
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &BlockKey) -> MutexGuard<'_, Shard<V>> {
        // The top bits pick the shard; the map inside hashes the key again its own way.
        let index = (key.mix() >> 60) as usize % SHARD_COUNT;
        // A panic while holding a shard lock cannot leave the shard half-updated in a way that
        // matters more than losing the cache, so a poisoned lock is simply taken over.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached value for `key`, marking it referenced; counts a hit or a miss.
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

    /// Caches `value` under `key`, charged `charge` bytes, evicting entries not referenced
    /// since the clock hand last passed them.
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
    fn evicts_an_entry_not_referenced_since_the_hand_passed() {
        let mut shard = Shard::new(30);
        shard.insert(key(1, 0), Arc::new("a"), 10);
        shard.insert(key(1, 1), Arc::new("b"), 10);
        shard.insert(key(1, 2), Arc::new("c"), 10);
        assert!(shard.get(&key(1, 0)).is_some()); // "a" gets a second chance
        shard.insert(key(1, 3), Arc::new("d"), 10); // passes "a", evicts "b"
        assert!(shard.get(&key(1, 1)).is_none());
        assert!(shard.get(&key(1, 0)).is_some());
        assert!(shard.get(&key(1, 2)).is_some());
        assert!(shard.get(&key(1, 3)).is_some());
        assert_eq!(shard.usage, 30);
        // Every entry is referenced now: the hand clears all flags and evicts where it started.
        shard.insert(key(1, 4), Arc::new("e"), 10);
        assert_eq!(shard.usage, 30);
        assert_eq!(shard.map.len(), 3);
        assert!(shard.get(&key(1, 4)).is_some());
        shard.insert(key(1, 5), Arc::new("huge"), 31);
        assert!(shard.get(&key(1, 5)).is_none());
        assert_eq!(shard.usage, 30);
        for (key, &index) in &shard.map {
            assert_eq!(shard.slots[index].as_ref().map(|slot| slot.key), Some(*key));
        }
    }

    #[test]
    fn a_frequently_read_entry_survives_a_stream_of_new_ones() {
        let mut shard = Shard::new(100);
        shard.insert(key(2, 0), Arc::new(0), 10);
        for offset in 1..1_000 {
            assert!(
                shard.get(&key(2, 0)).is_some(),
                "evicted after {offset} inserts"
            );
            shard.insert(key(2, offset), Arc::new(offset), 10);
            assert!(shard.usage <= 100);
        }
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
