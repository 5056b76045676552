//! Opening after a drop without close, the directory lock, `create_if_missing` and
//! `error_if_exists`, and each `WalRecoveryMode` facing a torn tail and damage in the middle of
//! the newest write-ahead log. A batch is always recovered whole or not at all.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{Model, Rng, assert_matches_model, small_options, temp_dir, test_seed};
use shaledb::fs::{FileKind, parse_file_name};
use shaledb::log::{FRAGMENT_HEADER_SIZE, LogEvent, LogFileKind, LogReader};
use shaledb::sync_marker::decode_sync_marker;
use shaledb::{Db, Error, Options, WalRecoveryMode, WriteBatch, WriteOptions};

/// Enough batches of about 1.3 KiB to fill two 32 KiB log blocks.
const BATCHES: u64 = 40;
const KEYS_PER_BATCH: usize = 4;

const MODES: [WalRecoveryMode; 4] = [
    WalRecoveryMode::TolerateCorruptedTailRecords,
    WalRecoveryMode::AbsoluteConsistency,
    WalRecoveryMode::PointInTime,
    WalRecoveryMode::SkipAnyCorruptedRecords,
];

fn batch_key(batch: u64, index: usize) -> Vec<u8> {
    format!("batch{batch:03}-{index}").into_bytes()
}

fn batch_value(batch: u64) -> Vec<u8> {
    let mut value = format!("value of batch {batch} ").into_bytes();
    value.resize(300, b'.');
    value
}

/// Options whose memtable never fills in these tests, so that every batch stays in the log.
fn large_buffer_options(mode: WalRecoveryMode) -> Options {
    Options {
        write_buffer_size: 4 << 20,
        wal_recovery_mode: mode,
        ..Options::default()
    }
}

/// Writes `BATCHES` synced batches into a new database and leaves in `dir` the files as a
/// crash (of the process, or of the machine after the last sync) would: a copy taken while the
/// database is open, so the manifest does not record how far the last log was synced at close.
fn write_batches(dir: &Path) {
    let live = temp_dir();
    let db = Db::open(
        live.path(),
        large_buffer_options(WalRecoveryMode::default()),
    )
    .unwrap();
    for batch in 0..BATCHES {
        let mut write = WriteBatch::new();
        for index in 0..KEYS_PER_BATCH {
            write
                .put(&batch_key(batch, index), &batch_value(batch))
                .unwrap();
        }
        db.write(write, &WriteOptions::SYNC).unwrap();
    }
    common::copy_database_files(live.path(), dir);
    db.close().unwrap();
}

/// The newest write-ahead log that holds records (a preallocated spare log may be newer).
fn newest_wal(dir: &Path) -> PathBuf {
    let mut logs: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter_map(
            |entry| match entry.file_name().to_str().and_then(parse_file_name) {
                Some(FileKind::Wal(number)) => Some((number.0, entry.path())),
                _ => None,
            },
        )
        .filter(|(_, path)| {
            LogReader::open(path, LogFileKind::Wal)
                .unwrap()
                .any(|event| matches!(event, LogEvent::Record { .. }))
        })
        .collect();
    logs.sort();
    logs.pop().expect("the database has a write-ahead log").1
}

/// (offset, payload length) of every write-batch record of the log at `path` (the sync
/// markers between them are left out).
fn records(path: &Path) -> Vec<(u64, usize)> {
    LogReader::open(path, LogFileKind::Wal)
        .unwrap()
        .filter_map(|event| match event {
            LogEvent::Record { payload, .. } if decode_sync_marker(&payload).is_some() => None,
            LogEvent::Record { offset, payload } => Some((offset, payload.len())),
            other => panic!("undamaged log reports {other:?}"),
        })
        .collect()
}

/// The batches present in `db`, checking that each is whole and holds its own value.
fn present_batches(db: &Db, context: &str) -> BTreeSet<u64> {
    let mut keys_per_batch: BTreeMap<u64, usize> = BTreeMap::new();
    for item in db.iter() {
        let (key, value) = item.unwrap_or_else(|error| panic!("{context}: {error}"));
        let text = String::from_utf8_lossy(&key).into_owned();
        let batch: u64 = text
            .strip_prefix("batch")
            .and_then(|rest| rest.split('-').next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("{context}: unexpected key {text}"));
        assert_eq!(*value, batch_value(batch)[..], "{context}: value of {text}");
        *keys_per_batch.entry(batch).or_default() += 1;
    }
    for (batch, count) in &keys_per_batch {
        assert_eq!(
            *count, KEYS_PER_BATCH,
            "{context}: batch {batch} is partly present"
        );
    }
    keys_per_batch.into_keys().collect()
}

