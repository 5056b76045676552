//! The `shale` program end to end: the built binary is run as a child process. The benchmark
//! with small sizes must print a row (and, after fills, amplification and the tree) for every
//! workload, or one JSON object each with `--json`; get/put/delete/scan must round-trip keys
//! with escapes; stats, verify and compact must work on a database the library wrote; `dump`
//! must describe a table, a write-ahead log and a manifest; `--keyspace` must pick the keyspace
//! of every reading and writing command (only `put` creating one, a write keeping its recorded
//! options), `keyspaces` and `drop-keyspace` must list and drop them, and stats, verify and the
//! dumps must show each; get, scan, stats, verify, keyspaces and dump must leave every file of
//! the database as it was (name, size and bytes) and work while a program has the database
//! open; and every mistake must give one line on standard error and exit status 2 (usage) or 1
//! (failure), never a panic.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Rng, directory_contents};
use shaledb::key::internal_key;
use shaledb::key::{FileNumber, ValueKind};
use shaledb::log::{LogFileKind, LogWriter, encode_log};
use shaledb::manifest::{
    FileMetadata, KeyspaceRecord, ManifestState, ManifestWriter, VersionEdit, write_current,
};
use shaledb::sstable::TableBuilder;
use shaledb::{Db, KeyspaceOptions, Options, SequenceNumber, TableOptions, WriteBatch};

const SEED: u64 = 0xc11_7e57;

fn shale(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shale"))
        .args(arguments)
        .output()
        .expect("the shale binary runs")
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

/// Runs `arguments`, expecting success; returns standard output.
fn shale_ok(arguments: &[&str]) -> String {
    let output = shale(arguments);
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "{arguments:?}: stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// Runs `arguments`, expecting exit status `status` and one line on standard error.
fn shale_fails(arguments: &[&str], status: i32) -> String {
    let output = shale(arguments);
    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(status),
        "{arguments:?}: stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.starts_with("shale: "), "{arguments:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{arguments:?}: one line: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{arguments:?}: {stderr}");
    stderr
}

const ALL_WORKLOADS: &str = "fillseq,fillrandom,overwrite,readrandom,readmissing,seekrandom,\
                             multiget,fillsync,fillbatch,batchwriter,compact,sstable,log,fsync";

#[test]
fn bench_with_small_sizes_runs_every_workload() {
    let stdout = shale_ok(&[
        "bench",
        "--num",
        "2_000",
        "--sync-num",
        "20",
        "--threads",
        "1,2",
        "--policy",
        "all",
        "--strategy",
        "all",
        "--workloads",
        ALL_WORKLOADS,
    ]);
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
    let row = |name: &str| -> String {
        stdout
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name:?} in:\n{stdout}"))
            .to_string()
    };
    for name in [
        "fillseq ",
        "fillrandom ",
        "overwrite ",
        "readrandom, 1 threads",
        "readrandom, 2 threads",
        "readmissing ",
        "sstable build",
        "sstable get (absent keys)",
        "log replay",
    ] {
        let line = row(name);
        assert!(line.contains(" 2000 "), "{name}: {line}");
    }
    assert!(row("seekrandom ").contains(" 200 "), "{stdout}");
    assert!(row("multiget ").contains(" 20 "), "{stdout}");
    for policy in ["adaptive", "immediate", "window 1ms"] {
        for threads in [1, 2] {
            assert!(row(&format!("fillsync {policy}, {threads} threads")).contains(" 20 "));
        }
    }
    for strategy in [
        "low_latency",
        "fixed_size 1000",
        "adaptive",
        "time_window 2ms",
    ] {
        row(&format!("batchwriter {strategy}"));
    }
    row("fillbatch, 2 threads");
    row("compact (all levels)");
    row("log append + fdatasync (prealloc)");
    // Three unsynced fills, 6 + 2 + 4 rows of the synced ones, and compact.
    let amplification_lines = stdout
        .lines()
        .filter(|line| line.starts_with("    write amp"))
        .count();
    assert_eq!(amplification_lines, 3 + 6 + 2 + 4 + 1, "{stdout}");
    assert!(stdout.contains("space amp"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|line| line.trim_start().starts_with("L0 ")),
        "{stdout}"
    );
}

#[test]
fn bench_keyspaces_and_dropkeyspace_run_small() {
    let stdout = shale_ok(&[
        "bench",
        "--num",
        "2_000",
        "--drop-size",
        "500_000",
        "--workloads",
        "dropkeyspace,keyspaces",
    ]);
    let row = |name: &str| -> String {
        stdout
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name:?} in:\n{stdout}"))
            .to_string()
    };
    let one = row("fillrandom 1 keyspace, 4 threads ");
    assert!(one.contains(" 2000 ") && one.contains("baseline"), "{one}");
    let four = row("fillrandom 4 keyspaces, 4 threads ");
    assert!(four.contains(" 2000 "), "{four}");
    assert!(four.contains("x the ops/s of 1 keyspace"), "{four}");
    // 500,000 bytes of 116-byte entries, in tables that are gone once the drop returns.
    let drop = row("dropkeyspace ");
    assert!(
        drop.contains(" 1 ") && drop.contains("4310 entries"),
        "{drop}"
    );
    assert!(
        drop.contains(" tables, ") && drop.contains(" ms; "),
        "{drop}"
    );
    let keyspaces_at = stdout.find("fillrandom 1 keyspace").unwrap_or(usize::MAX);
    let drop_at = stdout.find("dropkeyspace ").unwrap_or(0);
    assert!(
        keyspaces_at < drop_at,
        "they run in the listed order:\n{stdout}"
    );
}

/// The rows `--compare` prints at `--threads 2`, in order: one round per workload and thread
/// count.
#[cfg(feature = "compare")]
const COMPARE_ROUNDS: [&str; 9] = [
    "fillseq",
    "fillrandom",
    "overwrite",
    "readrandom, 2 threads",
    "readmissing",
    "seekrandom",
    "multiget",
    "fillsync, 2 threads",
    "fillbatch, 2 threads",
];

#[cfg(feature = "compare")]
#[test]
fn bench_compare_runs_each_workload_on_shaledb_and_fjall() {
    let arguments = [
        "bench",
        "--compare",
        "--num",
        "2_000",
        "--sync-num",
        "10",
        "--threads",
        "2",
        "--write-buffer-size",
        "65536",
    ];
    let stdout = shale_ok(&arguments);
    let lines: Vec<&str> = stdout.lines().collect();
    for name in COMPARE_ROUNDS {
        let index = lines
            .iter()
            .position(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no round for {name:?} in:\n{stdout}"));
        let (shaledb, fjall) = (lines[index], lines[index + 1]);
        assert!(shaledb.contains(" shaledb "), "{name}: {shaledb}");
        assert!(fjall.trim_start().starts_with("fjall "), "{name}: {fjall}");
        assert!(
            fjall.split_whitespace().any(|word| word.ends_with('x')),
            "{name}: the fjall row shows a ratio: {fjall}"
        );
    }
    assert!(
        stdout.contains("skipped (shaledb only): [Batchwriter]"),
        "{stdout}"
    );

    let mut json = arguments.to_vec();
    json.push("--json");
    let stdout = shale_ok(&json);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), COMPARE_ROUNDS.len(), "{stdout}");
    for (line, name) in lines.iter().zip(COMPARE_ROUNDS) {
        assert!(
            line.starts_with(&format!("{{\"workload\":\"{name}\"")),
            "{name}: {line}"
        );
        for key in [
            "\"engines\":[{\"engine\":\"shaledb\",",
            "},{\"engine\":\"fjall\",",
            "\"ratios\":[{\"peer\":\"fjall\",\"ratio\":",
            "\"peak_rss_bytes\":",
        ] {
            assert!(line.contains(key), "{key} in {line}");
        }
        assert_eq!(
            line.matches('{').count(),
            line.matches('}').count(),
            "{line}"
        );
    }
}

