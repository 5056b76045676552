//! Fuzz check for the whole database: the input is a program of operations (puts, deletes,
//! batches, gets, range scans, flushes, compactions, snapshots, reopens) run against a `Db`
//! with tiny options and against a `BTreeMap` model. Any difference is a broken promise.
//!
//! Range deletes take no bytes of their own either: a delete whose key byte is 192 or more
//! deletes the range from its key up to a key a few places on (an empty range at the end of
//! the alphabet), and a batch operation whose value length is 8 modulo 16 deletes the range
//! between its key and the key its fill byte names.
//!
//! A range scan's last byte picks its direction (bit 0) and its kind (bits 1 and 2): a plain
//! scan; the same scan with its two keys also as `ReadOptions` iterator bounds; a scan after a
//! seek of the end it reads from (to a key picked by the byte's upper bits); or a scan that
//! reads two entries, seeks that end back to the range's own key, and reads on. The kinds take
//! no bytes of their own, so every program of the corpus parses as it did before they were
//! added (a byte above 1 once meant a plain scan too).

use std::collections::BTreeMap;
use std::ops::Bound;

use shaledb::{Db, DbIterator, Options, ReadOptions, Snapshot, WriteBatch, WriteOptions};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        level1_target_size: 64 << 10,
        target_file_size: 16 << 10,
        sync_writes: false,
        background_threads: 1,
        ..Options::default()
    }
}

/// Reads the program: one byte picks the operation, the next bytes its arguments.
struct Program<'a> {
    bytes: &'a [u8],
}

impl Program<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    /// A key from a small alphabet, so that operations hit the same keys often.
    fn key(&mut self) -> Option<Vec<u8>> {
        let selector = self.byte()?;
        Some(format!("k{:02}", selector % 48).into_bytes())
    }

    fn value(&mut self) -> Option<Vec<u8>> {
        let length = usize::from(self.byte()?) * 8;
        let fill = self.byte()?;
        Some(vec![fill; length])
    }
}

/// The program's key number `index` (the alphabet is `k00`..`k47`; past it, a key after them).
fn key_at(index: usize) -> Vec<u8> {
    format!("k{:02}", index.min(48)).into_bytes()
}

/// The two keys in order.
fn ordered(first: Vec<u8>, second: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    if first <= second {
        (first, second)
    } else {
        (second, first)
    }
}

/// Removes `[start, end)` from the model.
fn delete_model_range(model: &mut Model, start: &[u8], end: &[u8]) {
    model.retain(|key, _| key.as_slice() < start || key.as_slice() >= end);
}

