//! The `shaledb` program end to end: the built binary is run as a child process. The benchmark
//! with small sizes must name every workload; `inspect` must describe a table, a write-ahead
//! log, a manifest and `CURRENT` written by the library, and must fail with a message (and a
//! non-zero exit status, no panic) on a missing file, a garbage file and a damaged log.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::Rng;
use shaledb::key::internal_key;
use shaledb::log::{LogFileKind, LogWriter, encode_log};
use shaledb::manifest::{FileMetadata, ManifestState, ManifestWriter, VersionEdit, write_current};
use shaledb::sstable::{TableBuilder, TableOptions};
use shaledb::{FileNumber, SequenceNumber, ValueKind};

const SEED: u64 = 0xc11_7e57;

fn shaledb(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shaledb"))
        .args(arguments)
        .output()
        .expect("the shaledb binary runs")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn bench_with_small_sizes_runs_every_workload() {
    let output = shaledb(&["bench", "--entries", "2000"]);
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
    for workload in [
        "sstable build",
        "sstable get (present keys)",
        "sstable get (absent keys)",
        "sstable scan forward",
        "sstable scan backward",
        "log append (no sync)",
        "log append + fdatasync",
        "log replay",
        "db fillrandom + compaction",
        "db overwrite + compaction",
    ] {
        let row = stdout.lines().find(|line| line.starts_with(workload));
        let row = row.unwrap_or_else(|| panic!("no row for {workload:?} in:\n{stdout}"));
        assert!(
            row.contains("2000") || workload.contains("fdatasync"),
            "{row}"
        );
    }
    assert!(stdout.contains("fsyncs/s"), "{stdout}");
    assert!(stdout.contains("write amp"), "{stdout}");
    assert!(stdout.contains("space amp"), "{stdout}");
    assert!(stdout.contains("db compact_range (all levels)"), "{stdout}");
    for policy in ["immediate", "window 1ms", "adaptive"] {
        for threads in [1, 4, 16, 64] {
            let row = format!("db fillsync {policy}, {threads} thr");
            assert!(stdout.contains(&row), "no row {row:?} in:\n{stdout}");
        }
    }
}

#[test]
fn bench_refuses_bad_arguments_with_usage_errors() {
    for arguments in [
        &["bench", "--entries", "lots"][..],
        &["bench", "--entries"],
        &["bench", "--entries", "0"],
        &["bench", "--frobnicate"],
        &["bench", "--key-size", "2", "--entries", "5000"],
        &["no-such-command"],
    ] {
        let output = shaledb(arguments);
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(stderr.starts_with("shaledb: "), "{arguments:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{arguments:?}: {stderr}");
    }
}

#[test]
fn help_prints_usage() {
    for arguments in [&["help"][..], &["--help"]] {
        let output = shaledb(arguments);
        let (stdout, _) = text(&output);
        assert!(output.status.success());
        assert!(
            stdout.contains("usage: shaledb") && stdout.contains("inspect"),
            "{stdout}"
        );
    }
}

/// Writes a table of `count` random user keys (some tombstones) and returns their number.
fn write_table(path: &Path, rng: &mut Rng, count: u64) -> u64 {
    let mut builder = TableBuilder::create(path, TableOptions::default()).expect("create table");
    let mut tombstones = 0;
    for index in 0..count {
        let key = format!("key-{index:06}");
        let kind = if rng.chance(1, 5) {
            tombstones += 1;
            ValueKind::Tombstone
        } else {
            ValueKind::Value
        };
        let length = rng.between(0, 300);
        let value = rng.bytes(length);
        let internal = internal_key(key.as_bytes(), SequenceNumber(index + 1), kind);
        builder.add(&internal, &value).expect("add entry");
    }
    builder.finish().expect("finish table");
    tombstones
}

#[test]
fn inspect_table_prints_properties_and_entries() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(SEED);
    let count = rng.below(500) + 100;
    let path = dir.path().join("000007.sst");
    let tombstones = write_table(&path, &mut rng, count);
    let output = shaledb(&["inspect", path_str(&path), "--entries"]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "seed {SEED}: {stdout}\n{stderr}");
    let expected = format!("entries:          {count} ({tombstones} tombstones)");
    assert!(
        stdout.contains(&expected),
        "seed {SEED}: want {expected:?} in\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("scan: {count} entries read")),
        "{stdout}"
    );
    let listed = stdout
        .lines()
        .filter(|line| line.starts_with("  'key-"))
        .count();
    assert_eq!(listed as u64, count, "seed {SEED}: {stdout}");
    assert!(
        stdout.contains(&format!("'key-{:06}' @ {count} ", count - 1)),
        "{stdout}"
    );

    // The same table under a name shaledb never uses is recognised by its magic number.
    let renamed = dir.path().join("table.bin");
    std::fs::copy(&path, &renamed).expect("copy table");
    let output = shaledb(&["inspect", path_str(&renamed)]);
    assert!(output.status.success(), "{:?}", text(&output));
    assert!(text(&output).0.contains("SSTable"));
}

