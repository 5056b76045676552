//! `shale dump wal|manifest`: every record with its offset and size, every damaged range
//! with its reason; for a write-ahead log each batch's operations (with the keyspace id of those
//! outside the default keyspace), and for a manifest each version edit decoded (keyspace
//! declarations with their options decoded too) and replayed into the state it describes, per
//! keyspace (with the same consistency checks as recovery). FORMAT.md, sections 4, 6 and 7, is
//! the source of truth.
//!
//! Exit status: 0 for an intact log or one whose only damage is a torn tail (what a crash in
//! the middle of an append leaves, and what recovery ignores); 1 for damage in the middle, an
//! edit that does not decode, or an inconsistent edit.

use std::path::Path;

use shaledb::batch::BatchReader;
use shaledb::key::{FileNumber, KeyspaceId};
use shaledb::log::{LogEvent, LogFileKind, LogReader};
use shaledb::manifest::{FileMetadata, KeyspaceState, ManifestState, VersionEdit};
use shaledb::sync_marker::decode_sync_marker;
use shaledb::{BatchOperation, Compression, KeyspaceOptions};

use super::error::CliError;
use super::escape::escape_bytes;

/// What the walk over a log found.
#[derive(Debug, Default)]
struct LogSummary {
    records: u64,
    payload_bytes: u64,
    /// Damaged ranges in the middle, undecodable or inconsistent edits.
    problems: u64,
    torn_tail: bool,
    /// The manifest state replayed so far (manifests only).
    state: Option<ManifestState>,
}

/// Prints the log at `path` (of `kind`, numbered `number`).
pub fn run(path: &Path, kind: LogFileKind, number: FileNumber) -> Result<(), CliError> {
    let reader = LogReader::open(path, kind)?;
    let size = std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    say!(
        "{}: {kind} log, {size} bytes, log format version {}",
        path.display(),
        reader.version()
    );
    let mut summary = LogSummary::default();
    for event in reader {
        match event {
            LogEvent::Record { offset, payload } => {
                summary.records += 1;
                summary.payload_bytes += payload.len() as u64;
                let size = payload.len();
                match kind {
                    LogFileKind::Wal => {
                        let (batch, operations) = describe_batch(&payload);
                        say!("record at offset {offset}: {size} bytes{batch}");
                        for operation in operations {
                            say!("  {operation}");
                        }
                    }
                    LogFileKind::Manifest => {
                        say!("record at offset {offset}: {size} bytes");
                        print_edit(&payload, number, &mut summary)?;
                    }
                }
            }
            LogEvent::Corruption { start, end, reason } => {
                summary.problems += 1;
                say!(
                    "DAMAGE: bytes {start}..{end} ({} bytes) lost: {reason}",
                    end - start
                );
            }
            LogEvent::TornTail { offset, reason } => {
                summary.torn_tail = true;
                say!(
                    "torn tail from offset {offset}: {reason} (an incomplete last write, as a \
                     crash leaves it; recovery ignores it)"
                );
            }
        }
    }
    print_summary(path, &summary)
}

/// ", write batch ..." and a line per operation when the payload decodes completely as a write
/// batch (", sync marker ..." for a sync marker), else nothing: the log itself does not
/// interpret records.
fn describe_batch(payload: &[u8]) -> (String, Vec<String>) {
    if let Some(synced_through) = decode_sync_marker(payload) {
        let marker = format!(", sync marker: this log was synced through offset {synced_through}");
        return (marker, Vec::new());
    }
    let Ok(mut reader) = BatchReader::new(payload) else {
        return (String::new(), Vec::new());
    };
    let (first, count) = (reader.first_sequence(), BatchReader::count(&reader));
    let mut operations = Vec::new();
    while let Some(decoded) = reader.next_in_keyspace() {
        let Ok((keyspace, operation)) = decoded else {
            return (String::new(), Vec::new());
        };
        let sequence = first.0 + operations.len() as u64;
        operations.push(describe_operation(sequence, keyspace, &operation));
    }
    let batch = format!(", write batch: {count} operations from sequence {first}");
    (batch, operations)
}

