//! `Db::verify`: reads back everything the current version depends on and reports the first
//! bad place. It re-reads the manifest chain from `CURRENT` (with every consistency check of
//! recovery) and compares the result with the live state, then opens every live table afresh
//! from its file (footer, properties, filter and index are checked by `Table::open`), reads
//! every data block with its checksum verified and without the block cache, decodes every
//! entry, and compares what it found with the table's properties and its manifest record.
//!
//! Invariants: verify never changes a file and never fills the block cache; it holds the
//! engine's state lock only while it re-reads the manifest, so that no edit is appended in
//! between. The first problem is returned as `Error::Corruption { file, offset, reason }`.
//!
//! A database opened read-only may have a writer beside it, which appends to the manifest, rolls
//! it and deletes the tables its compactions replaced. So there the manifest is re-read with
//! retries, it must describe the state the handle opened or a later one (never an older one),
//! and a table whose file is gone is checked from the bytes the handle keeps mapped, once a
//! fresh read of the manifest confirms that the writer dropped it (a live table that is missing
//! is still corruption).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::engine::{Engine, lock, read_only_attempts};
use crate::error::{Error, Result};
use crate::fs::table_path;
use crate::key::{
    KeyspaceId, SequenceNumber, ValueKind, compare_internal_keys, parse_internal_key,
};
use crate::manifest::{FileMetadata, ManifestState, recover_on};
use crate::sstable::reader::decode_handle;
use crate::sstable::{BlockReadOptions, Table};
use crate::version::{TableHandle, Version};

/// What [`Db::verify`](crate::Db::verify) checked, when it found nothing wrong.
///
/// ```
/// use shaledb::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"k", b"v")?;
/// db.flush()?;
/// let report = db.verify()?;
/// assert!(report.files >= 2 && report.entries >= 1); // the manifest and one table
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Files checked: the manifest and every live table.
    pub files: u64,
    /// Table blocks whose checksum was verified (data, index, filter and properties blocks).
    pub blocks: u64,
    /// Table entries decoded (values and tombstones).
    pub entries: u64,
    /// Bytes of table files checked.
    pub bytes: u64,
}

/// See [`Db::verify`](crate::Db::verify): the manifest, and the tables of `keyspace` (of every
/// keyspace when `None`).
pub(crate) fn verify(engine: &Engine, keyspace: Option<KeyspaceId>) -> Result<VerifyReport> {
    let version = {
        let state = lock(&engine.state);
        let live = state.versions.manifest_state();
        let manifest = state.versions.manifest_path();
        if engine.read_only {
            let on_disk = read_only_attempts(|| recover_on(engine.file_system(), &engine.dir))?;
            compare_read_only_states(&on_disk, live, manifest)?;
        } else {
            let on_disk = recover_on(engine.file_system(), &engine.dir)?;
            compare_states(&on_disk, live, manifest)?;
        }
        let versions: Vec<Arc<Version>> = state
            .versions
            .all_current()
            .filter(|&(id, _)| keyspace.is_none_or(|wanted| wanted == id))
            .map(|(_, version)| Arc::clone(version))
            .collect();
        versions
    };
    let mut report = VerifyReport {
        files: 1,
        ..VerifyReport::default()
    };
    for (_, handle) in version.iter().flat_map(|version| version.all_tables()) {
        let table = open_table(engine, handle)?;
        let table = match handle.metadata.global_sequence {
            Some(sequence) => table.at_global_sequence(sequence)?,
            None => table,
        };
        verify_table(&table, &handle.metadata, &mut report)?;
    }
    Ok(report)
}

/// Table `handle` opened afresh from its file, without the block cache; for a read-only
/// database, from the bytes `handle` holds when a writer beside it has deleted the file.
fn open_table(engine: &Engine, handle: &TableHandle) -> Result<Table> {
    let number = handle.metadata.number;
    let path = table_path(&engine.dir, number);
    match Table::open_on(engine.file_system(), &path, number, None) {
        Err(Error::Io { source, .. })
            if engine.read_only && source.kind() == std::io::ErrorKind::NotFound =>
        {
            // A writer deletes a table only after the manifest stops naming it.
            let on_disk = read_only_attempts(|| recover_on(engine.file_system(), &engine.dir))?;
            if let Some(level) = on_disk.level_of(number) {
                return Err(Error::corruption(
                    &path,
                    0,
                    format!(
                        "table {number} of level {level} is missing: the manifest records it as live"
                    ),
                ));
            }
            handle.table.reopen_uncached()
        }
        opened => opened,
    }
}

