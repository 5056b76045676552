//! The raft storage (`shaledb::raft`, the `raft` feature) against openraft's own storage test
//! suite, whole (`openraft::testing::Suite::test_all`), each of the suite's tests again under
//! its own name (so that a failure names the test), and what the suite does not check:
//! everything survives a reopen, a damaged snapshot changes nothing, an append that would leave
//! a hole is refused, a snapshot reads at its own point while applies go on, and a request
//! shaledb refuses is answered the same way on every node.
//!
//! Run with `cargo test --release --features raft --test raft_storage`.

#![cfg(feature = "raft")]

mod common;

use std::collections::BTreeSet;
use std::io::Cursor;
use std::sync::Arc;

use common::raft::{block_on, open, options, pairs, state_of};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftLogReader, RaftSnapshotBuilder,
    StoredMembership, Vote,
};
use shaledb::Db;
use shaledb::raft::{LogStore, Request, Response, StateMachine, StorageError, TypeConfig};
use tempfile::TempDir;

/// Opens a fresh database in a new temporary directory for each store the suite asks for; the
/// directory is the guard, removed once the test is done with the store.
struct FreshDatabase;

/// Small write buffers: the suite opens dozens of databases.
impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for FreshDatabase {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = Arc::new(Db::open(dir.path(), options()).expect("a new database"));
        let (log_store, state_machine) = shaledb::raft::open(&db, "raft")?;
        Ok((dir, log_store, state_machine))
    }
}

type ShaleSuite = Suite<TypeConfig, LogStore, StateMachine, FreshDatabase, TempDir>;

#[test]
fn openraft_storage_suite_test_all() {
    ShaleSuite::test_all(FreshDatabase).expect("openraft's storage suite");
}

/// Runs one test of the suite on a fresh store, in a runtime of its own.
fn run_suite_test<F, Fut>(test: F)
where
    F: FnOnce(LogStore, StateMachine) -> Fut,
    Fut: std::future::Future<Output = Result<(), StorageError>>,
{
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime
        .block_on(async {
            let (_dir, log_store, state_machine) = FreshDatabase.build().await?;
            test(log_store, state_machine).await
        })
        .expect("the suite's test");
}

/// One `#[test]` per test of the suite (the list of `Suite::test_store` in openraft 0.9.25).
macro_rules! suite_tests {
    ($($name:ident),* $(,)?) => {
        mod suite {
            use super::*;
            $(
                #[test]
                fn $name() {
                    run_suite_test(ShaleSuite::$name);
                }
            )*

            #[test]
            fn transfer_snapshot() {
                let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
                runtime
                    .block_on(ShaleSuite::transfer_snapshot(&FreshDatabase))
                    .expect("the suite's test");
            }
        }
    };
}

suite_tests!(
    last_membership_in_log_initial,
    last_membership_in_log,
    last_membership_in_log_multi_step,
    get_membership_initial,
    get_membership_from_log_and_empty_sm,
    get_membership_from_empty_log_and_sm,
    get_membership_from_log_le_sm_last_applied,
    get_membership_from_log_gt_sm_last_applied_1,
    get_membership_from_log_gt_sm_last_applied_2,
    get_initial_state_without_init,
    get_initial_state_membership_from_log_and_sm,
    get_initial_state_with_state,
    get_initial_state_last_log_gt_sm,
    get_initial_state_last_log_lt_sm,
    get_initial_state_log_ids,
    get_initial_state_re_apply_committed,
    save_vote,
    get_log_entries,
    limited_get_log_entries,
    try_get_log_entry,
    initial_logs,
    get_log_state,
    get_log_id,
    last_id_in_log,
    last_applied_state,
    purge_logs_upto_0,
    purge_logs_upto_5,
    purge_logs_upto_20,
    delete_logs_since_11,
    delete_logs_since_0,
    append_to_log,
    snapshot_meta,
    apply_single,
    apply_multiple,
);

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn blank(term: u64, index: u64) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Blank,
    }
}

fn put(term: u64, index: u64, key: &str, value: &str) -> Entry<TypeConfig> {
    request(
        term,
        index,
        Request::Put {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        },
    )
}

fn request(term: u64, index: u64, request: Request) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(request),
    }
}

fn membership(term: u64, index: u64, voters: &[u64]) -> Entry<TypeConfig> {
    let voters: BTreeSet<u64> = voters.iter().copied().collect();
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Membership(Membership::new(vec![voters], None)),
    }
}

