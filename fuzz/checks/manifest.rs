//! Fuzz checks for the manifest format (FORMAT.md, "Manifest and CURRENT").
//!
//! `manifest_edit` feeds arbitrary bytes to `VersionEdit::decode`: it must not panic, and an
//! edit it accepts must survive re-encoding unchanged. `manifest_replay` feeds arbitrary bytes
//! to the log reader as a manifest file and replays the records: it must not panic, and a state
//! it returns must satisfy the state invariants (its snapshot decodes and rebuilds the same
//! state).

use std::path::Path;

use shaledb::key::FileNumber;
use shaledb::key::compare_internal_keys;
use shaledb::log::{LogFileKind, LogReader};
use shaledb::manifest::reader::replay;
use shaledb::manifest::{ManifestState, VersionEdit};

/// Arbitrary bytes as one version edit.
pub fn manifest_edit(data: &[u8]) {
    let Ok(edit) = VersionEdit::decode(data) else {
        return;
    };
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
        assert_eq!(
            state.level_of(file.number),
            Some(level),
            "file {} twice",
            file.number
        );
    }
    assert!(state.log_number <= state.next_file_number);
    for keyspace in state.keyspaces.values() {
        for files in &keyspace.levels[1..] {
            for pair in files.windows(2) {
                assert!(compare_internal_keys(&pair[0].largest, &pair[1].smallest).is_lt());
            }
        }
    }
    let edits = state.to_snapshot_edits();
    let decode = |edit: &VersionEdit| {
        VersionEdit::decode(&edit.encode()).expect("the snapshot of a replayed state decodes")
    };
    let mut rebuilt = ManifestState::from_snapshot(state.manifest_number, &decode(&edits[0]))
        .expect("the snapshot of a replayed state is consistent");
    for edit in &edits[1..] {
        rebuilt
            .apply(&decode(edit))
            .expect("the snapshot of a replayed state is consistent");
    }
    assert_eq!(&rebuilt, state, "snapshot does not rebuild the state");
}

/// The fuzz targets of this module.
pub const TARGETS: &[super::Target] = &[
    ("manifest_edit", manifest_edit),
    ("manifest_replay", manifest_replay),
];
