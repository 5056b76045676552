//! Crash recovery, shown: a child process writes synced batches and reports each one it got an
//! acknowledgement for; the parent kills it with SIGKILL in the middle of its writes, reopens
//! the database and checks that every acknowledged batch is there, whole, and that no batch is
//! there in part. Repeats for a few rounds on the same database.
//!
//! `cargo run --release --example crash_recovery [ROUNDS]` (default 5; Unix only: the child is
//! killed with SIGKILL through `Child::kill`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shaledb::{Db, Options, WriteBatch, WriteOptions};

/// Keys per batch: a batch is whole only if all of them are present with its number.
const KEYS_PER_BATCH: u64 = 10;

/// The child: writes batch after batch (numbered from `first`), each synced, and prints the
/// number of each batch once `write` returned, until it is killed.
fn child(dir: &Path, first: u64) -> shaledb::Result<()> {
    let db = Db::open(dir, Options::default())?;
    for number in first.. {
        let mut batch = WriteBatch::new();
        for key in 0..KEYS_PER_BATCH {
            let value = format!("batch {number}").into_bytes();
            batch.put(format!("key-{key:02}-{number:08}").as_bytes(), &value)?;
        }
        db.write(batch, &WriteOptions::SYNC)?;
        println!("{number}");
    }
    Ok(())
}

/// Runs a child writing from batch `first`, kills it after `run`, and returns the batches it
/// acknowledged.
fn write_until_killed(dir: &Path, first: u64, run: Duration) -> std::io::Result<Vec<u64>> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--child")
        .arg(dir)
        .arg(first.to_string())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| line.trim().parse::<u64>().ok())
            .collect::<Vec<u64>>()
    });
    std::thread::sleep(run);
    child.kill()?; // SIGKILL: no destructor, no close, whatever was in flight
    child.wait()?;
    Ok(reader.join().expect("reader thread"))
}

/// Checks the reopened database: every acknowledged batch whole, every batch whole or absent.
/// Returns how many batches are present and the highest one.
fn verify(db: &Db, acknowledged: &[u64]) -> Result<(u64, u64), String> {
    let mut present = std::collections::BTreeMap::<u64, u64>::new();
    for item in db.iter() {
        let (key, value) = item.map_err(|error| error.to_string())?;
        let number: u64 = String::from_utf8_lossy(&key)[7..]
            .parse()
            .map_err(|_| "unexpected key")?;
        if value.as_ref() != format!("batch {number}").as_bytes() {
            return Err(format!("batch {number} has a wrong value"));
        }
        *present.entry(number).or_default() += 1;
    }
    if let Some((number, keys)) = present.iter().find(|(_, keys)| **keys != KEYS_PER_BATCH) {
        return Err(format!("batch {number} is partly present ({keys} keys)"));
    }
    if let Some(lost) = acknowledged
        .iter()
        .find(|number| !present.contains_key(number))
    {
        return Err(format!("acknowledged batch {lost} is missing"));
    }
    let highest = present.keys().next_back().copied().unwrap_or(0);
    Ok((present.len() as u64, highest))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    if arguments.get(1).map(String::as_str) == Some("--child") {
        let dir = Path::new(&arguments[2]);
        let first: u64 = arguments[3].parse()?;
        return Ok(child(dir, first)?);
    }
    let rounds: u64 = arguments.get(1).map_or(Ok(5), |text| text.parse())?;
    let dir = tempfile::tempdir()?;
    let mut acknowledged = Vec::new();
    let mut next = 1;
    for round in 1..=rounds {
        let run = Duration::from_millis(300 + 150 * round);
        let acks = write_until_killed(dir.path(), next, run)?;
        let started = Instant::now();
        let db = Db::open(dir.path(), Options::default())?;
        let opened = started.elapsed();
        acknowledged.extend(&acks);
        let (present, highest) = verify(&db, &acknowledged)?;
        println!(
            "round {round}: killed after {run:?} with {} batches acknowledged in this round; reopened in {opened:?}: {present} batches present, all whole, every acknowledged one among them (the newest, {highest}, {})",
            acks.len(),
            if acks.last() == Some(&highest) {
                "was acknowledged"
            } else {
                "reached the log but its acknowledgement did not reach us"
            }
        );
        db.close()?;
        next = highest + 1;
    }
    println!(
        "{} acknowledged batches survived {rounds} kills",
        acknowledged.len()
    );
    Ok(())
}
