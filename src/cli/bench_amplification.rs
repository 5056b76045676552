//! The amplification workloads of `shaledb bench`: a random fill of every entry with default
//! options (writes unsynced), then an overwrite of every key once, each followed by
//! `wait_for_compaction`, and then a full `compact_range`. The rows give the time; the notes give
//! write and space amplification, defined here once:
//!
//! - **user bytes** of a pass: entries × (key size + value size), the logical data the
//!   application asked to write (no batch or log framing).
//! - **write amp, disk**: bytes this process sent towards the disk during the pass (from opening
//!   the database, or the end of the previous pass, to `wait_for_compaction` returning) over user
//!   bytes. Read from Linux's `/proc/self/io` as `write_bytes − cancelled_write_bytes`: Linux
//!   counts a page when a write dirties it (so no sync is needed to see it, and rewriting a page
//!   that is still dirty counts once) and cancels the count of dirty pages truncated or deleted
//!   before writeback, which never reach the disk. It includes the zeros that preallocate each
//!   write-ahead log; it excludes the file system's journal and metadata writes (done by kernel
//!   threads). "n/a" where `/proc/self/io` is missing.
//! - **write amp, engine**: the engine's own accounting over user bytes: committed batch bytes
//!   (the log's payload) + bytes of tables written by flushes + bytes of tables written by
//!   compactions (`Stats::user_bytes_written + flush_bytes + compaction_bytes_written`). It
//!   leaves out log framing and preallocation, the manifest, and the file system.
//! - **space amp**: bytes of the live SSTables at rest (after the overwrite, a `flush` and
//!   `wait_for_compaction`) over bytes of the SSTables holding the same data fully compacted
//!   (after `compact_range(..)`, one version per key, in the last level). Both sides are
//!   compressed the same way, so compression neither hides nor inflates the redundancy.
//!   Also shown: SSTable entries per live key, and the size of every file in the directory
//!   (including preallocated write-ahead logs) over user bytes of the live data.

use std::path::Path;

use shaledb::sstable::Table;
use shaledb::{Db, FileNumber, Options, Stats};

use super::CliError;
use super::bench::{BenchConfig, Measurement, time};
use super::bench_engine::permuted;
use super::bench_workloads::{KeyMaker, ValuePool};

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
struct WriteCounters {
    disk: Option<u64>,
    engine: u64,
}

impl WriteCounters {
    fn now(db: Option<&Db>) -> WriteCounters {
        WriteCounters {
            disk: process_disk_writes(),
            engine: db.map_or(0, |db| engine_writes(&db.stats())),
        }
    }

    /// "write amp X disk, Y engine" for the writes since `earlier` over `user_bytes`.
    fn amplification_since(&self, earlier: &WriteCounters, user_bytes: u64) -> String {
        let user_bytes = user_bytes.max(1) as f64;
        let disk = match (self.disk, earlier.disk) {
            (Some(now), Some(then)) => {
                format!("{:.2}", now.saturating_sub(then) as f64 / user_bytes)
            }
            _ => "n/a".into(),
        };
        let engine = self.engine.saturating_sub(earlier.engine) as f64 / user_bytes;
        format!("write amp {disk} disk (/proc/self/io), {engine:.2} engine")
    }
}

/// The files of a database directory.
#[derive(Debug, Default)]
struct DirectoryUsage {
    /// Every file, write-ahead logs (preallocated length included) and manifest too.
    all_bytes: u64,
    table_bytes: u64,
    table_entries: u64,
}

fn directory_usage(dir: &Path) -> Result<DirectoryUsage, CliError> {
    let failed =
        |error: std::io::Error| CliError::Failed(format!("cannot list {}: {error}", dir.display()));
    let mut usage = DirectoryUsage::default();
    for entry in std::fs::read_dir(dir).map_err(failed)? {
        let path = entry.map_err(failed)?.path();
        let size = std::fs::metadata(&path).map_err(failed)?.len();
        usage.all_bytes += size;
        if path.extension().is_some_and(|extension| extension == "sst") {
            let table = Table::open(&path, FileNumber(0))?;
            usage.table_bytes += size;
            usage.table_entries += table.properties().entry_count;
        }
    }
    Ok(usage)
}