#[test]
fn a_reopen_keeps_the_log_the_vote_the_points_the_state_and_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot_meta = {
        let (db, mut log_store, mut state_machine) = open(&dir);
        let meta = block_on(async {
            log_store.save_vote(&Vote::new(3, 1)).await?;
            log_store
                .blocking_append((0..=9).map(|index| put(3, index, &format!("k{index}"), "v")))
                .await?;
            log_store.save_committed(Some(log_id(3, 7))).await?;
            state_machine
                .apply((0..=7).map(|index| put(3, index, &format!("k{index}"), "v")))
                .await?;
            let snapshot = state_machine
                .get_snapshot_builder()
                .await
                .build_snapshot()
                .await?;
            log_store.purge(log_id(3, 4)).await?;
            log_store.truncate(log_id(3, 9)).await?;
            Ok::<_, StorageError>(snapshot.meta)
        })
        .unwrap();
        drop((log_store, state_machine));
        db.close().unwrap();
        meta
    };
    let (_db, mut log_store, mut state_machine) = open(&dir);
    block_on(async {
        assert_eq!(log_store.read_vote().await?, Some(Vote::new(3, 1)));
        assert_eq!(log_store.read_committed().await?, Some(log_id(3, 7)));
        let state = log_store.get_log_state().await?;
        assert_eq!(state.last_purged_log_id, Some(log_id(3, 4)));
        assert_eq!(state.last_log_id, Some(log_id(3, 8)));
        let indexes: Vec<u64> = log_store
            .try_get_log_entries(0..100)
            .await?
            .iter()
            .map(|entry| entry.log_id.index)
            .collect();
        assert_eq!(indexes, [5, 6, 7, 8]);
        let (applied, _) = state_machine.applied_state().await?;
        assert_eq!(applied, Some(log_id(3, 7)));
        let current = state_machine.get_current_snapshot().await?.expect("kept");
        assert_eq!(current.meta, snapshot_meta);
        // The next append continues after the last entry kept, and only there.
        log_store.blocking_append([blank(4, 9)]).await?;
        assert!(log_store.blocking_append([blank(4, 11)]).await.is_err());
        Ok::<_, StorageError>(())
    })
    .unwrap();
    assert_eq!(state_of(&state_machine).len(), 8);
}

#[test]
fn appends_that_would_leave_a_hole_or_overwrite_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, mut log_store, _state_machine) = open(&dir);
    block_on(async {
        log_store
            .blocking_append([blank(1, 5), blank(1, 6)])
            .await?;
        assert!(log_store.blocking_append([blank(1, 8)]).await.is_err());
        assert!(log_store.blocking_append([blank(2, 6)]).await.is_err());
        assert!(
            log_store
                .blocking_append([blank(1, 7), blank(1, 9)])
                .await
                .is_err()
        );
        // Nothing of a refused append was written.
        assert_eq!(
            log_store.get_log_state().await?.last_log_id,
            Some(log_id(1, 6))
        );
        assert_eq!(log_store.try_get_log_entries(0..100).await?.len(), 2);
        // After a truncation the log continues where it was cut.
        log_store.truncate(log_id(1, 6)).await?;
        log_store.blocking_append([blank(2, 6)]).await?;
        // After a purge of everything, at the purge point.
        log_store.purge(log_id(2, 6)).await?;
        assert!(log_store.blocking_append([blank(2, 9)]).await.is_err());
        log_store.blocking_append([blank(2, 7)]).await?;
        Ok::<_, StorageError>(())
    })
    .unwrap();
}