/// One operation of a batch as `key @ sequence kind`, with its keyspace unless the default.
fn describe_operation(sequence: u64, keyspace: KeyspaceId, operation: &BatchOperation) -> String {
    let mut line = match operation {
        BatchOperation::Put { key, value } => format!(
            "'{}' @ {sequence} put, {} bytes",
            escape_bytes(key),
            value.len()
        ),
        BatchOperation::Delete { key } => format!("'{}' @ {sequence} delete", escape_bytes(key)),
        BatchOperation::DeleteRange { start, end } => format!(
            "['{}', '{}') @ {sequence} delete range",
            escape_bytes(start),
            escape_bytes(end)
        ),
        BatchOperation::Merge { key, operand } => format!(
            "'{}' @ {sequence} merge, {} bytes",
            escape_bytes(key),
            operand.len()
        ),
    };
    if keyspace != KeyspaceId::DEFAULT {
        line.push_str(&format!(", keyspace {keyspace}"));
    }
    line
}

fn print_summary(path: &Path, summary: &LogSummary) -> Result<(), CliError> {
    say!(
        "{} records, {} payload bytes, {} problems, torn tail: {}",
        summary.records,
        summary.payload_bytes,
        summary.problems,
        if summary.torn_tail { "yes" } else { "no" }
    );
    if let Some(state) = &summary.state {
        print_state(state)?;
    }
    if summary.problems > 0 {
        return Err(CliError::Failed(format!(
            "{} is damaged: {} problems (listed above)",
            path.display(),
            summary.problems
        )));
    }
    Ok(())
}

/// Decodes one manifest record, prints it, and applies it to the replayed state.
fn print_edit(
    payload: &[u8],
    number: FileNumber,
    summary: &mut LogSummary,
) -> Result<(), CliError> {
    let edit = match VersionEdit::decode(payload) {
        Ok(edit) => edit,
        Err(error) => {
            summary.problems += 1;
            say!("  DAMAGE: the edit does not decode: {error}");
            return Ok(());
        }
    };
    summary.problems += print_edit_fields(&edit, summary.state.as_ref())?;
    let applied = match summary.state.as_mut() {
        None => ManifestState::from_snapshot(number, &edit).map(|state| {
            summary.state = Some(state);
        }),
        Some(_) if edit.snapshot => {
            summary.problems += 1;
            say!("  DAMAGE: a snapshot record after the first record");
            return Ok(());
        }
        Some(state) => state.apply(&edit),
    };
    if let Err(inconsistent) = applied {
        summary.problems += 1;
        say!("  DAMAGE: inconsistent edit: {}", inconsistent.reason);
    }
    Ok(())
}

/// Prints every field of `edit` (keyspaces named as in `state`, the state before it, or as the
/// edit declares them); returns the problems found (keyspace options that do not decode).
fn print_edit_fields(edit: &VersionEdit, state: Option<&ManifestState>) -> Result<u64, CliError> {
    if edit.snapshot {
        say!("  snapshot of the whole state");
    }
    if let Some(log_number) = edit.log_number {
        say!("  log number: {log_number}");
    }
    if let Some(next_file_number) = edit.next_file_number {
        say!("  next file number: {next_file_number}");
    }
    if let Some(last_sequence) = edit.last_sequence {
        say!("  last sequence: {last_sequence}");
    }
    let problems = print_edit_keyspaces(edit, state)?;
    for (level, number) in &edit.deleted_files {
        say!("  delete L{level} #{number}");
    }
    for (level, file) in &edit.new_files {
        say!("  add L{level} {}", describe_file(file));
    }
    for (keyspace, level, file) in &edit.keyspace_new_files {
        say!(
            "  add to keyspace {keyspace} L{level} {}",
            describe_file(file)
        );
    }
    for wal in &edit.wals {
        match wal.synced_size {
            Some(synced) => say!(
                "  wal #{}: preallocated {} bytes, finished, synced through {synced}",
                wal.number,
                wal.preallocated_size
            ),
            None => say!(
                "  wal #{}: preallocated {} bytes, started",
                wal.number,
                wal.preallocated_size
            ),
        }
    }
    Ok(problems)
}

