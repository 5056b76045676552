//! Crashes during compaction: a child process (this test binary, running the ignored test
//! `compaction_crash_child`) writes synced batches from several threads with options so small
//! that flushes and compactions run all the time, and prints the id of each acknowledged batch;
//! the parent kills it with SIGKILL at a random moment, reopens the database and checks that
//! every acknowledged batch is present, every batch present is whole, and the tables on disk are
//! exactly those the manifest lists; then it closes cleanly and reopens under
//! `AbsoluteConsistency`, which must find nothing to complain about.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Rng, check_levels_on_disk, collect, temp_dir, test_seed, tiny_options};
use shaledb::{Db, Options, WalRecoveryMode, WriteBatch, WriteOptions};

const KEYS_PER_BATCH: usize = 5;
const CHILD_THREADS: u64 = 4;
const CRASHES: u64 = 4;

/// Tiny options with two level-0 files per compaction, so that compactions are almost always
/// running when the child is killed.
fn options() -> Options {
    Options {
        level0_compaction_trigger: 2,
        ..tiny_options()
    }
}

fn batch_key(id: u64, index: usize) -> Vec<u8> {
    format!("{id:016}-{index}").into_bytes()
}

fn batch_value(id: u64, rng: &mut Rng) -> Vec<u8> {
    let mut value = format!("batch {id} ").into_bytes();
    // Values of varied size (random bytes, which do not compress) so that memtables rotate and
    // flush, and compactions run, while the child runs.
    let length = rng.between(50, 1_500);
    value.extend(rng.bytes(length));
    value
}

/// The child: does nothing unless the parent set `SHALEDB_COMPACTION_CRASH_DIR`.
#[test]
#[ignore = "run by killing_compactions_keeps_every_acknowledged_batch as a child process"]
fn compaction_crash_child() {
    let Ok(dir) = std::env::var("SHALEDB_COMPACTION_CRASH_DIR") else {
        return;
    };
    let round: u64 = std::env::var("SHALEDB_COMPACTION_CRASH_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let seed: u64 = std::env::var("SHALEDB_COMPACTION_CRASH_SEED")
        .unwrap()
        .parse()
        .unwrap();
    let db = Arc::new(Db::open(&dir, options()).unwrap());
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..CHILD_THREADS)
        .map(|thread| {
            let (db, stdout) = (Arc::clone(&db), Arc::clone(&stdout));
            std::thread::spawn(move || {
                let mut rng = Rng::new(seed ^ (thread << 20));
                for sequence in 0.. {
                    let id = (round << 48) | (thread << 32) | sequence;
                    let mut batch = WriteBatch::new();
                    let value = batch_value(id, &mut rng);
                    for index in 0..KEYS_PER_BATCH {
                        batch.put(&batch_key(id, index), &value).unwrap();
                    }
                    db.write(batch, &WriteOptions::SYNC).unwrap();
                    let mut out = stdout.lock().unwrap();
                    writeln!(out, "ack {id}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Runs the child for a random 200-800 ms, kills it, and returns the ids it acknowledged.
fn run_and_kill(dir: &std::path::Path, round: u64, seed: u64, rng: &mut Rng) -> BTreeSet<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "compaction_crash_child",
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env("SHALEDB_COMPACTION_CRASH_DIR", dir)
        .env("SHALEDB_COMPACTION_CRASH_ROUND", round.to_string())
        .env("SHALEDB_COMPACTION_CRASH_SEED", seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let reader = {
        let acknowledged = Arc::clone(&acknowledged);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("ack ") {
                    acknowledged
                        .lock()
                        .unwrap()
                        .insert(id.parse::<u64>().unwrap());
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(rng.between(200, 800) as u64));
    // A line read before the kill was printed after its write returned.
    let acknowledged_before_kill = acknowledged.lock().unwrap().clone();
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    assert!(
        still_running,
        "seed {seed}, round {round}: the child exited on its own (see its stderr)"
    );
    // Lines read after the kill were also acknowledged before it: all count.
    let all = acknowledged.lock().unwrap().clone();
    assert!(all.is_superset(&acknowledged_before_kill));
    all
}

/// The batches present in the database, checking that each is whole.
fn present_batches(db: &Db, context: &str) -> BTreeSet<u64> {
    let mut keys: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    for (key, value) in collect(db.iter(), context) {
        let text = String::from_utf8_lossy(&key).into_owned();
        let id: u64 = text
            .split('-')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("{context}: unexpected key {text}"));
        assert!(
            value.starts_with(format!("batch {id} ").as_bytes()),
            "{context}: wrong value for {text}"
        );
        keys.entry(id).or_default().push(value);
    }
    for (id, values) in &keys {
        assert_eq!(
            values.len(),
            KEYS_PER_BATCH,
            "{context}: batch {id:#x} is partly present"
        );
        assert!(
            values.iter().all(|value| value == &values[0]),
            "{context}: batch {id:#x} mixes values"
        );
    }
    keys.into_keys().collect()
}

#[test]
fn killing_compactions_keeps_every_acknowledged_batch() {
    let seed = test_seed("killing_compactions_keeps_every_acknowledged_batch");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut acknowledged = BTreeSet::new();
    for round in 0..CRASHES {
        let round_seed = rng.next_u64();
        acknowledged.extend(run_and_kill(dir.path(), round, round_seed, &mut rng));
        let context = format!("seed {seed}, crash {round}");
        let db = Db::open(dir.path(), options())
            .unwrap_or_else(|error| panic!("{context}: reopen failed: {error}"));
        let present = present_batches(&db, &context);
        let missing: Vec<_> = acknowledged.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "{context}: {} acknowledged batches are missing, first {:#x}",
            missing.len(),
            missing[0]
        );
        let stats = db.stats();
        eprintln!(
            "{context}: {} batches acknowledged, {} present; files per level {:?}",
            acknowledged.len(),
            present.len(),
            stats
                .levels
                .iter()
                .map(|level| level.files)
                .collect::<Vec<_>>()
        );
        db.close()
            .unwrap_or_else(|error| panic!("{context}: close failed: {error}"));
        // Recovery removed what the killed child left half done (compaction outputs never
        // installed, inputs already replaced): the tables are exactly the manifest's.
        check_levels_on_disk(dir.path(), &context);
        let strict = Options {
            wal_recovery_mode: WalRecoveryMode::AbsoluteConsistency,
            ..options()
        };
        let db = Db::open(dir.path(), strict).unwrap_or_else(|error| {
            panic!("{context}: reopening under AbsoluteConsistency after a clean close: {error}")
        });
        assert_eq!(
            present_batches(&db, &context),
            present,
            "{context}: the batches differ after a clean close and reopen"
        );
        db.close().unwrap();
        // Unacknowledged batches that made it are fine, but they must stay from now on.
        acknowledged = present;
    }
    assert!(
        acknowledged.len() > 50,
        "seed {seed}: too few batches were written to test anything"
    );
}
