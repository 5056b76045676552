//! The manifest format (FORMAT.md, "Manifest and CURRENT"): version edit round trips and
//! decode errors, consistency checks, CURRENT, and — through the log — manifests written,
//! replayed, restarted and damaged.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Rng;
use shaledb::coding::put_varint32;
use shaledb::key::{
    FileNumber, KeyspaceId, MAX_KEY_SIZE, ValueKind, compare_internal_keys, internal_key,
};
use shaledb::log::{LogEvent, LogFileKind, LogReader, LogWriter};
use shaledb::manifest::edit::{TAG_IGNORABLE_BIT, TAG_NEW_FILE};
use shaledb::manifest::{
    FileMetadata, ManifestState, ManifestWriter, NUM_LEVELS, VersionEdit, read_current, recover,
    write_current,
};
use shaledb::{Error, SequenceNumber};

const SEED: u64 = 0x5a1e_0006;

// ---------------------------------------------------------------------------------------------
// Generators.

fn random_user_key(rng: &mut Rng) -> Vec<u8> {
    if rng.chance(1, 50) {
        return rng.bytes(MAX_KEY_SIZE);
    }
    let length = rng.between(0, 24);
    rng.bytes(length)
}

fn random_kind(rng: &mut Rng) -> ValueKind {
    if rng.chance(1, 2) {
        ValueKind::Value
    } else {
        ValueKind::Tombstone
    }
}

/// A file with arbitrary but valid metadata (smallest <= largest for keys and sequences).
fn random_file(rng: &mut Rng) -> FileMetadata {
    let sequence_a = SequenceNumber(rng.below(SequenceNumber::MAX.0 + 1));
    let sequence_b = SequenceNumber(rng.below(SequenceNumber::MAX.0 + 1));
    let mut smallest = internal_key(&random_user_key(rng), sequence_a, random_kind(rng));
    let mut largest = internal_key(&random_user_key(rng), sequence_b, random_kind(rng));
    if compare_internal_keys(&smallest, &largest).is_gt() {
        std::mem::swap(&mut smallest, &mut largest);
    }
    FileMetadata {
        number: FileNumber(rng.next_u64() >> rng.below(64)),
        file_size: rng.next_u64() >> rng.below(64),
        smallest,
        largest,
        smallest_sequence: sequence_a.min(sequence_b),
        largest_sequence: sequence_a.max(sequence_b),
        global_sequence: None,
    }
}

/// An edit with a random subset of fields, none of them checked against a state.
fn random_edit(rng: &mut Rng) -> VersionEdit {
    let mut edit = VersionEdit::new();
    if rng.chance(1, 2) {
        edit.log_number = Some(FileNumber(rng.next_u64()));
    }
    if rng.chance(1, 2) {
        edit.next_file_number = Some(FileNumber(rng.next_u64()));
    }
    if rng.chance(1, 2) {
        edit.last_sequence = Some(SequenceNumber(rng.below(SequenceNumber::MAX.0 + 1)));
    }
    for _ in 0..rng.between(0, 4) {
        let level = rng.below(NUM_LEVELS as u64) as usize;
        edit.delete_file(level, FileNumber(rng.next_u64() >> rng.below(64)));
    }
    for _ in 0..rng.between(0, 4) {
        let level = rng.below(NUM_LEVELS as u64) as usize;
        edit.add_file(level, random_file(rng));
    }
    edit
}

/// An in-memory model of the state, kept independently of `ManifestState::apply`.
#[derive(Debug, Clone)]
struct Model {
    files: BTreeMap<FileNumber, (usize, FileMetadata)>,
    log_number: FileNumber,
    next_file_number: FileNumber,
    last_sequence: SequenceNumber,
}

impl Model {
    fn new(manifest_number: FileNumber) -> Self {
        Model {
            files: BTreeMap::new(),
            log_number: FileNumber(0),
            next_file_number: FileNumber(manifest_number.0 + 1),
            last_sequence: SequenceNumber(0),
        }
    }

    fn allocate(&mut self) -> FileNumber {
        let number = self.next_file_number;
        self.next_file_number.0 += 1;
        number
    }

    /// A valid edit on the model's state, applied to the model.
    fn random_edit(&mut self, rng: &mut Rng) -> VersionEdit {
        let mut edit = VersionEdit::new();
        if rng.chance(1, 2) {
            self.last_sequence.0 += rng.below(1000);
            edit.last_sequence = Some(self.last_sequence);
        }
        if rng.chance(1, 4) {
            self.log_number = self.allocate();
            edit.log_number = Some(self.log_number);
        }
        let live: Vec<(FileNumber, usize)> = self
            .files
            .iter()
            .map(|(n, (level, _))| (*n, *level))
            .collect();
        for (number, level) in live {
            if rng.chance(1, 5) {
                edit.delete_file(level, number);
                let (_, file) = self.files.remove(&number).expect("live file");
                // Sometimes a trivial move: the same file re-added one level down.
                if level + 1 < NUM_LEVELS && rng.chance(1, 3) {
                    edit.add_file(level + 1, file.clone());
                    self.files.insert(number, (level + 1, file));
                }
            }
        }
        for _ in 0..rng.between(0, 3) {
            let number = self.allocate();
            let level = rng.below(NUM_LEVELS as u64) as usize;
            let file = self.file_for(rng, number);
            edit.add_file(level, file.clone());
            self.files.insert(number, (level, file));
        }
        if edit.next_file_number.is_none() || rng.chance(1, 2) {
            edit.next_file_number = Some(self.next_file_number);
        }
        edit
    }

    /// A file whose key range is unique to its number, so levels 1 to 3 never overlap.
    fn file_for(&self, rng: &mut Rng, number: FileNumber) -> FileMetadata {
        let smallest_sequence = SequenceNumber(rng.below(self.last_sequence.0 + 1));
        let largest_sequence = SequenceNumber(
            rng.between(smallest_sequence.0 as usize, self.last_sequence.0 as usize) as u64,
        );
        let prefix = format!("{:08}", number.0);
        FileMetadata {
            number,
            file_size: rng.below(1 << 30),
            smallest: internal_key(
                format!("{prefix}a").as_bytes(),
                smallest_sequence,
                ValueKind::Value,
            ),
            largest: internal_key(
                format!("{prefix}z").as_bytes(),
                largest_sequence,
                ValueKind::Tombstone,
            ),
            smallest_sequence,
            largest_sequence,
            global_sequence: None,
        }
    }

    /// The state the model describes, ordered as `ManifestState` promises.
    fn state(&self, manifest_number: FileNumber) -> ManifestState {
        let mut levels: [Vec<FileMetadata>; NUM_LEVELS] = Default::default();
        for (level, file) in self.files.values() {
            levels[*level].push(file.clone());
        }
        levels[0].sort_by_key(|file| std::cmp::Reverse(file.number));
        for files in &mut levels[1..] {
            files.sort_by(|a, b| compare_internal_keys(&a.smallest, &b.smallest));
        }
        let mut state = ManifestState {
            log_number: self.log_number,
            next_file_number: self.next_file_number,
            last_sequence: self.last_sequence,
            ..ManifestState::empty(manifest_number)
        };
        if let Some(default) = state.keyspaces.get_mut(&shaledb::key::KeyspaceId::DEFAULT) {
            default.levels = levels;
        }
        state
    }
}

