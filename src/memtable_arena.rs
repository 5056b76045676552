//! The memtable arena: entry bytes copied into large shared chunks instead of one heap
//! allocation per entry.
//!
//! Why: with one allocation per entry, a writer mallocs once per put, and the flush thread
//! frees tens of thousands of them when it drops a flushed memtable, contending with the writer
//! for the allocator's lock. Here an entry costs a copy and a reference-count increment, and
//! dropping a memtable frees a few chunks.
//!
//! Ownership: an [`Arena`] owns the chunk it is filling; each [`ArenaBytes`] holds an
//! `Arc<Chunk>` of the chunk its bytes are in, so entries and the [`Value`]s read from them keep
//! their chunk alive after the arena and the memtable are gone. A `Value` pins its whole chunk.
//!
//! Chunks: [`CHUNK_SIZE`] bytes; an entry larger than a quarter of that gets a chunk of its own
//! (exactly its size), so that it neither wastes the tail of the current chunk nor starts a new
//! one.
//!
//! Thread safety and invariants (what makes the `unsafe` in this file sound):
//! - A chunk's buffer is allocated zeroed, so every byte is always initialised.
//! - `published` only grows. Bytes below `published` are never written again.
//! - Bytes are written only in `Chunk::append` (an `unsafe fn`: one appender at a time), by the
//!   thread holding the arena's `current` lock, only at or beyond `published`, and `published`
//!   is advanced past them (Release) after the copy. A dedicated chunk is filled before it is
//!   shared with anyone.
//! - Readers form `&[u8]` only over `[0, published)` as loaded with Acquire, so no reference
//!   ever overlaps bytes being written, and the Acquire makes the copied bytes visible.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::value::Value;

/// Capacity of a regular chunk.
pub const CHUNK_SIZE: usize = 256 * 1024;

/// Entries larger than this get a dedicated chunk of exactly their size.
const LARGE_ENTRY_SIZE: usize = CHUNK_SIZE / 4;

/// A fixed-size, zero-initialised heap buffer whose published prefix is shared immutably.
struct Chunk {
    /// Start of a `Box<[u8]>` of `capacity` bytes, turned into a raw pointer so that shared
    /// readers and the one writer never hold overlapping references; freed in `Drop`.
    buffer: NonNull<u8>,
    capacity: usize,
    /// Bytes at the start that are written and immutable.
    published: AtomicUsize,
}

// SAFETY: a `Chunk` owns its buffer (nothing else frees or aliases it mutably), like a
// `Box<[u8]>`; moving it to another thread moves that ownership.
unsafe impl Send for Chunk {}

// SAFETY: through `&Chunk`, other threads only read `[0, published)` (Acquire), which is never
// written again; writes happen only in `Chunk::append`, whose contract allows one appending
// thread at a time, and only to bytes beyond `published`.
unsafe impl Sync for Chunk {}

impl Chunk {
    fn new(capacity: usize) -> Self {
        let boxed: Box<[u8]> = vec![0u8; capacity].into_boxed_slice();
        let raw = Box::into_raw(boxed).cast::<u8>();
        // `Box::into_raw` never returns null, even for an empty slice (it is dangling then).
        let buffer = NonNull::new(raw).unwrap_or(NonNull::dangling());
        Chunk {
            buffer,
            capacity,
            published: AtomicUsize::new(0),
        }
    }

    /// Bytes still free at the end.
    fn remaining(&self) -> usize {
        self.capacity - self.published.load(Ordering::Relaxed)
    }

