//! Keyspaces against a model: a `BTreeMap` from keyspace name to that keyspace's `BTreeMap` of
//! keys and values.
//!
//! The model test runs random puts, deletes and range deletes in single keyspaces (through
//! their handles, and on the default keyspace through `Db` too), batches spanning several
//! keyspaces (`WriteBatch::put_in`, `delete_in`, `delete_range_in`, beside the plain
//! `put`/`delete` of the default keyspace), and between them rarer events: snapshots taken and
//! later checked across every keyspace at once, keyspaces created, dropped and created again
//! under the same name, flushes and manual compactions of one keyspace, a second handle opened
//! on a live keyspace, and dropped handles tried again. Each keyspace has its own small write
//! buffer (64 to 256 KiB), so memtables flush and compactions run in each at different times.
//! Phases end with a close and a reopen, after which the keyspaces are listed and opened again
//! by name and must hold their data. Every check compares `get`, `multi_get`, `contains_key`,
//! ranges both ways, both ends of one iterator, prefixes, seeks and first/last with the model.
//!
//! The targeted tests beside it: the listing of `Db::keyspaces`, the errors of `drop_keyspace`,
//! a dropped handle failing (and never reaching the keyspace created again under its name), a
//! batch touching a dropped keyspace failing whole, the same key in several keyspaces, the
//! default keyspace being what `Db`'s own reads and writes use, keyspace options, a read-only
//! open, readers of other threads never seeing part of a cross-keyspace batch, and a dropped
//! keyspace's tables leaving the directory.
//!
//! `SHALEDB_KEYSPACE_OPERATIONS=N` runs N operations per phase instead of the default (the
//! ignored long test runs 10 phases of 40,000 unless told otherwise).

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{
    Model, Pairs, Rng, collect, model_prefix, model_range, random_bounds, temp_dir, test_seed,
};
use shaledb::{
    Db, Error, Keyspace, KeyspaceOptions, Options, ReadOptions, Snapshot, WriteBatch, WriteOptions,
};

/// Keys per keyspace; every keyspace draws from the same keys, so the same key lives in many.
const KEY_SPACE: u64 = 1_500;
/// The names keyspaces are created under; a dropped name comes back when created again.
const NAMES: [&str; 6] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
/// Named keyspaces live at once, at most (beside the default one).
const MAX_NAMED: usize = 4;
const MAX_SNAPSHOTS: usize = 3;

/// What every keyspace should hold, by name.
type Models = BTreeMap<String, Model>;

fn key(index: u64) -> Vec<u8> {
    format!("key{index:05}").into_bytes()
}

fn random_key(rng: &mut Rng) -> Vec<u8> {
    key(rng.below(KEY_SPACE))
}

fn random_value(rng: &mut Rng) -> Vec<u8> {
    let length = rng.between(20, 200);
    rng.bytes(length)
}

/// A random `[start, end)`, mostly short, sometimes hundreds of keys, sometimes empty, and
/// sometimes with ends between the keys ("key00012x").
fn random_range(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let start = rng.below(KEY_SPACE);
    let span = match rng.below(10) {
        0 => 0,
        1..=7 => rng.between(1, 20) as u64,
        _ => rng.between(20, 400) as u64,
    };
    let mut start_key = key(start);
    let mut end_key = key((start + span).min(KEY_SPACE));
    if rng.chance(1, 4) {
        start_key.push(b'x');
    }
    if rng.chance(1, 4) {
        end_key.push(b'x');
    }
    if start_key > end_key {
        std::mem::swap(&mut start_key, &mut end_key);
    }
    (start_key, end_key)
}

fn model_delete_range(model: &mut Model, start: &[u8], end: &[u8]) {
    model.retain(|key, _| !(key.as_slice() >= start && key.as_slice() < end));
}

/// The database options: small enough that the default keyspace flushes and compacts, with a
/// total write-ahead log limit small enough to flush keyspaces that pin old logs.
fn options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        level1_target_size: 256 << 10,
        target_file_size: 64 << 10,
        level0_compaction_trigger: 2,
        sync_writes: false,
        block_cache_capacity: 1 << 20,
        max_total_wal_size: 1 << 20,
        ..Options::default()
    }
}

/// Each named keyspace's options: its own write buffer (64 KiB to 256 KiB, by name) and the
/// database's small levels, so that the keyspaces flush at different times.
fn keyspace_options(name: &str) -> KeyspaceOptions {
    let position = NAMES.iter().position(|known| *known == name).unwrap_or(0);
    KeyspaceOptions {
        write_buffer_size: [
            64 << 10,
            96 << 10,
            128 << 10,
            192 << 10,
            256 << 10,
            80 << 10,
        ][position],
        ..KeyspaceOptions::from_options(&options())
    }
}

fn is_invalid_argument<T>(result: &shaledb::Result<T>) -> bool {
    matches!(result, Err(Error::InvalidArgument(_)))
}

/// A snapshot of the whole database and, for each keyspace live when it was taken, its
/// incarnation (which creation of the name it was) and model.
struct HeldSnapshot {
    snapshot: Snapshot,
    models: BTreeMap<String, (u64, Model)>,
    taken_at: String,
}

impl HeldSnapshot {
    fn options(&self) -> ReadOptions<'_> {
        ReadOptions {
            snapshot: Some(&self.snapshot),
            ..ReadOptions::default()
        }
    }

    /// What keyspace `name` in its incarnation `incarnation` held at the snapshot: nothing if
    /// it was created after it.
    fn model_of(&self, name: &str, incarnation: u64) -> Model {
        match self.models.get(name) {
            Some((taken, model)) if *taken == incarnation => model.clone(),
            _ => Model::new(),
        }
    }
}

/// A live keyspace: its handle and which creation of its name it is.
struct Live {
    name: String,
    incarnation: u64,
    handle: Keyspace,
}

/// The database under test, its live keyspaces (in creation order, the default first), their
/// models, and the handles of dropped keyspaces.
struct World {
    db: Db,
    dir: std::path::PathBuf,
    live: Vec<Live>,
    models: Models,
    dropped: Vec<(String, Keyspace)>,
    next_incarnation: u64,
}

impl World {
    fn open(dir: &Path) -> World {
        let db = Db::open(dir, options()).unwrap();
        let live = vec![Live {
            name: "default".into(),
            incarnation: 0,
            handle: db.default_keyspace(),
        }];
        let models = BTreeMap::from([("default".to_string(), Model::new())]);
        World {
            db,
            dir: dir.to_path_buf(),
            live,
            models,
            dropped: Vec::new(),
            next_incarnation: 1,
        }
    }

    /// Closes and reopens the database, and opens every keyspace again by name.
    fn reopen(&mut self, dir: &Path, context: &str) {
        let names: Vec<String> = self.live.iter().map(|live| live.name.clone()).collect();
        let mut incarnations: BTreeMap<String, u64> = self
            .live
            .iter()
            .map(|live| (live.name.clone(), live.incarnation))
            .collect();
        self.dropped.clear();
        self.live.clear();
        self.db
            .close()
            .unwrap_or_else(|error| panic!("{context}: close: {error}"));
        self.db =
            Db::open(dir, options()).unwrap_or_else(|error| panic!("{context}: reopen: {error}"));
        assert_eq!(
            self.db.keyspaces(),
            names,
            "{context}: the keyspaces listed after reopening"
        );
        // The incarnations stay: the reopened keyspace is the same one.
        for name in names {
            let handle = if name == "default" {
                self.db.default_keyspace()
            } else {
                self.db.keyspace(&name, keyspace_options(&name)).unwrap()
            };
            assert_eq!(handle.name(), name, "{context}: the reopened handle's name");
            let incarnation = incarnations.remove(&name).unwrap_or(0);
            self.live.push(Live {
                name,
                incarnation,
                handle,
            });
        }
    }

    fn db_dir(&self) -> &Path {
        &self.dir
    }

    fn live_named(&self) -> usize {
        self.live.len() - 1
    }

    fn random_live<'a>(&'a self, rng: &mut Rng) -> &'a Live {
        &self.live[rng.below(self.live.len() as u64) as usize]
    }

    fn model_mut(&mut self, name: &str) -> &mut Model {
        self.models
            .get_mut(name)
            .expect("a live keyspace has a model")
    }
}

/// One write of a batch, kept to apply to the model once the batch is written.
enum Staged {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    DeleteRange(Vec<u8>, Vec<u8>),
}

fn apply(model: &mut Model, staged: Staged) {
    match staged {
        Staged::Put(key, value) => {
            model.insert(key, value);
        }
        Staged::Delete(key) => {
            model.remove(&key);
        }
        Staged::DeleteRange(start, end) => model_delete_range(model, &start, &end),
    }
}

/// Applies one random write to the database and the model: a put, delete or range delete in
/// one keyspace (on the default one sometimes through `Db`), or a batch across keyspaces.
fn random_write(world: &mut World, rng: &mut Rng) {
    let live = world.random_live(rng);
    let (name, handle) = (live.name.clone(), live.handle.clone());
    let through_db = name == "default" && rng.chance(1, 3);
    let db = &world.db;
    match rng.below(40) {
        0..=25 => {
            let (key, value) = (random_key(rng), random_value(rng));
            match (through_db, rng.below(100)) {
                (true, _) => db.put(&key, &value).unwrap(),
                (false, 0) => handle.put_with(&key, &value, &WriteOptions::SYNC).unwrap(),
                (false, 1..=10) => handle
                    .put_with(&key, &value, &WriteOptions::NO_SYNC)
                    .unwrap(),
                (false, _) => handle.put(&key, &value).unwrap(),
            }
            world.model_mut(&name).insert(key, value);
        }
        26..=30 => {
            let key = random_key(rng);
            match (through_db, rng.below(4)) {
                (true, _) => db.delete(&key).unwrap(),
                (false, 0) => handle.delete_with(&key, &WriteOptions::NO_SYNC).unwrap(),
                (false, _) => handle.delete(&key).unwrap(),
            }
            world.model_mut(&name).remove(&key);
        }
        31..=32 => {
            let (start, end) = random_range(rng);
            if through_db {
                db.delete_range(start.as_slice()..end.as_slice()).unwrap();
            } else {
                handle
                    .delete_range(start.as_slice()..end.as_slice())
                    .unwrap();
            }
            model_delete_range(world.model_mut(&name), &start, &end);
        }
        _ => random_batch(world, rng),
    }
}

