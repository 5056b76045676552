//! `shale bench`: db_bench-style workloads on one database. Fill workloads start a fresh
//! database and are followed (untimed) by a flush and the compactions they caused, then by
//! write amplification, space amplification and the shape of the tree; read workloads run on
//! what the last fill left. Also reachable: the formats alone (`sstable`, `log`, `fsync`) and a
//! full compaction (`compact`), the YCSB core workloads A to F (`ycsb`, on a database of its
//! own), and the keyspace workloads (`keyspaces`, `dropkeyspace`, each on a database of its
//! own). The workloads are in [`workloads`], [`batches`], [`formats`], [`amplification`],
//! [`range_deletes`], [`large_batch`], [`ycsb`] and [`keyspaces`]; output in [`report`].
//!
//! Honesty rules: every figure is one timed loop (`Instant` around the loop, nothing else in
//! it but the work, the per-operation latency clock and the checks that the work was right);
//! results go through `black_box` so the compiler cannot drop the work; keys and values come
//! from a seeded SplitMix64, so runs are repeatable. MB means 10^6 bytes of user data.
//!
//! Keys: entry `i` has user key `2 * i` (zero-padded decimal), so odd numbers are absent keys
//! inside the key range. Every fill writes entries `0..count`, so the live keys are always
//! `0..live_keys` and reads can check what they find.
//!
//! Layers: imports run one way, each file importing only files listed before it. Leaves:
//! [`random`], [`distributions`] (YCSB's request distributions), [`memory`], [`measurement`]
//! (the results every runner fills in and every report prints), [`config`], [`directory`] and
//! [`keys`]; then [`progress`] and [`report`]; then [`engine`] (the trait, one file per engine,
//! and [`engine::open`], the one file that names them all); then the workloads ([`workloads`],
//! [`batches`], [`formats`], [`amplification`], [`range_deletes`], [`large_batch`], and [`ycsb`] and
//! [`keyspaces`], which run their threads with [`workloads`]'s helper) and [`compare_report`];
//! then [`compare`]; and last this file, which dispatches.

mod amplification;
mod batches;
mod compare;
mod compare_report;
mod config;
mod directory;
mod distributions;
mod engine;
mod formats;
mod keys;
mod keyspaces;
mod large_batch;
mod measurement;
mod memory;
mod progress;
mod random;
mod range_deletes;
pub(super) mod report;
mod workloads;
mod ycsb;

use std::path::Path;
use std::sync::Arc;

use shaledb::{Db, Options};

use crate::cli::args::{BenchArgs, Workload};
use crate::cli::error::CliError;
use amplification::WriteCounters;
use config::BenchConfig;
pub(super) use config::default_args;
use directory::{BenchDirectory, clear_directory};
use engine::Engine as _;
use engine::shaledb::ShaleEngine;
use measurement::{Amplification, Measurement};

/// Runs `shale bench` with `arguments`.
pub fn run(arguments: &BenchArgs) -> Result<(), CliError> {
    let config = BenchConfig::from_args(arguments)?;
    if arguments.compare {
        return compare::run(&config, arguments);
    }
    let database = BenchDirectory::create(arguments.db.as_deref())?;
    let scratch = BenchDirectory::create(None)?;
    report::print_header(&config, database.path())?;
    let mut bench = Bench {
        config: &config,
        dir: database.path(),
        scratch: scratch.path(),
        db: None,
        live_keys: 0,
    };
    let result = bench.run_all();
    let closed = bench.db.take().map_or(Ok(()), |db| db.close());
    result?;
    closed?;
    database.remove()?;
    scratch.remove()
}

/// The benchmark's state between workloads: the open database and its live keys.
pub struct Bench<'a> {
    /// What to run.
    pub config: &'a BenchConfig,
    /// The database directory.
    pub dir: &'a Path,
    /// Where the format-level workloads write their files.
    pub scratch: &'a Path,
    /// The database the last fill left, if any.
    pub db: Option<Arc<Db>>,
    /// Entries `0..live_keys` are in the database.
    pub live_keys: u64,
}

