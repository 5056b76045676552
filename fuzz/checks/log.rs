//! Fuzz checks for the log format (FORMAT.md section 4).
//!
//! `log_reader` feeds the input to the reader twice as raw bytes (as a whole file, and after a
//! valid file header so that the fragment parser sees it), then reads the input as a recipe:
//! payloads to write, and damage (byte flips, zeroed ranges, a truncation) to apply to the file
//! the writer produced. The reader must never panic, its events must be well formed, and every
//! record it returns must be one of the records written, at its offset, in order, byte for byte.
//!
//! Recipe layout: byte 0 = record count (mod 13); then per record a `u16` little-endian length
//! (mod 40,000); each later 4-byte group is one damage operation: kind (mod 3: flip, zero,
//! truncate), a `u16` position scaled to the file length, and a length or xor value.

use shaledb::log::{LogEvent, LogFileKind, LogReader, encode_log};

/// Raw bytes and a damaged written log through the log reader.
pub fn log_reader(data: &[u8]) {
    for kind in [LogFileKind::Wal, LogFileKind::Manifest] {
        check_well_formed(data.to_vec(), kind);
    }
    let mut with_header = encode_log(LogFileKind::Wal, Vec::<Vec<u8>>::new());
    with_header.extend_from_slice(data);
    check_well_formed(with_header, LogFileKind::Wal);
    check_damaged_round_trip(data);
}

/// Reads `bytes` and checks the shape of the events; returns them (empty if the header is bad).
fn check_well_formed(bytes: Vec<u8>, kind: LogFileKind) -> Vec<LogEvent> {
    let length = bytes.len() as u64;
    let Ok(reader) = LogReader::from_bytes("fuzz.log", bytes, kind) else {
        return Vec::new();
    };
    let events: Vec<LogEvent> = reader.collect();
    let mut position = 0u64;
    for (index, event) in events.iter().enumerate() {
        match event {
            LogEvent::Record { offset, .. } => {
                assert!(
                    *offset >= position && *offset < length,
                    "record offset {offset}"
                );
                position = *offset + 1;
            }
            LogEvent::Corruption { start, end, .. } => {
                assert!(
                    *start >= position && start < end && *end <= length,
                    "{start}..{end}"
                );
                position = *end;
            }
            LogEvent::TornTail { offset, .. } => {
                assert!(*offset >= position.min(length), "torn tail at {offset}");
                assert_eq!(index, events.len() - 1, "a torn tail is the last event");
            }
        }
    }
    events
}

/// A tiny deterministic generator for payload contents.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn check_damaged_round_trip(data: &[u8]) {
    let Some((&count, mut rest)) = data.split_first() else {
        return;
    };
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(count);
    let mut payloads = Vec::new();
    for _ in 0..count % 13 {
        let Some((length, tail)) = rest.split_first_chunk::<2>() else {
            break;
        };
        rest = tail;
        let length = usize::from(u16::from_le_bytes(*length)) % 40_000;
        let payload: Vec<u8> = (0..length).map(|_| next_random(&mut state) as u8).collect();
        payloads.push(payload);
    }
    let original = encode_log(LogFileKind::Wal, &payloads);
    let mut bytes = original.clone();
    for operation in rest.chunks_exact(4) {
        apply_damage(&mut bytes, operation);
    }
    let events = check_well_formed(bytes.clone(), LogFileKind::Wal);
    let starts = record_starts(&original, &payloads);
    check_records_were_written(&events, &payloads, &starts);
    if bytes == original {
        let records = events
            .iter()
            .filter(|e| matches!(e, LogEvent::Record { .. }))
            .count();
        assert_eq!(
            records,
            payloads.len(),
            "an undamaged log returns every record"
        );
        assert_eq!(records, events.len(), "an undamaged log reports no damage");
    }
}

fn apply_damage(bytes: &mut Vec<u8>, operation: &[u8]) {
    let [kind, low, high, amount] = [operation[0], operation[1], operation[2], operation[3]];
    if bytes.is_empty() {
        return;
    }
    let position = usize::from(u16::from_le_bytes([low, high])) * bytes.len() / 65_536;
    match kind % 3 {
        0 => bytes[position] ^= amount.max(1),
        1 => {
            let end = (position + usize::from(amount) * 8 + 1).min(bytes.len());
            bytes[position..end].fill(0);
        }
        _ => bytes.truncate(position),
    }
}

/// The offset of each record's first fragment in an intact log, found by re-encoding prefixes.
fn record_starts(original: &[u8], payloads: &[Vec<u8>]) -> Vec<u64> {
    let block = shaledb::log::BLOCK_SIZE as u64;
    let header = shaledb::log::FRAGMENT_HEADER_SIZE as u64;
    let mut starts = Vec::with_capacity(payloads.len());
    let mut offset = shaledb::log::FILE_HEADER_SIZE as u64;
    for payload in payloads {
        let left = block - offset % block;
        let start = if left < header { offset + left } else { offset };
        starts.push(start);
        // Each fragment of the payload costs a header; fragments fill blocks from `start`.
        let mut remaining = payload.len() as u64;
        offset = start;
        loop {
            let left = block - offset % block;
            if left < header {
                offset += left;
                continue;
            }
            let take = remaining.min(left - header);
            offset += header + take;
            remaining -= take;
            if remaining == 0 {
                break;
            }
        }
    }
    assert_eq!(
        offset,
        original.len() as u64,
        "test model of the record layout"
    );
    starts
}

fn check_records_were_written(events: &[LogEvent], payloads: &[Vec<u8>], starts: &[u64]) {
    let mut next_index = 0;
    for event in events {
        let LogEvent::Record { offset, payload } = event else {
            continue;
        };
        let index = starts[next_index..]
            .iter()
            .position(|start| start == offset)
            .map(|found| found + next_index);
        let Some(index) = index else {
            panic!("record at offset {offset} was not written there (or is out of order)");
        };
        assert!(
            payload == &payloads[index],
            "record at offset {offset} has wrong bytes"
        );
        next_index = index + 1;
    }
}

/// The fuzz targets of this module, by name.
pub const TARGETS: &[super::Target] = &[("log_reader", log_reader)];
