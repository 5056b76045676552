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
use crate::cli::args::{BenchArgs, Workload};
use crate::cli::error::CliError;

/// The workloads every engine can run, in the order they run.
const COMPARABLE: [Workload; 9] = [
    Workload::Fillseq,
    Workload::Fillrandom,
    Workload::Overwrite,
    Workload::Readrandom,
    Workload::Readmissing,
    Workload::Seekrandom,
    Workload::Multiget,
    Workload::Fillsync,
    Workload::Fillbatch,
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
        rounds: 0,
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
    rounds: usize,
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
        if !is_fill(workload) && self.live_keys.is_none() {
            self.fill_untimed()?;
        }
        for threads in self.thread_counts(workload) {
            let turns = self.round(workload, threads)?;
            report::rows(self.config, workload, &turns)?;
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

    /// Every engine takes its turn at `workload` with `threads`; the turns come back in engine
    /// order whatever order they ran in.
    fn round(&mut self, workload: Workload, threads: u64) -> Result<Vec<Turn>, CliError> {
        let mut order = self.engines.clone();
        order.rotate_left(self.rounds % self.engines.len());
        self.rounds += 1;
        let mut turns = Vec::with_capacity(order.len());
        for kind in order {
            turns.push(self.turn(kind, workload, threads)?);
        }
        turns.sort_by_key(|turn| {
            self.engines
                .iter()
                .position(|kind| kind.name() == turn.engine)
        });
        self.live_keys = Some(self.live_keys_after(workload, threads));
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

    /// One engine's turn: open, run the timed loop, settle after writes, close; with the
    /// process's peak memory over all of it.
    fn turn(&self, kind: EngineKind, workload: Workload, threads: u64) -> Result<Turn, CliError> {
        let dir = self.root.join(kind.name());
        if is_fill(workload) {
            clear_directory(&dir)?;
        }
        memory::release_free_memory();
        let start_resident_bytes = memory::resident_bytes();
        let peak_was_reset = memory::reset_peak();
        let heap_sampler = memory::HeapPeakSampler::start();
        let engine = open(kind, &dir, self.config)?;
        let name = engine.name();
        let measured = self.measure(engine.as_ref(), workload, threads);
        let settled = match (
            &measured,
            is_fill(workload) || workload == Workload::Overwrite,
        ) {
            (Ok(_), true) => engine.settle(),
            _ => Ok(()),
        };
        let closed = engine.close();
        let peak_heap_bytes = heap_sampler.finish();
        let measurement = measured?;
        settled?;
        closed?;
        Ok(Turn {
            engine: name,
            measurement,
            start_resident_bytes,
            peak_resident_bytes: memory::peak_resident_bytes().filter(|_| peak_was_reset),
            peak_heap_bytes,
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
