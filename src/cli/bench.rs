//! `shaledb bench`: the built-in benchmark. It measures the on-disk formats — building,
//! reading and scanning an SSTable, appending to and replaying a log, with and without an
//! `fdatasync` per record — and then the engine: random fill, random reads, synced puts from 1
//! to 64 threads through group commit, and the write and space amplification of a random fill
//! and an overwrite with compaction (`bench_amplification`).
//!
//! Honesty rules: every figure is one timed loop (`Instant` around the loop, nothing else in
//! it but the work and the checks that the work was right); results go through `black_box` so
//! the compiler cannot drop the work; keys and values come from a seeded SplitMix64, so runs
//! are repeatable. MB means 10^6 bytes of user data (key + value, or the record payload).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shaledb::sstable::{Compression, Table, TableOptions};
use shaledb::{FileNumber, MAX_KEY_SIZE, MAX_VALUE_SIZE};

use super::bench_amplification as amplification;
use super::bench_batches as batches;
use super::bench_engine as engine;
use super::bench_workloads as workloads;
use super::{CliError, flag_value, parse_number, split_flag, unknown_flag};

/// At most this many records are appended with one `fdatasync` each: a sync costs milliseconds
/// on many disks, and this many already give a stable rate.
const SYNC_RECORDS_DEFAULT_MAX: u64 = 2_000;

/// What to run: sizes and where.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// SSTable entries, unsynced log records, and lookups of each kind.
    pub entries: u64,
    /// User key size in bytes.
    pub key_size: usize,
    /// Value size in bytes, also the log record size.
    pub value_size: usize,
    /// Records of the log workloads that sync after every record.
    pub sync_records: u64,
    /// Where to write; `None` for a temporary directory.
    pub dir: Option<PathBuf>,
    /// The options of the benchmark table.
    pub table_options: TableOptions,
    /// The workload groups to run, from [`WORKLOAD_GROUPS`].
    pub workloads: Vec<&'static str>,
}

/// The workload groups `--workloads` selects from, in the order they run.
pub const WORKLOAD_GROUPS: [&str; 7] = [
    "formats",
    "fillrandom",
    "fillsync",
    "fillbatch",
    "batchwriter",
    "amplification",
    "fsync",
];

impl BenchConfig {
    fn parse(arguments: &[String]) -> Result<BenchConfig, CliError> {
        let mut entries = 1_000_000;
        let mut key_size = 16;
        let mut value_size = 100;
        let mut sync_records = None;
        let mut dir = None;
        let mut workloads: Vec<&'static str> = WORKLOAD_GROUPS.to_vec();
        let mut rest = arguments.iter();
        while let Some(argument) = rest.next() {
            let (flag, inline) = split_flag(argument);
            let mut value = || flag_value(flag, inline, &mut rest);
            match flag {
                "--entries" => entries = parse_number(flag, value()?, 1, 1 << 32)?,
                "--key-size" => key_size = parse_number(flag, value()?, 1, MAX_KEY_SIZE as u64)?,
                "--value-size" => {
                    value_size = parse_number(flag, value()?, 0, MAX_VALUE_SIZE as u64)?;
                }
                "--sync-records" => sync_records = Some(parse_number(flag, value()?, 1, 1 << 20)?),
                "--dir" => dir = Some(PathBuf::from(value()?)),
                "--workloads" => workloads = parse_workloads(value()?)?,
                _ => return Err(unknown_flag("bench", argument)),
            }
        }
        let key_digits_needed = decimal_digits(2 * entries);
        if key_size < key_digits_needed {
            return Err(CliError::Usage(format!(
                "--key-size {key_size} is too small for {entries} entries: keys are zero-padded \
                 decimal numbers up to {}, which need {key_digits_needed} bytes",
                2 * entries
            )));
        }
        Ok(BenchConfig {
            entries,
            key_size: key_size as usize,
            value_size: value_size as usize,
            sync_records: sync_records
                .unwrap_or_else(|| (entries / 10).clamp(1, SYNC_RECORDS_DEFAULT_MAX)),
            dir,
            table_options: TableOptions::default(),
            workloads,
        })
    }

