//! The request distributions of the YCSB core workloads, as the YCSB paper (Cooper et al.,
//! "Benchmarking Cloud Serving Systems with YCSB", SoCC 2010) and its reference client define
//! them, written here from those definitions:
//!
//! - [`Zipfian`]: item `i` (0-based rank) drawn with probability `1 / (i + 1)^θ / ζ(n, θ)`,
//!   by the method of Gray et al. ("Quickly Generating Billion-Record Synthetic Databases",
//!   SIGMOD 1994), which is exact for the two hottest items and close for the rest; the item
//!   count may grow, and ζ then grows by the new terms only.
//! - [`ScrambledZipfian`]: the reference client's request distribution. A zipfian with θ = 0.99
//!   over a fixed 10^10 items (whose ζ is the constant [`SCRAMBLED_ZETA`]), each draw hashed
//!   with [`fnv_hash64`] and taken modulo the item count, so that the popular items are spread
//!   over the key space instead of being the first ones loaded.
//! - [`SkewedLatest`]: workload D's "latest": the newest acknowledged insert minus a zipfian
//!   draw over the records, so the most recent inserts are the most read.
//! - [`InsertSequence`]: the key numbers of inserts, shared by the client threads, and how many
//!   records are known to be present (every key number below it was inserted and
//!   acknowledged), which bounds every request distribution so that reads find their keys.
//!
//! A leaf: it imports only the random generator.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::random::SplitMix64;

/// YCSB's zipfian constant θ.
pub const ZIPFIAN_CONSTANT: f64 = 0.99;
/// The items of the zipfian a [`ScrambledZipfian`] draws from before it folds the draws onto
/// its own items: ten billion, whatever the record count.
pub const SCRAMBLED_ITEMS: u64 = 10_000_000_000;
/// ζ(10^10, 0.99), the normalising sum of [`SCRAMBLED_ITEMS`] (a unit test recomputes it).
pub const SCRAMBLED_ZETA: f64 = 26.469_028_201_783_02;
/// FNV-1a's 64-bit offset basis and prime.
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over the eight bytes of `value`, lowest first, then the absolute value of the result
/// read as a signed number (as the reference client's hash does): below 2^63, except for
/// 2^63 itself.
pub fn fnv_hash64(value: u64) -> u64 {
    let mut hash = FNV_OFFSET_BASIS;
    for byte in value.to_le_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    (hash as i64).unsigned_abs()
}

/// `Σ 1 / i^θ` for `i` in `from + 1 ..= to`: the terms that take ζ(from, θ) to ζ(to, θ).
pub fn zeta_terms(from: u64, to: u64, theta: f64) -> f64 {
    (from + 1..=to).map(|i| 1.0 / (i as f64).powf(theta)).sum()
}

/// A uniform number in `[0, 1)` with 53 random bits.
fn unit(random: &mut SplitMix64) -> f64 {
    (random.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A zipfian distribution over items `0..items` (0 the most popular).
#[derive(Debug, Clone)]
pub struct Zipfian {
    theta: f64,
    alpha: f64,
    /// ζ(2, θ).
    zeta_two: f64,
    /// The item count `zeta_items` is for, and ζ(items, θ).
    items: u64,
    zeta_items: f64,
    eta: f64,
}

impl Zipfian {
    /// A zipfian over `items` items (at least one) with constant `theta` (in `(0, 1)`),
    /// computing ζ: linear in `items`.
    pub fn new(items: u64, theta: f64) -> Zipfian {
        let items = items.max(1);
        Zipfian::with_zeta(items, theta, zeta_terms(0, items, theta))
    }

    /// A zipfian over `items` items whose ζ(items, θ) is already known.
    pub fn with_zeta(items: u64, theta: f64, zeta_items: f64) -> Zipfian {
        let mut zipfian = Zipfian {
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta_two: zeta_terms(0, 2, theta),
            items,
            zeta_items,
            eta: 0.0,
        };
        zipfian.eta = zipfian.eta_for(items);
        zipfian
    }

    fn eta_for(&self, items: u64) -> f64 {
        (1.0 - (2.0 / items as f64).powf(1.0 - self.theta))
            / (1.0 - self.zeta_two / self.zeta_items)
    }

    /// Grows (or shrinks) the distribution to `items` items: growing adds only the new terms of
    /// ζ; shrinking, which no workload does, recomputes it.
    fn resize(&mut self, items: u64) {
        let items = items.max(1);
        if items == self.items {
            return;
        }
        self.zeta_items = if items > self.items {
            self.zeta_items + zeta_terms(self.items, items, self.theta)
        } else {
            zeta_terms(0, items, self.theta)
        };
        self.items = items;
        self.eta = self.eta_for(items);
    }

    /// The next item, in `0..items`.
    pub fn next(&self, random: &mut SplitMix64) -> u64 {
        let u = unit(random);
        let uz = u * self.zeta_items;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.items - 1);
        }
        let spread = self.items as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha);
        (spread as u64).min(self.items - 1)
    }

    /// The next item of a distribution grown to `items` items.
    pub fn next_of(&mut self, items: u64, random: &mut SplitMix64) -> u64 {
        self.resize(items);
        self.next(random)
    }
}

