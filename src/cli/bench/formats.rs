//! The format-level workloads of `shale bench` (`sstable`: build, lookups, scans of one table;
//! `log`: appends with and without fdatasync, replay; `fsync`: the disk's fdatasync rate over
//! written zeros and over a preallocation as the engine makes one), one
//! function per timed loop. Their keys and values come from [`keys`](super::keys), as every
//! workload's do.
//!
//! Keys are zero-padded decimal numbers: entry `i` of the table has user key `2 * i`, so every
//! odd number is a key that is absent yet falls inside the table's key range (the bloom filter,
//! not the range check, has to reject it). Entry `i` has sequence number `i + 1`. Every loop
//! checks its results (a present key is found, an absent one is not, a scan sees every entry)
//! and fails the benchmark rather than report figures for wrong work.

use std::hint::black_box;
use std::path::Path;

use shaledb::SequenceNumber;
use shaledb::key::append_internal_key;
use shaledb::key::{FileNumber, ValueKind};
use shaledb::log::{LogEvent, LogFileKind, LogReader, LogWriter};
use shaledb::sstable::{LookupResult, Table, TableBuilder};

use super::config::BenchConfig;
use super::keys::{KeyMaker, ValuePool};
use super::measurement::{Measurement, time};
use super::random::SplitMix64;
use super::report::row;
use crate::cli::error::CliError;

/// Seed of the lookups' generator; fixed so that runs are repeatable (the values' seed is in
/// [`keys`](super::keys)).
const LOOKUP_SEED: u64 = 0x5eed_0002;

/// The `sstable` workload: builds a table of `num` entries in `dir`, then looks up present and
/// absent keys and scans it both ways.
pub fn run_sstable(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    let table_path = dir.join("000001.sst");
    row(config, &table_build(config, &table_path)?, None)?;
    let table = Table::open(&table_path, FileNumber(1))?;
    row(config, &table_lookups(config, &table, true)?, None)?;
    row(config, &table_lookups(config, &table, false)?, None)?;
    row(config, &table_scan(config, &table, true)?, None)?;
    row(config, &table_scan(config, &table, false)?, None)
}

/// The `log` workload: `num` unsynced appends, `sync_num` synced ones to a fresh and to a
/// preallocated file, and a replay of the unsynced log.
pub fn run_log(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    let log_path = dir.join("000002.wal");
    row(config, &log_append(config, &log_path)?, None)?;
    row(
        config,
        &log_append_synced(config, &dir.join("000003.wal"), false)?,
        None,
    )?;
    row(
        config,
        &log_append_synced(config, &dir.join("000004.wal"), true)?,
        None,
    )?;
    row(
        config,
        &overwrite_synced(config, &dir.join("zeros.dat"))?,
        None,
    )?;
    row(config, &log_replay(config, &log_path)?, None)
}

/// Builds the table of `config.num` sorted entries at `path`, including the final flush
/// and fsync of `TableBuilder::finish`.
pub fn table_build(config: &BenchConfig, path: &Path) -> Result<Measurement, CliError> {
    let values = ValuePool::new(config.value_size);
    let mut keys = KeyMaker::new(config.key_size);
    let mut internal_key = Vec::with_capacity(config.key_size + 8);
    let mut builder = TableBuilder::create(path, config.table_options.clone())?;
    let (summary, elapsed) = time(|| {
        for index in 0..config.num {
            internal_key.clear();
            let sequence = SequenceNumber(index + 1);
            append_internal_key(
                &mut internal_key,
                keys.key(2 * index),
                sequence,
                ValueKind::Value,
            );
            builder.add(&internal_key, values.value(index))?;
        }
        builder.finish()
    });
    let summary = summary?;
    let properties = &summary.properties;
    Ok(Measurement {
        name: "sstable build".into(),
        operations: config.num,
        bytes: config.num * config.entry_bytes(),
        elapsed,
        latency: None,
        note: format!(
            "file {:.1} MB, {} data blocks ({} LZ4)",
            summary.file_size as f64 / 1e6,
            properties.data_block_count,
            properties.compressed_data_block_count
        ),
    })
}

