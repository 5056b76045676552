//! Corruption sweeps (issue 6 §3): a small database with level-0 and level-1 tables, a manifest
//! with several edits and a write-ahead log of synced batches is closed cleanly; then, for each
//! kind of file (WAL, SSTable, MANIFEST, CURRENT), seeded trials flip a byte, zero a range,
//! truncate the file or delete it, open a copy (in the default recovery mode and in the others
//! where they differ), read every key, scan everything and run `Db::verify`.
//!
//! Every trial must end in one of: a corruption error (at open, on a read or from `verify`),
//! or exactly the data that was written. A panic, a wrong value, an older value, a missing key or
//! a key that should not exist, without an error, fails the test. `PointInTime` may also recover
//! a prefix of the log's batches (its documented contract); `TolerateCorruptedTailRecords` may
//! accept damage after the last synced record (a torn tail) as long as the data is exact.
//!
//! Counts per file kind and outcome are printed (run with `--nocapture`). The trial count per
//! kind is `SHALEDB_SWEEP_TRIALS` (default 100); the ignored `long_corruption_sweep` runs 1,000.

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use common::{Model, Rng, copy_database_files, temp_dir, test_seed};
use shaledb::fs::{FileKind, parse_file_name};
use shaledb::log::{LogEvent, LogFileKind, LogReader, format::record_end};
use shaledb::{Db, Error, Options, WalRecoveryMode, WriteBatch, WriteOptions};

const KEYS: usize = 300;

fn key(index: usize) -> Vec<u8> {
    format!("key{index:05}").into_bytes()
}

fn value(index: usize, round: usize) -> Vec<u8> {
    let mut value = format!("value {index} round {round} ").into_bytes();
    value.resize(60 + index % 50, b'a' + (round % 26) as u8);
    value
}

fn options(mode: WalRecoveryMode) -> Options {
    Options {
        write_buffer_size: 64 << 10,
        wal_recovery_mode: mode,
        block_cache_capacity: 1 << 20,
        ..Options::default()
    }
}

/// The pristine database and what it must hold.
struct Pristine {
    dir: tempfile::TempDir,
    /// The final state.
    model: Model,
    /// The state after the tables and after each synced batch of the log: `PointInTime` may
    /// recover any of them when the log is damaged.
    log_prefixes: Vec<Model>,
    /// Every key ever written (reads check absent keys too).
    all_keys: Vec<Vec<u8>>,
}

fn apply(db: &Db, model: &mut Model, batch: Vec<(Vec<u8>, Option<Vec<u8>>)>) {
    let mut write = WriteBatch::new();
    for (key, value) in batch {
        match value {
            Some(value) => {
                write.put(&key, &value).unwrap();
                model.insert(key, value);
            }
            None => {
                write.delete(&key).unwrap();
                model.remove(&key);
            }
        }
    }
    db.write(write, &WriteOptions::SYNC).unwrap();
}

/// Builds the database: round 0 written and flushed, round 1 (overwrites and deletes) flushed,
/// everything compacted to level 1, round 2 flushed to level 0, then synced batches that stay
/// in the write-ahead log (overwriting keys whose older values sit in the tables).
/// Deletes keys `start..end` with one synced range deletion, in the database and the model.
fn delete_range(db: &Db, model: &mut Model, start: usize, end: usize) {
    db.delete_range_with(key(start)..key(end), &WriteOptions::SYNC)
        .unwrap();
    for index in start..end {
        model.remove(&key(index));
    }
}

