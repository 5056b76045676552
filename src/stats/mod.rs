//! The engine's counters (`EngineStats`, updated as it works) and [`Stats`], the plain
//! snapshot of them that `Db::stats` returns. The parts live beside it: latency histograms
//! (`histogram.rs`), the write-rate meter (`rate.rs`) and the stall forecast (`pressure.rs`).
//!
//! Everything here is lock-free (relaxed atomics): a counter read while writers run may be a few
//! operations behind, never torn.

pub(crate) mod histogram;
pub(crate) mod pressure;
pub(crate) mod rate;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use histogram::{Histogram, LatencySummary};
pub use pressure::Pressure;

use rate::RateMeter;

/// What a finished compaction did, for the statistics.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CompactionReport {
    /// Bytes of the input tables.
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub trivial_move: bool,
    /// How long the merge and its install took (zero for a trivial move).
    pub elapsed: Duration,
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
    /// Log switches past `Options::max_total_wal_size`, which also froze the memtables holding
    /// writes in the oldest log.
    pub wal_limit_flushes: AtomicU64,
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
    /// How long each compaction that merged (not a trivial move) took, in nanoseconds.
    pub compaction_time: Histogram,
    /// Bytes written by the write path (the encoded size of committed batches), for the write
    /// rate in `pressure()`.
    pub write_rate: RateMeter,
    /// Bytes of records in the current write-ahead log.
    pub wal_bytes: AtomicU64,
    /// Flush and compaction attempts that failed on a full disk and were retried.
    pub storage_full_retries: AtomicU64,
    /// Compactions whose filter changed entries, discarded because a snapshot was taken
    /// while they ran.
    pub filtered_compactions_discarded: AtomicU64,
    /// Merge operands committed (`Db::merge` and batches' merges).
    pub merge_operands_written: AtomicU64,
    /// Merges compactions did: runs of operands combined into one operand, or with their base
    /// into a put.
    pub compaction_merges: AtomicU64,
    /// Merges that failed in compactions (the operands were kept as they were).
    pub compaction_merge_failures: AtomicU64,
    /// What opening the database recovered from its logs.
    pub recovery: RecoveryReport,
}

