//! The harness shared by the kill tests: a child process (the test binary itself, re-executed to
//! run one ignored test) runs the [`history`](super::history) workload from several threads —
//! synced and unsynced batches of puts that overwrite and deletes — and prints a line for each
//! acknowledged batch; the parent kills it with SIGKILL at a random moment, reopens the database
//! and checks it with [`History::check`]: every writer's keys must be exactly the state after
//! some prefix of its batches that includes every acknowledged one. The cycles reuse one
//! directory, and each child continues every writer from the prefix its last recovery kept.
//!
//! Each test file keeps its own child test (the parent re-executes its own binary, so the child
//! must live in it) and its own parent test, and describes itself with a [`CrashTest`]. The
//! number of cycles is the test's own, or `SHALEDB_CRASH_CYCLES` when set (for long runs).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shaledb::{Db, Options, WriteOptions};

use super::history::{Acknowledged, Contract, History, Workload};
use super::{Pairs, Rng, collect, temp_dir, test_seed};

/// Starts the child's line for each acknowledged batch, followed by the writer and batch id.
/// Searched for anywhere in a line, not only at its start: with `--nocapture`, the test harness
/// prints `test <name> ... ` without a newline before the test runs, so the first
/// acknowledgement shares that line.
const ACK_MARKER: &str = "shaledb-ack ";

/// What distinguishes one crash test from another.
pub struct CrashTest {
    /// The ignored test in the same binary that runs [`run_child`].
    pub child_test: &'static str,
    /// The parent test's name, for its seed line and summary.
    pub parent_test: &'static str,
    /// The environment variables passed to the child are this followed by `_DIR`, `_SEED` and
    /// `_START`; distinct per test so that one child never picks up another test's directory.
    pub environment_prefix: &'static str,
    /// How many times the child is started and killed, unless `SHALEDB_CRASH_CYCLES` says.
    pub cycles: u64,
    /// The options of every open, in the child and in the parent.
    pub options: fn() -> Options,
    /// What the child writes.
    pub workload: Workload,
}

impl CrashTest {
    fn variable(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.environment_prefix)
    }

    fn cycles(&self) -> u64 {
        super::count_from_env("SHALEDB_CRASH_CYCLES", self.cycles)
    }
}

/// What a whole run checked, printed at its end.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Kill-and-reopen cycles run.
    pub cycles: u64,
    /// Acknowledged batches whose survival was checked, over all cycles.
    pub acknowledged_checked: u64,
    /// Batches recovered that were written but not yet acknowledged at the kill.
    pub in_flight_recovered: u64,
    /// Cycles killed before the child acknowledged anything (often during recovery).
    pub cycles_without_acknowledgement: u64,
}

