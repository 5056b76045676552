//! The log format (FORMAT.md section 4): round trips, block-boundary edge cases, preallocation,
//! file header damage, each fragment-level damage case on its own, and damage sweeps (flip every
//! byte, zero ranges, truncate everywhere) that check the reader never panics, never returns
//! wrong or reordered data, and reports every lost record.

mod common;

use std::path::{Path, PathBuf};

use common::Rng;
use shaledb::Error;
use shaledb::log::{
    BLOCK_SIZE, FILE_HEADER_SIZE, FRAGMENT_HEADER_SIZE, FragmentType, LogEvent, LogFileKind,
    LogReader, LogWriter, encode_log,
};

const KIND: LogFileKind = LogFileKind::Wal;
const BLOCK: u64 = BLOCK_SIZE as u64;
const NAME: &str = "000001.wal";

/// A log written by `LogWriter`, with where each record starts (its first fragment header) and
/// where the written data ends after it.
struct Written {
    payloads: Vec<Vec<u8>>,
    starts: Vec<u64>,
    ends: Vec<u64>,
    bytes: Vec<u8>,
}

/// Where a record added at logical end `offset` starts: the writer pads a block tail shorter
/// than a fragment header.
fn record_start(offset: u64) -> u64 {
    let left_in_block = BLOCK - offset % BLOCK;
    if left_in_block < FRAGMENT_HEADER_SIZE as u64 {
        offset + left_in_block
    } else {
        offset
    }
}

fn write_log(payloads: Vec<Vec<u8>>) -> Written {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NAME);
    let mut writer = LogWriter::create(&path, KIND).unwrap();
    let (mut starts, mut ends) = (Vec::new(), Vec::new());
    for payload in &payloads {
        starts.push(record_start(writer.offset()));
        writer.add_record(payload).unwrap();
        ends.push(writer.offset());
    }
    writer.sync().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, writer.offset());
    Written {
        payloads,
        starts,
        ends,
        bytes,
    }
}

fn read_events(bytes: &[u8]) -> Vec<LogEvent> {
    LogReader::from_bytes(NAME, bytes.to_vec(), KIND)
        .unwrap()
        .collect()
}

fn records_of(events: &[LogEvent]) -> Vec<(u64, Vec<u8>)> {
    events
        .iter()
        .filter_map(|event| match event {
            LogEvent::Record { offset, payload } => Some((*offset, payload.clone())),
            _ => None,
        })
        .collect()
}

fn damage_of(events: &[LogEvent]) -> Vec<&LogEvent> {
    events
        .iter()
        .filter(|event| !matches!(event, LogEvent::Record { .. }))
        .collect()
}

/// Asserts that `events` are exactly the records of `written`, each at its start, then a clean end.
fn assert_round_trip(written: &Written, events: &[LogEvent], context: &str) {
    assert!(
        damage_of(events).is_empty(),
        "{context}: {:?}",
        damage_of(events)
    );
    let records = records_of(events);
    assert_eq!(records.len(), written.payloads.len(), "{context}");
    for (index, (offset, payload)) in records.iter().enumerate() {
        assert_eq!(*offset, written.starts[index], "{context}: record {index}");
        assert!(
            *payload == written.payloads[index],
            "{context}: record {index} differs"
        );
    }
}

fn random_payloads(rng: &mut Rng, count: usize, max_length: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|_| {
            let length = rng.between(0, max_length);
            rng.bytes(length)
        })
        .collect()
}

/// A fragment as the writer would encode it, for building hand-made damaged logs.
fn fragment(fragment_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[fragment_type]);
    hasher.update(payload);
    let mut out = hasher.finalize().to_le_bytes().to_vec();
    out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    out.push(fragment_type);
    out.extend_from_slice(payload);
    out
}

fn file_header() -> Vec<u8> {
    encode_log(KIND, Vec::<Vec<u8>>::new())
}

fn log_of_fragments(fragments: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = file_header();
    for fragment in fragments {
        bytes.extend_from_slice(fragment);
    }
    bytes
}