    /// Bytes of user data in one entry.
    pub fn entry_bytes(&self) -> u64 {
        (self.key_size + self.value_size) as u64
    }
}

/// The groups named in a comma-separated `--workloads` list, in the order they run.
fn parse_workloads(list: &str) -> Result<Vec<&'static str>, CliError> {
    let mut selected = Vec::new();
    for name in list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if !WORKLOAD_GROUPS.contains(&name) {
            return Err(CliError::Usage(format!(
                "--workloads: unknown workload {name:?}; known: {}",
                WORKLOAD_GROUPS.join(", ")
            )));
        }
        selected.push(name);
    }
    if selected.is_empty() {
        return Err(CliError::Usage("--workloads: the list is empty".into()));
    }
    Ok(WORKLOAD_GROUPS
        .into_iter()
        .filter(|group| selected.contains(group))
        .collect())
}

/// The number of decimal digits of `number`.
fn decimal_digits(number: u64) -> u64 {
    u64::from(number.checked_ilog10().unwrap_or(0)) + 1
}

/// Runs `shaledb bench` with `arguments`.
pub fn run(arguments: &[String]) -> Result<(), CliError> {
    let config = BenchConfig::parse(arguments)?;
    let directory = BenchDirectory::create(config.dir.as_deref())?;
    print_header(&config, directory.path())?;
    let result = run_workloads(&config, directory.path());
    let cleanup = directory.remove();
    result.and(cleanup)
}

fn print_header(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    let options = &config.table_options;
    let compression = match options.compression {
        Compression::None => "none",
        Compression::Lz4 => "lz4",
    };
    say!(
        "shaledb {} bench: {} entries, {}-byte keys, {}-byte values (about half compressible), \
         {} synced records",
        env!("CARGO_PKG_VERSION"),
        config.entries,
        config.key_size,
        config.value_size,
        config.sync_records,
    );
    say!(
        "sstable: {}-byte blocks, restart interval {}, bloom {} bits/key, {compression}; dir {}",
        options.block_size,
        options.restart_interval,
        options.bloom_bits_per_key,
        dir.display()
    );
    say!("MB = 10^6 bytes of keys and values (log: record payloads)");
    say!();
    say!(
        "{:<34} {:>9} {:>10} {:>12} {:>9}  notes",
        "workload",
        "ops",
        "µs/op",
        "ops/s",
        "MB/s"
    );
    Ok(())
}

fn run_workloads(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    for group in &config.workloads {
        match *group {
            "formats" => run_format_workloads(config, dir)?,
            "fillrandom" => {
                let (db, fill) = engine::fill_random(config, &dir.join("fillrandom"))?;
                report(&fill)?;
                report(&engine::read_random(config, &db)?)?;
                db.close()?;
            }
            "fsync" => report(&workloads::log_append_synced(
                config,
                &dir.join("fsync-probe.wal"),
                true,
            )?)?,
            "fillsync" => run_fill_sync(config, dir)?,
            "fillbatch" => {
                for threads in batches::BATCH_THREAD_COUNTS {
                    report(&batches::fill_batch(
                        config,
                        &dir.join("fillbatch"),
                        threads,
                    )?)?;
                }
            }
            "batchwriter" => {
                for (name, strategy) in batches::batch_strategies() {
                    let db_dir = dir.join(format!("batchwriter-{name}"));
                    report(&batches::batch_writer(config, &db_dir, name, strategy)?)?;
                }
            }
            _ => {
                for measurement in amplification::amplification(config, &dir.join("amplification"))?
                {
                    report(&measurement)?;
                }
            }
        }
    }
    Ok(())
}

