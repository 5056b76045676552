//! Helpers shared by the integration tests: a seeded random generator (so every failure can be
//! replayed from the seed it prints) and generators of keys and values.

#![allow(dead_code)]

pub mod crash;
pub mod history;
#[cfg(feature = "raft")]
pub mod raft;

/// SplitMix64: tiny, fast, and good enough to drive tests. Not for cryptography.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`; the same seed gives the same sequence.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below((high - low + 1) as u64) as usize
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// `length` random bytes.
    pub fn bytes(&mut self, length: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(length + 8);
        while out.len() < length {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(length);
        out
    }

    /// `length` bytes that compress well (a few distinct letters in runs).
    pub fn compressible_bytes(&mut self, length: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(length);
        while out.len() < length {
            let letter = b'a' + self.below(4) as u8;
            let run = self.between(1, 32);
            out.extend(std::iter::repeat_n(letter, run));
        }
        out.truncate(length);
        out
    }
}

use std::collections::BTreeMap;
use std::ops::Bound;

use shaledb::{Db, DbIterator, Options};

/// The seed of a randomized test: `SHALEDB_TEST_SEED` if set (to replay a failure), else one
/// derived from the clock. Printed so that a failing run can be replayed.
pub fn test_seed(test: &str) -> u64 {
    let seed = match std::env::var("SHALEDB_TEST_SEED") {
        Ok(text) => text.parse().expect("SHALEDB_TEST_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64),
    };
    eprintln!("{test}: seed {seed} (replay with SHALEDB_TEST_SEED={seed})");
    seed
}

/// The count in environment variable `variable` (how long runs ask for more cycles or trials),
/// or `default` when it is not set. A value that is not a count fails the test.
pub fn count_from_env(variable: &str, default: u64) -> u64 {
    match std::env::var(variable) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{variable} must be a count, not {text:?}")),
        Err(_) => default,
    }
}

/// A fresh temporary directory, removed when the guard drops.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// Options that make a test go through many memtable rotations and flushes: the smallest write
/// buffer, unsynced writes (durability is tested separately), a small block cache.
pub fn small_options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        sync_writes: false,
        block_cache_capacity: 1 << 20,
        ..Options::default()
    }
}

/// What the database should hold.
pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// A list of (key, value) pairs, as iterators are compared.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Drains `iterator` into owned pairs, panicking (with `context`) on an error item.
pub fn collect(
    iterator: impl Iterator<Item = shaledb::Result<(Vec<u8>, shaledb::Value)>>,
    context: &str,
) -> Pairs {
    iterator
        .map(|item| {
            let (key, value) =
                item.unwrap_or_else(|error| panic!("{context}: iterator failed: {error}"));
            (key, value.to_vec())
        })
        .collect()
}

