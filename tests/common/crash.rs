//! The harness shared by the crash tests: a child process (the test binary itself, re-executed to
//! run one ignored test) writes synced batches from several threads and prints the id of each
//! acknowledged batch; the parent kills it with SIGKILL at a random moment, reopens the database
//! and checks that every acknowledged batch is present and every batch present is whole.
//!
//! Each test file keeps its own child test (the parent re-executes its own binary, so the child
//! must live in it) and its own parent test, and describes itself with a [`CrashTest`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shaledb::{Db, Options, WriteBatch, WriteOptions};

use super::{Rng, collect, temp_dir, test_seed};

const KEYS_PER_BATCH: usize = 5;
const CHILD_THREADS: u64 = 4;

/// What distinguishes one crash test from another.
pub struct CrashTest {
    /// The ignored test in the same binary that runs [`run_child`].
    pub child_test: &'static str,
    /// The parent test's name, for its seed line.
    pub parent_test: &'static str,
    /// The environment variables passed to the child are this followed by `_DIR`, `_ROUND` and
    /// `_SEED`; distinct per test so that one child never picks up another test's directory.
    pub environment_prefix: &'static str,
    /// How many times the child is started and killed.
    pub crashes: u64,
    /// The options of every open, in the child and in the parent.
    pub options: fn() -> Options,
    /// Appends the rest of a batch's value to its `batch {id} ` prefix.
    pub extend_value: fn(&mut Vec<u8>, &mut Rng),
}

impl CrashTest {
    fn variable(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.environment_prefix)
    }
}

fn batch_key(id: u64, index: usize) -> Vec<u8> {
    format!("{id:016}-{index}").into_bytes()
}

/// The child: does nothing unless the parent set the `_DIR` variable, then writes until killed.
pub fn run_child(test: &CrashTest) {
    let Ok(dir) = std::env::var(test.variable("DIR")) else {
        return;
    };
    let round: u64 = std::env::var(test.variable("ROUND"))
        .unwrap()
        .parse()
        .unwrap();
    let seed: u64 = std::env::var(test.variable("SEED"))
        .unwrap()
        .parse()
        .unwrap();
    let db = Arc::new(Db::open(&dir, (test.options)()).unwrap());
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let extend_value = test.extend_value;
    let threads: Vec<_> = (0..CHILD_THREADS)
        .map(|thread| {
            let (db, stdout) = (Arc::clone(&db), Arc::clone(&stdout));
            std::thread::spawn(move || {
                let mut rng = Rng::new(seed ^ (thread << 20));
                for sequence in 0.. {
                    let id = (round << 48) | (thread << 32) | sequence;
                    let mut batch = WriteBatch::new();
                    let mut value = format!("batch {id} ").into_bytes();
                    extend_value(&mut value, &mut rng);
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
fn run_and_kill(
    test: &CrashTest,
    dir: &Path,
    round: u64,
    seed: u64,
    rng: &mut Rng,
) -> BTreeSet<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test.child_test,
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(test.variable("DIR"), dir)
        .env(test.variable("ROUND"), round.to_string())
        .env(test.variable("SEED"), seed.to_string())
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
pub fn present_batches(db: &Db, context: &str) -> BTreeSet<u64> {
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

/// The parent: kills the child `crashes` times, checking after each kill that every acknowledged
/// batch survived the reopen. `after_reopen` then gets the reopened database, its directory, the
/// context for messages and the batches present, for the test's own checks.
pub fn run_parent(test: &CrashTest, mut after_reopen: impl FnMut(Db, &Path, &str, &BTreeSet<u64>)) {
    let seed = test_seed(test.parent_test);
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut acknowledged = BTreeSet::new();
    for round in 0..test.crashes {
        let round_seed = rng.next_u64();
        acknowledged.extend(run_and_kill(test, dir.path(), round, round_seed, &mut rng));
        let context = format!("seed {seed}, crash {round}");
        let db = Db::open(dir.path(), (test.options)())
            .unwrap_or_else(|error| panic!("{context}: reopen failed: {error}"));
        let present = present_batches(&db, &context);
        let missing: Vec<_> = acknowledged.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "{context}: {} acknowledged batches are missing, first {:#x}",
            missing.len(),
            missing[0]
        );
        let files_per_level: Vec<_> = db.stats().levels.iter().map(|level| level.files).collect();
        eprintln!(
            "{context}: {} batches acknowledged, {} present; files per level {files_per_level:?}",
            acknowledged.len(),
            present.len(),
        );
        after_reopen(db, dir.path(), &context, &present);
        // Unacknowledged batches that made it are fine, but they must stay from now on.
        acknowledged = present;
    }
    assert!(
        acknowledged.len() > 50,
        "seed {seed}: too few batches were written to test anything"
    );
}
