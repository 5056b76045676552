//! The `seekdeleted` workload of `shale bench`: reading over deleted ranges. Three fresh
//! databases, each measured with the same `seekrandom`-style loop (a seek to a random key of the
//! whole key space, then the next `SEEK_SCAN_LENGTH` entries):
//!
//! - `seeklive`: only the keys that survive below were ever written (the baseline);
//! - `seekdeleted`: entries `0..num` written and settled into tables, then 90% of them deleted
//!   with ten range deletes (the first 90% of each tenth of the key space);
//! - `seekdeleted-points`: the same keys deleted one by one, leaving tombstones that every seek
//!   into a deleted range walks (a hundredth of the seeks: each costs about a hundred times
//!   more).
//!
//! Each database is fully compacted (`compact_range(..)`) after its fill, so that the three
//! differ only in what the deletes leave, not in how many level-0 files ten times the data
//! happened to leave behind (a merge reads one block per level-0 file). The deletes are not
//! compacted away: what is measured is a read over tables that still hold every deleted entry,
//! with the tombstones in the memtable. The target is `seekdeleted` within 1.2x of `seeklive`;
//! the note of each row gives its ratio to `seeklive` and the files per level.

use std::path::Path;
use std::sync::Arc;

use shaledb::{Db, WriteOptions};

use super::config::BenchConfig;
use super::directory::clear_directory;
use super::engine::shaledb::ShaleEngine;
use super::keys::{KeyMaker, ValuePool};
use super::progress::Progress;
use super::report;
use super::workloads::{SEEK_SCAN_LENGTH, seek_loop};
use crate::cli::error::CliError;

/// Range deletes: each deletes the first 90% of one tenth of the key space.
const RANGES: u64 = 10;

/// The entry indices `[start, end)` range delete `range` removes, of `num` entries.
fn deleted_span(range: u64, num: u64) -> (u64, u64) {
    let start = range * num / RANGES;
    let next = (range + 1) * num / RANGES;
    (start, start + (next - start) * 9 / 10)
}

fn is_deleted(index: u64, num: u64) -> bool {
    let range = (index * RANGES / num).min(RANGES - 1);
    let (start, end) = deleted_span(range, num);
    (start..end).contains(&index)
}

/// How each database comes to hold its live keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Setup {
    OnlyLive,
    RangeDeletes,
    PointDeletes,
}

impl Setup {
    fn name(self) -> &'static str {
        match self {
            Setup::OnlyLive => "seeklive",
            Setup::RangeDeletes => "seekdeleted",
            Setup::PointDeletes => "seekdeleted-points",
        }
    }
}

/// Runs the three rows (see the module documentation) in `dir`.
pub fn run(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    let num = config.num.max(RANGES * 10);
    let live: Vec<u64> = (0..num).filter(|&index| !is_deleted(index, num)).collect();
    let mut baseline: Option<f64> = None;
    for setup in [Setup::OnlyLive, Setup::RangeDeletes, Setup::PointDeletes] {
        clear_directory(dir)?;
        let db = Arc::new(Db::open(dir, config.db_options())?);
        prepare(config, &db, setup, num)?;
        let seeks = match setup {
            Setup::PointDeletes => (num / 1000).max(1),
            _ => (num / 10).max(1),
        };
        // After a seek to entry `start`: the live entries from it on, up to a scan's length.
        let expected = |start: u64| {
            let after = live.len() - live.partition_point(|&index| index < start);
            SEEK_SCAN_LENGTH.min(after as u64)
        };
        let engine = ShaleEngine::new(Arc::clone(&db));
        let mut measurement = seek_loop(config, &engine, setup.name(), seeks, num, expected)?;
        let rate = measurement.operations as f64 / measurement.elapsed.as_secs_f64().max(1e-9);
        let ratio = match baseline {
            None => {
                baseline = Some(rate);
                String::from("baseline")
            }
            Some(live_rate) => format!("{:.2}x the time of seeklive", live_rate / rate),
        };
        let files: Vec<String> = db
            .stats()
            .levels
            .iter()
            .map(|level| level.files.to_string())
            .collect();
        measurement.note = format!(
            "{}; {} of {num} keys live; files per level {}; {ratio}",
            measurement.note,
            live.len(),
            files.join("/")
        );
        report::row(config, &measurement, None)?;
        db.close()?;
    }
    clear_directory(dir)
}

/// Fills `db` as `setup` says (untimed): the live keys only, or every key settled into tables
/// and then the deleted ones removed by range or one by one.
fn prepare(config: &BenchConfig, db: &Db, setup: Setup, num: u64) -> Result<(), CliError> {
    let values = ValuePool::new(config.value_size);
    let mut keys = KeyMaker::new(config.key_size);
    let progress = Progress::bar(config, setup.name(), num);
    for index in 0..num {
        if setup != Setup::OnlyLive || !is_deleted(index, num) {
            db.put_with(
                keys.key(2 * index),
                values.value(index),
                &WriteOptions::NO_SYNC,
            )?;
        }
        progress.step(index + 1);
    }
    progress.finish();
    db.compact_range(..)?;
    let mut end_keys = KeyMaker::new(config.key_size);
    for range in 0..RANGES {
        let (start, end) = deleted_span(range, num);
        match setup {
            Setup::OnlyLive => {}
            Setup::RangeDeletes => db.delete_range_with(
                keys.key(2 * start)..end_keys.key(2 * end),
                &WriteOptions::NO_SYNC,
            )?,
            Setup::PointDeletes => {
                for index in start..end {
                    db.delete_with(keys.key(2 * index), &WriteOptions::NO_SYNC)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ninety_percent_is_deleted_in_ten_ranges() {
        let num = 1_000;
        let deleted = (0..num).filter(|&index| is_deleted(index, num)).count();
        assert_eq!(deleted, 900);
        assert_eq!(deleted_span(0, num), (0, 90));
        assert_eq!(deleted_span(9, num), (900, 990));
        assert!(!is_deleted(95, num) && is_deleted(100, num));
    }
}