/// `config.num` point lookups of random keys that are present (`present`) or absent.
pub fn table_lookups(
    config: &BenchConfig,
    table: &Table,
    present: bool,
) -> Result<Measurement, CliError> {
    let mut random = SplitMix64::new(LOOKUP_SEED + u64::from(present));
    let mut keys = KeyMaker::new(config.key_size);
    let (found, elapsed) = time(|| -> Result<u64, CliError> {
        let mut found = 0;
        for _ in 0..config.num {
            let number = 2 * random.below(config.num) + u64::from(!present);
            let result = table.get(keys.key(number), SequenceNumber::MAX)?;
            if let Some(LookupResult::Value(value)) = black_box(result) {
                found += 1;
                black_box(value);
            }
        }
        Ok(found)
    });
    let found = found?;
    let expected = if present { config.num } else { 0 };
    if found != expected {
        return Err(CliError::Failed(format!(
            "benchmark check failed: {found} of {} lookups found a value, expected {expected}",
            config.num
        )));
    }
    let (name, note) = if present {
        ("sstable get (present keys)", format!("{found} found"))
    } else {
        let passed = bloom_passes(config, table);
        let rate = passed as f64 * 100.0 / config.num as f64;
        let note = format!("0 found; bloom filter let {rate:.2}% through (counted apart)");
        ("sstable get (absent keys)", note)
    };
    Ok(Measurement {
        name: name.into(),
        operations: config.num,
        bytes: config.num * config.entry_bytes(),
        elapsed,
        latency: None,
        note,
    })
}

/// How many absent keys the bloom filter does not reject (outside any timed loop).
fn bloom_passes(config: &BenchConfig, table: &Table) -> u64 {
    let mut keys = KeyMaker::new(config.key_size);
    (0..config.num)
        .filter(|&index| table.may_contain(keys.key(2 * index + 1)))
        .count() as u64
}

/// Reads every entry in order, forward or backward, checking block checksums.
pub fn table_scan(
    config: &BenchConfig,
    table: &Table,
    forward: bool,
) -> Result<Measurement, CliError> {
    let (counted, elapsed) = time(|| -> Result<(u64, u64), CliError> {
        let mut iterator = table.iter();
        if forward {
            iterator.seek_to_first()?;
        } else {
            iterator.seek_to_last()?;
        }
        let (mut entries, mut bytes) = (0u64, 0u64);
        while iterator.valid() {
            entries += 1;
            bytes +=
                (black_box(iterator.key()).len() - 8 + black_box(iterator.value()).len()) as u64;
            if forward {
                iterator.next()?;
            } else {
                iterator.prev()?;
            }
        }
        Ok((entries, bytes))
    });
    let (entries, bytes) = counted?;
    if entries != config.num {
        return Err(CliError::Failed(format!(
            "benchmark check failed: the scan saw {entries} entries, the table has {}",
            config.num
        )));
    }
    Ok(Measurement {
        name: if forward {
            "sstable scan forward"
        } else {
            "sstable scan backward"
        }
        .into(),
        operations: entries,
        bytes,
        elapsed,
        latency: None,
        note: String::from("every entry, checksums verified"),
    })
}

/// Appends `config.num` records without syncing: each is one `write` to the OS.
pub fn log_append(config: &BenchConfig, path: &Path) -> Result<Measurement, CliError> {
    let values = ValuePool::new(config.value_size);
    let mut writer = LogWriter::create(path, LogFileKind::Wal)?;
    let (result, elapsed) = time(|| -> Result<(), CliError> {
        for index in 0..config.num {
            writer.add_record(values.value(index))?;
        }
        Ok(())
    });
    result?;
    Ok(Measurement {
        name: "log append (no sync)".into(),
        operations: config.num,
        bytes: config.num * config.value_size as u64,
        elapsed,
        latency: None,
        note: format!(
            "file {:.1} MB, one write per record",
            writer.offset() as f64 / 1e6
        ),
    })
}

