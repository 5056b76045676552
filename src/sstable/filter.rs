//! The bloom filter over a table's user keys: [`FilterBuilder`] writes it, [`BloomFilter`]
//! answers "may this user key be in the table?".
//!
//! FORMAT.md, section 5 ("Filter block"), is the source of truth. The filter block is
//! `bits (bit_count / 8 bytes) || probe_count (u8)`. A key is hashed once with 64-bit xxh3; the
//! low and high 32 bits are `h1` and `h2`, and probe `i` (0-based) sets or tests bit
//! `(h1 + i * h2) mod bit_count`, bit `b` being bit `b % 8` of byte `b / 8`.
//!
//! Invariant: no false negatives. Every key added to the builder answers `true`.

use xxhash_rust::xxh3::xxh3_64;

/// Fewest probes per key.
pub const MIN_PROBES: u32 = 1;
/// Most probes per key; a reader refuses a filter claiming more.
pub const MAX_PROBES: u32 = 30;
/// Smallest filter, in bits, so that tiny tables do not get a uselessly small filter.
const MIN_BITS: usize = 64;

/// The number of probes for `bits_per_key`: `round(bits_per_key * ln 2)` clamped to 1..=30.
pub fn probe_count(bits_per_key: u32) -> u32 {
    let ideal = (f64::from(bits_per_key) * std::f64::consts::LN_2).round() as u32;
    ideal.clamp(MIN_PROBES, MAX_PROBES)
}

/// The hash a filter stores for a user key.
pub fn filter_hash(user_key: &[u8]) -> u64 {
    xxh3_64(user_key)
}

/// Collects user-key hashes and writes the filter block.
#[derive(Debug)]
pub struct FilterBuilder {
    bits_per_key: u32,
    hashes: Vec<u64>,
}

impl FilterBuilder {
    /// A builder for `bits_per_key` bits per key (at least 1).
    pub fn new(bits_per_key: u32) -> Self {
        assert!(bits_per_key >= 1, "a filter needs at least one bit per key");
        FilterBuilder {
            bits_per_key,
            hashes: Vec::new(),
        }
    }

    /// Adds a user key. Callers skip repeats of the same user key; duplicates only waste bits.
    pub fn add_key(&mut self, user_key: &[u8]) {
        self.hashes.push(filter_hash(user_key));
    }

    /// Keys added so far.
    pub fn key_count(&self) -> usize {
        self.hashes.len()
    }

    /// The filter block contents.
    pub fn finish(&self) -> Vec<u8> {
        let wanted_bits = self.hashes.len().saturating_mul(self.bits_per_key as usize);
        let byte_count = wanted_bits.max(MIN_BITS).div_ceil(8);
        let bit_count = (byte_count * 8) as u64;
        let probes = probe_count(self.bits_per_key);
        let mut filter = vec![0u8; byte_count + 1];
        for &hash in &self.hashes {
            for bit in probe_positions(hash, probes, bit_count) {
                filter[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
        filter[byte_count] = probes as u8;
        filter
    }
}

fn probe_positions(hash: u64, probes: u32, bit_count: u64) -> impl Iterator<Item = u64> {
    let h1 = hash & 0xffff_ffff;
    let h2 = hash >> 32;
    (0..u64::from(probes)).map(move |probe| (h1 + probe * h2) % bit_count)
}

/// A decoded filter block.
#[derive(Debug, Clone)]
pub struct BloomFilter {
    bits: Vec<u8>,
    probes: u32,
}

impl BloomFilter {
    /// Decodes a filter block, or says why it is malformed (offset within the block, reason).
    pub fn decode(contents: &[u8]) -> Result<BloomFilter, (usize, String)> {
        let Some((&probes, bits)) = contents.split_last() else {
            return Err((0, "empty filter block".to_string()));
        };
        let probes = u32::from(probes);
        if !(MIN_PROBES..=MAX_PROBES).contains(&probes) {
            return Err((
                bits.len(),
                format!("filter probe count {probes} outside {MIN_PROBES}..={MAX_PROBES}"),
            ));
        }
        if bits.is_empty() {
            return Err((0, "filter block has no bits".to_string()));
        }
        Ok(BloomFilter {
            bits: bits.to_vec(),
            probes,
        })
    }

    /// False if `user_key` is certainly not in the table; true if it may be.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.may_contain_hash(filter_hash(user_key))
    }

    /// [`may_contain`](Self::may_contain) for a hash from [`filter_hash`].
    pub fn may_contain_hash(&self, hash: u64) -> bool {
        let bit_count = self.bits.len() as u64 * 8;
        probe_positions(hash, self.probes, bit_count).all(|bit| {
            self.bits
                .get((bit / 8) as usize)
                .is_some_and(|byte| byte & (1 << (bit % 8)) != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_count_rounds_and_clamps() {
        assert_eq!(probe_count(10), 7);
        assert_eq!(probe_count(1), 1);
        assert_eq!(probe_count(100), 30);
    }

    #[test]
    fn malformed_filters_are_errors() {
        assert!(BloomFilter::decode(&[]).is_err());
        assert!(BloomFilter::decode(&[0xff, 0]).is_err());
        assert!(BloomFilter::decode(&[0xff, 31]).is_err());
        assert!(BloomFilter::decode(&[7]).is_err());
    }
}
