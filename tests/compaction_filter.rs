//! Compaction filters (`KeyspaceOptions::compaction_filter`, `Options::compaction_filter`):
//! entries are removed or rewritten only by compactions, only where no snapshot reads them, and
//! a removed entry never brings an older version back. The random test holds every read to
//! "the model's value, or what the filter makes of it", and every snapshot read to exactly the
//! model's value at the snapshot.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Rng, temp_dir, test_seed, tiny_options};
use shaledb::{CompactionFilter, Db, FilterDecision, KeyspaceOptions, Options, ReadOptions};

/// Removes values ending in `0`, rewrites those ending in `1` (appending `!`), keeps the rest;
/// counts its calls.
#[derive(Default)]
struct ByLastDigit {
    calls: AtomicU64,
}

impl CompactionFilter for ByLastDigit {
    fn name(&self) -> &str {
        "by-last-digit"
    }

    fn filter(&self, _level: usize, _key: &[u8], value: &[u8]) -> FilterDecision {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match value.last() {
            Some(b'0') => FilterDecision::Remove,
            Some(b'1') => FilterDecision::ChangeValue([value, b"!"].concat()),
            _ => FilterDecision::Keep,
        }
    }
}

/// What the filter may make of `value`: `None` removed.
fn filtered(value: &[u8]) -> Option<Vec<u8>> {
    match value.last() {
        Some(b'0') => None,
        Some(b'1') => Some([value, b"!"].concat()),
        _ => Some(value.to_vec()),
    }
}

#[test]
fn the_filter_removes_and_rewrites_on_compaction_and_never_under_a_snapshot() {
    let dir = temp_dir();
    let filter = Arc::new(ByLastDigit::default());
    let options = Options {
        compaction_filter: Some(filter.clone()),
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).unwrap();
    db.put(b"older", b"kept 2").unwrap();
    db.flush().unwrap();
    db.put(b"older", b"removed 0").unwrap(); // hides "kept 2"
    db.put(b"changed", b"value 1").unwrap();
    db.put(b"kept", b"value 2").unwrap();
    let snapshot = db.snapshot();
    db.flush().unwrap();
    db.compact_range(..).unwrap();
    let at = ReadOptions {
        snapshot: Some(&snapshot),
        ..ReadOptions::default()
    };
    // Everything is older than the snapshot: nothing was filtered.
    assert_eq!(
        db.get_with(b"older", &at).unwrap().as_deref(),
        Some(&b"removed 0"[..])
    );
    assert_eq!(
        db.get(b"changed").unwrap().as_deref(),
        Some(&b"value 1"[..])
    );
    drop(snapshot);
    db.compact_range(..).unwrap();
    assert!(filter.calls.load(Ordering::Relaxed) >= 3);
    assert_eq!(
        db.get(b"older").unwrap(),
        None,
        "the removed entry's older version came back"
    );
    assert_eq!(
        db.get(b"changed").unwrap().as_deref(),
        Some(&b"value 1!"[..])
    );
    assert_eq!(db.get(b"kept").unwrap().as_deref(), Some(&b"value 2"[..]));
    assert_eq!(db.verify().unwrap().entries, 2);
}

/// Every key of `seen` and of `model` reads as the model has it, or as the filter makes it.
fn check_allowed(
    seen: &BTreeMap<Vec<u8>, Vec<u8>>,
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    seed: u64,
    step: u32,
) {
    for key in seen.keys().chain(model.keys()) {
        let found = seen.get(key).cloned();
        let allowed = match model.get(key) {
            None => vec![None],
            Some(value) => vec![Some(value.clone()), filtered(value)],
        };
        assert!(
            allowed.contains(&found),
            "seed {seed}, step {step}: {:?} reads {found:?}, the model allows {allowed:?}",
            String::from_utf8_lossy(key)
        );
    }
}

#[test]
fn filtered_reads_match_the_model_and_snapshots_never_change() {
    let seed = test_seed("filtered_reads_match_the_model_and_snapshots_never_change");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let filter = Arc::new(ByLastDigit::default());
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    let options = KeyspaceOptions {
        compaction_filter: Some(filter.clone()),
        ..KeyspaceOptions::from_options(&tiny_options())
    };
    let tree = db.keyspace("tree", options).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut snapshots = Vec::new();
    for step in 0..6000u32 {
        let key = format!("key-{:03}", rng.below(300)).into_bytes();
        match rng.below(100) {
            0..=69 => {
                let length = rng.between(10, 200);
                let mut value = rng.bytes(length);
                value.push(b'0' + rng.below(4) as u8);
                tree.put(&key, &value).unwrap();
                model.insert(key, value);
            }
            70..=84 => {
                tree.delete(&key).unwrap();
                model.remove(&key);
            }
            85..=89 if snapshots.len() < 4 => {
                // What the snapshot reads at once (compactions before it may have filtered
                // entries) is what it must read for as long as it lives.
                let snapshot = db.snapshot();
                let at = ReadOptions {
                    snapshot: Some(&snapshot),
                    ..ReadOptions::default()
                };
                let seen: BTreeMap<Vec<u8>, Vec<u8>> =
                    common::collect(tree.range_with(.., &at), "new snapshot")
                        .into_iter()
                        .collect();
                check_allowed(&seen, &model, seed, step);
                snapshots.push((snapshot, seen));
            }
            85..=89 => {
                snapshots.remove(rng.below(snapshots.len() as u64) as usize);
            }
            90..=93 => tree.compact_range(..).unwrap(),
            _ => {
                let (snapshot, expected) = match snapshots.len() {
                    0 => continue,
                    count => &snapshots[rng.below(count as u64) as usize],
                };
                let at = ReadOptions {
                    snapshot: Some(snapshot),
                    ..ReadOptions::default()
                };
                let seen = common::collect(tree.range_with(.., &at), "snapshot");
                let wanted: Vec<_> = expected.clone().into_iter().collect();
                if seen != wanted {
                    let differing = seen
                        .iter()
                        .zip(&wanted)
                        .find(|(seen, wanted)| seen != wanted)
                        .map(|(seen, _)| String::from_utf8_lossy(&seen.0).into_owned());
                    panic!(
                        "seed {seed}, step {step}: a snapshot changed: {} entries seen, {} \
                         expected, first difference at {differing:?}",
                        seen.len(),
                        wanted.len()
                    );
                }
            }
        }
    }
    snapshots.clear();
    tree.compact_range(..).unwrap();
    for key in (0..300).map(|index| format!("key-{index:03}").into_bytes()) {
        let found = tree.get(&key).unwrap().map(|value| value.to_vec());
        let allowed = match model.get(&key) {
            None => vec![None],
            Some(value) => vec![Some(value.clone()), filtered(value)],
        };
        assert!(
            allowed.contains(&found),
            "seed {seed}: {key:?} reads {found:?}, the model allows {allowed:?}"
        );
    }
    // With no snapshot left, a full compaction filtered every key once.
    for (key, value) in &model {
        let found = tree.get(key).unwrap().map(|value| value.to_vec());
        assert_eq!(
            found,
            filtered(value),
            "seed {seed}: {key:?} after the last compaction"
        );
    }
    assert!(filter.calls.load(Ordering::Relaxed) > 0);
}