// ---------------------------------------------------------------------------------------------
// Version edit encoding.

#[test]
fn random_edits_round_trip() {
    let mut rng = Rng::new(SEED);
    for round in 0..2000 {
        let edit = random_edit(&mut rng);
        let encoded = edit.encode();
        let decoded = VersionEdit::decode(&encoded);
        assert_eq!(decoded, Ok(edit), "seed {SEED:#x} round {round}");
    }
}

#[test]
fn empty_edit_is_empty_bytes_and_round_trips() {
    let edit = VersionEdit::new();
    assert!(edit.encode().is_empty());
    assert_eq!(VersionEdit::decode(&[]), Ok(edit));
}

#[test]
fn every_field_and_max_size_keys_round_trip() {
    let max_key = vec![0xffu8; MAX_KEY_SIZE];
    let file = FileMetadata {
        number: FileNumber(u64::MAX),
        file_size: u64::MAX,
        smallest: internal_key(&max_key, SequenceNumber::MAX, ValueKind::Value),
        largest: internal_key(&max_key, SequenceNumber(0), ValueKind::Tombstone),
        smallest_sequence: SequenceNumber(0),
        largest_sequence: SequenceNumber::MAX,
        global_sequence: None,
    };
    let mut edit = VersionEdit {
        snapshot: true,
        log_number: Some(FileNumber(u64::MAX)),
        next_file_number: Some(FileNumber(u64::MAX)),
        last_sequence: Some(SequenceNumber::MAX),
        ..VersionEdit::default()
    };
    for level in 0..NUM_LEVELS {
        edit.add_file(level, file.clone());
    }
    assert_eq!(VersionEdit::decode(&edit.encode()), Ok(edit.clone()));
    edit.snapshot = false;
    edit.delete_file(NUM_LEVELS - 1, FileNumber(u64::MAX));
    assert_eq!(VersionEdit::decode(&edit.encode()), Ok(edit));
}

#[test]
fn every_truncation_is_an_error_or_a_field_prefix() {
    let mut rng = Rng::new(SEED ^ 1);
    for round in 0..50 {
        let edit = random_edit(&mut rng);
        let encoded = edit.encode();
        for length in 0..encoded.len() {
            // A cut at a field boundary decodes to the fields before it; any other cut fails.
            if let Ok(prefix) = VersionEdit::decode(&encoded[..length]) {
                assert_eq!(
                    prefix.encode(),
                    &encoded[..length],
                    "seed {SEED:#x} round {round} length {length}"
                );
            }
        }
    }
}

fn decode_error(bytes: &[u8]) -> (usize, &'static str) {
    let error = VersionEdit::decode(bytes).expect_err("decode must fail");
    (error.offset, error.reason)
}

fn valid_file() -> FileMetadata {
    FileMetadata {
        number: FileNumber(7),
        file_size: 100,
        smallest: internal_key(b"a", SequenceNumber(1), ValueKind::Value),
        largest: internal_key(b"b", SequenceNumber(2), ValueKind::Value),
        smallest_sequence: SequenceNumber(1),
        largest_sequence: SequenceNumber(2),
        global_sequence: None,
    }
}

#[test]
fn unknown_and_ignorable_tags() {
    let mut bytes = vec![0x01, 0x05]; // log number 5
    put_varint32(&mut bytes, 16); // unknown, not ignorable (13, 14 and 15 are known)
    assert_eq!(
        decode_error(&bytes),
        (2, "unknown tag without the ignorable bit")
    );
    assert_eq!(decode_error(&[0x00]).0, 0, "tag 0 is not a field");

    let mut bytes = vec![0x01, 0x05];
    put_varint32(&mut bytes, TAG_IGNORABLE_BIT | 13);
    bytes.extend_from_slice(&[3, b'x', b'y', b'z']);
    bytes.extend_from_slice(&[0x03, 0x09]); // last sequence 9
    let edit = VersionEdit::decode(&bytes).expect("ignorable field is skipped");
    assert_eq!(edit.log_number, Some(FileNumber(5)));
    assert_eq!(edit.last_sequence, Some(SequenceNumber(9)));

    let mut truncated = vec![0x01, 0x05];
    put_varint32(&mut truncated, TAG_IGNORABLE_BIT | 9);
    truncated.extend_from_slice(&[3, b'x']);
    assert_eq!(
        decode_error(&truncated).1,
        "length runs past the end of the data"
    );
}

#[test]
fn invalid_fields_are_errors_at_their_offset() {
    let mut edit = VersionEdit::new();
    edit.add_file(NUM_LEVELS, valid_file());
    assert_eq!(
        decode_error(&edit.encode()),
        (1, "level is 4 or more (shaledb has levels 0 to 3)")
    );

    let mut edit = VersionEdit::new();
    edit.delete_file(NUM_LEVELS, FileNumber(3));
    assert_eq!(decode_error(&edit.encode()).0, 1);

    let mut swapped = valid_file();
    std::mem::swap(&mut swapped.smallest, &mut swapped.largest);
    let mut edit = VersionEdit::new();
    edit.add_file(1, swapped);
    assert_eq!(
        decode_error(&edit.encode()),
        (4, "smallest key is greater than largest key")
    );

    let mut backwards = valid_file();
    backwards.smallest_sequence = SequenceNumber(3);
    let mut edit = VersionEdit::new();
    edit.add_file(1, backwards);
    assert_eq!(
        decode_error(&edit.encode()).1,
        "smallest sequence number is greater than largest"
    );

    let mut bad_key = valid_file();
    bad_key.smallest = b"short".to_vec();
    let mut edit = VersionEdit::new();
    edit.add_file(1, bad_key);
    assert_eq!(
        decode_error(&edit.encode()),
        (4, "internal key shorter than its 8-byte trailer")
    );

    let mut bad_kind = valid_file();
    bad_kind.largest[1] = 9;
    let mut edit = VersionEdit::new();
    edit.add_file(1, bad_kind);
    assert_eq!(
        decode_error(&edit.encode()).1,
        "unknown value kind in internal key"
    );

    let mut huge = valid_file();
    huge.largest = internal_key(
        &vec![b'z'; MAX_KEY_SIZE + 1],
        SequenceNumber(2),
        ValueKind::Value,
    );
    let mut edit = VersionEdit::new();
    edit.add_file(1, huge);
    assert_eq!(
        decode_error(&edit.encode()).1,
        "key longer than the 64 KiB limit"
    );

    let mut bytes = vec![TAG_NEW_FILE as u8];
    bytes.extend_from_slice(&[0, 7, 100]);
    assert_eq!(decode_error(&bytes).1, "truncated varint");
}