/// YCSB's scrambled zipfian over items `0..items`: zipfian popularity, the popular items
/// scattered by a hash.
#[derive(Debug, Clone)]
pub struct ScrambledZipfian {
    zipfian: Zipfian,
    items: u64,
}

impl ScrambledZipfian {
    /// A scrambled zipfian over `items` items (at least one).
    pub fn new(items: u64) -> ScrambledZipfian {
        ScrambledZipfian {
            zipfian: Zipfian::with_zeta(SCRAMBLED_ITEMS, ZIPFIAN_CONSTANT, SCRAMBLED_ZETA),
            items: items.max(1),
        }
    }

    /// The next item, in `0..items`.
    pub fn next(&self, random: &mut SplitMix64) -> u64 {
        fnv_hash64(self.zipfian.next(random)) % self.items
    }
}

/// YCSB's skewed-latest distribution: the newest record the most popular.
#[derive(Debug, Clone)]
pub struct SkewedLatest {
    zipfian: Zipfian,
}

impl SkewedLatest {
    /// A skewed-latest distribution over the `records` records present now (at least one).
    pub fn new(records: u64) -> SkewedLatest {
        SkewedLatest {
            zipfian: Zipfian::new(records, ZIPFIAN_CONSTANT),
        }
    }

    /// The next key number among `0..records` (`records` at least one): `records - 1` minus a
    /// zipfian draw over as many items.
    pub fn next(&mut self, records: u64, random: &mut SplitMix64) -> u64 {
        let records = records.max(1);
        records - 1 - self.zipfian.next_of(records, random)
    }
}

/// The key numbers of the inserts of one run, claimed by any client thread, and the records
/// known to be present: every key number below [`InsertSequence::records`] was loaded or
/// inserted, and acknowledged. An insert claims a number, writes it, then acknowledges it; the
/// count moves past a number only once every smaller one is acknowledged too, so a reader that
/// picks below it always finds its key (the reference client's acknowledged counter).
#[derive(Debug)]
pub struct InsertSequence {
    next: AtomicU64,
    records: AtomicU64,
    /// Acknowledged numbers above `records`, waiting for a smaller one.
    pending: Mutex<BTreeSet<u64>>,
}

impl InsertSequence {
    /// A sequence whose next insert is key number `records` (records `0..records` present).
    pub fn new(records: u64) -> InsertSequence {
        InsertSequence {
            next: AtomicU64::new(records),
            records: AtomicU64::new(records),
            pending: Mutex::new(BTreeSet::new()),
        }
    }