/// Whether `key` lies within (`lower`, `upper`).
pub fn within(key: &[u8], lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    let above = match lower {
        Bound::Included(lower) => key >= lower.as_slice(),
        Bound::Excluded(lower) => key > lower.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(upper) => key <= upper.as_slice(),
        Bound::Excluded(upper) => key < upper.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

/// The model's pairs within the bounds, ascending. (Filters instead of `BTreeMap::range`, which
/// panics on inverted bounds; the database must simply return nothing for those.)
pub fn model_range(model: &Model, lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> Pairs {
    model
        .iter()
        .filter(|(key, _)| within(key, lower, upper))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The model's pairs whose key starts with `prefix`, ascending.
pub fn model_prefix(model: &Model, prefix: &[u8]) -> Pairs {
    model
        .iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// A random bound around `key`: included, excluded or unbounded.
pub fn random_bound(rng: &mut Rng, key: Vec<u8>) -> Bound<Vec<u8>> {
    match rng.below(3) {
        0 => Bound::Included(key),
        1 => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

/// A snapshot and what the database held when it was taken (and where, for messages).
pub struct HeldSnapshot {
    pub snapshot: shaledb::Snapshot,
    pub model: Model,
    pub taken_at: String,
}

impl HeldSnapshot {
    /// Read options at this snapshot.
    pub fn options(&self) -> shaledb::ReadOptions<'_> {
        shaledb::ReadOptions {
            snapshot: Some(&self.snapshot),
            ..shaledb::ReadOptions::default()
        }
    }
}

/// Two keys drawn with `random_key`, in order, each behind a random bound.
pub fn random_bounds(
    rng: &mut Rng,
    mut random_key: impl FnMut(&mut Rng) -> Vec<u8>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let mut first = random_key(rng);
    let mut second = random_key(rng);
    if first > second {
        std::mem::swap(&mut first, &mut second);
    }
    (random_bound(rng, first), random_bound(rng, second))
}

/// Checks every key of the model and a full scan both ways against the database.
pub fn assert_matches_model(db: &Db, model: &Model, context: &str) {
    let expected: Pairs = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let forward = collect(db.iter(), context);
    assert_eq!(
        forward.len(),
        expected.len(),
        "{context}: forward scan length"
    );
    assert!(
        forward == expected,
        "{context}: forward scan differs from the model"
    );
    let mut backward = collect(db.iter().rev(), context);
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: reverse scan differs from the model"
    );
    for (key, value) in model {
        let found = db
            .get(key)
            .unwrap_or_else(|error| panic!("{context}: get failed: {error}"));
        assert_eq!(
            found.as_deref(),
            Some(value.as_slice()),
            "{context}: get {key:?}"
        );
    }
}

/// Drains `iterator` alternating randomly between `next` and `next_back`, and returns the pairs
/// in ascending order, checking on the way that the two ends never cross or repeat a key.
pub fn collect_from_both_ends(rng: &mut Rng, mut iterator: DbIterator, context: &str) -> Pairs {
    let mut front = Vec::new();
    let mut back = Vec::new();
    let mut front_done = false;
    let mut back_done = false;
    while !(front_done && back_done) {
        let from_front = if front_done {
            false
        } else if back_done {
            true
        } else {
            rng.chance(1, 2)
        };
        let item = if from_front {
            iterator.next()
        } else {
            iterator.next_back()
        };
        match item {
            None if from_front => front_done = true,
            None => back_done = true,
            Some(item) => {
                let (key, value) = item.unwrap_or_else(|error| panic!("{context}: {error}"));
                if from_front {
                    front.push((key, value.to_vec()));
                } else {
                    back.push((key, value.to_vec()));
                }
            }
        }
    }
    back.reverse();
    front.extend(back);
    for pair in front.windows(2) {
        assert!(
            pair[0].0 < pair[1].0,
            "{context}: keys out of order or repeated: {:?} then {:?}",
            pair[0].0,
            pair[1].0
        );
    }
    front
}

/// Options that make a short test run many flushes and compactions through every level: the
/// smallest write buffer, a 256 KiB level 1 (so level 2 targets 2.5 MiB and deeper data goes to
/// level 3) and 64 KiB compaction outputs. Unsynced writes; durability is tested separately.
pub fn tiny_options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        level1_target_size: 256 << 10,
        target_file_size: 64 << 10,
        sync_writes: false,
        block_cache_capacity: 1 << 20,
        ..Options::default()
    }
}

/// The files of `dir` whose name ends with `suffix`, with their sizes in bytes, sorted by name.
pub fn files_ending_with(dir: &std::path::Path, suffix: &str) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
        .expect("list the database directory")
        .map(|entry| entry.expect("read a directory entry"))
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let size = entry.metadata().map_or(0, |metadata| metadata.len());
            name.ends_with(suffix).then_some((name, size))
        })
        .collect();
    files.sort();
    files
}

/// Total size in bytes of the SSTables in `dir`.
pub fn table_bytes(dir: &std::path::Path) -> u64 {
    files_ending_with(dir, ".sst")
        .iter()
        .map(|(_, size)| size)
        .sum()
}

/// Checks, from the manifest of the closed database in `dir`, that levels 1 to 3 are sorted and
/// their files' user-key ranges do not overlap, and that every listed table exists and no other
/// table is left in the directory. Returns the number of files per level. Reads the manifest
/// through the `internals` feature, which the tests calling it require.
#[cfg(feature = "internals")]
pub fn check_levels_on_disk(dir: &std::path::Path, context: &str) -> [usize; 4] {
    let state = shaledb::manifest::recover(dir)
        .unwrap_or_else(|error| panic!("{context}: recovering the manifest failed: {error}"));
    let mut counts = [0; 4];
    let mut listed = std::collections::BTreeSet::new();
    for (level, files) in state.levels().iter().enumerate() {
        counts[level] = files.len();
        for file in files {
            listed.insert(format!("{:06}.sst", file.number.0));
        }
        if level == 0 {
            continue;
        }
        for pair in files.windows(2) {
            // Internal keys: a table ending with a range tombstone up to a key and the next
            // starting with that key share the user key, not a version (FORMAT.md 5.10).
            assert!(
                shaledb::key::compare_internal_keys(&pair[0].largest, &pair[1].smallest).is_lt(),
                "{context}: level {level} files {} and {} overlap or are out of order",
                pair[0].number.0,
                pair[1].number.0
            );
        }
    }
    let on_disk: std::collections::BTreeSet<String> = files_ending_with(dir, ".sst")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        on_disk, listed,
        "{context}: the tables on disk differ from those the manifest lists"
    );
    counts
}

