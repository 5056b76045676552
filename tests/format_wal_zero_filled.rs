//! Databases written before write-ahead logs were preallocated with `fallocate` (by commit
//! 6dd6cf1, whose logs were preallocated with written and synced zeros) open and read as they
//! were written: the files are the same format (FORMAT.md 8), and a log's recorded preallocated
//! size is still checked. The fixtures in `tests/fixtures/wal-zero-filled-6dd6cf1/` were made
//! by the program beside them:
//! - `closed`: a flushed table, then a synced batch (a put over a flushed key and a delete) and
//!   a synced put in the log, closed cleanly (the manifest records the log's synced size);
//! - `crashed`: fifty synced puts in the live log, never closed (no synced size recorded), and
//!   the unused spare log the flush thread had preallocated.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use shaledb::{Db, Options};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/wal-zero-filled-6dd6cf1"
);

/// A copy of fixture `name` in a fresh temporary directory (the fixture itself never changes).
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = common::temp_dir();
    let source = Path::new(FIXTURES).join(name);
    for entry in std::fs::read_dir(&source).expect("the fixture exists") {
        let path = entry.expect("a fixture file").path();
        let file_name = path.file_name().expect("a file name");
        std::fs::copy(&path, dir.path().join(file_name)).expect("copy a fixture file");
    }
    dir
}

fn options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        ..Options::default()
    }
}

fn contents(db: &Db) -> Model {
    db.iter()
        .map(|item| {
            let (key, value) = item.expect("read");
            (key.to_vec(), value.to_vec())
        })
        .collect()
}

fn closed_model() -> Model {
    let mut model: Model = (0..200u32)
        .map(|i| {
            let key = format!("key{i:05}").into_bytes();
            (key, format!("flushed-{i}").into_bytes())
        })
        .collect();
    model.insert(b"key00007".to_vec(), b"in-log".to_vec());
    model.remove(b"key00008".as_slice());
    model.insert(b"zz-last".to_vec(), b"closed".to_vec());
    model
}

fn crashed_model() -> Model {
    (0..50u32)
        .map(|i| {
            let key = format!("key{i:05}").into_bytes();
            (key, format!("crashed-{i}").into_bytes())
        })
        .collect()
}

/// Opens a copy of fixture `name` read-only and for writing, checks it against `model`, writes
/// to it, and checks it again after a reopen.
fn opens_and_reads(name: &str, mut model: Model) {
    let dir = copy_of(name);
    let read_only = Db::open_read_only(dir.path(), options())
        .unwrap_or_else(|error| panic!("{name}: read-only open failed: {error}"));
    assert_eq!(contents(&read_only), model, "{name}: read-only");
    drop(read_only);

    let db = Db::open(dir.path(), options())
        .unwrap_or_else(|error| panic!("{name}: open failed: {error}"));
    let report = db.recovery_report();
    assert_eq!(report.dropped_tail, None, "{name}: nothing is dropped");
    assert!(report.batches_replayed > 0, "{name}: {report:?}");
    assert_eq!(contents(&db), model, "{name}: after open");
    for i in 0..300u32 {
        let key = format!("new{i:05}").into_bytes();
        let value = vec![b'n'; 300];
        db.put(&key, &value).expect("put");
        model.insert(key, value);
    }
    db.close().expect("close");

    let db = Db::open(dir.path(), options()).expect("reopen");
    assert_eq!(contents(&db), model, "{name}: after writes and a reopen");
    db.verify().expect("verify");
    db.close().expect("close");
}

#[test]
fn a_cleanly_closed_database_with_a_zero_filled_log_opens_unchanged() {
    opens_and_reads("closed", closed_model());
}

#[test]
fn a_crashed_database_with_a_zero_filled_log_and_spare_opens_unchanged() {
    opens_and_reads("crashed", crashed_model());
}

#[test]
fn a_zero_filled_log_cut_below_its_recorded_preallocation_is_still_corruption() {
    let dir = copy_of("crashed");
    let log = dir.path().join("000002.wal");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open the log");
    file.set_len(40_000).expect("cut the log");
    drop(file);
    let error = Db::open(dir.path(), options()).expect_err("a truncated log must not open");
    assert!(error.is_corruption(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("000002.wal") && message.contains("65536"),
        "the error names the log and its preallocated size: {message}"
    );
}