fn build() -> Pristine {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options(WalRecoveryMode::default())).unwrap();
    let mut model = Model::new();
    let rounds: [&dyn Fn(usize) -> Option<Option<usize>>; 3] = [
        &|_| Some(Some(0)),
        &|index| match index % 5 {
            0 => Some(None),
            1 | 2 => Some(Some(1)),
            _ => None,
        },
        &|index| (index % 3 == 0).then_some(Some(2)),
    ];
    for (round, choose) in rounds.iter().enumerate() {
        for chunk in (0..KEYS).collect::<Vec<_>>().chunks(25) {
            let batch = chunk
                .iter()
                .filter_map(|&index| {
                    choose(index)
                        .map(|value_round| (key(index), value_round.map(|r| value(index, r))))
                })
                .collect();
            apply(&db, &mut model, batch);
        }
        if round == 2 {
            // A range deletion, so that a table holds a range-deletion block (FORMAT.md 5.10).
            delete_range(&db, &mut model, 100, 130);
        }
        db.flush().unwrap();
        if round == 1 {
            db.compact_range(..).unwrap();
        }
    }
    let mut log_prefixes = vec![model.clone()];
    for batch_number in 0..12 {
        let batch = (0..8)
            .map(|offset| {
                let index = (batch_number * 23 + offset * 37) % KEYS;
                let delete = (batch_number + offset) % 7 == 0;
                (
                    key(index),
                    (!delete).then(|| value(index, 3 + batch_number)),
                )
            })
            .collect();
        apply(&db, &mut model, batch);
        log_prefixes.push(model.clone());
        if batch_number == 5 {
            // And one in the log (a batch operation of kind 2).
            delete_range(&db, &mut model, 200, 211);
            log_prefixes.push(model.clone());
        }
    }
    db.close().unwrap();
    drop(db);
    Pristine {
        dir,
        model,
        log_prefixes,
        all_keys: (0..KEYS).map(key).collect(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Wal,
    Table,
    Manifest,
    Current,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Damage {
    FlipByte,
    ZeroRange,
    Truncate,
    Delete,
}

const DAMAGES: [Damage; 4] = [
    Damage::FlipByte,
    Damage::ZeroRange,
    Damage::Truncate,
    Damage::Delete,
];

/// How a trial ended (every one of these is acceptable; anything else panics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Open failed with corruption naming the damaged file.
    OpenRefused,
    /// Open failed with corruption naming another file (the damage made a file the manifest
    /// still needed look missing: a manifest that lost its last edits).
    OpenRefusedNamingOtherFile,
    /// Open succeeded; a read or `verify` reported corruption naming the damaged file, and every
    /// read that succeeded returned exact data.
    ReadRefused,
    /// Every read and `verify` succeeded with exact data (the damage hit nothing the data
    /// depends on, such as the zeros after the log's last record or the manifest's last edit).
    ExactData,
    /// `PointInTime` recovered the state after a prefix of the log's batches.
    PrefixRecovered,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The files of each kind in the pristine database.
fn files_of(dir: &Path, kind: Kind) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            matches!(
                (kind, parse_file_name(name)),
                (Kind::Wal, Some(FileKind::Wal(_)))
                    | (Kind::Table, Some(FileKind::Table(_)))
                    | (Kind::Manifest, Some(FileKind::Manifest(_)))
                    | (Kind::Current, Some(FileKind::Current))
            )
        })
        .collect();
    files.sort();
    files
}

/// Where the meaningful bytes of `path` end: the end of the last record of a log (a
/// preallocated log is mostly zeros after it), the file size otherwise.
fn data_end(path: &Path, kind: Kind) -> usize {
    let size = std::fs::metadata(path).unwrap().len() as usize;
    if kind != Kind::Wal {
        return size;
    }
    let mut end = 16;
    for event in LogReader::open(path, LogFileKind::Wal).unwrap() {
        if let LogEvent::Record { offset, payload } = event {
            end = record_end(offset, payload.len()) as usize;
        }
    }
    end
}