    /// The key number of the next insert.
    pub fn claim(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Marks `number`'s insert as done.
    pub fn acknowledge(&self, number: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.insert(number);
        let mut records = self.records.load(Ordering::Acquire);
        while pending.remove(&records) {
            records += 1;
        }
        self.records.store(records, Ordering::Release);
    }

    /// Records `0..records()` are all present.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: u64 = 1_000_000;

    fn counts(items: u64, mut draw: impl FnMut(&mut SplitMix64) -> u64) -> Vec<u64> {
        let mut random = SplitMix64::new(42);
        let mut counts = vec![0u64; items as usize];
        for _ in 0..SAMPLES {
            let item = draw(&mut random);
            assert!(item < items, "{item} out of 0..{items}");
            counts[item as usize] += 1;
        }
        counts
    }

    fn share(count: u64) -> f64 {
        count as f64 / SAMPLES as f64
    }

    #[test]
    fn fnv_hash_matches_fnv1a_over_the_little_endian_bytes() {
        // FNV-1a of eight zero bytes, by hand from the offset basis and prime.
        let mut expected = FNV_OFFSET_BASIS;
        for _ in 0..8 {
            expected = expected.wrapping_mul(FNV_PRIME);
        }
        assert_eq!(fnv_hash64(0), (expected as i64).unsigned_abs());
        assert_ne!(fnv_hash64(1), fnv_hash64(256));
        assert!((0..10_000).all(|n| fnv_hash64(n) <= 1 << 63));
    }

    #[test]
    fn the_scrambled_zeta_constant_is_zeta_of_ten_billion_items() {
        // Exact terms up to 10^6, then Euler–Maclaurin for the rest:
        // Σ_{m<i≤n} i^-θ ≈ (n^(1-θ) - m^(1-θ)) / (1-θ) + (n^-θ - m^-θ) / 2.
        let (m, n, theta) = (1e6f64, SCRAMBLED_ITEMS as f64, ZIPFIAN_CONSTANT);
        let head = zeta_terms(0, 1_000_000, theta);
        let tail = (n.powf(1.0 - theta) - m.powf(1.0 - theta)) / (1.0 - theta)
            + (n.powf(-theta) - m.powf(-theta)) / 2.0;
        assert!(
            (head + tail - SCRAMBLED_ZETA).abs() < 1e-6,
            "{}",
            head + tail
        );
    }

    #[test]
    fn zipfian_gives_the_hottest_items_their_theoretical_share() {
        let items = 1_000;
        let zipfian = Zipfian::new(items, ZIPFIAN_CONSTANT);
        let counts = counts(items, |random| zipfian.next(random));
        let zeta = zeta_terms(0, items, ZIPFIAN_CONSTANT);
        // Gray et al.'s method is exact for the two hottest items, approximate after them.
        for rank in [0u64, 1] {
            let expected = 1.0 / ((rank + 1) as f64).powf(ZIPFIAN_CONSTANT) / zeta;
            let measured = share(counts[rank as usize]);
            assert!(
                (measured - expected).abs() < 0.05 * expected,
                "rank {rank}: {measured} against {expected}"
            );
        }
        assert!(counts[1] > counts[2] && counts[2] > counts[9] && counts[9] > counts[99]);
        // Skewed: the first tenth of the items takes most of the draws.
        let head: u64 = counts[..100].iter().sum();
        assert!(share(head) > 0.6, "{}", share(head));
    }

    #[test]
    fn zipfian_grown_item_by_item_equals_one_built_at_the_final_size() {
        let mut grown = Zipfian::new(10, ZIPFIAN_CONSTANT);
        for items in 11..=5_000 {
            grown.resize(items);
        }
        let built = Zipfian::new(5_000, ZIPFIAN_CONSTANT);
        assert!((grown.zeta_items - built.zeta_items).abs() < 1e-9);
        assert!((grown.eta - built.eta).abs() < 1e-9);
    }

    #[test]
    fn scrambled_zipfian_is_skewed_and_covers_the_key_space() {
        let items = 1_000;
        let scrambled = ScrambledZipfian::new(items);
        let counts = counts(items, |random| scrambled.next(random));
        // The hottest item takes about rank 0's share of the 10^10-item zipfian, 1/ζ = 3.8%,
        // plus its part of the folded tail.
        let hottest = share(counts.iter().copied().max().unwrap_or(0));
        assert!((0.035..0.045).contains(&hottest), "{hottest}");
        // Every item is drawn (the folded tail gives each about 0.7/items).
        assert!(counts.iter().all(|&count| count > 0));
        // The popular items are scattered, not the first ones.
        let mut by_count: Vec<usize> = (0..items as usize).collect();
        by_count.sort_by_key(|&item| std::cmp::Reverse(counts[item]));
        let hottest_ten = &by_count[..10];
        assert!(hottest_ten.iter().filter(|&&item| item < 10).count() < 5);
        assert_eq!(by_count[0] as u64, fnv_hash64(0) % items);
    }

    #[test]
    fn skewed_latest_favours_the_newest_records() {
        let records = 1_000;
        let mut latest = SkewedLatest::new(records);
        let counts = counts(records, |random| latest.next(records, random));
        let newest = share(counts[(records - 1) as usize]);
        let expected = 1.0 / zeta_terms(0, records, ZIPFIAN_CONSTANT);
        assert!((newest - expected).abs() < 0.1 * expected, "{newest}");
        let last_tenth: u64 = counts[900..].iter().sum();
        let first_tenth: u64 = counts[..100].iter().sum();
        assert!(
            last_tenth > 10 * first_tenth,
            "{last_tenth} vs {first_tenth}"
        );
        // New records become the newest at once.
        let mut random = SplitMix64::new(7);
        let hits = (0..10_000)
            .filter(|_| latest.next(2_000, &mut random) == 1_999)
            .count();
        assert!(hits > 500, "{hits}");
    }

    #[test]
    fn insert_sequence_counts_only_records_with_every_smaller_one_acknowledged() {
        let sequence = InsertSequence::new(10);
        let (first, second, third) = (sequence.claim(), sequence.claim(), sequence.claim());
        assert_eq!((first, second, third), (10, 11, 12));
        sequence.acknowledge(second);
        assert_eq!(sequence.records(), 10);
        sequence.acknowledge(first);
        assert_eq!(sequence.records(), 12);
        sequence.acknowledge(third);
        assert_eq!(sequence.records(), 13);
    }
}