#[test]
fn a_damaged_snapshot_is_refused_and_changes_nothing() {
    let leader_dir = tempfile::tempdir().unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    let (_leader_db, _, mut leader) = open(&leader_dir);
    let (_follower_db, _, mut follower) = open(&follower_dir);
    block_on(async {
        leader
            .apply([
                membership(1, 1, &[1, 2, 3]),
                put(1, 2, "a", "1"),
                put(1, 3, "b", "2"),
            ])
            .await?;
        follower.apply([put(1, 1, "old", "x")]).await?;
        let snapshot = leader.get_snapshot_builder().await.build_snapshot().await?;
        let blob = snapshot.snapshot.into_inner();
        for damage in [
            Damage::FlipByte(blob.len() / 2),
            Damage::FlipByte(0),
            Damage::Truncate(blob.len() - 1),
            Damage::Truncate(0),
        ] {
            let mut received = follower.begin_receiving_snapshot().await?;
            *received = Cursor::new(damage.apply(&blob));
            let result = follower.install_snapshot(&snapshot.meta, received).await;
            assert!(result.is_err(), "{damage:?} installed");
            assert_eq!(state_of(&follower), pairs(&[("old", "x")]), "{damage:?}");
            assert_eq!(follower.applied_state().await?.0, Some(log_id(1, 1)));
            assert!(follower.get_current_snapshot().await?.is_none());
        }
        let mut received = follower.begin_receiving_snapshot().await?;
        *received = Cursor::new(blob);
        follower.install_snapshot(&snapshot.meta, received).await?;
        assert_eq!(state_of(&follower), pairs(&[("a", "1"), ("b", "2")]));
        let (applied, members) = follower.applied_state().await?;
        assert_eq!(applied, Some(log_id(1, 3)));
        assert_eq!(members.log_id(), &Some(log_id(1, 1)));
        Ok::<_, StorageError>(())
    })
    .unwrap();
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    FlipByte(usize),
    Truncate(usize),
}

impl Damage {
    fn apply(self, blob: &[u8]) -> Vec<u8> {
        match self {
            Damage::FlipByte(at) => {
                let mut damaged = blob.to_vec();
                damaged[at] ^= 0x20;
                damaged
            }
            Damage::Truncate(length) => blob[..length].to_vec(),
        }
    }
}

#[test]
fn a_snapshot_reads_at_its_own_point_while_applies_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    block_on(async {
        state_machine
            .apply([put(1, 1, "a", "1"), put(1, 2, "b", "1")])
            .await?;
        let mut builder = state_machine.get_snapshot_builder().await;
        state_machine
            .apply([
                put(1, 3, "a", "2"),
                request(1, 4, Request::Delete { key: b"b".to_vec() }),
                put(1, 5, "c", "1"),
            ])
            .await?;
        let snapshot = builder.build_snapshot().await?;
        assert_eq!(snapshot.meta.last_log_id, Some(log_id(1, 2)));
        // Installed elsewhere, it is the state as of entry 2.
        let other_dir = tempfile::tempdir().unwrap();
        let (_other_db, _, mut other) = open(&other_dir);
        let mut received = other.begin_receiving_snapshot().await?;
        *received = *snapshot.snapshot;
        other.install_snapshot(&snapshot.meta, received).await?;
        assert_eq!(state_of(&other), pairs(&[("a", "1"), ("b", "1")]));
        // A newer snapshot replaces it as the current one; an older one finished later does not.
        let mut older = state_machine.get_snapshot_builder().await;
        state_machine.apply([put(1, 6, "d", "1")]).await?;
        let newer = state_machine
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await?;
        let older = older.build_snapshot().await?;
        assert!(older.meta.last_log_id < newer.meta.last_log_id);
        let current = state_machine.get_current_snapshot().await?.expect("kept");
        assert_eq!(current.meta, newer.meta);
        Ok::<_, StorageError>(())
    })
    .unwrap();
    assert_eq!(
        state_of(&state_machine),
        pairs(&[("a", "2"), ("c", "1"), ("d", "1")])
    );
}

#[test]
fn requests_apply_in_order_and_an_invalid_one_is_rejected_alike_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    let responses = block_on(async {
        state_machine
            .apply([
                put(1, 1, "a", "1"),
                put(1, 2, "b", "1"),
                put(1, 3, "c", "1"),
                request(
                    1,
                    4,
                    Request::DeleteRange {
                        start: b"a".to_vec(),
                        end: b"c".to_vec(),
                    },
                ),
                put(1, 5, "b", "2"),
                request(
                    1,
                    6,
                    Request::Put {
                        key: vec![b'k'; shaledb::MAX_KEY_SIZE + 1],
                        value: Vec::new(),
                    },
                ),
                request(
                    1,
                    7,
                    Request::DeleteRange {
                        start: b"z".to_vec(),
                        end: b"a".to_vec(),
                    },
                ),
                blank(1, 8),
            ])
            .await
    })
    .unwrap();
    assert_eq!(responses.len(), 8);
    assert!(responses[..5].iter().all(|r| *r == Response::Applied));
    assert!(matches!(responses[5], Response::Rejected { .. }));
    assert!(matches!(responses[6], Response::Rejected { .. }));
    assert_eq!(responses[7], Response::NoRequest);
    assert_eq!(state_of(&state_machine), pairs(&[("b", "2"), ("c", "1")]));
    let applied = state_machine.reader().applied().unwrap();
    assert_eq!(applied, Some(log_id(1, 8)));
}