    /// Copies `parts` one after another at the end of the published prefix, then publishes
    /// them. Returns the offset they start at.
    ///
    /// # Panics
    /// If they do not fit (a bug in the caller, which checks `remaining` first).
    ///
    /// # Safety
    /// No other thread may be appending to this chunk at the same time: the caller holds the
    /// arena's lock on the chunk, or is the only thread that can see the chunk.
    unsafe fn append(&self, parts: &[&[u8]]) -> usize {
        let length: usize = parts.iter().map(|part| part.len()).sum();
        // Relaxed: only an appender stores `published`, and the caller is the only one.
        let start = self.published.load(Ordering::Relaxed);
        assert!(
            length <= self.capacity - start,
            "arena chunk overflow: {length} bytes at {start} of {}",
            self.capacity
        );
        let mut position = start;
        for part in parts {
            // SAFETY: `position + part.len() <= start + length <= capacity` (asserted above),
            // so the destination is inside the buffer. It lies at or beyond `published`, which
            // no reader forms a reference over, and by this function's contract no other
            // thread writes here, so nothing else touches these bytes during the copy. `part`
            // is a borrow the caller holds, so it cannot be this unpublished tail.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    part.as_ptr(),
                    self.buffer.as_ptr().add(position),
                    part.len(),
                );
            }
            position += part.len();
        }
        self.published.store(position, Ordering::Release);
        start
    }
}

impl Chunk {
    /// The published prefix: every byte written so far, none that may still be written.
    fn published_bytes(&self) -> &[u8] {
        let published = self.published.load(Ordering::Acquire);
        // SAFETY: `[0, published)` is inside the buffer, initialised (zeroed at allocation,
        // then copied into), and never written again once published; the Acquire load pairs
        // with the Release store in `append`, so the copied bytes are visible here. The
        // returned slice borrows `self`, so the buffer outlives it.
        unsafe { std::slice::from_raw_parts(self.buffer.as_ptr(), published) }
    }
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        self.published_bytes()
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.buffer.as_ptr(), self.capacity);
        // SAFETY: `buffer` and `capacity` came from `Box::into_raw` of a `Box<[u8]>` of that
        // length in `Chunk::new`, and are freed only here, once; `&mut self` means no
        // reference into the buffer is alive.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// An immutable byte range inside an arena chunk. Cloning shares the chunk.
#[derive(Clone)]
pub struct ArenaBytes {
    chunk: Arc<Chunk>,
    offset: usize,
    length: usize,
}

impl ArenaBytes {
    /// The bytes.
    ///
    /// # Panics
    /// Never for an `ArenaBytes` from [`Arena::alloc_copy`]: its range was published before
    /// it was returned.
    pub fn as_slice(&self) -> &[u8] {
        &self.chunk.published_bytes()[self.offset..self.offset + self.length]
    }

    /// `range` (relative to these bytes) as a [`Value`] that shares the chunk.
    ///
    /// # Panics
    /// If `range` is not within these bytes (a bug in the caller).
    pub fn value(&self, range: std::ops::Range<usize>) -> Value {
        assert!(
            range.start <= range.end && range.end <= self.length,
            "range {range:?} outside {} arena bytes",
            self.length
        );
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = self.chunk.clone();
        Value::from_shared_buffer(owner, self.offset + range.start..self.offset + range.end)
    }

    /// How many bytes.
    pub fn len(&self) -> usize {
        self.length
    }
}

/// Hands out [`ArenaBytes`] copied into shared chunks. See the module documentation. An empty
/// arena (`Arena::default()`) allocates its first chunk on the first [`Arena::alloc_copy`].
#[derive(Default)]
pub struct Arena {
    /// The chunk being filled (none before the first allocation). Its lock makes the holder
    /// the one writer of that chunk.
    current: Mutex<Option<Arc<Chunk>>>,
    /// Bytes copied in, plus the unused tail of every chunk the arena has moved on from.
    charged_bytes: AtomicUsize,
}

