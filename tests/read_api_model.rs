//! The read API against a `BTreeMap` model, while random puts, deletes, flushes and
//! compactions (tiny options: many tables in every level) change what is on disk: iterators
//! whose range and `ReadOptions` bounds intersect, read forward, backward and from both ends,
//! at the latest state or at a snapshot; repeated seeks of both ends of one iterator, mixed
//! with steps from either end; `first_key_value`, `last_key_value` and `contains_key`, with and
//! without options.

mod common;

use std::ops::Bound;

use common::{
    Model, Pairs, Rng, collect, collect_from_both_ends, random_bound, temp_dir, test_seed,
    tiny_options, within,
};
use shaledb::{Db, DbIterator, ReadOptions, Snapshot};

/// Key prefixes, including the empty one and 0xff bytes.
const PREFIXES: &[&[u8]] = &[b"", b"a", b"ab", b"b", b"\xff"];

fn random_key(rng: &mut Rng) -> Vec<u8> {
    let prefix = PREFIXES[rng.below(PREFIXES.len() as u64) as usize];
    let mut key = prefix.to_vec();
    if !rng.chance(1, 100) {
        key.extend_from_slice(format!("{:03}", rng.below(300)).as_bytes());
    }
    key
}

fn random_value(rng: &mut Rng) -> Vec<u8> {
    let length = if rng.chance(1, 20) {
        rng.between(1_000, 3_000)
    } else {
        rng.between(0, 400)
    };
    rng.compressible_bytes(length)
}

/// A snapshot and what the database held when it was taken.
struct Saved {
    snapshot: Snapshot,
    model: Model,
}

/// What one read asks for: a range, the options' bounds, and a snapshot (an index into the
/// saved ones) or the latest state.
#[derive(Debug, Clone)]
struct Query {
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    iterate_lower_bound: Option<Vec<u8>>,
    iterate_upper_bound: Option<Vec<u8>>,
    snapshot: Option<usize>,
}

impl Query {
    fn random(rng: &mut Rng, saved: &[Saved]) -> Query {
        let mut first = random_key(rng);
        let mut second = random_key(rng);
        // Mostly ordered, sometimes inverted (which must give nothing, not a panic).
        if first > second && rng.chance(9, 10) {
            std::mem::swap(&mut first, &mut second);
        }
        let option_bound = |rng: &mut Rng| rng.chance(1, 2).then(|| random_key(rng));
        Query {
            lower: random_bound(rng, first),
            upper: random_bound(rng, second),
            iterate_lower_bound: option_bound(rng),
            iterate_upper_bound: option_bound(rng),
            snapshot: (!saved.is_empty() && rng.chance(1, 3))
                .then(|| rng.below(saved.len() as u64) as usize),
        }
    }

    fn options<'a>(&'a self, saved: &'a [Saved]) -> ReadOptions<'a> {
        ReadOptions {
            snapshot: self.snapshot.map(|index| &saved[index].snapshot),
            iterate_lower_bound: self.iterate_lower_bound.as_deref(),
            iterate_upper_bound: self.iterate_upper_bound.as_deref(),
            ..ReadOptions::default()
        }
    }

    fn iterator(&self, db: &Db, saved: &[Saved]) -> DbIterator {
        db.range_with(
            (self.lower.clone(), self.upper.clone()),
            &self.options(saved),
        )
    }