/// Which damage a test applies to the newest log.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Zero the file from the middle of the last record on, as a crash during that write leaves
    /// a preallocated log.
    TornTail,
    /// Flip a byte in the middle of the payload of record `DAMAGED_RECORD`.
    Middle,
}

const DAMAGED_RECORD: u64 = 2;

/// Damages the newest log and returns the batches whose records the log reader now reports
/// lost (record `i` holds batch `i`). After a bad fragment the log format resumes at the next
/// 32 KiB block (FORMAT.md 4.5), so damage in the middle loses the rest of its block.
fn damage(dir: &Path, damage: Damage) -> BTreeSet<u64> {
    let path = newest_wal(dir);
    let records = records(&path);
    assert_eq!(records.len() as u64, BATCHES, "one record per batch");
    match damage {
        Damage::TornTail => {
            // The log was preallocated with synced zeros, so a crash in the middle of the last
            // write leaves zeros after the part that reached the disk, not a shorter file.
            let (offset, length) = records[records.len() - 1];
            let cut = offset as usize + FRAGMENT_HEADER_SIZE + length / 2;
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[cut..].fill(0);
            std::fs::write(&path, bytes).unwrap();
        }
        Damage::Middle => {
            let (offset, length) = records[DAMAGED_RECORD as usize];
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[offset as usize + FRAGMENT_HEADER_SIZE + length / 2] ^= 0x40;
            std::fs::write(&path, bytes).unwrap();
        }
    }
    let mut lost_ranges = Vec::new();
    for event in LogReader::open(&path, LogFileKind::Wal).unwrap() {
        match event {
            LogEvent::Record { .. } => {}
            LogEvent::Corruption { start, end, .. } => lost_ranges.push(start..end),
            LogEvent::TornTail { offset, .. } => lost_ranges.push(offset..u64::MAX),
        }
    }
    let lost: BTreeSet<u64> = (0..BATCHES)
        .filter(|&batch| {
            lost_ranges
                .iter()
                .any(|range| range.contains(&records[batch as usize].0))
        })
        .collect();
    let damaged_batch = match damage {
        Damage::TornTail => BATCHES - 1,
        Damage::Middle => DAMAGED_RECORD,
    };
    assert!(
        lost.contains(&damaged_batch),
        "{damage:?}: the reader did not report batch {damaged_batch} lost: {lost:?}"
    );
    assert!(
        lost.len() < BATCHES as usize - DAMAGED_RECORD as usize,
        "{damage:?}: the log should hold records after the damaged block: {lost:?}"
    );
    lost
}

/// What opening with `mode` after `damage` (which lost the batches `lost`) must give: `None`
/// for a corruption error, else the batches present.
fn expected(mode: WalRecoveryMode, damage: Damage, lost: &BTreeSet<u64>) -> Option<BTreeSet<u64>> {
    let kept = (0..BATCHES).filter(|batch| !lost.contains(batch));
    match (mode, damage) {
        (WalRecoveryMode::AbsoluteConsistency, _) => None,
        (WalRecoveryMode::TolerateCorruptedTailRecords, Damage::Middle) => None,
        (WalRecoveryMode::PointInTime, _) => {
            let first_lost = lost.first().copied().unwrap_or(BATCHES);
            Some((0..first_lost).collect())
        }
        (
            WalRecoveryMode::TolerateCorruptedTailRecords
            | WalRecoveryMode::SkipAnyCorruptedRecords,
            _,
        ) => Some(kept.collect()),
    }
}