/// The rows of `--workloads ycsb --threads 1,2`: the load, then A to F at each thread count.
fn ycsb_rows() -> Vec<String> {
    let mut rows = vec!["ycsb load".to_string()];
    for threads in [1, 2] {
        for letter in ['A', 'B', 'C', 'D', 'E', 'F'] {
            rows.push(format!("ycsb {letter}, {threads} threads"));
        }
    }
    rows
}

#[test]
fn bench_ycsb_runs_the_load_and_the_six_core_workloads_at_each_thread_count() {
    let stdout = shale_ok(&[
        "bench",
        "--num",
        "2_000",
        "--ycsb-operations",
        "3_000",
        "--threads",
        "1,2",
        "--write-buffer-size",
        "65536",
        "--workloads",
        "ycsb,readrandom",
    ]);
    let lines: Vec<&str> = stdout.lines().collect();
    let mut previous = 0;
    for (index, name) in ycsb_rows().iter().enumerate() {
        let at = lines
            .iter()
            .position(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name:?} in:\n{stdout}"));
        assert!(at > previous, "{name} out of order in:\n{stdout}");
        previous = at;
        let operations = if index == 0 { " 2000 " } else { " 3000 " };
        assert!(lines[at].contains(operations), "{}", lines[at]);
    }
    // Readrandom ran first, on its own fillseq; the reads of every workload were checked.
    assert!(stdout.contains("readrandom, 2 threads"), "{stdout}");
    assert!(stdout.contains("reads all found"), "{stdout}");
    assert!(stdout.contains("entries each"), "{stdout}");

    let stdout = shale_ok(&[
        "bench",
        "--num",
        "500",
        "--threads",
        "2",
        "--workloads",
        "ycsb",
        "--ycsb-workloads",
        "f,d",
    ]);
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("ycsb "))
        .map(|line| line.split("  ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        rows,
        ["ycsb load", "ycsb D, 2 threads", "ycsb F, 2 threads"],
        "{stdout}"
    );
}

