//! The memtable: recent writes in memory, in a lock-free skiplist ordered like internal keys.
//!
//! Entries are ordered by user key ascending, then sequence number descending (the internal-key
//! order of FORMAT.md), so the newest version of a key comes first and a lookup at a snapshot is
//! one `lower_bound`. Each entry's user key and value are copied, one after the other, into the
//! memtable's arena (`memtable_arena.rs`: large shared chunks, not one allocation per entry);
//! reads hand out [`Value`]s that share the chunk.
//!
//! Thread safety: any number of threads may insert and read at once through `&self`; the
//! skiplist (crossbeam-skiplist) is lock-free. Entries are never removed: a memtable is dropped
//! whole once it has been flushed and no reader holds it.
//!
//! Invariant: no two inserts carry the same (user key, sequence number); the commit path hands
//! out each sequence number once.
//!
//! Range deletions are not skiplist entries: they are kept beside the skiplist as written, and
//! fragmented (`range_tombstone.rs`) when a reader first asks for them after a change. A read
//! at a sequence number ignores the tombstones above it, like the entries above it.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, RwLock};

use crossbeam_skiplist::SkipMap;

use crate::key::{SequenceNumber, ValueKind, pack_trailer};
use crate::memtable_arena::{Arena, ArenaBytes};
use crate::range_tombstone::{Fragments, RangeTombstone};
use crate::value::Value;

/// Bytes charged per entry on top of its key and value, for the skiplist node and its tower
/// (the entry itself is 56 bytes, 16 of them its key prefix).
const ENTRY_OVERHEAD: usize = 80;

/// The first [`PREFIX_BYTES`] bytes of a user key as two big-endian numbers, zero-padded: keys
/// whose prefixes differ compare as their prefixes do, so most skiplist comparisons are one
/// integer comparison on the node itself, without following the entry into the arena (a cache
/// miss) or calling `memcmp`. Equal prefixes (one key may be the other zero-padded) fall back to
/// comparing the whole keys.
/// (Two `u64`s rather than one `u128`, whose 16-byte alignment would pad every entry.)
type KeyPrefix = (u64, u64);

/// Bytes of a user key held in its [`KeyPrefix`].
const PREFIX_BYTES: usize = 16;

fn key_prefix(user_key: &[u8]) -> KeyPrefix {
    let mut bytes = [0u8; PREFIX_BYTES];
    let length = user_key.len().min(PREFIX_BYTES);
    bytes[..length].copy_from_slice(&user_key[..length]);
    let [high, low] = [&bytes[..8], &bytes[8..]].map(|half| {
        let mut word = [0u8; 8];
        word.copy_from_slice(half);
        u64::from_be_bytes(word)
    });
    (high, low)
}

/// One version of one key in a memtable. Cloning shares the arena chunk it is in.
#[derive(Clone)]
pub struct MemtableEntry {
    /// The start of the user key, for comparisons (see [`KeyPrefix`]).
    prefix: KeyPrefix,
    /// `user_key || value`, in the memtable's arena.
    data: ArenaBytes,
    user_key_length: usize,
    trailer: u64,
}

impl MemtableEntry {
    /// The key the user wrote.
    pub fn user_key(&self) -> &[u8] {
        &self.data.as_slice()[..self.user_key_length]
    }

    /// When it was written.
    pub fn sequence(&self) -> SequenceNumber {
        SequenceNumber(self.trailer >> 8)
    }

    /// Whether it is a value, a tombstone or a merge operand.
    pub fn kind(&self) -> ValueKind {
        // Entries are only built by `Memtable::insert` from a `ValueKind`.
        ValueKind::from_byte(self.trailer as u8).unwrap_or(ValueKind::Tombstone)
    }

    /// The value (empty for a tombstone), sharing the entry's arena chunk (which it keeps
    /// alive, memtable or not).
    pub fn value(&self) -> Value {
        self.data.value(self.user_key_length..self.data.len())
    }

    /// The internal key of this entry (user key and trailer), freshly encoded.
    pub fn internal_key(&self) -> Vec<u8> {
        crate::key::internal_key(self.user_key(), self.sequence(), self.kind())
    }
}

impl std::fmt::Debug for MemtableEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemtableEntry")
            .field("user_key", &String::from_utf8_lossy(self.user_key()))
            .field("sequence", &self.sequence())
            .field("kind", &self.kind())
            .finish()
    }
}

/// A view of an internal key, so that lookups can search the skiplist without allocating.
trait KeyView {
    fn prefix(&self) -> KeyPrefix;
    fn user_key(&self) -> &[u8];
    fn trailer(&self) -> u64;
}

