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
pub(crate) struct EngineStats {
    /// When the database was opened (for rates).
    pub opened: std::time::Instant,
    /// Latency of each write-ahead-log fdatasync, in nanoseconds.
    pub fsync_latency: Histogram,
    /// Time writers spent waiting for flushes, in nanoseconds, one value per stall.
    pub stalls: Histogram,
    /// Memtables written to level-0 tables.
    pub flushes: AtomicU64,
    /// Bytes of level-0 tables written by flushes.
    pub flush_bytes: AtomicU64,
    /// Delays applied to write groups past the level-0 slowdown trigger, in nanoseconds.
    pub slowdowns: Histogram,
    /// Compactions finished (trivial moves included).
    pub compactions: AtomicU64,
    /// Compactions that moved a file by a manifest edit alone.
    pub trivial_moves: AtomicU64,
    /// Bytes of input tables compactions read.
    pub compaction_bytes_read: AtomicU64,
    /// Bytes of tables compactions wrote.
    pub compaction_bytes_written: AtomicU64,
    /// Times the manifest was rewritten into a new file.
    pub manifest_rolls: AtomicU64,
    /// Flush and compaction attempts that failed on a full disk and were retried.
    pub storage_full_retries: AtomicU64,
}

impl Default for EngineStats {
    fn default() -> Self {
        EngineStats {
            opened: std::time::Instant::now(),
            fsync_latency: Histogram::default(),
            stalls: Histogram::default(),
            flushes: AtomicU64::new(0),
            flush_bytes: AtomicU64::new(0),
            slowdowns: Histogram::default(),
            compactions: AtomicU64::new(0),
            trivial_moves: AtomicU64::new(0),
            compaction_bytes_read: AtomicU64::new(0),
            compaction_bytes_written: AtomicU64::new(0),
            manifest_rolls: AtomicU64::new(0),
            storage_full_retries: AtomicU64::new(0),
        }
    }
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

    /// Records a finished compaction.
    pub fn record_compaction(&self, report: &crate::compaction::job::CompactionReport) {
        self.compactions.fetch_add(1, Ordering::Relaxed);
        if report.trivial_move {
            self.trivial_moves.fetch_add(1, Ordering::Relaxed);
        }
        self.compaction_bytes_read
            .fetch_add(report.bytes_read, Ordering::Relaxed);
        self.compaction_bytes_written
            .fetch_add(report.bytes_written, Ordering::Relaxed);
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
            level_scores: gauges.level_scores.to_vec(),
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
            fsyncs_per_second: self.fsync_latency.count() as f64
                / self.opened.elapsed().as_secs_f64().max(1e-9),
            batches_per_group_p50: commit.batches.percentile(0.50),
            batches_per_group_p99: commit.batches.percentile(0.99),
            commit_latency: commit.commit_latency.latency_summary(),
            leader_wait: commit.leader_wait.latency_summary(),
            commit_wait_budget: gauges.commit_wait_budget,
            stall_count: self.stalls.count(),
            stall_time: Duration::from_nanos(self.stalls.sum()),
            cache_hits: gauges.cache.hits(),
            cache_misses: gauges.cache.misses(),
            cache_bytes: gauges.cache.usage() as u64,
            flushes: self.flushes.load(Ordering::Relaxed),
            flush_bytes: self.flush_bytes.load(Ordering::Relaxed),
            slowdown_count: self.slowdowns.count(),
            slowdown_time: Duration::from_nanos(self.slowdowns.sum()),
            compactions: self.compactions.load(Ordering::Relaxed),
            trivial_moves: self.trivial_moves.load(Ordering::Relaxed),
            compaction_bytes_read: self.compaction_bytes_read.load(Ordering::Relaxed),
            compaction_bytes_written: self.compaction_bytes_written.load(Ordering::Relaxed),
            manifest_rolls: self.manifest_rolls.load(Ordering::Relaxed),
            storage_full_retries: self.storage_full_retries.load(Ordering::Relaxed),
            user_bytes_written: gauges.user_bytes_written,
            wal_bytes: gauges.wal_bytes,
            error: gauges.error,
        }
    }
}