/// A batch of 2 to 10 puts, deletes and range deletes over random keyspaces, applied in order
/// (a later put inside an earlier range delete of the same batch survives it).
fn random_batch(world: &mut World, rng: &mut Rng) {
    let mut batch = WriteBatch::new();
    let mut staged: Vec<(String, Staged)> = Vec::new();
    for _ in 0..rng.between(2, 10) {
        let live = world.random_live(rng);
        // The default keyspace through the plain methods half the time, through `_in` else.
        let plain = live.name == "default" && rng.chance(1, 2);
        let operation = match rng.below(6) {
            0 => {
                let (start, end) = random_range(rng);
                if plain {
                    batch.delete_range(&start, &end).unwrap();
                } else {
                    batch.delete_range_in(&live.handle, &start, &end).unwrap();
                }
                Staged::DeleteRange(start, end)
            }
            1 => {
                let key = random_key(rng);
                if plain {
                    batch.delete(&key).unwrap();
                } else {
                    batch.delete_in(&live.handle, &key).unwrap();
                }
                Staged::Delete(key)
            }
            _ => {
                let (key, value) = (random_key(rng), random_value(rng));
                if plain {
                    batch.put(&key, &value).unwrap();
                } else {
                    batch.put_in(&live.handle, &key, &value).unwrap();
                }
                Staged::Put(key, value)
            }
        };
        staged.push((live.name.clone(), operation));
    }
    let options = WriteOptions {
        sync: rng.chance(1, 100),
    };
    world.db.write(batch, &options).unwrap();
    for (name, operation) in staged {
        apply(world.model_mut(&name), operation);
    }
}

/// Compares a sample of reads of `keyspace` at `options` (the latest state, or a snapshot)
/// with `model`: a random range forward, backward and from both ends, seeks both ways,
/// `multi_get` and `get`.
fn check_sample(
    keyspace: &Keyspace,
    model: &Model,
    options: &ReadOptions<'_>,
    rng: &mut Rng,
    context: &str,
) {
    let context = format!("{context}, keyspace {}", keyspace.name());
    let context = context.as_str();
    common::check_sample_reads(keyspace, model, options, rng, random_key, context);
}

/// The reads that only exist at the latest state: `get`, `multi_get`, `contains_key`,
/// `prefix`, `first_key_value`, `last_key_value`, `iter` and `range`.
fn check_latest_reads(keyspace: &Keyspace, model: &Model, rng: &mut Rng, context: &str) {
    let context = format!("{context}, keyspace {}", keyspace.name());
    let context = context.as_str();
    let keys: Vec<Vec<u8>> = (0..8).map(|_| random_key(rng)).collect();
    let found = keyspace.multi_get(&keys).unwrap();
    for (key, found) in keys.iter().zip(found) {
        let want = model.get(key).map(Vec::as_slice);
        assert_eq!(found.as_deref(), want, "{context}: multi_get {key:?}");
        assert_eq!(
            keyspace.get(key).unwrap().as_deref(),
            want,
            "{context}: get {key:?}"
        );
        assert_eq!(
            keyspace.contains_key(key).unwrap(),
            want.is_some(),
            "{context}: contains_key {key:?}"
        );
    }
    // "key0", "key01", "key012" or "key0123": from thousands of keys down to ten.
    let prefix_length = rng.between(4, 7);
    let prefix = random_key(rng)[..prefix_length].to_vec();
    let got = collect(keyspace.prefix(&prefix), context);
    assert!(
        got == model_prefix(model, &prefix),
        "{context}: prefix {:?}",
        String::from_utf8_lossy(&prefix)
    );
    let first = keyspace.first_key_value().unwrap();
    let want_first = model.iter().next();
    assert_eq!(
        first.map(|(key, value)| (key, value.to_vec())),
        want_first.map(|(key, value)| (key.clone(), value.clone())),
        "{context}: first_key_value"
    );
    let last = keyspace.last_key_value().unwrap();
    let want_last = model.iter().next_back();
    assert_eq!(
        last.map(|(key, value)| (key, value.to_vec())),
        want_last.map(|(key, value)| (key.clone(), value.clone())),
        "{context}: last_key_value"
    );
    let (start, end) = random_range(rng);
    let got = collect(keyspace.range(start.as_slice()..end.as_slice()), context);
    let want = model_range(
        model,
        &Bound::Included(start.clone()),
        &Bound::Excluded(end.clone()),
    );
    assert!(got == want, "{context}: range {start:?}..{end:?}");
    let count = keyspace.iter().count();
    assert_eq!(count, model.len(), "{context}: iter().count()");
}

/// Checks every key, a full scan both ways and one `multi_get` of the whole key space of
/// `keyspace` at `options` against `model`.
fn check_fully(keyspace: &Keyspace, model: &Model, options: &ReadOptions<'_>, context: &str) {
    let context = format!("{context}, keyspace {}", keyspace.name());
    let context = context.as_str();
    let expected: Pairs = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let forward = collect(keyspace.range_with(.., options), context);
    assert!(
        forward == expected,
        "{context}: full scan: got {} pairs, want {}{}",
        forward.len(),
        expected.len(),
        first_difference(&forward, &expected)
    );
    let mut backward = collect(keyspace.range_with(.., options).rev(), context);
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: reverse full scan: got {} pairs, want {}{}",
        backward.len(),
        expected.len(),
        first_difference(&backward, &expected)
    );
    let keys: Vec<Vec<u8>> = (0..KEY_SPACE).map(key).collect();
    let found = keyspace.multi_get_with(&keys, options).unwrap();
    for (key, found) in keys.iter().zip(found) {
        let want = model.get(key).map(Vec::as_slice);
        assert_eq!(found.as_deref(), want, "{context}: multi_get {key:?}");
        assert_eq!(
            keyspace.get_with(key, options).unwrap().as_deref(),
            want,
            "{context}: get {key:?}"
        );
    }
}

/// For a failed comparison's message: the first key where two scans differ.
fn first_difference(got: &Pairs, want: &Pairs) -> String {
    let position = got
        .iter()
        .zip(want)
        .position(|(got, want)| got != want)
        .unwrap_or(got.len().min(want.len()));
    let describe = |pair: Option<&(Vec<u8>, Vec<u8>)>| match pair {
        Some((key, value)) => format!("{:?} ({} bytes)", String::from_utf8_lossy(key), value.len()),
        None => "the end".into(),
    };
    format!(
        "; first difference at {position}: got {}, want {}",
        describe(got.get(position)),
        describe(want.get(position))
    )
}

/// Checks `held` across every live keyspace at once: a sample of reads of each, or all of it.
fn check_snapshot(world: &World, held: &HeldSnapshot, rng: &mut Rng, full: bool, context: &str) {
    let context = format!("{context}, snapshot taken {}", held.taken_at);
    let options = held.options();
    for live in &world.live {
        let model = held.model_of(&live.name, live.incarnation);
        if full {
            check_fully(&live.handle, &model, &options, &context);
        } else {
            check_sample(&live.handle, &model, &options, rng, &context);
        }
    }
    // The default keyspace through `Db` itself, at the same snapshot.
    let model = held.model_of("default", 0);
    let (lower, upper) = random_bounds(rng, random_key);
    let got = collect(
        world
            .db
            .range_with((lower.clone(), upper.clone()), &options),
        &context,
    );
    assert!(
        got == model_range(&model, &lower, &upper),
        "{context}: db.range_with {lower:?}..{upper:?} at the snapshot"
    );
}

/// Checks that a dropped keyspace's handle fails every call with `InvalidArgument` and that
/// a batch touching it fails whole: the live key it also wrote keeps its value.
fn check_dropped_handle(
    world: &World,
    name: &str,
    handle: &Keyspace,
    rng: &mut Rng,
    context: &str,
) {
    let context = format!("{context}, dropped keyspace {name}");
    let key = random_key(rng);
    let put = handle.put(&key, b"after the drop");
    assert!(is_invalid_argument(&put), "{context}: put: {put:?}");
    let get = handle.get(&key);
    assert!(is_invalid_argument(&get), "{context}: get: {get:?}");
    let range = handle.delete_range(key.as_slice()..b"z".as_slice());
    assert!(
        is_invalid_argument(&range),
        "{context}: delete_range: {range:?}"
    );
    assert!(
        matches!(handle.iter().next(), Some(Err(_))),
        "{context}: iter did not fail"
    );
    let live = world.random_live(rng);
    let mut batch = WriteBatch::new();
    batch
        .put_in(&live.handle, &key, b"beside a dropped keyspace")
        .unwrap();
    batch
        .put_in(handle, &key, b"into a dropped keyspace")
        .unwrap();
    let written = world.db.write(batch, &WriteOptions::NO_SYNC);
    assert!(
        written.is_err(),
        "{context}: a batch touching it was written"
    );
    assert_eq!(
        live.handle.get(&key).unwrap().as_deref(),
        world.models[&live.name].get(&key).map(Vec::as_slice),
        "{context}: the failed batch changed keyspace {}",
        live.name
    );
}

/// Counts of what a run did, printed at its end.
#[derive(Debug, Default)]
struct Totals {
    creations: u64,
    recreations: u64,
    drops: u64,
    snapshots_checked: u64,
    flushes: u64,
    compactions: u64,
}

/// Creates keyspace `name` (which is not live), checking that it starts empty even if a
/// keyspace of that name was dropped before.
fn create(
    world: &mut World,
    name: &str,
    ever_created: &mut Vec<String>,
    totals: &mut Totals,
    context: &str,
) {
    let handle = world
        .db
        .keyspace(name, keyspace_options(name))
        .unwrap_or_else(|error| panic!("{context}: create keyspace {name}: {error}"));
    assert_eq!(handle.name(), name, "{context}: the new handle's name");
    let context = format!("{context}, keyspace {name} just created");
    check_fully(&handle, &Model::new(), &ReadOptions::default(), &context);
    totals.creations += 1;
    if ever_created.iter().any(|known| known == name) {
        totals.recreations += 1;
    } else {
        ever_created.push(name.to_string());
    }
    world.live.push(Live {
        name: name.to_string(),
        incarnation: world.next_incarnation,
        handle,
    });
    world.next_incarnation += 1;
    world.models.insert(name.to_string(), Model::new());
    let listed = world.db.keyspaces();
    assert_eq!(
        listed.last().map(String::as_str),
        Some(name),
        "{context}: not listed last: {listed:?}"
    );
}

