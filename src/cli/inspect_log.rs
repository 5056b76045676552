//! `shale dump wal|manifest`: every record with its offset and size, every damaged range
//! with its reason, and for a manifest each version edit decoded and replayed into the state it
//! describes (with the same consistency checks as recovery). FORMAT.md, sections 4 and 6, is the
//! source of truth.
//!
//! Exit status: 0 for an intact log or one whose only damage is a torn tail (what a crash in
//! the middle of an append leaves, and what recovery ignores); 1 for damage in the middle, an
//! edit that does not decode, or an inconsistent edit.

use std::path::Path;

use shaledb::batch::BatchReader;
use shaledb::key::FileNumber;
use shaledb::log::{LogEvent, LogFileKind, LogReader};
use shaledb::manifest::{FileMetadata, ManifestState, VersionEdit};
use shaledb::sync_marker::decode_sync_marker;

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
                        let batch = describe_batch(&payload);
                        say!("record at offset {offset}: {size} bytes{batch}");
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

/// ", write batch ..." when the payload decodes completely as a write batch, else nothing:
/// the log itself does not interpret records.
fn describe_batch(payload: &[u8]) -> String {
    if let Some(synced_through) = decode_sync_marker(payload) {
        return format!(", sync marker: this log was synced through offset {synced_through}");
    }
    let Ok(reader) = BatchReader::new(payload) else {
        return String::new();
    };
    let (first, count) = (reader.first_sequence(), BatchReader::count(&reader));
    if reader.into_iter().all(|operation| operation.is_ok()) {
        format!(", write batch: {count} operations from sequence {first}")
    } else {
        String::new()
    }
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
    print_edit_fields(&edit)?;
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

fn print_edit_fields(edit: &VersionEdit) -> Result<(), CliError> {
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
    for (level, number) in &edit.deleted_files {
        say!("  delete L{level} #{number}");
    }
    for (level, file) in &edit.new_files {
        say!("  add L{level} {}", describe_file(file));
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
    Ok(())
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
        "replayed state: log number {}, next file number {}, last sequence {}",
        state.log_number,
        state.next_file_number,
        state.last_sequence
    );
    for (level, files) in state.levels().iter().enumerate() {
        let bytes: u64 = files.iter().map(|file| file.file_size).sum();
        say!("  L{level}: {} files, {bytes} bytes", files.len());
    }
    Ok(())
}