fn check_mode_after_damage(mode: WalRecoveryMode, kind: Damage) {
    let context = format!("{mode:?} after {kind:?}");
    let dir = temp_dir();
    write_batches(dir.path());
    let lost = damage(dir.path(), kind);
    let opened = Db::open(dir.path(), large_buffer_options(mode));
    let Some(expected) = expected(mode, kind, &lost) else {
        let error = opened.expect_err(&format!("{context}: open must fail"));
        assert!(
            matches!(error, Error::Corruption { .. }),
            "{context}: wrong error {error}"
        );
        // The refused open changed nothing: a tolerant mode still recovers afterwards.
        let db = Db::open(
            dir.path(),
            large_buffer_options(WalRecoveryMode::SkipAnyCorruptedRecords),
        )
        .unwrap_or_else(|error| panic!("{context}: salvage after a refused open failed: {error}"));
        let salvaged = present_batches(&db, &context);
        let salvageable = expected(WalRecoveryMode::SkipAnyCorruptedRecords, kind, &lost);
        assert_eq!(
            Some(salvaged),
            salvageable,
            "{context}: the refused open changed the database"
        );
        return;
    };
    let db = opened.unwrap_or_else(|error| panic!("{context}: open failed: {error}"));
    assert_eq!(present_batches(&db, &context), expected, "{context}");
    // The recovered database is healthy: it takes writes and reopens with the strictest mode.
    let mut write = WriteBatch::new();
    for index in 0..KEYS_PER_BATCH {
        write
            .put(&batch_key(BATCHES, index), &batch_value(BATCHES))
            .unwrap();
    }
    db.write(write, &WriteOptions::SYNC).unwrap();
    db.close().unwrap();
    drop(db);
    let db = Db::open(
        dir.path(),
        large_buffer_options(WalRecoveryMode::AbsoluteConsistency),
    )
    .unwrap_or_else(|error| panic!("{context}: reopening the recovered database failed: {error}"));
    let mut with_new = expected;
    with_new.insert(BATCHES);
    assert_eq!(
        present_batches(&db, &context),
        with_new,
        "{context}, after reopen"
    );
}

#[test]
fn torn_tail_under_each_recovery_mode() {
    for mode in MODES {
        check_mode_after_damage(mode, Damage::TornTail);
    }
}

#[test]
fn middle_damage_under_each_recovery_mode() {
    for mode in MODES {
        check_mode_after_damage(mode, Damage::Middle);
    }
}

#[test]
fn an_undamaged_log_opens_under_every_mode() {
    for mode in MODES {
        let dir = temp_dir();
        write_batches(dir.path());
        let db = Db::open(dir.path(), large_buffer_options(mode))
            .unwrap_or_else(|error| panic!("{mode:?}: clean log refused: {error}"));
        assert_eq!(
            present_batches(&db, &format!("{mode:?}")),
            (0..BATCHES).collect()
        );
    }
}

#[test]
fn drop_without_close_keeps_every_write_across_many_memtables() {
    let seed = test_seed("drop_without_close_keeps_every_write_across_many_memtables");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut model = Model::new();
    for cycle in 0..6 {
        let options = Options {
            wal_recovery_mode: WalRecoveryMode::AbsoluteConsistency,
            ..small_options()
        };
        let db = Db::open(dir.path(), options).unwrap();
        assert_matches_model(&db, &model, &format!("seed {seed}, cycle {cycle}"));
        // Several memtables' worth, so that the drop lands with frozen memtables still waiting.
        for _ in 0..rng.between(500, 3_000) {
            let key = format!("key-{:05}", rng.below(5_000)).into_bytes();
            if rng.chance(1, 5) {
                db.delete(&key).unwrap();
                model.remove(&key);
            } else {
                let length = rng.between(1, 200);
                let value = rng.bytes(length);
                db.put(&key, &value).unwrap();
                model.insert(key, value);
            }
        }
        drop(db);
    }
    let db = Db::open(dir.path(), small_options()).unwrap();
    assert_matches_model(&db, &model, &format!("seed {seed}, final"));
}

