//! Corruption sweeps (issue 6 §3): a small database with level-0 and level-1 tables in three
//! keyspaces, a manifest with several edits and a write-ahead log of synced batches is closed
//! cleanly; then, for each kind of file (WAL, SSTable, MANIFEST, CURRENT), seeded trials flip a
//! byte, zero a range, truncate the file or delete it, open a copy (in the default recovery mode
//! and in the others where they differ), read every key of every keyspace, scan every keyspace
//! and run `Db::verify`.
//!
//! The keyspaces (issue 15): `alpha` and `beta` besides the default one, each with tables in
//! levels 0 and 1 or 0 alone, so that the manifest holds keyspace declarations (tag 8), edits of
//! a keyspace's files and log number (tags 10, 11) and the next keyspace id (tag 12). The
//! database is reopened once while it is built, so the live manifest starts with a snapshot
//! declaring the keyspaces followed by a record per keyspace; after that a fourth keyspace,
//! `doomed`, gets a table and writes in the log, and is dropped (tag 9) between the log's
//! cross-keyspace batches (operations with bit `0x10`), so recovery must skip its operations.
//!
//! Every trial must end in one of: a corruption error (at open, on a read or from `verify`),
//! or exactly the data that was written, in every keyspace, with the keyspaces the database had
//! (`doomed` stays dropped). A panic, a wrong value, an older value, a missing key or a key that
//! should not exist, in any keyspace, without an error, fails the test. `PointInTime` may also
//! recover a prefix of the log's batches (its documented contract; every keyspace is flushed
//! before the first of them, so a prefix is one state of all keyspaces together);
//! `TolerateCorruptedTailRecords` may accept damage after the last synced record (a torn tail) as
//! long as the data is exact.
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
use shaledb::key::KeyspaceId;
use shaledb::log::{LogEvent, LogFileKind, LogReader, format::record_end};
use shaledb::manifest::VersionEdit;
use shaledb::{
    Db, Error, Keyspace, KeyspaceOptions, Options, WalRecoveryMode, WriteBatch, WriteOptions,
};

const KEYS: usize = 300;

/// The keyspaces the pristine database has, as `Db::keyspaces` lists them.
const KEYSPACES: [&str; 3] = ["default", "alpha", "beta"];

/// The keyspace made, written and dropped while the log's batches are written.
const DOOMED: &str = "doomed";

fn key(index: usize) -> Vec<u8> {
    format!("key{index:05}").into_bytes()
}

