//! One thread drives random puts, deletes, batches, point reads, flushes and reopens against a
//! `BTreeMap` model; after every reopen, and at random moments, full scans both ways and range
//! and prefix iterators with random bounds must equal the model.

mod common;

use std::ops::Bound;

use common::{
    Model, Rng, assert_matches_model, collect, collect_from_both_ends, model_prefix, model_range,
    random_bound, small_options, temp_dir, test_seed,
};
use shaledb::{Db, WriteBatch, WriteOptions};

/// Key prefixes, including the empty one and 0xff bytes (whose prefix successor is special).
const PREFIXES: &[&[u8]] = &[b"", b"a", b"ab", b"abc", b"b", b"\xff", b"\xff\xff"];

fn random_key(rng: &mut Rng) -> Vec<u8> {
    let prefix = PREFIXES[rng.below(PREFIXES.len() as u64) as usize];
    if rng.chance(1, 200) {
        return prefix.to_vec();
    }
    let mut key = prefix.to_vec();
    key.extend_from_slice(format!("{:04}", rng.below(600)).as_bytes());
    key
}

fn random_value(rng: &mut Rng) -> Vec<u8> {
    let length = if rng.chance(1, 50) {
        rng.between(2_000, 6_000)
    } else {
        rng.between(0, 120)
    };
    rng.compressible_bytes(length)
}

fn check_range(db: &Db, model: &Model, rng: &mut Rng, context: &str) {
    let mut first = random_key(rng);
    let mut second = random_key(rng);
    // Mostly ordered bounds, sometimes inverted ones (which must give nothing, not a panic).
    if first > second && rng.chance(9, 10) {
        std::mem::swap(&mut first, &mut second);
    }
    let lower = random_bound(rng, first);
    let upper = random_bound(rng, second);
    let context = format!("{context}, range {lower:?}..{upper:?}");
    let expected = model_range(model, &lower, &upper);
    let bounds = (lower.clone(), upper.clone());
    let forward = collect(db.range(bounds.clone()), &context);
    assert!(
        forward == expected,
        "{context}: forward range differs: got {} pairs, want {}",
        forward.len(),
        expected.len()
    );
    let mut backward = collect(db.range(bounds.clone()).rev(), &context);
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: reverse range differs: got {} pairs, want {}",
        backward.len(),
        expected.len()
    );
    let both = collect_from_both_ends(rng, db.range(bounds), &context);
    assert!(
        both == expected,
        "{context}: next/next_back meeting in the middle differs: got {} pairs, want {}",
        both.len(),
        expected.len()
    );
}

fn check_prefix(db: &Db, model: &Model, rng: &mut Rng, context: &str) {
    let prefix = PREFIXES[rng.below(PREFIXES.len() as u64) as usize];
    let context = format!("{context}, prefix {prefix:?}");
    let expected = model_prefix(model, prefix);
    let forward = collect(db.prefix(prefix), &context);
    assert!(
        forward == expected,
        "{context}: forward prefix scan differs"
    );
    let mut backward = collect(db.prefix(prefix).rev(), &context);
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: reverse prefix scan differs"
    );
    let both = collect_from_both_ends(rng, db.prefix(prefix), &context);
    assert!(both == expected, "{context}: two-ended prefix scan differs");
}

fn random_batch(rng: &mut Rng, model: &mut Model) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for _ in 0..rng.between(1, 20) {
        let key = random_key(rng);
        if rng.chance(1, 4) {
            batch.delete(&key).unwrap();
            model.remove(&key);
        } else {
            let value = random_value(rng);
            batch.put(&key, &value).unwrap();
            model.insert(key, value);
        }
    }
    batch
}

/// Operations per run: enough for dozens of flushes and reopens.
const STEPS: usize = 12_000;