fn full(payload: &[u8]) -> Vec<u8> {
    fragment(FragmentType::Full as u8, payload)
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn round_trip_random_payloads_of_every_size_class() {
    let seed = 0x106_0001;
    let mut rng = Rng::new(seed);
    let usable_in_block0 = BLOCK_SIZE - FILE_HEADER_SIZE - FRAGMENT_HEADER_SIZE;
    let mut payloads = vec![
        Vec::new(),
        rng.bytes(1),
        rng.bytes(usable_in_block0),
        rng.bytes(BLOCK_SIZE - FRAGMENT_HEADER_SIZE),
        rng.bytes(BLOCK_SIZE),
        rng.bytes(5 * BLOCK_SIZE + 123),
        rng.bytes(3 * 1024 * 1024 + 17),
        Vec::new(),
    ];
    payloads.extend(random_payloads(&mut rng, 200, 3000));
    payloads.extend(random_payloads(&mut rng, 20, 100_000));
    let written = write_log(payloads);
    let events = read_events(&written.bytes);
    assert_round_trip(&written, &events, &format!("seed {seed:#x}"));
}

#[test]
fn empty_payload_is_a_record() {
    let written = write_log(vec![Vec::new(), Vec::new()]);
    assert_eq!(
        written.bytes.len(),
        FILE_HEADER_SIZE + 2 * FRAGMENT_HEADER_SIZE
    );
    assert_round_trip(&written, &read_events(&written.bytes), "two empty records");
}

#[test]
fn log_without_records_is_a_clean_end() {
    let written = write_log(Vec::new());
    assert_eq!(written.bytes.len(), FILE_HEADER_SIZE);
    assert!(read_events(&written.bytes).is_empty());
}

#[test]
fn record_exactly_filling_block_zero() {
    let mut rng = Rng::new(0x106_0002);
    let filling = rng.bytes(BLOCK_SIZE - FILE_HEADER_SIZE - FRAGMENT_HEADER_SIZE);
    let written = write_log(vec![filling, b"next".to_vec()]);
    assert_eq!(
        written.ends[0], BLOCK,
        "the first record ends at the block boundary"
    );
    assert_eq!(written.starts[1], BLOCK);
    assert_eq!(written.bytes[BLOCK_SIZE + 6], FragmentType::Full as u8);
    assert_round_trip(&written, &read_events(&written.bytes), "block filled");
}

#[test]
fn record_spanning_many_blocks_uses_first_middle_last() {
    let mut rng = Rng::new(0x106_0003);
    let written = write_log(vec![rng.bytes(4 * BLOCK_SIZE)]);
    assert_eq!(
        written.bytes[FILE_HEADER_SIZE + 6],
        FragmentType::First as u8
    );
    for block in 1..4 {
        assert_eq!(
            written.bytes[block * BLOCK_SIZE + 6],
            FragmentType::Middle as u8
        );
    }
    assert_eq!(written.bytes[4 * BLOCK_SIZE + 6], FragmentType::Last as u8);
    assert_round_trip(&written, &read_events(&written.bytes), "many blocks");
}

#[test]
fn many_small_records_round_trip() {
    let seed = 0x106_0004;
    let mut rng = Rng::new(seed);
    let written = write_log(random_payloads(&mut rng, 20_000, 120));
    assert_round_trip(
        &written,
        &read_events(&written.bytes),
        &format!("seed {seed:#x}"),
    );
}

#[test]
fn records_of_several_mib_round_trip() {
    let seed = 0x106_0005;
    let mut rng = Rng::new(seed);
    let payloads = vec![
        rng.bytes(7 * 1024 * 1024 + 3),
        rng.bytes(10),
        rng.bytes(2 << 20),
    ];
    let written = write_log(payloads);
    assert_round_trip(
        &written,
        &read_events(&written.bytes),
        &format!("seed {seed:#x}"),
    );
}

/// Writes a first record that leaves exactly `left` bytes in block 0, then a second record.
fn log_leaving_in_block_zero(left: usize) -> Written {
    let first_length = BLOCK_SIZE - FILE_HEADER_SIZE - FRAGMENT_HEADER_SIZE - left;
    write_log(vec![vec![0xab; first_length], b"second record".to_vec()])
}

#[test]
fn block_tail_of_6_bytes_is_zero_padding() {
    let written = log_leaving_in_block_zero(6);
    assert_eq!(
        written.starts[1], BLOCK,
        "the record moves to the next block"
    );
    assert_eq!(&written.bytes[BLOCK_SIZE - 6..BLOCK_SIZE], &[0u8; 6]);
    assert_round_trip(&written, &read_events(&written.bytes), "6 bytes left");
}

#[test]
fn block_tail_of_7_bytes_holds_an_empty_first_fragment() {
    let written = log_leaving_in_block_zero(7);
    assert_eq!(written.starts[1], BLOCK - 7);
    assert_eq!(
        &written.bytes[BLOCK_SIZE - 3..BLOCK_SIZE - 1],
        &[0, 0],
        "empty payload"
    );
    assert_eq!(written.bytes[BLOCK_SIZE - 1], FragmentType::First as u8);
    assert_eq!(written.bytes[BLOCK_SIZE + 6], FragmentType::Last as u8);
    assert_round_trip(&written, &read_events(&written.bytes), "7 bytes left");
}

#[test]
fn block_tail_of_8_bytes_holds_a_one_byte_first_fragment() {
    let written = log_leaving_in_block_zero(8);
    assert_eq!(written.starts[1], BLOCK - 8);
    assert_eq!(&written.bytes[BLOCK_SIZE - 4..BLOCK_SIZE - 2], &[1, 0]);
    assert_eq!(written.bytes[BLOCK_SIZE - 2], FragmentType::First as u8);
    assert_round_trip(&written, &read_events(&written.bytes), "8 bytes left");
}

#[test]
fn record_ending_with_short_tail_then_end_of_file_is_clean() {
    let written = log_leaving_in_block_zero(3);
    let only_first = &written.bytes[..BLOCK_SIZE - 3];
    let events = read_events(only_first);
    assert_eq!(records_of(&events).len(), 1);
    assert!(damage_of(&events).is_empty(), "{events:?}");
}

#[test]
fn add_records_writes_the_same_bytes_as_add_record_and_encode_log() {
    let seed = 0x106_0006;
    let mut rng = Rng::new(seed);
    let payloads = random_payloads(&mut rng, 300, 5000);
    let written = write_log(payloads.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NAME);
    let mut writer = LogWriter::create(&path, KIND).unwrap();
    writer.add_records(&payloads[..100]).unwrap();
    writer.add_records(payloads[100..].iter()).unwrap();
    assert_eq!(writer.offset(), written.bytes.len() as u64);
    drop(writer);
    assert!(
        std::fs::read(&path).unwrap() == written.bytes,
        "seed {seed:#x}"
    );
    assert!(
        encode_log(KIND, &payloads) == written.bytes,
        "seed {seed:#x}"
    );
}

#[test]
fn open_and_from_bytes_agree() {
    let seed = 0x106_0007;
    let mut rng = Rng::new(seed);
    let payloads = random_payloads(&mut rng, 50, 40_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NAME);
    let mut writer = LogWriter::create(&path, KIND).unwrap();
    writer.add_records(&payloads).unwrap();
    assert_eq!(writer.path(), path.as_path());
    drop(writer);
    let from_file: Vec<LogEvent> = LogReader::open(&path, KIND).unwrap().collect();
    let bytes = std::fs::read(&path).unwrap();
    let from_bytes: Vec<LogEvent> = LogReader::from_bytes("copy", bytes, KIND)
        .unwrap()
        .collect();
    assert_eq!(from_file, from_bytes, "seed {seed:#x}");
    let read: Vec<Vec<u8>> = records_of(&from_file).into_iter().map(|(_, p)| p).collect();
    assert!(read == payloads, "seed {seed:#x}");
}

// ---------------------------------------------------------------------------------------------
// Preallocation

#[test]
fn preallocated_log_round_trip_ends_cleanly() {
    let seed = 0x106_0008;
    let mut rng = Rng::new(seed);
    let payloads = random_payloads(&mut rng, 40, 3000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NAME);
    let mut writer = LogWriter::create_preallocated(&path, KIND, 1 << 20).unwrap();
    writer.add_records(&payloads).unwrap();
    writer.sync().unwrap();
    let logical_end = writer.offset();
    drop(writer);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 1 << 20, "the preallocated length is kept");
    assert!(bytes[logical_end as usize..].iter().all(|&byte| byte == 0));
    assert!(
        bytes == {
            let mut expected = encode_log(KIND, &payloads);
            expected.resize(1 << 20, 0);
            expected
        }
    );
    let events: Vec<LogEvent> = LogReader::open(&path, KIND).unwrap().collect();
    assert!(damage_of(&events).is_empty(), "seed {seed:#x}: {events:?}");
    let read: Vec<Vec<u8>> = records_of(&events).into_iter().map(|(_, p)| p).collect();
    assert!(read == payloads, "seed {seed:#x}");
}

