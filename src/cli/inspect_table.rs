//! `shale dump sst`: footer, properties, block counts, and a full scan that
//! verifies every block checksum and (with `--entries`) lists every entry. FORMAT.md, section 5,
//! is the source of truth for the fields printed.

use std::path::Path;

use shaledb::key::FileNumber;
use shaledb::key::parse_internal_key;
use shaledb::sstable::format::BlockHandle;
use shaledb::sstable::{Table, TableProperties};

use super::error::CliError;
use super::escape::escape_bytes;

/// Opens the table at `path` (numbered `number`) and prints it; `list_entries` lists entries.
pub fn run(path: &Path, number: FileNumber, list_entries: bool) -> Result<(), CliError> {
    let table = Table::open(path, number)?;
    say!(
        "{}: SSTable, {} bytes, format version {}",
        path.display(),
        table.file_size(),
        table.footer().version
    );
    print_footer(&table)?;
    print_properties(table.properties())?;
    print_range_tombstones(&table, list_entries)?;
    let index_entries = count_index_entries(&table)?;
    say!(
        "data blocks: {} (index entries: {index_entries})",
        table.properties().data_block_count
    );
    let scanned = scan(&table, list_entries)?;
    let expected = table.properties().entry_count;
    if scanned != expected {
        return Err(CliError::Failed(format!(
            "{}: a scan found {scanned} entries but the properties record {expected}",
            path.display()
        )));
    }
    say!("scan: {scanned} entries read, every block checksum verified");
    Ok(())
}

fn describe_handle(handle: BlockHandle) -> String {
    if handle.size == 0 && handle.offset == 0 {
        return String::from("none");
    }
    format!("offset {}, {} bytes", handle.offset, handle.size)
}

fn print_footer(table: &Table) -> Result<(), CliError> {
    let footer = table.footer();
    say!("footer:");
    say!("  index block:      {}", describe_handle(footer.index));
    say!("  filter block:     {}", describe_handle(footer.filter));
    say!("  properties block: {}", describe_handle(footer.properties));
    Ok(())
}

/// The range-deletion block (FORMAT.md 5.10): its size, and with `list` every piece.
fn print_range_tombstones(table: &Table, list: bool) -> Result<(), CliError> {
    let tombstones = table.range_tombstones();
    say!(
        "range tombstones: {} in {} pieces ({})",
        tombstones.len(),
        tombstones.pieces().len(),
        describe_handle(table.properties().range_deletion_handle)
    );
    if list {
        for piece in tombstones.pieces() {
            let sequences: Vec<String> = piece.sequences.iter().map(|s| s.to_string()).collect();
            say!(
                "  [{}, {}) deleted at {}",
                escape_bytes(&piece.start),
                escape_bytes(&piece.end),
                sequences.join(", ")
            );
        }
    }
    Ok(())
}

/// An internal key as `user key @ sequence kind`, or the reason it does not parse.
fn describe_internal_key(key: &[u8]) -> String {
    if key.is_empty() {
        return String::from("(none)");
    }
    match parse_internal_key(key) {
        Ok(parsed) => format!(
            "'{}' @ {} {:?}",
            escape_bytes(parsed.user_key),
            parsed.sequence,
            parsed.kind
        ),
        Err(reason) => format!("(malformed: {reason})"),
    }
}

fn print_properties(properties: &TableProperties) -> Result<(), CliError> {
    let p = properties;
    say!("properties:");
    say!(
        "  entries:          {} ({} tombstones)",
        p.entry_count,
        p.tombstone_count
    );
    say!("  user keys:        {}", p.user_key_count);
    say!(
        "  smallest key:     {}",
        describe_internal_key(&p.smallest_key)
    );
    say!(
        "  largest key:      {}",
        describe_internal_key(&p.largest_key)
    );
    say!(
        "  sequences:        {}..={}",
        p.smallest_sequence,
        p.largest_sequence
    );
    say!("  raw key bytes:    {}", p.raw_key_size);
    say!("  raw value bytes:  {}", p.raw_value_size);
    say!(
        "  data:             {} bytes in file, {} bytes uncompressed",
        p.data_size,
        p.raw_data_size
    );
    say!(
        "  data blocks:      {} ({} LZ4-compressed)",
        p.data_block_count,
        p.compressed_data_block_count
    );
    say!("  index size:       {} bytes", p.index_size);
    say!("  filter size:      {} bytes", p.filter_size);
    say!("  bloom bits/key:   {}", p.bloom_bits_per_key);
    say!("  restart interval: {}", p.restart_interval);
    say!("  block size:       {} bytes (target)", p.block_size);
    Ok(())
}

/// Entries in the index block: one per data block.
fn count_index_entries(table: &Table) -> Result<u64, CliError> {
    let mut iterator = table.index_block().iter();
    iterator.seek_to_first()?;
    let mut count = 0;
    while iterator.valid() {
        count += 1;
        iterator.next()?;
    }
    Ok(count)
}

/// Reads every entry (verifying checksums), printing each when `list_entries`; the count.
fn scan(table: &Table, list_entries: bool) -> Result<u64, CliError> {
    if list_entries {
        say!("entries (user key, sequence, kind, value length):");
    }
    let mut iterator = table.iter();
    iterator.seek_to_first()?;
    let mut count = 0;
    while iterator.valid() {
        count += 1;
        if list_entries {
            let parsed = parse_internal_key(iterator.key()).map_err(|reason| {
                CliError::Failed(format!(
                    "{}: entry {count}: {reason}",
                    table.file().display()
                ))
            })?;
            say!(
                "  '{}' @ {} {:?} {} bytes",
                escape_bytes(parsed.user_key),
                parsed.sequence,
                parsed.kind,
                iterator.value().len()
            );
        }
        iterator.next()?;
    }
    Ok(count)
}