/// Copies every file of the database in `from` except `LOCK` into the directory `to`: taken
/// while the database is open and idle after synced writes, it is what a crash at that moment
/// leaves on disk.
pub fn copy_database_files(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("list the database directory") {
        let entry = entry.expect("read a directory entry");
        if entry.file_name() == "LOCK" {
            continue;
        }
        match std::fs::copy(entry.path(), to.join(entry.file_name())) {
            // Deleted since it was listed: a flush or compaction made it obsolete (the engine
            // deletes only files no manifest names), so a crash may as well not have left it.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            copied => {
                copied.expect("copy a database file");
            }
        }
    }
}

/// Every file of `dir` by name, with its size and bytes: the directory listing and each file's
/// content at once, to check that something changed no file.
pub fn directory_contents(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<String, (u64, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("list the database directory")
        .map(|entry| {
            let entry = entry.expect("read a directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            let size = entry.metadata().expect("file metadata").len();
            let bytes = std::fs::read(entry.path()).expect("read a database file");
            (name, (size, bytes))
        })
        .collect()
}

/// Compares a sample of reads of `keyspace` at `options` (the latest state, or a snapshot) with
/// `model`: a random range (keys from `random_key`) forward, backward and from both ends, seeks
/// both ways, `multi_get` and `get`.
pub fn check_sample_reads(
    keyspace: &shaledb::Keyspace,
    model: &Model,
    options: &shaledb::ReadOptions<'_>,
    rng: &mut Rng,
    mut random_key: impl FnMut(&mut Rng) -> Vec<u8>,
    context: &str,
) {
    let (lower, upper) = random_bounds(rng, &mut random_key);
    let expected = model_range(model, &lower, &upper);
    let bounds = (lower.clone(), upper.clone());
    let forward = collect(keyspace.range_with(bounds.clone(), options), context);
    assert!(
        forward == expected,
        "{context}: forward range {lower:?}..{upper:?}: got {} pairs, want {}",
        forward.len(),
        expected.len()
    );
    let mut backward = collect(keyspace.range_with(bounds.clone(), options).rev(), context);
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: reverse range {lower:?}..{upper:?}: got {} pairs, want {}",
        backward.len(),
        expected.len()
    );
    let both = collect_from_both_ends(rng, keyspace.range_with(bounds, options), context);
    assert!(
        both == expected,
        "{context}: both ends of {lower:?}..{upper:?}"
    );
    let target = random_key(rng);
    let mut iterator = keyspace.range_with(.., options);
    iterator.seek(&target);
    let after = collect(iterator.by_ref().take(5), context);
    let want_after: Pairs = model
        .range(target.clone()..)
        .take(5)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    assert!(after == want_after, "{context}: seek {target:?} forward");
    let mut iterator = keyspace.range_with(.., options);
    iterator.seek_back(&target);
    let before = collect(iterator.by_ref().rev().take(5), context);
    let want_before: Pairs = model
        .range(..=target.clone())
        .rev()
        .take(5)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    assert!(before == want_before, "{context}: seek_back {target:?}");
    let keys: Vec<Vec<u8>> = (0..16).map(|_| random_key(rng)).collect();
    let found = keyspace.multi_get_with(&keys, options).unwrap();
    for (key, found) in keys.iter().zip(found) {
        let want = model.get(key).map(Vec::as_slice);
        assert_eq!(found.as_deref(), want, "{context}: multi_get {key:?}");
        let single = keyspace.get_with(key, options).unwrap();
        assert_eq!(single.as_deref(), want, "{context}: get {key:?}");
    }
}