#[test]
fn duplicate_fields_and_incomplete_snapshots_are_errors() {
    assert_eq!(
        decode_error(&[0x01, 0x05, 0x02, 0x09, 0x01, 0x06]),
        (4, "field appears twice in one edit")
    );
    assert_eq!(decode_error(&[0x06, 0x06]).0, 1);
    assert_eq!(
        decode_error(&[0x06, 0x01, 0x05]).1,
        "snapshot edit lacks the log number, next file number or last sequence"
    );
    let mut bytes = vec![0x06, 0x01, 0x05, 0x02, 0x09, 0x03, 0x01];
    bytes.extend_from_slice(&[0x04, 0x00, 0x07]);
    assert_eq!(decode_error(&bytes).1, "snapshot edit deletes files");
    // 2^56 does not fit in a sequence number.
    let mut bytes = vec![0x03];
    shaledb::coding::put_varint64(&mut bytes, 1 << 56);
    assert_eq!(
        decode_error(&bytes),
        (0, "last sequence does not fit in 56 bits")
    );
}

// ---------------------------------------------------------------------------------------------
// Consistency checks (no I/O).

#[test]
fn applying_random_edits_matches_the_model() {
    let mut rng = Rng::new(SEED ^ 2);
    let manifest_number = FileNumber(1);
    let mut model = Model::new(manifest_number);
    let mut state = ManifestState::empty(manifest_number);
    for step in 0..500 {
        let edit = model.random_edit(&mut rng);
        let decoded = VersionEdit::decode(&edit.encode()).expect("valid edit decodes");
        state
            .apply(&decoded)
            .unwrap_or_else(|error| panic!("seed {SEED:#x} step {step}: {error}"));
        assert_eq!(
            state,
            model.state(manifest_number),
            "seed {SEED:#x} step {step}"
        );
        if step % 50 == 0 {
            let snapshot = state.to_snapshot_edit();
            let decoded = VersionEdit::decode(&snapshot.encode()).expect("snapshot decodes");
            let restored = ManifestState::from_snapshot(manifest_number, &decoded)
                .expect("snapshot is consistent");
            assert_eq!(restored, state, "seed {SEED:#x} step {step}");
        }
    }
}

fn state_with_file() -> ManifestState {
    let mut state = ManifestState::empty(FileNumber(1));
    let mut edit = VersionEdit::new();
    edit.next_file_number = Some(FileNumber(10));
    edit.last_sequence = Some(SequenceNumber(5));
    edit.add_file(1, valid_file());
    state.apply(&edit).expect("valid edit");
    state
}

fn apply_error(edit: &VersionEdit) -> String {
    let mut state = state_with_file();
    state.apply(edit).expect_err("edit must be refused").reason
}

#[test]
fn inconsistent_edits_are_refused() {
    let mut edit = VersionEdit::new();
    edit.delete_file(1, FileNumber(8));
    assert!(apply_error(&edit).contains("deletes file 8 which is not live in level 1"));

    let mut edit = VersionEdit::new();
    edit.delete_file(2, FileNumber(7));
    assert!(
        apply_error(&edit).contains("not live in level 2"),
        "wrong level"
    );

    let mut edit = VersionEdit::new();
    edit.delete_file(1, FileNumber(7));
    edit.delete_file(1, FileNumber(7));
    assert!(
        apply_error(&edit).contains("deletes file 7"),
        "double delete"
    );

    let mut edit = VersionEdit::new();
    let mut moved = valid_file();
    moved.smallest = internal_key(b"x", SequenceNumber(1), ValueKind::Value);
    moved.largest = internal_key(b"y", SequenceNumber(1), ValueKind::Value);
    edit.add_file(0, moved);
    assert!(apply_error(&edit).contains("adds file 7 which is already live in level 1"));

    let mut edit = VersionEdit::new();
    let mut too_new = valid_file();
    too_new.number = FileNumber(10);
    edit.add_file(0, too_new);
    assert!(apply_error(&edit).contains("not below next file number 10"));

    let mut edit = VersionEdit::new();
    let mut overlapping = valid_file();
    overlapping.number = FileNumber(8);
    edit.add_file(1, overlapping);
    assert!(apply_error(&edit).contains("overlaps another file of level 1"));

    let mut edit = VersionEdit::new();
    let mut future = valid_file();
    future.number = FileNumber(8);
    future.largest_sequence = SequenceNumber(6);
    edit.add_file(0, future);
    assert!(apply_error(&edit).contains("above last sequence 5"));

    let edit = VersionEdit {
        next_file_number: Some(FileNumber(9)),
        ..VersionEdit::default()
    };
    assert!(apply_error(&edit).contains("counters go backwards"));

    let edit = VersionEdit {
        log_number: Some(FileNumber(11)),
        ..VersionEdit::default()
    };
    assert!(apply_error(&edit).contains("log number 11 is above next file number 10"));
}

#[test]
fn trivial_move_and_level0_order() {
    let mut state = state_with_file();
    let mut edit = VersionEdit::new();
    edit.delete_file(1, FileNumber(7));
    edit.add_file(2, valid_file());
    for number in [8, 9, 3] {
        let mut file = valid_file();
        file.number = FileNumber(number);
        edit.add_file(0, file);
    }
    state.apply(&edit).expect("a trivial move is consistent");
    assert_eq!(state.level_of(FileNumber(7)), Some(2));
    let level0: Vec<u64> = state.levels()[0].iter().map(|file| file.number.0).collect();
    assert_eq!(level0, [9, 8, 3], "level 0 is newest first");
}

#[test]
fn snapshot_requires_all_counters() {
    let edit = VersionEdit {
        log_number: Some(FileNumber(1)),
        ..VersionEdit::default()
    };
    assert!(ManifestState::from_snapshot(FileNumber(1), &edit).is_err());
    let snapshot = ManifestState::empty(FileNumber(4)).to_snapshot_edit();
    assert!(ManifestState::from_snapshot(FileNumber(4), &snapshot).is_ok());
    assert!(
        ManifestState::from_snapshot(FileNumber(5), &snapshot).is_err(),
        "next file number must be above the manifest's own number"
    );
}

// ---------------------------------------------------------------------------------------------
// CURRENT.

fn names_file(error: &Error, name: &str) -> bool {
    matches!(error, Error::Corruption { file, .. } if file.file_name().is_some_and(|f| f == name))
}

#[test]
fn current_round_trip_and_atomic_replace() {
    let dir = tempfile::tempdir().expect("temporary directory");
    assert!(
        matches!(read_current(dir.path()), Ok(None)),
        "missing CURRENT"
    );
    for number in [1u64, 5, 999_999, 1_234_567, u64::MAX] {
        write_current(dir.path(), FileNumber(number)).expect("write CURRENT");
        assert_eq!(
            read_current(dir.path()).expect("read CURRENT"),
            Some(FileNumber(number))
        );
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["CURRENT"], "no temporary file is left behind");
    let text = std::fs::read_to_string(dir.path().join("CURRENT")).expect("read");
    assert!(text.starts_with("shaledb-current v1\nMANIFEST-18446744073709551615\ncrc32 "));
}

fn read_damaged_current(dir: &Path, bytes: &[u8]) -> shaledb::Result<Option<FileNumber>> {
    std::fs::write(dir.join("CURRENT"), bytes).expect("write CURRENT");
    read_current(dir)
}

