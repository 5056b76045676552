//! Client sessions of the raft state machine (`Request::Session`, FORMAT.md 9.2 to 9.4): a
//! retried request is applied once, serials are per client, an older serial is stale, and the
//! sessions survive a reopen and travel in snapshots, so that a node that installs one decides
//! alike; version-1 blobs (no sessions) still install; a nested session is rejected; the
//! reader never shows a session; the table is bounded, oldest first, alike on every node.
//!
//! Run with `cargo test --release --features raft --test raft_sessions`.

#![cfg(feature = "raft")]

mod common;

use std::io::Cursor;
use std::num::NonZeroUsize;
use std::sync::Arc;

use common::raft::{block_on, open, pairs, state_of};
use openraft::storage::{RaftLogStorageExt, RaftStateMachine};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader, RaftSnapshotBuilder,
    StoredMembership,
};
use shaledb::Db;
use shaledb::raft::{Request, Response, StateMachine, TypeConfig};
use tempfile::TempDir;

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn put_request(key: &str, value: &str) -> Request {
    Request::Put {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn entry(index: u64, request: Request) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(request),
    }
}

/// Entry `index`: client `client`'s request `serial`, putting `value` under `key`.
fn session_put(index: u64, client: u64, serial: u64, key: &str, value: &str) -> Entry<TypeConfig> {
    entry(
        index,
        Request::Session {
            client,
            serial,
            request: Box::new(put_request(key, value)),
        },
    )
}

fn put(index: u64, key: &str, value: &str) -> Entry<TypeConfig> {
    entry(index, put_request(key, value))
}

fn apply(
    state_machine: &mut StateMachine,
    entries: impl IntoIterator<Item = Entry<TypeConfig>>,
) -> Vec<Response> {
    let entries: Vec<_> = entries.into_iter().collect();
    block_on(state_machine.apply(entries)).expect("the apply")
}

fn duplicate(serial: u64) -> Response {
    Response::Duplicate {
        serial,
        response: Box::new(Response::Applied),
    }
}

fn snapshot_of(state_machine: &mut StateMachine) -> openraft::Snapshot<TypeConfig> {
    block_on(async {
        state_machine
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
    })
    .expect("a snapshot")
}

/// Installs `blob` with `meta`; says whether it was taken.
fn install_blob(
    state_machine: &mut StateMachine,
    meta: &openraft::SnapshotMeta<u64, openraft::BasicNode>,
    blob: Vec<u8>,
) -> bool {
    block_on(async {
        let mut received = state_machine.begin_receiving_snapshot().await?;
        *received = Cursor::new(blob);
        state_machine.install_snapshot(meta, received).await
    })
    .is_ok()
}

fn forged_meta(index: u64) -> openraft::SnapshotMeta<u64, openraft::BasicNode> {
    openraft::SnapshotMeta {
        last_log_id: Some(log_id(index)),
        last_membership: StoredMembership::default(),
        snapshot_id: "forged".to_string(),
    }
}

/// A blob of FORMAT.md 9.4 made from its text alone: version 1 (`sessions` is `None`) or 2,
/// with the counts as given (a test may lie) and the CRC32 of everything before it.
fn forge_blob(
    entries: &[(&[u8], &[u8])],
    sessions: Option<&[(&[u8], &[u8])]>,
    counts: (u64, u64),
) -> Vec<u8> {
    let mut blob = b"SHALESNP".to_vec();
    let version: u32 = if sessions.is_some() { 2 } else { 1 };
    blob.extend_from_slice(&version.to_le_bytes());
    for (key, value) in entries.iter().chain(sessions.unwrap_or_default()) {
        blob.extend_from_slice(&(key.len() as u32).to_le_bytes());
        blob.extend_from_slice(&(value.len() as u32).to_le_bytes());
        blob.extend_from_slice(key);
        blob.extend_from_slice(value);
    }
    blob.extend_from_slice(&counts.0.to_le_bytes());
    if sessions.is_some() {
        blob.extend_from_slice(&counts.1.to_le_bytes());
    }
    let crc = crc32fast::hash(&blob);
    blob.extend_from_slice(&crc.to_le_bytes());
    blob
}