#[cfg(feature = "compare")]
#[test]
fn bench_compare_runs_ycsb_on_shaledb_and_fjall() {
    let stdout = shale_ok(&[
        "bench",
        "--compare",
        "--num",
        "2_000",
        "--ycsb-operations",
        "2_000",
        "--threads",
        "1,2",
        "--write-buffer-size",
        "65536",
        "--workloads",
        "ycsb",
    ]);
    let lines: Vec<&str> = stdout.lines().collect();
    for name in ycsb_rows() {
        let index = lines
            .iter()
            .position(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no round for {name:?} in:\n{stdout}"));
        let (shaledb, fjall) = (lines[index], lines[index + 1]);
        assert!(shaledb.contains(" shaledb "), "{name}: {shaledb}");
        assert!(fjall.trim_start().starts_with("fjall "), "{name}: {fjall}");
        let has_target = fjall.contains(" 1.2x");
        assert_eq!(has_target, name != "ycsb load", "{name}: {fjall}");
    }
}

#[cfg(not(feature = "compare"))]
#[test]
fn bench_compare_without_the_feature_says_how_to_build_it() {
    let stderr = shale_fails(&["bench", "--compare", "--num", "100"], 2);
    assert!(stderr.contains("--features compare"), "{stderr}");
}

#[test]
fn bench_json_prints_one_object_per_workload() {
    let stdout = shale_ok(&[
        "bench",
        "--num",
        "1000",
        "--sync-num",
        "10",
        "--json",
        "--workloads",
        "readrandom,fillrandom,fillsync,sstable",
    ]);
    let lines: Vec<&str> = stdout.lines().collect();
    // fillrandom, readrandom, fillsync, and the sstable workload's five rows.
    assert_eq!(lines.len(), 8, "{stdout}");
    for line in &lines {
        assert!(
            line.starts_with("{\"workload\":\"") && line.ends_with('}'),
            "{line}"
        );
        assert_eq!(
            line.matches('{').count(),
            line.matches('}').count(),
            "{line}"
        );
        assert_eq!(
            line.matches('[').count(),
            line.matches(']').count(),
            "{line}"
        );
        assert_eq!(line.matches('"').count() % 2, 0, "{line}");
        for key in [
            "\"ops\":",
            "\"ops_per_sec\":",
            "\"mb_per_sec\":",
            "\"latency_us\":",
        ] {
            assert!(line.contains(key), "{key} in {line}");
        }
    }
    assert!(
        lines[0].starts_with("{\"workload\":\"fillrandom\",\"ops\":1000,"),
        "{stdout}"
    );
    assert!(lines[0].contains("\"write_amp_engine\":"), "{}", lines[0]);
    assert!(
        lines[0].contains("\"levels\":[{\"level\":0,"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("\"p99\":") && !lines[1].contains("write_amp"),
        "{}",
        lines[1]
    );
    assert!(lines[7].contains("\"latency_us\":null"), "{}", lines[7]);
}

#[test]
fn usage_mistakes_exit_2_with_one_line() {
    for arguments in [
        &["bench", "--num", "lots"][..],
        &["bench", "--num"],
        &["bench", "--num", "0"],
        &["bench", "--frobnicate"],
        &["bench", "--key-size", "2", "--num", "5000"],
        &["bench", "--workloads", "fillseq,nope"],
        &["bench", "--threads", "0"],
        &["bench", "--drop-size", "0"],
        &[
            "bench",
            "--num",
            "10",
            "--key-size",
            "4",
            "--workloads",
            "dropkeyspace",
        ],
        &["no-such-command"],
        &["get", "only-a-dir"],
        &["get", "dir", "bad\\escape"],
        &["get", "dir", "k", "--keyspace", ""],
        &["put", "dir", "k", "v", "--keyspace", "\\xff"],
        &["scan", "dir", "--keyspace"],
        &["drop-keyspace", "dir"],
        &["keyspaces"],
        &["scan", "dir", "--limit", "-1"],
        &["dump", "sst"],
        &["checkpoint", "only-a-dir"],
        &["dump", "table", "file"],
        &["dump"],
    ] {
        let stderr = shale_fails(arguments, 2);
        assert!(stderr.contains("--help"), "{arguments:?}: {stderr}");
    }
}

#[test]
fn every_command_has_help() {
    for command in [
        &[][..],
        &["bench"],
        &["get"],
        &["put"],
        &["delete"],
        &["delete-range"],
        &["scan"],
        &["stats"],
        &["verify"],
        &["compact"],
        &["checkpoint"],
        &["keyspaces"],
        &["drop-keyspace"],
        &["dump"],
        &["dump", "sst"],
        &["dump", "wal"],
        &["dump", "manifest"],
    ] {
        let mut arguments = command.to_vec();
        arguments.push("--help");
        let stdout = shale_ok(&arguments);
        assert!(stdout.contains("Usage: shale"), "{arguments:?}: {stdout}");
    }
    assert!(shale_ok(&["--version"]).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn put_get_delete_scan_round_trip() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("db");
    let db = path_str(&db);
    shale_ok(&["put", db, "b\\x00key", "two\\x0alines"]);
    shale_ok(&["put", db, "a", "first"]);
    shale_ok(&["put", db, "c", "third"]);
    assert_eq!(shale_ok(&["get", db, "a"]), "first\n");
    assert_eq!(shale_ok(&["get", db, "b\\x00key"]), "two\\x0alines\n");
    assert_eq!(
        shale_ok(&["scan", db]),
        "a\tfirst\nb\\x00key\ttwo\\x0alines\nc\tthird\n"
    );
    assert_eq!(
        shale_ok(&["scan", db, "--from", "b", "--to", "c"]),
        "b\\x00key\ttwo\\x0alines\n"
    );
    assert_eq!(shale_ok(&["scan", db, "--limit", "1"]), "a\tfirst\n");
    shale_ok(&["delete", db, "a"]);
    let stderr = shale_fails(&["get", db, "a"], 1);
    assert!(stderr.contains("not found"), "{stderr}");
    assert_eq!(
        shale_ok(&["scan", db, "--limit", "1"]),
        "b\\x00key\ttwo\\x0alines\n"
    );

    // delete-range deletes [START, END): "b\x00key" goes, "c" (the end) stays.
    shale_ok(&["put", db, "a", "again"]);
    shale_ok(&["delete-range", db, "a", "c"]);
    assert_eq!(shale_ok(&["scan", db]), "c\tthird\n");
    let stderr = shale_fails(&["delete-range", db, "z", "a"], 1);
    assert!(stderr.contains("sorts after the end key"), "{stderr}");

    // Only put creates a database: every other command refuses a directory without one.
    let missing = dir.path().join("missing");
    for command in ["get", "delete"] {
        shale_fails(&[command, path_str(&missing), "a"], 1);
    }
    shale_fails(&["delete-range", path_str(&missing), "a", "b"], 1);
    for command in ["scan", "stats", "verify", "compact"] {
        shale_fails(&[command, path_str(&missing)], 1);
    }
    assert!(!missing.exists(), "a read command created {missing:?}");
}

#[test]
fn keyspace_flag_picks_the_keyspace_of_every_command() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("db");
    let db = path_str(&db);
    shale_ok(&["put", db, "k", "in default"]);
    // put creates the keyspace; the same key holds a value of its own in each keyspace.
    shale_ok(&["put", db, "--keyspace", "events", "k", "in events"]);
    shale_ok(&["put", db, "--keyspace", "events", "m", "second"]);
    shale_ok(&["put", db, "--keyspace", "a\\x20b", "k", "escaped"]);
    assert_eq!(shale_ok(&["keyspaces", db]), "default\nevents\na b\n");
    assert_eq!(shale_ok(&["get", db, "k"]), "in default\n");
    assert_eq!(
        shale_ok(&["get", db, "k", "--keyspace", "default"]),
        "in default\n"
    );
    assert_eq!(
        shale_ok(&["get", db, "k", "--keyspace", "events"]),
        "in events\n"
    );
    assert_eq!(
        shale_ok(&["get", db, "k", "--keyspace", "a b"]),
        "escaped\n"
    );
    assert_eq!(shale_ok(&["scan", db]), "k\tin default\n");
    assert_eq!(
        shale_ok(&["scan", db, "--keyspace", "events", "--from", "l"]),
        "m\tsecond\n"
    );
    shale_ok(&["delete", db, "--keyspace", "events", "k"]);
    shale_fails(&["get", db, "--keyspace", "events", "k"], 1);
    assert_eq!(shale_ok(&["get", db, "k"]), "in default\n");
    shale_ok(&["delete-range", db, "--keyspace", "events", "a", "z"]);
    assert_eq!(shale_ok(&["scan", db, "--keyspace", "events"]), "");
    assert_eq!(shale_ok(&["scan", db, "--keyspace", "a b"]), "k\tescaped\n");
    let compacted = shale_ok(&["compact", db, "--keyspace", "a b"]);
    let after = compacted.split("after:").nth(1).expect("an after section");
    assert!(
        after
            .lines()
            .any(|line| line.trim_start().starts_with("L3 #")),
        "{compacted}"
    );

    // Only put creates a keyspace: every other command names the one missing and creates none.
    let missing: [&[&str]; 8] = [
        &["get", db, "k", "--keyspace", "nope"],
        &["scan", db, "--keyspace", "nope"],
        &["delete", db, "k", "--keyspace", "nope"],
        &["delete-range", db, "a", "b", "--keyspace", "nope"],
        &["compact", db, "--keyspace", "nope"],
        &["verify", db, "--keyspace", "nope"],
        &["stats", db, "--keyspace", "nope"],
        &["drop-keyspace", db, "nope"],
    ];
    for command in missing {
        let stderr = shale_fails(command, 1);
        assert!(
            stderr.contains("no keyspace named 'nope'") && stderr.contains("'events'"),
            "{command:?}: {stderr}"
        );
    }
    assert_eq!(shale_ok(&["keyspaces", db]), "default\nevents\na b\n");

    // drop-keyspace drops it durably, data and all; the default keyspace stays.
    shale_ok(&["drop-keyspace", db, "events"]);
    assert_eq!(shale_ok(&["keyspaces", db]), "default\na b\n");
    let stderr = shale_fails(&["scan", db, "--keyspace", "events"], 1);
    assert!(stderr.contains("no keyspace named 'events'"), "{stderr}");
    let stderr = shale_fails(&["drop-keyspace", db, "default"], 1);
    assert!(
        stderr.contains("default keyspace cannot be dropped"),
        "{stderr}"
    );
    // A keyspace made again under a dropped one's name starts empty.
    shale_ok(&["put", db, "--keyspace", "events", "new", "1"]);
    assert_eq!(shale_ok(&["scan", db, "--keyspace", "events"]), "new\t1\n");
    let missing = dir.path().join("missing");
    shale_fails(&["keyspaces", path_str(&missing)], 1);
    shale_fails(&["drop-keyspace", path_str(&missing), "events"], 1);
    assert!(!missing.exists(), "a command created {missing:?}");
}

/// Options unlike the defaults in every way a write to the keyspace could reset.
fn tuned_options() -> KeyspaceOptions {
    let mut options = KeyspaceOptions {
        write_buffer_size: 1 << 20,
        level0_compaction_trigger: 2,
        level1_target_size: 1 << 20,
        ..KeyspaceOptions::default()
    };
    options.table.bloom_bits_per_key = 0;
    options
}

#[test]
fn writes_to_an_existing_keyspace_keep_the_options_it_was_created_with() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    db.keyspace("tuned", tuned_options())
        .expect("create keyspace");
    db.close().expect("close");
    let path = path_str(dir.path());
    shale_ok(&["put", path, "--keyspace", "tuned", "k", "v"]);
    shale_ok(&["delete", path, "--keyspace", "tuned", "gone"]);
    shale_ok(&["delete-range", path, "--keyspace", "tuned", "a", "b"]);
    shale_ok(&["compact", path, "--keyspace", "tuned"]);
    let db = Db::open_read_only(dir.path(), Options::default()).expect("open read-only");
    let tuned = db
        .keyspace("tuned", KeyspaceOptions::default())
        .expect("the keyspace is there");
    assert_eq!(tuned.options(), tuned_options());
    assert_eq!(tuned.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    // And the manifest shows them.
    let dumped = shale_ok(&["dump", "manifest", path]);
    assert!(
        dumped.contains("keyspace 1 'tuned' declared: write_buffer_size 1048576, ")
            && dumped.contains("table.bloom_bits_per_key 0, "),
        "{dumped}"
    );
}

/// A database with the default keyspace (a key in a table, one in the log), `events` (two
/// level-0 tables of three keys each) and `empty`.
fn write_keyspace_database(dir: &Path) {
    let db = Db::open(dir, Options::default()).expect("open");
    db.put(b"flushed", b"1").expect("put");
    db.flush().expect("flush");
    db.put(b"logged", b"2").expect("put");
    // No compaction by level-0 size: its two level-0 tables stay there.
    let options = KeyspaceOptions {
        level0_size_percent_trigger: 0,
        ..KeyspaceOptions::default()
    };
    let events = db.keyspace("events", options).expect("keyspace");
    for batch in 0..2u8 {
        for index in 0..3u8 {
            events.put(&[b'e', batch, index], b"event").expect("put");
        }
        events.flush().expect("flush");
    }
    db.keyspace("empty", KeyspaceOptions::default())
        .expect("keyspace");
    db.close().expect("close");
}

/// The lines of `output` from the one starting with `heading` to the next blank line.
fn section<'a>(output: &'a str, heading: &str) -> Vec<&'a str> {
    output
        .lines()
        .skip_while(|line| *line != heading)
        .take_while(|line| !line.is_empty())
        .collect()
}