impl Default for EngineStats {
    fn default() -> Self {
        EngineStats {
            opened: std::time::Instant::now(),
            fsync_latency: Histogram::default(),
            stalls: Histogram::default(),
            flushes: AtomicU64::new(0),
            flush_bytes: AtomicU64::new(0),
            wal_limit_flushes: AtomicU64::new(0),
            slowdowns: Histogram::default(),
            compactions: AtomicU64::new(0),
            trivial_moves: AtomicU64::new(0),
            compaction_bytes_read: AtomicU64::new(0),
            compaction_bytes_written: AtomicU64::new(0),
            compaction_time: Histogram::default(),
            write_rate: RateMeter::default(),
            wal_bytes: AtomicU64::new(0),
            storage_full_retries: AtomicU64::new(0),
            filtered_compactions_discarded: AtomicU64::new(0),
            merge_operands_written: AtomicU64::new(0),
            compaction_merges: AtomicU64::new(0),
            compaction_merge_failures: AtomicU64::new(0),
            recovery: RecoveryReport::default(),
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
    pub fn record_compaction(&self, report: &CompactionReport) {
        self.compactions.fetch_add(1, Ordering::Relaxed);
        if report.trivial_move {
            self.trivial_moves.fetch_add(1, Ordering::Relaxed);
        }
        self.compaction_bytes_read
            .fetch_add(report.bytes_read, Ordering::Relaxed);
        self.compaction_bytes_written
            .fetch_add(report.bytes_written, Ordering::Relaxed);
        if !report.trivial_move {
            self.compaction_time.record_duration(report.elapsed);
        }
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
            keyspaces: gauges.keyspaces,
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
            wal_limit_flushes: self.wal_limit_flushes.load(Ordering::Relaxed),
            slowdown_count: self.slowdowns.count(),
            slowdown_time: Duration::from_nanos(self.slowdowns.sum()),
            compactions: self.compactions.load(Ordering::Relaxed),
            trivial_moves: self.trivial_moves.load(Ordering::Relaxed),
            compaction_bytes_read: self.compaction_bytes_read.load(Ordering::Relaxed),
            compaction_bytes_written: self.compaction_bytes_written.load(Ordering::Relaxed),
            compaction_time: self.compaction_time.latency_summary(),
            compaction_busy_time: Duration::from_nanos(self.compaction_time.sum()),
            manifest_rolls: gauges.manifest_rolls,
            storage_full_retries: self.storage_full_retries.load(Ordering::Relaxed),
            filtered_compactions_discarded: self
                .filtered_compactions_discarded
                .load(Ordering::Relaxed),
            merge_operands_written: self.merge_operands_written.load(Ordering::Relaxed),
            compaction_merges: self.compaction_merges.load(Ordering::Relaxed),
            compaction_merge_failures: self.compaction_merge_failures.load(Ordering::Relaxed),
            user_bytes_written: self.write_rate.total(),
            wal_bytes: self.wal_bytes.load(Ordering::Relaxed),
            error: gauges.error,
            recovery: self.recovery.clone(),
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
    /// Times the manifest was rewritten into a new file.
    pub manifest_rolls: u64,
    /// The adaptive commit policy's wait budget.
    pub commit_wait_budget: Duration,
    /// Every keyspace's gauges, the default one first.
    pub keyspaces: Vec<KeyspaceStats>,
}

/// One keyspace's tree: in [`Stats::keyspaces`], and from
/// [`Keyspace::stats`](crate::Keyspace::stats).
///
/// ```
/// use shaledb::{Db, KeyspaceOptions, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let events = db.keyspace("events", KeyspaceOptions::default())?;
/// events.put(b"e1", b"x")?;
/// events.flush()?;
/// let stats = events.stats()?;
/// assert_eq!(stats.name, "events");
/// assert_eq!(stats.levels[0].files, 1);
/// assert_eq!(db.stats().keyspaces[1].levels[0].files, 1);
/// assert_eq!(db.stats().levels[0].files, 0); // the default keyspace's
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct KeyspaceStats {
    /// The keyspace's name.
    pub name: String,
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
}

/// Files and bytes in one level.
///
/// ```
/// use shaledb::{Db, LevelStats, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"k", b"v")?;
/// db.flush()?;
/// let levels = db.stats().levels;
/// assert_eq!(levels.len(), 4);
/// assert_eq!(levels[0].files, 1);
/// assert!(levels[0].bytes > 0);
/// assert_eq!(levels[1], LevelStats { files: 0, bytes: 0 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelStats {
    /// Number of SSTables.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// A snapshot of the database's counters and gauges, from `Db::stats`. `Display` prints a
/// compact table.
///
/// ```
/// use shaledb::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"k", b"v")?;
/// db.flush()?;
/// let stats = db.stats();
/// assert_eq!(stats.flushes, 1);
/// assert_eq!(stats.levels[0].files, 1);
/// assert!(stats.error.is_none());
/// println!("{stats}"); // files and bytes per level, write groups, fsyncs, stalls, cache
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Files and bytes per level of the default keyspace, L0 first ([`keyspaces`](Self::keyspaces)
    /// has every keyspace's).
    pub levels: Vec<LevelStats>,
    /// Compaction scores of the default keyspace's L0, L1 and L2 (a level whose score is at
    /// least 1 is due).
    pub level_scores: Vec<f64>,
    /// Bytes in the default keyspace's active memtable.
    pub memtable_bytes: u64,
    /// The default keyspace's frozen memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Bytes in those frozen memtables.
    pub immutable_memtable_bytes: u64,
    /// Every keyspace's levels and memtables, the default one first, then the others in the
    /// order they were created.
    pub keyspaces: Vec<KeyspaceStats>,
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
    /// Write-ahead-log fsyncs (of synced groups, `Db::sync_wal`, the sync thread's for
    /// `Db::write_durable`, memtable rotations and close): count and latency — what
    /// `sync: true` costs on this device.
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
    /// Log switches past [`Options::max_total_wal_size`](crate::Options::max_total_wal_size),
    /// which also froze (for flushing) the memtables holding writes in the oldest log.
    pub wal_limit_flushes: u64,
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
    /// How long each compaction that merged tables took (trivial moves are not counted).
    pub compaction_time: LatencySummary,
    /// The time compactions spent merging, summed over all of them (several run at once, so
    /// this can exceed the time since open): (bytes read + written) / this is their rate.
    pub compaction_busy_time: Duration,
    /// Times the manifest was rewritten into a new file.
    pub manifest_rolls: u64,
    /// Flush and compaction attempts that failed because the disk was full and were retried
    /// (background work stalls, without turning the database read-only, until space returns).
    pub storage_full_retries: u64,
    /// Compactions whose [`CompactionFilter`](crate::CompactionFilter) removed or changed
    /// entries, discarded (and run again later) because a snapshot was taken while they ran:
    /// that snapshot could have read the entries before the filter.
    pub filtered_compactions_discarded: u64,
    /// Merge operands committed ([`Db::merge`](crate::Db::merge) and batches' merges).
    pub merge_operands_written: u64,
    /// Merges compactions did: runs of merge operands combined into one operand (a partial
    /// merge), or with their base into a put (a full merge).
    pub compaction_merges: u64,
    /// Merges that failed in compactions: the merge operator refused the operands, which were
    /// kept as they were (a read of the key reports the error).
    pub compaction_merge_failures: u64,
    /// Bytes of write batches committed (what the application asked to write).
    pub user_bytes_written: u64,
    /// Why the database refuses writes, if it does.
    pub error: Option<String>,
    /// What opening the database recovered from its write-ahead logs.
    pub recovery: RecoveryReport,
}

/// What opening the database recovered from its write-ahead logs: from
/// `Db::recovery_report` and in [`Stats::recovery`].
///
/// ```
/// use shaledb::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"k", b"v")?;
/// db.close()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let report = db.recovery_report();
/// assert_eq!(report.batches_replayed, 1);
/// if let Some(tail) = &report.dropped_tail {
///     eprintln!("lost unsynced writes from {} at {}: {}", tail.file.display(), tail.offset, tail.reason);
/// }
/// assert!(report.dropped_tail.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Write-ahead logs read.
    pub logs_replayed: usize,
    /// Write batches replayed from them.
    pub batches_replayed: u64,
    /// The damaged, unsynced tail of the last log that recovery dropped (in the default
    /// recovery mode): a torn last write, or, after a power loss, an unsynced tail that reached
    /// the disk with holes (later pages written, an earlier one not). Every batch before it is
    /// recovered; none in or after it: those were acknowledged without `sync`, and an unsynced
    /// write is lost only together with every later one. `None` when the logs ended cleanly.
    pub dropped_tail: Option<DroppedTail>,
}

/// An unsynced log tail that recovery dropped; see [`RecoveryReport::dropped_tail`].
///
/// ```
/// use std::sync::Arc;
/// use shaledb::vfs::{FaultFileSystem, FileClass};
/// use shaledb::{Db, Options};
///
/// let file_system = FaultFileSystem::new();
/// let options = Options { file_system: Arc::new(file_system.clone()), ..Options::default() };
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), options.clone())?;
/// db.put(b"kept", b"v")?;
/// // The live log: the lowest-numbered one (the flush thread may be preallocating the next).
/// let live_log = std::fs::read_dir(dir.path())?
///     .map(|entry| entry.map(|entry| entry.path()))
///     .collect::<Result<Vec<_>, _>>()?
///     .into_iter()
///     .filter(|path| path.extension().is_some_and(|extension| extension == "wal"))
///     .min()
///     .expect("a database has a live log");
/// file_system.tear_write(1, FileClass::Exactly(live_log), 10); // the next write stops after 10 bytes
/// assert!(db.put(b"torn", b"v").is_err()); // never acknowledged
/// drop(db);
/// let db = Db::open(dir.path(), options)?;
/// let tail = db.recovery_report().dropped_tail.expect("the torn write is dropped");
/// assert_eq!(tail.file.extension().and_then(|extension| extension.to_str()), Some("wal"));
/// assert!(tail.bytes > 0, "{}", tail.reason);
/// assert!(db.get(b"kept")?.is_some() && db.get(b"torn")?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DroppedTail {
    /// The write-ahead log.
    pub file: std::path::PathBuf,
    /// Where the damage starts: every batch before it was recovered, none from it on.
    pub offset: u64,
    /// Bytes of log data dropped, from `offset` to the end of the non-zero data.
    pub bytes: u64,
    /// What was wrong at `offset`.
    pub reason: String,
}

