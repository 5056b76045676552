//! Output of `shale bench --compare`: a header with the shared settings and the memory budget,
//! then per workload one row per engine (ops/s, p50, p99, peak heap and peak resident memory)
//! and, for each peer, the ratio shaledb/peer of ops/s beside the target; or, with
//! `--json`, one JSON object per workload with the same figures.
//!
//! Targets (issue 7): against fjall, fills, overwrite and reads at least 1.0x and synced single
//! puts at least 4x (no target for synced batches); against RocksDB, fills, overwrite and reads
//! at least 1.2x, synced single puts at least 1.5x and synced batches at least 1.2x. Memory:
//! the peak heap of a turn at most the write buffers plus the block cache plus 64 MiB (why heap
//! and not RSS: see [`memory`]). YCSB (issue 17): each core workload at least 1.2x each peer
//! (the issue asks 1.2x the better one); its load phase has no target of its own.

use std::fmt::Write as _;
use std::path::Path;

use super::config::BenchConfig;
use super::engine::{EngineKind, SETTINGS};
use super::measurement::Turn;
use super::memory;
use super::report::{json_number, json_string};
use super::ycsb;
use crate::cli::args::Workload;
use crate::cli::error::CliError;

/// Slack above the write buffers and block cache that a turn's peak memory may use.
const MEMORY_SLACK_BYTES: u64 = 64 << 20;

/// The ratio shaledb/`peer` that issue 7 (issue 17 for ycsb) asks of the row `name` of
/// `workload`, if any.
pub fn target(workload: Workload, name: &str, peer: &str) -> Option<f64> {
    match (peer, workload) {
        (_, Workload::Ycsb) if name == ycsb::LOAD_NAME => None,
        ("fjall" | "rocksdb", Workload::Ycsb) => Some(1.2),
        ("fjall", Workload::Fillsync) => Some(4.0),
        ("fjall", Workload::Fillbatch) => None,
        ("fjall", _) => Some(1.0),
        ("rocksdb", Workload::Fillsync) => Some(1.5),
        ("rocksdb", _) => Some(1.2),
        _ => None,
    }
}