#[test]
fn stats_and_verify_report_every_keyspace_or_the_one_named() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_keyspace_database(dir.path());
    let path = path_str(dir.path());
    let stats = shale_ok(&["stats", path]);
    let default = section(&stats, "keyspace 'default'");
    assert!(default.len() > 6, "{stats}");
    assert!(default[2].starts_with("L0         1 "), "{stats}");
    assert!(
        default.iter().any(|line| line.starts_with("write groups")),
        "{stats}"
    );
    let events = section(&stats, "keyspace 'events'");
    assert_eq!(events.len(), 7, "{stats}");
    assert_eq!(events[1], "level  files      MiB  score");
    // Two files against the level-0 trigger of 4.
    assert!(
        events[2].starts_with("L0         2 ") && events[2].ends_with("  0.50"),
        "{stats}"
    );
    assert_eq!(events[6], "memtable 0.0 MiB; 0 frozen (0.0 MiB)", "{stats}");
    assert_eq!(section(&stats, "keyspace 'empty'").len(), 7, "{stats}");

    let alone = shale_ok(&["stats", path, "--keyspace", "events"]);
    assert_eq!(
        alone.trim_end().lines().collect::<Vec<_>>(),
        events,
        "{alone}"
    );
    let default_alone = shale_ok(&["stats", path, "--keyspace", "default"]);
    assert!(
        default_alone.starts_with("keyspace 'default'\nlevel  files")
            && !default_alone.contains("write groups")
            && !default_alone.contains("events"),
        "{default_alone}"
    );

    let verified = shale_ok(&["verify", path]);
    assert!(
        verified.contains("; 8 live entries")
            && verified.contains("  keyspace 'default': 2 live entries")
            && verified.contains("  keyspace 'events': 6 live entries")
            && verified.contains("  keyspace 'empty': 0 live entries"),
        "{verified}"
    );
    let verified = shale_ok(&["verify", path, "--keyspace", "events"]);
    // The manifest and the two tables of events; its six entries.
    assert!(
        verified.contains(", keyspace 'events': ok: 3 files")
            && verified.contains("checked; 6 live entries"),
        "{verified}"
    );
}