#[test]
fn damaged_or_unknown_current_is_corruption() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_current(dir.path(), FileNumber(42)).expect("write CURRENT");
    let good = std::fs::read(dir.path().join("CURRENT")).expect("read");
    for offset in 0..good.len() {
        for bit in [0x01u8, 0x20, 0x80] {
            let mut damaged = good.clone();
            damaged[offset] ^= bit;
            let result = read_damaged_current(dir.path(), &damaged);
            match result {
                Err(error) => assert!(names_file(&error, "CURRENT"), "{offset}: {error}"),
                Ok(found) => panic!("flip at {offset} read as {found:?}"),
            }
        }
    }
    for length in 0..good.len() {
        let error = read_damaged_current(dir.path(), &good[..length]).expect_err("truncated");
        assert!(names_file(&error, "CURRENT"), "{length}: {error}");
    }
    let unknown = String::from_utf8(good.clone())
        .expect("text")
        .replace(" v1\n", " v2\n");
    let error = read_damaged_current(dir.path(), unknown.as_bytes()).expect_err("v2");
    assert!(
        error
            .to_string()
            .contains("unknown CURRENT format version \"2\""),
        "{error}"
    );
    let error = read_damaged_current(dir.path(), b"MANIFEST-000042\n").expect_err("LevelDB style");
    assert!(error.to_string().contains("bad magic"), "{error}");
    let error = read_damaged_current(dir.path(), &vec![b'x'; 5000]).expect_err("huge");
    assert!(names_file(&error, "CURRENT"), "{error}");
}

/// The worked example of FORMAT.md section 6, pinned: a change here is a format change.
#[test]
fn format_example_bytes_are_stable() {
    let expected = "01 09 02 0c 03 ac 02 04 00 05 05 01 0b 80 20 0b \
                    61 6e 74 01 22 01 00 00 00 00 00 0b 62 65 65 00 \
                    2c 01 00 00 00 00 00 a2 02 ac 02";
    let hex: Vec<String> = format_example_edit()
        .encode()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let expected: Vec<&str> = expected.split_whitespace().collect();
    assert_eq!(hex, expected);
    assert_eq!(
        VersionEdit::decode(&format_example_edit().encode()),
        Ok(format_example_edit())
    );
    let current = shaledb::manifest::current::encode_current(FileNumber(6));
    assert_eq!(
        current,
        b"shaledb-current v1\nMANIFEST-000006\ncrc32 d8b2362c\n"
    );
}

fn format_example_edit() -> VersionEdit {
    let mut edit = VersionEdit {
        log_number: Some(FileNumber(9)),
        next_file_number: Some(FileNumber(12)),
        last_sequence: Some(SequenceNumber(300)),
        ..VersionEdit::default()
    };
    edit.delete_file(0, FileNumber(5));
    edit.add_file(
        1,
        FileMetadata {
            number: FileNumber(11),
            file_size: 4096,
            smallest: internal_key(b"ant", SequenceNumber(290), ValueKind::Value),
            largest: internal_key(b"bee", SequenceNumber(300), ValueKind::Tombstone),
            smallest_sequence: SequenceNumber(290),
            largest_sequence: SequenceNumber(300),
            global_sequence: None,
        },
    );
    edit
}

// ---------------------------------------------------------------------------------------------
// Manifests on disk (through the log).

/// Writes manifest `number` in `dir` from `model`'s current state, makes CURRENT name it, and
/// appends `edits` valid edits generated from the model; returns the states after the snapshot
/// and after each append.
fn write_manifest(
    dir: &Path,
    number: FileNumber,
    model: &mut Model,
    rng: &mut Rng,
    edits: usize,
) -> Vec<ManifestState> {
    write_manifest_with_sizes(dir, number, model, rng, edits).0
}

/// As `write_manifest`, also returning the manifest's size after the snapshot and each append.
fn write_manifest_with_sizes(
    dir: &Path,
    number: FileNumber,
    model: &mut Model,
    rng: &mut Rng,
    edits: usize,
) -> (Vec<ManifestState>, Vec<u64>) {
    let mut writer =
        ManifestWriter::create(dir, number, &model.state(number)).expect("create manifest");
    write_current(dir, number).expect("write CURRENT");
    let mut states = vec![model.state(number)];
    let mut sizes = vec![writer.file_size()];
    for _ in 0..edits {
        let edit = model.random_edit(rng);
        writer.append(&edit).expect("append edit");
        assert_eq!(writer.state(), &model.state(number));
        states.push(model.state(number));
        sizes.push(writer.file_size());
    }
    (states, sizes)
}

#[test]
fn replay_of_many_edits_matches_the_model() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(SEED ^ 3);
    let mut model = Model::new(FileNumber(1));
    let states = write_manifest(dir.path(), FileNumber(1), &mut model, &mut rng, 300);
    let recovered = recover(dir.path()).expect("recover");
    assert_eq!(Some(&recovered), states.last(), "seed {SEED:#x}");
}

#[test]
fn manifest_written_restarted_appended_and_replayed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(SEED ^ 4);
    let first = FileNumber(1);
    let mut model = Model::new(first);
    write_manifest(dir.path(), first, &mut model, &mut rng, 20);
    let recovered = recover(dir.path()).expect("recover the first manifest");
    assert_eq!(recovered, model.state(first), "seed {SEED:#x}");

    // Restart: the recovered state becomes the snapshot of a new manifest, CURRENT switches.
    let second = model.allocate();
    let states = write_manifest(dir.path(), second, &mut model, &mut rng, 20);
    assert_eq!(states[0].levels(), recovered.levels());
    std::fs::remove_file(shaledb::fs::manifest_path(dir.path(), first)).expect("remove old");
    let recovered = recover(dir.path()).expect("recover the second manifest");
    assert_eq!(recovered, model.state(second), "seed {SEED:#x}");
    assert_eq!(recovered.manifest_number, second);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "temporary files left: {names:?}");
}

#[test]
fn missing_current_and_missing_manifest() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let error = recover(dir.path()).expect_err("no database");
    assert!(
        matches!(&error, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{error}"
    );
    assert!(matches!(read_current(dir.path()), Ok(None)));
    write_current(dir.path(), FileNumber(3)).expect("write CURRENT");
    let error = recover(dir.path()).expect_err("CURRENT names a missing manifest");
    assert!(names_file(&error, "MANIFEST-000003"), "{error}");
}