impl KeyView for MemtableEntry {
    #[inline]
    fn prefix(&self) -> KeyPrefix {
        self.prefix
    }
    #[inline]
    fn user_key(&self) -> &[u8] {
        MemtableEntry::user_key(self)
    }
    #[inline]
    fn trailer(&self) -> u64 {
        self.trailer
    }
}

/// A borrowed search key.
struct LookupKey<'a> {
    prefix: KeyPrefix,
    user_key: &'a [u8],
    trailer: u64,
}

impl<'a> LookupKey<'a> {
    fn new(user_key: &'a [u8], trailer: u64) -> Self {
        LookupKey {
            prefix: key_prefix(user_key),
            user_key,
            trailer,
        }
    }
}

impl KeyView for LookupKey<'_> {
    fn prefix(&self) -> KeyPrefix {
        self.prefix
    }
    fn user_key(&self) -> &[u8] {
        self.user_key
    }
    fn trailer(&self) -> u64 {
        self.trailer
    }
}

/// Generic, so that the skiplist's entry-to-entry comparisons (every insert) are statically
/// dispatched and inlined; only lookups by a borrowed key go through `dyn KeyView`. The
/// prefixes decide unless they are equal (see [`KeyPrefix`]).
#[inline]
fn compare_views<A: KeyView + ?Sized, B: KeyView + ?Sized>(a: &A, b: &B) -> Ordering {
    a.prefix()
        .cmp(&b.prefix())
        .then_with(|| a.user_key().cmp(b.user_key()))
        .then_with(|| b.trailer().cmp(&a.trailer()))
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        compare_views(self, other) == Ordering::Equal
    }
}
impl Eq for dyn KeyView + '_ {}
impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_views(self, other)
    }
}

impl PartialEq for MemtableEntry {
    fn eq(&self, other: &Self) -> bool {
        compare_views(self, other) == Ordering::Equal
    }
}
impl Eq for MemtableEntry {}
impl PartialOrd for MemtableEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for MemtableEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_views(self, other)
    }
}

impl<'a> Borrow<dyn KeyView + 'a> for MemtableEntry {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

/// Recent writes, ordered for lookups and iteration. See the module documentation.
#[derive(Default)]
pub struct Memtable {
    entries: SkipMap<MemtableEntry, ()>,
    /// Where the entries' keys and values are.
    arena: Arena,
    largest_sequence: AtomicU64,
    /// Readers take the read lock for one `Arc` clone of the fragments; only the first read
    /// after an insert takes the write lock, to fragment again.
    range_tombstones: RwLock<RangeTombstones>,
    /// How many range tombstones were inserted (a reader checks it before taking the lock).
    range_tombstone_count: AtomicUsize,
    /// The number of the write-ahead log that was current when the first write went in (0
    /// while empty): the oldest log holding writes of this memtable.
    first_log: AtomicU64,
}

/// The range deletions of a memtable: as inserted, and fragmented as of `fragmented_count`.
#[derive(Default)]
struct RangeTombstones {
    inserted: Vec<RangeTombstone>,
    fragments: Arc<Fragments>,
    fragmented_count: usize,
    bytes: usize,
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that write-ahead log `log` holds writes of this memtable, unless an older one
    /// was recorded already: called by the writer before its inserts.
    pub fn note_log(&self, log: u64) {
        if self.first_log.load(AtomicOrdering::Relaxed) == 0 {
            self.first_log.store(log, AtomicOrdering::Release);
        }
    }

    /// The oldest write-ahead log holding writes of this memtable, once it has any.
    pub fn first_log(&self) -> Option<u64> {
        Some(self.first_log.load(AtomicOrdering::Acquire)).filter(|&log| log != 0)
    }

    /// Adds one version of `user_key`. `value` (a value or a merge operand) is ignored (stored
    /// empty) for a tombstone.
    pub fn insert(&self, user_key: &[u8], sequence: SequenceNumber, kind: ValueKind, value: &[u8]) {
        let value = if kind == ValueKind::Tombstone {
            &[][..]
        } else {
            value
        };
        let entry = MemtableEntry {
            prefix: key_prefix(user_key),
            data: self.arena.alloc_copy(&[user_key, value]),
            user_key_length: user_key.len(),
            trailer: pack_trailer(sequence, kind),
        };
        self.largest_sequence
            .fetch_max(sequence.0, AtomicOrdering::Relaxed);
        self.entries.insert(entry, ());
    }