/// Applies `damage` to `path`; returns a description for failure messages.
fn damage_file(path: &Path, kind: Kind, damage: Damage, rng: &mut Rng) -> String {
    let mut bytes = std::fs::read(path).unwrap();
    let size = bytes.len();
    // Most damage lands where the data is; some anywhere in the file.
    let end = if rng.chance(3, 4) {
        data_end(path, kind).max(1)
    } else {
        size.max(1)
    };
    let at = rng.below(end as u64) as usize;
    match damage {
        Damage::FlipByte => {
            let mask = 1 + rng.below(255) as u8;
            bytes[at] ^= mask;
            std::fs::write(path, bytes).unwrap();
            format!("flipped byte {at} with {mask:#04x}")
        }
        Damage::ZeroRange => {
            let length = if rng.chance(1, 8) {
                size - at
            } else {
                rng.between(1, 300).min(size - at)
            };
            bytes[at..at + length].fill(0);
            std::fs::write(path, bytes).unwrap();
            format!("zeroed bytes {at}..{}", at + length)
        }
        Damage::Truncate => {
            let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            file.set_len(at as u64).unwrap();
            format!("truncated to {at} bytes")
        }
        Damage::Delete => {
            std::fs::remove_file(path).unwrap();
            "deleted".to_string()
        }
    }
}

/// Whether `error` is corruption naming the file called `name`.
fn names_file(error: &Error, name: &str) -> Option<bool> {
    match error {
        Error::Corruption { file, .. } => {
            Some(file.file_name().and_then(|found| found.to_str()) == Some(name))
        }
        _ => None,
    }
}

/// Opens `dir` with `mode`, reads everything and classifies the result; panics on anything
/// unacceptable.
fn run_trial(pristine: &Pristine, dir: &Path, damaged: &str, mode: WalRecoveryMode) -> Outcome {
    let db = match Db::open(dir, options(mode)) {
        Ok(db) => db,
        Err(error) => {
            return match names_file(&error, damaged) {
                Some(true) => Outcome::OpenRefused,
                Some(false) => Outcome::OpenRefusedNamingOtherFile,
                None => panic!("open failed with an error that is not corruption: {error}"),
            };
        }
    };
    let mut refused = false;
    // The keys whose point read succeeded, with what it returned.
    let mut read: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for key in &pristine.all_keys {
        match db.get(key) {
            Ok(value) => {
                read.insert(key.clone(), value.map(|value| value.to_vec()));
            }
            Err(error) => {
                assert_eq!(
                    names_file(&error, damaged),
                    Some(true),
                    "a read failed with something other than corruption naming {damaged}: {error}"
                );
                refused = true;
            }
        }
    }
    let (scanned, scan_refused) = scan(&db, damaged);
    refused |= scan_refused;
    if let Err(error) = db.verify() {
        assert!(error.is_corruption(), "verify failed with {error}");
        refused = true;
    }
    if refused {
        // Every read that succeeded returned exactly what was written, absent keys included.
        for (key, value) in &read {
            assert_eq!(
                pristine.model.get(key),
                value.as_ref(),
                "point read of {key:?}"
            );
        }
        for (key, value) in &scanned {
            assert_eq!(pristine.model.get(key), Some(value), "scanned {key:?}");
        }
        return Outcome::ReadRefused;
    }
    let found: Model = read
        .into_iter()
        .filter_map(|(key, value)| value.map(|value| (key, value)))
        .collect();
    assert_eq!(scanned, found, "the scan and the point reads disagree");
    if found == pristine.model {
        return Outcome::ExactData;
    }
    assert!(
        mode == WalRecoveryMode::PointInTime && pristine.log_prefixes.contains(&found),
        "{mode:?}: the database opened and read without errors, but does not hold the data \
         written: {} keys differ",
        differing_keys(&pristine.model, &found)
    );
    Outcome::PrefixRecovered
}

/// Scans everything, up to an error, which must be corruption naming the damaged file.
/// Returns the items before it and whether there was one.
fn scan(db: &Db, damaged: &str) -> (Model, bool) {
    let mut scanned = Model::new();
    for item in db.iter() {
        match item {
            Ok((key, value)) => {
                let previous = scanned.insert(key.clone(), value.to_vec());
                assert!(previous.is_none(), "the scan yields {key:?} twice");
            }
            Err(error) => {
                assert_eq!(
                    names_file(&error, damaged),
                    Some(true),
                    "the scan failed with something other than corruption naming {damaged}: {error}"
                );
                return (scanned, true);
            }
        }
    }
    (scanned, false)
}