impl fmt::Display for KeyspaceStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "keyspace {}: ", self.name)?;
        for (level, stats) in self.levels.iter().enumerate() {
            write!(
                f,
                "L{level} {} files {:.1} MiB; ",
                stats.files,
                mebibytes(stats.bytes)
            )?;
        }
        write!(
            f,
            "memtable {:.1} MiB, {} frozen ({:.1} MiB)",
            mebibytes(self.memtable_bytes),
            self.immutable_memtables,
            mebibytes(self.immutable_memtable_bytes)
        )
    }
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.keyspaces.len() > 1 {
            writeln!(f, "keyspace default (the others follow the counters)")?;
        }
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
            "compactions {} ({} trivial moves): read {:.1} MiB, wrote {:.1} MiB in {:.1} s; manifest rolls {}; disk-full retries {}",
            self.compactions,
            self.trivial_moves,
            mebibytes(self.compaction_bytes_read),
            mebibytes(self.compaction_bytes_written),
            self.compaction_busy_time.as_secs_f64(),
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
        if let Some(tail) = &self.recovery.dropped_tail {
            write!(
                f,
                "\nrecovery dropped an unsynced log tail: {} bytes of {} from offset {} ({})",
                tail.bytes,
                tail.file.display(),
                tail.offset,
                tail.reason
            )?;
        }
        if let Some(error) = &self.error {
            write!(f, "\nwrites refused: {error}")?;
        }
        for keyspace in self.keyspaces.iter().skip(1) {
            write!(f, "\n{keyspace}")?;
        }
        Ok(())
    }
}
