//! SplitMix64, the benchmark's small seeded pseudo-random generator: the same seed always gives
//! the same keys and values, so two runs measure the same work. Not for cryptography.

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`; `bound` must be positive. The modulo bias is negligible for the
    /// bounds a benchmark uses (far below 2^64).
    pub fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0, "SplitMix64::below needs a positive bound");
        self.next_u64() % bound
    }
}