/// A session's value as FORMAT.md 9.3 gives it: version 1, serial, applied index, `Applied`.
fn session_value(serial: u8, applied_index: u8) -> [u8; 4] {
    [0x01, serial, applied_index, 0x00]
}

#[test]
fn a_retried_session_request_is_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    let responses = apply(
        &mut state_machine,
        [
            session_put(1, 7, 1, "k", "first"),
            // A retry in the same batch, after another client's write to the same key.
            put(2, "k", "other"),
            session_put(3, 7, 1, "k", "first"),
        ],
    );
    assert_eq!(
        responses,
        [Response::Applied, Response::Applied, duplicate(1)]
    );
    assert_eq!(state_of(&state_machine), pairs(&[("k", "other")]));
    // A retry in a later batch.
    let responses = apply(&mut state_machine, [session_put(4, 7, 1, "k", "first")]);
    assert_eq!(responses, [duplicate(1)]);
    assert_eq!(state_of(&state_machine), pairs(&[("k", "other")]));
    // The next serial applies; the applied log id moves over duplicates too.
    let responses = apply(&mut state_machine, [session_put(5, 7, 2, "k", "second")]);
    assert_eq!(responses, [Response::Applied]);
    assert_eq!(state_of(&state_machine), pairs(&[("k", "second")]));
    assert_eq!(state_machine.reader().applied().unwrap(), Some(log_id(5)));
}

#[test]
fn serials_are_per_client_and_may_skip() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    let responses = apply(
        &mut state_machine,
        [
            session_put(1, 1, 5, "a", "1"),
            // Another client's serial below client 1's is its own, and new.
            session_put(2, 2, 1, "b", "1"),
            session_put(3, 1, 6, "a", "2"),
            session_put(4, 2, 1, "b", "stale"),
            // A serial may skip ahead.
            session_put(5, 2, 10, "b", "2"),
            session_put(6, 1, 6, "a", "again"),
        ],
    );
    assert_eq!(
        responses,
        [
            Response::Applied,
            Response::Applied,
            Response::Applied,
            duplicate(1),
            Response::Applied,
            duplicate(6),
        ]
    );
    assert_eq!(state_of(&state_machine), pairs(&[("a", "2"), ("b", "2")]));
}

#[test]
fn a_lower_serial_after_a_higher_one_is_stale_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    apply(
        &mut state_machine,
        [
            session_put(1, 3, 1, "k", "1"),
            session_put(2, 3, 2, "k", "2"),
        ],
    );
    let responses = apply(&mut state_machine, [session_put(3, 3, 1, "k", "1")]);
    assert_eq!(
        responses,
        [Response::Stale {
            serial: 1,
            last_serial: 2
        }]
    );
    assert_eq!(state_of(&state_machine), pairs(&[("k", "2")]));
    // And the last serial is still the one a retry matches.
    let responses = apply(&mut state_machine, [session_put(4, 3, 2, "k", "2")]);
    assert_eq!(responses, [duplicate(2)]);
}

#[test]
fn sessions_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (db, _, mut state_machine) = open(&dir);
        apply(
            &mut state_machine,
            [session_put(1, 7, 4, "k", "mine"), put(2, "k", "other")],
        );
        drop(state_machine);
        db.close().unwrap();
    }
    let (_db, _, mut state_machine) = open(&dir);
    let responses = apply(
        &mut state_machine,
        [
            session_put(3, 7, 4, "k", "mine"),
            session_put(4, 7, 3, "k", "older"),
        ],
    );
    assert_eq!(
        responses,
        [
            duplicate(4),
            Response::Stale {
                serial: 3,
                last_serial: 4
            }
        ]
    );
    assert_eq!(state_of(&state_machine), pairs(&[("k", "other")]));
}

