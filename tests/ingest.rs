//! Ingesting tables built by `TableWriter`: where each table goes (the deepest level where
//! nothing above it overlaps it), memtables holding keys in a table's range (flushed first, so
//! the table's values win), snapshots taken before (which never see it), reopens, and the
//! files refused before the database changes: not a table, damaged, from a newer format
//! version, a database's own table, overlapping another file of the same call, missing.

mod common;

use std::path::{Path, PathBuf};

use common::{check_levels_on_disk, files_ending_with, temp_dir, tiny_options};
use shaledb::{Db, Error, IngestOptions, Options, ReadOptions, TableOptions, TableWriter};

/// A table at `path` setting each of `keys` to `value`.
fn write_table(path: &Path, keys: &[&str], value: &[u8]) -> PathBuf {
    let mut writer = TableWriter::create(path, &TableOptions::default()).unwrap();
    for key in keys {
        writer.put(key.as_bytes(), value).unwrap();
    }
    writer.finish().unwrap();
    path.to_path_buf()
}

fn get(db: &Db, key: &str) -> Option<Vec<u8>> {
    db.get(key.as_bytes()).unwrap().map(|value| value.to_vec())
}

#[test]
fn tables_go_to_the_deepest_level_where_nothing_above_overlaps_them() {
    let dir = temp_dir();
    let external = temp_dir();
    // Fixed level sizes: with dynamic ones, the tables placed above the last level (the base
    // level while the data is small) would drain into it between the ingests.
    let options = Options {
        dynamic_level_sizes: false,
        ..tiny_options()
    };
    let db = Db::open(dir.path(), options).unwrap();
    let first = write_table(&external.path().join("1.sst"), &["a", "b", "c"], b"1");
    assert_eq!(db.ingest(&[&first]).unwrap().levels, vec![3]);
    // Overlaps the table in level 3: goes above it, and wins.
    let second = write_table(&external.path().join("2.sst"), &["b", "d"], b"2");
    assert_eq!(db.ingest(&[&second]).unwrap().levels, vec![2]);
    // Overlaps both: above both.
    let third = write_table(&external.path().join("3.sst"), &["c"], b"3");
    assert_eq!(db.ingest(&[&third]).unwrap().levels, vec![1]);
    let fourth = write_table(&external.path().join("4.sst"), &["a", "c"], b"4");
    assert_eq!(db.ingest(&[&fourth]).unwrap().levels, vec![0]);
    // Disjoint from everything: the last level, two files in one call.
    let fifth = write_table(&external.path().join("5.sst"), &["x", "y"], b"5");
    let sixth = write_table(&external.path().join("6.sst"), &["m", "n"], b"6");
    let report = db.ingest(&[&fifth, &sixth]).unwrap();
    assert_eq!(report.levels, vec![3, 3]);
    assert_eq!(report.entries, 4);
    let expected = [
        ("a", "4"),
        ("b", "2"),
        ("c", "4"),
        ("d", "2"),
        ("m", "6"),
        ("n", "6"),
        ("x", "5"),
        ("y", "5"),
    ];
    for (key, value) in expected {
        assert_eq!(get(&db, key).as_deref(), Some(value.as_bytes()), "{key}");
    }
    let scanned: Vec<(Vec<u8>, Vec<u8>)> = db
        .iter()
        .map(|item| item.map(|(key, value)| (key, value.to_vec())))
        .collect::<shaledb::Result<_>>()
        .unwrap();
    let expected_pairs: Vec<(Vec<u8>, Vec<u8>)> = expected
        .iter()
        .map(|(key, value)| (key.as_bytes().to_vec(), value.as_bytes().to_vec()))
        .collect();
    assert_eq!(scanned, expected_pairs);
    db.verify().unwrap();
    db.close().unwrap();
    drop(db);
    assert_eq!(
        check_levels_on_disk(dir.path(), "after ingesting"),
        [1, 1, 1, 3]
    );
    let db = Db::open(dir.path(), tiny_options()).unwrap();
    for (key, value) in expected {
        assert_eq!(
            get(&db, key).as_deref(),
            Some(value.as_bytes()),
            "{key} reopened"
        );
    }
    // Compactions rewrite the tables read at global sequence numbers like any other.
    db.compact_range(..).unwrap();
    for (key, value) in expected {
        assert_eq!(
            get(&db, key).as_deref(),
            Some(value.as_bytes()),
            "{key} compacted"
        );
    }
    db.verify().unwrap();
}