/// Drops the live named keyspace at `position` of `world.live`.
fn drop_keyspace(world: &mut World, position: usize, totals: &mut Totals, context: &str) {
    let live = world.live.remove(position);
    world
        .db
        .drop_keyspace(&live.name)
        .unwrap_or_else(|error| panic!("{context}: drop keyspace {}: {error}", live.name));
    world.models.remove(&live.name);
    let listed = world.db.keyspaces();
    assert!(
        !listed.contains(&live.name),
        "{context}: {} still listed after its drop: {listed:?}",
        live.name
    );
    let get = live.handle.get(b"key00000");
    assert!(
        is_invalid_argument(&get),
        "{context}: get on {} after its drop: {get:?}",
        live.name
    );
    world.dropped.push((live.name, live.handle));
    if world.dropped.len() > 8 {
        world.dropped.remove(0);
    }
    totals.drops += 1;
}

fn unused_name(world: &World, rng: &mut Rng) -> Option<&'static str> {
    let free: Vec<&'static str> = NAMES
        .iter()
        .copied()
        .filter(|name| !world.live.iter().any(|live| live.name == *name))
        .collect();
    (!free.is_empty()).then(|| free[rng.below(free.len() as u64) as usize])
}

/// Rare events between writes.
fn random_event(
    world: &mut World,
    snapshots: &mut Vec<HeldSnapshot>,
    ever_created: &mut Vec<String>,
    totals: &mut Totals,
    rng: &mut Rng,
    context: &str,
) {
    match rng.below(13) {
        0 if snapshots.len() < MAX_SNAPSHOTS => {
            let snapshot = world.db.snapshot();
            let models = world
                .live
                .iter()
                .map(|live| {
                    let model = world.models[&live.name].clone();
                    (live.name.clone(), (live.incarnation, model))
                })
                .collect();
            snapshots.push(HeldSnapshot {
                snapshot,
                models,
                taken_at: context.to_string(),
            });
        }
        1 if !snapshots.is_empty() => {
            let index = rng.below(snapshots.len() as u64) as usize;
            check_snapshot(world, &snapshots[index], rng, false, context);
            totals.snapshots_checked += 1;
            if rng.chance(1, 3) {
                snapshots.swap_remove(index);
            }
        }
        2 => {
            let live = world.random_live(rng);
            live.handle
                .flush()
                .unwrap_or_else(|error| panic!("{context}: flush {}: {error}", live.name));
        }
        3 => {
            let live = world.random_live(rng);
            let (lower, upper) = random_bounds(rng, random_key);
            live.handle
                .compact_range((lower, upper))
                .unwrap_or_else(|error| panic!("{context}: compact_range {}: {error}", live.name));
        }
        4 if world.live_named() < MAX_NAMED => {
            if let Some(name) = unused_name(world, rng) {
                create(world, name, ever_created, totals, context);
            }
        }
        5 if world.live_named() > 0 => {
            let position = 1 + rng.below(world.live_named() as u64) as usize;
            drop_keyspace(world, position, totals, context);
        }
        6 => {
            // A second handle on a live keyspace sees the same data, and may replace the first.
            let index = rng.below(world.live.len() as u64) as usize;
            let name = world.live[index].name.clone();
            // Sometimes with other options (another name's write buffer): the data stays.
            let options = if rng.chance(1, 3) {
                keyspace_options(NAMES[rng.below(NAMES.len() as u64) as usize])
            } else {
                keyspace_options(&name)
            };
            let handle = world.db.keyspace(&name, options).unwrap();
            check_sample(
                &handle,
                &world.models[&name],
                &ReadOptions::default(),
                rng,
                &format!("{context}, second handle"),
            );
            if rng.chance(1, 2) {
                world.live[index].handle = handle;
            }
        }
        7 if !world.dropped.is_empty() => {
            let index = rng.below(world.dropped.len() as u64) as usize;
            let (name, handle) = world.dropped[index].clone();
            check_dropped_handle(world, &name, &handle, rng, context);
        }
        8 => {
            let listed = world.db.keyspaces();
            let want: Vec<String> = world.live.iter().map(|live| live.name.clone()).collect();
            assert_eq!(listed, want, "{context}: keyspaces()");
        }
        _ => {
            let live = world.random_live(rng);
            let model = &world.models[&live.name];
            check_sample(&live.handle, model, &ReadOptions::default(), rng, context);
            check_latest_reads(&live.handle, model, rng, context);
        }
    }
}

fn operations_per_phase(default: u64) -> usize {
    common::count_from_env("SHALEDB_KEYSPACE_OPERATIONS", default) as usize
}

/// One phase: writes and events, a forced drop and re-creation half way, then every snapshot
/// and every keyspace checked in full, before and after the snapshots are released.
fn run_phase(
    world: &mut World,
    rng: &mut Rng,
    operations: usize,
    ever_created: &mut Vec<String>,
    totals: &mut Totals,
    phase_context: &str,
) {
    let mut snapshots: Vec<HeldSnapshot> = Vec::new();
    // At least two named keyspaces, so that batches span several.
    while world.live_named() < 2 {
        let name = unused_name(world, rng).expect("a free name");
        create(world, name, ever_created, totals, phase_context);
    }
    for operation in 0..operations {
        random_write(world, rng);
        let context = format!("{phase_context}, operation {operation}");
        if operation == operations / 2 && world.live_named() > 0 {
            // A drop and a re-creation under the same name at once, while snapshots are held.
            let position = 1 + rng.below(world.live_named() as u64) as usize;
            let name = world.live[position].name.clone();
            drop_keyspace(world, position, totals, &context);
            create(world, &name, ever_created, totals, &context);
        }
        if operation == operations / 3 {
            check_crash_copy(world, &context);
        }
        if rng.chance(1, 250) {
            random_event(world, &mut snapshots, ever_created, totals, rng, &context);
        }
    }
    let context = format!("{phase_context}, end of phase");
    for held in &snapshots {
        check_snapshot(world, held, rng, true, &context);
        totals.snapshots_checked += 1;
    }
    check_all(world, &context);
    drop(snapshots);
    world.db.wait_for_compaction().unwrap();
    check_all(world, &format!("{context}, snapshots released"));
    let stats = world.db.stats();
    assert!(stats.error.is_none(), "{context}: {:?}", stats.error);
    totals.flushes += stats.flushes;
    totals.compactions += stats.compactions;
}

/// What a crash of the process would leave: a copy of the files of the open database (taken
/// once background work is idle), opened as a database of its own, must hold every keyspace
/// with every write so far, and none of the dropped ones.
fn check_crash_copy(world: &World, context: &str) {
    let context = format!("{context}, a copy of the files of the open database");
    let copy = temp_dir();
    for attempt in 0.. {
        world.db.wait_for_compaction().unwrap();
        match try_copy(world.db_dir(), copy.path()) {
            Ok(()) => break,
            // A file went away while the copy ran (a log deleted after a flush): again.
            Err(error) if attempt < 5 => eprintln!("{context}: copy failed ({error}), again"),
            Err(error) => panic!("{context}: copy failed: {error}"),
        }
    }
    let db = Db::open(copy.path(), options())
        .unwrap_or_else(|error| panic!("{context}: open failed: {error}"));
    let want: Vec<String> = world.live.iter().map(|live| live.name.clone()).collect();
    assert_eq!(db.keyspaces(), want, "{context}: keyspaces()");
    for live in &world.live {
        let handle = if live.name == "default" {
            db.default_keyspace()
        } else {
            db.keyspace(&live.name, keyspace_options(&live.name))
                .unwrap()
        };
        check_fully(
            &handle,
            &world.models[&live.name],
            &ReadOptions::default(),
            &context,
        );
    }
    db.close().unwrap();
}

/// Copies every file of `from` but `LOCK` into `to`, emptied first.
fn try_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(to)? {
        std::fs::remove_file(entry?.path())?;
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Every live keyspace checked in full at the latest state, and the listing.
fn check_all(world: &World, context: &str) {
    for live in &world.live {
        check_fully(
            &live.handle,
            &world.models[&live.name],
            &ReadOptions::default(),
            context,
        );
    }
    let listed = world.db.keyspaces();
    let want: Vec<String> = world.live.iter().map(|live| live.name.clone()).collect();
    assert_eq!(listed, want, "{context}: keyspaces()");
    let through_db = collect(world.db.iter(), context);
    let want: Pairs = world.models["default"]
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    assert!(
        through_db == want,
        "{context}: db.iter() is not the default keyspace"
    );
}

fn run_model(test: &str, phases: usize, operations: usize) {
    let seed = test_seed(test);
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut world = World::open(dir.path());
    let mut ever_created = Vec::new();
    let mut totals = Totals::default();
    for phase in 0..phases {
        let context = format!("seed {seed}, phase {phase}");
        run_phase(
            &mut world,
            &mut rng,
            operations,
            &mut ever_created,
            &mut totals,
            &context,
        );
        world.reopen(dir.path(), &context);
        check_all(&world, &format!("{context}, after reopening"));
    }
    world.db.verify().unwrap();
    world.db.close().unwrap();
    eprintln!("{test}: seed {seed}, {totals:?}");
    assert!(totals.recreations > 0, "seed {seed}: {totals:?}");
    assert!(
        totals.flushes > 0 && totals.compactions > 0,
        "seed {seed}: {totals:?}"
    );
}

#[test]
fn keyspaces_keep_the_model_through_drops_snapshots_flushes_and_reopens() {
    run_model("keyspaces_keep_the_model", 4, operations_per_phase(16_000));
}

#[test]
#[ignore = "long: 10 phases of 40,000 operations (SHALEDB_KEYSPACE_OPERATIONS sets the count)"]
fn keyspaces_keep_the_model_long() {
    run_model(
        "keyspaces_keep_the_model_long",
        10,
        operations_per_phase(40_000),
    );
}

/// The pairs of a keyspace, as owned bytes.
fn contents(keyspace: &Keyspace) -> Pairs {
    collect(keyspace.iter(), keyspace.name())
}

fn pairs(items: &[(&str, &str)]) -> Pairs {
    items
        .iter()
        .map(|(key, value)| (key.as_bytes().to_vec(), value.as_bytes().to_vec()))
        .collect()
}

#[test]
fn keyspace_handles_are_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Keyspace>();
}

