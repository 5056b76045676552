//! The key and value generators every workload of `shale bench` shares: [`KeyMaker`] writes
//! entry numbers as zero-padded decimal keys of the configured size, and [`ValuePool`] cuts
//! values of the configured size from one pre-generated, seeded buffer. A leaf: it imports only
//! the random generator.

use super::random::SplitMix64;

/// Seed of the values' generator; fixed so that runs are repeatable.
const VALUE_SEED: u64 = 0x5eed_0001;

/// Writes keys into a reused buffer of the configured size.
pub(super) struct KeyMaker {
    buffer: Vec<u8>,
}

impl KeyMaker {
    pub(super) fn new(key_size: usize) -> Self {
        KeyMaker {
            buffer: vec![b'0'; key_size],
        }
    }

    /// `number` in decimal, zero-padded to the key size (the configuration checked it fits).
    pub(super) fn key(&mut self, mut number: u64) -> &[u8] {
        for digit in self.buffer.iter_mut().rev() {
            *digit = b'0' + (number % 10) as u8;
            number /= 10;
        }
        &self.buffer
    }
}

/// Values cut from one pre-generated buffer, so that making a value costs nothing in the timed
/// loops. Each 64-byte stretch is 32 random bytes repeated once, so LZ4 halves it roughly, as
/// LevelDB's db_bench does with its default compression ratio.
pub(super) struct ValuePool {
    bytes: Vec<u8>,
    value_size: usize,
}

impl ValuePool {
    pub(super) fn new(value_size: usize) -> Self {
        let length = (1 << 20).max(2 * value_size) + 64;
        let mut random = SplitMix64::new(VALUE_SEED);
        let mut bytes = Vec::with_capacity(length);
        while bytes.len() < length {
            let half: Vec<u8> = (0..4)
                .flat_map(|_| random.next_u64().to_le_bytes())
                .collect();
            bytes.extend_from_slice(&half);
            bytes.extend_from_slice(&half);
        }
        ValuePool { bytes, value_size }
    }

    /// The value of entry `index`: a slice at a position spread over the pool.
    pub(super) fn value(&self, index: u64) -> &[u8] {
        let starts = (self.bytes.len() - self.value_size + 1) as u64;
        let start = (index.wrapping_mul(7919) % starts) as usize;
        &self.bytes[start..start + self.value_size]
    }
}