/// Prints the keyspace fields of `edit` (tags 8 to 12): declarations with their options
/// decoded, drops, the next keyspace id, and the keyspace its files belong to with its log
/// number; returns how many declarations hold options that do not decode.
fn print_edit_keyspaces(
    edit: &VersionEdit,
    state: Option<&ManifestState>,
) -> Result<u64, CliError> {
    let mut problems = 0;
    for record in &edit.keyspaces {
        let name = quoted(&record.name);
        match KeyspaceOptions::decode_recorded(&record.options) {
            Ok(options) => say!(
                "  keyspace {} {name} declared: {}",
                record.id,
                describe_options(&options)
            ),
            Err(error) => {
                problems += 1;
                say!(
                    "  DAMAGE: keyspace {} {name} declared with options that do not decode: \
                     {error}",
                    record.id
                );
            }
        }
    }
    for &id in &edit.dropped_keyspaces {
        say!("  drop keyspace {}", keyspace_label(id, edit, state));
    }
    if let Some(next_keyspace_id) = edit.next_keyspace_id {
        say!("  next keyspace id: {next_keyspace_id}");
    }
    if edit.keyspace != KeyspaceId::DEFAULT {
        say!(
            "  edit keyspace: {} (the files added and deleted below are its)",
            keyspace_label(edit.keyspace, edit, state)
        );
    }
    if let Some(log_number) = edit.keyspace_log_number {
        say!("  keyspace log number: {log_number}");
    }
    Ok(problems)
}

/// `id 'name'`, the name as the edit declares it or as `state` knows it (just `id` if neither
/// does).
fn keyspace_label(id: KeyspaceId, edit: &VersionEdit, state: Option<&ManifestState>) -> String {
    let declared = edit
        .keyspaces
        .iter()
        .find(|record| record.id == id)
        .map(|record| record.name.as_str());
    let known = state.and_then(|state| state.keyspaces.get(&id).map(|k| k.name.as_str()));
    match declared.or(known) {
        Some(name) => format!("{id} {}", quoted(name)),
        None => id.to_string(),
    }
}

/// A keyspace name escaped as keys are, in quotes.
fn quoted(name: &str) -> String {
    format!("'{}'", escape_bytes(name.as_bytes()))
}

/// Every field of `options`, named as in FORMAT.md 6.1 ("Keyspace options").
fn describe_options(options: &KeyspaceOptions) -> String {
    let table = &options.table;
    let compression = match table.compression {
        Compression::None => "none",
        Compression::Lz4 => "lz4",
    };
    format!(
        "write_buffer_size {}, max_immutable_memtables {}, table.block_size {}, \
         table.restart_interval {}, table.bloom_bits_per_key {}, table.compression {compression}, \
         level0_compaction_trigger {}, level0_size_percent_trigger {}, \
         level0_slowdown_trigger {}, level0_stop_trigger {}, level1_target_size {}, \
         level_size_multiplier {}, target_file_size {}, dynamic_level_sizes {}",
        options.write_buffer_size,
        options.max_immutable_memtables,
        table.block_size,
        table.restart_interval,
        table.bloom_bits_per_key,
        options.level0_compaction_trigger,
        options.level0_size_percent_trigger,
        options.level0_slowdown_trigger,
        options.level0_stop_trigger,
        options.level1_target_size,
        options.level_size_multiplier,
        options.target_file_size,
        options.dynamic_level_sizes
    )
}

fn describe_file(file: &FileMetadata) -> String {
    format!(
        "#{}: {} bytes, keys '{}'..'{}', sequences {}..={}",
        file.number,
        file.file_size,
        escape_bytes(shaledb::key::user_key(&file.smallest)),
        escape_bytes(shaledb::key::user_key(&file.largest)),
        file.smallest_sequence,
        file.largest_sequence
    )
}

fn print_state(state: &ManifestState) -> Result<(), CliError> {
    say!(
        "replayed state: log number {}, next file number {}, last sequence {}, next keyspace id \
         {}",
        state.log_number,
        state.next_file_number,
        state.last_sequence,
        state.next_keyspace_id
    );
    for (&id, keyspace) in &state.keyspaces {
        print_keyspace_state(id, keyspace)?;
    }
    Ok(())
}

/// One keyspace of the replayed state: its log number, options and levels.
fn print_keyspace_state(id: KeyspaceId, keyspace: &KeyspaceState) -> Result<(), CliError> {
    say!(
        "  keyspace {id} {}: keyspace log number {}",
        quoted(&keyspace.name),
        keyspace.log_number
    );
    if id == KeyspaceId::DEFAULT {
        say!("    options: the database's Options, given at each open");
    } else {
        match KeyspaceOptions::decode_recorded(&keyspace.options) {
            Ok(options) => say!("    options: {}", describe_options(&options)),
            // Counted as a problem where the edit declared them.
            Err(error) => say!("    options: do not decode: {error}"),
        }
    }
    for (level, files) in keyspace.levels.iter().enumerate() {
        let bytes: u64 = files.iter().map(|file| file.file_size).sum();
        say!("    L{level}: {} files, {bytes} bytes", files.len());
    }
    Ok(())
}