#[test]
fn keyspaces_are_listed_default_first_then_in_creation_order() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.keyspaces(), ["default"]);
    assert_eq!(db.default_keyspace().name(), "default");
    for name in ["beta", "alpha", "gamma"] {
        let handle = db.keyspace(name, keyspace_options(name)).unwrap();
        assert_eq!(handle.name(), name);
    }
    assert_eq!(db.keyspaces(), ["default", "beta", "alpha", "gamma"]);
    // Opening an existing keyspace again creates nothing.
    db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    assert_eq!(db.default_keyspace().name(), "default");
    assert_eq!(
        db.keyspace("default", KeyspaceOptions::default())
            .unwrap()
            .name(),
        "default"
    );
    assert_eq!(db.keyspaces(), ["default", "beta", "alpha", "gamma"]);
    db.drop_keyspace("alpha").unwrap();
    assert_eq!(db.keyspaces(), ["default", "beta", "gamma"]);
    // Created again, it is the newest.
    db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    assert_eq!(db.keyspaces(), ["default", "beta", "gamma", "alpha"]);
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.keyspaces(), ["default", "beta", "gamma", "alpha"]);
    db.drop_keyspace("beta").unwrap();
    drop(db);
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.keyspaces(), ["default", "gamma", "alpha"]);
}

#[test]
fn dropping_the_default_or_an_unknown_keyspace_is_invalid_argument() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    db.put(b"k", b"default value").unwrap();
    let alpha = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    alpha.put(b"k", b"alpha value").unwrap();
    let unnamed = db.keyspace("", KeyspaceOptions::default()).map(drop);
    assert!(
        is_invalid_argument(&unnamed),
        "a keyspace without a name: {unnamed:?}"
    );
    let dropped_default = db.drop_keyspace("default");
    assert!(is_invalid_argument(&dropped_default), "{dropped_default:?}");
    let unknown = db.drop_keyspace("no-such-keyspace");
    assert!(is_invalid_argument(&unknown), "{unknown:?}");
    // Names are exact: no prefix, no case folding.
    let near = db.drop_keyspace("alph");
    assert!(is_invalid_argument(&near), "{near:?}");
    let near = db.drop_keyspace("Alpha");
    assert!(is_invalid_argument(&near), "{near:?}");
    db.drop_keyspace("alpha").unwrap();
    let twice = db.drop_keyspace("alpha");
    assert!(is_invalid_argument(&twice), "dropped twice: {twice:?}");
    // The failed drops changed nothing.
    assert_eq!(db.keyspaces(), ["default"]);
    assert_eq!(
        db.get(b"k").unwrap().as_deref(),
        Some(&b"default value"[..])
    );
    db.put(b"k2", b"still writable").unwrap();
    drop(db);
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.keyspaces(), ["default"]);
    assert_eq!(
        contents(&db.default_keyspace()),
        pairs(&[("k", "default value"), ("k2", "still writable")])
    );
}

#[test]
fn a_dropped_handle_fails_every_call_and_never_reaches_the_new_keyspace() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let old = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    let clone = old.clone();
    for index in 0..2_000u32 {
        old.put(format!("key{index:05}").as_bytes(), &[7; 100])
            .unwrap();
    }
    old.flush().unwrap(); // some in tables, some in the memtable
    old.put(b"memtable-only", b"v").unwrap();
    let snapshot = db.snapshot();
    db.drop_keyspace("alpha").unwrap();
    for (label, handle) in [("the handle", &old), ("its clone", &clone)] {
        assert_eq!(handle.name(), "alpha");
        let read = ReadOptions {
            snapshot: Some(&snapshot),
            ..ReadOptions::default()
        };
        let results: Vec<(&str, shaledb::Result<()>)> = vec![
            ("put", handle.put(b"k", b"v")),
            ("put_with", handle.put_with(b"k", b"v", &WriteOptions::SYNC)),
            ("delete", handle.delete(b"k")),
            (
                "delete_with",
                handle.delete_with(b"k", &WriteOptions::NO_SYNC),
            ),
            (
                "delete_range",
                handle.delete_range(b"a".as_slice()..b"z".as_slice()),
            ),
            ("get", handle.get(b"key00001").map(drop)),
            (
                "get_with snapshot",
                handle.get_with(b"key00001", &read).map(drop),
            ),
            ("multi_get", handle.multi_get(&[b"key00001"]).map(drop)),
            (
                "multi_get_with",
                handle.multi_get_with(&[b"key00001"], &read).map(drop),
            ),
            ("contains_key", handle.contains_key(b"key00001").map(drop)),
            ("first_key_value", handle.first_key_value().map(drop)),
            ("last_key_value", handle.last_key_value().map(drop)),
            ("flush", handle.flush()),
            ("compact_range", handle.compact_range(..)),
        ];
        for (call, result) in results {
            assert!(
                is_invalid_argument(&result),
                "{label}: {call} after the drop: {result:?}"
            );
        }
        let iterators = [
            ("iter", handle.iter()),
            ("range", handle.range(b"a".as_slice()..)),
            ("range_with snapshot", handle.range_with(.., &read)),
            ("prefix", handle.prefix(b"key")),
        ];
        for (call, mut iterator) in iterators {
            assert!(
                matches!(iterator.next(), Some(Err(_))),
                "{label}: {call} after the drop did not fail"
            );
        }
    }
    // The name makes a new, empty keyspace; the old handle still fails and writes nothing in it.
    let new = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    assert_eq!(
        contents(&new),
        Pairs::new(),
        "the re-created keyspace is not empty"
    );
    assert_eq!(new.get(b"memtable-only").unwrap(), None);
    new.put(b"fresh", b"new").unwrap();
    let put = old.put(b"stale", b"old handle");
    assert!(is_invalid_argument(&put), "{put:?}");
    let get = old.get(b"fresh");
    assert!(
        is_invalid_argument(&get),
        "old handle read the new keyspace: {get:?}"
    );
    assert_eq!(contents(&new), pairs(&[("fresh", "new")]));
    // And after a reopen, only the new keyspace's data.
    drop((old, clone, snapshot, new));
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let new = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    assert_eq!(contents(&new), pairs(&[("fresh", "new")]));
}

#[test]
fn a_batch_touching_a_dropped_keyspace_fails_and_applies_nothing() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let alpha = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    let beta = db.keyspace("beta", keyspace_options("beta")).unwrap();
    alpha.put(b"a", b"before").unwrap();
    db.put(b"d", b"before").unwrap();
    // Built before the drop, written after it.
    let mut built_before = WriteBatch::new();
    built_before.put_in(&alpha, b"a", b"after").unwrap();
    built_before.put(b"d", b"after").unwrap();
    built_before.delete_in(&beta, b"b").unwrap();
    built_before.put_in(&alpha, b"new", b"after").unwrap();
    db.drop_keyspace("beta").unwrap();
    for sync in [false, true] {
        let written = db.write(built_before.clone(), &WriteOptions { sync });
        assert!(written.is_err(), "sync {sync}: the batch was written");
    }
    // Built after the drop, with the dropped keyspace last and first.
    let mut last = WriteBatch::new();
    last.put(b"d", b"after").unwrap();
    last.delete_range_in(&alpha, b"a", b"z").unwrap();
    last.put_in(&beta, b"b", b"into the dropped").unwrap();
    assert!(db.write(last, &WriteOptions::SYNC).is_err());
    let mut first = WriteBatch::new();
    first.delete_range_in(&beta, b"a", b"z").unwrap();
    first.delete_in(&alpha, b"a").unwrap();
    first.delete(b"d").unwrap();
    assert!(db.write(first, &WriteOptions::NO_SYNC).is_err());
    // Re-created under the name, a batch through the old handle still fails.
    let beta_again = db.keyspace("beta", keyspace_options("beta")).unwrap();
    let mut stale = WriteBatch::new();
    stale.put_in(&alpha, b"a", b"after").unwrap();
    stale.put_in(&beta, b"b", b"old handle").unwrap();
    assert!(db.write(stale, &WriteOptions::SYNC).is_err());
    let check = |db: &Db, context: &str| {
        let alpha = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
        let beta = db.keyspace("beta", keyspace_options("beta")).unwrap();
        assert_eq!(
            contents(&alpha),
            pairs(&[("a", "before")]),
            "{context}: alpha"
        );
        assert_eq!(
            contents(&db.default_keyspace()),
            pairs(&[("d", "before")]),
            "{context}: default"
        );
        assert_eq!(contents(&beta), Pairs::new(), "{context}: beta");
    };
    check(&db, "before reopening");
    // The new handle works in a batch.
    let mut fresh = WriteBatch::new();
    fresh.put_in(&beta_again, b"b", b"new handle").unwrap();
    db.write(fresh, &WriteOptions::SYNC).unwrap();
    beta_again.delete(b"b").unwrap();
    drop((alpha, beta, beta_again));
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check(&db, "after reopening");
}

#[test]
fn the_same_key_in_several_keyspaces_is_isolated() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let names = ["alpha", "beta", "gamma"];
    let spaces: Vec<Keyspace> = names
        .iter()
        .map(|name| db.keyspace(name, keyspace_options(name)).unwrap())
        .collect();
    let default = db.default_keyspace();
    let mut models: Models = BTreeMap::new();
    // Every keyspace gets the same keys with its own values; then each changes some of them.
    for index in 0..3_000u64 {
        let key = key(index % KEY_SPACE);
        db.put(&key, format!("default-{index}").as_bytes()).unwrap();
        models
            .entry("default".into())
            .or_default()
            .insert(key.clone(), format!("default-{index}").into_bytes());
        for (name, space) in names.iter().zip(&spaces) {
            let value = format!("{name}-{index}").into_bytes();
            space.put(&key, &value).unwrap();
            models
                .entry(name.to_string())
                .or_default()
                .insert(key.clone(), value);
        }
    }
    spaces[0].delete(&key(5)).unwrap();
    models.get_mut("alpha").unwrap().remove(&key(5));
    spaces[1]
        .delete_range(key(100).as_slice()..key(200).as_slice())
        .unwrap();
    model_delete_range(models.get_mut("beta").unwrap(), &key(100), &key(200));
    db.delete_range(key(150).as_slice()..key(160).as_slice())
        .unwrap();
    model_delete_range(models.get_mut("default").unwrap(), &key(150), &key(160));
    let mut batch = WriteBatch::new();
    batch
        .delete_range_in(&spaces[2], &key(0), &key(50))
        .unwrap();
    batch.put_in(&spaces[0], &key(7), b"alpha-batch").unwrap();
    batch.put(&key(7), b"default-batch").unwrap();
    db.write(batch, &WriteOptions::SYNC).unwrap();
    model_delete_range(models.get_mut("gamma").unwrap(), &key(0), &key(50));
    models
        .get_mut("alpha")
        .unwrap()
        .insert(key(7), b"alpha-batch".to_vec());
    models
        .get_mut("default")
        .unwrap()
        .insert(key(7), b"default-batch".to_vec());
    let check = |spaces: &[Keyspace], default: &Keyspace, context: &str| {
        check_fully(
            default,
            &models["default"],
            &ReadOptions::default(),
            context,
        );
        for space in spaces {
            check_fully(
                space,
                &models[space.name()],
                &ReadOptions::default(),
                context,
            );
        }
    };
    check(&spaces, &default, "in memtables and tables");
    // A flush or a compaction of one keyspace changes no other.
    spaces[1].flush().unwrap();
    check(&spaces, &default, "after beta's flush");
    spaces[0].compact_range(..).unwrap();
    check(&spaces, &default, "after alpha's compaction");
    for space in &spaces {
        space.flush().unwrap();
    }
    default.flush().unwrap();
    check(&spaces, &default, "all flushed");
    drop((spaces, default));
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let spaces: Vec<Keyspace> = names
        .iter()
        .map(|name| db.keyspace(name, keyspace_options(name)).unwrap())
        .collect();
    check(&spaces, &db.default_keyspace(), "after reopening");
    db.drop_keyspace("beta").unwrap();
    let spaces = [spaces[0].clone(), spaces[2].clone()];
    check(&spaces, &db.default_keyspace(), "after beta's drop");
}