#[test]
fn dump_manifest_shows_keyspace_fields_and_the_state_of_each_keyspace() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    let events = db.keyspace("events", tuned_options()).expect("keyspace");
    events.put(b"e", b"1").expect("put");
    // The default keyspace's write keeps the log: the flush of events records its own log
    // number.
    db.put(b"d", b"1").expect("put");
    events.flush().expect("flush");
    db.keyspace("scratch", KeyspaceOptions::default())
        .expect("keyspace");
    db.drop_keyspace("scratch").expect("drop");
    db.close().expect("close");
    let dumped = shale_ok(&["dump", "manifest", path_str(dir.path())]);
    for expected in [
        "  keyspace 1 'events' declared: write_buffer_size 1048576, max_immutable_memtables 2, \
         table.block_size 4096, table.restart_interval 16, table.bloom_bits_per_key 0, \
         table.compression lz4, level0_compaction_trigger 2, ",
        "  keyspace 2 'scratch' declared: write_buffer_size 67108864, ",
        "  next keyspace id: 2\n",
        "  next keyspace id: 3\n",
        "  edit keyspace: 1 'events' (the files added and deleted below are its)\n",
        "  keyspace log number: ",
        "  drop keyspace 2 'scratch'\n",
        ", next keyspace id 3\n",
        "  keyspace 0 'default': keyspace log number 0\n",
        "  keyspace 1 'events': keyspace log number ",
        "    options: write_buffer_size 1048576, ",
    ] {
        assert!(dumped.contains(expected), "{expected:?} in:\n{dumped}");
    }
    let state = section(&dumped, "  keyspace 0 'default': keyspace log number 0");
    assert!(
        state.iter().all(|line| !line.contains("scratch")),
        "{dumped}"
    );
    let after_events = dumped
        .split("  keyspace 1 'events': keyspace log number ")
        .nth(1)
        .expect("the state of events");
    assert!(after_events.contains("    L0: 1 files, "), "{dumped}");
}