/// The most heap memory a turn may peak at: every memtable shaledb may hold (the active one
/// and the frozen ones waiting for their flush), the block cache, and 64 MiB.
pub fn memory_budget_bytes(config: &BenchConfig) -> u64 {
    let options = config.db_options();
    let write_buffers = options.write_buffer_size * (1 + options.max_immutable_memtables);
    write_buffers as u64 + options.block_cache_capacity as u64 + MEMORY_SLACK_BYTES
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// Prints the settings every engine shares and the columns (nothing with `--json`).
pub fn print_header(
    config: &BenchConfig,
    dir: &Path,
    engines: &[EngineKind],
    skipped: &[Workload],
) -> Result<(), CliError> {
    if config.json {
        return Ok(());
    }
    let names: Vec<&str> = engines.iter().map(|engine| engine.name()).collect();
    say!(
        "shale {} bench --compare ({}): num {}, {}-byte keys, {}-byte values, sync-num {}, \
         write buffer {:.1} MiB, block cache {:.1} MiB, {} cores",
        env!("CARGO_PKG_VERSION"),
        names.join(" vs "),
        config.num,
        config.key_size,
        config.value_size,
        config.sync_num,
        mebibytes(config.write_buffer_size as u64),
        mebibytes(config.block_cache_capacity as u64),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    say!("db: {}", dir.display());
    print_settings(engines)?;
    if !skipped.is_empty() {
        say!("skipped (shaledb only): {skipped:?}");
    }
    say!(
        "memory budget per turn: write buffers + block cache + 64 MiB = {:.0} MiB, against \
         \"heap MiB\", the peak anonymous memory (RssAnon, sampled every {} ms); \"file MiB\" is \
         the peak of mapped file pages (RssFile, sampled with it: table pages read through memory \
         maps); \"rss MiB\" is the peak resident size (VmHWM), both kinds together; all reset \
         before each engine's turn",
        mebibytes(memory_budget_bytes(config)),
        memory::SAMPLE_INTERVAL.as_millis()
    );
    say!();
    say!(
        "{:<24} {:<8} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>8}  {:>8} {:>7}  notes",
        "workload",
        "engine",
        "ops",
        "ops/s",
        "p50 µs",
        "p99 µs",
        "heap MiB",
        "file MiB",
        "rss MiB",
        "ratio",
        "target"
    );
    Ok(())
}

/// Prints how each engine of the run gets each shared setting: one line per engine under the
/// setting's name, so that the table stays narrow however many engines run.
fn print_settings(engines: &[EngineKind]) -> Result<(), CliError> {
    say!("{:<20} {:<8} how", "setting", "engine");
    for setting in SETTINGS {
        for (index, engine) in engines.iter().enumerate() {
            let name = if index == 0 { setting.name } else { "" };
            say!(
                "{name:<20} {:<8} {}",
                engine.name(),
                setting.for_engine(*engine)
            );
        }
    }
    Ok(())
}

/// Prints a remark between rows (to standard error with `--json`).
pub fn note(config: &BenchConfig, text: &str) -> Result<(), CliError> {
    super::report::note(config, text)
}

fn ops_per_second(turn: &Turn) -> f64 {
    turn.measurement.operations as f64 / turn.measurement.elapsed.as_secs_f64().max(1e-9)
}

/// Prints one round: a row per engine, the peers' rows with their ratio and target.
pub fn rows(config: &BenchConfig, workload: Workload, turns: &[Turn]) -> Result<(), CliError> {
    let Some(base) = turns.first() else {
        return Ok(());
    };
    if config.json {
        say!("{}", json_object(config, workload, turns));
        return Ok(());
    }
    let budget = memory_budget_bytes(config);
    for (index, turn) in turns.iter().enumerate() {
        let measurement = &turn.measurement;
        let micros = |pick: fn(&super::measurement::Latency) -> std::time::Duration| {
            measurement.latency.as_ref().map_or_else(
                || "-".to_string(),
                |latency| format!("{:.1}", pick(latency).as_secs_f64() * 1e6),
            )
        };
        let heap = turn.peak_heap_bytes.map_or_else(
            || "n/a".to_string(),
            |bytes| {
                let over = if bytes > budget { "!" } else { "" };
                format!("{:.0}{over}", mebibytes(bytes))
            },
        );
        let file = turn.peak_file_bytes.map_or_else(
            || "n/a".to_string(),
            |bytes| format!("{:.0}", mebibytes(bytes)),
        );
        let resident = turn.peak_resident_bytes.map_or_else(
            || "n/a".to_string(),
            |bytes| format!("{:.0}", mebibytes(bytes)),
        );
        let (ratio, goal) = if index == 0 {
            (String::new(), String::new())
        } else {
            let ratio = ops_per_second(base) / ops_per_second(turn).max(1e-9);
            let goal = target(workload, &base.measurement.name, turn.engine).map_or_else(
                || "-".to_string(),
                |target| {
                    let verdict = if ratio >= target { "" } else { " MISS" };
                    format!("{target:.1}x{verdict}")
                },
            );
            (format!("{ratio:.2}x"), goal)
        };
        say!(
            "{:<24} {:<8} {:>9} {:>11.0} {:>9} {:>9} {:>9} {:>9} {:>8}  {:>8} {:>7}  {}",
            if index == 0 {
                measurement.name.as_str()
            } else {
                ""
            },
            turn.engine,
            measurement.operations,
            ops_per_second(turn),
            micros(|latency| latency.p50),
            micros(|latency| latency.p99),
            heap,
            file,
            resident,
            ratio,
            goal,
            measurement.note,
        );
    }
    Ok(())
}

/// One round as a JSON object on one line.
fn json_object(config: &BenchConfig, workload: Workload, turns: &[Turn]) -> String {
    let name = turns
        .first()
        .map_or("", |turn| turn.measurement.name.as_str());
    let mut out = format!(
        "{{\"workload\":{},\"memory_budget_bytes\":{},\"engines\":[",
        json_string(name),
        memory_budget_bytes(config)
    );
    for (index, turn) in turns.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_turn_json(&mut out, turn);
    }
    out.push_str("],\"ratios\":[");
    if let Some((base, peers)) = turns.split_first() {
        for (index, peer) in peers.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let ratio = ops_per_second(base) / ops_per_second(peer).max(1e-9);
            let target = target(workload, &base.measurement.name, peer.engine);
            let _ = write!(
                out,
                "{{\"peer\":{},\"ratio\":{},\"target\":{},\"met\":{}}}",
                json_string(peer.engine),
                json_number(ratio),
                target.map_or_else(|| "null".to_string(), json_number),
                target.map_or_else(|| "null".to_string(), |goal| (ratio >= goal).to_string()),
            );
        }
    }
    out.push_str("]}");
    out
}

fn write_turn_json(out: &mut String, turn: &Turn) {
    let measurement = &turn.measurement;
    let optional = |bytes: Option<u64>| bytes.map_or_else(|| "null".to_string(), |b| b.to_string());
    let _ = write!(
        out,
        "{{\"engine\":{},\"ops\":{},\"seconds\":{},\"ops_per_sec\":{}",
        json_string(turn.engine),
        measurement.operations,
        json_number(measurement.elapsed.as_secs_f64()),
        json_number(ops_per_second(turn)),
    );
    match &measurement.latency {
        Some(latency) => {
            let _ = write!(
                out,
                ",\"latency_us\":{{\"p50\":{},\"p99\":{},\"p999\":{}}}",
                json_number(latency.p50.as_secs_f64() * 1e6),
                json_number(latency.p99.as_secs_f64() * 1e6),
                json_number(latency.p999.as_secs_f64() * 1e6),
            );
        }
        None => out.push_str(",\"latency_us\":null"),
    }
    let _ = write!(
        out,
        ",\"start_rss_bytes\":{},\"peak_rss_bytes\":{},\"peak_heap_bytes\":{},\"peak_file_bytes\":{},\"note\":{}}}",
        optional(turn.start_resident_bytes),
        optional(turn.peak_resident_bytes),
        optional(turn.peak_heap_bytes),
        optional(turn.peak_file_bytes),
        json_string(&measurement.note),
    );
}