#[test]
fn a_second_open_is_locked_until_the_first_closes() {
    let dir = temp_dir();
    let first = Db::open(dir.path(), small_options()).unwrap();
    first.put(b"k", b"v").unwrap();
    let error = Db::open(dir.path(), small_options()).unwrap_err();
    assert!(matches!(error, Error::Locked(_)), "{error}");
    first.close().unwrap();
    let second = Db::open(dir.path(), small_options()).unwrap();
    assert_eq!(second.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    let error = Db::open(dir.path(), small_options()).unwrap_err();
    assert!(matches!(error, Error::Locked(_)), "{error}");
    drop(second);
    let third = Db::open(dir.path(), small_options()).unwrap();
    assert_eq!(third.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn create_if_missing_and_error_if_exists() {
    let parent = temp_dir();
    let missing = parent.path().join("missing");
    let options = Options {
        create_if_missing: false,
        ..small_options()
    };
    let error = Db::open(&missing, options.clone()).unwrap_err();
    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    assert!(!missing.exists(), "a refused open created the directory");
    std::fs::create_dir(&missing).unwrap();
    let error = Db::open(&missing, options.clone()).unwrap_err();
    assert!(
        matches!(error, Error::InvalidArgument(_)),
        "empty directory: {error}"
    );

    let exclusive = Options {
        error_if_exists: true,
        ..small_options()
    };
    let db = Db::open(&missing, exclusive.clone()).unwrap();
    db.put(b"k", b"v").unwrap();
    drop(db);
    let error = Db::open(&missing, exclusive).unwrap_err();
    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    let db = Db::open(&missing, options).unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

/// Adds a newer write-ahead log holding batch `BATCHES` (sequence numbers after every written
/// batch), as a crash after a memtable rotation leaves behind.
fn add_later_log(dir: &Path) {
    let newest = newest_wal(dir);
    let name = newest.file_name().unwrap().to_str().unwrap();
    let Some(FileKind::Wal(number)) = parse_file_name(name) else {
        panic!("{name} is not a log")
    };
    let path = shaledb::fs::wal_path(dir, shaledb::key::FileNumber(number.0 + 100));
    let mut batch = WriteBatch::new();
    for index in 0..KEYS_PER_BATCH {
        batch
            .put(&batch_key(BATCHES, index), &batch_value(BATCHES))
            .unwrap();
    }
    // The batch header starts with its first sequence number (u64 LE); sequences 1.. went to
    // the earlier batches.
    let mut encoded = batch.encoded().to_vec();
    let first_sequence = BATCHES * KEYS_PER_BATCH as u64 + 1;
    encoded[..8].copy_from_slice(&first_sequence.to_le_bytes());
    let mut writer = shaledb::log::LogWriter::create(&path, LogFileKind::Wal).unwrap();
    writer.add_record(&encoded).unwrap();
    writer.sync().unwrap();
}

#[test]
fn a_torn_tail_followed_by_a_later_log_is_damage_in_the_middle() {
    for mode in MODES {
        let context = format!("{mode:?}");
        let dir = temp_dir();
        write_batches(dir.path());
        damage(dir.path(), Damage::TornTail);
        add_later_log(dir.path());
        let opened = Db::open(dir.path(), large_buffer_options(mode));
        let expected: Option<BTreeSet<u64>> = match mode {
            // Writes synced after the torn one exist, so the tear lost acknowledged writes.
            WalRecoveryMode::AbsoluteConsistency
            | WalRecoveryMode::TolerateCorruptedTailRecords => None,
            WalRecoveryMode::PointInTime => Some((0..BATCHES - 1).collect()),
            WalRecoveryMode::SkipAnyCorruptedRecords => Some(
                (0..=BATCHES)
                    .filter(|&batch| batch != BATCHES - 1)
                    .collect(),
            ),
        };
        match expected {
            None => {
                let error = opened.expect_err(&context);
                assert!(
                    matches!(error, Error::Corruption { .. }),
                    "{context}: {error}"
                );
            }
            Some(expected) => {
                let db = opened.unwrap_or_else(|error| panic!("{context}: {error}"));
                assert_eq!(present_batches(&db, &context), expected, "{context}");
                drop(db);
                let db = Db::open(dir.path(), large_buffer_options(mode)).unwrap();
                assert_eq!(
                    present_batches(&db, &context),
                    expected,
                    "{context}, reopened"
                );
            }
        }
    }
}

/// A preallocated log whose header never reached the disk (a crash right after the flush thread
/// prepared the next log, or right after a rotation) is all zeros: it holds nothing, and is not
/// damage, even under `AbsoluteConsistency`.
#[test]
fn a_preallocated_log_without_its_header_is_empty_not_damage() {
    for mode in MODES {
        let dir = temp_dir();
        write_batches(dir.path());
        let newest = newest_wal(dir.path());
        let number: u64 = newest
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let spare = dir.path().join(format!("{:06}.wal", number + 1));
        std::fs::write(&spare, vec![0u8; 64 << 10]).unwrap();
        let db = Db::open(dir.path(), large_buffer_options(mode))
            .unwrap_or_else(|error| panic!("{mode:?}: {error}"));
        let present = present_batches(&db, &format!("{mode:?}"));
        assert_eq!(present, (0..BATCHES).collect(), "{mode:?}");
    }
}

/// Writes `synced` synced batches and then `unsynced` unsynced ones (batch numbers counting on),
/// and leaves in `dir` the files as a crash would (a copy taken while the database is open).
fn write_synced_then_unsynced(dir: &Path, synced: u64, unsynced: u64) {
    let live = temp_dir();
    let db = Db::open(
        live.path(),
        large_buffer_options(WalRecoveryMode::default()),
    )
    .unwrap();
    for batch in 0..synced + unsynced {
        let mut write = WriteBatch::new();
        for index in 0..KEYS_PER_BATCH {
            write
                .put(&batch_key(batch, index), &batch_value(batch))
                .unwrap();
        }
        let options = WriteOptions {
            sync: batch < synced,
        };
        db.write(write, &options).unwrap();
    }
    common::copy_database_files(live.path(), dir);
    db.close().unwrap();
}

/// The largest offset any sync marker of the log at `path` claims.
fn largest_marker(path: &Path) -> u64 {
    LogReader::open(path, LogFileKind::Wal)
        .unwrap()
        .filter_map(|event| match event {
            LogEvent::Record { payload, .. } => decode_sync_marker(&payload),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Zeroes the 4 KiB page of the log at `path` that starts at `page_start`.
fn zero_page(path: &Path, page_start: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[page_start..page_start + 4096].fill(0);
    std::fs::write(path, bytes).unwrap();
}

/// A power loss can leave later pages of an unsynced tail on the disk and an earlier one not
/// (the reproduction: a zeroed page in the middle of the written part of the live log).
/// The default mode recovers every batch before the hole, drops the rest, reports it, and goes
/// on in a new log.
#[test]
fn an_unsynced_tail_with_a_hole_is_dropped_and_the_database_opens() {
    const SYNCED: u64 = 20;
    const UNSYNCED: u64 = 40;
    let dir = temp_dir();
    write_synced_then_unsynced(dir.path(), SYNCED, UNSYNCED);
    let path = newest_wal(dir.path());
    let records = records(&path);
    let synced_through = largest_marker(&path);
    let last_synced_end =
        records[SYNCED as usize - 1].0 + 7 + records[SYNCED as usize - 1].1 as u64;
    assert_eq!(
        synced_through, last_synced_end,
        "the marker names the last sync"
    );
    // A page wholly past the synced point, with unsynced records after it.
    let page_start = (synced_through as usize / 4096 + 2) * 4096;
    assert!(records.last().unwrap().0 as usize > page_start + 4096);
    zero_page(&path, page_start);
    let first_lost = records
        .iter()
        .position(|&(offset, length)| offset as usize + 7 + length > page_start)
        .unwrap() as u64;
    assert!(first_lost >= SYNCED, "the hole is past every synced batch");

    let db = Db::open(dir.path(), large_buffer_options(WalRecoveryMode::default()))
        .unwrap_or_else(|error| panic!("the default mode must open: {error}"));
    assert_eq!(
        present_batches(&db, "after the hole"),
        (0..first_lost).collect(),
        "every batch before the hole, none after it"
    );
    let report = db.recovery_report();
    let tail = report.dropped_tail.expect("the dropped tail is reported");
    assert_eq!(tail.file, path);
    assert!(tail.offset as usize <= page_start && tail.offset >= synced_through);
    assert!(tail.bytes > 4096, "{tail:?}");
    assert_eq!(report.batches_replayed, first_lost);
    assert!(
        db.stats()
            .to_string()
            .contains("dropped an unsynced log tail")
    );
    // It goes on in a new log: new writes, a clean reopen under the strictest mode.
    db.put(b"batch999-0", &batch_value(999)).unwrap();
    db.close().unwrap();
    drop(db);
    let db = Db::open(
        dir.path(),
        large_buffer_options(WalRecoveryMode::AbsoluteConsistency),
    )
    .unwrap();
    assert_eq!(db.recovery_report().dropped_tail, None);
    assert_eq!(
        db.get(b"batch999-0").unwrap().as_deref(),
        Some(&batch_value(999)[..])
    );
}

/// The same hole before the point a sync marker proves synced is lost synced data: corruption,
/// in the default mode too.
#[test]
fn a_hole_before_the_synced_point_is_corruption() {
    let dir = temp_dir();
    write_synced_then_unsynced(dir.path(), BATCHES, 0);
    let path = newest_wal(dir.path());
    let synced_through = largest_marker(&path);
    assert!(synced_through > 3 * 4096, "{synced_through}");
    zero_page(&path, 4096);
    let error = Db::open(dir.path(), large_buffer_options(WalRecoveryMode::default()))
        .expect_err("synced data is damaged");
    match error {
        Error::Corruption { file, reason, .. } => {
            assert_eq!(file, path);
            assert!(reason.contains("synced"), "{reason}");
        }
        other => panic!("expected corruption, got {other}"),
    }
}

/// Damage in the last block of a synced log: the reader cannot resume before the next block, so
/// the markers after the damage in the same block are found by a byte scan; they prove the
/// damage synced, and the open refuses instead of dropping synced batches.
#[test]
fn damage_before_markers_in_the_same_block_is_corruption() {
    let dir = temp_dir();
    write_synced_then_unsynced(dir.path(), 10, 0);
    let path = newest_wal(dir.path());
    let records = records(&path);
    assert!(records.last().unwrap().0 < 32768, "one block");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[records[3].0 as usize + 20] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    match Db::open(dir.path(), large_buffer_options(WalRecoveryMode::default())) {
        Err(Error::Corruption { file, reason, .. }) => {
            assert_eq!(file, path);
            assert!(reason.contains("synced"), "{reason}");
        }
        Err(other) => panic!("expected corruption, got {other}"),
        Ok(db) => panic!("synced batches dropped: {:?}", db.recovery_report()),
    }
}

/// Replay holds at most one write buffer of the logs' writes: reopened with a write buffer much
/// smaller than the log, it writes a level-0 table each time the memtable fills, oldest first,
/// so that newer versions of a key still win.
#[test]
fn replay_flushes_to_level_0_whenever_the_memtable_fills() {
    let dir = temp_dir();
    let live = temp_dir();
    let db = Db::open(
        live.path(),
        large_buffer_options(WalRecoveryMode::default()),
    )
    .unwrap();
    let value = vec![b'x'; 1000];
    // Three rounds over the same 1,000 keys: about 3 MiB of log, each key overwritten twice.
    for round in 0..3u8 {
        for index in 0..1000 {
            let mut versioned = value.clone();
            versioned[0] = round;
            let mut put = WriteBatch::new();
            put.put(format!("key-{index:04}").as_bytes(), &versioned)
                .unwrap();
            db.write(put, &WriteOptions::NO_SYNC).unwrap();
        }
    }
    common::copy_database_files(live.path(), dir.path());
    db.close().unwrap();

    let small = Options {
        write_buffer_size: 256 << 10,
        level0_compaction_trigger: 64,
        level0_slowdown_trigger: 64,
        level0_stop_trigger: 64,
        level0_size_percent_trigger: 0,
        ..Options::default()
    };
    let db = Db::open(dir.path(), small).unwrap();
    let level0 = db.stats().levels[0].files;
    assert!(
        level0 >= 8,
        "3 MiB replayed through a 256 KiB memtable: {level0} tables"
    );
    assert_eq!(db.recovery_report().batches_replayed, 3000);
    for index in 0..1000 {
        let found = db
            .get(format!("key-{index:04}").as_bytes())
            .unwrap()
            .expect("present");
        assert_eq!(found[0], 2, "key {index}: the newest version wins");
    }
}
