//! Output of `shale bench`: the header, one table row per workload (ops/s, MB/s, latency
//! percentiles, notes), and after a fill its amplification and the tree's shape as a small bar
//! chart per level; or, with `--json`, one JSON object per line per workload with the same
//! figures (written by hand: the format is small and fixed). Progress bars go to standard
//! error, so standard output holds only these lines.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use shaledb::LevelStats;

use super::config::BenchConfig;
use super::measurement::{Amplification, Measurement};
use crate::cli::error::CliError;

/// Characters of the longest bar of the tree chart.
const BAR_WIDTH: usize = 40;

/// Prints what runs where (nothing with `--json`).
pub fn print_header(config: &BenchConfig, dir: &Path) -> Result<(), CliError> {
    if config.json {
        return Ok(());
    }
    say!(
        "shale {} bench: num {}, {}-byte keys, {}-byte values (about half compressible), \
         threads {:?}, sync-num {}, write buffer {:.1} MiB",
        env!("CARGO_PKG_VERSION"),
        config.num,
        config.key_size,
        config.value_size,
        config.threads,
        config.sync_num,
        config.write_buffer_size as f64 / f64::from(1 << 20),
    );
    say!("db: {}", dir.display());
    say!("MB = 10^6 bytes of keys and values; latency percentiles per operation, in µs");
    say!();
    say!(
        "{:<34} {:>9} {:>11} {:>8} {:>9} {:>9} {:>9}  notes",
        "workload",
        "ops",
        "ops/s",
        "MB/s",
        "p50",
        "p99",
        "p99.9"
    );
    Ok(())
}

/// Prints a remark between rows (to standard error with `--json`, to keep its output JSON).
pub fn note(config: &BenchConfig, text: &str) -> Result<(), CliError> {
    if config.json {
        eprintln!("shale: {text}");
    } else {
        say!("{text}");
    }
    Ok(())
}

fn microseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// Prints one workload's row, and its amplification and tree after a fill.
pub fn row(
    config: &BenchConfig,
    measurement: &Measurement,
    amplification: Option<&Amplification>,
) -> Result<(), CliError> {
    if config.json {
        say!("{}", json_object(measurement, amplification));
        return Ok(());
    }
    let seconds = measurement.elapsed.as_secs_f64().max(1e-9);
    let percentile = |pick: fn(&super::measurement::Latency) -> Duration| {
        measurement.latency.as_ref().map_or_else(
            || "-".to_string(),
            |latency| format!("{:.1}", microseconds(pick(latency))),
        )
    };
    say!(
        "{:<34} {:>9} {:>11.0} {:>8.1} {:>9} {:>9} {:>9}  {}",
        measurement.name,
        measurement.operations,
        measurement.operations as f64 / seconds,
        measurement.bytes as f64 / 1e6 / seconds,
        percentile(|latency| latency.p50),
        percentile(|latency| latency.p99),
        percentile(|latency| latency.p999),
        measurement.note
    );
    if let Some(amplification) = amplification {
        print_amplification(amplification)?;
    }
    Ok(())
}

fn print_amplification(amplification: &Amplification) -> Result<(), CliError> {
    let disk = amplification
        .write_disk
        .map_or_else(|| "n/a".to_string(), |disk| format!("{disk:.2}"));
    say!(
        "    write amp {disk} disk (/proc/self/io), {:.2} engine; space amp {:.3}; SSTables \
         {:.1} MB, all files {:.1} MB, live keys and values {:.1} MB",
        amplification.write_engine,
        amplification.space,
        amplification.sst_bytes as f64 / 1e6,
        amplification.all_bytes as f64 / 1e6,
        amplification.live_bytes as f64 / 1e6,
    );
    for line in tree_lines(&amplification.levels) {
        say!("    {line}");
    }
    Ok(())
}