    /// The model's pairs the query must yield, ascending: within the range and the options'
    /// bounds (lower included, upper excluded), at the query's snapshot.
    fn expected(&self, latest: &Model, saved: &[Saved]) -> Pairs {
        let model = self.snapshot.map_or(latest, |index| &saved[index].model);
        model
            .iter()
            .filter(|(key, _)| {
                within(key, &self.lower, &self.upper)
                    && self
                        .iterate_lower_bound
                        .as_ref()
                        .is_none_or(|lower| *key >= lower)
                    && self
                        .iterate_upper_bound
                        .as_ref()
                        .is_none_or(|upper| *key < upper)
            })
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

/// A query's iterators both ways and from both ends, and first/last with its options.
fn check_query(db: &Db, model: &Model, saved: &[Saved], rng: &mut Rng, context: &str) {
    let query = Query::random(rng, saved);
    let context = format!("{context}, {query:?}");
    let expected = query.expected(model, saved);
    let forward = collect(query.iterator(db, saved), &context);
    assert!(
        forward == expected,
        "{context}: forward differs: got {} pairs, want {}",
        forward.len(),
        expected.len()
    );
    let mut backward = collect(query.iterator(db, saved).rev(), &context);
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: backward differs: got {} pairs, want {}",
        backward.len(),
        expected.len()
    );
    let both = collect_from_both_ends(rng, query.iterator(db, saved), &context);
    assert!(
        both == expected,
        "{context}: from both ends differs: got {} pairs, want {}",
        both.len(),
        expected.len()
    );
    // first and last take the options' bounds (the range is the full one).
    let unranged = Query {
        lower: Bound::Unbounded,
        upper: Bound::Unbounded,
        ..query.clone()
    };
    let all = unranged.expected(model, saved);
    let options = unranged.options(saved);
    let first = db.first_key_value_with(&options).unwrap();
    let first = first.map(|(key, value)| (key, value.to_vec()));
    assert_eq!(
        first.as_ref(),
        all.first(),
        "{context}: first_key_value_with"
    );
    let last = db.last_key_value_with(&options).unwrap();
    let last = last.map(|(key, value)| (key, value.to_vec()));
    assert_eq!(last.as_ref(), all.last(), "{context}: last_key_value_with");
}

/// One iterator of a random query, driven by a random mix of seeks of either end and steps
/// from either end, against the model of its two positions.
fn check_seeks(db: &Db, model: &Model, saved: &[Saved], rng: &mut Rng, context: &str) {
    let query = Query::random(rng, saved);
    let expected = query.expected(model, saved);
    let mut iterator = query.iterator(db, saved);
    // What the model says each end may still yield from: the front keys within
    // (front, back), the back the same keys from the other end.
    let mut front = Bound::Unbounded;
    let mut back = Bound::Unbounded;
    let mut actions = Vec::new();
    for _ in 0..rng.between(1, 40) {
        let context = format!("{context}, {query:?}, after {actions:?}");
        let remaining = || {
            expected
                .iter()
                .filter(|(key, _)| within(key, &front, &back))
                .cloned()
                .collect::<Pairs>()
        };
        match rng.below(6) {
            0 => {
                let target = random_key(rng);
                iterator.seek(&target);
                actions.push(format!("seek {target:?}"));
                front = Bound::Included(target);
            }
            1 => {
                let target = random_key(rng);
                iterator.seek_back(&target);
                actions.push(format!("seek_back {target:?}"));
                back = Bound::Included(target);
            }
            2 | 3 => {
                let want = remaining().first().cloned();
                let got = iterator.next().map(|item| {
                    let (key, value) = item.unwrap_or_else(|error| panic!("{context}: {error}"));
                    (key, value.to_vec())
                });
                assert_eq!(got, want, "{context}: next");
                actions.push("next".into());
                if let Some((key, _)) = got {
                    front = Bound::Excluded(key);
                }
            }
            _ => {
                let want = remaining().last().cloned();
                let got = iterator.next_back().map(|item| {
                    let (key, value) = item.unwrap_or_else(|error| panic!("{context}: {error}"));
                    (key, value.to_vec())
                });
                assert_eq!(got, want, "{context}: next_back");
                actions.push("next_back".into());
                if let Some((key, _)) = got {
                    back = Bound::Excluded(key);
                }
            }
        }
    }
    // Whatever is left, drained from both ends.
    let context = format!("{context}, {query:?}, draining after {actions:?}");
    let left: Pairs = expected
        .iter()
        .filter(|(key, _)| within(key, &front, &back))
        .cloned()
        .collect();
    let drained = collect_from_both_ends(rng, iterator, &context);
    assert!(
        drained == left,
        "{context}: draining differs: got {} pairs, want {}",
        drained.len(),
        left.len()
    );
}

/// `contains_key` and `contains_key_with` at a snapshot, against the model.
fn check_contains(db: &Db, model: &Model, saved: &[Saved], rng: &mut Rng, context: &str) {
    for _ in 0..8 {
        let key = random_key(rng);
        assert_eq!(
            db.contains_key(&key).unwrap(),
            model.contains_key(&key),
            "{context}: contains_key {key:?}"
        );
        if let Some(saved) = saved.get(rng.below(saved.len() as u64 + 1) as usize) {
            let options = ReadOptions {
                snapshot: Some(&saved.snapshot),
                // Point reads ignore the iterator bounds.
                iterate_upper_bound: Some(b""),
                ..ReadOptions::default()
            };
            assert_eq!(
                db.contains_key_with(&key, &options).unwrap(),
                saved.model.contains_key(&key),
                "{context}: contains_key_with {key:?} at a snapshot"
            );
        }
    }
    assert_eq!(
        db.first_key_value()
            .unwrap()
            .map(|(key, value)| (key, value.to_vec())),
        model.first_key_value().map(|(k, v)| (k.clone(), v.clone())),
        "{context}: first_key_value"
    );
    assert_eq!(
        db.last_key_value()
            .unwrap()
            .map(|(key, value)| (key, value.to_vec())),
        model.last_key_value().map(|(k, v)| (k.clone(), v.clone())),
        "{context}: last_key_value"
    );
}

/// Operations per run: enough for dozens of flushes and compactions into every level.
const STEPS: usize = 8_000;

#[test]
fn bounds_seeks_first_last_and_contains_match_the_model() {
    let seed = test_seed("bounds_seeks_first_last_and_contains_match_the_model");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    let mut model = Model::new();
    let mut saved: Vec<Saved> = Vec::new();
    for step in 0..STEPS {
        let context = format!("seed {seed}, step {step}");
        match rng.below(1_000) {
            0..=539 => {
                let (key, value) = (random_key(&mut rng), random_value(&mut rng));
                db.put(&key, &value).unwrap();
                model.insert(key, value);
            }
            540..=739 => {
                let key = random_key(&mut rng);
                db.delete(&key).unwrap();
                model.remove(&key);
            }
            740..=799 => check_query(&db, &model, &saved, &mut rng, &context),
            800..=859 => check_seeks(&db, &model, &saved, &mut rng, &context),
            860..=899 => check_contains(&db, &model, &saved, &mut rng, &context),
            900..=919 => db.flush().unwrap(),
            920..=924 => {
                let (mut first, mut second) = (random_key(&mut rng), random_key(&mut rng));
                if first > second {
                    std::mem::swap(&mut first, &mut second);
                }
                db.compact_range(first.as_slice()..=second.as_slice())
                    .unwrap();
            }
            925..=939 => {
                if saved.len() < 4 {
                    saved.push(Saved {
                        snapshot: db.snapshot(),
                        model: model.clone(),
                    });
                } else {
                    saved.remove(rng.below(saved.len() as u64) as usize);
                }
            }
            _ => {
                let batch_keys: Vec<Vec<u8>> = (0..rng.between(1, 30))
                    .map(|_| random_key(&mut rng))
                    .collect();
                let mut batch = shaledb::WriteBatch::new();
                for key in batch_keys {
                    if rng.chance(1, 3) {
                        batch.delete(&key).unwrap();
                        model.remove(&key);
                    } else {
                        let value = random_value(&mut rng);
                        batch.put(&key, &value).unwrap();
                        model.insert(key, value);
                    }
                }
                db.write(batch, &shaledb::WriteOptions::NO_SYNC).unwrap();
            }
        }
    }
    db.wait_for_compaction().unwrap();
    let context = format!("seed {seed}, at the end");
    for _ in 0..40 {
        check_query(&db, &model, &saved, &mut rng, &context);
        check_seeks(&db, &model, &saved, &mut rng, &context);
    }
    check_contains(&db, &model, &saved, &mut rng, &context);
    let stats = db.stats();
    assert!(stats.flushes > 20, "{context}: too few flushes:\n{stats}");
    assert!(
        stats.levels[1..].iter().any(|level| level.files > 0),
        "{context}: nothing reached the deeper levels:\n{stats}"
    );
}
