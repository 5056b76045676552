//! The commands that open a database: `get`, `put`, `delete`, `delete-range`, `scan`, `stats`,
//! `verify`, `compact` and `checkpoint`. Keys and values given on the command line may use the
//! escapes `scan` prints (`\xNN`, `\\`); keys and values printed are escaped the same way, one
//! entry per line.
//!
//! Only `put` creates a database; every other command refuses a directory that holds none, so
//! that a typo in DIR is an error and not a new empty database. Writes are synced: when the
//! command returns, the change is on stable storage.
//!
//! `get`, `scan`, `stats` and `verify` open the database read-only (`Db::open_read_only`): they
//! change no file, take no lock, and so also work beside a program that has the database open.
//! `put`, `delete`, `delete-range`, `compact` and `checkpoint` open it for writing: a checkpoint is taken at the
//! consistent point of the engine's commit leader, which only a read-write handle has (and the
//! read-write open has already written every logged write to a table, so the checkpoint links
//! tables and copies an empty log).

use std::path::Path;

use shaledb::{Db, Options, ReadOptions, VerifyReport, WriteOptions};

use super::bench::report::tree_lines;
use super::error::CliError;
use super::escape::{escape_bytes, unescape};

/// Memtable size of the commands: a write-ahead log is preallocated to it on every open, and
/// the library's 64 MiB default would make each command write 64 MiB of zeros.
const COMMAND_WRITE_BUFFER_SIZE: usize = 1 << 20;

/// Opens the database in `dir` for writing; creates one only if `create`.
fn open(dir: &Path, create: bool) -> Result<Db, CliError> {
    let options = Options {
        create_if_missing: create,
        write_buffer_size: COMMAND_WRITE_BUFFER_SIZE,
        ..Options::default()
    };
    Db::open(dir, options).map_err(|error| cannot_open(dir, error))
}

/// Opens the database in `dir` read-only: nothing in the directory changes.
fn open_read_only(dir: &Path) -> Result<Db, CliError> {
    Db::open_read_only(dir, Options::default()).map_err(|error| cannot_open(dir, error))
}

fn cannot_open(dir: &Path, error: shaledb::Error) -> CliError {
    CliError::Failed(format!("cannot open {}: {error}", dir.display()))
}

/// The bytes of a key or value given on the command line.
fn argument_bytes(what: &str, text: &str) -> Result<Vec<u8>, CliError> {
    unescape(text).map_err(|reason| CliError::Usage(format!("{what} {reason}")))
}

/// `shale get DIR KEY`: prints the value, or fails if the key is absent.
pub fn get(dir: &Path, key: &str) -> Result<(), CliError> {
    let key_bytes = argument_bytes("KEY", key)?;
    let db = open_read_only(dir)?;
    let value = db.get(&key_bytes)?;
    db.close()?;
    match value {
        Some(value) => {
            say!("{}", escape_bytes(&value));
            Ok(())
        }
        None => Err(CliError::Failed(format!("key '{key}' not found"))),
    }
}

/// `shale put DIR KEY VALUE`.
pub fn put(dir: &Path, key: &str, value: &str) -> Result<(), CliError> {
    let key_bytes = argument_bytes("KEY", key)?;
    let value_bytes = argument_bytes("VALUE", value)?;
    let db = open(dir, true)?;
    db.put(&key_bytes, &value_bytes)?;
    Ok(db.close()?)
}

/// `shale delete DIR KEY`.
pub fn delete(dir: &Path, key: &str) -> Result<(), CliError> {
    let key_bytes = argument_bytes("KEY", key)?;
    let db = open(dir, false)?;
    db.delete(&key_bytes)?;
    Ok(db.close()?)
}

/// `shale delete-range DIR START END`: deletes `[START, END)` in one synced write.
pub fn delete_range(dir: &Path, start: &str, end: &str) -> Result<(), CliError> {
    let start_bytes = argument_bytes("START", start)?;
    let end_bytes = argument_bytes("END", end)?;
    let db = open(dir, false)?;
    db.delete_range_with(
        start_bytes.as_slice()..end_bytes.as_slice(),
        &WriteOptions::SYNC,
    )?;
    Ok(db.close()?)
}