/// The value of key `index` in `keyspace` after `round`: each keyspace's values differ, so that
/// one keyspace's value read from another is wrong data.
fn value(keyspace: &str, index: usize, round: usize) -> Vec<u8> {
    let prefix = match keyspace {
        "default" => String::new(),
        other => format!("{other} "),
    };
    let mut value = format!("{prefix}value {index} round {round} ").into_bytes();
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

/// The options of every keyspace but the default one: what the database's are, and a small
/// write buffer.
fn keyspace_options() -> KeyspaceOptions {
    KeyspaceOptions {
        write_buffer_size: 64 << 10,
        ..KeyspaceOptions::default()
    }
}

/// What every keyspace holds, by name.
type Models = BTreeMap<String, Model>;

/// The pristine database and what it must hold.
struct Pristine {
    dir: tempfile::TempDir,
    /// The final state of every keyspace.
    models: Models,
    /// The state after the tables and after each synced batch of the log: `PointInTime` may
    /// recover any of them when the log is damaged.
    log_prefixes: Vec<Models>,
    /// Every key ever written (reads check absent keys too), in every keyspace.
    all_keys: Vec<Vec<u8>>,
}

/// The keyspace `name` of `db` (the default one, or one with [`keyspace_options`]).
fn keyspace(db: &Db, name: &str) -> Keyspace {
    match name {
        "default" => db.default_keyspace(),
        _ => db.keyspace(name, keyspace_options()).unwrap(),
    }
}

/// One operation of a batch: keyspace, key, and the new value (`None`: a delete).
type Operation = (String, Vec<u8>, Option<Vec<u8>>);

/// Writes `operations` as one synced batch, which may span keyspaces, and applies them to
/// `models` (an operation of a keyspace without a model, the doomed one, is written only).
fn apply(db: &Db, models: &mut Models, operations: Vec<Operation>) {
    let mut batch = WriteBatch::new();
    for (name, key, value) in operations {
        let handle = keyspace(db, &name);
        match &value {
            Some(value) => batch.put_in(&handle, &key, value).unwrap(),
            None => batch.delete_in(&handle, &key).unwrap(),
        }
        let Some(model) = models.get_mut(&name) else {
            continue;
        };
        match value {
            Some(value) => model.insert(key, value),
            None => model.remove(&key),
        };
    }
    db.write(batch, &WriteOptions::SYNC).unwrap();
}

/// Deletes keys `start..end` of `name` with one synced range deletion, in the database and the
/// model.
fn delete_range(db: &Db, models: &mut Models, name: &str, start: usize, end: usize) {
    keyspace(db, name)
        .delete_range_with(key(start)..key(end), &WriteOptions::SYNC)
        .unwrap();
    let model = models.get_mut(name).unwrap();
    for index in start..end {
        model.remove(&key(index));
    }
}

/// Writes three rounds into keyspace `name` in batches of 25 keys: round 0 written and flushed,
/// round 1 (overwrites and deletes) flushed, then (when `compact`) everything compacted to
/// level 1, round 2 flushed to level 0 with a range deletion among its keys.
fn write_rounds(db: &Db, models: &mut Models, name: &str, compact: bool) {
    let rounds: [&dyn Fn(usize) -> Option<Option<usize>>; 3] = [
        &|_| Some(Some(0)),
        &|index| match index % 5 {
            0 => Some(None),
            1 | 2 => Some(Some(1)),
            _ => None,
        },
        &|index| (index % 3 == 0).then_some(Some(2)),
    ];
    let handle = keyspace(db, name);
    for (round, choose) in rounds.iter().enumerate() {
        for chunk in (0..KEYS).collect::<Vec<_>>().chunks(25) {
            let batch = chunk
                .iter()
                .filter_map(|&index| {
                    choose(index).map(|value_round| {
                        let value = value_round.map(|r| value(name, index, r));
                        (name.to_string(), key(index), value)
                    })
                })
                .collect();
            apply(db, models, batch);
        }
        if round == 2 {
            // A range deletion, so that a table holds a range-deletion block (FORMAT.md 5.10).
            delete_range(db, models, name, 100, 130);
        }
        handle.flush().unwrap();
        if round == 1 && compact {
            handle.compact_range(..).unwrap();
        }
    }
}

/// Builds the database. First session: each keyspace written in three rounds and flushed
/// (default and alpha compacted to level 1, beta in level 0 alone). Second session (the live
/// manifest starts with a snapshot of the three keyspaces): `doomed` created and written, alpha
/// written and flushed, `doomed` flushed; every keyspace flushed; then synced batches across the keyspaces that stay in the
/// write-ahead log (overwriting keys whose older values sit in the tables), `doomed` dropped
/// among them.
fn build() -> Pristine {
    let dir = temp_dir();
    let mut models: Models = KEYSPACES
        .iter()
        .map(|name| (name.to_string(), Model::new()))
        .collect();
    let db = Db::open(dir.path(), options(WalRecoveryMode::default())).unwrap();
    for name in KEYSPACES {
        write_rounds(&db, &mut models, name, name != "beta");
    }
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), options(WalRecoveryMode::default())).unwrap();
    assert_eq!(db.keyspaces(), KEYSPACES);
    let doomed = keyspace(&db, DOOMED);
    for index in 0..40 {
        doomed.put(&key(index), &value(DOOMED, index, 0)).unwrap();
    }
    // Alpha flushed while doomed's writes hold the log: alpha's own log number (tag 11) moves
    // past the database's.
    let overwrites = (0..KEYS)
        .step_by(7)
        .map(|index| {
            (
                "alpha".to_string(),
                key(index),
                Some(value("alpha", index, 3)),
            )
        })
        .collect();
    apply(&db, &mut models, overwrites);
    keyspace(&db, "alpha").flush().unwrap();
    doomed.flush().unwrap();
    // What follows is in the log alone.
    db.flush().unwrap();
    let mut log_prefixes = vec![models.clone()];
    for batch_number in 0..12 {
        let batch = (0..8)
            .map(|offset| {
                // The doomed keyspace until its drop after batch 7; then the others only.
                let keyspaces = if batch_number <= 7 { 4 } else { 3 };
                let name = [KEYSPACES[0], KEYSPACES[1], KEYSPACES[2], DOOMED]
                    [(batch_number + offset) % keyspaces];
                let index = (batch_number * 23 + offset * 37) % KEYS;
                let delete = (batch_number + offset) % 7 == 0;
                let value = (!delete).then(|| value(name, index, 3 + batch_number));
                (name.to_string(), key(index), value)
            })
            .collect();
        apply(&db, &mut models, batch);
        log_prefixes.push(models.clone());
        if batch_number == 5 {
            // And one in the log (a batch operation of kind 2, in a keyspace: 0x12).
            delete_range(&db, &mut models, "alpha", 200, 211);
            log_prefixes.push(models.clone());
        }
        if batch_number == 7 {
            db.drop_keyspace(DOOMED).unwrap();
        }
    }
    assert_eq!(db.keyspaces(), KEYSPACES);
    db.close().unwrap();
    drop(db);
    check_manifest_records(dir.path());
    Pristine {
        dir,
        models,
        log_prefixes,
        all_keys: (0..KEYS).map(key).collect(),
    }
}