#[test]
fn random_operations_with_reopens_match_the_model() {
    let seed = test_seed("random_operations_with_reopens_match_the_model");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut db = Db::open(dir.path(), small_options()).unwrap();
    let mut model = Model::new();
    let mut reopens = 0;
    for step in 0..STEPS {
        let context = format!("seed {seed}, step {step}");
        match rng.below(10_000) {
            0..=4_499 => {
                let (key, value) = (random_key(&mut rng), random_value(&mut rng));
                db.put(&key, &value).unwrap();
                model.insert(key, value);
            }
            4_500..=5_999 => {
                let key = random_key(&mut rng);
                db.delete(&key).unwrap();
                model.remove(&key);
            }
            6_000..=6_999 => {
                let batch = random_batch(&mut rng, &mut model);
                let options = if rng.chance(1, 10) {
                    WriteOptions::SYNC
                } else {
                    WriteOptions::NO_SYNC
                };
                db.write(batch, &options).unwrap();
            }
            7_000..=9_499 => {
                let key = random_key(&mut rng);
                let found = db.get(&key).unwrap();
                assert_eq!(
                    found.as_deref(),
                    model.get(&key).map(Vec::as_slice),
                    "{context}: get {key:?}"
                );
            }
            9_500..=9_699 => {
                let keys: Vec<Vec<u8>> = (0..rng.between(0, 12))
                    .map(|_| random_key(&mut rng))
                    .collect();
                let found = db.multi_get(&keys).unwrap();
                for (key, found) in keys.iter().zip(found) {
                    assert_eq!(
                        found.as_deref(),
                        model.get(key).map(Vec::as_slice),
                        "{context}: multi_get {key:?}"
                    );
                }
            }
            9_700..=9_799 => check_range(&db, &model, &mut rng, &context),
            9_800..=9_899 => check_prefix(&db, &model, &mut rng, &context),
            9_900..=9_974 => db.flush().unwrap(),
            _ => {
                if rng.chance(1, 2) {
                    db.close().unwrap();
                }
                drop(db);
                db = Db::open(dir.path(), small_options()).unwrap();
                reopens += 1;
                assert_matches_model(&db, &model, &format!("{context}, after reopen {reopens}"));
            }
        }
    }
    let context = format!("seed {seed}, at the end");
    assert_matches_model(&db, &model, &context);
    for _ in 0..20 {
        check_range(&db, &model, &mut rng, &context);
        check_prefix(&db, &model, &mut rng, &context);
    }
    let stats = db.stats();
    assert!(
        stats.flushes > 0 || reopens > 0,
        "{context}: nothing was ever flushed:\n{stats}"
    );
    drop(db);
    let db = Db::open(dir.path(), small_options()).unwrap();
    assert_matches_model(&db, &model, &format!("seed {seed}, final reopen"));
}

/// A range of borrowed keys, as `Db::range` takes it.
type ByteRange<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

#[test]
fn inverted_and_empty_ranges_yield_nothing() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    for key in [&b"a"[..], b"b", b"c"] {
        db.put(key, key).unwrap();
    }
    let nothing: Vec<ByteRange> = vec![
        (Bound::Included(b"c"), Bound::Included(b"a")),
        (Bound::Excluded(b"b"), Bound::Excluded(b"b")),
        (Bound::Included(b"b"), Bound::Excluded(b"b")),
        (Bound::Excluded(b"b"), Bound::Included(b"b")),
        (Bound::Excluded(b"a"), Bound::Excluded(b"b")),
    ];
    for bounds in nothing {
        assert_eq!(collect(db.range(bounds), "forward").len(), 0, "{bounds:?}");
        assert_eq!(
            collect(db.range(bounds).rev(), "reverse").len(),
            0,
            "{bounds:?}"
        );
    }
    let single = (Bound::Included(&b"b"[..]), Bound::Included(&b"b"[..]));
    assert_eq!(collect(db.range(single).rev(), "single").len(), 1);
    assert_eq!(collect(db.range(single), "single").len(), 1);
}
