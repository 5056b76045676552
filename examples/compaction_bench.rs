//! A compaction benchmark for your own data shape: fills a database with random keys of the
//! sizes you give, lets flushes and compactions catch up, and prints the shape of the tree,
//! write amplification, the rate of each compaction, and how long writers were stalled.
//!
//! `cargo run --release --example compaction_bench -- [--num N] [--key-size B] [--value-size B]
//! [--write-buffer B] [--dir DIR]` (defaults: 1,000,000 entries of 16-byte keys and 100-byte
//! values, a 4 MiB write buffer so that a short run reaches the deeper levels, a temporary
//! directory). The `shale bench` program runs the standard workloads; this one is a starting
//! point to copy and change.

use std::path::PathBuf;
use std::time::Instant;

use shaledb::{Db, Options, WriteBatch, WriteOptions};

struct Settings {
    num: u64,
    key_size: usize,
    value_size: usize,
    write_buffer: usize,
    dir: Option<PathBuf>,
}

fn parse() -> Result<Settings, String> {
    let mut settings = Settings {
        num: 1_000_000,
        key_size: 16,
        value_size: 100,
        write_buffer: 4 << 20,
        dir: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.replace('_', "").parse::<u64>();
        match flag.as_str() {
            "--num" => settings.num = number().map_err(|error| format!("--num: {error}"))?,
            "--key-size" => {
                settings.key_size =
                    number().map_err(|error| format!("--key-size: {error}"))? as usize
            }
            "--value-size" => {
                settings.value_size =
                    number().map_err(|error| format!("--value-size: {error}"))? as usize
            }
            "--write-buffer" => {
                settings.write_buffer =
                    number().map_err(|error| format!("--write-buffer: {error}"))? as usize
            }
            "--dir" => settings.dir = Some(PathBuf::from(value)),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if settings.key_size < 8 {
        return Err("--key-size must be at least 8 (keys hold a 64-bit number)".into());
    }
    Ok(settings)
}

/// A 64-bit mix of `index` (splitmix64), so that keys arrive in random order.
fn mix(index: u64) -> u64 {
    let mut z = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = parse()?;
    let temporary = tempfile::tempdir()?;
    let dir = settings
        .dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    let options = Options {
        write_buffer_size: settings.write_buffer,
        sync_writes: false,
        ..Options::default()
    };
    let db = Db::open(&dir, options)?;
    let mut key = vec![b'k'; settings.key_size];
    // Values about half compressible, as in db_bench.
    let value: Vec<u8> = (0..settings.value_size)
        .map(|index| {
            if index % 2 == 0 {
                b'v'
            } else {
                (mix(index as u64) % 251) as u8
            }
        })
        .collect();
    let user_bytes = settings.num * (settings.key_size + settings.value_size) as u64;

    let started = Instant::now();
    for first in (0..settings.num).step_by(100) {
        let mut batch = WriteBatch::new();
        for index in first..(first + 100).min(settings.num) {
            let tail = key.len() - 8;
            key[tail..].copy_from_slice(&mix(index).to_be_bytes());
            batch.put(&key, &value)?;
        }
        db.write(batch, &WriteOptions::NO_SYNC)?;
    }
    let fill = started.elapsed().as_secs_f64();
    db.flush()?;
    db.wait_for_compaction()?;
    let settled = started.elapsed().as_secs_f64();
    let stats = db.stats();

    println!(
        "{} entries of {}-byte keys and {}-byte values ({:.1} MB) in {}",
        settings.num,
        settings.key_size,
        settings.value_size,
        user_bytes as f64 / 1e6,
        dir.display()
    );
    println!(
        "fill {fill:.1} s ({:.0} entries/s), settled after {settled:.1} s",
        settings.num as f64 / fill
    );
    println!("level  files      MiB");
    for (level, files) in stats.levels.iter().enumerate() {
        println!(
            "L{level}    {:>6} {:>8.1}",
            files.files,
            files.bytes as f64 / (1 << 20) as f64
        );
    }
    let written = stats.flush_bytes + stats.compaction_bytes_written;
    println!(
        "write amplification {:.2} in tables (flushes {:.1} MB + compactions {:.1} MB over {:.1} MB \
         of keys and values; compressed), {:.2} with the write-ahead log ({:.1} MB)",
        written as f64 / user_bytes as f64,
        stats.flush_bytes as f64 / 1e6,
        stats.compaction_bytes_written as f64 / 1e6,
        user_bytes as f64 / 1e6,
        (written + stats.user_bytes_written) as f64 / user_bytes as f64,
        stats.user_bytes_written as f64 / 1e6
    );
    let moved = stats.compaction_bytes_read + stats.compaction_bytes_written;
    println!(
        "compactions {} ({} trivial moves): {:.0} MB/s while merging (read + written), each took {}",
        stats.compactions,
        stats.trivial_moves,
        moved as f64 / 1e6 / stats.compaction_busy_time.as_secs_f64().max(1e-9),
        stats.compaction_time
    );
    println!(
        "stalls: {} totalling {:?}; slowdowns: {} totalling {:?}",
        stats.stall_count, stats.stall_time, stats.slowdown_count, stats.slowdown_time
    );
    db.close()?;
    Ok(())
}