/// What the engine reads from its current state for a [`Stats`] snapshot.
pub(crate) struct Gauges<'a> {
    pub levels: [(usize, u64); crate::manifest::NUM_LEVELS],
    pub level_scores: [f64; crate::manifest::NUM_LEVELS - 1],
    pub memtable_bytes: u64,
    pub immutable_memtables: usize,
    pub immutable_bytes: u64,
    pub commit: &'a crate::commit::GroupStats,
    pub cache: &'a crate::cache::BlockCache<crate::sstable::Block>,
    pub error: Option<String>,
    /// User bytes written (the encoded size of committed batches).
    pub user_bytes_written: u64,
    /// Bytes of records in the current write-ahead log.
    pub wal_bytes: u64,
    /// The adaptive commit policy's wait budget.
    pub commit_wait_budget: Duration,
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
    /// Compaction scores of L0, L1 and L2 (a level whose score is at least 1 is due).
    pub level_scores: Vec<f64>,
    /// Bytes in the active memtable.
    pub memtable_bytes: u64,
    /// Frozen memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Bytes in the frozen memtables.
    pub immutable_memtable_bytes: u64,
    /// Bytes of records in the current write-ahead log (it is preallocated larger).
    pub wal_bytes: u64,
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
    /// Write-ahead-log fsyncs: count and latency — what `sync: true` costs on this device.
    pub fsync_latency: LatencySummary,
    /// Write-ahead-log fsyncs per second since the database was opened.
    pub fsyncs_per_second: f64,
    /// Median and 99th percentile of batches per write group.
    pub batches_per_group_p50: u64,
    /// See `batches_per_group_p50`.
    pub batches_per_group_p99: u64,
    /// Each write's latency from joining the commit queue to its result.
    pub commit_latency: LatencySummary,
    /// How long group leaders waited for company before committing.
    pub leader_wait: LatencySummary,
    /// How long the adaptive commit policy currently lets a leader wait.
    pub commit_wait_budget: Duration,
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
    /// Write groups delayed because level 0 was past its slowdown trigger.
    pub slowdown_count: u64,
    /// Total delay of those write groups.
    pub slowdown_time: Duration,
    /// Compactions finished, trivial moves included.
    pub compactions: u64,
    /// Compactions that moved a file down by a manifest edit alone.
    pub trivial_moves: u64,
    /// Bytes of input tables compactions read.
    pub compaction_bytes_read: u64,
    /// Bytes of tables compactions wrote.
    pub compaction_bytes_written: u64,
    /// Times the manifest was rewritten into a new file.
    pub manifest_rolls: u64,
    /// Flush and compaction attempts that failed because the disk was full and were retried
    /// (background work stalls, without turning the database read-only, until space returns).
    pub storage_full_retries: u64,
    /// Bytes of write batches committed (what the application asked to write).
    pub user_bytes_written: u64,
    /// Why the database refuses writes, if it does.
    pub error: Option<String>,
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "level  files      MiB  score")?;
        for (level, stats) in self.levels.iter().enumerate() {
            write!(
                f,
                "L{level}    {:>6} {:>8.1}",
                stats.files,
                mebibytes(stats.bytes)
            )?;
            match self.level_scores.get(level) {
                Some(score) => writeln!(f, "  {score:>5.2}")?,
                None => writeln!(f)?,
            }
        }
        writeln!(
            f,
            "memtable {:.1} MiB, wal {:.1} MiB; {} frozen ({:.1} MiB); flushes {} ({:.1} MiB)",
            mebibytes(self.memtable_bytes),
            mebibytes(self.wal_bytes),
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
        writeln!(
            f,
            "wal fsync {} ({:.0}/s); group size p50 {} p99 {}",
            self.fsync_latency,
            self.fsyncs_per_second,
            self.batches_per_group_p50,
            self.batches_per_group_p99
        )?;
        writeln!(f, "commit latency {}", self.commit_latency)?;
        writeln!(
            f,
            "leader wait {}; adaptive wait budget {:?}",
            self.leader_wait, self.commit_wait_budget
        )?;
        writeln!(
            f,
            "stalls {} totalling {:?}; slowdowns {} totalling {:?}",
            self.stall_count, self.stall_time, self.slowdown_count, self.slowdown_time
        )?;
        writeln!(
            f,
            "compactions {} ({} trivial moves): read {:.1} MiB, wrote {:.1} MiB; manifest rolls {}; disk-full retries {}",
            self.compactions,
            self.trivial_moves,
            mebibytes(self.compaction_bytes_read),
            mebibytes(self.compaction_bytes_written),
            self.manifest_rolls,
            self.storage_full_retries
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

/// A write rate over the last second or so: a running total and the window it is measured in.
#[derive(Debug)]
pub(crate) struct RateMeter {
    total: AtomicU64,
    window: std::sync::Mutex<RateWindow>,
}

#[derive(Debug)]
struct RateWindow {
    started: std::time::Instant,
    total_at_start: u64,
    last_rate: f64,
}

/// A rate window shorter than this is extended rather than measured.
const RATE_WINDOW: Duration = Duration::from_secs(1);

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter {
            total: AtomicU64::new(0),
            window: std::sync::Mutex::new(RateWindow {
                started: std::time::Instant::now(),
                total_at_start: 0,
                last_rate: 0.0,
            }),
        }
    }
}