/// `shale scan DIR [--from K] [--to K] [--limit N]`: `KEY<TAB>VALUE` lines in key order.
pub fn scan(
    dir: &Path,
    from: Option<&str>,
    to: Option<&str>,
    limit: Option<u64>,
) -> Result<(), CliError> {
    use std::ops::Bound;
    let lower = match from {
        Some(key) => Bound::Included(argument_bytes("--from", key)?),
        None => Bound::Unbounded,
    };
    let upper = match to {
        Some(key) => Bound::Excluded(argument_bytes("--to", key)?),
        None => Bound::Unbounded,
    };
    let db = open_read_only(dir)?;
    let limit = limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit).unwrap_or(usize::MAX)
    });
    for item in db.range((lower, upper)).take(limit) {
        let (key, value) = item?;
        say!("{}\t{}", escape_bytes(&key), escape_bytes(&value));
    }
    Ok(db.close()?)
}

/// `shale stats DIR`: `Db::stats` as its table.
pub fn stats(dir: &Path) -> Result<(), CliError> {
    let db = open_read_only(dir)?;
    let stats = db.stats();
    say!("{}", stats.to_string().trim_end());
    Ok(db.close()?)
}

/// What [`verify_database`] checked.
struct VerifySummary {
    report: VerifyReport,
    entries: u64,
    bytes: u64,
}

/// `Db::verify` (the manifest against the live state, every block of every live table against
/// its checksum and the table against its manifest record), then a read of every live entry
/// through the read path with checksum verification, the memtable included. Opening the
/// database already replayed the manifest and write-ahead logs with their checks.
fn verify_database(db: &Db) -> Result<VerifySummary, CliError> {
    let report = db.verify()?;
    let options = ReadOptions {
        fill_cache: false,
        verify_checksums: true,
        ..ReadOptions::default()
    };
    let mut summary = VerifySummary {
        report,
        entries: 0,
        bytes: 0,
    };
    for item in db.range_with(.., &options) {
        let (key, value) = item?;
        summary.entries += 1;
        summary.bytes += (key.len() + value.len()) as u64;
    }
    Ok(summary)
}

/// `shale verify DIR`: exit status 1 if anything is damaged.
pub fn verify(dir: &Path) -> Result<(), CliError> {
    let db = open_read_only(dir)?;
    let summary = verify_database(&db)
        .map_err(|error| CliError::Failed(format!("{} is damaged: {error}", dir.display())))?;
    let report = &summary.report;
    say!(
        "{}: ok: {} files ({} bytes), {} blocks and {} table entries checked; {} live entries \
         ({} bytes of keys and values) read back",
        dir.display(),
        report.files,
        report.bytes,
        report.blocks,
        report.entries,
        summary.entries,
        summary.bytes
    );
    Ok(db.close()?)
}

/// `shale compact DIR`: compacts everything down to the last level; prints the tree before
/// and after.
pub fn compact(dir: &Path) -> Result<(), CliError> {
    let db = open(dir, false)?;
    say!("before:");
    for line in tree_lines(&db.stats().levels) {
        say!("  {line}");
    }
    db.compact_range(..)?;
    say!("after:");
    for line in tree_lines(&db.stats().levels) {
        say!("  {line}");
    }
    Ok(db.close()?)
}

/// `shale checkpoint DIR DEST`: a checkpoint of the database in DIR, in the new or empty
/// directory DEST; prints what it linked and copied.
pub fn checkpoint(dir: &Path, dest: &Path) -> Result<(), CliError> {
    let db = open(dir, false)?;
    let report = db.checkpoint(dest).map_err(|error| {
        CliError::Failed(format!(
            "cannot make a checkpoint of {} in {}: {error}",
            dir.display(),
            dest.display()
        ))
    })?;
    db.close()?;
    say!(
        "checkpoint of {} in {} at sequence {}: {} tables ({} bytes), {} logs; {} files \
         linked, {} copied ({} bytes)",
        dir.display(),
        dest.display(),
        report.sequence.0,
        report.tables,
        report.table_bytes,
        report.logs,
        report.files_linked,
        report.files_copied,
        report.bytes_copied
    );
    Ok(())
}