#[test]
fn the_default_keyspace_is_what_db_reads_and_writes() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let default = db.default_keyspace();
    let by_name = db.keyspace("default", KeyspaceOptions::default()).unwrap();
    let alpha = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    db.put(b"through-db", b"1").unwrap();
    default.put(b"through-handle", b"2").unwrap();
    by_name.put(b"through-name", b"3").unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"plain-batch", b"4").unwrap();
    batch.put_in(&default, b"put-in-default", b"5").unwrap();
    batch.put_in(&alpha, b"in-alpha", b"6").unwrap();
    db.write(batch, &WriteOptions::SYNC).unwrap();
    let want = pairs(&[
        ("plain-batch", "4"),
        ("put-in-default", "5"),
        ("through-db", "1"),
        ("through-handle", "2"),
        ("through-name", "3"),
    ]);
    assert_eq!(collect(db.iter(), "db.iter"), want);
    assert_eq!(contents(&default), want);
    assert_eq!(contents(&by_name), want);
    assert_eq!(contents(&alpha), pairs(&[("in-alpha", "6")]));
    assert_eq!(db.get(b"in-alpha").unwrap(), None);
    assert_eq!(
        default.get(b"through-db").unwrap().as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(db.get(b"through-name").unwrap().as_deref(), Some(&b"3"[..]));
    default.delete(b"through-db").unwrap();
    assert_eq!(db.get(b"through-db").unwrap(), None);
    db.delete_range(b"p".as_slice()..b"q".as_slice()).unwrap();
    assert_eq!(default.get(b"plain-batch").unwrap(), None);
    assert_eq!(
        db.first_key_value().unwrap().map(|(key, _)| key),
        Some(b"through-handle".to_vec())
    );
    default.flush().unwrap();
    assert_eq!(
        db.get(b"through-handle").unwrap().as_deref(),
        Some(&b"2"[..])
    );
}

#[test]
fn keyspace_options_come_from_the_database_options() {
    let defaults = KeyspaceOptions::default();
    let options = Options::default();
    let from = KeyspaceOptions::from_options(&options);
    for (label, made) in [("default()", &defaults), ("from_options(default)", &from)] {
        assert_eq!(made.write_buffer_size, options.write_buffer_size, "{label}");
        assert_eq!(
            made.max_immutable_memtables, options.max_immutable_memtables,
            "{label}"
        );
        assert_eq!(made.table, options.table, "{label}");
        assert_eq!(
            made.level0_compaction_trigger, options.level0_compaction_trigger,
            "{label}"
        );
        assert_eq!(
            made.level0_size_percent_trigger, options.level0_size_percent_trigger,
            "{label}"
        );
        assert_eq!(
            made.level0_slowdown_trigger, options.level0_slowdown_trigger,
            "{label}"
        );
        assert_eq!(
            made.level0_stop_trigger, options.level0_stop_trigger,
            "{label}"
        );
        assert_eq!(
            made.level1_target_size, options.level1_target_size,
            "{label}"
        );
        assert_eq!(
            made.level_size_multiplier, options.level_size_multiplier,
            "{label}"
        );
        assert_eq!(made.target_file_size, options.target_file_size, "{label}");
    }
    let custom = Options {
        write_buffer_size: 96 << 10,
        max_immutable_memtables: 5,
        level0_compaction_trigger: 3,
        level0_size_percent_trigger: 40,
        level0_slowdown_trigger: 11,
        level0_stop_trigger: 17,
        level1_target_size: 3 << 20,
        level_size_multiplier: 7,
        target_file_size: 5 << 20,
        table: shaledb::TableOptions {
            block_size: 8192,
            ..shaledb::TableOptions::default()
        },
        ..Options::default()
    };
    let made = KeyspaceOptions::from_options(&custom);
    assert_eq!(made.write_buffer_size, 96 << 10);
    assert_eq!(made.max_immutable_memtables, 5);
    assert_eq!(made.level0_compaction_trigger, 3);
    assert_eq!(made.level0_size_percent_trigger, 40);
    assert_eq!(made.level0_slowdown_trigger, 11);
    assert_eq!(made.level0_stop_trigger, 17);
    assert_eq!(made.level1_target_size, 3 << 20);
    assert_eq!(made.level_size_multiplier, 7);
    assert_eq!(made.target_file_size, 5 << 20);
    assert_eq!(made.table.block_size, 8192);
    // Options out of range are refused as they are for the database, and create nothing.
    let dir = temp_dir();
    let db = Db::open(dir.path(), options_for_open()).unwrap();
    let tiny = KeyspaceOptions {
        write_buffer_size: 10,
        ..KeyspaceOptions::default()
    };
    let refused = db.keyspace("tiny", tiny);
    assert!(
        is_invalid_argument(&refused),
        "{:?}",
        refused.map(|space| space.name().to_string())
    );
    let backwards = KeyspaceOptions {
        level0_slowdown_trigger: 20,
        level0_stop_trigger: 10,
        ..KeyspaceOptions::default()
    };
    let refused = db.keyspace("backwards", backwards);
    assert!(
        is_invalid_argument(&refused),
        "{:?}",
        refused.map(|space| space.name().to_string())
    );
    assert_eq!(db.keyspaces(), ["default"]);
}

fn options_for_open() -> Options {
    options()
}

#[test]
fn a_read_only_open_sees_every_keyspace_and_creates_none() {
    let dir = temp_dir();
    let mut models: Models = BTreeMap::new();
    {
        let db = Db::open(dir.path(), options()).unwrap();
        let alpha = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
        let beta = db.keyspace("beta", keyspace_options("beta")).unwrap();
        db.keyspace("dropped", keyspace_options("dropped"))
            .unwrap()
            .put(b"x", b"y")
            .unwrap();
        db.drop_keyspace("dropped").unwrap();
        let mut rng = Rng::new(7);
        for index in 0..4_000u64 {
            let key = key(index % KEY_SPACE);
            let value = random_value(&mut rng);
            let (name, space) = match index % 3 {
                0 => ("default", db.default_keyspace()),
                1 => ("alpha", alpha.clone()),
                _ => ("beta", beta.clone()),
            };
            space.put(&key, &value).unwrap();
            models.entry(name.into()).or_default().insert(key, value);
            if index == 2_000 {
                alpha.flush().unwrap(); // alpha partly in tables, the rest only in the log
            }
        }
        // Closed by a crash: what only the write-ahead log holds must be replayed too. (Idle
        // first, so that no compaction changes the files while they are copied.)
        db.wait_for_compaction().unwrap();
        let copy = temp_dir();
        common::copy_database_files(dir.path(), copy.path());
        db.close().unwrap();
        check_read_only(copy.path(), &models, "a copy taken while open");
    }
    check_read_only(dir.path(), &models, "after a clean close");
}

fn check_read_only(dir: &Path, models: &Models, context: &str) {
    let before = common::directory_contents(dir);
    let db = Db::open_read_only(dir, options())
        .unwrap_or_else(|error| panic!("{context}: open_read_only: {error}"));
    assert_eq!(db.keyspaces(), ["default", "alpha", "beta"], "{context}");
    for name in ["default", "alpha", "beta"] {
        let space = db
            .keyspace(name, keyspace_options(name))
            .unwrap_or_else(|error| {
                panic!("{context}: opening keyspace {name} read-only: {error}")
            });
        check_fully(&space, &models[name], &ReadOptions::default(), context);
        let put = space.put(b"k", b"v");
        assert!(
            matches!(put, Err(Error::ReadOnly(_))),
            "{context}: put in {name}: {put:?}"
        );
        let mut batch = WriteBatch::new();
        batch.put_in(&space, b"k", b"v").unwrap();
        assert!(
            db.write(batch, &WriteOptions::SYNC).is_err(),
            "{context}: batch into {name}"
        );
    }
    let created = db.keyspace("new", keyspace_options("new"));
    assert!(
        created.is_err(),
        "{context}: a read-only open created a keyspace"
    );
    let recreated = db.keyspace("dropped", keyspace_options("dropped"));
    assert!(
        recreated.is_err(),
        "{context}: a read-only open re-created a dropped keyspace"
    );
    assert!(
        db.drop_keyspace("alpha").is_err(),
        "{context}: a read-only open dropped a keyspace"
    );
    assert_eq!(db.keyspaces(), ["default", "alpha", "beta"], "{context}");
    db.close().unwrap();
    assert!(
        before == common::directory_contents(dir),
        "{context}: the read-only open changed the directory"
    );
}

