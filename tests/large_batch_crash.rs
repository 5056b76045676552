//! Large batches under SIGKILL: a child process (this test binary, running the ignored test
//! `large_batch_crash_child`) commits large batches one after another, each staged as several
//! runs (a 4 KiB buffer), with ordinary writes beside them; the parent kills it at a random
//! moment — while it stages, while it commits, or between — reopens, and checks that each batch
//! is there whole or not at all, that every batch the child acknowledged is there, and that no
//! staged run is left on disk after the open. Batch `n` writes `batch{n}/{i}` for every `i`
//! and overwrites every `shared/{i}` with `n`, so a partial batch shows as a missing key of its
//! own or as shared keys holding different batches' numbers. Each batch spans two keyspaces:
//! it also writes every third `batch{n}/{i}` and every `shared/{i}` into keyspace `side`
//! (through `put_in`), and must be whole in both or absent from both.
//!
//! `SHALEDB_LARGE_BATCH_CRASH_CYCLES` asks for more cycles (default 4).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Rng, count_from_env, files_ending_with, temp_dir, test_seed, tiny_options};
use shaledb::{Db, Keyspace, KeyspaceOptions, LargeBatchOptions};

const KEYS_PER_BATCH: u64 = 1_500;
const SHARED_KEYS: u64 = 200;
const ACK_MARKER: &str = "shaledb-large-batch-ack ";

fn batch_key(batch: u64, index: u64) -> Vec<u8> {
    format!("batch{batch:06}/{index:05}").into_bytes()
}

fn shared_key(index: u64) -> Vec<u8> {
    format!("shared/{index:05}").into_bytes()
}

/// The keyspace each batch writes beside the default one.
fn side(db: &Db) -> Keyspace {
    let options = KeyspaceOptions {
        write_buffer_size: 64 << 10,
        ..KeyspaceOptions::default()
    };
    db.keyspace("side", options).unwrap()
}

/// Whether batch entry `index` is also written to keyspace `side`.
fn also_in_side(index: u64) -> bool {
    index.is_multiple_of(3)
}

const SIDE_KEYS_PER_BATCH: u64 = KEYS_PER_BATCH.div_ceil(3);

/// The child: commits batches from `SHALEDB_LARGE_BATCH_CRASH_START` on until it is killed.
#[test]
#[ignore = "run by large_batches_survive_sigkill_whole_or_not_at_all as a child process"]
fn large_batch_crash_child() {
    let Ok(dir) = std::env::var("SHALEDB_LARGE_BATCH_CRASH_DIR") else {
        return;
    };
    let start: u64 = std::env::var("SHALEDB_LARGE_BATCH_CRASH_START")
        .unwrap()
        .parse()
        .unwrap();
    let db = Db::open(&dir, tiny_options()).unwrap();
    let side = side(&db);
    let options = LargeBatchOptions {
        buffer_size: 4 << 10,
        ..LargeBatchOptions::default()
    };
    for batch_number in start.. {
        let mut batch = db.large_batch_with(&options).unwrap();
        let value = batch_number.to_string().into_bytes();
        for index in (0..KEYS_PER_BATCH).rev() {
            batch.put(&batch_key(batch_number, index), &value).unwrap();
            if also_in_side(index) {
                batch
                    .put_in(&side, &batch_key(batch_number, index), &value)
                    .unwrap();
            }
            if index % 10 == 0 {
                batch.put(&shared_key(index % SHARED_KEYS), &value).unwrap();
                // An ordinary write beside the batch, into its key range (so that the commit
                // must flush the memtable first).
                let mut beside = batch_key(batch_number, index);
                beside.push(b'o');
                db.put(&beside, b"ordinary").unwrap();
            }
        }
        for index in 0..SHARED_KEYS {
            batch.put(&shared_key(index), &value).unwrap();
            batch.put_in(&side, &shared_key(index), &value).unwrap();
        }
        batch.commit().unwrap();
        println!("{ACK_MARKER}{batch_number}");
    }
}

