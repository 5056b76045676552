//! Fuzz checks for the SSTable format (FORMAT.md, section 5).
//!
//! - `sstable_block`: arbitrary bytes as a block's contents (first byte even) or as a stored
//!   block with its trailer, decoded without checksum verification (first byte odd). Decoding,
//!   iterating both ways and seeking must not panic, and a forward and a backward scan that both
//!   succeed must agree.
//! - `sstable_table`: first byte even: arbitrary bytes as a whole table (`Table::from_bytes`);
//!   open, scan both ways and a few gets must not panic. First byte odd: build a table from
//!   entries derived from the input, damage it as the input says (nothing, flip a byte, zero a
//!   range, truncate), and check that every read returns `Error::Corruption` or exactly what was
//!   written — and that an undamaged table reads back exactly.
//!
//! Only shaledb (its format modules, through the unstable `internals` feature) and std are used:
//! this file is compiled inside the fuzz crate and inside `tests/fuzz_corpus.rs`.

use std::cmp::Ordering;
use std::sync::Arc;

use shaledb::key::{ValueKind, compare_internal_keys, internal_key, parse_internal_key};
use shaledb::sstable::{Block, BlockReadOptions, LookupResult, Table, TableBuilder};
use shaledb::{Compression, Error, SequenceNumber, TableOptions};

/// Upper bound on iteration steps, so that every call stays fast.
const MAX_STEPS: usize = 20_000;

type Entry = (Vec<u8>, Vec<u8>);

/// Arbitrary bytes as one block.
pub fn sstable_block(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let block = if mode % 2 == 0 {
        Block::from_contents("fuzz.block", rest.to_vec())
    } else {
        Block::decode_stored("fuzz.block", 0, rest, false)
    };
    let Ok(block) = block else {
        return;
    };
    let block = Arc::new(block);
    let forward = scan_block(&block, true);
    let backward = scan_block(&block, false);
    if let (Some(forward), Some(mut backward)) = (forward, backward) {
        backward.reverse();
        assert!(
            forward == backward,
            "forward and backward scans of a block disagree"
        );
    }
    let mut iterator = block.iter();
    for target in [&rest[..rest.len().min(12)], b"", &[0xff; 9][..]] {
        if iterator.seek(target).is_ok() && iterator.valid() {
            assert_ne!(
                compare_internal_keys(iterator.key(), target),
                Ordering::Less,
                "seek landed before its target"
            );
        }
    }
}

/// Entries of a block in one direction, or `None` if an error (or the step bound) stopped it.
fn scan_block(block: &Arc<Block>, forward: bool) -> Option<Vec<Entry>> {
    let mut iterator = block.iter();
    let started = if forward {
        iterator.seek_to_first()
    } else {
        iterator.seek_to_last()
    };
    started.ok()?;
    let mut entries = Vec::new();
    while iterator.valid() {
        if entries.len() == MAX_STEPS {
            return None;
        }
        entries.push((iterator.key().to_vec(), iterator.value().to_vec()));
        let stepped = if forward {
            iterator.next()
        } else {
            iterator.prev()
        };
        stepped.ok()?;
    }
    Some(entries)
}

/// Arbitrary bytes as a table, or a built table damaged as the input says.
pub fn sstable_table(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        read_arbitrary_table(rest);
    } else {
        build_damage_and_check(rest);
    }
}

fn read_arbitrary_table(bytes: &[u8]) {
    let Ok(table) = Table::from_bytes("fuzz.sst", bytes.to_vec()) else {
        return;
    };
    let scanned = scan_table(&table, true).unwrap_or_default();
    let _ = scan_table(&table, false);
    for (key, _) in scanned.iter().take(8) {
        if let Ok(parsed) = parse_internal_key(key) {
            let _ = table.get(parsed.user_key, parsed.sequence);
            let _ = table.get_with(
                parsed.user_key,
                SequenceNumber::MAX,
                BlockReadOptions::UNVERIFIED,
            );
        }
    }
    let _ = table.get(b"", SequenceNumber::MAX);
    let mut iterator = table.iter_with(BlockReadOptions::UNVERIFIED);
    let _ = iterator.seek(&bytes[..bytes.len().min(16)]);
}

/// A table's entries in one direction (returned in ascending order), or the error that stopped
/// the scan.
fn scan_table(table: &Table, forward: bool) -> Result<Vec<Entry>, Error> {
    let mut iterator = table.iter();
    if forward {
        iterator.seek_to_first()?;
    } else {
        iterator.seek_to_last()?;
    }
    let mut entries = Vec::new();
    while iterator.valid() && entries.len() < MAX_STEPS {
        entries.push((iterator.key().to_vec(), iterator.value().to_vec()));
        if forward {
            iterator.next()?;
        } else {
            iterator.prev()?;
        }
    }
    if !forward {
        entries.reverse();
    }
    Ok(entries)
}

/// How the input asks to damage the built table.
enum Damage {
    None,
    Flip { position: usize, mask: u8 },
    Zero { position: usize, length: usize },
    Truncate { length: usize },
}