impl Bench<'_> {
    fn run_all(&mut self) -> Result<(), CliError> {
        for &workload in &self.config.workloads {
            self.run_one(workload)?;
        }
        Ok(())
    }

    fn run_one(&mut self, workload: Workload) -> Result<(), CliError> {
        let config = self.config;
        match workload {
            Workload::Fillseq | Workload::Fillrandom => {
                let ordered = workload == Workload::Fillseq;
                self.fill(config.num, config.db_options(), |db| {
                    let measurement =
                        workloads::fill(config, &ShaleEngine::new(Arc::clone(db)), ordered)?;
                    Ok(with_write_note(measurement, db))
                })
            }
            Workload::Fillsync => self.fill_sync(),
            Workload::Fillbatch => {
                for &threads in &config.threads {
                    let count = batches::operations(config, threads);
                    self.fill(count, config.db_options(), |db| {
                        batches::fill_batch(config, &ShaleEngine::new(Arc::clone(db)), threads)
                    })?;
                }
                Ok(())
            }
            Workload::Batchwriter => {
                for (name, strategy) in batches::batch_strategies(config.strategy) {
                    let count = batches::operations(config, 1);
                    self.fill(count, config.db_options(), |db| {
                        batches::batch_writer(config, db, name, strategy)
                    })?;
                }
                Ok(())
            }
            Workload::Overwrite => self.overwrite(),
            Workload::Readrandom
            | Workload::Readmissing
            | Workload::Seekrandom
            | Workload::Multiget
            | Workload::Compact => self.read(workload),
            Workload::Seekdeleted => range_deletes::run(config, self.scratch),
            Workload::Largebatch => large_batch::run(config, self.scratch),
            Workload::Ycsb => self.ycsb(),
            Workload::Keyspaces | Workload::Dropkeyspace => {
                // A fresh database of their own in the benchmark's directory, which they leave
                // empty: nothing after them reads the last fill's.
                if let Some(db) = self.db.take() {
                    db.close()?;
                }
                self.live_keys = 0;
                if workload == Workload::Keyspaces {
                    keyspaces::run_keyspaces(config, self.dir)
                } else {
                    keyspaces::run_drop(config, self.dir)
                }
            }
            Workload::Sstable => formats::run_sstable(config, self.scratch),
            Workload::Log => formats::run_log(config, self.scratch),
            Workload::Fsync => {
                let zeros = formats::overwrite_synced(config, &self.scratch.join("fsync.dat"))?;
                report::row(config, &zeros, None)?;
                report::row(
                    config,
                    &formats::log_append_synced(config, &self.scratch.join("fsync.wal"), true)?,
                    None,
                )
            }
        }
    }

    fn fill_sync(&mut self) -> Result<(), CliError> {
        let config = self.config;
        for &threads in &config.threads {
            for (name, policy) in workloads::commit_policies(config.policy) {
                let per_thread = config.sync_num.div_ceil(threads);
                let options = Options {
                    commit_policy: policy,
                    ..config.db_options()
                };
                self.fill(per_thread * threads, options, |db| {
                    let shale = ShaleEngine::new(Arc::clone(db));
                    let measurement = workloads::fill_sync(config, &shale, threads, name)?;
                    Ok(with_sync_note(measurement, db))
                })?;
            }
        }
        Ok(())
    }

    /// Runs `work` on a fresh database opened with `options`, which it fills with entries
    /// `0..count`, then settles the tree and reports the row and its amplification.
    fn fill(
        &mut self,
        count: u64,
        options: Options,
        work: impl FnOnce(&Arc<Db>) -> Result<Measurement, CliError>,
    ) -> Result<(), CliError> {
        if let Some(db) = self.db.take() {
            db.close()?;
        }
        clear_directory(self.dir)?;
        let before = WriteCounters::now(None);
        let db = self.db.insert(Arc::new(Db::open(self.dir, options)?));
        let measurement = work(db)?;
        self.live_keys = count;
        let amplification = self.settle(&before, count)?;
        report::row(self.config, &measurement, Some(&amplification))
    }

    fn overwrite(&mut self) -> Result<(), CliError> {
        let config = self.config;
        let db = self.existing_db()?;
        let before = WriteCounters::now(Some(db));
        let measurement = workloads::overwrite(config, &ShaleEngine::new(Arc::clone(db)))?;
        self.live_keys = self.live_keys.max(config.num);
        let amplification = self.settle(&before, config.num)?;
        report::row(config, &measurement, Some(&amplification))
    }

    /// Flushes and waits for compaction (untimed, with a spinner), then measures the writes
    /// since `before` against `written` entries of user data, and the tree.
    fn settle(&self, before: &WriteCounters, written: u64) -> Result<Amplification, CliError> {
        let Some(db) = self.db.as_ref() else {
            return Err(CliError::Failed("no database to settle".into()));
        };
        let spinner = progress::Progress::spinner(self.config, "flush + compaction");
        db.flush()?;
        db.wait_for_compaction()?;
        spinner.finish();
        let user_bytes = written * self.config.entry_bytes();
        amplification::measure(
            self.config,
            db,
            self.dir,
            before,
            user_bytes,
            self.live_keys,
        )
    }

    fn read(&mut self, workload: Workload) -> Result<(), CliError> {
        let config = self.config;
        let live_keys = {
            self.existing_db()?;
            self.live_keys
        };
        let Some(db) = self.db.as_ref() else {
            return Err(CliError::Failed("no database to read".into()));
        };
        let shale = ShaleEngine::new(Arc::clone(db));
        match workload {
            Workload::Readrandom => {
                for &threads in &config.threads {
                    let measurement = workloads::read_random(config, &shale, live_keys, threads)?;
                    report::row(config, &with_cache_note(measurement, db), None)?;
                }
                Ok(())
            }
            Workload::Readmissing => report::row(
                config,
                &workloads::read_missing(config, &shale, live_keys)?,
                None,
            ),
            Workload::Seekrandom => report::row(
                config,
                &workloads::seek_random(config, &shale, live_keys)?,
                None,
            ),
            Workload::Multiget => report::row(
                config,
                &workloads::multi_get(config, &shale, live_keys)?,
                None,
            ),
            _ => amplification::compact(config, db, self.dir, live_keys),
        }
    }

    /// The YCSB core workloads on a fresh database: the load (reported like a fill), then A to
    /// F at each client thread count, each settled (untimed) after its writes. The database
    /// then holds YCSB's keys, not the other workloads', so it is closed and dropped.
    fn ycsb(&mut self) -> Result<(), CliError> {
        let config = self.config;
        self.fill(config.num, config.db_options(), |db| {
            ycsb::load(config, &ShaleEngine::new(Arc::clone(db)))
        })?;
        let result = self.ycsb_workloads();
        self.live_keys = 0;
        let closed = self.db.take().map_or(Ok(()), |db| db.close());
        result?;
        Ok(closed?)
    }

    fn ycsb_workloads(&self) -> Result<(), CliError> {
        let config = self.config;
        let Some(db) = self.db.as_ref() else {
            return Err(CliError::Failed("no database for ycsb".into()));
        };
        let engine = ShaleEngine::new(Arc::clone(db));
        let mut records = config.num;
        for threads in ycsb::thread_counts(config) {
            for workload in ycsb::selected(config) {
                let before = db.stats();
                let mut run = ycsb::run(config, &engine, workload, records, threads)?;
                let after = db.stats();
                records = run.records;
                if workload.has_writes() {
                    let spinner = progress::Progress::spinner(config, "flush + compaction");
                    engine.settle()?;
                    spinner.finish();
                }
                let hits = after.cache_hits - before.cache_hits;
                let lookups = hits + after.cache_misses - before.cache_misses;
                run.measurement.note = format!(
                    "{}; block cache {:.0}% hits",
                    run.measurement.note,
                    100.0 * hits as f64 / lookups.max(1) as f64
                );
                report::row(config, &run.measurement, None)?;
            }
        }
        Ok(())
    }

    /// The database of the last fill; without one, fills a fresh one with fillseq first,
    /// untimed and unreported, so that reads have something to find.
    fn existing_db(&mut self) -> Result<&Arc<Db>, CliError> {
        if self.db.is_none() {
            clear_directory(self.dir)?;
            let db = self
                .db
                .insert(Arc::new(Db::open(self.dir, self.config.db_options())?));
            workloads::fill(self.config, &ShaleEngine::new(Arc::clone(db)), true)?;
            self.live_keys = self.config.num;
            report::note(
                self.config,
                "(no fill ran before: filled with fillseq, untimed)",
            )?;
        }
        self.db
            .as_ref()
            .ok_or_else(|| CliError::Failed("no database".into()))
    }
}