/// A follower that installs the leader's snapshot answers a retry as the leader does, and its
/// own sessions from before are gone with the rest of its old state.
#[test]
fn sessions_travel_in_snapshots_and_the_installed_node_skips_duplicates_too() {
    let leader_dir = tempfile::tempdir().unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    let (_leader_db, _, mut leader) = open(&leader_dir);
    let (follower_db, _, mut follower) = open(&follower_dir);
    apply(
        &mut leader,
        [
            session_put(1, 7, 1, "k", "first"),
            session_put(2, 8, 3, "j", "x"),
            put(3, "k", "other"),
        ],
    );
    // The follower has a session of its own, which the leader's state does not have.
    apply(&mut follower, [session_put(1, 9, 5, "z", "1")]);
    let snapshot = snapshot_of(&mut leader);
    let blob = snapshot.snapshot.into_inner();
    assert!(install_blob(&mut follower, &snapshot.meta, blob));
    let next = [
        session_put(4, 7, 1, "k", "first"),
        session_put(5, 8, 2, "j", "y"),
        session_put(6, 9, 5, "z", "again"),
    ];
    let expected = [
        duplicate(1),
        Response::Stale {
            serial: 2,
            last_serial: 3,
        },
        Response::Applied,
    ];
    assert_eq!(apply(&mut leader, next.clone()), expected);
    assert_eq!(apply(&mut follower, next.clone()), expected);
    assert_eq!(state_of(&follower), state_of(&leader));
    assert_eq!(
        state_of(&follower),
        pairs(&[("j", "x"), ("k", "other"), ("z", "again")])
    );
    // The installed sessions are on disk too.
    drop(follower);
    follower_db.close().unwrap();
    let (_db, _, mut follower) = open(&follower_dir);
    assert_eq!(
        apply(&mut follower, [session_put(7, 7, 1, "k", "first")]),
        [duplicate(1)]
    );
    // And the current snapshot, read back, carries them as well.
    let current = block_on(follower.get_current_snapshot())
        .unwrap()
        .expect("the installed snapshot");
    let third_dir = tempfile::tempdir().unwrap();
    let (_third_db, _, mut third) = open(&third_dir);
    assert!(install_blob(
        &mut third,
        &current.meta,
        current.snapshot.into_inner()
    ));
    assert_eq!(
        apply(&mut third, [session_put(4, 7, 1, "k", "first")]),
        [duplicate(1)]
    );
}

#[test]
fn a_version_1_blob_installs_with_no_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    apply(&mut state_machine, [session_put(1, 7, 1, "k", "mine")]);
    let blob = forge_blob(&[(b"a", b"1"), (b"b", b"2")], None, (2, 0));
    assert!(install_blob(&mut state_machine, &forged_meta(9), blob));
    assert_eq!(state_of(&state_machine), pairs(&[("a", "1"), ("b", "2")]));
    // The session of before the install is gone: the same serial is new again.
    assert_eq!(
        apply(&mut state_machine, [session_put(10, 7, 1, "k", "mine")]),
        [Response::Applied]
    );
}

/// A version-2 blob made from FORMAT.md alone installs, sessions and all.
#[test]
fn a_forged_version_2_blob_installs_its_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    let client_7 = 7u64.to_be_bytes();
    let client_9 = 9u64.to_be_bytes();
    let sessions: &[(&[u8], &[u8])] = &[
        (&client_7, &session_value(1, 1)),
        (&client_9, &session_value(4, 2)),
    ];
    let blob = forge_blob(&[(b"k", b"v")], Some(sessions), (1, 2));
    assert!(install_blob(&mut state_machine, &forged_meta(2), blob));
    assert_eq!(
        apply(
            &mut state_machine,
            [
                session_put(3, 7, 1, "k", "again"),
                session_put(4, 9, 4, "k", "again"),
                session_put(5, 8, 1, "n", "new"),
            ]
        ),
        [duplicate(1), duplicate(4), Response::Applied]
    );
    assert_eq!(state_of(&state_machine), pairs(&[("k", "v"), ("n", "new")]));
}