impl Arena {
    /// Copies `parts`, concatenated, into the arena.
    pub fn alloc_copy(&self, parts: &[&[u8]]) -> ArenaBytes {
        let length: usize = parts.iter().map(|part| part.len()).sum();
        if length > LARGE_ENTRY_SIZE {
            let chunk = Arc::new(Chunk::new(length));
            // SAFETY: the chunk was just created and is not shared yet: this is the only
            // thread that can append to it.
            let offset = unsafe { chunk.append(parts) };
            self.charged_bytes.fetch_add(length, Ordering::Relaxed);
            return ArenaBytes {
                chunk,
                offset,
                length,
            };
        }
        let mut current = self.lock_current();
        let mut abandoned_tail = 0;
        let chunk = match current.as_ref() {
            Some(chunk) if chunk.remaining() >= length => Arc::clone(chunk),
            previous => {
                abandoned_tail = previous.map_or(0, |chunk| chunk.remaining());
                let chunk = Arc::new(Chunk::new(CHUNK_SIZE));
                *current = Some(Arc::clone(&chunk));
                chunk
            }
        };
        // SAFETY: `current` is locked, and the arena appends to the chunk it holds there only
        // with that lock held (a chunk leaves `current` only to be replaced, and is never
        // appended to again).
        let offset = unsafe { chunk.append(parts) };
        drop(current);
        self.charged_bytes
            .fetch_add(length + abandoned_tail, Ordering::Relaxed);
        ArenaBytes {
            chunk,
            offset,
            length,
        }
    }

    /// Bytes copied in, plus the unused tail of each chunk the arena has moved on from (the
    /// free tail of the chunk being filled is not charged).
    pub fn charged_bytes(&self) -> usize {
        self.charged_bytes.load(Ordering::Relaxed)
    }

    fn lock_current(&self) -> MutexGuard<'_, Option<Arc<Chunk>>> {
        // A panic while holding the lock (an assertion in `append`) leaves `published` at the
        // end of fully written bytes, so the chunk is still consistent.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic, index-dependent bytes, so that a misplaced copy shows.
    fn pattern(index: usize, length: usize) -> Vec<u8> {
        (0..length)
            .map(|position| (index * 31 + position * 7) as u8)
            .collect()
    }

    #[test]
    fn entries_fill_chunks_and_continue_in_new_ones() {
        let arena = Arena::default();
        let mut expected = Vec::new();
        let mut handed_out = Vec::new();
        // Lengths 0..=3000 in an irregular cycle: about 9 MB over a few dozen chunks, with
        // entries of every size meeting chunk ends.
        for index in 0..6_000 {
            let length = (index * 7_919) % 3_001;
            let bytes = pattern(index, length);
            let (key, value) = bytes.split_at(length / 3);
            handed_out.push(arena.alloc_copy(&[key, value]));
            expected.push(bytes);
        }
        let copied: usize = expected.iter().map(Vec::len).sum();
        let mut chunks: Vec<*const Chunk> = Vec::new();
        for (index, (bytes, want)) in handed_out.iter().zip(&expected).enumerate() {
            assert_eq!(bytes.as_slice(), &want[..], "entry {index}");
            assert_eq!(bytes.len(), want.len());
            let chunk = Arc::as_ptr(&bytes.chunk);
            if chunks.last() != Some(&chunk) {
                chunks.push(chunk);
            }
        }
        // Entries go into one chunk until it is full, then never back into an older one.
        let distinct = chunks.len();
        chunks.sort();
        chunks.dedup();
        assert_eq!(chunks.len(), distinct, "an entry went back to an old chunk");
        assert!(
            distinct >= copied / CHUNK_SIZE,
            "{distinct} chunks for {copied} bytes"
        );
        // Charged: every byte copied plus the tails left behind, each shorter than one entry.
        let charged = arena.charged_bytes();
        assert!(charged >= copied, "charged {charged} < copied {copied}");
        assert!(
            charged - copied < (distinct - 1) * 3_000,
            "charged {charged}, copied {copied}, {distinct} chunks"
        );
        assert_eq!(
            charged,
            (distinct - 1) * CHUNK_SIZE
                + handed_out.last().map_or(0, |last| last.offset + last.len()),
            "charged must be the full chunks left behind plus the current one's used prefix"
        );
    }