#[test]
fn writer_refuses_inconsistent_edits_and_stays_usable() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(SEED ^ 5);
    let number = FileNumber(1);
    let mut model = Model::new(number);
    let mut writer =
        ManifestWriter::create(dir.path(), number, &model.state(number)).expect("create");
    write_current(dir.path(), number).expect("write CURRENT");
    let mut unknown = VersionEdit::new();
    unknown.delete_file(0, FileNumber(1));
    let error = writer
        .append(&unknown)
        .expect_err("delete of an unknown file");
    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    let mut bad_level = VersionEdit::new();
    bad_level.delete_file(NUM_LEVELS, FileNumber(1));
    assert!(matches!(
        writer.append(&bad_level),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        writer.append(&ManifestState::empty(number).to_snapshot_edit()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(!writer.is_poisoned());
    let edit = model.random_edit(&mut rng);
    writer
        .append(&edit)
        .expect("a valid edit after refused ones");
    assert_eq!(recover(dir.path()).expect("recover"), model.state(number));
    let mut too_small = model.state(number);
    too_small.next_file_number = FileNumber(2);
    assert!(matches!(
        ManifestWriter::create(dir.path(), FileNumber(2), &too_small),
        Err(Error::InvalidArgument(_))
    ));
}

/// Writes raw log records (bypassing the writer's checks) as manifest 1 and recovers it.
fn recover_records(records: &[VersionEdit]) -> shaledb::Result<ManifestState> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = shaledb::fs::manifest_path(dir.path(), FileNumber(1));
    let mut log = LogWriter::create(&path, LogFileKind::Manifest).expect("create log");
    for record in records {
        log.add_record(&record.encode()).expect("add record");
    }
    log.sync().expect("sync");
    write_current(dir.path(), FileNumber(1)).expect("write CURRENT");
    recover(dir.path())
}

#[test]
fn inconsistent_manifests_are_corruption() {
    let snapshot = {
        let mut state = ManifestState::empty(FileNumber(1));
        state.next_file_number = FileNumber(10);
        state.last_sequence = SequenceNumber(5);
        state
            .keyspaces
            .get_mut(&shaledb::key::KeyspaceId::DEFAULT)
            .unwrap()
            .levels[1]
            .push(valid_file());
        state.to_snapshot_edit()
    };
    assert!(recover_records(std::slice::from_ref(&snapshot)).is_ok());

    // Consistent as an edit (same counters, no files), but a snapshot may only come first.
    let mut empty_snapshot = snapshot.clone();
    empty_snapshot.new_files.clear();
    let mut delete_unknown = VersionEdit::new();
    delete_unknown.delete_file(1, FileNumber(8));
    let mut duplicate_add = VersionEdit::new();
    let mut copy = valid_file();
    copy.smallest = internal_key(b"x", SequenceNumber(1), ValueKind::Value);
    copy.largest = internal_key(b"y", SequenceNumber(1), ValueKind::Value);
    duplicate_add.add_file(2, copy);
    let mut too_new = VersionEdit::new();
    let mut file = valid_file();
    file.number = FileNumber(10);
    too_new.add_file(0, file);
    for (name, records) in [
        (
            "delete of an unknown file",
            vec![snapshot.clone(), delete_unknown],
        ),
        ("duplicate add", vec![snapshot.clone(), duplicate_add]),
        (
            "file number not below next",
            vec![snapshot.clone(), too_new],
        ),
        ("second snapshot", vec![snapshot.clone(), empty_snapshot]),
        ("no snapshot first", vec![VersionEdit::new()]),
        ("no records", vec![]),
    ] {
        let error = recover_records(&records).expect_err(name);
        assert!(names_file(&error, "MANIFEST-000001"), "{name}: {error}");
    }
}

/// The bytes of a small manifest (a snapshot and a few edits), the state after each record and
/// the file size after each record.
fn small_manifest(dir: &Path) -> (Vec<u8>, Vec<ManifestState>, Vec<u64>) {
    let mut rng = Rng::new(SEED ^ 6);
    let mut model = Model::new(FileNumber(1));
    for _ in 0..3 {
        model.random_edit(&mut rng);
    }
    let (states, sizes) = write_manifest_with_sizes(dir, FileNumber(1), &mut model, &mut rng, 4);
    let bytes = std::fs::read(shaledb::fs::manifest_path(dir, FileNumber(1))).expect("read");
    assert_eq!(sizes.last(), Some(&(bytes.len() as u64)));
    (bytes, states, sizes)
}

/// Recovers `dir` with `bytes` as its manifest: corruption must name the manifest and an offset
/// inside it; success must give one of the states that were written.
fn check_damaged(dir: &Path, bytes: &[u8], states: &[ManifestState], what: &str) {
    let path = shaledb::fs::manifest_path(dir, FileNumber(1));
    std::fs::write(&path, bytes).expect("write damaged manifest");
    match recover(dir) {
        Ok(state) => assert!(
            states.contains(&state),
            "{what}: a state that was never written"
        ),
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!(file, path, "{what}: corruption names the manifest");
            assert!(
                offset <= bytes.len() as u64,
                "{what}: offset {offset} past the end"
            );
        }
        Err(error) => panic!("{what}: unexpected error {error}"),
    }
}

#[test]
fn damage_sweeps_give_corruption_or_a_written_state() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (good, states, sizes) = small_manifest(dir.path());
    assert!(
        good.len() < 4096,
        "keep the sweep small: {} bytes",
        good.len()
    );
    for offset in 0..good.len() {
        for bit in [0x01u8, 0x80] {
            let mut damaged = good.clone();
            damaged[offset] ^= bit;
            check_damaged(
                dir.path(),
                &damaged,
                &states,
                &format!("flip {bit:#x} at {offset}"),
            );
        }
    }
    for start in (0..good.len()).step_by(3) {
        for length in [1, 4, 16] {
            let mut damaged = good.clone();
            let end = (start + length).min(good.len());
            damaged[start..end].fill(0);
            check_damaged(
                dir.path(),
                &damaged,
                &states,
                &format!("zero {start}..{end}"),
            );
        }
    }
    for length in 0..=good.len() {
        let what = format!("truncate at {length}");
        check_damaged(dir.path(), &good[..length], &states, &what);
        // A cut inside edit k+1 is a torn tail: exactly the state after edit k survives.
        let complete = sizes.iter().filter(|&&size| size <= length as u64).count();
        match (complete.checked_sub(1), recover(dir.path())) {
            (Some(last), Ok(state)) => assert_eq!(state, states[last], "{what}"),
            (None, Err(error)) => assert!(error.is_corruption(), "{what}: {error}"),
            (expected, result) => panic!("{what}: expected state {expected:?}, got {result:?}"),
        }
    }
    std::fs::write(shaledb::fs::manifest_path(dir.path(), FileNumber(1)), &good).expect("restore");
    assert_eq!(
        Some(&recover(dir.path()).expect("undamaged")),
        states.last()
    );
}

/// Writes the seed corpora of the `manifest_edit` and `manifest_replay` fuzz targets.
#[test]
#[ignore = "regenerates fuzz/corpus/manifest_*; run by hand after a format change"]
fn write_fuzz_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let edit_dir = root.join("manifest_edit");
    let replay_dir = root.join("manifest_replay");
    std::fs::create_dir_all(&edit_dir).expect("create corpus directory");
    std::fs::create_dir_all(&replay_dir).expect("create corpus directory");
    let mut rng = Rng::new(SEED ^ 7);
    std::fs::write(edit_dir.join("example"), format_example_edit().encode()).expect("write");
    std::fs::write(edit_dir.join("empty"), []).expect("write");
    for index in 0..6 {
        let mut edit = random_edit(&mut rng);
        for (_, file) in &mut edit.new_files {
            // Keep corpus files small: no maximum-size keys.
            file.smallest
                .drain(..file.smallest.len().saturating_sub(40));
            file.largest.drain(..file.largest.len().saturating_sub(40));
            if compare_internal_keys(&file.smallest, &file.largest).is_gt() {
                std::mem::swap(&mut file.smallest, &mut file.largest);
            }
        }
        let bytes = edit.encode();
        if VersionEdit::decode(&bytes).is_ok() {
            std::fs::write(edit_dir.join(format!("random_{index}")), &bytes).expect("write");
        }
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let (good, _, _) = small_manifest(dir.path());
    std::fs::write(replay_dir.join("small"), &good).expect("write");
    std::fs::write(replay_dir.join("truncated"), &good[..good.len() - 5]).expect("write");
    let mut flipped = good.clone();
    let middle = good.len() / 2;
    flipped[middle] ^= 0x10;
    std::fs::write(replay_dir.join("flipped"), &flipped).expect("write");
    let fresh = tempfile::tempdir().expect("temporary directory");
    let mut model = Model::new(FileNumber(1));
    let states = write_manifest(fresh.path(), FileNumber(1), &mut model, &mut rng, 0);
    assert_eq!(states.len(), 1);
    let empty = std::fs::read(shaledb::fs::manifest_path(fresh.path(), FileNumber(1)));
    std::fs::write(replay_dir.join("snapshot_only"), empty.expect("read")).expect("write");
}