#[test]
fn dump_manifest_reports_keyspace_options_that_do_not_decode() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let number = FileNumber(2);
    let mut writer =
        ManifestWriter::create(dir.path(), number, &ManifestState::empty(number)).expect("create");
    let mut edit = VersionEdit::new();
    edit.keyspaces.push(KeyspaceRecord {
        id: shaledb::key::KeyspaceId(1),
        name: "broken".to_string(),
        // Tag 1 (write_buffer_size) = 10 bytes: below what KeyspaceOptions accepts.
        options: vec![1, 10],
    });
    edit.next_keyspace_id = Some(shaledb::key::KeyspaceId(2));
    writer.append(&edit).expect("append edit");
    write_current(dir.path(), number).expect("write CURRENT");
    let output = shale(&["dump", "manifest", path_str(dir.path())]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("  DAMAGE: keyspace 1 'broken' declared with options that do not decode"),
        "{stdout}"
    );
    assert!(stdout.contains("1 problems"), "{stdout}");
}

#[test]
fn dump_wal_shows_each_operation_and_its_keyspace() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    let events = db
        .keyspace("events", KeyspaceOptions::default())
        .expect("keyspace");
    let mut batch = WriteBatch::new();
    batch.put_in(&events, b"e\x001", b"value").expect("put");
    batch.delete(b"plain").expect("delete");
    batch
        .delete_range_in(&events, b"a", b"c")
        .expect("delete range");
    db.write(batch, &shaledb::WriteOptions::SYNC)
        .expect("write");
    db.put(b"alone", b"xy").expect("put");
    db.close().expect("close");
    let wal = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wal"))
        .min()
        .expect("a write-ahead log");
    let dumped = shale_ok(&["dump", "wal", path_str(&wal)]);
    let expected = "\
 bytes, write batch: 3 operations from sequence 1
  'e\\x001' @ 1 put, 5 bytes, keyspace 1
  'plain' @ 2 delete
  ['a', 'c') @ 3 delete range, keyspace 1
";
    assert!(dumped.contains(expected), "{dumped}");
    assert!(
        dumped.contains(" 1 operations from sequence 4\n  'alone' @ 4 put, 2 bytes\n"),
        "{dumped}"
    );
}

/// Writes `count` keys to a database in `dir` through the library, flushing every quarter so
/// that it has several tables.
fn write_database(dir: &Path, rng: &mut Rng, count: u64) {
    let options = Options {
        sync_writes: false,
        ..Options::default()
    };
    let db = Db::open(dir, options).expect("open");
    for index in 0..count {
        let length = rng.between(10, 400);
        let value = rng.compressible_bytes(length);
        db.put(format!("key-{index:06}").as_bytes(), &value)
            .expect("put");
        if index % (count / 4) == count / 4 - 1 {
            db.flush().expect("flush");
        }
    }
    db.close().expect("close");
}

#[test]
fn stats_verify_and_compact_work_on_a_library_database() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let seed = common::test_seed("cli_stats_verify_compact");
    let mut rng = Rng::new(seed);
    let count = 2000 + rng.below(1000);
    write_database(dir.path(), &mut rng, count);
    let db = path_str(dir.path());
    let stats = shale_ok(&["stats", db]);
    assert!(
        stats.contains("level  files") && stats.contains("L3"),
        "{stats}"
    );
    let verified = shale_ok(&["verify", db]);
    assert!(
        verified.contains("ok: ") && verified.contains(&format!("; {count} live entries")),
        "seed {seed}: {verified}"
    );
    let compacted = shale_ok(&["compact", db]);
    let after = compacted.split("after:").nth(1).expect("an after section");
    let last_level = after
        .lines()
        .find(|line| line.trim_start().starts_with("L3"));
    let last_level = last_level.unwrap_or_else(|| panic!("seed {seed}: {compacted}"));
    assert!(last_level.contains('#'), "seed {seed}: {compacted}");
    let scanned = shale_ok(&["scan", db]);
    assert_eq!(scanned.lines().count() as u64, count, "seed {seed}");
}