    /// Adds the range deletion `[start, end)` at `sequence` (an empty range deletes nothing
    /// and is not kept).
    pub fn insert_range_tombstone(&self, start: &[u8], end: &[u8], sequence: SequenceNumber) {
        self.largest_sequence
            .fetch_max(sequence.0, AtomicOrdering::Relaxed);
        if start >= end {
            return;
        }
        let mut tombstones = self
            .range_tombstones
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tombstones.inserted.push(RangeTombstone {
            start: start.to_vec(),
            end: end.to_vec(),
            sequence,
        });
        tombstones.bytes += start.len() + end.len() + ENTRY_OVERHEAD;
        self.range_tombstone_count
            .fetch_add(1, AtomicOrdering::Release);
    }

    /// The range deletions inserted so far, fragmented (including those above any reader's
    /// sequence number: readers filter). Fragments again only after a change.
    pub fn range_tombstones(&self) -> Arc<Fragments> {
        if self.range_tombstone_count.load(AtomicOrdering::Acquire) == 0 {
            return Fragments::shared_empty();
        }
        // The guarded data is a list and its cache, consistent after every statement, so a
        // poisoned lock still holds usable data.
        {
            let tombstones = self
                .range_tombstones
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if tombstones.fragmented_count == tombstones.inserted.len() {
                return Arc::clone(&tombstones.fragments);
            }
        }
        let mut tombstones = self
            .range_tombstones
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if tombstones.fragmented_count != tombstones.inserted.len() {
            tombstones.fragments = Arc::new(Fragments::new(tombstones.inserted.iter().cloned()));
            tombstones.fragmented_count = tombstones.inserted.len();
        }
        Arc::clone(&tombstones.fragments)
    }

    /// Whether any range deletion was inserted.
    pub fn has_range_tombstones(&self) -> bool {
        self.range_tombstone_count.load(AtomicOrdering::Acquire) > 0
    }

    /// The newest entry of `user_key` with a sequence number at most `snapshot`.
    pub fn get_entry(&self, user_key: &[u8], snapshot: SequenceNumber) -> Option<MemtableEntry> {
        self.seek(user_key, snapshot)
            .filter(|entry| entry.user_key() == user_key)
    }

    /// The first entry at or after (`user_key`, `snapshot`) in internal-key order: the newest
    /// version of `user_key` visible at `snapshot`, or else the first entry of a greater key.
    pub fn seek(&self, user_key: &[u8], snapshot: SequenceNumber) -> Option<MemtableEntry> {
        // The highest trailer for `snapshot` sorts before every entry with sequence <= snapshot.
        let lookup = LookupKey::new(user_key, (snapshot.0 << 8) | 0xff);
        let bound: Bound<&dyn KeyView> = Bound::Included(&lookup);
        self.entries
            .lower_bound(bound)
            .map(|entry| entry.key().clone())
    }

    /// The entry after `entry` in internal-key order.
    pub fn next_after(&self, entry: &MemtableEntry) -> Option<MemtableEntry> {
        let bound: Bound<&dyn KeyView> = Bound::Excluded(entry);
        self.entries
            .lower_bound(bound)
            .map(|next| next.key().clone())
    }

    /// The entry before `entry` in internal-key order.
    pub fn previous_before(&self, entry: &MemtableEntry) -> Option<MemtableEntry> {
        let bound: Bound<&dyn KeyView> = Bound::Excluded(entry);
        self.entries
            .upper_bound(bound)
            .map(|previous| previous.key().clone())
    }

    /// The first entry in internal-key order.
    pub fn first(&self) -> Option<MemtableEntry> {
        self.entries.front().map(|entry| entry.key().clone())
    }

    /// The last entry in internal-key order.
    pub fn last(&self) -> Option<MemtableEntry> {
        self.entries.back().map(|entry| entry.key().clone())
    }

    /// Every entry in internal-key order (for flushing).
    pub fn iter(&self) -> impl Iterator<Item = MemtableEntry> + '_ {
        self.entries.iter().map(|entry| entry.key().clone())
    }

    /// Bytes of keys and values held, plus the unused tails of the arena chunks it has moved
    /// on from (not the free tail of the chunk being filled), plus a per-entry overhead
    /// estimate for the skiplist.
    pub fn approximate_size(&self) -> usize {
        let range_tombstones = if self.has_range_tombstones() {
            self.range_tombstones
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .bytes
        } else {
            0
        };
        self.arena.charged_bytes() + self.entries.len() * ENTRY_OVERHEAD + range_tombstones
    }

