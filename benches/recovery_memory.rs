//! Recovery in bounded memory: how much heap opening a database takes when its write-ahead log
//! is large. Writes `SHALEDB_RECOVERY_WAL_MIB` MiB (default 1024) of unsynced puts into one
//! log (the write buffer is sized to hold them all), copies the files while the database is
//! open (what a crash leaves), and opens the copy in a child process that samples its own
//! anonymous memory (RssAnon, every 2 ms) during `Db::open`. The child opens with
//! `SHALEDB_RECOVERY_BUFFER_MIB` MiB of write buffer (default 64): the target is a peak below
//! that write buffer plus 64 MiB, whatever the size of the log.
//!
//! `cargo bench --bench recovery_memory` (Linux only: it reads /proc/self/status). Not a
//! criterion benchmark: one measurement, printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shaledb::{Db, Options, WriteBatch, WriteOptions};

const MIB: u64 = 1 << 20;

fn env_mib(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// This process's anonymous resident memory (heap, stacks), in bytes.
fn anonymous_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("list the database") {
        let entry = entry.expect("directory entry");
        if entry.file_name() == "LOCK" {
            continue;
        }
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a file");
    }
}

/// Writes the database and measures the open in a child; prints one line.
fn parent(scratch: &Path) {
    let wal_bytes = env_mib("SHALEDB_RECOVERY_WAL_MIB", 1024) * MIB;
    let buffer_mib = env_mib("SHALEDB_RECOVERY_BUFFER_MIB", 64);
    let live = scratch.join("live");
    let crashed = scratch.join("crashed");
    let options = Options {
        write_buffer_size: (wal_bytes + wal_bytes / 4) as usize,
        ..Options::default()
    };
    let db = Db::open(&live, options).expect("open the writer");
    let value = vec![b'v'; 1000];
    let mut written = 0u64;
    let mut index = 0u64;
    while written < wal_bytes {
        let mut batch = WriteBatch::new();
        for _ in 0..100 {
            batch
                .put(format!("key-{index:012}").as_bytes(), &value)
                .expect("batch");
            index += 1;
        }
        written += batch.approximate_size() as u64;
        db.write(batch, &WriteOptions::NO_SYNC).expect("write");
    }
    copy_files(&live, &crashed);
    drop(db);
    let log_mib = std::fs::read_dir(&crashed)
        .expect("list")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".wal"))
        .filter_map(|entry| entry.metadata().ok())
        .map(|metadata| metadata.len())
        .max()
        .unwrap_or(0)
        / MIB;
    let output = Command::new(std::env::current_exe().expect("this program"))
        .arg("--child")
        .arg(&crashed)
        .arg(buffer_mib.to_string())
        .output()
        .expect("run the child");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "recovery of {} entries ({} MiB of batches, largest log file {log_mib} MiB): {}",
        index,
        written / MIB,
        report.trim()
    );
}

/// Opens the database at `dir` with a write buffer of `buffer_mib` MiB, sampling the heap.
fn child(dir: &Path, buffer_mib: u64) {
    let before = anonymous_bytes().unwrap_or(0);
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(now) = anonymous_bytes() {
                    peak.fetch_max(now, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let started = Instant::now();
    let options = Options {
        write_buffer_size: (buffer_mib * MIB) as usize,
        ..Options::default()
    };
    let db = Db::open(dir, options).expect("recover");
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    if let Some(now) = anonymous_bytes() {
        peak.fetch_max(now, Ordering::Relaxed);
    }
    let peak = peak.load(Ordering::Relaxed);
    let stats = db.stats();
    println!(
        "open took {seconds:.1} s; heap {:.0} MiB before, peak {:.0} MiB during the open ({:.0} MiB more); write buffer {buffer_mib} MiB, target below {} MiB more; level-0 tables after: {}",
        before as f64 / MIB as f64,
        peak as f64 / MIB as f64,
        peak.saturating_sub(before) as f64 / MIB as f64,
        buffer_mib + 64,
        stats.levels.first().map_or(0, |level| level.files)
    );
    drop(db);
}

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    if let Some(position) = arguments.iter().position(|argument| argument == "--child") {
        let dir = PathBuf::from(&arguments[position + 1]);
        let buffer_mib = arguments[position + 2].parse().expect("buffer size");
        child(&dir, buffer_mib);
        return;
    }
    if arguments.iter().any(|argument| argument == "--list") {
        return; // `cargo test --benches` asks for a list; there is nothing to list.
    }
    let scratch = tempfile::tempdir().expect("temporary directory");
    parent(scratch.path());
}
