//! `shale bench --compare`: the same workloads on shaledb and on each peer engine of this build
//! (fjall with the `compare` feature, RocksDB with `compare-rocksdb`), in one process, with the
//! same settings (see [`SETTINGS`](super::engine::SETTINGS)), and the ratio shaledb/peer per
//! workload for each peer.
//!
//! Fairness rules: every engine runs the very same timed loops ([`workloads`],
//! [`batches`]) through the [`Engine`] trait. Each engine has its own directory under the
//! benchmark's; a turn opens one engine (a fresh database for a fill, the one its last fill left
//! otherwise), runs the workload, settles the tree after writes (untimed), and closes it, so only
//! one engine is open at a time and each turn's peak memory is its own. The engines take turns
//! per workload, and the order rotates from one workload to the next (with two engines, which
//! goes first alternates), so that none always runs on a warmer or cooler machine. Reads after
//! a reopen start with a cold block cache in every engine alike.

use std::cell::Cell;
use std::path::Path;

use super::batches;
use super::compare_report as report;
use super::config::BenchConfig;
use super::directory::{BenchDirectory, clear_directory};
use super::engine::open::open;
use super::engine::{Engine, EngineKind};
use super::measurement::{Measurement, Turn};
use super::memory;
use super::workloads;
use super::ycsb;
use crate::cli::args::{BenchArgs, Workload};
use crate::cli::error::CliError;

/// The workloads every engine can run, in the order they run.
const COMPARABLE: [Workload; 10] = [
    Workload::Fillseq,
    Workload::Fillrandom,
    Workload::Overwrite,
    Workload::Readrandom,
    Workload::Readmissing,
    Workload::Seekrandom,
    Workload::Multiget,
    Workload::Fillsync,
    Workload::Fillbatch,
    Workload::Ycsb,
];

/// Runs `shale bench --compare` with `config` (parsed from `arguments`).
pub fn run(config: &BenchConfig, arguments: &BenchArgs) -> Result<(), CliError> {
    let engines = EngineKind::all();
    if engines.len() < 2 {
        return Err(CliError::Usage(
            "--compare needs a peer engine: this shale was built without the `compare` and \
             `compare-rocksdb` features (cargo run --release --features compare -- bench \
             --compare)"
                .into(),
        ));
    }
    let (selected, skipped): (Vec<Workload>, Vec<Workload>) = config
        .workloads
        .iter()
        .partition(|workload| COMPARABLE.contains(workload));
    let root = BenchDirectory::create(arguments.db.as_deref())?;
    for engine in &engines {
        let dir = root.path().join(engine.name());
        std::fs::create_dir_all(&dir).map_err(|error| {
            CliError::Failed(format!("cannot create {}: {error}", dir.display()))
        })?;
    }
    report::print_header(config, root.path(), &engines, &skipped)?;
    let mut compare = Compare {
        config,
        root: root.path(),
        engines,
        live_keys: None,
        rounds: Cell::new(0),
    };
    for workload in selected {
        compare.run_workload(workload)?;
    }
    root.remove()
}

/// The comparison's state between workloads.
struct Compare<'a> {
    config: &'a BenchConfig,
    root: &'a Path,
    engines: Vec<EngineKind>,
    /// Entries `0..live_keys` are in every engine's database, once a fill ran.
    live_keys: Option<u64>,
    /// Rounds run so far; round `r` starts with engine `r % engines` and goes on in order.
    rounds: Cell<usize>,
}

/// Whether `workload` starts from an empty database.
fn is_fill(workload: Workload) -> bool {
    matches!(
        workload,
        Workload::Fillseq | Workload::Fillrandom | Workload::Fillsync | Workload::Fillbatch
    )
}