impl RateMeter {
    /// Counts `bytes` more.
    pub fn add(&self, bytes: u64) {
        self.total.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Everything counted so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Bytes per second over the current window once it is a second long (then a new window
    /// starts), else the previous window's rate.
    pub fn rate(&self) -> f64 {
        let total = self.total();
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let elapsed = window.started.elapsed();
        if elapsed >= RATE_WINDOW || window.last_rate == 0.0 && elapsed >= RATE_WINDOW / 10 {
            window.last_rate = (total - window.total_at_start) as f64 / elapsed.as_secs_f64();
            if elapsed >= RATE_WINDOW {
                window.started = std::time::Instant::now();
                window.total_at_start = total;
            }
        }
        window.last_rate
    }
}

/// What [`Pressure::estimate`] works from.
pub(crate) struct PressureInputs {
    pub compaction_debt_bytes: u64,
    pub level0_files: usize,
    pub level0_slowdown_trigger: usize,
    pub level0_stop_trigger: usize,
    pub immutable_memtables: usize,
    pub max_immutable_memtables: usize,
    pub write_buffer_size: u64,
    pub write_rate_bytes_per_second: f64,
}

/// How close writes are to being slowed down or stopped, from `Db::pressure`: an application
/// can shed or defer load before a stall instead of discovering it.
///
/// The time estimates assume the current write rate goes on and compaction does not catch up:
/// every `write_buffer_size` bytes written become one more level-0 file. They are `None` when
/// nothing is being written (no stall is coming) and zero when the condition already holds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Pressure {
    /// Bytes compaction must move down before every level is within its target: all of level 0
    /// once it is at its compaction trigger, and the excess of levels 1 and 2 over their targets.
    pub compaction_debt_bytes: u64,
    /// Level-0 files now.
    pub level0_files: usize,
    /// Level-0 files still to come before write groups are delayed (0: they are).
    pub level0_files_until_slowdown: usize,
    /// Level-0 files still to come before writes stop (0: they have).
    pub level0_files_until_stop: usize,
    /// Frozen memtables waiting for their flush.
    pub immutable_memtables: usize,
    /// Frozen memtables still allowed before writers wait for a flush.
    pub immutable_memtables_until_stall: usize,
    /// Recent write rate, in bytes of batches per second.
    pub write_rate_bytes_per_second: f64,
    /// Estimated time until write groups are delayed.
    pub time_until_slowdown: Option<Duration>,
    /// Estimated time until writes stop (level 0 at its stop trigger, or every frozen memtable
    /// slot taken).
    pub time_until_stop: Option<Duration>,
}

impl Pressure {
    pub(crate) fn estimate(inputs: PressureInputs) -> Pressure {
        let until_slowdown = inputs
            .level0_slowdown_trigger
            .saturating_sub(inputs.level0_files);
        let until_stop = inputs
            .level0_stop_trigger
            .saturating_sub(inputs.level0_files);
        let memtables_left = inputs
            .max_immutable_memtables
            .saturating_sub(inputs.immutable_memtables);
        let rate = inputs.write_rate_bytes_per_second;
        let time_for = |memtables: usize| -> Option<Duration> {
            if memtables == 0 {
                return Some(Duration::ZERO);
            }
            (rate > 0.0).then(|| {
                Duration::from_secs_f64(memtables as f64 * inputs.write_buffer_size as f64 / rate)
            })
        };
        let stop_by_level0 = time_for(until_stop);
        let stop_by_memtables = time_for(memtables_left);
        let time_until_stop = match (stop_by_level0, stop_by_memtables) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Pressure {
            compaction_debt_bytes: inputs.compaction_debt_bytes,
            level0_files: inputs.level0_files,
            level0_files_until_slowdown: until_slowdown,
            level0_files_until_stop: until_stop,
            immutable_memtables: inputs.immutable_memtables,
            immutable_memtables_until_stall: memtables_left,
            write_rate_bytes_per_second: rate,
            time_until_slowdown: time_for(until_slowdown),
            time_until_stop,
        }
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

    fn inputs(level0_files: usize, rate: f64) -> PressureInputs {
        PressureInputs {
            compaction_debt_bytes: 0,
            level0_files,
            level0_slowdown_trigger: 20,
            level0_stop_trigger: 36,
            immutable_memtables: 0,
            max_immutable_memtables: 2,
            write_buffer_size: 1 << 20,
            write_rate_bytes_per_second: rate,
        }
    }

    #[test]
    fn pressure_estimates_follow_the_write_rate() {
        // 10 files to go at one 1 MiB memtable per second: 10 s to the slowdown; the two free
        // memtable slots come first for the stop.
        let pressure = Pressure::estimate(inputs(10, f64::from(1 << 20)));
        assert_eq!(pressure.level0_files_until_slowdown, 10);
        assert_eq!(pressure.level0_files_until_stop, 26);
        assert_eq!(pressure.time_until_slowdown, Some(Duration::from_secs(10)));
        assert_eq!(pressure.time_until_stop, Some(Duration::from_secs(2)));
        // Nothing written: no stall is coming.
        let idle = Pressure::estimate(inputs(10, 0.0));
        assert_eq!(idle.time_until_slowdown, None);
        // Past the slowdown trigger: already slowed.
        let slowed = Pressure::estimate(inputs(25, 0.0));
        assert_eq!(slowed.level0_files_until_slowdown, 0);
        assert_eq!(slowed.time_until_slowdown, Some(Duration::ZERO));
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