#[test]
fn a_memtable_holding_keys_in_the_range_is_flushed_first_and_the_table_wins() {
    let dir = temp_dir();
    let external = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    // With a second keyspace, only an overlapping memtable is flushed.
    let other = db
        .keyspace("other", shaledb::KeyspaceOptions::default())
        .unwrap();
    other.put(b"k", b"other keyspace").unwrap();
    db.put(b"zzz", b"outside the table").unwrap();
    let table = write_table(&external.path().join("1.sst"), &["a", "m"], b"table");
    let report = db.ingest(&[&table]).unwrap();
    assert!(!report.flushed_memtable);
    assert_eq!(report.levels, vec![3]);
    db.put(b"m", b"memtable, before").unwrap();
    let before = db.snapshot();
    let table = write_table(&external.path().join("2.sst"), &["g", "m"], b"newer table");
    let report = db.ingest(&[&table]).unwrap();
    assert!(report.flushed_memtable);
    assert!(report.first_sequence > before.sequence());
    assert_eq!(get(&db, "m").as_deref(), Some(&b"newer table"[..]));
    assert_eq!(get(&db, "zzz").as_deref(), Some(&b"outside the table"[..]));
    let at_before = ReadOptions {
        snapshot: Some(&before),
        ..ReadOptions::default()
    };
    let old = db.get_with(b"m", &at_before).unwrap();
    assert_eq!(old.as_deref(), Some(&b"memtable, before"[..]));
    assert_eq!(db.get_with(b"g", &at_before).unwrap(), None);
    // A write after the ingestion wins over it.
    db.put(b"g", b"after").unwrap();
    assert_eq!(get(&db, "g").as_deref(), Some(&b"after"[..]));
    assert_eq!(
        other.get(b"k").unwrap().as_deref(),
        Some(&b"other keyspace"[..])
    );
}

#[test]
fn with_only_the_default_keyspace_any_memtable_is_flushed_and_reopens_replay_cleanly() {
    let dir = temp_dir();
    let external = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put(b"zzz", b"outside the table").unwrap();
    let table = write_table(&external.path().join("1.sst"), &["a"], b"table");
    assert!(db.ingest(&[&table]).unwrap().flushed_memtable);
    db.put(b"after", b"in the log").unwrap();
    drop(db); // no close: the log is replayed after the manifest's last sequence
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(get(&db, "a").as_deref(), Some(&b"table"[..]));
    assert_eq!(get(&db, "zzz").as_deref(), Some(&b"outside the table"[..]));
    assert_eq!(get(&db, "after").as_deref(), Some(&b"in the log"[..]));
}

#[test]
fn moving_files_removes_the_originals() {
    let dir = temp_dir();
    let external = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let table = write_table(&external.path().join("1.sst"), &["a"], b"moved");
    let linked = write_table(&external.path().join("2.sst"), &["b"], b"linked");
    let moving = IngestOptions { move_files: true };
    db.ingest_with(&[&table], &moving).unwrap();
    db.ingest(&[&linked]).unwrap();
    assert!(!table.exists());
    assert!(linked.exists());
    assert_eq!(get(&db, "a").as_deref(), Some(&b"moved"[..]));
    assert_eq!(get(&db, "b").as_deref(), Some(&b"linked"[..]));
}

/// Ingesting `paths` fails and leaves the database as it was: the same tables on disk, the
/// same contents.
fn assert_refused(db: &Db, dir: &Path, paths: &[PathBuf], expect: impl Fn(&Error) -> bool) {
    let tables_before = files_ending_with(dir, ".sst");
    let error = db.ingest(paths).unwrap_err();
    assert!(expect(&error), "unexpected error: {error}");
    assert_eq!(
        files_ending_with(dir, ".sst"),
        tables_before,
        "after: {error}"
    );
    assert_eq!(get(db, "kept").as_deref(), Some(&b"yes"[..]));
}

