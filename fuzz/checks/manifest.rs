//! Fuzz checks for the manifest format (FORMAT.md, "Manifest and CURRENT").
//!
//! `manifest_edit` feeds arbitrary bytes to `VersionEdit::decode`: it must not panic, an edit
//! it accepts must survive re-encoding unchanged, and its keyspace fields (tags 8 to 12) must be
//! what FORMAT.md 6.1 allows (no declared or dropped keyspace 0, names of 1 to 255 bytes other
//! than `default`, no drop in a snapshot). `manifest_replay` feeds arbitrary bytes to the log
//! reader as a manifest file and replays the records: it must not panic, and a state it returns
//! must satisfy the state invariants (a file live once across every level and keyspace, the
//! keyspace rules of FORMAT.md 6.2 rule 7, and the records of a new manifest, a snapshot and one
//! record per other keyspace, decode and rebuild the same state, up to keyspace log numbers that
//! the database's log number has overtaken, which a snapshot leaves out).

use std::collections::BTreeSet;
use std::path::Path;

use shaledb::key::{
    DEFAULT_KEYSPACE_NAME, FileNumber, KeyspaceId, MAX_KEYSPACE_NAME, compare_internal_keys,
};
use shaledb::log::{LogFileKind, LogReader};
use shaledb::manifest::reader::replay;
use shaledb::manifest::{ManifestState, NUM_LEVELS, VersionEdit};

/// Arbitrary bytes as one version edit.
pub fn manifest_edit(data: &[u8]) {
    let Ok(edit) = VersionEdit::decode(data) else {
        return;
    };
    check_keyspace_fields(&edit);
    let encoded = edit.encode();
    let again = VersionEdit::decode(&encoded);
    assert_eq!(
        again.as_ref(),
        Ok(&edit),
        "re-encoded edit decodes differently"
    );
    assert_eq!(
        again.map(|edit| edit.encode()),
        Ok(encoded),
        "encoding is not canonical"
    );
}

/// The keyspace fields of a decoded edit are within what FORMAT.md 6.1 allows.
fn check_keyspace_fields(edit: &VersionEdit) {
    for record in &edit.keyspaces {
        assert_ne!(record.id, KeyspaceId::DEFAULT, "declares keyspace 0");
        assert!(
            (1..=MAX_KEYSPACE_NAME).contains(&record.name.len()),
            "a keyspace name of {} bytes",
            record.name.len()
        );
        assert_ne!(
            record.name, DEFAULT_KEYSPACE_NAME,
            "declares a second default"
        );
    }
    assert!(
        !edit.dropped_keyspaces.contains(&KeyspaceId::DEFAULT),
        "drops the default keyspace"
    );
    assert!(
        !edit.snapshot || edit.dropped_keyspaces.is_empty(),
        "a snapshot drops keyspaces"
    );
}

/// Arbitrary bytes as a manifest file, replayed into a state.
pub fn manifest_replay(data: &[u8]) {
    let file = Path::new("MANIFEST-000001");
    let Ok(reader) = LogReader::from_bytes(file, data.to_vec(), LogFileKind::Manifest) else {
        return;
    };
    let Ok(state) = replay(file, FileNumber(1), reader) else {
        return;
    };
    check_state_invariants(&state);
}

fn check_state_invariants(state: &ManifestState) {
    let mut numbers = BTreeSet::new();
    for (level, file) in state.files() {
        assert!(
            file.number < state.next_file_number,
            "file {} not below next",
            file.number
        );
        assert!(
            file.largest_sequence <= state.last_sequence,
            "file {}",
            file.number
        );
        assert!(level < NUM_LEVELS, "file {} in level {level}", file.number);
        assert!(
            numbers.insert(file.number),
            "file {} live twice (in two levels or two keyspaces)",
            file.number
        );
    }
    assert!(state.log_number <= state.next_file_number);
    check_keyspace_invariants(state);
    check_snapshot_rebuilds(state);
}