/// Writers commit batches that set a counter to the batch's number in every keyspace, while
/// readers check at their own snapshots that every keyspace shows the same counter (and, without
/// a snapshot, that a keyspace read later never shows an older one), with flushes going on.
#[test]
fn readers_never_see_part_of_a_cross_keyspace_batch() {
    const WRITERS: usize = 2;
    const BATCHES: u64 = 3_000;
    let seed = test_seed("readers_never_see_part_of_a_cross_keyspace_batch");
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut spaces = vec![db.default_keyspace()];
    for name in ["alpha", "beta", "gamma"] {
        spaces.push(db.keyspace(name, keyspace_options(name)).unwrap());
    }
    let stop = AtomicBool::new(false);
    let counter = |writer: usize| format!("counter-{writer}").into_bytes();
    let parse = |value: Option<shaledb::Value>| -> u64 {
        value.map_or(0, |value| {
            std::str::from_utf8(&value[..20]).unwrap().parse().unwrap()
        })
    };
    let rounds = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (db, spaces) = (&db, &spaces);
                scope.spawn(move || {
                    let mut rng = Rng::new(seed ^ writer as u64);
                    for number in 1..=BATCHES {
                        let mut batch = WriteBatch::new();
                        // The counter first in some keyspaces, last in others.
                        for (position, space) in spaces.iter().enumerate() {
                            let mut value = format!("{number:020}").into_bytes();
                            let length = rng.between(50, 300);
                            value.extend(rng.bytes(length));
                            if position % 2 == 0 {
                                batch.put_in(space, &counter(writer), &value).unwrap();
                            }
                            let filler = format!("filler-{writer}-{}", rng.below(500));
                            batch.put_in(space, filler.as_bytes(), &value).unwrap();
                            if position % 2 == 1 {
                                batch.put_in(space, &counter(writer), &value).unwrap();
                            }
                        }
                        let sync = rng.chance(1, 50);
                        db.write(batch, &WriteOptions { sync }).unwrap();
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|reader| {
                let (db, spaces, stop) = (&db, &spaces, &stop);
                scope.spawn(move || {
                    let mut rng = Rng::new(seed.rotate_left(17) ^ reader);
                    let mut rounds = 0u64;
                    let mut last_seen = [0u64; WRITERS];
                    while !stop.load(Ordering::Acquire) {
                        let writer = rng.below(WRITERS as u64) as usize;
                        let snapshot = db.snapshot();
                        let at = ReadOptions {
                            snapshot: Some(&snapshot),
                            ..ReadOptions::default()
                        };
                        let seen: Vec<u64> = spaces
                            .iter()
                            .map(|space| {
                                if rng.chance(1, 2) {
                                    parse(space.get_with(&counter(writer), &at).unwrap())
                                } else {
                                    let found = space.multi_get_with(&[counter(writer)], &at);
                                    parse(found.unwrap().pop().unwrap())
                                }
                            })
                            .collect();
                        assert!(
                            seen.iter().all(|number| *number == seen[0]),
                            "seed {seed}: writer {writer}'s counter differs between keyspaces \
                             at one snapshot: {seen:?}"
                        );
                        assert!(
                            seen[0] >= last_seen[writer],
                            "seed {seed}: a later snapshot shows an older batch"
                        );
                        last_seen[writer] = seen[0];
                        // Without a snapshot: each keyspace read after the one before it.
                        let mut previous = 0;
                        for space in spaces {
                            let number = parse(space.get(&counter(writer)).unwrap());
                            assert!(
                                number >= previous,
                                "seed {seed}: keyspace {} read later shows batch {number} of \
                                 writer {writer}, an earlier read showed {previous}",
                                space.name()
                            );
                            previous = number;
                        }
                        rounds += 1;
                    }
                    rounds
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        stop.store(true, Ordering::Release);
        readers
            .into_iter()
            .map(|reader| reader.join().unwrap())
            .sum::<u64>()
    });
    for space in &spaces {
        for writer in 0..WRITERS {
            assert_eq!(parse(space.get(&counter(writer)).unwrap()), BATCHES);
        }
    }
    let stats = db.stats();
    eprintln!(
        "seed {seed}: {rounds} reader rounds, {} flushes",
        stats.flushes
    );
    assert!(
        rounds > 100,
        "seed {seed}: the readers ran {rounds} rounds only"
    );
    assert!(
        stats.flushes > 4,
        "seed {seed}: only {} flushes",
        stats.flushes
    );
}

/// A dropped keyspace's data leaves the disk: its tables are deleted once nothing needs them,
/// at the latest when the database is reopened.
#[test]
fn a_dropped_keyspace_leaves_no_tables_behind() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let keep = db.keyspace("keep", keyspace_options("alpha")).unwrap();
    let doomed = db.keyspace("doomed", keyspace_options("beta")).unwrap();
    let mut rng = Rng::new(11);
    for index in 0..200u64 {
        keep.put(&key(index), &rng.bytes(100)).unwrap();
    }
    keep.flush().unwrap();
    // About 4 MiB of incompressible values in the doomed keyspace, in many tables.
    for index in 0..4_000u64 {
        doomed
            .put(&key(index % KEY_SPACE), &rng.bytes(1_000))
            .unwrap();
    }
    doomed.flush().unwrap();
    db.wait_for_compaction().unwrap();
    let with_doomed = common::table_bytes(dir.path());
    assert!(with_doomed > 1 << 20, "{with_doomed} bytes of tables");
    db.drop_keyspace("doomed").unwrap();
    drop(doomed);
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.wait_for_compaction().unwrap();
    let after = common::table_bytes(dir.path());
    assert!(
        after < 200 << 10,
        "{after} bytes of tables after dropping a keyspace of {with_doomed} (the kept one holds \
         about 20 KiB)"
    );
    let keep = db.keyspace("keep", keyspace_options("alpha")).unwrap();
    assert_eq!(keep.iter().count(), 200);
}

/// A checkpoint is a copy of the whole database: every keyspace, with every write acknowledged
/// before it (those in tables and those only in the write-ahead log), and no dropped one.
#[test]
fn a_checkpoint_holds_every_keyspace() {
    let dir = temp_dir();
    let db = Db::open(dir.path().join("db"), options()).unwrap();
    let mut models: Models = BTreeMap::new();
    let mut spaces = vec![db.default_keyspace()];
    for name in ["alpha", "beta"] {
        spaces.push(db.keyspace(name, keyspace_options(name)).unwrap());
    }
    db.keyspace("dropped", keyspace_options("gamma"))
        .unwrap()
        .put(b"k", b"v")
        .unwrap();
    db.drop_keyspace("dropped").unwrap();
    let mut rng = Rng::new(3);
    for index in 0..3_000u64 {
        let space = &spaces[(index % 3) as usize];
        let (key, value) = (key(index % KEY_SPACE), random_value(&mut rng));
        space.put(&key, &value).unwrap();
        models
            .entry(space.name().to_string())
            .or_default()
            .insert(key, value);
        if index == 1_500 {
            spaces[1].flush().unwrap();
        }
    }
    let checkpoint = dir.path().join("checkpoint");
    db.checkpoint(&checkpoint).unwrap();
    // Written after the checkpoint: not in it.
    spaces[2].put(b"after", b"the checkpoint").unwrap();
    for (context, open) in [
        ("read-only", Db::open_read_only(&checkpoint, options())),
        ("read-write", Db::open(&checkpoint, options())),
    ] {
        let copy = open.unwrap_or_else(|error| panic!("{context}: open the checkpoint: {error}"));
        assert_eq!(
            copy.keyspaces(),
            ["default", "alpha", "beta"],
            "{context}: the checkpoint's keyspaces"
        );
        for name in ["default", "alpha", "beta"] {
            let space = copy.keyspace(name, keyspace_options(name)).unwrap();
            let context = format!("{context}: the checkpoint");
            check_fully(&space, &models[name], &ReadOptions::default(), &context);
        }
        copy.close().unwrap();
    }
}

/// An iterator made before its keyspace's drop and read after it yields the keyspace's data as
/// it was, or stops with an error: never a wrong pair, never a panic.
#[test]
fn an_iterator_made_before_a_drop_yields_right_pairs_or_an_error() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let alpha = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    let mut model = Model::new();
    let mut rng = Rng::new(5);
    for index in 0..3_000u64 {
        let (key, value) = (key(index % KEY_SPACE), random_value(&mut rng));
        alpha.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    alpha.flush().unwrap();
    for index in 0..200u64 {
        let (key, value) = (key(index * 7 % KEY_SPACE), random_value(&mut rng));
        alpha.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    let forward = alpha.iter();
    let backward = alpha.iter().rev();
    db.drop_keyspace("alpha").unwrap();
    // Files of the dropped keyspace may go now; new data is written over the memtable's place.
    let beta = db.keyspace("beta", keyspace_options("beta")).unwrap();
    for index in 0..2_000u64 {
        beta.put(&key(index % KEY_SPACE), &random_value(&mut rng))
            .unwrap();
    }
    db.compact_range(..).unwrap();
    db.wait_for_compaction().unwrap();
    let expected: Pairs = model.into_iter().collect();
    let mut reversed = expected.clone();
    reversed.reverse();
    for (label, iterator, want) in [
        (
            "forward",
            Box::new(forward) as Box<dyn Iterator<Item = _>>,
            &expected,
        ),
        ("backward", Box::new(backward), &reversed),
    ] {
        for (position, item) in iterator.enumerate() {
            match item {
                Ok((key, value)) => {
                    let (want_key, want_value) = &want[position];
                    assert!(
                        key == *want_key && &value[..] == want_value.as_slice(),
                        "{label}: pair {position} is not the dropped keyspace's"
                    );
                }
                Err(_) => break,
            }
        }
    }
}

/// Writers keep writing to a keyspace and, in the same batches, to another while the first is
/// dropped: every write either lands whole before the drop or fails with `InvalidArgument`
/// and leaves nothing, and a writer whose write failed never succeeds with it again.
#[test]
fn writes_racing_a_drop_land_whole_or_fail_whole() {
    const WRITERS: usize = 3;
    let seed = test_seed("writes_racing_a_drop_land_whole_or_fail_whole");
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let doomed = db.keyspace("doomed", keyspace_options("alpha")).unwrap();
    let kept = db.keyspace("kept", keyspace_options("beta")).unwrap();
    let written = std::sync::atomic::AtomicU64::new(0);
    let acknowledged: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (db, doomed, kept, written) = (&db, &doomed, &kept, &written);
                scope.spawn(move || {
                    let mut rng = Rng::new(seed ^ writer as u64);
                    let mut acknowledged = Vec::new();
                    let mut failed_at: Option<u64> = None;
                    // Until 100 writes after the first failure (bounded, in case none fails).
                    for number in 0..200_000u64 {
                        if failed_at.is_some_and(|failed| number > failed + 100) {
                            break;
                        }
                        let key = format!("w{writer}-{number:06}").into_bytes();
                        let length = rng.between(10, 200);
                        let value = rng.bytes(length);
                        let result = match number % 3 {
                            0 => doomed.put(&key, &value),
                            _ => {
                                let mut batch = WriteBatch::new();
                                batch.put_in(kept, &key, &value).unwrap();
                                batch.put_in(doomed, &key, &value).unwrap();
                                db.write(batch, &WriteOptions::NO_SYNC)
                            }
                        };
                        written.fetch_add(1, Ordering::Relaxed);
                        match result {
                            Ok(()) => {
                                assert!(
                                    failed_at.is_none(),
                                    "seed {seed}: writer {writer}'s write {number} succeeded \
                                     after write {failed_at:?} failed"
                                );
                                if number % 3 != 0 {
                                    acknowledged.push(number);
                                }
                            }
                            Err(Error::InvalidArgument(_)) => {
                                failed_at.get_or_insert(number);
                            }
                            Err(error) => panic!("seed {seed}: writer {writer}: {error}"),
                        }
                    }
                    assert!(
                        failed_at.is_some(),
                        "seed {seed}: writer {writer} never saw the drop"
                    );
                    acknowledged
                })
            })
            .collect();
        while written.load(Ordering::Relaxed) < 3_000 {
            std::thread::sleep(Duration::from_millis(1));
        }
        db.drop_keyspace("doomed").unwrap();
        writers
            .into_iter()
            .map(|writer| writer.join().unwrap())
            .collect()
    });
    let check = |kept: &Keyspace, context: &str| {
        let keys: Vec<Vec<u8>> = collect(kept.iter(), context)
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        let mut want: Vec<Vec<u8>> = acknowledged
            .iter()
            .enumerate()
            .flat_map(|(writer, numbers)| {
                numbers
                    .iter()
                    .map(move |number| format!("w{writer}-{number:06}").into_bytes())
            })
            .collect();
        want.sort();
        assert!(
            keys == want,
            "seed {seed}, {context}: kept holds {} keys, {} batches were acknowledged",
            keys.len(),
            want.len()
        );
    };
    check(&kept, "before reopening");
    drop((doomed, kept));
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.keyspaces(), ["default", "kept"]);
    check(
        &db.keyspace("kept", keyspace_options("beta")).unwrap(),
        "after reopening",
    );
    let doomed = db.keyspace("doomed", keyspace_options("alpha")).unwrap();
    assert_eq!(
        doomed.iter().count(),
        0,
        "seed {seed}: the dropped keyspace came back"
    );
}