/// `measurement` of an unsynced fill, with the write groups and stalls of `db`.
fn with_write_note(mut measurement: Measurement, db: &Db) -> Measurement {
    let stats = db.stats();
    measurement.note = format!(
        "{}; {} write groups, {} stalls",
        measurement.note, stats.write_groups, stats.stall_count
    );
    measurement
}

/// `measurement` of fillsync, with the fsync rate and group sizes of `db`.
fn with_sync_note(mut measurement: Measurement, db: &Db) -> Measurement {
    let stats = db.stats();
    let seconds = measurement.elapsed.as_secs_f64().max(1e-9);
    measurement.note = format!(
        "{:.0} fsyncs/s, {:.1} batches per group; fsync p50 {:?}",
        stats.fsync_latency.count as f64 / seconds,
        stats.batches_per_group_mean,
        stats.fsync_latency.p50,
    );
    measurement
}

/// `measurement` of readrandom, with the block cache hit rate of `db`.
fn with_cache_note(mut measurement: Measurement, db: &Db) -> Measurement {
    let stats = db.stats();
    let hits = stats.cache_hits as f64 / (stats.cache_hits + stats.cache_misses).max(1) as f64;
    measurement.note = format!(
        "{}; block cache {:.0}% hits",
        measurement.note,
        100.0 * hits
    );
    measurement
}