/// Damage to the session section of a blob with a good checksum is refused, and changes
/// nothing: not the state, not the sessions.
#[test]
fn a_blob_with_bad_sessions_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    apply(&mut state_machine, [session_put(1, 7, 1, "old", "x")]);
    let client_7 = 7u64.to_be_bytes();
    let client_9 = 9u64.to_be_bytes();
    let value = session_value(1, 1);
    let entries: &[(&[u8], &[u8])] = &[(b"a", b"1")];
    let good: &[(&[u8], &[u8])] = &[(&client_7, &value), (&client_9, &value)];
    let refused: Vec<(&str, Vec<u8>)> = vec![
        (
            "a session count too high",
            forge_blob(entries, Some(good), (1, 3)),
        ),
        (
            "a session count too low",
            forge_blob(entries, Some(good), (1, 1)),
        ),
        (
            "an entry count too high",
            forge_blob(entries, Some(good), (2, 1)),
        ),
        (
            "sessions backwards",
            forge_blob(
                entries,
                Some(&[(&client_9, &value), (&client_7, &value)]),
                (1, 2),
            ),
        ),
        (
            "a session key of 7 bytes",
            forge_blob(entries, Some(&[(&client_7[1..], &value)]), (1, 1)),
        ),
        (
            "a session value that does not decode",
            forge_blob(entries, Some(&[(&client_7, &[0x01, 0x01])]), (1, 1)),
        ),
        (
            "a session value of another version",
            forge_blob(
                entries,
                Some(&[(&client_7, &[0x02, 0x01, 0x01, 0x00])]),
                (1, 1),
            ),
        ),
        ("a version-1 blob with sessions", {
            let mut blob = forge_blob(entries, Some(good), (1, 2));
            blob[8] = 1;
            let end = blob.len() - 4;
            let crc = crc32fast::hash(&blob[..end]);
            blob[end..].copy_from_slice(&crc.to_le_bytes());
            blob
        }),
    ];
    for (what, blob) in refused {
        assert!(
            !install_blob(&mut state_machine, &forged_meta(9), blob),
            "{what} installed"
        );
        assert_eq!(state_of(&state_machine), pairs(&[("old", "x")]), "{what}");
        assert_eq!(state_machine.reader().applied().unwrap(), Some(log_id(1)));
    }
    assert_eq!(
        apply(&mut state_machine, [session_put(2, 7, 1, "old", "y")]),
        [duplicate(1)]
    );
}

#[test]
fn a_nested_session_is_rejected_and_records_nothing() {
    let nested = Request::Session {
        client: 7,
        serial: 1,
        request: Box::new(Request::Session {
            client: 7,
            serial: 1,
            request: Box::new(put_request("k", "v")),
        }),
    };
    assert!(nested.validate().is_err());
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    let invalid_inner = Request::Session {
        client: 8,
        serial: 1,
        request: Box::new(Request::DeleteRange {
            start: b"z".to_vec(),
            end: b"a".to_vec(),
        }),
    };
    let responses = apply(
        &mut state_machine,
        [entry(1, nested), entry(2, invalid_inner)],
    );
    assert!(
        responses
            .iter()
            .all(|response| matches!(response, Response::Rejected { .. })),
        "{responses:?}"
    );
    assert!(state_of(&state_machine).is_empty());
    // A rejected serial is not recorded: the same serial, valid, applies.
    assert_eq!(
        apply(
            &mut state_machine,
            [
                session_put(3, 7, 1, "k", "v"),
                session_put(4, 8, 1, "j", "v")
            ]
        ),
        [Response::Applied, Response::Applied]
    );
}