/// One keyspace is dropped and created again under the same name, over and over, while other
/// threads write to it (alone and in batches with a stable keyspace), flush it, compact it and
/// read it through whatever handle they last picked up. Nothing may fail but with
/// `InvalidArgument` from a dropped handle; a handle never reads another incarnation's values;
/// the stable keyspace holds exactly the acknowledged batches, before and after a reopen; and
/// the last incarnation holds only its own values.
#[test]
fn drops_racing_writes_flushes_and_compactions_leave_the_database_healthy() {
    const ROUNDS: u64 = 30;
    let seed = test_seed("drops_racing_writes_flushes_and_compactions");
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let stable = db.keyspace("stable", keyspace_options("beta")).unwrap();
    let churn_options = || keyspace_options("alpha");
    let current = std::sync::Mutex::new((1u64, db.keyspace("churn", churn_options()).unwrap()));
    let stop = AtomicBool::new(false);
    let tolerated = |result: shaledb::Result<()>, what: &str| match result {
        Ok(()) | Err(Error::InvalidArgument(_)) => result.is_ok(),
        Err(error) => panic!("seed {seed}: {what}: {error}"),
    };
    let value_of = |incarnation: u64, rng: &mut Rng| {
        let mut value = format!("incarnation-{incarnation:04}-").into_bytes();
        let length = rng.between(100, 500);
        value.extend(rng.bytes(length));
        value
    };
    let incarnation_of = |value: &[u8]| -> u64 {
        std::str::from_utf8(&value[12..16])
            .unwrap()
            .parse()
            .unwrap()
    };
    let stable_model: Model = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..2u64)
            .map(|writer| {
                let (db, stable, current, stop) = (&db, &stable, &current, &stop);
                scope.spawn(move || {
                    let mut rng = Rng::new(seed ^ writer);
                    let mut model = Model::new();
                    let mut number = 0u64;
                    while !stop.load(Ordering::Acquire) {
                        let (incarnation, churn) = current.lock().unwrap().clone();
                        let key = format!("k{:04}", rng.below(400)).into_bytes();
                        let value = value_of(incarnation, &mut rng);
                        if rng.chance(1, 2) {
                            tolerated(churn.put(&key, &value), "a put into the churned keyspace");
                        } else {
                            let stable_key = format!("w{writer}-{number:06}").into_bytes();
                            let mut batch = WriteBatch::new();
                            batch.put_in(stable, &stable_key, &value).unwrap();
                            batch.put_in(&churn, &key, &value).unwrap();
                            if rng.chance(1, 3) {
                                batch.delete_range_in(&churn, b"k0000", b"k0010").unwrap();
                            }
                            let written = db.write(batch, &WriteOptions::NO_SYNC);
                            if tolerated(written, "a batch across both keyspaces") {
                                model.insert(stable_key, value);
                            }
                        }
                        number += 1;
                    }
                    model
                })
            })
            .collect();
        let maintenance = {
            let (current, stop) = (&current, &stop);
            scope.spawn(move || {
                let mut rng = Rng::new(seed.rotate_left(9));
                while !stop.load(Ordering::Acquire) {
                    let (incarnation, churn) = current.lock().unwrap().clone();
                    match rng.below(4) {
                        0 => {
                            tolerated(churn.flush(), "a flush of the churned keyspace");
                        }
                        1 => {
                            let (lower, upper) = random_bounds(&mut rng, |rng| {
                                format!("k{:04}", rng.below(400)).into_bytes()
                            });
                            let compacted = churn.compact_range((lower, upper));
                            tolerated(compacted, "a compaction of the churned keyspace");
                        }
                        _ => {
                            let iterator: Box<dyn Iterator<Item = _>> = if rng.chance(1, 2) {
                                Box::new(churn.iter())
                            } else {
                                Box::new(churn.iter().rev())
                            };
                            for item in iterator {
                                let Ok((key, value)) = item else { break };
                                assert_eq!(
                                    incarnation_of(&value),
                                    incarnation,
                                    "seed {seed}: a handle of incarnation {incarnation} read \
                                     {:?} from another",
                                    String::from_utf8_lossy(&key)
                                );
                            }
                        }
                    }
                }
            })
        };
        for _ in 0..ROUNDS {
            std::thread::sleep(Duration::from_millis(25));
            let mut current = current.lock().unwrap();
            db.drop_keyspace("churn").unwrap();
            let churn = db.keyspace("churn", churn_options()).unwrap();
            assert_eq!(
                churn.iter().count(),
                0,
                "seed {seed}: re-created, not empty"
            );
            *current = (current.0 + 1, churn);
        }
        std::thread::sleep(Duration::from_millis(25));
        stop.store(true, Ordering::Release);
        maintenance.join().unwrap();
        writers
            .into_iter()
            .flat_map(|writer| writer.join().unwrap())
            .collect()
    });
    let last = current.lock().unwrap().0;
    let check = |db: &Db, context: &str| {
        let stats = db.stats();
        assert!(
            stats.error.is_none(),
            "seed {seed}, {context}: {:?}",
            stats.error
        );
        assert_eq!(
            db.keyspaces(),
            ["default", "stable", "churn"],
            "seed {seed}, {context}"
        );
        let stable = db.keyspace("stable", keyspace_options("beta")).unwrap();
        let got = collect(stable.iter(), context);
        let want: Pairs = stable_model.clone().into_iter().collect();
        assert!(
            got == want,
            "seed {seed}, {context}: the stable keyspace holds {} keys, {} batches were \
             acknowledged{}",
            got.len(),
            want.len(),
            first_difference(&got, &want)
        );
        let churn = db.keyspace("churn", churn_options()).unwrap();
        for (key, value) in collect(churn.iter(), context) {
            assert_eq!(
                incarnation_of(&value),
                last,
                "seed {seed}, {context}: the last incarnation holds {:?} from another",
                String::from_utf8_lossy(&key)
            );
        }
    };
    check(&db, "before reopening");
    drop((stable, current));
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check(&db, "after reopening");
}

