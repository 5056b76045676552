//! Counters and latency histograms the engine updates as it works, and [`Stats`], the plain
//! snapshot of them that `Db::stats` returns.
//!
//! Everything here is lock-free (relaxed atomics): a counter read while writers run may be a few
//! operations behind, never torn. Histograms bucket values log-linearly (four buckets per power
//! of two), so a reported percentile is within 19% above the true value.

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

/// The engine's counters, updated as it works.
#[derive(Default)]
pub(crate) struct EngineStats {
    /// Latency of each write-ahead-log fdatasync, in nanoseconds.
    pub fsync_latency: Histogram,
    /// Time writers spent waiting for flushes, in nanoseconds, one value per stall.
    pub stalls: Histogram,
    /// Memtables written to level-0 tables.
    pub flushes: AtomicU64,
    /// Bytes of level-0 tables written by flushes.
    pub flush_bytes: AtomicU64,
}

impl EngineStats {
    /// Records one stall of `duration`.
    pub fn record_stall(&self, duration: Duration) {
        self.stalls.record_duration(duration);
    }

    /// Records a finished flush that wrote `bytes`.
    pub fn record_flush(&self, bytes: u64) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.flush_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A plain snapshot of these counters with the `gauges` read by the caller.
    pub fn snapshot(&self, gauges: Gauges<'_>) -> Stats {
        let commit = gauges.commit;
        Stats {
            levels: gauges
                .levels
                .iter()
                .map(|&(files, bytes)| LevelStats { files, bytes })
                .collect(),
            memtable_bytes: gauges.memtable_bytes,
            immutable_memtables: gauges.immutable_memtables,
            immutable_memtable_bytes: gauges.immutable_bytes,
            write_groups: commit.batches.count(),
            batches_per_group_mean: commit.batches.mean(),
            batches_per_group_max: commit.batches.max(),
            bytes_per_group_mean: commit.bytes.mean(),
            bytes_per_group_max: commit.bytes.max(),
            synced_groups: commit.synced_groups.load(Ordering::Relaxed),
            fsync_latency: self.fsync_latency.latency_summary(),
            stall_count: self.stalls.count(),
            stall_time: Duration::from_nanos(self.stalls.sum()),
            cache_hits: gauges.cache.hits(),
            cache_misses: gauges.cache.misses(),
            cache_bytes: gauges.cache.usage() as u64,
            flushes: self.flushes.load(Ordering::Relaxed),
            flush_bytes: self.flush_bytes.load(Ordering::Relaxed),
            error: gauges.error,
        }
    }
}

/// What the engine reads from its current state for a [`Stats`] snapshot.
pub(crate) struct Gauges<'a> {
    pub levels: [(usize, u64); crate::manifest::NUM_LEVELS],
    pub memtable_bytes: u64,
    pub immutable_memtables: usize,
    pub immutable_bytes: u64,
    pub commit: &'a crate::commit::GroupStats,
    pub cache: &'a crate::cache::BlockCache<crate::sstable::Block>,
    pub error: Option<String>,
}

/// Files and bytes in one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelStats {
    /// Number of SSTables.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// A snapshot of the database's counters and gauges, from `Db::stats`. `Display` prints a
/// compact table.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Files and bytes per level, L0 first.
    pub levels: Vec<LevelStats>,
    /// Bytes in the active memtable.
    pub memtable_bytes: u64,
    /// Frozen memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Bytes in the frozen memtables.
    pub immutable_memtable_bytes: u64,
    /// Write groups committed (one log write each).
    pub write_groups: u64,
    /// Mean batches per write group.
    pub batches_per_group_mean: f64,
    /// Most batches in one write group.
    pub batches_per_group_max: u64,
    /// Mean bytes per write group.
    pub bytes_per_group_mean: f64,
    /// Most bytes in one write group.
    pub bytes_per_group_max: u64,
    /// Write groups that asked for an fsync.
    pub synced_groups: u64,
    /// Write-ahead-log fsyncs: count and latency.
    pub fsync_latency: LatencySummary,
    /// Times writers waited for flushes.
    pub stall_count: u64,
    /// Total time writers waited for flushes.
    pub stall_time: Duration,
    /// Block cache lookups that hit.
    pub cache_hits: u64,
    /// Block cache lookups that missed.
    pub cache_misses: u64,
    /// Bytes held by the block cache.
    pub cache_bytes: u64,
    /// Memtables flushed to level-0 tables.
    pub flushes: u64,
    /// Bytes written by flushes.
    pub flush_bytes: u64,
    /// Why the database refuses writes, if it does.
    pub error: Option<String>,
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "level  files      MiB")?;
        for (level, stats) in self.levels.iter().enumerate() {
            writeln!(
                f,
                "L{level}    {:>6} {:>8.1}",
                stats.files,
                mebibytes(stats.bytes)
            )?;
        }
        writeln!(
            f,
            "memtable {:.1} MiB; {} frozen ({:.1} MiB); flushes {} ({:.1} MiB)",
            mebibytes(self.memtable_bytes),
            self.immutable_memtables,
            mebibytes(self.immutable_memtable_bytes),
            self.flushes,
            mebibytes(self.flush_bytes)
        )?;
        writeln!(
            f,
            "write groups {} ({} synced): batches/group mean {:.2} max {}; bytes/group mean {:.0} max {}",
            self.write_groups,
            self.synced_groups,
            self.batches_per_group_mean,
            self.batches_per_group_max,
            self.bytes_per_group_mean,
            self.bytes_per_group_max
        )?;
        writeln!(f, "wal fsync {}", self.fsync_latency)?;
        writeln!(
            f,
            "stalls {} totalling {:?}",
            self.stall_count, self.stall_time
        )?;
        let lookups = self.cache_hits + self.cache_misses;
        let hit_rate = if lookups == 0 {
            0.0
        } else {
            100.0 * self.cache_hits as f64 / lookups as f64
        };
        write!(
            f,
            "block cache {:.1} MiB, hits {} misses {} ({hit_rate:.1}% hits)",
            mebibytes(self.cache_bytes),
            self.cache_hits,
            self.cache_misses
        )?;
        if let Some(error) = &self.error {
            write!(f, "\nwrites refused: {error}")?;
        }
        Ok(())
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