/// A log entry nesting sessions deeper than a node decodes is refused as damaged when read,
/// instead of recursing without bound; one level of nesting (invalid, but a client's mistake
/// that every node must be able to reject) reads back.
#[test]
fn a_log_entry_nested_too_deep_is_refused_when_read() {
    // Sessions: 0x03, client 7, serial 1.
    let (shallow, error) = read_nested_entries(&[0x03, 0x07, 0x01], 2);
    let EntryPayload::Normal(Request::Session { request, .. }) = &shallow.payload else {
        panic!("not a session: {:?}", shallow.payload);
    };
    assert!(matches!(**request, Request::Session { .. }));
    // postcard does not pass the message of the nesting check on, only that the entry
    // failed to decode.
    assert!(
        error.contains("damaged raft log entry"),
        "the error names the entry: {error}"
    );
}

/// Stores two log entries by hand (FORMAT.md 9.2: version 1, log id (term 1, node 1, index
/// i), Normal, then `level` repeated around a Delete of "k"): `shallow` levels deep at index 1
/// and 100,000 deep at index 2; reads both back through the log store. Returns the first
/// entry and the error of the second.
fn read_nested_entries(level: &[u8], shallow: usize) -> (Entry<TypeConfig>, String) {
    let dir = tempfile::tempdir().unwrap();
    let (db, mut log_store, _) = open(&dir);
    let entry_bytes = |index: u8, depth: usize| {
        let mut bytes = vec![0x01, 0x01, 0x01, index, 0x01];
        for _ in 0..depth {
            bytes.extend_from_slice(level);
        }
        bytes.extend_from_slice(&[0x01, 0x01, b'k']);
        bytes
    };
    let log = db
        .keyspace("raft.log", shaledb::KeyspaceOptions::default())
        .unwrap();
    log.put(&1u64.to_be_bytes(), &entry_bytes(1, shallow))
        .unwrap();
    log.put(&2u64.to_be_bytes(), &entry_bytes(2, 100_000))
        .unwrap();
    block_on(async {
        let mut read = log_store.try_get_log_entries(1..2).await.unwrap();
        assert_eq!(read.len(), 1);
        let error = log_store
            .try_get_log_entries(2..3)
            .await
            .expect_err("a too deep entry read");
        (read.remove(0), error.to_string())
    })
}

#[test]
fn the_reader_shows_no_session_records() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, mut state_machine) = open(&dir);
    // A client key that looks like a session key is a client key like any other.
    let mut lookalike = b"session/".to_vec();
    lookalike.extend_from_slice(&7u64.to_be_bytes());
    apply(
        &mut state_machine,
        [
            session_put(1, 7, 1, "k", "v"),
            entry(
                2,
                Request::Put {
                    key: lookalike.clone(),
                    value: b"user".to_vec(),
                },
            ),
        ],
    );
    let reader = state_machine.reader();
    let keys: Vec<Vec<u8>> = reader.range(..).map(|item| item.unwrap().0).collect();
    assert_eq!(keys, [b"k".to_vec(), lookalike.clone()]);
    assert_eq!(
        reader.get(&lookalike).unwrap().as_deref(),
        Some(&b"user"[..])
    );
    assert_eq!(reader.get(&7u64.to_be_bytes()).unwrap(), None);
    // The session is in the metadata keyspace (FORMAT.md 9.3), as the bytes it gives.
    let meta = db
        .keyspace("raft.meta", shaledb::KeyspaceOptions::default())
        .unwrap();
    let stored = meta.get(&lookalike).unwrap().expect("the session");
    assert_eq!(&stored[..], session_value(1, 1));
    // And the session is still the client's, untouched by the lookalike user key.
    assert_eq!(
        apply(&mut state_machine, [session_put(3, 7, 1, "k", "v")]),
        [duplicate(1)]
    );
}