// ---------------------------------------------------------------------------------------------
// Write-ahead log records (tag 7).

fn wal(number: u64, synced_size: Option<u64>) -> shaledb::manifest::WalMetadata {
    shaledb::manifest::WalMetadata {
        number: FileNumber(number),
        preallocated_size: 65_536,
        synced_size,
    }
}

#[test]
fn wal_records_round_trip_and_follow_the_consistency_rules() {
    let mut edit = VersionEdit::new();
    edit.wals = vec![wal(4, Some(1_234)), wal(5, None)];
    let encoded = edit.encode();
    // Tag 7, number 4, preallocated 65,536 (varint 80 80 04), synced 1,234 (d2 09); then log 5.
    assert_eq!(
        encoded,
        [7, 4, 0x80, 0x80, 4, 0xd2, 9, 7, 5, 0x80, 0x80, 4, 0]
    );
    assert_eq!(VersionEdit::decode(&encoded).expect("decode"), edit);

    let mut state = ManifestState::empty(FileNumber(1));
    state.next_file_number = FileNumber(10);
    state.log_number = FileNumber(4);
    let mut started = VersionEdit::new();
    started.wals = vec![wal(4, None), wal(5, None)];
    state.apply(&started).expect("start two logs");
    let mut finished = VersionEdit::new();
    finished.wals = vec![wal(4, Some(100))];
    state.apply(&finished).expect("finish log 4");
    assert_eq!(state.wal(FileNumber(4)), Some(&wal(4, Some(100))));

    let refused = |edit_wals: Vec<shaledb::manifest::WalMetadata>, state: &ManifestState| {
        let mut edit = VersionEdit::new();
        edit.wals = edit_wals;
        state.clone().apply(&edit).expect_err("inconsistent").reason
    };
    assert!(refused(vec![wal(3, None)], &state).contains("outside the live range"));
    assert!(refused(vec![wal(10, None)], &state).contains("outside the live range"));
    assert!(refused(vec![wal(4, Some(101))], &state).contains("changes the recorded sizes"));
    let mut other_size = wal(5, None);
    other_size.preallocated_size = 1;
    assert!(refused(vec![other_size], &state).contains("changes the recorded sizes"));

    // A flush that moves the log number past log 4 makes the state forget it.
    let mut flushed = VersionEdit::new();
    flushed.log_number = Some(FileNumber(5));
    state.apply(&flushed).expect("advance the log number");
    assert_eq!(state.wals, vec![wal(5, None)]);
    let snapshot = VersionEdit::decode(&state.to_snapshot_edit().encode()).expect("snapshot");
    let restored = ManifestState::from_snapshot(FileNumber(1), &snapshot).expect("restore");
    assert_eq!(restored, state);
}

// ---------------------------------------------------------------------------------------------
// Keyspaces (tags 8 to 12).

fn keyspace_record(id: u32, name: &str) -> shaledb::manifest::KeyspaceRecord {
    shaledb::manifest::KeyspaceRecord {
        id: KeyspaceId(id),
        name: name.to_string(),
        // write_buffer_size = 64 KiB (FORMAT.md 6.1, keyspace option tag 1).
        options: vec![1, 0x80, 0x80, 0x04],
    }
}

/// A snapshot declaring keyspaces 1 (`alpha`) and 2 (`beta`), next keyspace id 3, next file 20.
fn keyspace_snapshot() -> VersionEdit {
    VersionEdit {
        snapshot: true,
        log_number: Some(FileNumber(2)),
        next_file_number: Some(FileNumber(20)),
        last_sequence: Some(SequenceNumber(50)),
        keyspaces: vec![keyspace_record(1, "alpha"), keyspace_record(2, "beta")],
        next_keyspace_id: Some(KeyspaceId(3)),
        ..VersionEdit::default()
    }
}

/// An edit adding `valid_file` (number 7) to level 1 of keyspace `id`.
fn add_to_keyspace(id: u32) -> VersionEdit {
    let mut edit = VersionEdit {
        keyspace: KeyspaceId(id),
        ..VersionEdit::default()
    };
    edit.add_file(1, valid_file());
    edit
}

/// Every keyspace field round trips, in the canonical order FORMAT.md 6.1 gives (tags 8, 9, 10,
/// 11, 12 after the others).
#[test]
fn keyspace_fields_round_trip_in_canonical_order() {
    let mut edit = add_to_keyspace(1);
    edit.keyspaces = vec![keyspace_record(1, "alpha")];
    edit.dropped_keyspaces = vec![KeyspaceId(2)];
    edit.keyspace_log_number = Some(FileNumber(9));
    edit.next_keyspace_id = Some(KeyspaceId(300));
    let encoded = edit.encode();
    assert_eq!(VersionEdit::decode(&encoded), Ok(edit.clone()));
    let tail: Vec<u8> = [
        &[8, 1, 5][..],
        b"alpha",
        &[4, 1, 0x80, 0x80, 0x04], // tag 8: id 1, "alpha", 4 bytes of options
        &[9, 2],                   // tag 9: keyspace 2 dropped
        &[10, 1],                  // tag 10: the edit's files are keyspace 1's
        &[11, 9],                  // tag 11: its log number is 9
        &[12, 0xac, 0x02],         // tag 12: next keyspace id 300
    ]
    .concat();
    assert!(encoded.ends_with(&tail), "{encoded:x?}");
    for (bytes, reason) in [
        (
            &[8, 0, 1, b'a', 0][..],
            "declares keyspace 0, the default keyspace",
        ),
        (&[8, 1, 0, 0], "keyspace name is empty or over 255 bytes"),
        (&[8, 1, 1, 0xff, 0], "keyspace name is not UTF-8"),
        (
            &[8, 1, 7, b'd', b'e', b'f', b'a', b'u', b'l', b't', 0],
            "a keyspace other than 0 is named default",
        ),
        (&[9, 0], "drops keyspace 0, the default keyspace"),
        (&[10, 1, 10, 2], "field appears twice in one edit"),
        (&[11, 1, 11, 2], "field appears twice in one edit"),
        (&[12, 2, 12, 3], "field appears twice in one edit"),
        (
            &[6, 1, 1, 2, 2, 3, 3, 9, 1],
            "snapshot edit drops keyspaces",
        ),
    ] {
        assert_eq!(decode_error(bytes).1, reason, "{bytes:x?}");
    }
    let mut long_name = vec![8, 1, 0x80, 0x02];
    long_name.extend_from_slice(&[b'n'; 256]);
    long_name.push(0);
    assert_eq!(
        decode_error(&long_name).1,
        "keyspace name is empty or over 255 bytes"
    );
}