#[test]
fn preallocated_log_grows_past_its_preallocation() {
    let mut rng = Rng::new(0x106_0009);
    let payloads = vec![rng.bytes(50_000), rng.bytes(30_000)];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NAME);
    let mut writer = LogWriter::create_preallocated(&path, KIND, 10).unwrap();
    writer.add_records(&payloads).unwrap();
    drop(writer);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes == encode_log(KIND, &payloads));
}

#[test]
fn preallocated_log_with_no_header_yet_is_torn_at_zero() {
    // A crash after preallocating but before the header reached the disk leaves only zeros.
    for length in [0, 5, FILE_HEADER_SIZE, 2 * BLOCK_SIZE] {
        let events = read_events(&vec![0u8; length]);
        assert!(
            matches!(events.as_slice(), [LogEvent::TornTail { offset: 0, .. }]),
            "{length} zero bytes: {events:?}"
        );
    }
}

#[test]
fn zeros_after_the_last_record_are_a_clean_end() {
    let written = write_log(vec![b"one".to_vec(), b"two".to_vec()]);
    let mut bytes = written.bytes.clone();
    bytes.resize(bytes.len() + 100, 0);
    assert_round_trip(&written, &read_events(&bytes), "100 zeros appended");
}

#[test]
fn zeroed_region_followed_by_a_valid_fragment_is_corruption() {
    let written = write_log(vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
    let mut bytes = written.bytes.clone();
    let (start, end) = (written.starts[1] as usize, written.ends[1] as usize);
    bytes[start..end].fill(0);
    let events = read_events(&bytes);
    assert_eq!(
        records_of(&events),
        vec![(written.starts[0], b"one".to_vec())]
    );
    let damage = damage_of(&events);
    assert!(
        matches!(damage.as_slice(), [LogEvent::Corruption { start: s, .. }] if *s == written.starts[1]),
        "{events:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// File header

#[test]
fn empty_file_is_a_torn_tail_at_offset_zero() {
    let events = read_events(&[]);
    assert!(
        matches!(events.as_slice(), [LogEvent::TornTail { offset: 0, .. }]),
        "{events:?}"
    );
}

#[test]
fn truncated_file_header_is_a_torn_tail_at_offset_zero() {
    let header = file_header();
    for length in 1..FILE_HEADER_SIZE {
        let mut bytes = header[..length].to_vec();
        let events = read_events(&bytes);
        assert!(
            matches!(events.as_slice(), [LogEvent::TornTail { offset: 0, .. }]),
            "{length}"
        );
        bytes.resize(BLOCK_SIZE, 0);
        let events = read_events(&bytes);
        assert!(
            matches!(events.as_slice(), [LogEvent::TornTail { offset: 0, .. }]),
            "{length}+0s"
        );
    }
}

fn open_error(bytes: Vec<u8>, kind: LogFileKind) -> (u64, String) {
    match LogReader::from_bytes("damaged.wal", bytes, kind) {
        Err(Error::Corruption {
            file,
            offset,
            reason,
        }) => {
            assert_eq!(file, PathBuf::from("damaged.wal"));
            (offset, reason)
        }
        Err(other) => panic!("expected corruption, got {other}"),
        Ok(reader) => panic!("expected corruption, got {:?}", reader.collect::<Vec<_>>()),
    }
}

#[test]
fn bad_magic_is_corruption() {
    let mut bytes = encode_log(KIND, [b"record"]);
    bytes[0] = b'S';
    let (offset, reason) = open_error(bytes, KIND);
    assert_eq!(offset, 0);
    assert!(
        reason.contains("bad magic") && reason.contains("5368616c"),
        "{reason}"
    );
}

#[test]
fn unknown_version_is_corruption_naming_the_version() {
    let mut bytes = encode_log(KIND, [b"record"]);
    bytes[8] = 6;
    let checksum = crc32fast::hash(&bytes[..12]);
    bytes[12..16].copy_from_slice(&checksum.to_le_bytes());
    let (offset, reason) = open_error(bytes, KIND);
    assert_eq!(offset, 8);
    assert!(reason.contains("version 6"), "{reason}");
}

#[test]
fn write_ahead_logs_are_version_5_and_versions_1_to_4_still_read() {
    let bytes = encode_log(LogFileKind::Wal, [b"record"]);
    assert_eq!(&bytes[8..10], &[5, 0], "a new write-ahead log is version 5");
    let manifest = encode_log(LogFileKind::Manifest, [b"edit"]);
    assert_eq!(&manifest[8..10], &[1, 0], "manifests stay version 1");
    // Version-1 to version-4 write-ahead logs, as earlier builds wrote them, read with the
    // same records.
    for version in [1, 2, 3, 4] {
        let mut old = bytes.clone();
        old[8] = version;
        let checksum = crc32fast::hash(&old[..12]);
        old[12..16].copy_from_slice(&checksum.to_le_bytes());
        let reader =
            LogReader::from_bytes("old.wal", old, LogFileKind::Wal).expect("old versions read");
        assert_eq!(reader.version(), u16::from(version));
        let events: Vec<LogEvent> = reader.collect();
        assert!(
            matches!(events.as_slice(), [LogEvent::Record { offset: 16, payload }] if payload == b"record"),
            "{events:?}"
        );
    }
    // A manifest claiming version 2 is refused: only write-ahead logs have it.
    let mut bad = manifest;
    bad[8] = 2;
    let checksum = crc32fast::hash(&bad[..12]);
    bad[12..16].copy_from_slice(&checksum.to_le_bytes());
    let (offset, reason) = open_error(bad, LogFileKind::Manifest);
    assert_eq!(offset, 8);
    assert!(
        reason.contains("not a version of MANIFEST logs"),
        "{reason}"
    );
}

#[test]
fn wrong_file_kind_is_corruption() {
    let bytes = encode_log(LogFileKind::Manifest, [b"edit"]);
    let (offset, reason) = open_error(bytes, LogFileKind::Wal);
    assert_eq!(offset, 10);
    assert!(
        reason.contains("MANIFEST") && reason.contains("expected WAL"),
        "{reason}"
    );
    let (_, reason) = open_error(encode_log(LogFileKind::Wal, [b"x"]), LogFileKind::Manifest);
    assert!(reason.contains("expected MANIFEST"), "{reason}");
}

/// Sets header byte `index` to `value` and recomputes the header checksum.
fn header_with(index: usize, value: u8) -> Vec<u8> {
    let mut bytes = encode_log(KIND, [b"record"]);
    bytes[index] = value;
    let checksum = crc32fast::hash(&bytes[..12]);
    bytes[12..16].copy_from_slice(&checksum.to_le_bytes());
    bytes
}

#[test]
fn unknown_file_kind_and_nonzero_reserved_byte_are_corruption() {
    let (offset, reason) = open_error(header_with(10, 7), KIND);
    assert_eq!(offset, 10);
    assert!(reason.contains("unknown kind 7"), "{reason}");
    let (offset, reason) = open_error(header_with(11, 1), KIND);
    assert_eq!(offset, 11);
    assert!(reason.contains("reserved"), "{reason}");
}

#[test]
fn file_header_checksum_mismatch_is_corruption() {
    let mut bytes = encode_log(KIND, [b"record"]);
    bytes[11] = 1;
    let (offset, reason) = open_error(bytes, KIND);
    assert_eq!(offset, 12);
    assert!(reason.contains("checksum"), "{reason}");
}

#[test]
fn zeroed_file_header_with_records_after_it_is_corruption() {
    let mut bytes = encode_log(KIND, [b"record"]);
    bytes[..FILE_HEADER_SIZE].fill(0);
    let (offset, reason) = open_error(bytes, KIND);
    assert_eq!(offset, 0);
    assert!(reason.contains("magic"), "{reason}");
}

#[test]
fn missing_log_file_is_an_io_error() {
    let error = LogReader::open(Path::new("/nonexistent/000001.wal"), KIND).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Fragment-level damage, one case each

#[test]
fn checksum_mismatch_in_the_last_record_is_a_torn_tail() {
    let written = write_log(vec![b"kept".to_vec(), b"torn write".to_vec()]);
    let mut bytes = written.bytes.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let events = read_events(&bytes);
    assert_eq!(
        records_of(&events),
        vec![(written.starts[0], b"kept".to_vec())]
    );
    match damage_of(&events).as_slice() {
        [LogEvent::TornTail { offset, reason }] => {
            assert_eq!(*offset, written.starts[1]);
            assert!(reason.contains("checksum mismatch"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn checksum_mismatch_in_the_middle_is_corruption_and_reading_resumes_at_the_next_block() {
    let mut rng = Rng::new(0x106_000a);
    let payloads = vec![
        rng.bytes(100),
        rng.bytes(200),
        rng.bytes(300),
        rng.bytes(40_000),
        rng.bytes(10),
    ];
    let written = write_log(payloads.clone());
    let mut bytes = written.bytes.clone();
    bytes[written.starts[1] as usize + 20] ^= 1;
    let events = read_events(&bytes);
    // Records 1 and 2 share block 0 with the damage; record 3 starts in block 0 too, so the
    // first record found after the next block boundary is record 4.
    let expected: Vec<(u64, Vec<u8>)> = [0, 4]
        .iter()
        .map(|&i| (written.starts[i], payloads[i].clone()))
        .collect();
    assert_eq!(records_of(&events), expected);
    match damage_of(&events).as_slice() {
        [LogEvent::Corruption { start, end, reason }] => {
            assert_eq!((*start, *end), (written.starts[1], written.starts[4]));
            assert!(reason.contains("checksum mismatch"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_fragment_header_is_a_torn_tail() {
    let written = write_log(vec![b"kept".to_vec(), b"cut".to_vec()]);
    let events = read_events(&written.bytes[..written.starts[1] as usize + 4]);
    assert_eq!(records_of(&events).len(), 1);
    assert!(
        matches!(damage_of(&events).as_slice(), [LogEvent::TornTail { offset, reason }]
            if *offset == written.starts[1] && reason.contains("header truncated")),
        "{events:?}"
    );
}

#[test]
fn truncated_payload_is_a_torn_tail() {
    let written = write_log(vec![b"kept".to_vec(), b"cut short".to_vec()]);
    let events = read_events(&written.bytes[..written.bytes.len() - 2]);
    assert_eq!(records_of(&events).len(), 1);
    assert!(
        matches!(damage_of(&events).as_slice(), [LogEvent::TornTail { offset, reason }]
            if *offset == written.starts[1] && reason.contains("payload truncated")),
        "{events:?}"
    );
}

#[test]
fn first_fragment_without_last_at_end_of_file_is_a_torn_tail() {
    let mut rng = Rng::new(0x106_000b);
    let written = write_log(vec![b"kept".to_vec(), rng.bytes(2 * BLOCK_SIZE)]);
    // Cut after the FIRST and MIDDLE fragments, exactly at the LAST fragment's header.
    let events = read_events(&written.bytes[..2 * BLOCK_SIZE]);
    assert_eq!(records_of(&events).len(), 1);
    assert!(
        matches!(damage_of(&events).as_slice(), [LogEvent::TornTail { offset, reason }]
            if *offset == written.starts[1] && reason.contains("no LAST fragment")),
        "{events:?}"
    );
}

#[test]
fn first_fragment_followed_by_preallocated_zeros_is_a_torn_tail() {
    let mut bytes =
        log_of_fragments(&[full(b"kept"), fragment(FragmentType::First as u8, b"half")]);
    bytes.resize(2 * BLOCK_SIZE, 0);
    let events = read_events(&bytes);
    assert_eq!(records_of(&events).len(), 1);
    assert!(
        matches!(
            damage_of(&events).as_slice(),
            [LogEvent::TornTail { offset: 27, .. }]
        ),
        "{events:?}"
    );
}

#[test]
fn fragment_length_past_the_block_end_is_bad_length() {
    let mut bytes = log_of_fragments(&[full(b"kept")]);
    let mut bad = full(b"x");
    bad[4..6].copy_from_slice(&(BLOCK_SIZE as u16).to_le_bytes());
    bytes.extend_from_slice(&bad);
    bytes.resize(BLOCK_SIZE, 0xee);
    bytes.extend_from_slice(&full(b"after"));
    let events = read_events(&bytes);
    assert_eq!(
        records_of(&events),
        vec![(16, b"kept".to_vec()), (BLOCK, b"after".to_vec())]
    );
    assert!(
        matches!(damage_of(&events).as_slice(), [LogEvent::Corruption { start: 27, end, reason }]
            if *end == BLOCK && reason.contains("runs past the end of its block")),
        "{events:?}"
    );
}

#[test]
fn unknown_fragment_type_is_damage() {
    let mut bytes = log_of_fragments(&[full(b"kept"), fragment(9, b"strange")]);
    let torn = read_events(&bytes);
    assert!(
        matches!(damage_of(&torn).as_slice(), [LogEvent::TornTail { offset: 27, reason }]
            if reason.contains("unknown fragment type 9")),
        "{torn:?}"
    );
    bytes.resize(BLOCK_SIZE, 0);
    bytes.extend_from_slice(&full(b"after"));
    let events = read_events(&bytes);
    assert_eq!(records_of(&events).len(), 2);
    assert!(matches!(
        damage_of(&events).as_slice(),
        [LogEvent::Corruption { start: 27, .. }]
    ));
}

#[test]
fn unexpected_middle_fragment_without_first_is_corruption() {
    let bytes = log_of_fragments(&[
        full(b"kept"),
        fragment(FragmentType::Middle as u8, b"orphan"),
        full(b"after"),
    ]);
    let events = read_events(&bytes);
    assert_eq!(
        records_of(&events),
        vec![(16, b"kept".to_vec()), (40, b"after".to_vec())]
    );
    assert!(
        matches!(damage_of(&events).as_slice(), [LogEvent::Corruption { start: 27, end: 40, reason }]
            if reason.contains("unexpected MIDDLE")),
        "{events:?}"
    );
}

#[test]
fn unexpected_last_fragment_without_first_is_corruption() {
    let bytes = log_of_fragments(&[
        fragment(FragmentType::Last as u8, b"orphan"),
        full(b"after"),
    ]);
    let events = read_events(&bytes);
    assert_eq!(records_of(&events), vec![(29, b"after".to_vec())]);
    assert!(
        matches!(damage_of(&events).as_slice(), [LogEvent::Corruption { start: 16, end: 29, reason }]
            if reason.contains("unexpected LAST")),
        "{events:?}"
    );
}

#[test]
fn first_fragment_while_a_record_is_in_progress_reports_the_partial_record() {
    let bytes = log_of_fragments(&[
        fragment(FragmentType::First as u8, b"lost"),
        fragment(FragmentType::First as u8, b"new "),
        fragment(FragmentType::Last as u8, b"record"),
    ]);
    let events = read_events(&bytes);
    assert_eq!(records_of(&events), vec![(27, b"new record".to_vec())]);
    assert!(
        matches!(damage_of(&events).as_slice(), [LogEvent::Corruption { start: 16, end: 27, reason }]
            if reason.contains("no LAST fragment")),
        "{events:?}"
    );
    assert!(
        matches!(events[0], LogEvent::Corruption { .. }),
        "damage is reported in file order"
    );
}

#[test]
fn damage_events_convert_to_corruption_errors_naming_file_and_offset() {
    let path = Path::new("/db/000009.wal");
    let corruption = LogEvent::Corruption {
        start: 100,
        end: 32768,
        reason: "bad".into(),
    };
    let torn = LogEvent::TornTail {
        offset: 50,
        reason: "cut".into(),
    };
    for (event, offset) in [(corruption, 100), (torn, 50)] {
        match event.to_error(path) {
            Some(Error::Corruption {
                file,
                offset: found,
                ..
            }) => {
                assert_eq!((file.as_path(), found), (path, offset));
            }
            other => panic!("{other:?}"),
        }
    }
    let record = LogEvent::Record {
        offset: 16,
        payload: Vec::new(),
    };
    assert!(record.to_error(path).is_none());
}

// ---------------------------------------------------------------------------------------------
// Damage sweeps over a small log: about 68 KiB in three blocks, with records that span the
// boundaries between blocks 0 and 1 and between blocks 1 and 2.

fn sweep_log(seed: u64) -> Written {
    let mut rng = Rng::new(seed);
    let lengths = [
        50, 1000, 0, 3000, 30_000, 700, 20, 5000, 26_000, 300, 2000, 90,
    ];
    let written = write_log(lengths.iter().map(|&length| rng.bytes(length)).collect());
    assert_eq!(
        written.bytes.len() / BLOCK_SIZE,
        2,
        "the sweep log reaches block 2"
    );
    written
}

/// The fragments of an intact log, as `(start, end)` file offsets.
fn fragment_ranges(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut offset = FILE_HEADER_SIZE;
    while offset < bytes.len() {
        if BLOCK_SIZE - offset % BLOCK_SIZE < FRAGMENT_HEADER_SIZE {
            offset = (offset / BLOCK_SIZE + 1) * BLOCK_SIZE;
            continue;
        }
        let length = u16::from_le_bytes([bytes[offset + 4], bytes[offset + 5]]) as usize;
        ranges.push((offset, offset + FRAGMENT_HEADER_SIZE + length));
        offset += FRAGMENT_HEADER_SIZE + length;
    }
    ranges
}

/// Invariants every damaged log must keep. Returns the indices of the records returned.
fn check_invariants(written: &Written, events: &[LogEvent], context: &str) -> Vec<usize> {
    if let Some(position) = events
        .iter()
        .position(|e| matches!(e, LogEvent::TornTail { .. }))
    {
        assert_eq!(
            position,
            events.len() - 1,
            "{context}: a torn tail is the last event"
        );
    }
    let mut returned = Vec::new();
    let mut last_end = 0;
    for event in events {
        match event {
            LogEvent::Record { offset, payload } => {
                let index = written.starts.iter().position(|s| s == offset);
                let index =
                    index.unwrap_or_else(|| panic!("{context}: record at unknown offset {offset}"));
                assert!(
                    *payload == written.payloads[index],
                    "{context}: wrong data at {offset}"
                );
                assert!(
                    returned.last().is_none_or(|&last| last < index),
                    "{context}: order"
                );
                returned.push(index);
                last_end = *offset;
            }
            LogEvent::Corruption { start, end, .. } => {
                assert!(
                    last_end <= *start && start < end,
                    "{context}: range {start}..{end}"
                );
                last_end = *end;
            }
            LogEvent::TornTail { offset, .. } => assert!(last_end <= *offset, "{context}"),
        }
    }
    returned
}

/// Every lost record lies in a reported damaged range.
fn assert_losses_reported(
    written: &Written,
    events: &[LogEvent],
    returned: &[usize],
    context: &str,
) {
    for (index, &start) in written.starts.iter().enumerate() {
        if returned.contains(&index) {
            continue;
        }
        let covered = events.iter().any(|event| match event {
            LogEvent::Corruption { start: s, end, .. } => *s <= start && start < *end,
            LogEvent::TornTail { offset, .. } => *offset <= start,
            LogEvent::Record { .. } => false,
        });
        assert!(
            covered,
            "{context}: record {index} at {start} lost silently: {events:?}"
        );
    }
}

#[test]
fn damage_sweep_flip_every_byte() {
    let seed = 0x106_0100;
    let written = sweep_log(seed);
    let fragments = fragment_ranges(&written.bytes);
    let file_length = written.bytes.len() as u64;
    let mut rng = Rng::new(seed);
    for position in 0..written.bytes.len() {
        let mut bytes = written.bytes.clone();
        bytes[position] ^= rng.between(1, 255) as u8;
        let context = format!("seed {seed:#x}, byte {position} flipped");
        let reader = LogReader::from_bytes(NAME, bytes, KIND);
        if position < FILE_HEADER_SIZE {
            let error = reader
                .err()
                .unwrap_or_else(|| panic!("{context}: header damage accepted"));
            assert!(error.is_corruption(), "{context}: {error}");
            continue;
        }
        let events: Vec<LogEvent> = reader.unwrap().collect();
        let returned = check_invariants(&written, &events, &context);
        assert_losses_reported(&written, &events, &returned, &context);
        let x = position as u64;
        let Some(&(fragment_start, _)) = fragments
            .iter()
            .find(|(s, e)| *s <= position && position < *e)
        else {
            assert_round_trip(&written, &events, &context); // a flip in block padding is harmless
            continue;
        };
        let record = written.starts.iter().rposition(|&s| s <= x).unwrap();
        let resume = (fragment_start as u64 / BLOCK + 1) * BLOCK;
        let later = (record + 1..written.starts.len()).find(|&j| written.starts[j] >= resume);
        let mut expected: Vec<usize> = (0..record).collect();
        expected.extend(later.map_or(0..0, |j| j..written.starts.len()));
        assert_eq!(returned, expected, "{context}");
        let start = written.starts[record];
        let damage = damage_of(&events);
        let more_after = record + 1 < written.starts.len() || written.ends[record] > resume;
        match (later, damage.as_slice()) {
            (Some(j), [LogEvent::Corruption { start: s, end, .. }]) => {
                assert_eq!((*s, *end), (start, written.starts[j]), "{context}")
            }
            (None, [LogEvent::Corruption { start: s, end, .. }]) if more_after => {
                assert_eq!((*s, *end), (start, file_length), "{context}")
            }
            (None, [LogEvent::TornTail { offset, .. }]) if !more_after => {
                assert_eq!(*offset, start, "{context}")
            }
            (_, other) => panic!("{context}: unexpected damage events {other:?}"),
        }
    }
}

#[test]
fn damage_sweep_truncate_at_every_offset() {
    let seed = 0x106_0200;
    let written = sweep_log(seed);
    for cut in 0..=written.bytes.len() {
        let context = format!("seed {seed:#x}, truncated to {cut} bytes");
        let events = read_events(&written.bytes[..cut]);
        if cut < FILE_HEADER_SIZE {
            assert!(
                matches!(events.as_slice(), [LogEvent::TornTail { offset: 0, .. }]),
                "{context}"
            );
            continue;
        }
        let returned = check_invariants(&written, &events, &context);
        let cut = cut as u64;
        let complete: Vec<usize> = (0..written.ends.len())
            .filter(|&i| written.ends[i] <= cut)
            .collect();
        assert_eq!(returned, complete, "{context}");
        let cut_inside =
            (0..written.starts.len()).find(|&i| written.starts[i] < cut && cut < written.ends[i]);
        match (cut_inside, damage_of(&events).as_slice()) {
            (None, []) => {}
            (Some(index), [LogEvent::TornTail { offset, .. }]) => {
                assert_eq!(*offset, written.starts[index], "{context}")
            }
            (_, other) => panic!("{context}: unexpected damage events {other:?}"),
        }
    }
}

#[test]
fn damage_sweep_zero_ranges() {
    let seed = 0x106_0300;
    let written = sweep_log(seed);
    let length = written.bytes.len();
    let mut rng = Rng::new(seed);
    for zero_length in [1, 3, 7, 64, 1000, 4096, 40_000] {
        let mut start = FILE_HEADER_SIZE + rng.between(0, 10);
        while start < length {
            let end = (start + zero_length).min(length);
            let mut bytes = written.bytes.clone();
            bytes[start..end].fill(0);
            let context = format!("seed {seed:#x}, zeroed {start}..{end}");
            let events = read_events(&bytes);
            let returned = check_invariants(&written, &events, &context);
            let (a, b) = (start as u64, end as u64);
            for index in 0..written.starts.len() {
                let before = written.ends[index] <= a;
                let after_resync = written.starts[index] >= b.div_ceil(BLOCK) * BLOCK;
                if before || (after_resync && b < length as u64) {
                    assert!(returned.contains(&index), "{context}: record {index} lost");
                }
            }
            if end < length {
                assert_losses_reported(&written, &events, &returned, &context);
                let lost_before_kept = (0..written.starts.len())
                    .any(|i| !returned.contains(&i) && returned.iter().any(|&r| r > i));
                if lost_before_kept {
                    assert!(
                        events
                            .iter()
                            .any(|e| matches!(e, LogEvent::Corruption { .. })),
                        "{context}"
                    );
                }
            }
            start += rng.between(1, 97);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generators for documentation and the fuzz corpus (run with `--ignored`).

/// The worked example of FORMAT.md 4.6, byte for byte.
#[test]
fn the_format_md_worked_example_is_what_the_writer_writes() {
    let bytes = encode_log(LogFileKind::Wal, [b"hello, shale"]);
    let expected: [u8; 35] = [
        0x73, 0x68, 0x61, 0x6c, 0x65, 0x4c, 0x4f, 0x47, 0x05, 0x00, 0x01, 0x00, 0xa9, 0xb3, 0xdc,
        0x67, 0x94, 0x98, 0xac, 0x57, 0x0c, 0x00, 0x01, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20,
        0x73, 0x68, 0x61, 0x6c, 0x65,
    ];
    assert_eq!(bytes, expected);
}

/// Prints the hex dump used in FORMAT.md section 4.
#[test]
#[ignore]
fn print_format_example() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("000001.wal");
    let mut writer = LogWriter::create(&path, KIND).unwrap();
    writer.add_record(b"hello, shale").unwrap();
    drop(writer);
    let bytes = std::fs::read(&path).unwrap();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|byte| format!("{byte:02x}")).collect();
        println!("{:08x}  {}", row * 16, hex.join(" "));
    }
}

/// Writes seed inputs for the `log_reader` fuzz target (see `fuzz/checks/log.rs` for how an
/// input doubles as a recipe of payload lengths and damage operations).
#[test]
#[ignore]
fn write_fuzz_corpus() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/log_reader");
    std::fs::create_dir_all(&directory).unwrap();
    let mut rng = Rng::new(0x106_0400);
    let small = encode_log(KIND, [&b"hello"[..], b"", b"shale"]);
    let several = encode_log(KIND, random_payloads(&mut rng, 8, 2000));
    let mut flipped = small.clone();
    flipped[30] ^= 0x10;
    let mut zeroed = several.clone();
    zeroed[100..400].fill(0);
    let truncated = several[..several.len() - 500].to_vec();
    let mut manifest = encode_log(LogFileKind::Manifest, [b"edit one", b"edit two"]);
    manifest.resize(4096, 0);
    // Recipes: count, u16 lengths, then 4-byte damage operations (kind, u16 position, amount).
    let spanning_recipe = [3, 0x2c, 0x01, 0xe8, 0x80, 40, 0, 0, 0x00, 0x40, 0x55];
    let undamaged_recipe = [5, 0, 0, 1, 0, 0xf9, 0x7f, 0x10, 0x27, 0, 1];
    let truncating_recipe = [2, 0xff, 0x7f, 0x10, 0x00, 2, 0x00, 0x90, 0];
    let inputs: [(&str, &[u8]); 9] = [
        ("small_wal", &small),
        ("several_records", &several),
        ("flipped_byte", &flipped),
        ("zeroed_range", &zeroed),
        ("truncated", &truncated),
        ("preallocated_manifest", &manifest),
        ("recipe_spanning_blocks_flip", &spanning_recipe),
        ("recipe_undamaged", &undamaged_recipe),
        ("recipe_truncated", &truncating_recipe),
    ];
    for (name, bytes) in inputs {
        assert!(
            bytes.len() < 20 * 1024,
            "{name} is too large for the corpus"
        );
        std::fs::write(directory.join(name), bytes).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The fuzz check, run here over its corpus and over seeded random recipes.

#[allow(dead_code)]
#[path = "../fuzz/checks/mod.rs"]
mod fuzz_checks;
use fuzz_checks::log as log_fuzz_checks;

#[test]
fn fuzz_check_passes_on_its_corpus_and_random_recipes() {
    let [(name, check)] = log_fuzz_checks::TARGETS else {
        panic!("one log fuzz target expected");
    };
    assert_eq!(*name, "log_reader");
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/log_reader");
    let mut corpus_files = 0;
    for entry in std::fs::read_dir(&directory).unwrap() {
        check(&std::fs::read(entry.unwrap().path()).unwrap());
        corpus_files += 1;
    }
    assert!(corpus_files >= 5, "corpus in {}", directory.display());
    let seed = 0x106_0500;
    let mut rng = Rng::new(seed);
    for _ in 0..300 {
        let length = rng.between(0, 60);
        let mut input = rng.bytes(length);
        if let Some(first) = input.first_mut() {
            *first %= 13;
        }
        check(&input);
    }
}
