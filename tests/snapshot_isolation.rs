//! A snapshot reads the database exactly as it was when taken — through later puts, deletes,
//! memtable rotations and flushes — with `get_with`, `multi_get_with` and `range_with`; an
//! iterator reads the state of its creation even if it is consumed after later writes.

mod common;

use shaledb::{Db, ReadOptions, Snapshot};

use common::{
    Model, Pairs, Rng, collect, model_range, random_bound, small_options, temp_dir, test_seed,
};

fn at(snapshot: &Snapshot) -> ReadOptions<'_> {
    ReadOptions {
        snapshot: Some(snapshot),
        ..ReadOptions::default()
    }
}

fn key(index: u64) -> Vec<u8> {
    format!("key-{index:04}").into_bytes()
}

/// Writes about one memtable's worth of random puts and deletes.
fn churn(db: &Db, model: &mut Model, rng: &mut Rng) {
    for _ in 0..400 {
        let key = key(rng.below(800));
        if rng.chance(1, 4) {
            db.delete(&key).unwrap();
            model.remove(&key);
        } else {
            let length = rng.between(10, 300);
            let value = rng.compressible_bytes(length);
            db.put(&key, &value).unwrap();
            model.insert(key, value);
        }
    }
}

fn check_snapshot(db: &Db, snapshot: &Snapshot, model: &Model, rng: &mut Rng, context: &str) {
    let options = at(snapshot);
    let expected: Pairs = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let found = collect(db.range_with(.., &options), context);
    assert!(
        found == expected,
        "{context}: full scan at the snapshot differs ({} vs {} pairs)",
        found.len(),
        expected.len()
    );
    let mut backward = collect(db.range_with(.., &options).rev(), context);
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: reverse scan at the snapshot differs"
    );
    for _ in 0..5 {
        let (first, second) = (key(rng.below(800)), key(rng.below(800)));
        let lower = random_bound(rng, first);
        let upper = random_bound(rng, second);
        let expected = model_range(model, &lower, &upper);
        let found = collect(
            db.range_with((lower.clone(), upper.clone()), &options),
            context,
        );
        assert!(
            found == expected,
            "{context}: range {lower:?}..{upper:?} at the snapshot differs"
        );
    }
    let keys: Vec<Vec<u8>> = (0..50).map(|_| key(rng.below(800))).collect();
    let values = db.multi_get_with(&keys, &options).unwrap();
    for (key, value) in keys.iter().zip(values) {
        assert_eq!(
            value.as_deref(),
            model.get(key).map(Vec::as_slice),
            "{context}: multi_get_with {key:?}"
        );
        let single = db.get_with(key, &options).unwrap();
        assert_eq!(
            single.as_deref(),
            model.get(key).map(Vec::as_slice),
            "{context}: get_with {key:?}"
        );
    }
}

#[test]
fn snapshots_see_the_state_when_taken() {
    let seed = test_seed("snapshots_see_the_state_when_taken");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    let mut model = Model::new();
    let mut snapshots: Vec<(Snapshot, Model, usize)> = Vec::new();
    for round in 0..12 {
        churn(&db, &mut model, &mut rng);
        if rng.chance(1, 3) {
            db.flush().unwrap();
        }
        snapshots.push((db.snapshot(), model.clone(), round));
        for (snapshot, expected, taken) in &snapshots {
            let context = format!("seed {seed}, snapshot of round {taken}, now round {round}");
            check_snapshot(&db, snapshot, expected, &mut rng, &context);
        }
        // Drop a random old snapshot now and then: the others must not care.
        if snapshots.len() > 4 {
            let index = rng.below(snapshots.len() as u64) as usize;
            snapshots.remove(index);
        }
    }
    db.flush().unwrap();
    for (snapshot, expected, taken) in &snapshots {
        check_snapshot(
            &db,
            snapshot,
            expected,
            &mut rng,
            &format!("seed {seed}, snapshot of round {taken}, after the last flush"),
        );
    }
    let stats = db.stats();
    assert!(
        stats.flushes >= 3,
        "seed {seed}: expected several flushes:\n{stats}"
    );
}

#[test]
fn iterators_ignore_writes_after_their_creation() {
    let seed = test_seed("iterators_ignore_writes_after_their_creation");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let db = Db::open(dir.path(), small_options()).unwrap();
    let mut model = Model::new();
    churn(&db, &mut model, &mut rng);
    db.flush().unwrap();
    churn(&db, &mut model, &mut rng);
    let before = model.clone();
    let expected: Pairs = before.iter().map(|(k, v)| (k.clone(), v.clone())).collect();

    let untouched = db.iter();
    let mut started = db.iter();
    let mut started_back = db.iter().rev();
    let half = expected.len() / 2;
    let mut front: Pairs = Vec::new();
    let mut back: Pairs = Vec::new();
    for _ in 0..half {
        let (key, value) = started.next().unwrap().unwrap();
        front.push((key, value.to_vec()));
        let (key, value) = started_back.next().unwrap().unwrap();
        back.push((key, value.to_vec()));
    }
    // Overwrite and delete everything, rotate memtables and flush.
    for round in 0..3 {
        for key in before.keys() {
            if rng.chance(1, 2) {
                db.delete(key).unwrap();
            } else {
                db.put(key, format!("overwritten in round {round}").as_bytes())
                    .unwrap();
            }
        }
        for index in 800..1_000 {
            db.put(&key(index), b"new key").unwrap();
        }
        db.flush().unwrap();
    }
    let context = format!("seed {seed}");
    assert!(
        collect(untouched, &context) == expected,
        "{context}: an iterator saw writes made after it was created"
    );
    front.extend(collect(started, &context));
    assert!(
        front == expected,
        "{context}: a half-consumed iterator saw later writes"
    );
    back.extend(collect(started_back, &context));
    back.reverse();
    assert!(
        back == expected,
        "{context}: a half-consumed reverse iterator saw later writes"
    );
}

#[test]
fn a_snapshot_of_another_database_is_refused() {
    let (first_dir, second_dir) = (temp_dir(), temp_dir());
    let first = Db::open(first_dir.path(), small_options()).unwrap();
    let second = Db::open(second_dir.path(), small_options()).unwrap();
    let snapshot = first.snapshot();
    let error = second.get_with(b"k", &at(&snapshot)).unwrap_err();
    assert!(
        matches!(error, shaledb::Error::InvalidArgument(_)),
        "{error}"
    );
    let item = second.range_with(.., &at(&snapshot)).next();
    assert!(
        matches!(item, Some(Err(shaledb::Error::InvalidArgument(_)))),
        "{item:?}"
    );
}
