//! The commands that open a database: `get`, `put`, `delete`, `delete-range`, `scan`, `stats`,
//! `verify`, `compact`, `checkpoint`, `keyspaces` and `drop-keyspace`. Keys and values given on
//! the command line may use the escapes `scan` prints (`\xNN`, `\\`); keys and values printed
//! are escaped the same way, one entry per line, and so are keyspace names.
//!
//! Only `put` creates a database, and only `put` creates a keyspace (with default
//! `KeyspaceOptions`); every other command refuses a directory that holds no database, and a
//! `--keyspace` the database does not have, so that a typo is an error and not a new empty
//! database or keyspace. Writes are synced: when the command returns, the change is on stable
//! storage. A command opens an existing keyspace with the options the manifest recorded for it,
//! since `Db::keyspace` on a database open for writing records the options it is given.
//!
//! `get`, `scan`, `stats`, `verify` and `keyspaces` open the database read-only
//! (`Db::open_read_only`): they change no file, take no lock, and so also work beside a program
//! that has the database open. `put`, `delete`, `delete-range`, `compact`, `checkpoint` and
//! `drop-keyspace` open it for writing: a checkpoint is taken at the consistent point of the
//! engine's commit leader, which only a read-write handle has (and the read-write open has
//! already written every logged write to a table, so the checkpoint links tables and copies an
//! empty log).

use std::path::Path;

use shaledb::key::DEFAULT_KEYSPACE_NAME;
use shaledb::{
    Db, Keyspace, KeyspaceOptions, KeyspaceStats, LevelStats, Options, ReadOptions, VerifyReport,
    WriteOptions,
};

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

/// The keyspace named `name` (the default one for `None`) of `db`, opened read-only; an error
/// naming it if the database has none of that name.
fn read_keyspace(db: &Db, dir: &Path, name: Option<&str>) -> Result<Keyspace, CliError> {
    match other_keyspace(db, dir, name)? {
        // A read-only handle opens an existing keyspace whatever the options given.
        Some(name) => Ok(db.keyspace(name, KeyspaceOptions::default())?),
        None => Ok(db.default_keyspace()),
    }
}

/// The keyspace named `name` (the default one for `None`) of `db`, opened for writing with the
/// options the manifest records for it (`Db::keyspace` would record any others); an error
/// naming it if the database has none of that name.
fn write_keyspace(db: &Db, dir: &Path, name: Option<&str>) -> Result<Keyspace, CliError> {
    let Some(name) = other_keyspace(db, dir, name)? else {
        return Ok(db.default_keyspace());
    };
    Ok(db.keyspace(name, recorded_options(dir, name)?)?)
}

/// `name` when it names a keyspace of `db` other than the default one; `None` for the default
/// one; an error naming `name` when the database has no keyspace of that name.
fn other_keyspace<'name>(
    db: &Db,
    dir: &Path,
    name: Option<&'name str>,
) -> Result<Option<&'name str>, CliError> {
    let Some(name) = name.filter(|&name| name != DEFAULT_KEYSPACE_NAME) else {
        return Ok(None);
    };
    let names = db.keyspaces();
    if names.iter().any(|existing| existing == name) {
        return Ok(Some(name));
    }
    let listed: Vec<String> = names.iter().map(|name| quoted_name(name)).collect();
    Err(CliError::Failed(format!(
        "{} has no keyspace named {} (its keyspaces: {})",
        dir.display(),
        quoted_name(name),
        listed.join(", ")
    )))
}

/// The options the manifest of the database in `dir` records for keyspace `name`. Read while
/// the command holds the database open for writing (and so its lock): nothing else changes them.
fn recorded_options(dir: &Path, name: &str) -> Result<KeyspaceOptions, CliError> {
    let state = shaledb::manifest::recover(dir)?;
    let recorded = state
        .keyspace_named(name)
        .map(|id| state.keyspace(id).options.as_slice());
    let Some(recorded) = recorded else {
        return Err(CliError::Failed(format!(
            "the manifest of {} records no keyspace named {}",
            dir.display(),
            quoted_name(name)
        )));
    };
    KeyspaceOptions::decode_recorded(recorded).map_err(|error| {
        CliError::Failed(format!(
            "the options the manifest of {} records for keyspace {} do not decode: {error}",
            dir.display(),
            quoted_name(name)
        ))
    })
}

/// A keyspace name as messages and headings show it: escaped, in quotes.
fn quoted_name(name: &str) -> String {
    format!("'{}'", escape_bytes(name.as_bytes()))
}

/// The bytes of a key or value given on the command line.
fn argument_bytes(what: &str, text: &str) -> Result<Vec<u8>, CliError> {
    unescape(text).map_err(|reason| CliError::Usage(format!("{what} {reason}")))
}

