//! Fuzz check for the whole database: the input is a program of operations (puts, deletes,
//! batches, gets, range scans, flushes, compactions, snapshots, reopens) run against a `Db`
//! with tiny options and against a `BTreeMap` model. Any difference is a broken promise.

use std::collections::BTreeMap;
use std::ops::Bound;

use shaledb::{Db, Options, ReadOptions, Snapshot, WriteBatch, WriteOptions};

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

fn bound(selector: u8, key: Vec<u8>) -> Bound<Vec<u8>> {
    match selector % 3 {
        0 => Bound::Included(key),
        1 => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

fn expected_range(
    model: &Model,
    lower: &Bound<Vec<u8>>,
    upper: &Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let invalid = match (lower, upper) {
        (
            Bound::Included(low) | Bound::Excluded(low),
            Bound::Included(high) | Bound::Excluded(high),
        ) => {
            low > high
                || (low == high
                    && !(matches!(lower, Bound::Included(_))
                        && matches!(upper, Bound::Included(_))))
        }
        _ => false,
    };
    if invalid {
        return Vec::new();
    }
    model
        .range((lower.clone(), upper.clone()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
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
                let Some(key) = program.key() else { break };
                handle.delete(&key).expect("delete");
                model.remove(&key);
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
                let expected = expected_range(&model, &lower, &upper);
                assert_eq!(
                    scan(handle, lower, upper, direction % 2 == 1, None),
                    expected,
                    "range scan"
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
}

/// The fuzz targets of this module.
pub const TARGETS: &[super::Target] = &[("db_model", db_model)];