/// The tree's shape: one line per level down to the deepest one holding files, with a bar
/// proportional to its bytes, its file count and its size.
pub fn tree_lines(levels: &[LevelStats]) -> Vec<String> {
    let largest = levels.iter().map(|level| level.bytes).max().unwrap_or(0);
    let deepest = levels
        .iter()
        .rposition(|level| level.files > 0)
        .unwrap_or(0);
    levels
        .iter()
        .take(deepest + 1)
        .enumerate()
        .map(|(number, level)| {
            let width = if largest == 0 {
                0
            } else {
                // Any non-empty level gets at least one mark, so that it shows.
                ((level.bytes as f64 / largest as f64 * BAR_WIDTH as f64).round() as usize)
                    .max(usize::from(level.bytes > 0))
            };
            format!(
                "L{number} {:<BAR_WIDTH$} {:>5} files {:>9.1} MB",
                "#".repeat(width),
                level.files,
                level.bytes as f64 / 1e6
            )
        })
        .collect()
}

/// `text` as a JSON string literal.
pub(super) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// `number` as a JSON number (`null` if not finite, which JSON cannot express).
pub(super) fn json_number(number: f64) -> String {
    if number.is_finite() {
        format!("{number:.3}")
    } else {
        "null".into()
    }
}

/// One workload as a JSON object on one line.
fn json_object(measurement: &Measurement, amplification: Option<&Amplification>) -> String {
    let seconds = measurement.elapsed.as_secs_f64().max(1e-9);
    let mut out = format!(
        "{{\"workload\":{},\"ops\":{},\"seconds\":{},\"ops_per_sec\":{},\"mb_per_sec\":{}",
        json_string(&measurement.name),
        measurement.operations,
        json_number(measurement.elapsed.as_secs_f64()),
        json_number(measurement.operations as f64 / seconds),
        json_number(measurement.bytes as f64 / 1e6 / seconds),
    );
    match &measurement.latency {
        Some(latency) => {
            let _ = write!(
                out,
                ",\"latency_us\":{{\"p50\":{},\"p99\":{},\"p999\":{}}}",
                json_number(microseconds(latency.p50)),
                json_number(microseconds(latency.p99)),
                json_number(microseconds(latency.p999)),
            );
        }
        None => out.push_str(",\"latency_us\":null"),
    }
    let _ = write!(out, ",\"note\":{}", json_string(&measurement.note));
    if let Some(amplification) = amplification {
        write_amplification_json(&mut out, amplification);
    }
    out.push('}');
    out
}

fn write_amplification_json(out: &mut String, amplification: &Amplification) {
    let disk = amplification
        .write_disk
        .map_or_else(|| "null".to_string(), json_number);
    let _ = write!(
        out,
        ",\"write_amp_disk\":{disk},\"write_amp_engine\":{},\"space_amp\":{},\"sst_bytes\":{},\
         \"all_bytes\":{},\"live_bytes\":{},\"levels\":[",
        json_number(amplification.write_engine),
        json_number(amplification.space),
        amplification.sst_bytes,
        amplification.all_bytes,
        amplification.live_bytes,
    );
    for (number, level) in amplification.levels.iter().enumerate() {
        if number > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"level\":{number},\"files\":{},\"bytes\":{}}}",
            level.files, level.bytes
        );
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
    }

    #[test]
    fn tree_bars_are_proportional_and_show_small_levels() {
        let levels = [
            LevelStats { files: 1, bytes: 1 },
            LevelStats {
                files: 4,
                bytes: 1000,
            },
            LevelStats::default(),
            LevelStats {
                files: 2,
                bytes: 500,
            },
            LevelStats::default(),
        ];
        let lines = tree_lines(&levels);
        let marks = |line: &str| line.matches('#').count();
        assert_eq!(
            lines.len(),
            4,
            "down to the deepest level with files: {lines:?}"
        );
        assert_eq!(marks(&lines[0]), 1);
        assert_eq!(marks(&lines[1]), BAR_WIDTH);
        assert_eq!(marks(&lines[2]), 0);
        assert_eq!(marks(&lines[3]), BAR_WIDTH / 2);
        assert!(lines[1].contains("4 files"), "{}", lines[1]);
    }
}