#[test]
fn checkpoint_makes_a_copy_that_opens_on_its_own() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("temporary directory");
    let source = dir.path().join("db");
    let seed = common::test_seed("cli_checkpoint");
    let mut rng = Rng::new(seed);
    write_database(&source, &mut rng, 1500);
    // And a write that only a log holds.
    let db = Db::open(&source, Options::default()).expect("open");
    db.put(b"in-the-log", b"yes").expect("put");
    drop(db);
    let (source, dest) = (path_str(&source), dir.path().join("checkpoint"));
    let dest = path_str(&dest);
    let scanned = shale_ok(&["scan", source]);
    assert!(scanned.contains("in-the-log\tyes\n"), "seed {seed}");

    let made = shale_ok(&["checkpoint", source, dest]);
    assert!(
        made.starts_with(&format!(
            "checkpoint of {source} in {dest} at sequence 1501: "
        )) && made.contains(" files linked, 1 copied"),
        "seed {seed}: {made}"
    );
    assert_eq!(shale_ok(&["scan", dest]), scanned, "seed {seed}");
    assert_eq!(shale_ok(&["scan", source]), scanned, "seed {seed}");
    assert!(shale_ok(&["verify", dest]).contains("ok: "));
    let tables: Vec<_> = std::fs::read_dir(dest)
        .expect("list the checkpoint")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "sst"))
        .collect();
    assert!(!tables.is_empty());
    for table in &tables {
        let links = std::fs::metadata(table).expect("metadata").nlink();
        assert_eq!(links, 2, "{table:?} is not linked to the source's table");
    }

    // A second checkpoint into the same directory is refused and changes nothing there.
    let before = directory_contents(Path::new(dest));
    let stderr = shale_fails(&["checkpoint", source, dest], 1);
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert!(changed_files(&before, &directory_contents(Path::new(dest))).is_empty());
    // No database, no checkpoint, and nothing created.
    let (missing, nowhere) = (dir.path().join("missing"), dir.path().join("nowhere"));
    shale_fails(&["checkpoint", path_str(&missing), path_str(&nowhere)], 1);
    assert!(!missing.exists() && !nowhere.exists());
    // The checkpoint is a database of its own.
    shale_ok(&["put", dest, "only-in-the-checkpoint", "1"]);
    shale_fails(&["get", source, "only-in-the-checkpoint"], 1);
    assert_eq!(shale_ok(&["get", dest, "in-the-log"]), "yes\n");
}

#[test]
fn verify_and_dump_report_a_damaged_table_with_status_1() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let seed = common::test_seed("cli_damaged_table");
    let mut rng = Rng::new(seed);
    write_database(dir.path(), &mut rng, 400);
    let tables: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "sst"))
        .collect();
    let table = tables.first().expect("a table");
    let mut bytes = std::fs::read(table).expect("read table");
    // The first data block starts the file: damage a byte inside it.
    let at = rng.below(100) as usize + 10;
    bytes[at] ^= 0x5a;
    std::fs::write(table, &bytes).expect("write damaged table");
    let stderr = shale_fails(&["verify", path_str(dir.path())], 1);
    assert!(stderr.contains("damaged"), "seed {seed}: {stderr}");
    shale_fails(&["dump", "sst", path_str(table)], 1);
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
fn dump_sst_prints_properties_and_entries() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(SEED);
    let count = rng.below(500) + 100;
    let path = dir.path().join("000007.sst");
    let tombstones = write_table(&path, &mut rng, count);
    let output = shale(&["dump", "sst", path_str(&path), "--entries"]);
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

    // The same table under a name shaledb never uses is read all the same.
    let renamed = dir.path().join("table.bin");
    std::fs::copy(&path, &renamed).expect("copy table");
    let output = shale(&["dump", "sst", path_str(&renamed)]);
    assert!(output.status.success(), "{:?}", text(&output));
    assert!(text(&output).0.contains("SSTable"));
}

#[test]
fn dump_wal_lists_records_and_reports_damage() {
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
    let output = shale(&["dump", "wal", path_str(&path)]);
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
    let output = shale(&["dump", "wal", path_str(&damaged)]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("DAMAGE: bytes 16.."), "{stdout}");
    assert!(stderr.contains("is damaged"), "{stderr}");
}

#[test]
fn dump_manifest_reads_current_and_every_edit() {
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
            global_sequence: None,
        },
    );
    writer.append(&edit).expect("append edit");
    write_current(dir.path(), number).expect("write CURRENT");

    let output = shale(&["dump", "manifest", path_str(dir.path())]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("CURRENT: names"), "{stdout}");
    assert!(stdout.contains("MANIFEST-000002"), "{stdout}");
    assert!(stdout.contains("2 records"), "{stdout}");
    assert!(stdout.contains("snapshot of the whole state"), "{stdout}");
    assert!(
        stdout.contains("add L1 #9: 4321 bytes, keys 'apple'..'pear'"),
        "{stdout}"
    );
    assert!(stdout.contains("last sequence 77"), "{stdout}");
    assert!(stdout.contains("L1: 1 files, 4321 bytes"), "{stdout}");

    // The manifest file itself can be named too.
    let manifest = dir.path().join("MANIFEST-000002");
    let output = shale(&["dump", "manifest", path_str(&manifest)]);
    assert!(output.status.success(), "{:?}", text(&output));
    assert!(text(&output).0.contains("L1: 1 files, 4321 bytes"));

    // A directory without CURRENT is not a database.
    let empty = tempfile::tempdir().expect("temporary directory");
    let output = shale(&["dump", "manifest", path_str(empty.path())]);
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
}

#[test]
fn dump_of_missing_garbage_and_damaged_files_fails_with_a_message() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(SEED + 2);
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, rng.bytes(3000)).expect("write garbage");
    let fake_table = dir.path().join("000005.sst");
    std::fs::write(&fake_table, rng.bytes(3000)).expect("write fake table");
    let fake_log = dir.path().join("000006.wal");
    std::fs::write(&fake_log, rng.bytes(100)).expect("write fake log");
    let missing = dir.path().join("000009.sst");
    for (kind, path, expected) in [
        ("sst", &missing, "cannot read"),
        ("sst", &garbage, "corruption in"),
        ("wal", &garbage, "corruption in"),
        ("sst", &fake_table, "corruption in"),
        ("wal", &fake_log, "corruption in"),
    ] {
        let output = shale(&["dump", kind, path_str(path)]);
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
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
    let output = shale(&["dump", "sst"]);
    assert_eq!(output.status.code(), Some(2), "{:?}", text(&output));
}