#[test]
fn inspect_wal_lists_records_and_reports_damage() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(SEED + 1);
    let count = rng.below(40) + 10;
    let payloads: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            let length = rng.between(0, 5000);
            rng.bytes(length)
        })
        .collect();
    let path = dir.path().join("000003.wal");
    let mut writer = LogWriter::create(&path, LogFileKind::Wal).expect("create log");
    writer.add_records(&payloads).expect("append");
    writer.sync().expect("sync");
    let output = shaledb(&["inspect", path_str(&path)]);
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "seed {}: {stdout}\n{stderr}",
        SEED + 1
    );
    assert!(stdout.contains(&format!("{count} records")), "{stdout}");
    let listed = stdout
        .lines()
        .filter(|line| line.starts_with("record at offset"))
        .count();
    assert_eq!(listed as u64, count, "{stdout}");

    // Damage in the middle of a log that spans several blocks: listed, and exit status 1.
    let big: Vec<Vec<u8>> = (0..20).map(|_| rng.bytes(10_000)).collect();
    let mut bytes = encode_log(LogFileKind::Wal, &big);
    bytes[40] ^= 0xff;
    let damaged = dir.path().join("000004.wal");
    std::fs::write(&damaged, &bytes).expect("write damaged log");
    let output = shaledb(&["inspect", path_str(&damaged)]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("DAMAGE: bytes 16.."), "{stdout}");
    assert!(stderr.contains("is damaged"), "{stderr}");
}

#[test]
fn inspect_manifest_and_current() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let number = FileNumber(2);
    let mut writer =
        ManifestWriter::create(dir.path(), number, &ManifestState::empty(number)).expect("create");
    let mut edit = VersionEdit::new();
    edit.next_file_number = Some(FileNumber(10));
    edit.last_sequence = Some(SequenceNumber(77));
    edit.add_file(
        1,
        FileMetadata {
            number: FileNumber(9),
            file_size: 4321,
            smallest: internal_key(b"apple", SequenceNumber(5), ValueKind::Value),
            largest: internal_key(b"pear", SequenceNumber(77), ValueKind::Value),
            smallest_sequence: SequenceNumber(5),
            largest_sequence: SequenceNumber(77),
        },
    );
    writer.append(&edit).expect("append edit");
    write_current(dir.path(), number).expect("write CURRENT");

    let manifest = dir.path().join("MANIFEST-000002");
    let output = shaledb(&["inspect", path_str(&manifest)]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 records"), "{stdout}");
    assert!(stdout.contains("snapshot of the whole state"), "{stdout}");
    assert!(
        stdout.contains("add L1 #9: 4321 bytes, keys 'apple'..'pear'"),
        "{stdout}"
    );
    assert!(stdout.contains("last sequence 77"), "{stdout}");
    assert!(stdout.contains("L1: 1 files, 4321 bytes"), "{stdout}");

    let current = dir.path().join("CURRENT");
    let output = shaledb(&["inspect", path_str(&current)]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("MANIFEST-000002"), "{stdout}");
}

#[test]
fn inspect_missing_garbage_and_damaged_files_fail_with_a_message() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(SEED + 2);
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, rng.bytes(3000)).expect("write garbage");
    let fake_table = dir.path().join("000005.sst");
    std::fs::write(&fake_table, rng.bytes(3000)).expect("write fake table");
    let fake_log = dir.path().join("000006.wal");
    std::fs::write(&fake_log, rng.bytes(100)).expect("write fake log");
    let missing = dir.path().join("000009.sst");
    for (path, expected) in [
        (&missing, "cannot read"),
        (&garbage, "not a shaledb file"),
        (&fake_table, "corruption in"),
        (&fake_log, "corruption in"),
    ] {
        let output = shaledb(&["inspect", path_str(path)]);
        let (stdout, stderr) = text(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{path:?}: {stdout}\n{stderr}"
        );
        assert!(
            stderr.contains(expected),
            "seed {}: {path:?}: {stderr}",
            SEED + 2
        );
        assert!(!stderr.contains("panicked"), "{path:?}: {stderr}");
    }
    let output = shaledb(&["inspect"]);
    assert_eq!(output.status.code(), Some(2), "{:?}", text(&output));
}