/// Appends `config.sync_num` records with an `fdatasync` after each, to a fresh file or to
/// one preallocated as the engine preallocates its write-ahead logs (the space reserved with
/// `fallocate`, the zeros not written; the preallocation itself is not timed).
pub fn log_append_synced(
    config: &BenchConfig,
    path: &Path,
    preallocated: bool,
) -> Result<Measurement, CliError> {
    let values = ValuePool::new(config.value_size);
    let mut writer = if preallocated {
        let record_bytes = config.value_size as u64 + 7;
        LogWriter::create_preallocated(path, LogFileKind::Wal, config.sync_num * record_bytes * 2)?
    } else {
        LogWriter::create(path, LogFileKind::Wal)?
    };
    let (result, elapsed) = time(|| -> Result<(), CliError> {
        for index in 0..config.sync_num {
            writer.add_record(values.value(index))?;
            writer.sync()?;
        }
        Ok(())
    });
    result?;
    let fsyncs_per_second = config.sync_num as f64 / elapsed.as_secs_f64().max(1e-9);
    Ok(Measurement {
        name: if preallocated {
            "log append + fdatasync (prealloc)"
        } else {
            "log append + fdatasync"
        }
        .into(),
        operations: config.sync_num,
        bytes: config.sync_num * config.value_size as u64,
        elapsed,
        latency: None,
        note: format!("{fsyncs_per_second:.0} fsyncs/s, one per record"),
    })
}

/// The disk's own rate of overwrites + `fdatasync` of a file whose zeros were written and
/// synced first (not timed), as write-ahead logs were preallocated before they were reserved
/// with `fallocate`: `config.sync_num` writes of `value_size` bytes, each synced. Plain file
/// I/O, no log framing: the cheapest synced write the disk offers.
pub fn overwrite_synced(config: &BenchConfig, path: &Path) -> Result<Measurement, CliError> {
    use std::io::{Seek, SeekFrom, Write};
    let failed = |error: std::io::Error| CliError::Failed(format!("{}: {error}", path.display()));
    let values = ValuePool::new(config.value_size);
    let length = config.sync_num * config.value_size as u64;
    let mut file = std::fs::File::create(path).map_err(failed)?;
    let chunk = vec![0u8; 16 << 10];
    let mut remaining = length;
    while remaining > 0 {
        let step = remaining.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..step]).map_err(failed)?;
        remaining -= step as u64;
    }
    file.sync_all().map_err(failed)?;
    file.seek(SeekFrom::Start(0)).map_err(failed)?;
    let (result, elapsed) = time(|| -> Result<(), CliError> {
        for index in 0..config.sync_num {
            file.write_all(values.value(index)).map_err(failed)?;
            file.sync_data().map_err(failed)?;
        }
        Ok(())
    });
    result?;
    drop(file);
    std::fs::remove_file(path).map_err(failed)?;
    let fsyncs_per_second = config.sync_num as f64 / elapsed.as_secs_f64().max(1e-9);
    Ok(Measurement {
        name: "overwrite of written zeros + fdatasync".into(),
        operations: config.sync_num,
        bytes: config.sync_num * config.value_size as u64,
        elapsed,
        latency: None,
        note: format!("{fsyncs_per_second:.0} fsyncs/s, one per write"),
    })
}

/// Reads the unsynced log back: opening (which reads the file) and every record, checked.
pub fn log_replay(config: &BenchConfig, path: &Path) -> Result<Measurement, CliError> {
    let (counted, elapsed) = time(|| -> Result<(u64, u64), CliError> {
        let (mut records, mut bytes) = (0u64, 0u64);
        for event in LogReader::open(path, LogFileKind::Wal)? {
            match event {
                LogEvent::Record { payload, .. } => {
                    records += 1;
                    bytes += black_box(payload).len() as u64;
                }
                damage => {
                    let error = damage
                        .to_error(path)
                        .map_or_else(String::new, |e| e.to_string());
                    return Err(CliError::Failed(format!(
                        "benchmark log is damaged: {error}"
                    )));
                }
            }
        }
        Ok((records, bytes))
    });
    let (records, bytes) = counted?;
    if records != config.num {
        return Err(CliError::Failed(format!(
            "benchmark check failed: replay found {records} records, {} were written",
            config.num
        )));
    }
    Ok(Measurement {
        name: "log replay".into(),
        operations: records,
        bytes,
        elapsed,
        latency: None,
        note: String::from("read file, check every fragment"),
    })
}