/// Over the limit, the session whose last new serial is oldest in log order is forgotten
/// (its retry then applies again), alike on every node, and on one that installs a snapshot.
#[test]
fn sessions_over_the_limit_expire_oldest_first_alike_on_every_node() {
    let limit = NonZeroUsize::new(2).unwrap();
    let dirs: Vec<TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes: Vec<(Arc<Db>, StateMachine)> = dirs
        .iter()
        .map(|dir| {
            let (db, _, state_machine) = open(dir);
            (db, state_machine.with_session_limit(limit))
        })
        .collect();
    let log = [
        session_put(1, 1, 1, "a", "1"),
        session_put(2, 2, 1, "b", "1"),
        // Client 1 again: now client 2's session is the oldest.
        session_put(3, 1, 2, "a", "2"),
        // A retry is no activity: client 1 stays where it was.
        session_put(4, 1, 2, "a", "2"),
        // A third client: client 2 is forgotten.
        session_put(5, 3, 1, "c", "1"),
        put(6, "b", "other"),
        // Client 2's retry applies again (which the limit is there to make rare), and it
        // forgets client 1; client 3 is remembered.
        session_put(7, 2, 1, "b", "1"),
        session_put(8, 3, 1, "c", "1"),
        session_put(9, 1, 2, "a", "2"),
    ];
    let expected = [
        Response::Applied,
        Response::Applied,
        Response::Applied,
        duplicate(2),
        Response::Applied,
        Response::Applied,
        Response::Applied,
        duplicate(1),
        Response::Applied,
    ];
    // One node applies the log in one batch, the other entry by entry.
    assert_eq!(apply(&mut nodes[0].1, log.clone()), expected);
    for (entry, response) in log.iter().zip(&expected) {
        assert_eq!(
            &apply(&mut nodes[1].1, [entry.clone()]),
            std::slice::from_ref(response)
        );
    }
    assert_eq!(state_of(&nodes[0].1), state_of(&nodes[1].1));
    // Sessions now: client 2 (index 7) and client 1 (index 9); client 3 was forgotten at 9.
    let snapshot = snapshot_of(&mut nodes[0].1);
    let third_dir = tempfile::tempdir().unwrap();
    let (_third_db, _, third) = open(&third_dir);
    let mut third = third.with_session_limit(limit);
    assert!(install_blob(
        &mut third,
        &snapshot.meta,
        snapshot.snapshot.into_inner()
    ));
    let next = [
        session_put(10, 3, 1, "c", "1"),
        session_put(11, 1, 2, "a", "2"),
        session_put(12, 2, 1, "b", "1"),
    ];
    let expected = [Response::Applied, duplicate(2), Response::Applied];
    assert_eq!(apply(&mut third, next.clone()), expected);
    assert_eq!(apply(&mut nodes[1].1, next), expected);
    assert_eq!(state_of(&third), state_of(&nodes[1].1));
}

/// FORMAT.md 9.2's example of a session entry, as the log keyspace stores it.
#[test]
fn a_session_entry_is_the_bytes_of_format_md() {
    let dir = tempfile::tempdir().unwrap();
    let (db, mut log_store, _) = open(&dir);
    let entry = Entry::<TypeConfig> {
        log_id: LogId::new(CommittedLeaderId::new(1, 0), 8),
        payload: EntryPayload::Normal(Request::Session {
            client: 300,
            serial: 2,
            request: Box::new(Request::Delete { key: b"k".to_vec() }),
        }),
    };
    block_on(async { log_store.blocking_append([entry]).await }).unwrap();
    let log = db
        .keyspace("raft.log", shaledb::KeyspaceOptions::default())
        .unwrap();
    let stored = log.get(&8u64.to_be_bytes()).unwrap().expect("the entry");
    assert_eq!(
        &stored[..],
        [
            0x01, 0x01, 0x00, 0x08, 0x01, 0x03, 0xac, 0x02, 0x02, 0x01, 0x01, b'k'
        ]
    );
}

