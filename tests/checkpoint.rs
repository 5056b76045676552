//! `Db::checkpoint`: a checkpoint opens (read-write and read-only) and holds exactly the state
//! of the call; checkpoints taken while writers run, with tiny write buffers so that flushes
//! and compactions happen during them, hold the state at one sequence number (every batch
//! whole or absent, every acknowledged write present); later compactions and deletions in the
//! source do not change the checkpoint's files (its tables are hard links of immutable files);
//! a checkpoint survives a power loss right after the call returns, with links and with the copy
//! a failed link falls back to; a non-empty destination is refused; a failed checkpoint leaves
//! nothing behind and the source working.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::Rng;
use shaledb::vfs::{FaultFileSystem, FileClass, PowerLossModel};
use shaledb::{CheckpointReport, Db, Error, Options, WriteBatch, WriteOptions};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Small buffers and files, so that a few hundred KiB of writes make several tables and levels.
fn small_options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        level0_compaction_trigger: 2,
        level1_target_size: 256 << 10,
        target_file_size: 64 << 10,
        // Fixed level sizes, so that a small database has tables in several levels.
        dynamic_level_sizes: false,
        sync_writes: false,
        ..Options::default()
    }
}

fn scan(db: &Db) -> Model {
    db.iter()
        .map(|item| item.map(|(key, value)| (key.to_vec(), value.to_vec())))
        .collect::<Result<_, _>>()
        .expect("scan")
}

/// The state of the checkpoint in `dir`, read read-only first (which changes nothing) and then
/// read-write (which recovers it into a database of its own); both must agree.
fn open_both(dir: &Path, options: &Options) -> Model {
    let reader = Db::open_read_only(dir, options.clone()).expect("open the checkpoint read-only");
    let read_only = scan(&reader);
    reader.close().unwrap();
    let writer = Db::open(dir, options.clone()).expect("open the checkpoint");
    let read_write = scan(&writer);
    writer.close().unwrap();
    assert_eq!(
        read_only.len(),
        read_write.len(),
        "read-only and read-write opens of {} differ",
        dir.display()
    );
    assert!(read_only == read_write, "read-only and read-write differ");
    read_write
}