/// The live manifest holds what the sweep is about: a snapshot declaring `alpha` and `beta` with
/// the next keyspace id, a record of each keyspace's tables after it, and later edits that
/// declare `doomed`, change a keyspace's files and log number, and drop it.
fn check_manifest_records(dir: &Path) {
    let manifest = files_of(dir, Kind::Manifest);
    assert_eq!(manifest.len(), 1, "{manifest:?}");
    let edits: Vec<VersionEdit> = LogReader::open(&manifest[0], LogFileKind::Manifest)
        .unwrap()
        .filter_map(|event| match event {
            LogEvent::Record { payload, .. } => Some(VersionEdit::decode(&payload).unwrap()),
            _ => None,
        })
        .collect();
    let snapshot = &edits[0];
    let declared: Vec<&str> = snapshot.keyspaces.iter().map(|k| k.name.as_str()).collect();
    assert!(
        snapshot.snapshot && declared == ["alpha", "beta"],
        "{snapshot:?}"
    );
    assert_eq!(snapshot.next_keyspace_id, Some(KeyspaceId(3)));
    let records: Vec<KeyspaceId> = edits[1..]
        .iter()
        .take_while(|edit| edit.keyspace != KeyspaceId::DEFAULT && !edit.new_files.is_empty())
        .map(|edit| edit.keyspace)
        .collect();
    assert_eq!(
        records,
        [KeyspaceId(1), KeyspaceId(2)],
        "a record per keyspace"
    );
    let later = &edits[1 + records.len()..];
    let has = |what: &str, test: &dyn Fn(&VersionEdit) -> bool| {
        assert!(later.iter().any(test), "no later edit with {what}");
    };
    has("tag 8", &|edit| {
        edit.keyspaces.iter().any(|k| k.name == DOOMED)
    });
    has("tag 12", &|edit| {
        edit.next_keyspace_id == Some(KeyspaceId(4))
    });
    has("tags 10 and 5", &|edit| {
        edit.keyspace != KeyspaceId::DEFAULT && !edit.new_files.is_empty()
    });
    has("tag 11", &|edit| edit.keyspace_log_number.is_some());
    has("tag 9", &|edit| edit.dropped_keyspaces == [KeyspaceId(3)]);
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
                Some(false) => {
                    eprintln!("open refused naming another file than {damaged}: {error}");
                    Outcome::OpenRefusedNamingOtherFile
                }
                None => panic!("open failed with an error that is not corruption: {error}"),
            };
        }
    };
    // A keyspace lost, or the dropped one back, is wrong data as much as a wrong value.
    assert_eq!(
        db.keyspaces(),
        KEYSPACES,
        "the keyspaces of the opened database"
    );
    let mut refused = false;
    // Per keyspace, the keys whose point read succeeded, with what it returned, and what the
    // scan returned before any error.
    let mut read: BTreeMap<String, BTreeMap<Vec<u8>, Option<Vec<u8>>>> = BTreeMap::new();
    let mut scanned = Models::new();
    for name in KEYSPACES {
        let handle = keyspace(&db, name);
        let reads = read.entry(name.to_string()).or_default();
        for key in &pristine.all_keys {
            match handle.get(key) {
                Ok(value) => {
                    reads.insert(key.clone(), value.map(|value| value.to_vec()));
                }
                Err(error) => {
                    assert_eq!(
                        names_file(&error, damaged),
                        Some(true),
                        "a read of {name} failed with something other than corruption naming \
                         {damaged}: {error}"
                    );
                    refused = true;
                }
            }
        }
        let (items, scan_refused) = scan(&handle, damaged);
        refused |= scan_refused;
        scanned.insert(name.to_string(), items);
    }
    if let Err(error) = db.verify() {
        assert!(error.is_corruption(), "verify failed with {error}");
        refused = true;
    }
    if refused {
        // Every read that succeeded returned exactly what was written, absent keys included.
        for (name, reads) in &read {
            let model = &pristine.models[name];
            for (key, value) in reads {
                assert_eq!(
                    model.get(key),
                    value.as_ref(),
                    "point read of {key:?} in {name}"
                );
            }
            for (key, value) in &scanned[name] {
                assert_eq!(model.get(key), Some(value), "scanned {key:?} in {name}");
            }
        }
        return Outcome::ReadRefused;
    }
    let found: Models = read
        .into_iter()
        .map(|(name, reads)| {
            let model: Model = reads
                .into_iter()
                .filter_map(|(key, value)| value.map(|value| (key, value)))
                .collect();
            (name, model)
        })
        .collect();
    assert_eq!(scanned, found, "the scans and the point reads disagree");
    if found == pristine.models {
        return Outcome::ExactData;
    }
    assert!(
        mode == WalRecoveryMode::PointInTime && pristine.log_prefixes.contains(&found),
        "{mode:?}: the database opened and read without errors, but does not hold the data \
         written: {}",
        differences(&pristine.models, &found)
    );
    Outcome::PrefixRecovered
}

/// Scans all of `keyspace`, up to an error, which must be corruption naming the damaged file.
/// Returns the items before it and whether there was one.
fn scan(keyspace: &Keyspace, damaged: &str) -> (Model, bool) {
    let mut scanned = Model::new();
    for item in keyspace.iter() {
        match item {
            Ok((key, value)) => {
                let previous = scanned.insert(key.clone(), value.to_vec());
                assert!(previous.is_none(), "the scan yields {key:?} twice");
            }
            Err(error) => {
                assert_eq!(
                    names_file(&error, damaged),
                    Some(true),
                    "the scan of {} failed with something other than corruption naming \
                     {damaged}: {error}",
                    keyspace.name()
                );
                return (scanned, true);
            }
        }
    }
    (scanned, false)
}

/// How many keys differ in each keyspace, in words.
fn differences(want: &Models, found: &Models) -> String {
    let empty = Model::new();
    want.iter()
        .map(|(name, model)| {
            let other = found.get(name).unwrap_or(&empty);
            format!("{} keys differ in {name}", differing_keys(model, other))
        })
        .collect::<Vec<_>>()
        .join(", ")
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