/// The blob of a state machine holding `k = v`, put by client 7's request 1 at index 1:
/// FORMAT.md 9.4's second worked example, byte for byte.
#[test]
fn a_blob_with_a_session_is_the_worked_example_of_format_md() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    apply(&mut state_machine, [session_put(1, 7, 1, "k", "v")]);
    let blob = snapshot_of(&mut state_machine).snapshot.into_inner();
    let client_7 = 7u64.to_be_bytes();
    assert_eq!(
        blob,
        forge_blob(
            &[(b"k", b"v")],
            Some(&[(&client_7, &session_value(1, 1))]),
            (1, 1)
        )
    );
    let hex: Vec<String> = blob.iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(
        hex.join(" "),
        "53 48 41 4c 45 53 4e 50 02 00 00 00 \
         01 00 00 00 01 00 00 00 6b 76 \
         08 00 00 00 04 00 00 00 00 00 00 00 00 00 00 07 01 01 01 00 \
         01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 8d 99 a3 dd",
        "the bytes FORMAT.md 9.4 shows"
    );
}

#[test]
fn a_batch_applies_each_request_alone_and_answers_each() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    let batch = Request::Batch(vec![
        put_request("a", "1"),
        // Refused alone: the other requests of the batch still apply.
        Request::DeleteRange {
            start: b"z".to_vec(),
            end: b"a".to_vec(),
        },
        Request::Session {
            client: 7,
            serial: 1,
            request: Box::new(put_request("b", "2")),
        },
        // The same client's retry, later in the same batch.
        Request::Session {
            client: 7,
            serial: 1,
            request: Box::new(put_request("b", "2")),
        },
        Request::Delete { key: b"a".to_vec() },
        put_request("c", "3"),
    ]);
    let responses = apply(&mut state_machine, [entry(1, batch)]);
    let [Response::Batch(answers)] = responses.as_slice() else {
        panic!("not one batch answer: {responses:?}");
    };
    assert_eq!(answers.len(), 6);
    assert_eq!(answers[0], Response::Applied);
    assert!(
        matches!(answers[1], Response::Rejected { .. }),
        "{answers:?}"
    );
    assert_eq!(answers[2], Response::Applied);
    assert_eq!(answers[3], duplicate(1));
    assert_eq!(answers[4], Response::Applied);
    assert_eq!(answers[5], Response::Applied);
    assert_eq!(state_of(&state_machine), pairs(&[("b", "2"), ("c", "3")]));
    // A retry of the session's request in a later entry, alone, is a duplicate too.
    let responses = apply(&mut state_machine, [session_put(2, 7, 1, "b", "other")]);
    assert_eq!(responses, [duplicate(1)]);
    assert_eq!(state_of(&state_machine), pairs(&[("b", "2"), ("c", "3")]));
    assert_eq!(state_machine.reader().applied().unwrap(), Some(log_id(2)));
}

#[test]
fn a_batch_in_a_batch_or_in_a_session_is_rejected_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    let inner = Request::Batch(vec![put_request("a", "1")]);
    let nested = Request::Batch(vec![put_request("b", "2"), inner.clone()]);
    assert!(nested.validate().is_err());
    let in_session = Request::Session {
        client: 3,
        serial: 1,
        request: Box::new(inner),
    };
    assert!(in_session.validate().is_err());
    let responses = apply(&mut state_machine, [entry(1, nested), entry(2, in_session)]);
    assert!(
        responses
            .iter()
            .all(|response| matches!(response, Response::Rejected { .. })),
        "{responses:?}"
    );
    assert_eq!(state_of(&state_machine), pairs(&[]));
    // The rejected session recorded nothing: its serial 1 applies later.
    let responses = apply(&mut state_machine, [session_put(3, 3, 1, "k", "v")]);
    assert_eq!(responses, [Response::Applied]);
}

#[test]
fn a_log_entry_of_batches_nested_too_deep_is_refused_when_read() {
    // Batches of one request: 0x04, count 1.
    let (shallow, error) = read_nested_entries(&[0x04, 0x01], 1);
    assert_eq!(
        shallow.payload,
        EntryPayload::Normal(Request::Batch(vec![Request::Delete { key: b"k".to_vec() }]))
    );
    assert!(
        error.contains("damaged raft log entry"),
        "the error names the entry: {error}"
    );
}