fn bound(selector: u8, key: Vec<u8>) -> Bound<Vec<u8>> {
    match selector % 3 {
        0 => Bound::Included(key),
        1 => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

/// Whether `key` is within `lower` and `upper`.
fn within(key: &[u8], lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    let above = match lower {
        Bound::Included(low) => key >= low.as_slice(),
        Bound::Excluded(low) => key > low.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(high) => key <= high.as_slice(),
        Bound::Excluded(high) => key < high.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

/// A lower and an upper bound, borrowed.
type BoundPair<'a> = (&'a Bound<Vec<u8>>, &'a Bound<Vec<u8>>);

/// The model's pairs within every pair of bounds in `ranges`, ascending.
fn expected_range(model: &Model, ranges: &[BoundPair<'_>]) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(key, _)| {
            ranges
                .iter()
                .all(|(lower, upper)| within(key, lower, upper))
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// What a range scan does besides reading its range (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanKind {
    Plain,
    /// The range's keys are also the options' iterator bounds (lower included, upper
    /// excluded).
    WithOptionBounds,
    /// The end read from is first sought to a key.
    Seek,
    /// Two entries are read, then the end is sought back to the range's own key.
    Reseek,
}

impl ScanKind {
    fn of(selector: u8) -> ScanKind {
        match (selector / 2) % 4 {
            0 => ScanKind::Plain,
            1 => ScanKind::WithOptionBounds,
            2 => ScanKind::Seek,
            _ => ScanKind::Reseek,
        }
    }
}

/// Up to `limit` items of `iterator`, from the back when `reverse`, as owned pairs.
fn drain(iterator: &mut DbIterator, reverse: bool, limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = Vec::new();
    while pairs.len() < limit {
        let item = if reverse {
            iterator.next_back()
        } else {
            iterator.next()
        };
        let Some(item) = item else { break };
        let (key, value) = item.expect("scan failed");
        pairs.push((key, value.to_vec()));
    }
    pairs
}

/// The key of a bound, if it has one.
fn bound_key(bound: &Bound<Vec<u8>>) -> Option<Vec<u8>> {
    match bound {
        Bound::Included(key) | Bound::Excluded(key) => Some(key.clone()),
        Bound::Unbounded => None,
    }
}

/// One range scan of `kind` over `lower..upper` (reading from the back when `reverse`; `target`
/// is the key a `Seek` goes to), checked against `model`.
fn check_scan(
    db: &Db,
    model: &Model,
    (lower, upper): (Bound<Vec<u8>>, Bound<Vec<u8>>),
    reverse: bool,
    kind: ScanKind,
    target: Vec<u8>,
) {
    let (option_lower, option_upper) = match kind {
        ScanKind::WithOptionBounds => (bound_key(&lower), bound_key(&upper)),
        _ => (None, None),
    };
    let options = ReadOptions {
        iterate_lower_bound: option_lower.as_deref(),
        iterate_upper_bound: option_upper.as_deref(),
        ..ReadOptions::default()
    };
    let option_range = (
        option_lower
            .clone()
            .map_or(Bound::Unbounded, Bound::Included),
        option_upper
            .clone()
            .map_or(Bound::Unbounded, Bound::Excluded),
    );
    let mut iterator = db.range_with((lower.clone(), upper.clone()), &options);
    let range = (&lower, &upper);
    let mut expected = expected_range(model, &[range, (&option_range.0, &option_range.1)]);
    let seek_to = match kind {
        ScanKind::Plain | ScanKind::WithOptionBounds => None,
        ScanKind::Seek => Some(target),
        ScanKind::Reseek => {
            let first = drain(&mut iterator, reverse, 2);
            let want: Vec<_> = if reverse {
                expected.iter().rev().take(2).cloned().collect()
            } else {
                expected.iter().take(2).cloned().collect()
            };
            assert_eq!(
                first, want,
                "{kind:?} scan before its seek, reverse {reverse}"
            );
            // The empty key when the range's end is unbounded.
            let own = if reverse { &upper } else { &lower };
            Some(bound_key(own).unwrap_or_default())
        }
    };
    if let Some(key) = seek_to {
        // The end restarts at the target: the keys from there on, read again if they were.
        let from = if reverse {
            iterator.seek_back(&key);
            (Bound::Unbounded, Bound::Included(key))
        } else {
            iterator.seek(&key);
            (Bound::Included(key), Bound::Unbounded)
        };
        expected = expected_range(model, &[range, (&from.0, &from.1)]);
    }
    let mut got = drain(&mut iterator, reverse, usize::MAX);
    if reverse {
        got.reverse();
    }
    assert_eq!(got, expected, "{kind:?} range scan, reverse {reverse}");
}

fn scan(
    db: &Db,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    reverse: bool,
    snapshot: Option<&Snapshot>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let options = ReadOptions {
        snapshot,
        ..ReadOptions::default()
    };
    let iterator = db.range_with((lower, upper), &options);
    let items: Vec<_> = if reverse {
        iterator
            .rev()
            .map(|item| item.expect("scan failed"))
            .collect()
    } else {
        iterator.map(|item| item.expect("scan failed")).collect()
    };
    let mut pairs: Vec<_> = items
        .into_iter()
        .map(|(key, value)| (key, value.to_vec()))
        .collect();
    if reverse {
        pairs.reverse();
    }
    pairs
}

/// Runs the program in `data`; panics on any difference from the model.
pub fn db_model(data: &[u8]) {
    // On tmpfs (when there is one) fsync costs nothing, so a program runs in milliseconds.
    let shared_memory = std::path::Path::new("/dev/shm");
    let dir = if shared_memory.is_dir() {
        tempfile::tempdir_in(shared_memory)
    } else {
        tempfile::tempdir()
    }
    .expect("temporary directory");
    let mut db = Some(Db::open(dir.path(), options()).expect("open"));
    let mut model = Model::new();
    let mut snapshots: Vec<(Snapshot, Model)> = Vec::new();
    let mut program = Program { bytes: data };
    let mut steps = 0;
    while let Some(operation) = program.byte() {
        steps += 1;
        if steps > 400 {
            break;
        }
        let Some(handle) = db.as_ref() else { break };
        match operation % 12 {
            0..=3 => {
                let (Some(key), Some(value)) = (program.key(), program.value()) else {
                    break;
                };
                handle.put(&key, &value).expect("put");
                model.insert(key, value);
            }
            4 => {
                let Some(&selector) = program.bytes.first() else {
                    break;
                };
                let Some(key) = program.key() else { break };
                if selector >= 192 {
                    let end = key_at(usize::from(selector % 48) + usize::from(selector % 7) + 1);
                    let (start, end) = ordered(key, end);
                    handle
                        .delete_range(start.as_slice()..end.as_slice())
                        .expect("delete_range");
                    delete_model_range(&mut model, &start, &end);
                } else {
                    handle.delete(&key).expect("delete");
                    model.remove(&key);
                }
            }
            5 => {
                let Some(count) = program.byte() else { break };
                let mut batch = WriteBatch::new();
                let mut staged = model.clone();
                for _ in 0..count % 8 {
                    let (Some(key), Some(value)) = (program.key(), program.value()) else {
                        break;
                    };
                    if value.len() % 16 == 0 {
                        batch.delete(&key).expect("batch delete");
                        staged.remove(&key);
                    } else if value.len() % 16 == 8 {
                        let fill = value.first().copied().unwrap_or_default();
                        let (start, end) = ordered(key, key_at(usize::from(fill % 48)));
                        batch
                            .delete_range(&start, &end)
                            .expect("batch delete_range");
                        delete_model_range(&mut staged, &start, &end);
                    } else {
                        batch.put(&key, &value).expect("batch put");
                        staged.insert(key, value);
                    }
                }
                handle
                    .write(batch, &WriteOptions { sync: false })
                    .expect("write");
                model = staged;
            }
            6 => {
                let Some(key) = program.key() else { break };
                let found = handle.get(&key).expect("get").map(|value| value.to_vec());
                assert_eq!(found.as_ref(), model.get(&key), "get {key:?}");
                let contains = handle.contains_key(&key).expect("contains_key");
                assert_eq!(contains, model.contains_key(&key), "contains_key {key:?}");
            }
            7 => {
                let (
                    Some(low_selector),
                    Some(low),
                    Some(high_selector),
                    Some(high),
                    Some(direction),
                ) = (
                    program.byte(),
                    program.key(),
                    program.byte(),
                    program.key(),
                    program.byte(),
                )
                else {
                    break;
                };
                let (lower, upper) = (bound(low_selector, low), bound(high_selector, high));
                // One of the program's keys (k00..k46), from the byte's upper bits.
                let target = format!("k{:02}", usize::from(direction / 8) * 3 / 2).into_bytes();
                let kind = ScanKind::of(direction);
                check_scan(
                    handle,
                    &model,
                    (lower, upper),
                    direction % 2 == 1,
                    kind,
                    target,
                );
            }
            8 => handle.flush().expect("flush"),
            9 => handle.compact_range(..).expect("compact_range"),
            10 => {
                if snapshots.len() < 4 {
                    snapshots.push((handle.snapshot(), model.clone()));
                } else {
                    snapshots.remove(0);
                }
            }
            _ => {
                // Reopen: snapshots do not survive it.
                snapshots.clear();
                db.take().expect("open database").close().expect("close");
                db = Some(Db::open(dir.path(), options()).expect("reopen"));
            }
        }
    }
    let Some(handle) = db.as_ref() else { return };
    for (snapshot, seen) in &snapshots {
        let expected: Vec<_> = seen
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        assert_eq!(
            scan(
                handle,
                Bound::Unbounded,
                Bound::Unbounded,
                false,
                Some(snapshot)
            ),
            expected,
            "snapshot view"
        );
    }
    let expected: Vec<_> = model
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    assert_eq!(
        scan(handle, Bound::Unbounded, Bound::Unbounded, true, None),
        expected,
        "final state"
    );
    let owned =
        |entry: Option<(Vec<u8>, shaledb::Value)>| entry.map(|(key, value)| (key, value.to_vec()));
    let first = owned(handle.first_key_value().expect("first_key_value"));
    assert_eq!(first.as_ref(), expected.first(), "first_key_value");
    let last = owned(handle.last_key_value().expect("last_key_value"));
    assert_eq!(last.as_ref(), expected.last(), "last_key_value");
}

/// The fuzz targets of this module.
pub const TARGETS: &[super::Target] = &[("db_model", db_model)];