/// FORMAT.md 6.2 rule 7, record by record: each broken rule is corruption naming the manifest.
#[test]
fn keyspace_records_follow_the_consistency_rules() {
    let snapshot = keyspace_snapshot();
    let state = recover_records(&[snapshot.clone(), add_to_keyspace(2)]).expect("consistent");
    assert_eq!(state.keyspace_named("beta"), Some(KeyspaceId(2)));
    assert_eq!(state.keyspace(KeyspaceId(2)).levels[1].len(), 1);
    assert!(
        state.levels()[1].is_empty(),
        "the file is beta's, not the default keyspace's"
    );
    let edit = |change: &dyn Fn(&mut VersionEdit)| {
        let mut edit = VersionEdit::new();
        change(&mut edit);
        edit
    };
    let cases: Vec<(&str, VersionEdit)> = vec![
        (
            "declares an id at next keyspace id",
            edit(&|e| e.keyspaces = vec![keyspace_record(3, "gamma")]),
        ),
        (
            "declares the name of another",
            edit(&|e| e.keyspaces = vec![keyspace_record(1, "beta")]),
        ),
        (
            "renames",
            edit(&|e| e.keyspaces = vec![keyspace_record(1, "gamma")]),
        ),
        (
            "drops a keyspace not live",
            edit(&|e| e.dropped_keyspaces = vec![KeyspaceId(7)]),
        ),
        ("files of a keyspace not live", add_to_keyspace(5)),
        (
            "next keyspace id goes back",
            edit(&|e| e.next_keyspace_id = Some(KeyspaceId(2))),
        ),
        (
            "keyspace log number past next file",
            edit(&|e| {
                e.keyspace = KeyspaceId(1);
                e.keyspace_log_number = Some(FileNumber(21));
            }),
        ),
    ];
    for (name, record) in cases {
        let error = recover_records(&[snapshot.clone(), record]).expect_err(name);
        assert!(names_file(&error, "MANIFEST-000001"), "{name}: {error}");
    }
    // A file of a dropped keyspace leaves with it (no tag 4), so its number is not live after.
    let mut drop_beta = VersionEdit::new();
    drop_beta.dropped_keyspaces = vec![KeyspaceId(2)];
    let state = recover_records(&[
        snapshot.clone(),
        add_to_keyspace(2),
        drop_beta,
        add_to_keyspace(1),
    ])
    .expect("a dropped keyspace's file numbers are free again");
    assert_eq!(state.keyspace(KeyspaceId(1)).levels[1].len(), 1);
    assert!(state.keyspace_named("beta").is_none());
    // The keyspace log number never goes back.
    let log_number = |number: u64| {
        edit(&|e: &mut VersionEdit| {
            e.keyspace = KeyspaceId(1);
            e.keyspace_log_number = Some(FileNumber(number));
        })
    };
    assert!(recover_records(&[snapshot.clone(), log_number(9), log_number(9)]).is_ok());
    let error = recover_records(&[snapshot, log_number(9), log_number(8)]).expect_err("backwards");
    assert!(names_file(&error, "MANIFEST-000001"), "{error}");
}

/// A real database's manifests after keyspaces were created, written, flushed, given new
/// options and dropped: its history, and the snapshot (with a record per keyspace) that the next
/// open starts. Each replays to the state the database has.
fn keyspace_manifests() -> Vec<(String, Vec<u8>)> {
    use shaledb::{Db, KeyspaceOptions, Options, WriteBatch, WriteOptions};
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = Options {
        write_buffer_size: 64 << 10,
        sync_writes: false,
        ..Options::default()
    };
    let small = KeyspaceOptions {
        write_buffer_size: 64 << 10,
        ..KeyspaceOptions::default()
    };
    let current_manifest = |dir: &Path| {
        let number = read_current(dir).expect("CURRENT").expect("a manifest");
        std::fs::read(shaledb::fs::manifest_path(dir, number)).expect("read the manifest")
    };
    let db = Db::open(dir.path(), options.clone()).expect("open");
    let alpha = db.keyspace("alpha", small.clone()).expect("alpha");
    let beta = db.keyspace("beta", small.clone()).expect("beta");
    let mut batch = WriteBatch::new();
    for index in 0..20u32 {
        let key = index.to_be_bytes();
        batch.put(&key, b"default").expect("put");
        batch.put_in(&alpha, &key, b"alpha").expect("put_in");
        batch.put_in(&beta, &key, b"beta").expect("put_in");
    }
    db.write(batch, &WriteOptions { sync: false })
        .expect("write");
    db.flush().expect("flush");
    beta.put(b"more", b"beta").expect("put");
    beta.flush().expect("flush beta");
    let bigger = KeyspaceOptions {
        write_buffer_size: 128 << 10,
        ..small.clone()
    };
    db.keyspace("alpha", bigger.clone()).expect("new options");
    db.drop_keyspace("beta").expect("drop");
    let gamma = db.keyspace("gamma", small).expect("gamma");
    gamma.put(b"g", b"gamma").expect("put");
    gamma.flush().expect("flush gamma");
    alpha.compact_range(..).expect("compact alpha");
    db.close().expect("close");
    let history = current_manifest(dir.path());
    let db = Db::open(dir.path(), options).expect("reopen");
    assert_eq!(db.keyspaces(), ["default", "alpha", "gamma"]);
    assert_eq!(
        db.keyspace("alpha", bigger).expect("alpha").iter().count(),
        20
    );
    db.close().expect("close");
    let snapshot = current_manifest(dir.path());
    vec![
        ("keyspaces-history".to_string(), history),
        ("keyspaces-snapshot".to_string(), snapshot),
    ]
}

/// Every record of each manifest of `keyspace_manifests`, as its own edit.
fn keyspace_manifest_records(manifests: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut records = Vec::new();
    for (name, bytes) in manifests {
        let reader = LogReader::from_bytes(name.as_str(), bytes.clone(), LogFileKind::Manifest)
            .expect("a manifest");
        for (index, event) in reader.enumerate() {
            if let LogEvent::Record { payload, .. } = event {
                records.push((format!("{name}-record-{index}"), payload));
            }
        }
    }
    records
}