fn run_format_workloads(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    let table_path = dir.join("000001.sst");
    report(&workloads::table_build(config, &table_path)?)?;
    let table = Table::open(&table_path, FileNumber(1))?;
    report(&workloads::table_lookups(config, &table, true)?)?;
    report(&workloads::table_lookups(config, &table, false)?)?;
    report(&workloads::table_scan(config, &table, true)?)?;
    report(&workloads::table_scan(config, &table, false)?)?;
    drop(table);
    let log_path = dir.join("000002.wal");
    report(&workloads::log_append(config, &log_path)?)?;
    let synced_path = dir.join("000003.wal");
    report(&workloads::log_append_synced(config, &synced_path, false)?)?;
    let preallocated_path = dir.join("000004.wal");
    report(&workloads::log_append_synced(
        config,
        &preallocated_path,
        true,
    )?)?;
    report(&workloads::log_replay(config, &log_path)?)
}

/// Synced single puts under each commit policy from 1 to 64 threads, each thread count right
/// after an fdatasync probe of the disk, so that every row can be compared with the disk's rate
/// at that moment.
fn run_fill_sync(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    for threads in engine::SYNC_THREAD_COUNTS {
        report(&workloads::log_append_synced(
            config,
            &dir.join(format!("fsync-probe-{threads}.wal")),
            true,
        )?)?;
        for (policy_name, policy) in engine::commit_policies() {
            let db_dir = dir.join(format!("fillsync-{policy_name}-{threads}"));
            report(&engine::fill_sync(
                config,
                &db_dir,
                threads,
                policy_name,
                policy,
            )?)?;
        }
    }
    Ok(())
}

/// One timed workload.
#[derive(Debug)]
pub struct Measurement {
    /// The workload's name, as the table row shows it.
    pub name: String,
    /// Operations done in the timed loop.
    pub operations: u64,
    /// User bytes moved in the timed loop.
    pub bytes: u64,
    /// Time the loop took.
    pub elapsed: Duration,
    /// Anything else worth knowing (file size, checks).
    pub note: String,
}

/// Times `work`, which returns a value kept alive through `black_box`.
pub fn time<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let result = black_box(work());
    (result, start.elapsed())
}

fn report(measurement: &Measurement) -> Result<(), CliError> {
    let seconds = measurement.elapsed.as_secs_f64().max(1e-9);
    let operations = measurement.operations as f64;
    say!(
        "{:<34} {:>9} {:>10.3} {:>12.0} {:>9.1}  {}",
        measurement.name,
        measurement.operations,
        seconds * 1e6 / operations.max(1.0),
        operations / seconds,
        measurement.bytes as f64 / 1e6 / seconds,
        measurement.note
    );
    Ok(())
}

/// The directory the benchmark writes in: the caller's (kept) or a temporary one (removed).
struct BenchDirectory {
    path: PathBuf,
    temporary: bool,
}

impl BenchDirectory {
    /// Uses `dir`, which must not exist or be empty (the benchmark must not overwrite a
    /// database), or creates a fresh directory under the system's temporary directory.
    fn create(dir: Option<&Path>) -> Result<BenchDirectory, CliError> {
        let failed = |path: &Path, error: std::io::Error| {
            CliError::Failed(format!(
                "cannot use {} for the benchmark: {error}",
                path.display()
            ))
        };
        if let Some(path) = dir {
            std::fs::create_dir_all(path).map_err(|error| failed(path, error))?;
            let mut entries = std::fs::read_dir(path).map_err(|error| failed(path, error))?;
            if entries.next().is_some() {
                return Err(CliError::Usage(format!(
                    "--dir {} is not empty; the benchmark only writes into an empty or new \
                     directory",
                    path.display()
                )));
            }
            return Ok(BenchDirectory {
                path: path.to_path_buf(),
                temporary: false,
            });
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let name = format!("shaledb-bench-{}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).map_err(|error| failed(&path, error))?;
        Ok(BenchDirectory {
            path,
            temporary: true,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Removes a temporary directory and everything the benchmark wrote in it.
    fn remove(mut self) -> Result<(), CliError> {
        if !self.temporary {
            return Ok(());
        }
        self.temporary = false;
        std::fs::remove_dir_all(&self.path).map_err(|error| {
            CliError::Failed(format!("cannot remove {}: {error}", self.path.display()))
        })
    }
}

impl Drop for BenchDirectory {
    /// Removes a temporary directory left behind by an early return; errors cannot be reported
    /// from here, and a leftover directory in the temporary directory is harmless.
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