/// Checkpoints and read-only opens taken beside a writer see whole cross-keyspace batches.
///
/// A writer commits numbered batches that set `counter` to the batch's number in every
/// keyspace (two hot ones with small buffers that flush all the time, and a cold one with an
/// 8 MiB buffer that keeps old logs needed), and add the key `log-{n}` to the cold one. Meanwhile
/// checkpoints are taken and the database is opened read-only, again and again: each must show
/// the same counter `c` in every keyspace, at least the last batch acknowledged before it
/// began, and exactly the keys `log-1..=log-c` in the cold keyspace.
#[test]
fn checkpoints_and_read_only_opens_beside_a_writer_see_whole_batches() {
    let seed = test_seed("checkpoints_and_read_only_opens_beside_a_writer");
    let dir = temp_dir();
    let db_dir = dir.path().join("db");
    let db = Db::open(&db_dir, options()).unwrap();
    let cold_options = KeyspaceOptions {
        write_buffer_size: 8 << 20,
        ..keyspace_options("alpha")
    };
    let names = ["default", "hot", "warm", "cold"];
    let space_options = |name: &str| match name {
        "cold" => cold_options.clone(),
        "warm" => keyspace_options("delta"),
        _ => keyspace_options("alpha"),
    };
    let spaces: Vec<Keyspace> = names
        .iter()
        .map(|name| db.keyspace(name, space_options(name)).unwrap())
        .collect();
    let committed = std::sync::atomic::AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let counter_of =
        |value: &[u8]| -> u64 { std::str::from_utf8(&value[..20]).unwrap().parse().unwrap() };
    let check = |copy: &Db, floor: u64, context: &str| -> u64 {
        assert_eq!(copy.keyspaces(), names, "{context}: keyspaces()");
        let mut counters = Vec::new();
        for name in names {
            let space = copy.keyspace(name, space_options(name)).unwrap();
            let counter = space
                .get(b"counter")
                .unwrap()
                .map_or(0, |value| counter_of(&value));
            counters.push(counter);
        }
        assert!(
            counters.iter().all(|counter| *counter == counters[0]),
            "seed {seed}, {context}: the counters differ between keyspaces: {counters:?}"
        );
        let counter = counters[0];
        assert!(
            counter >= floor,
            "seed {seed}, {context}: batch {counter} is the newest, {floor} was acknowledged \
             before"
        );
        let cold = copy.keyspace("cold", cold_options.clone()).unwrap();
        let logs = collect(cold.prefix(b"log-"), context);
        assert_eq!(
            logs.len() as u64,
            counter,
            "seed {seed}, {context}: the cold keyspace holds {} of the {counter} log keys",
            logs.len()
        );
        for ((key, _), number) in logs.iter().zip(1..) {
            assert_eq!(
                *key,
                format!("log-{number:08}").into_bytes(),
                "seed {seed}, {context}: a log key is missing"
            );
        }
        counter
    };
    let (checkpoints, read_only_opens) = std::thread::scope(|scope| {
        let writer = {
            let (db, spaces, committed, stop) = (&db, &spaces, &committed, &stop);
            scope.spawn(move || {
                let mut rng = Rng::new(seed);
                for number in 1u64.. {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    let mut batch = WriteBatch::new();
                    for space in spaces {
                        let mut value = format!("{number:020}").into_bytes();
                        let length = if space.name() == "cold" {
                            10
                        } else {
                            rng.between(200, 900)
                        };
                        value.extend(rng.bytes(length));
                        batch.put_in(space, b"counter", &value).unwrap();
                        if space.name() != "cold" {
                            let filler = format!("filler-{}", rng.below(300));
                            batch.put_in(space, filler.as_bytes(), &value).unwrap();
                        }
                    }
                    let log = format!("log-{number:08}");
                    batch.put_in(&spaces[3], log.as_bytes(), b"").unwrap();
                    db.write(
                        batch,
                        &WriteOptions {
                            sync: rng.chance(1, 30),
                        },
                    )
                    .unwrap();
                    committed.store(number, Ordering::Release);
                }
            })
        };
        let (mut checkpoints, mut read_only_opens) = (0, 0);
        let mut newest = 0;
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(2_500) || checkpoints < 3 {
            let floor = committed.load(Ordering::Acquire);
            let context = format!("open {read_only_opens} beside the writer");
            let reader = Db::open_read_only(&db_dir, options())
                .unwrap_or_else(|error| panic!("seed {seed}, {context}: {error}"));
            let seen = check(&reader, floor, &context);
            assert!(
                seen >= newest,
                "seed {seed}, {context}: went back from {newest} to {seen}"
            );
            newest = seen;
            reader.close().unwrap();
            read_only_opens += 1;
            let floor = committed.load(Ordering::Acquire);
            let checkpoint = dir.path().join(format!("checkpoint-{checkpoints}"));
            db.checkpoint(&checkpoint).unwrap();
            let context = format!("checkpoint {checkpoints}");
            for (how, copy) in [
                ("read-only", Db::open_read_only(&checkpoint, options())),
                ("read-write", Db::open(&checkpoint, options())),
            ] {
                let copy =
                    copy.unwrap_or_else(|error| panic!("seed {seed}, {context}, {how}: {error}"));
                check(&copy, floor, &format!("{context}, opened {how}"));
                copy.close().unwrap();
            }
            std::fs::remove_dir_all(&checkpoint).unwrap();
            checkpoints += 1;
        }
        stop.store(true, Ordering::Release);
        writer.join().unwrap();
        (checkpoints, read_only_opens)
    });
    let stats = db.stats();
    eprintln!(
        "seed {seed}: {checkpoints} checkpoints, {read_only_opens} read-only opens, {} batches, {} \
         flushes",
        committed.load(Ordering::Acquire),
        stats.flushes
    );
    assert!(
        stats.flushes > 10,
        "seed {seed}: only {} flushes",
        stats.flushes
    );
}

/// A batch holding an operation on another database's keyspace is refused whole, the way a
/// snapshot of another database is: the operation must not land in whichever keyspace of this
/// database happens to have the same id.
#[test]
fn a_batch_with_another_databases_keyspace_is_refused() {
    let dir = temp_dir();
    let first = Db::open(dir.path().join("first"), options()).unwrap();
    let second = Db::open(dir.path().join("second"), options()).unwrap();
    let mine = first.keyspace("mine", keyspace_options("alpha")).unwrap();
    let theirs = second
        .keyspace("theirs", keyspace_options("alpha"))
        .unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"default-key", b"v").unwrap();
    batch.put_in(&theirs, b"their-key", b"v").unwrap();
    let written = first.write(batch, &WriteOptions::SYNC);
    assert!(
        written.is_err(),
        "a batch with another database's keyspace was written"
    );
    assert_eq!(
        contents(&mine),
        Pairs::new(),
        "it landed in this database's keyspace"
    );
    assert_eq!(collect(first.iter(), "first"), Pairs::new());
    assert_eq!(contents(&theirs), Pairs::new());
}

/// The same for reads: a snapshot of another database is refused by a keyspace's reads.
#[test]
fn a_keyspace_refuses_a_snapshot_of_another_database() {
    let dir = temp_dir();
    let first = Db::open(dir.path().join("first"), options()).unwrap();
    let second = Db::open(dir.path().join("second"), options()).unwrap();
    let mine = first.keyspace("mine", keyspace_options("alpha")).unwrap();
    mine.put(b"k", b"v").unwrap();
    let snapshot = second.snapshot();
    let foreign = ReadOptions {
        snapshot: Some(&snapshot),
        ..ReadOptions::default()
    };
    let get = mine.get_with(b"k", &foreign);
    assert!(is_invalid_argument(&get), "{get:?}");
    let many = mine.multi_get_with(&[b"k"], &foreign);
    assert!(is_invalid_argument(&many), "{many:?}");
    assert!(matches!(mine.range_with(.., &foreign).next(), Some(Err(_))));
}

/// After `close`, a keyspace's handle fails like the database: `Error::Closed`.
#[test]
fn every_keyspace_call_after_close_fails_with_closed() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    let alpha = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    alpha.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let closed = |result: shaledb::Result<()>| matches!(result, Err(Error::Closed));
    assert!(closed(alpha.put(b"k", b"w")), "put");
    assert!(closed(alpha.delete(b"k")), "delete");
    assert!(closed(alpha.get(b"k").map(drop)), "get");
    assert!(closed(alpha.multi_get(&[b"k"]).map(drop)), "multi_get");
    assert!(closed(alpha.flush()), "flush");
    assert!(
        closed(db.keyspace("alpha", keyspace_options("alpha")).map(drop)),
        "keyspace"
    );
    assert!(closed(db.drop_keyspace("alpha")), "drop_keyspace");
    assert!(
        matches!(alpha.iter().next(), Some(Err(Error::Closed))),
        "iter"
    );
    let mut batch = WriteBatch::new();
    batch.put_in(&alpha, b"k", b"w").unwrap();
    assert!(closed(db.write(batch, &WriteOptions::SYNC)), "write");
    drop((alpha, db));
    let db = Db::open(dir.path(), options()).unwrap();
    let alpha = db.keyspace("alpha", keyspace_options("alpha")).unwrap();
    assert_eq!(contents(&alpha), pairs(&[("k", "v")]));
}

/// Many keyspaces created, written, flushed, dropped and created again while the manifest is
/// rewritten again and again (a 4 KiB `max_manifest_size`): the rewritten manifest must carry
/// every live keyspace and its files, forget no drop, and never hand out a dropped keyspace's
/// id again, so that the dropped keyspaces' writes still in the logs reach no keyspace, after
/// a crash (a copy of the open database's files) and after a clean reopen.
#[test]
fn many_keyspaces_survive_manifest_rewrites_drops_and_crashes() {
    let seed = test_seed("many_keyspaces_survive_manifest_rewrites");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let rewriting = || Options {
        max_manifest_size: 4 << 10,
        ..options()
    };
    let db = Db::open(dir.path(), rewriting()).unwrap();
    let mut models: Models = BTreeMap::new();
    let mut order: Vec<String> = vec!["default".into()];
    models.insert("default".into(), Model::new());
    for round in 0..120u64 {
        let name = format!("ks{:02}", rng.below(40));
        let handle = db.keyspace(&name, keyspace_options("alpha")).unwrap();
        if !models.contains_key(&name) {
            assert_eq!(
                handle.iter().count(),
                0,
                "seed {seed}, round {round}: {name} created again is not empty"
            );
            models.insert(name.clone(), Model::new());
            order.push(name.clone());
        }
        for _ in 0..rng.between(1, 40) {
            let (key, value) = (random_key(&mut rng), random_value(&mut rng));
            handle.put(&key, &value).unwrap();
            models.get_mut(&name).unwrap().insert(key, value);
        }
        if rng.chance(1, 4) {
            handle.flush().unwrap();
        }
        if rng.chance(1, 3) && order.len() > 1 {
            // Dropped with writes in its memtable, only in the logs.
            let doomed = order.remove(1 + rng.below(order.len() as u64 - 1) as usize);
            db.drop_keyspace(&doomed).unwrap();
            models.remove(&doomed);
        }
    }
    let check = |db: &Db, context: &str| {
        assert_eq!(db.keyspaces(), order, "seed {seed}, {context}: keyspaces()");
        for name in &order {
            let handle = db.keyspace(name, keyspace_options("alpha")).unwrap();
            check_fully(
                &handle,
                &models[name],
                &ReadOptions::default(),
                &format!("seed {seed}, {context}"),
            );
        }
    };
    check(&db, "before reopening");
    let copy = temp_dir();
    for attempt in 0.. {
        db.wait_for_compaction().unwrap();
        match try_copy(dir.path(), copy.path()) {
            Ok(()) => break,
            Err(error) if attempt < 5 => eprintln!("copy failed ({error}), again"),
            Err(error) => panic!("copy failed: {error}"),
        }
    }
    db.close().unwrap();
    for (context, path) in [
        ("after a crash", copy.path()),
        ("after a clean close", dir.path()),
    ] {
        let db = Db::open(path, rewriting())
            .unwrap_or_else(|error| panic!("seed {seed}, {context}: open failed: {error}"));
        check(&db, context);
        // A new keyspace starts empty, whatever the logs hold of dropped ones.
        let fresh = db.keyspace("fresh", keyspace_options("alpha")).unwrap();
        assert_eq!(
            fresh.iter().count(),
            0,
            "seed {seed}, {context}: a new keyspace holds data"
        );
        db.drop_keyspace("fresh").unwrap();
        db.close().unwrap();
    }
}