#[test]
fn the_membership_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (db, _, mut state_machine) = open(&dir);
        block_on(state_machine.apply([membership(2, 1, &[1, 2]), blank(2, 2)])).unwrap();
        db.close().unwrap();
    }
    let (_db, _, mut state_machine) = open(&dir);
    let (applied, members) = block_on(state_machine.applied_state()).unwrap();
    assert_eq!(applied, Some(log_id(2, 2)));
    let expected: BTreeSet<u64> = [1, 2].into_iter().collect();
    assert_eq!(
        members,
        StoredMembership::new(Some(log_id(2, 1)), Membership::new(vec![expected], None))
    );
}

/// A version-1 snapshot blob (no sessions) made from FORMAT.md 9.4 alone: the header,
/// `entries`, then `count` (the number of entries unless a test lies) and the CRC32 of
/// everything before it. Version 1 is what shaledb wrote before sessions; it still installs.
fn forge_blob(entries: &[(&[u8], &[u8])], count: u64) -> Vec<u8> {
    let mut blob = b"SHALESNP".to_vec();
    blob.extend_from_slice(&1u32.to_le_bytes());
    for (key, value) in entries {
        blob.extend_from_slice(&(key.len() as u32).to_le_bytes());
        blob.extend_from_slice(&(value.len() as u32).to_le_bytes());
        blob.extend_from_slice(key);
        blob.extend_from_slice(value);
    }
    blob.extend_from_slice(&count.to_le_bytes());
    let crc = crc32fast::hash(&blob);
    blob.extend_from_slice(&crc.to_le_bytes());
    blob
}

/// The blob of a state machine holding `k = v`: FORMAT.md 9.4's worked example, byte for byte
/// (version 2, with no sessions; `tests/raft_sessions.rs` has the example with one).
#[test]
fn a_snapshot_blob_is_the_worked_example_of_format_md() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    let blob = block_on(async {
        state_machine.apply([put(1, 1, "k", "v")]).await?;
        let snapshot = state_machine
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await?;
        Ok::<_, StorageError>(snapshot.snapshot.into_inner())
    })
    .unwrap();
    let hex: Vec<String> = blob.iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(
        hex.join(" "),
        "53 48 41 4c 45 53 4e 50 02 00 00 00 \
         01 00 00 00 01 00 00 00 6b 76 \
         01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 a9 7b 14 e6",
        "the bytes FORMAT.md 9.4 shows"
    );
}

/// Installs `blob` as the snapshot at log id (1, 9) on a state machine holding `old = x`, and
/// says whether it was taken; a refused one must have changed nothing.
fn install(state_machine: &mut StateMachine, blob: Vec<u8>) -> bool {
    block_on(async {
        let meta = openraft::SnapshotMeta {
            last_log_id: Some(log_id(1, 9)),
            last_membership: StoredMembership::default(),
            snapshot_id: "forged".to_string(),
        };
        let mut received = state_machine.begin_receiving_snapshot().await.unwrap();
        *received = Cursor::new(blob);
        let taken = state_machine
            .install_snapshot(&meta, received)
            .await
            .is_ok();
        if !taken {
            assert_eq!(state_of(state_machine), pairs(&[("old", "x")]));
            let (applied, _) = state_machine.applied_state().await.unwrap();
            assert_eq!(applied, Some(log_id(1, 1)));
        }
        taken
    })
}

#[test]
fn every_flipped_bit_and_every_truncation_of_a_blob_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    block_on(state_machine.apply([put(1, 1, "old", "x")])).unwrap();
    let blob = forge_blob(&[(b"apple", b"red"), (b"banana", b"yellow")], 2);
    for index in 0..blob.len() {
        for bit in 0..8 {
            let mut damaged = blob.clone();
            damaged[index] ^= 1 << bit;
            assert!(
                !install(&mut state_machine, damaged),
                "byte {index} bit {bit}"
            );
        }
    }
    for length in 0..blob.len() {
        assert!(
            !install(&mut state_machine, blob[..length].to_vec()),
            "length {length}"
        );
    }
    assert!(install(&mut state_machine, blob));
    assert_eq!(
        state_of(&state_machine),
        pairs(&[("apple", "red"), ("banana", "yellow")])
    );
}