fn build_damage_and_check(input: &[u8]) {
    if input.len() < 5 {
        return;
    }
    let (header, stream) = input.split_at(5);
    let options = options_from(header[0]);
    let entries = entries_from(stream);
    let mut builder = TableBuilder::in_memory(options).expect("fuzz options are valid");
    for (key, value) in &entries {
        builder
            .add(key, value)
            .expect("sorted, bounded entries are accepted");
    }
    let (_, mut bytes) = builder
        .finish_into_vec()
        .expect("in-memory finish cannot fail");
    let position = usize::from(u16::from_le_bytes([header[2], header[3]])) % bytes.len();
    let damage = match header[1] % 4 {
        0 => Damage::None,
        1 => Damage::Flip {
            position,
            mask: header[4] | 1,
        },
        2 => Damage::Zero {
            position,
            length: usize::from(header[4] % 64) + 1,
        },
        _ => Damage::Truncate { length: position },
    };
    let undamaged = matches!(damage, Damage::None);
    let original_size = bytes.len();
    match damage {
        Damage::None => {}
        Damage::Flip { position, mask } => bytes[position] ^= mask,
        Damage::Zero { position, length } => {
            let end = (position + length).min(bytes.len());
            bytes[position..end].fill(0);
        }
        Damage::Truncate { length } => bytes.truncate(length),
    }
    check_reads(bytes, &entries, original_size, undamaged);
}

fn options_from(byte: u8) -> TableOptions {
    TableOptions {
        block_size: 64 << ((byte >> 4) & 3),
        restart_interval: usize::from(byte & 3) + 1,
        bloom_bits_per_key: if byte & 8 != 0 { 10 } else { 0 },
        compression: if byte & 4 != 0 {
            Compression::Lz4
        } else {
            Compression::None
        },
    }
}

/// Entries from a byte stream: per entry a header byte (key length in the low 4 bits, tombstone
/// flag in bit 4), a value length byte, a sequence byte, then the key and value bytes.
fn entries_from(stream: &[u8]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut rest = stream;
    while let [header, value_length, sequence, tail @ ..] = rest {
        let key_length = usize::from(header & 15).min(tail.len());
        let (user_key, tail) = tail.split_at(key_length);
        let value_length = usize::from(*value_length).min(tail.len());
        let (value, tail) = tail.split_at(value_length);
        let kind = if header & 16 != 0 {
            ValueKind::Tombstone
        } else {
            ValueKind::Value
        };
        let key = internal_key(user_key, SequenceNumber(u64::from(*sequence)), kind);
        entries.push((key, value.repeat(1 + usize::from(header >> 5))));
        rest = tail;
        if entries.len() == 300 {
            break;
        }
    }
    entries.sort_by(|a, b| compare_internal_keys(&a.0, &b.0));
    // One entry per (user key, sequence): a value and a tombstone at the same sequence would make
    // "get at that sequence" ambiguous for the check below.
    entries.dedup_by(|a, b| {
        let (a, b) = (parse_internal_key(&a.0), parse_internal_key(&b.0));
        matches!((a, b), (Ok(a), Ok(b)) if a.user_key == b.user_key && a.sequence == b.sequence)
    });
    entries
}

fn check_reads(bytes: Vec<u8>, entries: &[Entry], original_size: usize, undamaged: bool) {
    let table = match Table::from_bytes("fuzz.sst", bytes) {
        Ok(table) => table,
        Err(error) => return expect_corruption(&error, original_size, undamaged),
    };
    for forward in [true, false] {
        match scan_table(&table, forward) {
            Ok(found) => assert!(found == entries, "a scan returned entries not written"),
            Err(error) => expect_corruption(&error, original_size, undamaged),
        }
    }
    for (key, value) in entries {
        let parsed = parse_internal_key(key).expect("built keys are valid");
        let expected = match parsed.kind {
            ValueKind::Value => LookupResult::Value(value.clone().into()),
            ValueKind::Tombstone => LookupResult::Deleted,
            ValueKind::Merge => LookupResult::Merge(value.clone().into()),
        };
        match table.get(parsed.user_key, parsed.sequence) {
            Ok(found) => assert_eq!(found, Some(expected), "get returned a wrong entry"),
            Err(error) => expect_corruption(&error, original_size, undamaged),
        }
    }
}

fn expect_corruption(error: &Error, original_size: usize, undamaged: bool) {
    assert!(!undamaged, "an undamaged table failed to read: {error}");
    match error {
        Error::Corruption { file, offset, .. } => {
            assert_eq!(file.to_str(), Some("fuzz.sst"), "{error}");
            assert!(
                *offset <= original_size as u64,
                "offset past the file: {error}"
            );
        }
        other => panic!("damage must be reported as corruption, got {other}"),
    }
}

/// The SSTable fuzz targets.
pub const TARGETS: &[super::Target] = &[
    ("sstable_block", sstable_block),
    ("sstable_table", sstable_table),
];
