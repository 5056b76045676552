//! [`Histogram`]: a lock-free histogram of durations (or any `u64`) with percentiles, and
//! [`LatencySummary`], the plain summary of one that `Stats` reports.
//!
//! Values are bucketed log-linearly (four buckets per power of two), so a reported percentile
//! is within 19% above the true value. Recording is a few relaxed atomic adds: a histogram read
//! while writers record may be a few values behind, never torn.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets per power of two.
const SUB_BUCKETS: usize = 4;
/// Values below 4 have a bucket each; each power of two from 2^2 to 2^63 has four.
const BUCKET_COUNT: usize = 63 * SUB_BUCKETS;

/// A histogram of durations (or any `u64`), with percentiles.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKET_COUNT).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

fn bucket_of(value: u64) -> usize {
    if value < SUB_BUCKETS as u64 {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros() as usize; // >= 2
    let mantissa = ((value >> (exponent - 2)) & 0b11) as usize;
    (exponent - 1) * SUB_BUCKETS + mantissa
}

/// The largest value that falls in `bucket`.
fn bucket_upper_bound(bucket: usize) -> u64 {
    if bucket < SUB_BUCKETS {
        return bucket as u64;
    }
    let exponent = bucket / SUB_BUCKETS + 1;
    let mantissa = (bucket % SUB_BUCKETS) as u64;
    let base = 1u64 << exponent;
    let step = 1u64 << (exponent - 2);
    (base - 1).saturating_add((mantissa + 1) * step)
}

impl Histogram {
    /// Records one value.
    pub fn record(&self, value: u64) {
        self.buckets[bucket_of(value)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.max.fetch_max(value, Ordering::Relaxed);
    }

    /// Records a duration in nanoseconds.
    pub fn record_duration(&self, duration: Duration) {
        self.record(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The sum of every value recorded.
    pub fn sum(&self) -> u64 {
        self.sum.load(Ordering::Relaxed)
    }

    /// The largest value recorded.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// The mean value, 0 when empty.
    pub fn mean(&self) -> f64 {
        let count = self.count();
        if count == 0 {
            0.0
        } else {
            self.sum() as f64 / count as f64
        }
    }

    /// An upper bound on the `quantile` (0.0..=1.0) value, never above the maximum; 0 when empty.
    pub fn percentile(&self, quantile: f64) -> u64 {
        let count = self.count();
        if count == 0 {
            return 0;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, counter) in self.buckets.iter().enumerate() {
            seen += counter.load(Ordering::Relaxed);
            if seen >= rank {
                return bucket_upper_bound(bucket).min(self.max());
            }
        }
        self.max()
    }

    /// A plain summary of durations recorded in nanoseconds.
    pub fn latency_summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count(),
            mean: Duration::from_nanos(self.mean() as u64),
            p50: Duration::from_nanos(self.percentile(0.50)),
            p99: Duration::from_nanos(self.percentile(0.99)),
            p999: Duration::from_nanos(self.percentile(0.999)),
            max: Duration::from_nanos(self.max()),
        }
    }
}

/// Count, mean and percentiles of a latency.
///
/// ```
/// use shaledb::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// for index in 0..10u32 {
///     db.put(&index.to_be_bytes(), b"v")?; // synced: one fsync each
/// }
/// let fsyncs = db.stats().fsync_latency;
/// assert_eq!(fsyncs.count, 10);
/// assert!(fsyncs.p50 <= fsyncs.p99 && fsyncs.p99 <= fsyncs.max);
/// println!("fsync: {fsyncs}"); // n=10 mean=... p50=... p99=... p99.9=... max=...
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// How many were measured.
    pub count: u64,
    /// Their mean.
    pub mean: Duration,
    /// Median (upper bound of its bucket).
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// The largest.
    pub max: Duration,
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={} mean={:?} p50={:?} p99={:?} p99.9={:?} max={:?}",
            self.count, self.mean, self.p50, self.p99, self.p999, self.max
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut previous_bound = 0;
        for bucket in 0..BUCKET_COUNT {
            let bound = bucket_upper_bound(bucket);
            assert!(bucket == 0 || bound > previous_bound, "bucket {bucket}");
            assert_eq!(bucket_of(bound), bucket, "upper bound of bucket {bucket}");
            previous_bound = bound;
        }
        for value in [0, 1, 3, 4, 5, 7, 8, 1000, 123_456_789, u64::MAX] {
            let bucket = bucket_of(value);
            assert!(value <= bucket_upper_bound(bucket));
            assert!(bucket == 0 || value > bucket_upper_bound(bucket - 1));
        }
    }

    #[test]
    fn percentiles_are_close_upper_bounds() {
        let histogram = Histogram::default();
        for value in 1..=10_000u64 {
            histogram.record(value);
        }
        assert_eq!(histogram.count(), 10_000);
        assert_eq!(histogram.max(), 10_000);
        assert!((histogram.mean() - 5_000.5).abs() < 1e-9);
        for (quantile, exact) in [(0.5, 5_000u64), (0.99, 9_900), (0.999, 9_990)] {
            let estimate = histogram.percentile(quantile);
            assert!(estimate >= exact, "p{quantile}: {estimate} < {exact}");
            assert!(
                estimate as f64 <= exact as f64 * 1.25,
                "p{quantile}: {estimate} vs {exact}"
            );
        }
        assert_eq!(histogram.percentile(1.0), 10_000);
        assert_eq!(Histogram::default().percentile(0.5), 0);
    }
}