    /// How many entries (versions) it holds.
    #[cfg_attr(
        not(feature = "internals"),
        allow(dead_code, reason = "counted by the unit tests and, through `internals`, tools")
    )]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry and no range deletion.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && !self.has_range_tombstones()
    }

    /// The largest sequence number inserted (0 when empty).
    pub fn largest_sequence(&self) -> SequenceNumber {
        SequenceNumber(self.largest_sequence.load(AtomicOrdering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn sequence(number: u64) -> SequenceNumber {
        SequenceNumber(number)
    }

    /// The prefix comparison must order keys exactly as comparing their bytes does, around the
    /// cases it cannot tell apart by itself: a key and the same key with zero bytes appended,
    /// keys shorter than, equal to and longer than the prefix, and bytes at 0x00 and 0xff.
    #[test]
    fn prefix_comparison_orders_keys_as_their_bytes() {
        let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
        let alphabet = [0x00u8, 0x01, 0x7f, 0x80, 0xff];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 24) as usize;
            let key: Vec<u8> = (0..length)
                .map(|index| alphabet[((state >> (index % 60)) % 5) as usize])
                .collect();
            let mut padded = key.clone();
            padded.push(0);
            keys.push(key);
            keys.push(padded);
        }
        let views: Vec<LookupKey<'_>> = keys.iter().map(|key| LookupKey::new(key, 0)).collect();
        for (left, left_view) in keys.iter().zip(&views).step_by(7) {
            for (right, right_view) in keys.iter().zip(&views) {
                assert_eq!(
                    compare_views(left_view, right_view),
                    left.cmp(right),
                    "{left:?} against {right:?}"
                );
            }
        }
    }

    #[test]
    fn range_tombstones_are_fragmented_again_after_each_insert() {
        let memtable = Memtable::new();
        assert!(memtable.is_empty() && !memtable.has_range_tombstones());
        assert!(memtable.range_tombstones().is_empty());
        memtable.insert_range_tombstone(b"a", b"m", sequence(4));
        assert!(!memtable.is_empty());
        assert_eq!(memtable.largest_sequence(), sequence(4));
        let first = memtable.range_tombstones();
        assert_eq!(first.covering(b"c", sequence(9)), Some(sequence(4)));
        // Cached until the next insert.
        assert!(Arc::ptr_eq(&first, &memtable.range_tombstones()));
        memtable.insert_range_tombstone(b"f", b"z", sequence(7));
        let second = memtable.range_tombstones();
        assert_eq!(second.covering(b"g", sequence(9)), Some(sequence(7)));
        assert_eq!(second.covering(b"g", sequence(5)), Some(sequence(4)));
        assert_eq!(second.covering(b"q", sequence(5)), None);
        assert!(memtable.approximate_size() > 0);
    }

    #[test]
    fn lookups_respect_snapshots_and_tombstones() {
        let memtable = Memtable::new();
        memtable.insert(b"k", sequence(1), ValueKind::Value, b"one");
        memtable.insert(b"k", sequence(3), ValueKind::Tombstone, b"");
        memtable.insert(b"k", sequence(5), ValueKind::Value, b"five");
        memtable.insert(b"j", sequence(4), ValueKind::Value, b"jay");
        // (sequence, value or `None` for a tombstone) of the newest visible entry.
        let lookup = |key: &[u8], at: SequenceNumber| {
            memtable.get_entry(key, at).map(|entry| {
                let value = (entry.kind() == ValueKind::Value).then(|| entry.value().to_vec());
                (entry.sequence().0, value)
            })
        };
        assert_eq!(lookup(b"k", sequence(0)), None);
        assert_eq!(lookup(b"k", sequence(1)), Some((1, Some(b"one".to_vec()))));
        assert_eq!(lookup(b"k", sequence(2)), Some((1, Some(b"one".to_vec()))));
        assert_eq!(lookup(b"k", sequence(3)), Some((3, None)));
        assert_eq!(
            lookup(b"k", SequenceNumber::MAX),
            Some((5, Some(b"five".to_vec())))
        );
        assert_eq!(lookup(b"", SequenceNumber::MAX), None);
        assert_eq!(lookup(b"k\0", SequenceNumber::MAX), None);
        assert_eq!(memtable.largest_sequence(), sequence(5));
    }

    #[test]
    fn iteration_is_in_internal_key_order_both_ways() {
        let memtable = Memtable::new();
        let mut expected = Vec::new();
        for (index, key) in [b"b", b"a", b"c", b"a", b"b"].iter().enumerate() {
            let sequence = sequence(index as u64 + 1);
            memtable.insert(*key, sequence, ValueKind::Value, b"v");
            expected.push(crate::key::internal_key(*key, sequence, ValueKind::Value));
        }
        expected.sort_by(|a, b| crate::key::compare_internal_keys(a, b));
        let forward: Vec<_> = memtable.iter().map(|entry| entry.internal_key()).collect();
        assert_eq!(forward, expected);

        let mut backward = Vec::new();
        let mut cursor = memtable.last();
        while let Some(entry) = cursor {
            backward.push(entry.internal_key());
            cursor = memtable.previous_before(&entry);
        }
        backward.reverse();
        assert_eq!(backward, expected);

        let mut stepped = Vec::new();
        let mut cursor = memtable.first();
        while let Some(entry) = cursor {
            stepped.push(entry.internal_key());
            cursor = memtable.next_after(&entry);
        }
        assert_eq!(stepped, expected);
    }

    #[test]
    fn concurrent_inserts_are_all_visible() {
        let memtable = Arc::new(Memtable::new());
        let threads: Vec<_> = (0..4u64)
            .map(|thread| {
                let memtable = memtable.clone();
                std::thread::spawn(move || {
                    for index in 0..2_000u64 {
                        let key = format!("key-{thread}-{index:05}");
                        let sequence = sequence(thread * 10_000 + index + 1);
                        memtable.insert(key.as_bytes(), sequence, ValueKind::Value, key.as_bytes());
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(memtable.len(), 8_000);
        for thread in 0..4 {
            for index in (0..2_000).step_by(97) {
                let key = format!("key-{thread}-{index:05}");
                let found = memtable
                    .get_entry(key.as_bytes(), SequenceNumber::MAX)
                    .map(|entry| entry.value().to_vec());
                assert_eq!(found.as_deref(), Some(key.as_bytes()));
            }
        }
        assert!(memtable.approximate_size() >= 8_000 * (2 * 14));
    }

    /// The value written for `key` in `concurrent_readers_see_whole_values_while_writers_insert`:
    /// lengths vary so entries meet arena chunk ends.
    fn value_for(key: &str) -> Vec<u8> {
        let length = key.len() * 37 % 1_500;
        key.bytes().cycle().take(length).collect()
    }

    #[test]
    fn concurrent_readers_see_whole_values_while_writers_insert() {
        let memtable = Arc::new(Memtable::new());
        let writers: Vec<_> = (0..3u64)
            .map(|thread| {
                let memtable = memtable.clone();
                std::thread::spawn(move || {
                    for index in 0..3_000u64 {
                        let key = format!("key-{index:05}-{}", "x".repeat(thread as usize));
                        let sequence = sequence(thread * 10_000 + index + 1);
                        memtable.insert(
                            key.as_bytes(),
                            sequence,
                            ValueKind::Value,
                            &value_for(&key),
                        );
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let memtable = memtable.clone();
                std::thread::spawn(move || {
                    // At least one full pass, even if the writers are already done.
                    let mut checked = 0;
                    loop {
                        let writers_done = memtable.len() == 9_000;
                        for entry in memtable.iter() {
                            let key = String::from_utf8(entry.user_key().to_vec()).unwrap();
                            assert_eq!(entry.value(), value_for(&key), "key {key}");
                            checked += 1;
                        }
                        if writers_done {
                            break checked;
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
        let mut total = 0;
        for thread in 0..3 {
            for index in 0..3_000 {
                let key = format!("key-{index:05}-{}", "x".repeat(thread));
                let found = memtable
                    .get_entry(key.as_bytes(), SequenceNumber::MAX)
                    .map(|entry| entry.value().to_vec());
                assert_eq!(found, Some(value_for(&key)));
                total += key.len() + value_for(&key).len();
            }
        }
        assert!(memtable.approximate_size() >= total + 9_000 * ENTRY_OVERHEAD);
    }

    #[test]
    fn values_and_entries_outlive_the_memtable() {
        let memtable = Memtable::new();
        memtable.insert(b"a", sequence(1), ValueKind::Value, b"apple");
        let large = vec![7u8; 300_000];
        memtable.insert(b"b", sequence(2), ValueKind::Value, &large);
        let apple = memtable
            .get_entry(b"a", SequenceNumber::MAX)
            .expect("a is in the memtable")
            .value();
        let entry = memtable.last().unwrap();
        drop(memtable);
        assert_eq!(apple, b"apple"[..]);
        assert_eq!(entry.user_key(), b"b");
        assert_eq!(entry.value(), large);
    }
}