/// `shale get DIR KEY [--keyspace NAME]`: prints the value, or fails if the key is absent.
pub fn get(dir: &Path, keyspace: Option<&str>, key: &str) -> Result<(), CliError> {
    let key_bytes = argument_bytes("KEY", key)?;
    let db = open_read_only(dir)?;
    let value = read_keyspace(&db, dir, keyspace)?.get(&key_bytes)?;
    db.close()?;
    match value {
        Some(value) => {
            say!("{}", escape_bytes(&value));
            Ok(())
        }
        None => Err(CliError::Failed(format!("key '{key}' not found"))),
    }
}

/// `shale put DIR KEY VALUE [--keyspace NAME]`: creates the database, and the keyspace, if
/// missing.
pub fn put(dir: &Path, keyspace: Option<&str>, key: &str, value: &str) -> Result<(), CliError> {
    let key_bytes = argument_bytes("KEY", key)?;
    let value_bytes = argument_bytes("VALUE", value)?;
    let db = open(dir, true)?;
    let target = match keyspace {
        Some(name) if !db.keyspaces().iter().any(|existing| existing == name) => {
            db.keyspace(name, KeyspaceOptions::default())?
        }
        _ => write_keyspace(&db, dir, keyspace)?,
    };
    target.put_with(&key_bytes, &value_bytes, &WriteOptions::SYNC)?;
    Ok(db.close()?)
}

/// `shale delete DIR KEY [--keyspace NAME]`.
pub fn delete(dir: &Path, keyspace: Option<&str>, key: &str) -> Result<(), CliError> {
    let key_bytes = argument_bytes("KEY", key)?;
    let db = open(dir, false)?;
    write_keyspace(&db, dir, keyspace)?.delete_with(&key_bytes, &WriteOptions::SYNC)?;
    Ok(db.close()?)
}

/// `shale delete-range DIR START END [--keyspace NAME]`: deletes `[START, END)` in one synced
/// write.
pub fn delete_range(
    dir: &Path,
    keyspace: Option<&str>,
    start: &str,
    end: &str,
) -> Result<(), CliError> {
    let start_bytes = argument_bytes("START", start)?;
    let end_bytes = argument_bytes("END", end)?;
    let db = open(dir, false)?;
    write_keyspace(&db, dir, keyspace)?.delete_range_with(
        start_bytes.as_slice()..end_bytes.as_slice(),
        &WriteOptions::SYNC,
    )?;
    Ok(db.close()?)
}

/// `shale scan DIR [--keyspace NAME] [--from K] [--to K] [--limit N]`: `KEY<TAB>VALUE` lines
/// in key order.
pub fn scan(
    dir: &Path,
    keyspace: Option<&str>,
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
    let source = read_keyspace(&db, dir, keyspace)?;
    let limit = limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit).unwrap_or(usize::MAX)
    });
    for item in source.range((lower, upper)).take(limit) {
        let (key, value) = item?;
        say!("{}\t{}", escape_bytes(&key), escape_bytes(&value));
    }
    Ok(db.close()?)
}

/// `shale stats DIR`: `Db::stats` as its table (the default keyspace's levels with the
/// database's counters), then every other keyspace's levels and memtables; with `--keyspace
/// NAME`, that keyspace's alone.
pub fn stats(dir: &Path, keyspace: Option<&str>) -> Result<(), CliError> {
    let db = open_read_only(dir)?;
    if let Some(name) = keyspace {
        let stats = read_keyspace(&db, dir, Some(name))?.stats()?;
        for line in keyspace_stats_lines(&stats) {
            say!("{line}");
        }
        return Ok(db.close()?);
    }
    let mut stats = db.stats();
    // `Stats`' own table prints the other keyspaces on one line each; they get tables below.
    let others = stats.keyspaces.split_off(stats.keyspaces.len().min(1));
    if !others.is_empty() {
        say!("keyspace {}", quoted_name(DEFAULT_KEYSPACE_NAME));
    }
    say!("{}", stats.to_string().trim_end());
    for other in &others {
        say!();
        for line in keyspace_stats_lines(other) {
            say!("{line}");
        }
    }
    Ok(db.close()?)
}

/// One keyspace's statistics: a heading, its levels as `Stats` prints them, its memtables.
fn keyspace_stats_lines(stats: &KeyspaceStats) -> Vec<String> {
    let mut lines = vec![format!("keyspace {}", quoted_name(&stats.name))];
    lines.extend(level_table(&stats.levels, &stats.level_scores));
    lines.push(format!(
        "memtable {:.1} MiB; {} frozen ({:.1} MiB)",
        mebibytes(stats.memtable_bytes),
        stats.immutable_memtables,
        mebibytes(stats.immutable_memtable_bytes)
    ));
    lines
}