/// Puts every key once in random order (pass 0 is the fill, pass 1 the overwrite, with other
/// values), then waits for every flush and compaction this caused.
fn write_pass(config: &BenchConfig, db: &Db, pass: u64) -> Result<(), CliError> {
    let values = ValuePool::new(config.value_size);
    let mut keys = KeyMaker::new(config.key_size);
    let offset = pass * (config.entries / 3);
    for step in 0..config.entries {
        let index = permuted((step + offset) % config.entries, config.entries);
        db.put(
            keys.key(2 * index),
            values.value(index + pass * config.entries),
        )?;
    }
    db.wait_for_compaction()?;
    Ok(())
}

fn level_files(stats: &Stats) -> String {
    let files: Vec<String> = stats
        .levels
        .iter()
        .map(|level| level.files.to_string())
        .collect();
    format!("files per level {}", files.join("/"))
}

/// Runs the fill, the overwrite and the full compaction on a fresh database in `dir` with
/// default options (unsynced writes), and returns their rows.
pub fn amplification(config: &BenchConfig, dir: &Path) -> Result<Vec<Measurement>, CliError> {
    let user_bytes = config.entries * config.entry_bytes();
    let start = WriteCounters::now(None);
    let options = Options {
        sync_writes: false,
        ..Options::default()
    };
    let db = Db::open(dir, options)?;
    let (filled, fill_elapsed) = time(|| write_pass(config, &db, 0));
    filled?;
    let after_fill = WriteCounters::now(Some(&db));
    let fill = Measurement {
        name: "db fillrandom + compaction".into(),
        operations: config.entries,
        bytes: user_bytes,
        elapsed: fill_elapsed,
        note: format!(
            "{}; {}",
            after_fill.amplification_since(&start, user_bytes),
            level_files(&db.stats())
        ),
    };
    let (overwritten, overwrite_elapsed) = time(|| write_pass(config, &db, 1));
    overwritten?;
    let after_overwrite = WriteCounters::now(Some(&db));
    let write_note = after_overwrite.amplification_since(&after_fill, user_bytes);
    let files_note = format!("before the flush {}", level_files(&db.stats()));
    let (space_note, full) = space_amplification(config, &db, dir)?;
    let overwrite = Measurement {
        name: "db overwrite + compaction".into(),
        operations: config.entries,
        bytes: user_bytes,
        elapsed: overwrite_elapsed,
        note: format!("{write_note}; {space_note}; {files_note}"),
    };
    db.close()?;
    Ok(vec![fill, overwrite, full])
}

/// Brings the data to rest (flush, wait), measures the directory, then compacts everything and
/// measures again. Returns the space note and the row of the full compaction.
fn space_amplification(
    config: &BenchConfig,
    db: &Db,
    dir: &Path,
) -> Result<(String, Measurement), CliError> {
    db.flush()?;
    db.wait_for_compaction()?;
    let at_rest = directory_usage(dir)?;
    let at_rest_files = level_files(&db.stats());
    let compactions_before = db.stats().compactions;
    let (compacted, elapsed) = time(|| db.compact_range::<&[u8], _>(..));
    compacted?;
    let compacted = directory_usage(dir)?;
    let live_bytes = config.entries * config.entry_bytes();
    let note = format!(
        "space amp {:.3} (sst {:.1} MB at rest / {:.1} MB fully compacted), {:.3} sst entries \
         per live key, all files {:.2}x live key+value bytes; at rest {at_rest_files}",
        at_rest.table_bytes as f64 / compacted.table_bytes.max(1) as f64,
        at_rest.table_bytes as f64 / 1e6,
        compacted.table_bytes as f64 / 1e6,
        at_rest.table_entries as f64 / config.entries as f64,
        at_rest.all_bytes as f64 / live_bytes.max(1) as f64,
    );
    let full = Measurement {
        name: "db compact_range (all levels)".into(),
        operations: at_rest.table_entries,
        bytes: at_rest.table_entries * config.entry_bytes(),
        elapsed,
        note: format!(
            "ops = sst entries merged; {} compactions (every level with files, down to L3); \
             {} entries left",
            db.stats().compactions - compactions_before,
            compacted.table_entries
        ),
    };
    Ok((note, full))
}