impl Compare<'_> {
    fn run_workload(&mut self, workload: Workload) -> Result<(), CliError> {
        if workload == Workload::Ycsb {
            return self.ycsb();
        }
        if !is_fill(workload) && self.live_keys.is_none() {
            self.fill_untimed()?;
        }
        for threads in self.thread_counts(workload) {
            let writes = is_fill(workload) || workload == Workload::Overwrite;
            let turns = self.round(is_fill(workload), writes, &|engine| {
                self.measure(engine, workload, threads)
            })?;
            self.live_keys = Some(self.live_keys_after(workload, threads));
            report::rows(self.config, workload, &turns)?;
        }
        Ok(())
    }

    /// The YCSB core workloads: every engine loads a fresh database, then runs A to F at each
    /// client thread count on it, settled (untimed) after each workload that writes. Every
    /// engine must end each workload with the same records (the inserts are drawn from seeds
    /// alone); its databases then hold YCSB's keys, so a later read workload fills them again.
    fn ycsb(&mut self) -> Result<(), CliError> {
        let config = self.config;
        self.live_keys = None;
        let turns = self.round(true, true, &|engine| ycsb::load(config, engine))?;
        report::rows(config, Workload::Ycsb, &turns)?;
        let mut records = config.num;
        for threads in ycsb::thread_counts(config) {
            for workload in ycsb::selected(config) {
                let after = Cell::new(None);
                let turns = self.round(false, workload.has_writes(), &|engine| {
                    let run = ycsb::run(config, engine, workload, records, threads)?;
                    match after.get() {
                        Some(other) if other != run.records => Err(CliError::Failed(format!(
                            "ycsb {}: {} records after {}'s turn, {other} after another's",
                            workload.letter,
                            run.records,
                            engine.name()
                        ))),
                        _ => {
                            after.set(Some(run.records));
                            Ok(run.measurement)
                        }
                    }
                })?;
                records = after.get().unwrap_or(records);
                report::rows(config, Workload::Ycsb, &turns)?;
            }
        }
        Ok(())
    }

    /// The thread counts of `workload`: `--threads` if given, else the targets (16 and
    /// 64 synced writers, 1 and 4 batch writers, one reader).
    fn thread_counts(&self, workload: Workload) -> Vec<u64> {
        let threaded = matches!(
            workload,
            Workload::Readrandom | Workload::Fillsync | Workload::Fillbatch
        );
        match workload {
            _ if !threaded => vec![1],
            _ if self.config.threads_given => self.config.threads.clone(),
            Workload::Fillsync => vec![16, 64],
            Workload::Fillbatch => vec![1, 4],
            _ => vec![1],
        }
    }

    /// Every engine takes its turn at `work` (on a fresh database if `fresh`, settled after it
    /// if `writes`); the turns come back in engine order whatever order they ran in.
    fn round(
        &self,
        fresh: bool,
        writes: bool,
        work: &dyn Fn(&dyn Engine) -> Result<Measurement, CliError>,
    ) -> Result<Vec<Turn>, CliError> {
        let mut order = self.engines.clone();
        let rounds = self.rounds.get();
        order.rotate_left(rounds % self.engines.len());
        self.rounds.set(rounds + 1);
        let mut turns = Vec::with_capacity(order.len());
        for kind in order {
            turns.push(self.turn(kind, fresh, writes, work)?);
        }
        turns.sort_by_key(|turn| {
            self.engines
                .iter()
                .position(|kind| kind.name() == turn.engine)
        });
        Ok(turns)
    }

    fn live_keys_after(&self, workload: Workload, threads: u64) -> u64 {
        let config = self.config;
        match workload {
            Workload::Fillseq | Workload::Fillrandom => config.num,
            Workload::Overwrite => self.live_keys.unwrap_or(0).max(config.num),
            Workload::Fillsync => config.sync_num.div_ceil(threads) * threads,
            Workload::Fillbatch => batches::operations(config, threads),
            _ => self.live_keys.unwrap_or(0),
        }
    }

    /// One engine's turn: open (a fresh database if `fresh`), run the timed loop, settle after
    /// `writes`, close; with the process's peak memory over all of it.
    fn turn(
        &self,
        kind: EngineKind,
        fresh: bool,
        writes: bool,
        work: &dyn Fn(&dyn Engine) -> Result<Measurement, CliError>,
    ) -> Result<Turn, CliError> {
        let dir = self.root.join(kind.name());
        if fresh {
            clear_directory(&dir)?;
        }
        memory::release_free_memory();
        let start_resident_bytes = memory::resident_bytes();
        let peak_was_reset = memory::reset_peak();
        let heap_sampler = memory::HeapPeakSampler::start();
        let engine = open(kind, &dir, self.config)?;
        let name = engine.name();
        let measured = work(engine.as_ref());
        let settled = match (&measured, writes) {
            (Ok(_), true) => engine.settle(),
            _ => Ok(()),
        };
        let closed = engine.close();
        let peaks = heap_sampler.finish();
        let measurement = measured?;
        settled?;
        closed?;
        Ok(Turn {
            engine: name,
            measurement,
            start_resident_bytes,
            peak_resident_bytes: memory::peak_resident_bytes().filter(|_| peak_was_reset),
            peak_heap_bytes: peaks.anonymous,
            peak_file_bytes: peaks.file,
        })
    }

    fn measure(
        &self,
        engine: &dyn Engine,
        workload: Workload,
        threads: u64,
    ) -> Result<Measurement, CliError> {
        let config = self.config;
        let live_keys = self.live_keys.unwrap_or(0);
        match workload {
            Workload::Fillseq => workloads::fill(config, engine, true),
            Workload::Fillrandom => workloads::fill(config, engine, false),
            Workload::Overwrite => workloads::overwrite(config, engine),
            Workload::Readrandom => workloads::read_random(config, engine, live_keys, threads),
            Workload::Readmissing => workloads::read_missing(config, engine, live_keys),
            Workload::Seekrandom => workloads::seek_random(config, engine, live_keys),
            Workload::Multiget => workloads::multi_get(config, engine, live_keys),
            Workload::Fillsync => workloads::fill_sync(config, engine, threads, ""),
            Workload::Fillbatch => batches::fill_batch(config, engine, threads),
            other => Err(CliError::Failed(format!(
                "{other:?} cannot be compared (a bug: it should have been skipped)"
            ))),
        }
    }

    /// Fills every engine with fillseq, untimed and unreported, so that reads have something
    /// to find when no fill ran before them.
    fn fill_untimed(&mut self) -> Result<(), CliError> {
        for kind in self.engines.clone() {
            let dir = self.root.join(kind.name());
            clear_directory(&dir)?;
            let engine = open(kind, &dir, self.config)?;
            let filled = workloads::fill(self.config, engine.as_ref(), true);
            let settled = filled.as_ref().map_or(Ok(()), |_| engine.settle());
            let closed = engine.close();
            filled?;
            settled?;
            closed?;
        }
        self.live_keys = Some(self.config.num);
        report::note(
            self.config,
            "(no fill ran before: every engine filled with fillseq, untimed)",
        )
    }
}