/// Files, MiB and compaction score per level, in the layout of `Stats`' table.
fn level_table(levels: &[LevelStats], scores: &[f64]) -> Vec<String> {
    let mut lines = vec![String::from("level  files      MiB  score")];
    for (level, stats) in levels.iter().enumerate() {
        let mut line = format!(
            "L{level}    {:>6} {:>8.1}",
            stats.files,
            mebibytes(stats.bytes)
        );
        if let Some(score) = scores.get(level) {
            line.push_str(&format!("  {score:>5.2}"));
        }
        lines.push(line);
    }
    lines
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// What [`read_back`] read of one keyspace.
struct ReadBack {
    name: String,
    entries: u64,
    bytes: u64,
}

/// Reads every live entry of `keyspace` through the read path with checksum verification, the
/// memtable included.
fn read_back(keyspace: &Keyspace) -> Result<ReadBack, CliError> {
    let options = ReadOptions {
        fill_cache: false,
        verify_checksums: true,
        ..ReadOptions::default()
    };
    let mut read = ReadBack {
        name: keyspace.name().to_string(),
        entries: 0,
        bytes: 0,
    };
    for item in keyspace.range_with(.., &options) {
        let (key, value) = item?;
        read.entries += 1;
        read.bytes += (key.len() + value.len()) as u64;
    }
    Ok(read)
}

/// `Db::verify` (the manifest against the live state, every block of every live table against
/// its checksum and the table against its manifest record), then every keyspace's live entries
/// read back; for one `keyspace`, `Keyspace::verify` (the manifest, and that keyspace's tables)
/// and its entries. Opening the database already replayed the manifest and write-ahead logs
/// with their checks.
fn verify_database(
    db: &Db,
    keyspace: Option<&Keyspace>,
) -> Result<(VerifyReport, Vec<ReadBack>), CliError> {
    if let Some(keyspace) = keyspace {
        return Ok((keyspace.verify()?, vec![read_back(keyspace)?]));
    }
    let report = db.verify()?;
    let mut reads = Vec::new();
    for name in db.keyspaces() {
        reads.push(read_back(&db.keyspace(&name, KeyspaceOptions::default())?)?);
    }
    Ok((report, reads))
}

/// `shale verify DIR [--keyspace NAME]`: the manifest and every keyspace (or the one named);
/// exit status 1 if anything is damaged.
pub fn verify(dir: &Path, keyspace: Option<&str>) -> Result<(), CliError> {
    let db = open_read_only(dir)?;
    let chosen = match keyspace {
        Some(name) => Some(read_keyspace(&db, dir, Some(name))?),
        None => None,
    };
    let (report, reads) = verify_database(&db, chosen.as_ref())
        .map_err(|error| CliError::Failed(format!("{} is damaged: {error}", dir.display())))?;
    let subject = match keyspace {
        Some(name) => format!("{}, keyspace {}", dir.display(), quoted_name(name)),
        None => dir.display().to_string(),
    };
    let entries: u64 = reads.iter().map(|read| read.entries).sum();
    let bytes: u64 = reads.iter().map(|read| read.bytes).sum();
    say!(
        "{subject}: ok: {} files ({} bytes), {} blocks and {} table entries checked; {entries} \
         live entries ({bytes} bytes of keys and values) read back",
        report.files,
        report.bytes,
        report.blocks,
        report.entries,
    );
    if reads.len() > 1 {
        for read in &reads {
            say!(
                "  keyspace {}: {} live entries ({} bytes)",
                quoted_name(&read.name),
                read.entries,
                read.bytes
            );
        }
    }
    Ok(db.close()?)
}

/// `shale compact DIR [--keyspace NAME]`: compacts the keyspace down to the last level; prints
/// its tree before and after.
pub fn compact(dir: &Path, keyspace: Option<&str>) -> Result<(), CliError> {
    let db = open(dir, false)?;
    let target = write_keyspace(&db, dir, keyspace)?;
    say!("before:");
    for line in tree_lines(&target.stats()?.levels) {
        say!("  {line}");
    }
    target.compact_range(..)?;
    say!("after:");
    for line in tree_lines(&target.stats()?.levels) {
        say!("  {line}");
    }
    Ok(db.close()?)
}

/// `shale keyspaces DIR`: the keyspaces' names, one per line, escaped.
pub fn keyspaces(dir: &Path) -> Result<(), CliError> {
    let db = open_read_only(dir)?;
    for name in db.keyspaces() {
        say!("{}", escape_bytes(name.as_bytes()));
    }
    Ok(db.close()?)
}

/// `shale drop-keyspace DIR NAME`: drops the keyspace and its data, durably.
pub fn drop_keyspace(dir: &Path, name: &str) -> Result<(), CliError> {
    let db = open(dir, false)?;
    if other_keyspace(&db, dir, Some(name))?.is_none() {
        return Err(CliError::Failed(String::from(
            "the default keyspace cannot be dropped",
        )));
    }
    db.drop_keyspace(name)?;
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