    #[test]
    fn large_entries_get_a_chunk_of_their_own() {
        let arena = Arena::default();
        let small_before = arena.alloc_copy(&[b"key", b"value"]);
        let large_value = pattern(1, CHUNK_SIZE + 17);
        let large = arena.alloc_copy(&[b"big", &large_value]);
        let small_after = arena.alloc_copy(&[b"k2", b"v2"]);
        let quarter = pattern(2, LARGE_ENTRY_SIZE);
        let at_threshold = arena.alloc_copy(&[&quarter]);

        assert_eq!(large.len(), CHUNK_SIZE + 20);
        assert_eq!(&large.as_slice()[..3], b"big");
        assert_eq!(&large.as_slice()[3..], &large_value[..]);
        assert_eq!(large.chunk.capacity, CHUNK_SIZE + 20);
        assert!(!Arc::ptr_eq(&large.chunk, &small_before.chunk));
        // The small entries keep filling the same chunk around the large one.
        assert!(Arc::ptr_eq(&small_before.chunk, &small_after.chunk));
        assert_eq!(small_after.offset, 8);
        assert_eq!(small_after.as_slice(), b"k2v2");
        // An entry of exactly a quarter chunk still goes into the shared chunk.
        assert!(Arc::ptr_eq(&at_threshold.chunk, &small_before.chunk));
        assert_eq!(at_threshold.as_slice(), &quarter[..]);
        assert_eq!(small_before.as_slice(), b"keyvalue");
        assert_eq!(
            arena.charged_bytes(),
            8 + CHUNK_SIZE + 20 + 4 + LARGE_ENTRY_SIZE
        );
    }

    #[test]
    fn empty_entries_and_empty_parts() {
        let arena = Arena::default();
        let empty = arena.alloc_copy(&[]);
        let empty_parts = arena.alloc_copy(&[b"", b""]);
        let mixed = arena.alloc_copy(&[b"", b"ab", b"", b"c"]);
        assert_eq!(empty.as_slice(), b"");
        assert_eq!(empty_parts.as_slice(), b"");
        assert_eq!(mixed.as_slice(), b"abc");
        assert_eq!(&*mixed.value(1..3), b"bc");
        assert_eq!(&*empty.value(0..0), b"");
        assert_eq!(arena.charged_bytes(), 3);
    }

    #[test]
    fn values_share_the_chunk_and_outlive_the_arena() {
        let arena = Arena::default();
        let bytes = arena.alloc_copy(&[b"user-key", b"the value"]);
        let value = bytes.value(8..17);
        let other = arena.alloc_copy(&[b"next"]);
        // Arena, entry and value each hold the chunk.
        assert_eq!(Arc::strong_count(&bytes.chunk), 4);
        drop(arena);
        drop(bytes);
        drop(other);
        assert_eq!(value, b"the value"[..]);
        assert_eq!(value.clone().to_vec(), b"the value".to_vec());
    }

    #[test]
    #[should_panic(expected = "outside 3 arena bytes")]
    fn value_range_outside_the_entry_is_a_bug() {
        let arena = Arena::default();
        let bytes = arena.alloc_copy(&[b"abc"]);
        let _neighbour = arena.alloc_copy(&[b"def"]);
        let _ = bytes.value(1..4);
    }

    #[test]
    fn concurrent_writers_and_readers_see_whole_entries() {
        let arena = Arc::new(Arena::default());
        let (sender, receiver) = std::sync::mpsc::channel::<(usize, ArenaBytes)>();
        let writers: Vec<_> = (0..3)
            .map(|thread| {
                let arena = arena.clone();
                let sender = sender.clone();
                std::thread::spawn(move || {
                    for step in 0..3_000 {
                        let index = thread * 10_000 + step;
                        let bytes = pattern(index, (index * 13) % 700);
                        let (key, value) = bytes.split_at(bytes.len() / 2);
                        let handed_out = arena.alloc_copy(&[key, value]);
                        assert_eq!(handed_out.as_slice(), &bytes[..], "entry {index}");
                        sender.send((index, handed_out)).unwrap();
                    }
                })
            })
            .collect();
        drop(sender);
        // This thread reads entries while the writers keep appending to the same chunks.
        let mut received = 0;
        for (index, bytes) in receiver {
            let want = pattern(index, (index * 13) % 700);
            assert_eq!(bytes.as_slice(), &want[..], "entry {index}");
            assert_eq!(&*bytes.value(0..want.len()), &want[..], "entry {index}");
            received += 1;
        }
        for writer in writers {
            writer.join().unwrap();
        }
        assert_eq!(received, 9_000);
    }
}
