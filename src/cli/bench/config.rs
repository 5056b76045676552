//! What `shale bench` runs: [`BenchConfig`], built from the parsed arguments of the `bench`
//! command (or from their defaults, [`default_args`], which `shale` without a command runs), and
//! read by every workload, engine, progress bar and report. A leaf of the benchmark: it imports
//! only the command line and the error type.

use clap::Parser as _;
use shaledb::Options;
use shaledb::sstable::TableOptions;

use crate::cli::args::{BenchArgs, Cli, Command, PolicyChoice, StrategyChoice, Workload};
use crate::cli::error::CliError;

/// Synced operations by default are `num` divided by this, at most `SYNC_NUM_DEFAULT_MAX`: a
/// sync costs milliseconds on many disks, and this many already give a stable rate.
const SYNC_NUM_DIVISOR: u64 = 100;
const SYNC_NUM_DEFAULT_MAX: u64 = 2_000;
/// Threads of fillsync, fillbatch and readrandom without `--threads`.
const DEFAULT_THREADS: u64 = 4;

/// What to run: sizes, workloads and output.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Keys of a fill, reads of each read workload.
    pub num: u64,
    /// User key size in bytes.
    pub key_size: usize,
    /// Value size in bytes, also the log record size.
    pub value_size: usize,
    /// Thread counts of fillsync, fillbatch, readrandom and ycsb: one row each.
    pub threads: Vec<u64>,
    /// Whether `--threads` was given (else `--compare` picks its own counts per workload).
    pub threads_given: bool,
    /// Synced operations of fillsync and of the synced log workloads.
    pub sync_num: u64,
    /// Operations of each YCSB core workload.
    pub ycsb_operations: u64,
    /// The YCSB core workloads to run, by letter, in the order A to F.
    pub ycsb_workloads: Vec<char>,
    /// The workloads, in the order they run.
    pub workloads: Vec<Workload>,
    /// Bytes of keys and values `dropkeyspace` writes into the keyspace it drops.
    pub drop_size: u64,
    /// Commit policies of fillsync.
    pub policy: PolicyChoice,
    /// Strategies of batchwriter.
    pub strategy: StrategyChoice,
    /// `Options::write_buffer_size` of the benchmark databases.
    pub write_buffer_size: usize,
    /// `Options::block_cache_capacity` of the benchmark databases.
    pub block_cache_capacity: usize,
    /// The options of every shaledb benchmark database: see [`BenchConfig::db_options`].
    options: Options,
    /// One JSON object per workload, no table, no progress bars.
    pub json: bool,
    /// The options of the format-level benchmark table.
    pub table_options: TableOptions,
}

impl BenchConfig {
    pub(super) fn from_args(arguments: &BenchArgs) -> Result<BenchConfig, CliError> {
        let num = arguments.num;
        let key_digits_needed = decimal_digits(2 * num + 1);
        if arguments.key_size < key_digits_needed {
            return Err(CliError::Usage(format!(
                "--key-size {} is too small for --num {num}: keys are zero-padded decimal \
                 numbers up to {}, which need {key_digits_needed} bytes",
                arguments.key_size,
                2 * num + 1
            )));
        }
        let mut workloads = arguments.workloads.clone();
        workloads.sort_unstable();
        workloads.dedup();
        let drop_entries = entries_in(
            arguments.drop_size,
            arguments.key_size + arguments.value_size,
        );
        let drop_digits_needed = decimal_digits(2 * drop_entries + 1);
        if workloads.contains(&Workload::Dropkeyspace) && arguments.key_size < drop_digits_needed {
            return Err(CliError::Usage(format!(
                "--key-size {} is too small for --drop-size {}: dropkeyspace writes {drop_entries} \
                 entries, whose keys need {drop_digits_needed} bytes",
                arguments.key_size, arguments.drop_size
            )));
        }
        Ok(BenchConfig {
            num,
            key_size: arguments.key_size as usize,
            value_size: arguments.value_size as usize,
            threads: if arguments.threads.is_empty() {
                vec![DEFAULT_THREADS]
            } else {
                arguments.threads.clone()
            },
            threads_given: !arguments.threads.is_empty(),
            sync_num: arguments
                .sync_num
                .unwrap_or_else(|| (num / SYNC_NUM_DIVISOR).clamp(1, SYNC_NUM_DEFAULT_MAX)),
            ycsb_operations: arguments.ycsb_operations.unwrap_or(num),
            ycsb_workloads: arguments.ycsb_workloads.clone(),
            workloads,
            drop_size: arguments.drop_size,
            policy: arguments.policy,
            strategy: arguments.strategy,
            write_buffer_size: arguments.write_buffer_size as usize,
            block_cache_capacity: arguments.cache_size as usize,
            options: shaledb_options(arguments)?,
            json: arguments.json,
            table_options: TableOptions::default(),
        })
    }

    /// Bytes of user data in one entry.
    pub fn entry_bytes(&self) -> u64 {
        (self.key_size + self.value_size) as u64
    }

    /// The entries `dropkeyspace` writes: `drop_size` bytes of keys and values.
    pub fn drop_entries(&self) -> u64 {
        entries_in(self.drop_size, self.entry_bytes())
    }

    /// The options every benchmark database is opened with: unsynced writes by default (the
    /// synced workloads ask for sync per write), the configured memtable and cache sizes.
    pub fn db_options(&self) -> Options {
        self.options.clone()
    }
}

/// The arguments of `shale bench` with every default, which `shale` without a command runs.
pub fn default_args() -> Result<BenchArgs, CliError> {
    match Cli::try_parse_from(["shale", "bench"]) {
        Ok(Cli {
            command: Some(Command::Bench(arguments)),
        }) => Ok(arguments),
        _ => Err(CliError::Failed(
            "the default benchmark arguments do not parse (a bug)".into(),
        )),
    }
}

/// Unsynced writes by default, the memtable and cache sizes of their flags, then each `--set`
/// in order. The two sizes have flags of their own, which the report and the peers read, so
/// `--set` may not change them.
fn shaledb_options(arguments: &BenchArgs) -> Result<Options, CliError> {
    let mut options = Options {
        sync_writes: false,
        write_buffer_size: arguments.write_buffer_size as usize,
        block_cache_capacity: arguments.cache_size as usize,
        ..Options::default()
    };
    for (key, value) in &arguments.settings {
        if key == "write_buffer_size" || key == "block_cache_capacity" {
            return Err(CliError::Usage(format!(
                "--set {key}: use --write-buffer-size or --cache-size, which every engine of \
                 the comparison reads"
            )));
        }
        options
            .set(key, value)
            .map_err(|error| CliError::Usage(format!("--set {key}={value}: {error}")))?;
    }
    Ok(options)
}

/// Entries of `entry_bytes` each in `bytes` (at least one).
fn entries_in(bytes: u64, entry_bytes: u64) -> u64 {
    (bytes / entry_bytes.max(1)).max(1)
}

/// The number of decimal digits of `number`.
fn decimal_digits(number: u64) -> u64 {
    u64::from(number.checked_ilog10().unwrap_or(0)) + 1
}