#[test]
fn bad_files_are_refused_before_anything_changes() {
    let dir = temp_dir();
    let external = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put(b"kept", b"yes").unwrap();
    db.flush().unwrap();
    let mentions = |path: &Path| {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        move |error: &Error| error.to_string().contains(&name)
    };

    let not_a_table = external.path().join("text.sst");
    std::fs::write(&not_a_table, vec![b'x'; 4096]).unwrap();
    let corruption_naming = |path: &Path| {
        let named = mentions(path);
        move |error: &Error| matches!(error, Error::Corruption { .. }) && named(error)
    };
    assert_refused(
        &db,
        dir.path(),
        std::slice::from_ref(&not_a_table),
        corruption_naming(&not_a_table),
    );

    // A flipped byte in a data block: its checksum fails when the file is read whole.
    let keys: Vec<String> = (0..2_000).map(|index| format!("key{index:05}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let damaged = write_table(&external.path().join("damaged.sst"), &key_refs, b"value");
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[100] ^= 0x40;
    std::fs::write(&damaged, &bytes).unwrap();
    assert_refused(
        &db,
        dir.path(),
        std::slice::from_ref(&damaged),
        corruption_naming(&damaged),
    );

    // A newer format version in the footer (with its checksum made right).
    let newer = write_table(&external.path().join("newer.sst"), &["n"], b"value");
    let mut bytes = std::fs::read(&newer).unwrap();
    let footer = bytes.len() - 64;
    bytes[footer + 48..footer + 52].copy_from_slice(&9u32.to_le_bytes());
    let checksum = crc32fast::hash(&bytes[footer..footer + 52]);
    bytes[footer + 52..footer + 56].copy_from_slice(&checksum.to_le_bytes());
    std::fs::write(&newer, &bytes).unwrap();
    assert_refused(&db, dir.path(), std::slice::from_ref(&newer), |error| {
        error.to_string().contains("version 9")
    });

    // A table of a database: its entries carry sequence numbers.
    let (own, _) = files_ending_with(dir.path(), ".sst").remove(0);
    let own_copy = external.path().join("own.sst");
    std::fs::copy(dir.path().join(own), &own_copy).unwrap();
    assert_refused(&db, dir.path(), std::slice::from_ref(&own_copy), |error| {
        matches!(error, Error::InvalidArgument(_)) && error.to_string().contains("TableWriter")
    });

    // Two files of one call that overlap.
    let left = write_table(&external.path().join("left.sst"), &["a", "m"], b"left");
    let right = write_table(&external.path().join("right.sst"), &["f", "z"], b"right");
    assert_refused(&db, dir.path(), &[left.clone(), right.clone()], |error| {
        matches!(error, Error::InvalidArgument(_)) && error.to_string().contains("overlap")
    });

    // A good file beside a missing one: neither is taken in.
    let good = write_table(&external.path().join("good.sst"), &["g"], b"good");
    let missing = external.path().join("missing.sst");
    assert_refused(&db, dir.path(), &[good.clone(), missing], |error| {
        matches!(error, Error::Io { .. })
    });
    assert_eq!(get(&db, "g"), None);
    db.ingest(&[&good]).unwrap();
    assert_eq!(get(&db, "g").as_deref(), Some(&b"good"[..]));
}

#[test]
fn table_writer_refuses_keys_out_of_order_and_empty_tables() {
    let external = temp_dir();
    let path = external.path().join("t.sst");
    let mut writer = TableWriter::create(&path, &TableOptions::default()).unwrap();
    writer.put(b"b", b"1").unwrap();
    for key in [&b"a"[..], b"b"] {
        let error = writer.put(key, b"2").unwrap_err();
        assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
        let error = writer.delete(key).unwrap_err();
        assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    }
    writer.put(b"c", b"3").unwrap();
    assert_eq!(writer.finish().unwrap().entry_count, 2);

    let empty = external.path().join("empty.sst");
    let writer = TableWriter::create(&empty, &TableOptions::default()).unwrap();
    assert!(matches!(writer.finish(), Err(Error::InvalidArgument(_))));
    assert!(!empty.exists());

    // Dropped unfinished: the partial file is removed.
    let dropped = external.path().join("dropped.sst");
    let mut writer = TableWriter::create(&dropped, &TableOptions::default()).unwrap();
    writer.put(b"a", b"1").unwrap();
    drop(writer);
    assert!(!dropped.exists());
}

#[test]
fn a_manifest_record_of_a_table_at_a_global_sequence_round_trips_and_is_checked() {
    use shaledb::key::{SequenceNumber, ValueKind, internal_key};
    use shaledb::manifest::{FileMetadata, VersionEdit};
    let file = FileMetadata {
        number: shaledb::key::FileNumber(7),
        file_size: 4096,
        smallest: internal_key(b"a", SequenceNumber(41), ValueKind::Value),
        largest: internal_key(b"z", SequenceNumber(41), ValueKind::Value),
        smallest_sequence: SequenceNumber(40),
        largest_sequence: SequenceNumber(41),
        global_sequence: Some(SequenceNumber(41)),
    };
    let mut edit = VersionEdit::new();
    edit.add_file(2, file.clone());
    let encoded = edit.encode();
    assert_eq!(encoded[0], 14, "tag 14, not 5");
    assert_eq!(VersionEdit::decode(&encoded).unwrap(), edit);
    // A global sequence number outside the file's sequence range is corruption.
    let mut wrong = edit.clone();
    wrong.new_files[0].1.global_sequence = Some(SequenceNumber(45));
    let error = VersionEdit::decode(&wrong.encode()).unwrap_err();
    assert!(error.reason.contains("global sequence"), "{}", error.reason);
    // Without a global sequence number the record is tag 5, as before.
    let mut plain = edit;
    plain.new_files[0].1.global_sequence = None;
    assert_eq!(plain.encode()[0], 5);
}
