//! [`BlockBuilder`]: encodes sorted entries into one block with key prefix compression and
//! restart points.
//!
//! Block contents (FORMAT.md, section 5, "Blocks"):
//! `entry* restart_offset(u32)* restart_count(u32)`, where an entry is
//! `shared varint32, unshared varint32, value_length varint32, key_delta, value`. Every
//! `restart_interval`-th entry is a restart point: it stores its whole key (`shared = 0`) and its
//! offset is listed in the restart array, so a reader can binary-search restarts.
//!
//! Invariant: keys are added in strictly increasing internal-key order; the table builder checks
//! this for caller input, so here it is only a debug assertion.

use std::cmp::Ordering;

use crate::coding::{put_u32, put_varint32};
use crate::key::compare_internal_keys;

/// Builds the contents of one block (before compression and trailer).
#[derive(Debug)]
pub struct BlockBuilder {
    buffer: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    entries_since_restart: usize,
    entry_count: usize,
    last_key: Vec<u8>,
}

impl BlockBuilder {
    /// An empty builder that writes a restart point every `restart_interval` entries (at least 1).
    pub fn new(restart_interval: usize) -> Self {
        assert!(restart_interval >= 1, "restart interval must be at least 1");
        BlockBuilder {
            buffer: Vec::new(),
            restarts: vec![0],
            restart_interval,
            entries_since_restart: 0,
            entry_count: 0,
            last_key: Vec::new(),
        }
    }

    /// Appends an entry. `key` must sort after every key added since the last reset, and the
    /// block must stay below 4 GiB (the table builder bounds entries, so it does).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(
            self.entry_count == 0 || compare_internal_keys(&self.last_key, key) == Ordering::Less,
            "block keys must strictly increase"
        );
        let shared = if self.entries_since_restart < self.restart_interval {
            common_prefix_length(&self.last_key, key)
        } else {
            self.restarts.push(self.offset_u32());
            self.entries_since_restart = 0;
            0
        };
        let unshared = &key[shared..];
        put_varint32(&mut self.buffer, to_u32(shared));
        put_varint32(&mut self.buffer, to_u32(unshared.len()));
        put_varint32(&mut self.buffer, to_u32(value.len()));
        self.buffer.extend_from_slice(unshared);
        self.buffer.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(unshared);
        self.entries_since_restart += 1;
        self.entry_count += 1;
    }

    /// The size the block would have if finished now.
    pub fn size_estimate(&self) -> usize {
        self.buffer.len() + 4 * self.restarts.len() + 4
    }

    /// Entries added since the last reset.
    pub fn entry_count(&self) -> usize {
        self.entry_count
    }

    /// Whether no entry was added since the last reset.
    pub fn is_empty(&self) -> bool {
        self.entry_count == 0
    }

    /// The last key added (empty if none).
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Appends the restart array and returns the finished block contents; the builder is reset
    /// for the next block.
    pub fn finish(&mut self) -> Vec<u8> {
        // The next block starts with room for as many bytes, not with an empty buffer that
        // grows (and is copied) a dozen times on the way to the block size.
        let capacity = self.buffer.capacity();
        let mut contents = std::mem::replace(&mut self.buffer, Vec::with_capacity(capacity));
        for &restart in &self.restarts {
            put_u32(&mut contents, restart);
        }
        put_u32(&mut contents, to_u32(self.restarts.len()));
        self.reset();
        contents
    }

    /// Forgets every entry.
    pub fn reset(&mut self) {
        self.buffer.clear();
        self.restarts.clear();
        self.restarts.push(0);
        self.entries_since_restart = 0;
        self.entry_count = 0;
        self.last_key.clear();
    }

    fn offset_u32(&self) -> u32 {
        to_u32(self.buffer.len())
    }
}

/// The length of the longest common prefix of `a` and `b`, compared 8 bytes at a time.
fn common_prefix_length(a: &[u8], b: &[u8]) -> usize {
    let words = a.chunks_exact(8).zip(b.chunks_exact(8));
    let mut shared = 0;
    for (x, y) in words {
        if x != y {
            break;
        }
        shared += 8;
    }
    let rest = a.get(shared..).unwrap_or(&[]).iter().zip(b.get(shared..).unwrap_or(&[]));
    shared + rest.take_while(|(x, y)| x == y).count()
}

fn to_u32(length: usize) -> u32 {
    u32::try_from(length).expect("block sizes are bounded well below 4 GiB by the table builder")
}

#[cfg(test)]
mod tests {
    use super::common_prefix_length;

    #[test]
    fn common_prefix_length_matches_a_bytewise_count() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"abc", b""),
            (b"abcdefgh", b"abcdefgh"),
            (b"abcdefghij", b"abcdefghik"),
            (b"abcdefgXij", b"abcdefghij"),
            (b"0000000000001234", b"0000000000001299"),
            (b"abcdefghabcdefgh1", b"abcdefghabcdefgh"),
        ];
        for (a, b) in cases {
            let bytewise = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            assert_eq!(common_prefix_length(a, b), bytewise, "{a:?} {b:?}");
            assert_eq!(common_prefix_length(b, a), bytewise, "{b:?} {a:?}");
        }
    }
}