/// Random puts and deletes applied to `db` and `model`.
fn random_writes(db: &Db, model: &mut Model, rng: &mut Rng, count: usize) {
    for _ in 0..count {
        let key = format!("key{:05}", rng.below(3000)).into_bytes();
        if rng.chance(1, 6) {
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

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Every file of `dir`, by name, with its bytes.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    names(dir)
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

fn with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    names(dir)
        .into_iter()
        .filter(|name| name.ends_with(suffix))
        .map(|name| dir.join(name))
        .collect()
}

/// The checkpoint directory holds exactly what the report says: `CURRENT`, one manifest, the
/// tables and the logs.
fn check_listing(dir: &Path, report: &CheckpointReport) {
    let names = names(dir);
    let count = |suffix: &str| names.iter().filter(|name| name.ends_with(suffix)).count();
    assert!(names.contains("CURRENT"), "{names:?}");
    assert_eq!(
        names
            .iter()
            .filter(|name| name.starts_with("MANIFEST-"))
            .count(),
        1,
        "{names:?}"
    );
    assert_eq!(count(".sst") as u64, report.tables, "{names:?}");
    assert_eq!(count(".wal") as u64, report.logs, "{names:?}");
    assert_eq!(
        names.len() as u64,
        2 + report.tables + report.logs,
        "{names:?}"
    );
}

#[test]
fn a_checkpoint_opens_and_holds_exactly_the_state() {
    let root = tempfile::tempdir().unwrap();
    let source = root.path().join("db");
    let options = small_options();
    let db = Db::open(&source, options.clone()).unwrap();
    let mut rng = Rng::new(0xc4ec_4901);
    let mut model = Model::new();
    random_writes(&db, &mut model, &mut rng, 3000);
    db.compact_range(..).unwrap();
    // Tables in several levels, and writes only the live log holds.
    random_writes(&db, &mut model, &mut rng, 1500);
    // Flushed, so that the 100 writes below (fewer than a memtable holds) leave no frozen
    // memtable behind: only the live log holds them.
    db.flush().unwrap();
    db.wait_for_compaction().unwrap();
    random_writes(&db, &mut model, &mut rng, 100);
    let at_checkpoint = model.clone();
    let stats = db.stats();
    assert!(
        stats.levels.iter().filter(|level| level.files > 0).count() >= 2,
        "tables in one level only: {:?}",
        stats.levels
    );

    let checkpoint = root.path().join("checkpoint");
    let report = db.checkpoint(&checkpoint).unwrap();
    check_listing(&checkpoint, &report);
    assert!(report.tables >= 2, "{report:?}");
    let table_files: usize = stats.levels.iter().map(|level| level.files).sum();
    assert_eq!(report.tables as usize, table_files, "{report:?}");
    assert_eq!(report.files_linked, report.tables, "{report:?}");
    // The live log's prefix is the one copy.
    assert_eq!(report.files_copied, 1, "{report:?}");
    for table in with_suffix(&checkpoint, ".sst") {
        let name = table.file_name().unwrap();
        let original = source.join(name);
        assert_eq!(
            std::fs::metadata(&table).unwrap().ino(),
            std::fs::metadata(&original).unwrap().ino(),
            "{} is a hard link of the source's table",
            table.display()
        );
    }

    // The source goes on; the checkpoint keeps the state of the call.
    random_writes(&db, &mut model, &mut rng, 500);
    assert_eq!(
        open_both(&checkpoint, &options),
        at_checkpoint,
        "the checkpoint"
    );
    assert_eq!(scan(&db), model, "the source");
    db.close().unwrap();
    // The checkpoint is a database of its own: it takes writes, the source does not see them.
    let copy = Db::open(&checkpoint, options.clone()).unwrap();
    copy.put(b"only-in-the-checkpoint", b"1").unwrap();
    copy.compact_range(..).unwrap();
    copy.close().unwrap();
    let db = Db::open(&source, options).unwrap();
    assert_eq!(scan(&db), model);
    db.close().unwrap();
}

#[test]
fn the_logs_of_frozen_memtables_are_carried_whole() {
    let root = tempfile::tempdir().unwrap();
    let file_system = FaultFileSystem::new();
    // Slow syncs hold the flush of a frozen memtable back for seconds.
    file_system.set_sync_latency(Duration::from_millis(400));
    let options = Options {
        file_system: Arc::new(file_system.clone()),
        ..small_options()
    };
    let db = Db::open(root.path().join("db"), options.clone()).unwrap();
    let mut model = Model::new();
    let mut rng = Rng::new(7);
    // Enough for one rotation and not two (about 350 entries fill 64 KiB): the first
    // memtable is frozen and waits for its flush.
    for index in 0..500 {
        let key = format!("key{index:05}").into_bytes();
        let value = rng.bytes(100);
        db.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    let checkpoint = root.path().join("checkpoint");
    let report = db.checkpoint(&checkpoint).unwrap();
    assert!(
        report.logs >= 2,
        "no frozen memtable's log was carried (the flush was not slow enough): {report:?}"
    );
    assert_eq!(report.tables, 0, "{report:?}");
    check_listing(&checkpoint, &report);
    file_system.set_sync_latency(Duration::ZERO);
    db.close().unwrap();
    assert_eq!(open_both(&checkpoint, &options), model);
}

/// The key of entry `index` of writer `writer`'s group.
fn group_key(writer: u64, index: u64) -> Vec<u8> {
    format!("group{writer}/{index}").into_bytes()
}

const GROUP_KEYS: u64 = 8;

/// A batch of writer `writer`: every key of its group set to `number` (padded, so that the
/// memtables fill), and `last` naming the writer and batch.
fn group_batch(writer: u64, number: u64) -> WriteBatch {
    let mut batch = WriteBatch::new();
    let mut value = number.to_be_bytes().to_vec();
    value.resize(120, b'.');
    for index in 0..GROUP_KEYS {
        batch.put(&group_key(writer, index), &value).unwrap();
    }
    batch
        .put(b"last", format!("{writer} {number}").as_bytes())
        .unwrap();
    batch
}

/// The batch number every key of `writer`'s group holds in `state` (0 if none), or a failure
/// naming the keys that disagree: a batch that is not whole.
fn group_number(state: &Model, writer: u64) -> Result<u64, String> {
    let numbers: Vec<u64> = (0..GROUP_KEYS)
        .map(|index| {
            state.get(&group_key(writer, index)).map_or(0, |value| {
                u64::from_be_bytes(value[..8].try_into().unwrap())
            })
        })
        .collect();
    if numbers.iter().all(|&number| number == numbers[0]) {
        Ok(numbers[0])
    } else {
        Err(format!("writer {writer}'s group is torn: {numbers:?}"))
    }
}

#[test]
fn checkpoints_taken_while_writers_run_hold_the_state_at_one_sequence() {
    const WRITERS: u64 = 3;
    const CHECKPOINTS: usize = 8;
    let root = tempfile::tempdir().unwrap();
    let options = small_options();
    let db = Arc::new(Db::open(root.path().join("db"), options.clone()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // Per writer: the last batch acknowledged, and the last one begun.
    let acknowledged: Arc<Vec<AtomicU64>> = Arc::new((0..WRITERS).map(|_| 0.into()).collect());
    let begun: Arc<Vec<AtomicU64>> = Arc::new((0..WRITERS).map(|_| 0.into()).collect());
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            let (acknowledged, begun) = (Arc::clone(&acknowledged), Arc::clone(&begun));
            std::thread::spawn(move || {
                let mut number = 0;
                while !stop.load(Ordering::Acquire) {
                    number += 1;
                    begun[writer as usize].store(number, Ordering::Release);
                    // Every fourth batch synced.
                    let sync = WriteOptions {
                        sync: number % 4 == 0,
                    };
                    db.write(group_batch(writer, number), &sync).unwrap();
                    acknowledged[writer as usize].store(number, Ordering::Release);
                }
            })
        })
        .collect();

    let before = db.stats();
    let mut taken = Vec::new();
    for round in 0..CHECKPOINTS {
        std::thread::sleep(Duration::from_millis(60));
        let floor: Vec<u64> = acknowledged
            .iter()
            .map(|number| number.load(Ordering::Acquire))
            .collect();
        let dir = root.path().join(format!("checkpoint{round}"));
        let report = db.checkpoint(&dir).unwrap();
        let ceiling: Vec<u64> = begun
            .iter()
            .map(|number| number.load(Ordering::Acquire))
            .collect();
        taken.push((dir, report, floor, ceiling));
    }
    stop.store(true, Ordering::Release);
    for writer in writers {
        writer.join().unwrap();
    }
    let after = db.stats();
    assert!(
        after.flushes > before.flushes + CHECKPOINTS as u64,
        "too few flushes ran during the checkpoints: {} -> {}",
        before.flushes,
        after.flushes
    );
    assert!(
        after.compactions > before.compactions,
        "no compaction ran during the checkpoints"
    );
    // The source is whole and current.
    let source = scan(&db);
    for writer in 0..WRITERS {
        assert_eq!(
            group_number(&source, writer),
            Ok(acknowledged[writer as usize].load(Ordering::Acquire))
        );
    }
    Arc::try_unwrap(db).unwrap().close().unwrap();

    let mut sequences = Vec::new();
    for (dir, report, floor, ceiling) in taken {
        check_listing(&dir, &report);
        let state = open_both(&dir, &options);
        let context = format!("{} at sequence {}", dir.display(), report.sequence.0);
        let mut numbers = Vec::new();
        for writer in 0..WRITERS {
            let number =
                group_number(&state, writer).unwrap_or_else(|torn| panic!("{context}: {torn}"));
            let index = writer as usize;
            assert!(
                number >= floor[index],
                "{context}: writer {writer}'s batch {} was acknowledged before the call, the \
                 checkpoint holds only {number}",
                floor[index]
            );
            assert!(
                number <= ceiling[index],
                "{context}: writer {writer}'s batch {number} began after the call"
            );
            numbers.push(number);
        }
        // The batch committed last among those in the checkpoint is in it whole: the state
        // is a prefix of the commit order.
        let last = String::from_utf8(state[&b"last"[..]].clone()).unwrap();
        let (writer, number) = last.split_once(' ').unwrap();
        let (writer, number): (usize, u64) = (writer.parse().unwrap(), number.parse().unwrap());
        assert_eq!(numbers[writer], number, "{context}: last = {last}");
        // Every batch is 9 operations with one sequence number each.
        let total: u64 = numbers.iter().sum();
        assert_eq!(report.sequence.0, total * (GROUP_KEYS + 1), "{context}");
        sequences.push(report.sequence.0);
    }
    assert!(
        sequences.windows(2).all(|pair| pair[0] < pair[1]),
        "{sequences:?}"
    );
}

#[test]
fn later_compactions_and_deletions_in_the_source_leave_the_checkpoint_as_it_was() {
    let root = tempfile::tempdir().unwrap();
    let source = root.path().join("db");
    let options = small_options();
    let db = Db::open(&source, options.clone()).unwrap();
    let mut rng = Rng::new(0x11_4c5);
    let mut model = Model::new();
    random_writes(&db, &mut model, &mut rng, 2500);
    db.flush().unwrap();
    db.wait_for_compaction().unwrap();
    let at_checkpoint = model.clone();
    let checkpoint = root.path().join("checkpoint");
    let report = db.checkpoint(&checkpoint).unwrap();
    assert!(report.tables >= 2, "{report:?}");
    let files_then = contents(&checkpoint);
    let tables = with_suffix(&checkpoint, ".sst");
    for table in &tables {
        assert_eq!(std::fs::metadata(table).unwrap().nlink(), 2, "{table:?}");
    }

    // Overwrite and delete everything, and compact: every table the checkpoint links is
    // replaced and deleted in the source.
    let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
    for key in keys {
        if rng.chance(1, 2) {
            db.delete(&key).unwrap();
            model.remove(&key);
        } else {
            db.put(&key, b"overwritten").unwrap();
            model.insert(key, b"overwritten".to_vec());
        }
    }
    db.compact_range(..).unwrap();
    db.wait_for_compaction().unwrap();
    for table in &tables {
        let name = table.file_name().unwrap();
        assert!(!source.join(name).exists(), "the source still has {name:?}");
        assert_eq!(std::fs::metadata(table).unwrap().nlink(), 1, "{table:?}");
    }
    assert!(
        files_then == contents(&checkpoint),
        "a file of the checkpoint changed"
    );
    assert_eq!(scan(&db), model);
    db.close().unwrap();
    assert_eq!(open_both(&checkpoint, &options), at_checkpoint);
}

/// Writes to a database on a `FaultFileSystem` under `model`, most of them unsynced (so the
/// source's live log is not durable), checkpoints it, and cuts the power right after; the
/// checkpoint must be durable as a whole and open to the state of the call. With `links_fail`
/// every hard link fails and the checkpoint copies instead.
fn checkpoint_then_power_loss(model: PowerLossModel, links_fail: bool) {
    let root = tempfile::tempdir().unwrap();
    let file_system = FaultFileSystem::new();
    file_system.set_power_loss_model(model);
    let options = Options {
        file_system: Arc::new(file_system.clone()),
        ..small_options()
    };
    let db = Db::open(root.path().join("db"), options.clone()).unwrap();
    let mut rng = Rng::new(0x90e5);
    let mut state = Model::new();
    random_writes(&db, &mut state, &mut rng, 1500);
    db.flush().unwrap();
    random_writes(&db, &mut state, &mut rng, 200);
    if links_fail {
        file_system.set_link_failure(Some(FileClass::Any));
    }
    let checkpoint = root.path().join("checkpoint");
    let report = db.checkpoint(&checkpoint).unwrap();
    let context = format!("{model:?}, links fail: {links_fail}, {report:?}");
    assert!(report.tables >= 1, "{context}");
    if links_fail {
        assert_eq!(report.files_linked, 0, "{context}");
        assert_eq!(
            report.files_copied,
            report.tables + report.logs,
            "{context}"
        );
    } else {
        assert_eq!(
            report.files_linked,
            report.tables + report.logs - 1,
            "{context}"
        );
    }
    for name in names(&checkpoint) {
        assert!(
            file_system.is_durable(&checkpoint.join(&name)),
            "{context}: {name} is not durable when checkpoint returns"
        );
    }
    file_system.power_loss();
    drop(db);
    file_system.restart();
    assert_eq!(open_both(&checkpoint, &options), state, "{context}");
}

#[test]
fn a_checkpoint_survives_a_power_loss_right_after_it_returns() {
    for seed in 1..=4 {
        checkpoint_then_power_loss(PowerLossModel::Pages { seed }, false);
    }
    checkpoint_then_power_loss(PowerLossModel::Synced, false);
}

#[test]
fn a_checkpoint_that_copies_because_links_fail_survives_a_power_loss() {
    for seed in 1..=4 {
        checkpoint_then_power_loss(PowerLossModel::Pages { seed }, true);
    }
    checkpoint_then_power_loss(PowerLossModel::Synced, true);
}

/// The operating system's copy fallback, where a second file system is at hand: `/dev/shm` is
/// a tmpfs on Linux, so a link from the temporary directory to it fails with `CrossesDevices`.
#[test]
fn a_checkpoint_on_another_file_system_copies_the_tables() {
    let root = tempfile::tempdir().unwrap();
    let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
        eprintln!("no /dev/shm: the real cross-device fallback is not tested here");
        return;
    };
    let device = |path: &Path| std::fs::metadata(path).unwrap().dev();
    if device(root.path()) == device(other.path()) {
        eprintln!("/dev/shm is on the same file system: the cross-device fallback is not tested");
        return;
    }
    let options = small_options();
    let db = Db::open(root.path().join("db"), options.clone()).unwrap();
    let mut rng = Rng::new(5);
    let mut state = Model::new();
    random_writes(&db, &mut state, &mut rng, 1500);
    let checkpoint = other.path().join("checkpoint");
    let report = db.checkpoint(&checkpoint).unwrap();
    assert!(report.tables >= 1, "{report:?}");
    assert_eq!(report.files_linked, 0, "{report:?}");
    assert_eq!(
        report.files_copied,
        report.tables + report.logs,
        "{report:?}"
    );
    db.close().unwrap();
    assert_eq!(open_both(&checkpoint, &options), state);
}

#[test]
fn a_non_empty_destination_is_refused_and_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let db = Db::open(root.path().join("db"), small_options()).unwrap();
    db.put(b"k", b"v").unwrap();
    let occupied = root.path().join("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), b"mine").unwrap();
    match db.checkpoint(&occupied) {
        Err(Error::InvalidArgument(message)) => {
            assert!(message.contains("not empty"), "{message}")
        }
        other => panic!("a non-empty destination: {other:?}"),
    }
    assert_eq!(names(&occupied), BTreeSet::from(["notes.txt".to_string()]));
    // The source database itself is not empty either.
    assert!(matches!(
        db.checkpoint(root.path().join("db")),
        Err(Error::InvalidArgument(_))
    ));
    // A file is not a directory.
    let file = root.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(db.checkpoint(&file).is_err());
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    // An empty directory that exists is fine, and so are missing parents.
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    db.checkpoint(&empty).unwrap();
    db.checkpoint(root.path().join("a/b/c")).unwrap();
    db.close().unwrap();
    for dir in [empty, root.path().join("a/b/c")] {
        let reader = Db::open_read_only(&dir, Options::default()).unwrap();
        assert_eq!(reader.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    }
}

#[test]
fn a_read_only_handle_refuses_to_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let db = Db::open(root.path().join("db"), small_options()).unwrap();
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let reader = Db::open_read_only(root.path().join("db"), small_options()).unwrap();
    match reader.checkpoint(root.path().join("checkpoint")) {
        Err(Error::ReadOnly(message)) => assert!(message.contains("Db::open"), "{message}"),
        other => panic!("a read-only handle: {other:?}"),
    }
}

#[test]
fn a_failed_checkpoint_removes_its_files_and_the_source_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let file_system = FaultFileSystem::new();
    let options = Options {
        file_system: Arc::new(file_system.clone()),
        ..small_options()
    };
    let db = Db::open(root.path().join("db"), options.clone()).unwrap();
    let mut rng = Rng::new(3);
    let mut state = Model::new();
    random_writes(&db, &mut state, &mut rng, 1500);
    db.wait_for_compaction().unwrap();
    let checkpoint = root.path().join("checkpoint");
    // With the background work done, the checkpoint's manifest is the next one synced.
    file_system.fail_sync(1, FileClass::Manifest);
    let failed = db.checkpoint(&checkpoint);
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(names(&checkpoint), BTreeSet::new(), "left behind");
    random_writes(&db, &mut state, &mut rng, 300);
    db.flush().unwrap();
    let report = db.checkpoint(&checkpoint).unwrap();
    check_listing(&checkpoint, &report);
    assert_eq!(scan(&db), state);
    db.close().unwrap();
    assert_eq!(open_both(&checkpoint, &options), state);
}

/// A checkpoint slow enough (every file copied, every sync slow) that the live log it recorded
/// is frozen, flushed and made obsolete by the source before the checkpoint copies it: the log
/// must stay until the checkpoint is done with it.
#[test]
fn logs_a_flush_makes_obsolete_during_a_checkpoint_stay_until_it_ends() {
    let root = tempfile::tempdir().unwrap();
    let file_system = FaultFileSystem::new();
    let options = Options {
        file_system: Arc::new(file_system.clone()),
        level0_compaction_trigger: 8,
        level0_size_percent_trigger: 0,
        ..small_options()
    };
    let source = root.path().join("db");
    let db = Arc::new(Db::open(&source, options.clone()).unwrap());
    let mut rng = Rng::new(11);
    for _ in 0..6 {
        random_writes(&db, &mut Model::new(), &mut rng, 400);
        db.flush().unwrap();
    }
    file_system.set_link_failure(Some(FileClass::Any));
    file_system.set_sync_latency(Duration::from_millis(25));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, stop, acknowledged) = (
            Arc::clone(&db),
            Arc::clone(&stop),
            Arc::clone(&acknowledged),
        );
        std::thread::spawn(move || {
            let value = vec![b'w'; 1000];
            let mut number = 0u64;
            while !stop.load(Ordering::Acquire) {
                number += 1;
                db.put(format!("writer{number:08}").as_bytes(), &value)
                    .unwrap();
                acknowledged.store(number, Ordering::Release);
            }
        })
    };
    while acknowledged.load(Ordering::Acquire) < 100 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let flushes = db.stats().flushes;
    let floor = acknowledged.load(Ordering::Acquire);
    let checkpoint = root.path().join("checkpoint");
    let report = db.checkpoint(&checkpoint).unwrap();
    let flushed_meanwhile = db.stats().flushes - flushes;
    stop.store(true, Ordering::Release);
    writer.join().unwrap();
    file_system.set_sync_latency(Duration::ZERO);
    assert!(
        flushed_meanwhile >= 2,
        "only {flushed_meanwhile} flushes ran during the checkpoint: {report:?}"
    );
    // The logs kept for the checkpoint are gone once it ended: only the live log (and a spare
    // one, preallocated ahead) remain.
    db.flush().unwrap();
    let logs = with_suffix(&source, ".wal");
    assert!(logs.len() <= 2, "obsolete logs left: {logs:?}");
    Arc::try_unwrap(db).unwrap().close().unwrap();
    let state = open_both(&checkpoint, &options);
    let written: Vec<u64> = state
        .keys()
        .filter_map(|key| key.strip_prefix(b"writer"))
        .map(|digits| std::str::from_utf8(digits).unwrap().parse().unwrap())
        .collect();
    let count = written.len() as u64;
    assert!(
        count >= floor,
        "{count} writes, {floor} acknowledged before"
    );
    assert_eq!(written, (1..=count).collect::<Vec<_>>(), "not a prefix");
}