/// For a database opened read-only: the manifest on disk must describe the state the handle
/// opened or a later one, since a writer may have gone on beside it; a writer never moves its
/// counters back, so an older state means the manifest lost edits.
fn compare_read_only_states(
    on_disk: &ManifestState,
    opened: &ManifestState,
    manifest: &std::path::Path,
) -> Result<()> {
    let older = on_disk.manifest_number < opened.manifest_number
        || on_disk.next_file_number < opened.next_file_number
        || on_disk.log_number < opened.log_number
        || on_disk.last_sequence < opened.last_sequence;
    if !older {
        return Ok(());
    }
    Err(Error::corruption(
        manifest,
        0,
        format!(
            "the manifest on disk describes a state older than the one this read-only handle \
             opened: on disk manifest {}, next file number {}, log number {}, last sequence {}; \
             opened manifest {}, next file number {}, log number {}, last sequence {}",
            on_disk.manifest_number,
            on_disk.next_file_number,
            on_disk.log_number,
            on_disk.last_sequence,
            opened.manifest_number,
            opened.next_file_number,
            opened.log_number,
            opened.last_sequence
        ),
    ))
}

/// The manifest on disk must describe the state the engine runs with.
fn compare_states(
    on_disk: &ManifestState,
    live: &ManifestState,
    manifest: &std::path::Path,
) -> Result<()> {
    if on_disk == live {
        return Ok(());
    }
    Err(Error::corruption(
        manifest,
        0,
        format!(
            "the manifest on disk does not describe the live state: on disk {} live files, log \
             number {}, last sequence {}; live {} files, log number {}, last sequence {}",
            on_disk.files().count(),
            on_disk.log_number,
            on_disk.last_sequence,
            live.files().count(),
            live.log_number,
            live.last_sequence
        ),
    ))
}

/// What the entries of one table add up to.
struct TableTally {
    entries: u64,
    tombstones: u64,
    smallest_sequence: SequenceNumber,
    largest_sequence: SequenceNumber,
    first_key: Option<Vec<u8>>,
    last_key: Option<Vec<u8>>,
}

/// Reads every block of `table` and checks it against its manifest record `metadata`.
fn verify_table(table: &Table, metadata: &FileMetadata, report: &mut VerifyReport) -> Result<()> {
    if table.file_size() != metadata.file_size {
        return Err(Error::corruption(
            table.file(),
            table.file_size().min(metadata.file_size),
            format!(
                "table is {} bytes, but the manifest records {} bytes",
                table.file_size(),
                metadata.file_size
            ),
        ));
    }
    let tally = read_data_blocks(table, report)?;
    compare_tally(table, metadata, &tally)?;
    let has_filter = table.footer().filter.size > 0;
    // The index, properties and (if any) filter blocks were verified by `Table::open`.
    report.blocks += 2 + u64::from(has_filter);
    report.files += 1;
    report.bytes += table.file_size();
    report.entries += tally.entries;
    Ok(())
}