/// Which batches the database holds whole, in both keyspaces; panics on a batch partial in
/// either, or whole in one and absent from the other.
fn check_batches(db: &Db, up_to: u64, context: &str) -> Vec<u64> {
    let side = side(db);
    let mut whole = Vec::new();
    for batch_number in 0..=up_to {
        let present = (0..KEYS_PER_BATCH)
            .filter(|&index| db.get(&batch_key(batch_number, index)).unwrap().is_some())
            .count() as u64;
        assert!(
            present == 0 || present == KEYS_PER_BATCH,
            "{context}: batch {batch_number} is partial: {present} of {KEYS_PER_BATCH} keys"
        );
        let present_in_side = (0..KEYS_PER_BATCH)
            .filter(|&index| also_in_side(index))
            .filter(|&index| side.get(&batch_key(batch_number, index)).unwrap().is_some())
            .count() as u64;
        let expected_in_side = if present == 0 { 0 } else { SIDE_KEYS_PER_BATCH };
        assert_eq!(
            present_in_side, expected_in_side,
            "{context}: batch {batch_number} has {present} of {KEYS_PER_BATCH} keys in the \
             default keyspace and {present_in_side} of {SIDE_KEYS_PER_BATCH} in keyspace side"
        );
        if present == KEYS_PER_BATCH {
            whole.push(batch_number);
        }
    }
    // The shared keys all hold the newest whole batch's number (its commit is above every
    // ordinary write made before it), in both keyspaces.
    if let Some(&newest) = whole.last() {
        for index in 0..SHARED_KEYS {
            for (name, value) in [
                ("default", db.get(&shared_key(index)).unwrap()),
                ("side", side.get(&shared_key(index)).unwrap()),
            ] {
                assert_eq!(
                    value.as_deref(),
                    Some(newest.to_string().as_bytes()),
                    "{context}: shared key {index} of keyspace {name} after batch {newest}"
                );
            }
        }
    }
    whole
}

#[test]
fn large_batches_survive_sigkill_whole_or_not_at_all() {
    let seed = test_seed("large_batches_survive_sigkill_whole_or_not_at_all");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let cycles = count_from_env("SHALEDB_LARGE_BATCH_CRASH_CYCLES", 4);
    let mut next_batch = 0;
    for cycle in 0..cycles {
        let context = format!("seed {seed}, cycle {cycle}");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "large_batch_crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SHALEDB_LARGE_BATCH_CRASH_DIR", dir.path())
            .env("SHALEDB_LARGE_BATCH_CRASH_START", next_batch.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acknowledged = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(position) = line.find(ACK_MARKER) {
                    let number: u64 = line[position + ACK_MARKER.len()..].trim().parse().unwrap();
                    acknowledged = Some(number);
                }
            }
            acknowledged
        });
        std::thread::sleep(Duration::from_millis(rng.between(100, 900) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        let acknowledged = reader.join().unwrap();
        let before_cycle = next_batch;
        let staged_at_kill = unreferenced_tables(dir.path()).len();
        let db = Db::open(dir.path(), tiny_options()).unwrap();
        let whole = check_batches(&db, acknowledged.map_or(next_batch, |n| n + 1), &context);
        for batch_number in 0..before_cycle {
            assert!(
                whole.contains(&batch_number),
                "{context}: batch {batch_number} of an earlier cycle is missing"
            );
        }
        if let Some(acknowledged) = acknowledged {
            for batch_number in next_batch..=acknowledged {
                assert!(
                    whole.contains(&batch_number),
                    "{context}: acknowledged batch {batch_number} is missing"
                );
            }
        }
        db.verify().unwrap();
        db.close().unwrap();
        drop(db);
        // No staged run outlives the open: every table on disk is one the manifest names.
        let left = unreferenced_tables(dir.path());
        assert!(
            left.is_empty(),
            "{context}: staged tables left after the open: {left:?}"
        );
        next_batch = whole.last().map_or(next_batch, |&n| n + 1);
        eprintln!(
            "{context}: acknowledged up to {acknowledged:?}, {} whole batches, {staged_at_kill} \
             tables no manifest named at the kill",
            whole.len()
        );
    }
}

/// The tables in `dir` that the manifest does not name (staged runs, or outputs not yet
/// committed).
fn unreferenced_tables(dir: &std::path::Path) -> Vec<String> {
    let state = shaledb::manifest::recover(dir).unwrap();
    let listed: std::collections::BTreeSet<String> = state
        .keyspaces
        .values()
        .flat_map(|keyspace| keyspace.levels.iter().flatten())
        .map(|file| format!("{:06}.sst", file.number.0))
        .collect();
    files_ending_with(dir, ".sst")
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !listed.contains(name))
        .collect()
}