fn differing_keys(want: &Model, found: &Model) -> usize {
    let keys: std::collections::BTreeSet<&Vec<u8>> = want.keys().chain(found.keys()).collect();
    keys.into_iter()
        .filter(|key| want.get(*key) != found.get(*key))
        .count()
}

/// The modes each trial runs in: all four for the log (where they differ), the default and
/// the strictest for the other files.
fn modes_for(kind: Kind) -> &'static [WalRecoveryMode] {
    match kind {
        Kind::Wal => &[
            WalRecoveryMode::TolerateCorruptedTailRecords,
            WalRecoveryMode::AbsoluteConsistency,
            WalRecoveryMode::PointInTime,
        ],
        _ => &[
            WalRecoveryMode::TolerateCorruptedTailRecords,
            WalRecoveryMode::AbsoluteConsistency,
        ],
    }
}

type Counts = BTreeMap<(Kind, Damage, WalRecoveryModeKey, Outcome), usize>;

/// `WalRecoveryMode` is not `Ord`; its debug name is.
type WalRecoveryModeKey = String;

fn sweep(trials_per_kind: usize, seed: u64) {
    let pristine = build();
    let mut rng = Rng::new(seed);
    let mut counts = Counts::new();
    for kind in [Kind::Wal, Kind::Table, Kind::Manifest, Kind::Current] {
        let candidates = files_of(pristine.dir.path(), kind);
        assert!(
            !candidates.is_empty(),
            "the pristine database has no {kind:?} file"
        );
        for trial in 0..trials_per_kind {
            let damage = DAMAGES[trial % DAMAGES.len()];
            let target = &candidates[rng.below(candidates.len() as u64) as usize];
            let name = target.file_name().unwrap().to_str().unwrap().to_string();
            let trial_seed = rng.next_u64();
            for &mode in modes_for(kind) {
                let copy = temp_dir();
                copy_database_files(pristine.dir.path(), copy.path());
                let what = damage_file(
                    &copy.path().join(&name),
                    kind,
                    damage,
                    &mut Rng::new(trial_seed),
                );
                let context = format!(
                    "seed {seed}, {kind:?} trial {trial}: {name} {what}, opened with {mode:?}"
                );
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    run_trial(&pristine, copy.path(), &name, mode)
                }))
                .unwrap_or_else(|_| panic!("{context}: the trial panicked (see above)"));
                if outcome == Outcome::OpenRefusedNamingOtherFile {
                    eprintln!("{context}: {outcome}");
                }
                *counts
                    .entry((kind, damage, format!("{mode:?}"), outcome))
                    .or_default() += 1;
            }
        }
    }
    print_counts(&counts);
}

fn print_counts(counts: &Counts) {
    let mut per_kind: BTreeMap<(Kind, Outcome), usize> = BTreeMap::new();
    for ((kind, damage, mode, outcome), count) in counts {
        println!("{kind:?} {damage:?} {mode}: {outcome} x{count}");
        *per_kind.entry((*kind, *outcome)).or_default() += count;
    }
    println!("--- per file kind and outcome (trials x modes)");
    for ((kind, outcome), count) in per_kind {
        println!("{kind:?}: {outcome} x{count}");
    }
}

fn trials_from_env(default: u64) -> usize {
    common::count_from_env("SHALEDB_SWEEP_TRIALS", default) as usize
}

#[test]
fn corruption_sweep() {
    sweep(trials_from_env(100), test_seed("corruption_sweep"));
}

#[test]
#[ignore = "long: 1,000 trials per file kind"]
fn long_corruption_sweep() {
    sweep(trials_from_env(1_000), test_seed("long_corruption_sweep"));
}