/// Reads every data block the index lists, verifying checksums and entry order.
fn read_data_blocks(table: &Table, report: &mut VerifyReport) -> Result<TableTally> {
    let options = BlockReadOptions {
        verify_checksums: true,
        fill_cache: false,
    };
    let mut tally = TableTally {
        entries: 0,
        tombstones: 0,
        smallest_sequence: SequenceNumber::MAX,
        largest_sequence: SequenceNumber(0),
        first_key: None,
        last_key: None,
    };
    let mut index = table.index_block().iter();
    index.seek_to_first()?;
    while index.valid() {
        let handle = decode_handle(&index)?;
        let block = table.read_block(handle, options)?;
        let mut entries = block.iter();
        entries.seek_to_first()?;
        while entries.valid() {
            let key = entries.key();
            let parsed = parse_internal_key(key)
                .map_err(|reason| Error::corruption(table.file(), handle.offset, reason))?;
            if let Some(previous) = &tally.last_key
                && compare_internal_keys(previous, key) != Ordering::Less
            {
                return Err(Error::corruption(
                    table.file(),
                    handle.offset,
                    "keys are not in strictly increasing order",
                ));
            }
            tally.entries += 1;
            tally.tombstones += u64::from(parsed.kind == ValueKind::Tombstone);
            tally.smallest_sequence = tally.smallest_sequence.min(parsed.sequence);
            tally.largest_sequence = tally.largest_sequence.max(parsed.sequence);
            tally.first_key.get_or_insert_with(|| key.to_vec());
            tally.last_key = Some(key.to_vec());
            entries.next()?;
        }
        report.blocks += 1;
        index.next()?;
    }
    Ok(tally)
}

/// The entries found must match the table's properties and its manifest record.
fn compare_tally(table: &Table, metadata: &FileMetadata, tally: &TableTally) -> Result<()> {
    let properties = table.properties();
    let empty: &[u8] = &[];
    let first = tally.first_key.as_deref().unwrap_or(empty);
    let last = tally.last_key.as_deref().unwrap_or(empty);
    // The key range and sequence numbers the manifest records cover the range tombstones too.
    let (smallest, largest) = table.key_range();
    let tombstones = table.range_tombstones();
    let has_items = tally.entries > 0 || !tombstones.is_empty();
    let (mut smallest_sequence, mut largest_sequence) =
        (tally.smallest_sequence, tally.largest_sequence);
    // A table read at a global sequence number holds sequence 0 in its blocks
    // (`Table::at_global_sequence` checked the properties say so; the tally checks the blocks).
    if let Some(global) = table.global_sequence()
        && tally.entries > 0
    {
        if largest_sequence != SequenceNumber(0) {
            return Err(Error::corruption(
                table.file(),
                0,
                format!(
                    "a table read at global sequence {global} holds sequence numbers up to \
                     {largest_sequence} in its blocks, not 0"
                ),
            ));
        }
        (smallest_sequence, largest_sequence) = (global, global);
    }
    if let Some((low, high)) = tombstones.sequence_range() {
        if tally.entries == 0 {
            (smallest_sequence, largest_sequence) = (low, high);
        } else {
            smallest_sequence = smallest_sequence.min(low);
            largest_sequence = largest_sequence.max(high);
        }
    }
    // A table read at a global sequence number is recorded at it even when it holds range
    // tombstones only (read one below it: FORMAT.md 6.1, tag 14).
    if let Some(global) = table.global_sequence()
        && has_items
    {
        largest_sequence = global;
    }
    let mismatch = if properties.entry_count != tally.entries {
        Some(format!(
            "properties count {} entries, the blocks hold {}",
            properties.entry_count, tally.entries
        ))
    } else if properties.tombstone_count != tally.tombstones {
        Some(format!(
            "properties count {} tombstones, the blocks hold {}",
            properties.tombstone_count, tally.tombstones
        ))
    } else if properties.smallest_key != first || properties.largest_key != last {
        Some("properties name other smallest or largest keys than the blocks hold".to_string())
    } else if (metadata.smallest.as_slice(), metadata.largest.as_slice())
        != (smallest.as_slice(), largest.as_slice())
    {
        Some("the manifest records other smallest or largest keys than the table holds".into())
    } else if has_items
        && (metadata.smallest_sequence != smallest_sequence
            || metadata.largest_sequence != largest_sequence)
    {
        Some(format!(
            "the manifest records sequences {}..={}, the table holds {}..={}",
            metadata.smallest_sequence,
            metadata.largest_sequence,
            smallest_sequence,
            largest_sequence
        ))
    } else {
        None
    };
    match mismatch {
        None => Ok(()),
        Some(reason) => Err(Error::corruption(
            table.file(),
            table.footer().properties.offset,
            reason,
        )),
    }
}