/// The child: does nothing unless the parent set the `_DIR` variable, then writes until killed.
/// Writer `t` starts at the batch id the parent passed in `_START` (comma-separated, one per
/// writer).
pub fn run_child(test: &CrashTest) {
    let Ok(dir) = std::env::var(test.variable("DIR")) else {
        return;
    };
    let seed: u64 = std::env::var(test.variable("SEED"))
        .unwrap()
        .parse()
        .unwrap();
    let starts: Vec<u64> = std::env::var(test.variable("START"))
        .unwrap()
        .split(',')
        .map(|id| id.parse().unwrap())
        .collect();
    assert_eq!(starts.len(), test.workload.threads);
    let db = Arc::new(Db::open(&dir, (test.options)()).unwrap());
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let workload = test.workload;
    let threads: Vec<_> = starts
        .into_iter()
        .enumerate()
        .map(|(thread, start)| {
            let (db, stdout) = (Arc::clone(&db), Arc::clone(&stdout));
            std::thread::spawn(move || {
                for id in start.. {
                    let batch = workload.batch(seed, thread, id);
                    let options = WriteOptions { sync: batch.sync };
                    db.write(batch.to_write_batch(thread), &options).unwrap();
                    let mut out = stdout.lock().unwrap();
                    writeln!(out, "{ACK_MARKER}{thread} {id}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

fn spawn_child(test: &CrashTest, dir: &Path, seed: u64, history: &History) -> Child {
    let starts: Vec<String> = (0..test.workload.threads)
        .map(|thread| history.next_batch(thread).to_string())
        .collect();
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test.child_test,
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(test.variable("DIR"), dir)
        .env(test.variable("SEED"), seed.to_string())
        .env(test.variable("START"), starts.join(","))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// How long the child runs before the kill: mostly long enough to write a few hundred batches
/// and go through flushes and compactions, sometimes so short that it dies while recovering.
fn kill_delay(rng: &mut Rng) -> Duration {
    let milliseconds = if rng.chance(1, 8) {
        rng.between(5, 60)
    } else {
        rng.between(100, 800)
    };
    Duration::from_millis(milliseconds as u64)
}

/// Runs the child until a random moment, kills it, and returns what it acknowledged.
fn run_and_kill(
    test: &CrashTest,
    dir: &Path,
    history: &History,
    rng: &mut Rng,
    context: &str,
) -> Acknowledged {
    let mut child = spawn_child(test, dir, history.seed(), history);
    let stdout = child.stdout.take().unwrap();
    let (workload, seed) = (*history.workload(), history.seed());
    let reader = std::thread::spawn(move || {
        let mut acknowledged = Acknowledged::default();
        // Every line was printed after its write returned, whether read before or after the
        // kill: the pipe keeps what the child wrote.
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Some(position) = line.find(ACK_MARKER) else {
                continue;
            };
            let rest = &line[position + ACK_MARKER.len()..];
            let (thread, id) = rest.split_once(' ').unwrap();
            let (thread, id): (usize, u64) = (thread.parse().unwrap(), id.parse().unwrap());
            let synced = workload.batch(seed, thread, id).sync;
            acknowledged.record(thread, id, synced);
        }
        acknowledged
    });
    std::thread::sleep(kill_delay(rng));
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    let acknowledged = reader.join().unwrap();
    assert!(
        still_running,
        "{context}: the child exited on its own (see its stderr)"
    );
    acknowledged
}

/// The parent: kills the child again and again in one directory, checking after each kill that
/// the reopened database keeps the process-crash contract. `after_reopen` then gets the reopened
/// database, its directory, the context for messages and the recovered pairs, for the test's own
/// checks; it must leave the database's contents as they are.
pub fn run_parent(
    test: &CrashTest,
    mut after_reopen: impl FnMut(Db, &Path, &str, &Pairs),
) -> RunSummary {
    let seed = test_seed(test.parent_test);
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut history = History::new(test.workload, seed);
    let mut summary = RunSummary::default();
    for cycle in 0..test.cycles() {
        let context = format!("{}: seed {seed}, cycle {cycle}", test.parent_test);
        let acknowledged = run_and_kill(test, dir.path(), &history, &mut rng, &context);
        let db = Db::open(dir.path(), (test.options)())
            .unwrap_or_else(|error| panic!("{context}: reopen failed: {error}"));
        let recovered = collect(db.iter(), &context);
        let report = history.check(&acknowledged, Contract::ProcessCrash, &recovered, |key| {
            let value = db.get(key);
            value
                .unwrap_or_else(|error| panic!("{context}: get failed: {error}"))
                .map(|value| value.to_vec())
        });
        assert!(
            report.violations.is_empty(),
            "{context}: {} violations:\n{}",
            report.violations.len(),
            report.violations.join("\n")
        );
        summary.cycles += 1;
        summary.acknowledged_checked += report.acknowledged_checked;
        summary.in_flight_recovered += report.in_flight_recovered;
        summary.cycles_without_acknowledgement += u64::from(acknowledged.count() == 0);
        let files_per_level: Vec<_> = db.stats().levels.iter().map(|level| level.files).collect();
        eprintln!(
            "{context}: {} batches acknowledged and kept, {} in flight recovered; \
             files per level {files_per_level:?}",
            report.acknowledged_checked, report.in_flight_recovered,
        );
        after_reopen(db, dir.path(), &context, &recovered);
    }
    eprintln!(
        "{}: {} cycles, seed {seed}, {} acknowledged batches checked, {} in-flight batches \
         recovered, {} cycles killed before any acknowledgement, 0 violations",
        test.parent_test,
        summary.cycles,
        summary.acknowledged_checked,
        summary.in_flight_recovered,
        summary.cycles_without_acknowledgement,
    );
    assert!(
        summary.acknowledged_checked > 50,
        "seed {seed}: too few batches were acknowledged to test anything"
    );
    summary
}