/// The keyspace manifests hold every new tag, replay to a state with the keyspaces the
/// database had, and the snapshot one holds a record per keyspace with files.
#[test]
fn keyspace_manifests_hold_every_keyspace_tag() {
    let manifests = keyspace_manifests();
    let records = keyspace_manifest_records(&manifests);
    let edits: Vec<(String, VersionEdit)> = records
        .iter()
        .map(|(name, bytes)| (name.clone(), VersionEdit::decode(bytes).expect("decodes")))
        .collect();
    let history: Vec<&VersionEdit> = edits
        .iter()
        .filter(|(name, _)| name.starts_with("keyspaces-history"))
        .map(|(_, edit)| edit)
        .collect();
    assert!(
        history.iter().any(|edit| edit.keyspaces.len() == 1),
        "tag 8"
    );
    assert!(
        history
            .iter()
            .any(|edit| !edit.dropped_keyspaces.is_empty()),
        "tag 9"
    );
    assert!(
        history
            .iter()
            .any(|edit| edit.keyspace != KeyspaceId::DEFAULT),
        "tag 10"
    );
    assert!(
        history
            .iter()
            .any(|edit| edit.keyspace_log_number.is_some()),
        "tag 11"
    );
    assert!(
        history.iter().any(|edit| edit.next_keyspace_id.is_some()),
        "tag 12"
    );
    let snapshot: Vec<&VersionEdit> = edits
        .iter()
        .filter(|(name, _)| name.starts_with("keyspaces-snapshot"))
        .map(|(_, edit)| edit)
        .collect();
    assert!(snapshot[0].snapshot);
    assert_eq!(snapshot[0].keyspaces.len(), 2, "alpha and gamma declared");
    assert_eq!(snapshot[0].next_keyspace_id, Some(KeyspaceId(4)));
    let keyspace_records: Vec<KeyspaceId> =
        snapshot[1..].iter().map(|edit| edit.keyspace).collect();
    assert!(
        keyspace_records.contains(&KeyspaceId(1)) && keyspace_records.contains(&KeyspaceId(3)),
        "a record for alpha and for gamma: {keyspace_records:?}"
    );
}

/// Writes the keyspace seeds of `manifest_edit` and `manifest_replay`: the manifests of a real
/// database with keyspaces, each of their records, and damaged copies.
#[test]
#[ignore = "writes fuzz/corpus/manifest_*/keyspaces-*; run by hand after a format change"]
fn write_keyspace_fuzz_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let manifests = keyspace_manifests();
    for (name, bytes) in keyspace_manifest_records(&manifests) {
        std::fs::write(root.join("manifest_edit").join(name), bytes).expect("write");
    }
    let mut every_tag = add_to_keyspace(1);
    every_tag.keyspaces = vec![keyspace_record(1, "alpha")];
    every_tag.dropped_keyspaces = vec![KeyspaceId(2)];
    every_tag.keyspace_log_number = Some(FileNumber(9));
    every_tag.next_keyspace_id = Some(KeyspaceId(300));
    let edit_dir = root.join("manifest_edit");
    std::fs::write(edit_dir.join("keyspaces-every-tag"), every_tag.encode()).expect("write");
    std::fs::write(
        edit_dir.join("keyspaces-snapshot-declares"),
        keyspace_snapshot().encode(),
    )
    .expect("write");
    let replay_dir = root.join("manifest_replay");
    for (name, bytes) in &manifests {
        std::fs::write(replay_dir.join(name), bytes).expect("write");
        std::fs::write(
            replay_dir.join(format!("{name}-truncated")),
            &bytes[..bytes.len() - 7],
        )
        .expect("write");
        let mut flipped = bytes.clone();
        let middle = bytes.len() / 2;
        flipped[middle] ^= 0x08;
        std::fs::write(replay_dir.join(format!("{name}-flipped")), flipped).expect("write");
    }
}

/// Tag 15: a file of another keyspace than the edit's, at a global sequence number (a large
/// batch spanning keyspaces). Its bytes (FORMAT.md 6.1), its round trip, the checks of tag 14
/// on its data, and its application: to a live keyspace only, never in a snapshot.
#[test]
fn a_file_of_another_keyspace_at_a_global_sequence_round_trips_and_is_checked() {
    let file = FileMetadata {
        number: FileNumber(9),
        file_size: 4096,
        smallest: internal_key(b"a", SequenceNumber(41), ValueKind::Value),
        largest: internal_key(b"z", SequenceNumber(41), ValueKind::Value),
        smallest_sequence: SequenceNumber(41),
        largest_sequence: SequenceNumber(41),
        global_sequence: Some(SequenceNumber(41)),
    };
    let mut edit = VersionEdit::new();
    edit.keyspace_new_files
        .push((KeyspaceId(3), 2, file.clone()));
    let encoded = edit.encode();
    let mut expected = vec![0x0f, 0x03, 0x02, 0x09, 0x80, 0x20];
    expected.extend_from_slice(&[0x09, b'a', 0x01, 0x29, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(&[0x09, b'z', 0x01, 0x29, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(&[0x29, 0x29, 0x29]);
    assert_eq!(encoded, expected, "tag 15, keyspace 3, then tag 14's data");
    assert_eq!(VersionEdit::decode(&encoded).unwrap(), edit);

    // The data is checked as tag 14's is.
    let mut wrong = edit.clone();
    wrong.keyspace_new_files[0].2.global_sequence = Some(SequenceNumber(45));
    let error = VersionEdit::decode(&wrong.encode()).unwrap_err();
    assert!(error.reason.contains("global sequence"), "{}", error.reason);

    // Applied to a live keyspace, beside the edit's own keyspace's files; refused for one
    // that is not live.
    let mut state = ManifestState::empty(FileNumber(1));
    let mut create = VersionEdit::new();
    create.next_file_number = Some(FileNumber(20));
    create.last_sequence = Some(SequenceNumber(50));
    create.keyspaces.push(keyspace_record(3, "side"));
    create.next_keyspace_id = Some(KeyspaceId(4));
    state.apply(&create).unwrap();
    let mut both = VersionEdit::new();
    let mut own = file.clone();
    own.number = FileNumber(8);
    own.smallest_sequence = SequenceNumber(39);
    own.largest_sequence = SequenceNumber(39);
    own.global_sequence = Some(SequenceNumber(39));
    own.smallest = internal_key(b"a", SequenceNumber(39), ValueKind::Value);
    own.largest = internal_key(b"z", SequenceNumber(39), ValueKind::Value);
    both.add_file(3, own);
    both.keyspace_new_files
        .push((KeyspaceId(3), 2, file.clone()));
    let decoded = VersionEdit::decode(&both.encode()).unwrap();
    let mut applied = state.clone();
    applied.apply(&decoded).unwrap();
    let side = &applied.keyspaces[&KeyspaceId(3)];
    assert_eq!(side.levels[2], vec![file.clone()]);
    assert_eq!(applied.keyspaces[&KeyspaceId::DEFAULT].levels[3].len(), 1);
    let mut elsewhere = VersionEdit::new();
    elsewhere
        .keyspace_new_files
        .push((KeyspaceId(5), 2, file.clone()));
    let error = state.clone().apply(&elsewhere).unwrap_err();
    assert!(error.reason.contains("not live"), "{}", error.reason);

    // A snapshot's first record names the default keyspace's files only.
    let mut snapshot = VersionEdit {
        snapshot: true,
        log_number: Some(FileNumber(1)),
        next_file_number: Some(FileNumber(20)),
        last_sequence: Some(SequenceNumber(50)),
        ..VersionEdit::default()
    };
    snapshot.keyspace_new_files.push((KeyspaceId(3), 2, file));
    let error = VersionEdit::decode(&snapshot.encode()).unwrap_err();
    assert!(error.reason.contains("tag 15"), "{}", error.reason);
}
