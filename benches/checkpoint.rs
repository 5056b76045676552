//! How long `Db::checkpoint` takes on a large database. Fills a database with
//! `SHALEDB_CHECKPOINT_GIB` GiB (default 1) of tables — unsynced puts of 1,000-byte random values
//! under sequential keys, with the library's default options (64 MiB write buffer) — and then
//! half a write buffer more, which stays in the live memtable and log (the part a checkpoint
//! copies), waits for the compactions, and times two checkpoints into new directories of the
//! same file system: one with the database idle, one while a thread keeps writing. The target
//! is under a second for 1 GiB: tables are hard-linked, only the live log's prefix is copied.
//!
//! `cargo bench --bench checkpoint`. Not a criterion benchmark: one measurement, printed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shaledb::{Db, Options, WriteBatch, WriteOptions};

const MIB: u64 = 1 << 20;

/// Fills `db` with unsynced batches of 100 puts until `bytes` of keys and values were written,
/// from key number `start`; returns the next key number.
fn fill(db: &Db, start: u64, bytes: u64, seed: &mut u64) -> u64 {
    let mut number = start;
    let mut written = 0;
    while written < bytes {
        let mut batch = WriteBatch::new();
        for _ in 0..100 {
            let mut value = Vec::with_capacity(1000);
            while value.len() < 1000 {
                // xorshift: random, so that compression does not shrink the tables.
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                value.extend_from_slice(&seed.to_le_bytes());
            }
            value.truncate(1000);
            batch
                .put(format!("key{number:012}").as_bytes(), &value)
                .expect("put");
            number += 1;
            written += 1015;
        }
        db.write(batch, &WriteOptions { sync: false })
            .expect("write");
    }
    number
}

fn table_bytes(db: &Db) -> u64 {
    db.stats().levels.iter().map(|level| level.bytes).sum()
}

fn timed_checkpoint(db: &Db, dir: &Path, what: &str) -> Duration {
    let started = Instant::now();
    let report = db.checkpoint(dir).expect("checkpoint");
    let elapsed = started.elapsed();
    println!(
        "checkpoint ({what}): {:.1} ms — {} tables ({:.1} MiB) in {} files linked, {} copied \
         ({:.1} MiB), {} logs, at sequence {}",
        elapsed.as_secs_f64() * 1000.0,
        report.tables,
        report.table_bytes as f64 / MIB as f64,
        report.files_linked,
        report.files_copied,
        report.bytes_copied as f64 / MIB as f64,
        report.logs,
        report.sequence.0
    );
    elapsed
}

fn main() {
    let gib: u64 = std::env::var("SHALEDB_CHECKPOINT_GIB")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1);
    let scratch = tempfile::tempdir().expect("scratch directory");
    let options = Options {
        sync_writes: false,
        ..Options::default()
    };
    let write_buffer = options.write_buffer_size as u64;
    let db = Arc::new(Db::open(scratch.path().join("db"), options).expect("open"));
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let started = Instant::now();
    let mut next = 0;
    while table_bytes(&db) < gib << 30 {
        next = fill(&db, next, 256 * MIB, &mut seed);
        db.wait_for_compaction().expect("compactions");
    }
    next = fill(&db, next, write_buffer / 2, &mut seed);
    db.wait_for_compaction().expect("compactions");
    let stats = db.stats();
    println!(
        "database: {:.2} GiB of tables in {} files, {:.1} MiB in the memtable ({:.0} s to fill)",
        table_bytes(&db) as f64 / (1u64 << 30) as f64,
        stats.levels.iter().map(|level| level.files).sum::<usize>(),
        stats.memtable_bytes as f64 / MIB as f64,
        started.elapsed().as_secs_f64()
    );

    let idle = timed_checkpoint(&db, &scratch.path().join("idle"), "idle database");
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, stop, writes) = (Arc::clone(&db), Arc::clone(&stop), Arc::clone(&writes));
        std::thread::spawn(move || {
            let mut seed = 7;
            let mut number = next;
            while !stop.load(Ordering::Acquire) {
                number = fill(&db, number, 100 * 1015, &mut seed);
                writes.fetch_add(100, Ordering::Relaxed);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let before = writes.load(Ordering::Relaxed);
    let busy = timed_checkpoint(&db, &scratch.path().join("busy"), "while a thread writes");
    let during = writes.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Release);
    writer.join().expect("writer");
    println!(
        "the writer put about {during} keys while the second checkpoint ran; target < 1000 ms: {}",
        if idle.max(busy) < Duration::from_secs(1) {
            "met"
        } else {
            "MISSED"
        }
    );
    Arc::try_unwrap(db)
        .expect("one handle")
        .close()
        .expect("close");
}