/// A blob whose checksum is right but whose insides are not (a writer's bug, or a blob not
/// made by shaledb) is refused too.
#[test]
fn a_blob_with_a_good_checksum_and_bad_insides_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    block_on(state_machine.apply([put(1, 1, "old", "x")])).unwrap();
    let reseal = |mut blob: Vec<u8>| {
        let end = blob.len() - 4;
        let crc = crc32fast::hash(&blob[..end]);
        blob[end..].copy_from_slice(&crc.to_le_bytes());
        blob
    };
    let good: &[(&[u8], &[u8])] = &[(b"a", b"1"), (b"b", b"2")];
    let refused = [
        ("a count too high", forge_blob(good, 3)),
        ("a count too low", forge_blob(good, 1)),
        (
            "keys backwards",
            forge_blob(&[(b"b", b"2"), (b"a", b"1")], 2),
        ),
        ("a key twice", forge_blob(&[(b"a", b"1"), (b"a", b"2")], 2)),
        ("a key past the entries", {
            let mut blob = forge_blob(good, 2);
            blob[12] = 200;
            reseal(blob)
        }),
        ("version 3", {
            let mut blob = forge_blob(good, 2);
            blob[8] = 3;
            reseal(blob)
        }),
        ("another magic", {
            let mut blob = forge_blob(good, 2);
            blob[0] = b's';
            reseal(blob)
        }),
        ("a torn entry", {
            let mut blob = forge_blob(good, 2);
            blob.drain(blob.len() - 14..blob.len() - 12);
            reseal(blob)
        }),
    ];
    for (what, blob) in refused {
        assert!(!install(&mut state_machine, blob), "{what} installed");
    }
    assert!(
        install(&mut state_machine, forge_blob(&[], 0)),
        "the empty state"
    );
    assert!(state_of(&state_machine).is_empty());
}

/// The bytes of a log entry and of a vote as FORMAT.md 9.2 shows them, read back from the
/// keyspaces through the plain `Db` API.
#[test]
fn log_and_metadata_values_are_the_bytes_of_format_md() {
    let dir = tempfile::tempdir().unwrap();
    let (db, mut log_store, _) = open(&dir);
    let entry = Entry::<TypeConfig> {
        log_id: LogId::new(CommittedLeaderId::new(1, 0), 7),
        payload: EntryPayload::Normal(Request::Put {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
        }),
    };
    block_on(async {
        log_store.blocking_append([entry]).await?;
        log_store.save_vote(&Vote::new(1, 0)).await?;
        log_store
            .purge(LogId::new(CommittedLeaderId::new(1, 0), 3))
            .await?;
        Ok::<_, StorageError>(())
    })
    .unwrap();
    let keyspace = |name| {
        db.keyspace(name, shaledb::KeyspaceOptions::default())
            .unwrap()
    };
    let log = keyspace("raft.log");
    let stored = log.get(&7u64.to_be_bytes()).unwrap().expect("the entry");
    assert_eq!(
        &stored[..],
        [0x01, 0x01, 0x00, 0x07, 0x01, 0x00, 0x01, b'k', 0x01, b'v']
    );
    let meta = keyspace("raft.meta");
    let vote = meta.get(b"vote").unwrap().expect("the vote");
    assert_eq!(&vote[..], [0x01, 0x01, 0x00, 0x00]);
    let purged = meta.get(b"purged").unwrap().expect("the purge point");
    assert_eq!(&purged[..], [0x01, 0x01, 0x00, 0x03]);
}

/// Installing a snapshot deletes every key the state held, up to the largest a keyspace can
/// hold (which no range deletion's end can pass), and keeps nothing of an older snapshot.
#[test]
fn installing_replaces_every_key_up_to_the_largest() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _, mut state_machine) = open(&dir);
    let largest = vec![0xff; shaledb::MAX_KEY_SIZE];
    let almost = vec![0xff; shaledb::MAX_KEY_SIZE - 1];
    for (index, key) in [(1, &largest), (2, &almost)] {
        let entry = request(
            1,
            index,
            Request::Put {
                key: key.clone(),
                value: b"x".to_vec(),
            },
        );
        block_on(state_machine.apply([put(1, 0, "", "empty"), entry])).unwrap();
        assert!(install(
            &mut state_machine,
            forge_blob(&[(b"only", b"1")], 1)
        ));
        assert_eq!(
            state_of(&state_machine),
            pairs(&[("only", "1")]),
            "key of {} bytes",
            key.len()
        );
    }
}