/// FORMAT.md 6.1 and 6.2 rule 7: the default keyspace is there under its name; every other id is
/// below the next keyspace id, names are unique, keyspace log numbers are within the file
/// numbers, and levels 1 to 3 of every keyspace are sorted without overlaps.
fn check_keyspace_invariants(state: &ManifestState) {
    let default = state.keyspaces.get(&KeyspaceId::DEFAULT);
    assert_eq!(
        default.map(|keyspace| keyspace.name.as_str()),
        Some(DEFAULT_KEYSPACE_NAME),
        "the default keyspace is missing or renamed"
    );
    assert!(state.next_keyspace_id > KeyspaceId::DEFAULT);
    let mut names = BTreeSet::new();
    for (&id, keyspace) in &state.keyspaces {
        assert!(
            id == KeyspaceId::DEFAULT || id < state.next_keyspace_id,
            "keyspace {id} not below next keyspace id {}",
            state.next_keyspace_id
        );
        assert!(
            names.insert(keyspace.name.as_str()),
            "two keyspaces named {:?}",
            keyspace.name
        );
        assert!(keyspace.log_number <= state.next_file_number);
        assert!(state.keyspace_log_number(id) >= state.log_number);
        for files in &keyspace.levels[1..] {
            for pair in files.windows(2) {
                assert!(compare_internal_keys(&pair[0].largest, &pair[1].smallest).is_lt());
            }
        }
    }
}

/// The records of a new manifest (`to_snapshot_edits`: a snapshot, then one edit per other
/// keyspace with files or its own log number) decode and rebuild exactly this state.
fn check_snapshot_rebuilds(state: &ManifestState) {
    let edits = state.to_snapshot_edits();
    let decode = |edit: &VersionEdit| {
        let encoded = edit.encode();
        let decoded =
            VersionEdit::decode(&encoded).expect("the snapshot of a replayed state decodes");
        assert_eq!(&decoded, edit, "a snapshot record decodes differently");
        decoded
    };
    assert!(edits[0].snapshot, "a new manifest starts with a snapshot");
    for edit in &edits[1..] {
        assert!(!edit.snapshot, "a snapshot after the first record");
        assert_ne!(
            edit.keyspace,
            KeyspaceId::DEFAULT,
            "the default keyspace's files belong in the snapshot record"
        );
        assert!(edit.deleted_files.is_empty() && edit.dropped_keyspaces.is_empty());
    }
    let mut rebuilt = ManifestState::from_snapshot(state.manifest_number, &decode(&edits[0]))
        .expect("the snapshot of a replayed state is consistent");
    for edit in &edits[1..] {
        rebuilt
            .apply(&decode(edit))
            .expect("the snapshot of a replayed state is consistent");
    }
    for &id in state.keyspaces.keys() {
        assert_eq!(
            rebuilt.keyspace_log_number(id),
            state.keyspace_log_number(id),
            "the snapshot changes the log number that counts for keyspace {id}"
        );
    }
    assert_eq!(
        without_overtaken_log_numbers(rebuilt),
        without_overtaken_log_numbers(state.clone()),
        "snapshot does not rebuild the state"
    );
}

/// `state` with every keyspace log number at or below the database's set to 0. Such a number
/// counts for nothing (the larger of the two counts, FORMAT.md 6.1), and a snapshot leaves it out
/// (tag 11 only above tag 1), so a replayed history and its snapshot differ there alone.
fn without_overtaken_log_numbers(mut state: ManifestState) -> ManifestState {
    let log_number = state.log_number;
    for keyspace in state.keyspaces.values_mut() {
        if keyspace.log_number <= log_number {
            keyspace.log_number = FileNumber(0);
        }
    }
    state
}

/// The fuzz targets of this module.
pub const TARGETS: &[super::Target] = &[
    ("manifest_edit", manifest_edit),
    ("manifest_replay", manifest_replay),
];