/// The names whose presence, size or bytes differ between two [`directory_contents`].
fn changed_files(
    before: &std::collections::BTreeMap<String, (u64, Vec<u8>)>,
    after: &std::collections::BTreeMap<String, (u64, Vec<u8>)>,
) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .map(|name| match (before.get(name), after.get(name)) {
            (None, _) => format!("{name} (created)"),
            (_, None) => format!("{name} (removed)"),
            _ => format!("{name} (changed)"),
        })
        .collect()
}

#[test]
fn inspection_commands_leave_every_file_unchanged() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let seed = common::test_seed("cli_inspection_changes_nothing");
    let mut rng = Rng::new(seed);
    // Tables from a flush, and writes that only the write-ahead log holds.
    let options = Options {
        write_buffer_size: 64 << 10,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).expect("open");
    let events = db
        .keyspace("events", KeyspaceOptions::default())
        .expect("keyspace");
    for index in 0..300u32 {
        let length = rng.between(10, 200);
        db.put(format!("key-{index:04}").as_bytes(), &rng.bytes(length))
            .expect("put");
        events
            .put(format!("event-{index:04}").as_bytes(), b"e")
            .expect("put");
        if index == 199 {
            db.flush().expect("flush");
        }
    }
    db.close().expect("close");
    let files = directory_contents(dir.path());
    let named = |suffix: &str| {
        let name = files
            .keys()
            .find(|name| name.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix} file in {:?}", files.keys()));
        dir.path().join(name)
    };
    let (table, wal) = (named(".sst"), named(".wal"));
    let db = path_str(dir.path());
    // Each command with the exit status it should have.
    let commands: [(&[&str], i32); 16] = [
        (&["get", db, "key-0250"], 0),
        (&["get", db, "absent"], 1),
        (&["get", db, "event-0250", "--keyspace", "events"], 0),
        (
            &["get", db, "key-0250", "--keyspace", "no-such-keyspace"],
            1,
        ),
        (&["scan", db], 0),
        (&["scan", db, "--keyspace", "events"], 0),
        (&["stats", db], 0),
        (&["stats", db, "--keyspace", "events"], 0),
        (&["verify", db], 0),
        (&["verify", db, "--keyspace", "events"], 0),
        (&["keyspaces", db], 0),
        (&["dump", "manifest", db], 0),
        (&["dump", "wal", path_str(&wal)], 0),
        (&["dump", "sst", path_str(&table)], 0),
        (&["dump", "sst", path_str(&table), "--entries"], 0),
        (&["stats", db, "--keyspace", "no-such-keyspace"], 1),
    ];
    let mut problems = Vec::new();
    for (command, expected_status) in commands {
        let before = directory_contents(dir.path());
        let output = shale(command);
        if output.status.code() != Some(expected_status) {
            problems.push(format!("{command:?} failed: {:?}", text(&output)));
        }
        let changed = changed_files(&before, &directory_contents(dir.path()));
        if !changed.is_empty() {
            problems.push(format!("{command:?} changed {changed:?}"));
        }
    }
    assert!(problems.is_empty(), "seed {seed}: {problems:#?}");
    assert_eq!(
        shale_ok(&["scan", db]).lines().count(),
        300,
        "seed {seed}: the inspected database still holds every key"
    );
    assert_eq!(
        shale_ok(&["scan", db, "--keyspace", "events"])
            .lines()
            .count(),
        300,
        "seed {seed}: and every key of the other keyspace"
    );
}

#[test]
fn inspection_commands_work_while_a_program_has_the_database_open() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = Options {
        write_buffer_size: 64 << 10,
        ..Options::default()
    };
    // The library holds the database's LOCK for as long as `db` is open.
    let db = Db::open(dir.path(), options).expect("open");
    db.put(b"flushed", b"in a table").expect("put");
    db.flush().expect("flush");
    db.put(b"logged", b"in the log").expect("put");
    let events = db
        .keyspace("events", KeyspaceOptions::default())
        .expect("keyspace");
    events.put(b"logged", b"an event").expect("put");
    let path = path_str(dir.path());
    assert_eq!(shale_ok(&["get", path, "logged"]), "in the log\n");
    assert_eq!(
        shale_ok(&["get", path, "logged", "--keyspace", "events"]),
        "an event\n"
    );
    assert_eq!(shale_ok(&["keyspaces", path]), "default\nevents\n");
    assert!(shale_ok(&["stats", path]).contains("keyspace 'events'"));
    assert_eq!(
        shale_ok(&["scan", path]),
        "flushed\tin a table\nlogged\tin the log\n"
    );
    assert!(shale_ok(&["stats", path]).contains("level  files"));
    assert!(shale_ok(&["verify", path]).contains("; 3 live entries"));
    // Writing commands still need the lock.
    let stderr = shale_fails(&["put", path, "k", "v"], 1);
    assert!(stderr.contains("already open"), "{stderr}");
    let stderr = shale_fails(&["drop-keyspace", path, "events"], 1);
    assert!(stderr.contains("already open"), "{stderr}");
    db.put(b"later", b"after the inspections")
        .expect("the program writes on");
    db.close().expect("close");
}
