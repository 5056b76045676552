//! Write and space amplification of `shale bench`, measured after every fill (once its flush
//! and compactions have finished), and the `compact` workload. Defined here once:
//!
//! - **user bytes** of a fill: entries written × (key size + value size), the logical data the
//!   application asked to write (no batch or log framing).
//! - **write amp, disk**: bytes this process sent towards the disk from the start of the fill
//!   (before the database was opened, for a fresh one) to the end of its compactions, over user
//!   bytes. Read from Linux's `/proc/self/io` as `write_bytes − cancelled_write_bytes`: Linux
//!   counts a page when a write dirties it (so no sync is needed to see it, and rewriting a page
//!   that is still dirty counts once) and cancels the count of dirty pages truncated or deleted
//!   before writeback, which never reach the disk. It includes the zeros that preallocate each
//!   write-ahead log; it excludes the file system's journal and metadata writes (done by kernel
//!   threads). Absent where `/proc/self/io` is missing.
//! - **write amp, engine**: the engine's own accounting over user bytes: committed batch bytes
//!   (the log's payload) + bytes of tables written by flushes + bytes of tables written by
//!   compactions (`Stats::user_bytes_written + flush_bytes + compaction_bytes_written`). It
//!   leaves out log framing and preallocation, the manifest, and the file system.
//! - **space amp** after a fill: SSTable entries per live key — the versions and tombstones
//!   compaction has not yet dropped, independent of compression. The `compact` workload gives
//!   the exact figure in bytes: SSTable bytes at rest over SSTable bytes of the same data fully
//!   compacted (one version per key, in the last level).

use std::path::Path;

use shaledb::key::FileNumber;
use shaledb::sstable::Table;
use shaledb::{Db, Stats};

use super::config::BenchConfig;
use super::measurement::{Amplification, Measurement, time};
use super::progress::Progress;
use super::report::row;
use crate::cli::error::CliError;

/// `write_bytes − cancelled_write_bytes` of this process, or `None` without `/proc/self/io`.
fn process_disk_writes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/io").ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
            .and_then(|number| number.trim().parse().ok())
    };
    Some(field("write_bytes")?.saturating_sub(field("cancelled_write_bytes")?))
}

/// What the engine reports writing, in bytes (see the module docs).
fn engine_writes(stats: &Stats) -> u64 {
    stats.user_bytes_written + stats.flush_bytes + stats.compaction_bytes_written
}

/// Disk and engine write counters at one moment.
pub struct WriteCounters {
    disk: Option<u64>,
    engine: u64,
}

impl WriteCounters {
    /// The counters now; `None` for the moment before a fresh database is opened.
    pub fn now(db: Option<&Db>) -> WriteCounters {
        WriteCounters {
            disk: process_disk_writes(),
            engine: db.map_or(0, |db| engine_writes(&db.stats())),
        }
    }
}

/// Measures `db` in `dir`, settled: the writes since `before` over `user_bytes`, and the space
/// its `live_keys` entries take.
pub fn measure(
    config: &BenchConfig,
    db: &Db,
    dir: &Path,
    before: &WriteCounters,
    user_bytes: u64,
    live_keys: u64,
) -> Result<Amplification, CliError> {
    let after = WriteCounters::now(Some(db));
    let user = user_bytes.max(1) as f64;
    let write_disk = match (after.disk, before.disk) {
        (Some(now), Some(then)) => Some(now.saturating_sub(then) as f64 / user),
        _ => None,
    };
    let usage = directory_usage(dir)?;
    Ok(Amplification {
        write_disk,
        write_engine: after.engine.saturating_sub(before.engine) as f64 / user,
        space: usage.table_entries as f64 / live_keys.max(1) as f64,
        sst_bytes: usage.table_bytes,
        all_bytes: usage.all_bytes,
        live_bytes: live_keys * config.entry_bytes(),
        levels: db.stats().levels,
    })
}

/// The files of a database directory.
#[derive(Debug, Default)]
struct DirectoryUsage {
    /// Every file, write-ahead logs (preallocated length included) and manifest too.
    all_bytes: u64,
    table_bytes: u64,
    table_entries: u64,
}

/// The files of `dir` now. The database stays open meanwhile, and its threads delete files
/// (an obsolete table when its last reader lets go, a spare log it discards): a file that
/// vanishes between the listing and its reading is no longer part of the database, and is
/// skipped.
fn directory_usage(dir: &Path) -> Result<DirectoryUsage, CliError> {
    let failed = |path: &Path, error: std::io::Error| {
        CliError::Failed(format!("cannot measure {}: {error}", path.display()))
    };
    let mut usage = DirectoryUsage::default();
    for entry in std::fs::read_dir(dir).map_err(|error| failed(dir, error))? {
        let path = entry.map_err(|error| failed(dir, error))?.path();
        let size = match std::fs::metadata(&path) {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(failed(&path, error)),
        };
        if path.extension().is_some_and(|extension| extension == "sst") {
            let table = match Table::open(&path, FileNumber(0)) {
                Ok(table) => table,
                Err(_) if !path.exists() => continue,
                Err(error) => return Err(error.into()),
            };
            usage.table_bytes += size;
            usage.table_entries += table.properties().entry_count;
        }
        usage.all_bytes += size;
    }
    Ok(usage)
}

/// The `compact` workload: brings `db` to rest, measures its SSTables, compacts the whole key
/// range (timed) and measures again; reports the exact space amplification and the tree after.
pub fn compact(config: &BenchConfig, db: &Db, dir: &Path, live_keys: u64) -> Result<(), CliError> {
    let spinner = Progress::spinner(config, "flush + compaction");
    db.flush()?;
    db.wait_for_compaction()?;
    spinner.finish();
    let at_rest = directory_usage(dir)?;
    let before = WriteCounters::now(Some(db));
    let compactions_before = db.stats().compactions;
    let spinner = Progress::spinner(config, "compact_range");
    let (compacted, elapsed) = time(|| db.compact_range(..));
    spinner.finish();
    compacted?;
    let compacted = directory_usage(dir)?;
    let mut amplification = measure(config, db, dir, &before, at_rest.table_bytes, live_keys)?;
    amplification.space = at_rest.table_bytes as f64 / compacted.table_bytes.max(1) as f64;
    let measurement = Measurement {
        name: "compact (all levels)".into(),
        operations: at_rest.table_entries,
        bytes: at_rest.table_entries * config.entry_bytes(),
        elapsed,
        latency: None,
        note: format!(
            "ops = SSTable entries merged; {} compactions; {} entries left; space amp = \
             {:.1} MB at rest / {:.1} MB compacted; write amp over the bytes at rest",
            db.stats().compactions - compactions_before,
            compacted.table_entries,
            at_rest.table_bytes as f64 / 1e6,
            compacted.table_bytes as f64 / 1e6,
        ),
    };
    row(config, &measurement, Some(&amplification))
}
