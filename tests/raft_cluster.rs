//! The loopback cluster of `shale raft node` processes (the `raft-cluster` feature) under
//! failures: the leader is killed (SIGKILL) while clients write, and no acknowledged write is
//! lost, no retried write is applied twice, every replica ends identical; a follower that was
//! down while the leader purged its log past it catches up by snapshot; `shale raft demo` runs.
//!
//! The nodes are child processes of this test on 127.0.0.1; `Cluster` kills them when dropped,
//! so a failing test leaves none behind. Every wait is bounded. The tests run one at a time
//! (`one_cluster_at_a_time`): two clusters on two cores would starve each other's heartbeats
//! into spurious elections.
//!
//! Run with `cargo test --release --features raft-cluster --test raft_cluster -- --nocapture`
//! to see the counts.

#![cfg(feature = "raft-cluster")]

// The cluster's client side, included from the `shale` program's sources (a test cannot import
// a binary's modules). The test uses only part of them; the rest is the program's.
#[allow(dead_code)]
#[path = "../src/cli/raft/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../src/cli/raft/cluster.rs"]
mod cluster;
#[allow(dead_code)]
#[path = "../src/cli/raft/wire.rs"]
mod wire;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shaledb::raft::{Request, Response};
use tokio::sync::watch;

use client::{Client, ClientError};
use cluster::Cluster;
use wire::{Message, NodeId, Reply, Status};

/// Keys and values, in key order.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// The longest any one test may take before it fails (its cluster is then killed).
const TEST_DEADLINE: Duration = Duration::from_secs(120);

fn program() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_shale"))
}

/// Holds a lock for the whole of a test, so that only one cluster runs at a time.
fn one_cluster_at_a_time() -> MutexGuard<'static, ()> {
    static CLUSTERS: Mutex<()> = Mutex::new(());
    // A test that failed poisons the lock; the next one may still run.
    CLUSTERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs a test's body on a runtime like the program's, failing it after [`TEST_DEADLINE`].
fn run(test: impl std::future::Future<Output = ()>) {
    let _one = one_cluster_at_a_time();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        tokio::time::timeout(TEST_DEADLINE, test)
            .await
            .unwrap_or_else(|_| panic!("the test did not finish within {TEST_DEADLINE:?}"));
    });
}

async fn start(root: &Path, extra: &[&str]) -> Cluster {
    let cluster = Cluster::start(program(), root, 3, "shaledb", extra).expect("three nodes");
    cluster.initialize().await.expect("the cluster initialised");
    cluster
}

/// Node `id`'s own applied state, whole (not through the leader).
async fn local_entries(client: &mut Client, id: NodeId) -> Entries {
    let message = Message::Scan {
        start: Vec::new(),
        end: None,
        limit: u64::MAX,
        linearizable: false,
    };
    match client.call_node(id, &message).await {
        Ok(Reply::Entries(entries)) => entries,
        other => panic!("node {id}'s local scan answered {other:?}"),
    }
}

/// Waits for a node other than `old` to report itself the leader.
async fn wait_for_leader_other_than(client: &mut Client, ids: &[NodeId], old: NodeId) -> NodeId {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        for &id in ids.iter().filter(|&&id| id != old) {
            if let Ok(status) = client.status(id).await
                && status.state == "Leader"
            {
                return id;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no node but {old} became the leader within 20 s");
}

/// Waits until every node has applied the leader's whole log; the leader and that index.
async fn wait_until_applied_everywhere(client: &mut Client, ids: &[NodeId]) -> (NodeId, u64) {
    let started = Instant::now();
    let mut last_seen: Vec<Result<Status, String>> = Vec::new();
    while started.elapsed() < Duration::from_secs(30) {
        let leader = client
            .wait_for_leader(Duration::from_secs(10))
            .await
            .expect("a leader");
        let mut statuses = Vec::new();
        for &id in ids {
            statuses.push(client.status(id).await.map_err(|error| error.to_string()));
        }
        let leader_status = statuses
            .iter()
            .flatten()
            .find(|status| status.id == leader && status.state == "Leader");
        if let Some(target) = leader_status.and_then(|status| status.last_log_index)
            && statuses
                .iter()
                .all(|status| matches!(status, Ok(status) if status.last_applied >= Some(target)))
        {
            return (leader, target);
        }
        last_seen = statuses;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the nodes did not all apply the leader's log within 30 s: {last_seen:#?}");
}

// ---- Killing the leader under concurrent writers ----------------------------------------------

/// Concurrent writers, each in a session of its own.
const WRITERS: u64 = 8;
/// Acknowledged writes before the leader is killed, and again after a new one leads.
const ACKS_PER_PHASE: u64 = 300;
/// A bound on any writer's loop (it stops well before, when told to).
const WRITES_PER_WRITER_MAX: u64 = 100_000;

/// One write of one writer: a key of its own, and a value naming it.
#[derive(Debug, Clone)]
struct Write {
    serial: u64,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Write {
    fn new(writer: u64, serial: u64) -> Write {
        Write {
            serial,
            key: format!("c{writer}/{serial:06}").into_bytes(),
            value: format!("written by client {writer} as its write {serial}").into_bytes(),
        }
    }

    fn put(&self) -> Request {
        Request::Put {
            key: self.key.clone(),
            value: self.value.clone(),
        }
    }
}

/// How one writer sends its writes. Both keep one session, and every retry of a write resends
/// its serial: `Client` (the program's way, `with_session`, which hides the `Duplicate` answer
/// of a retry whose first attempt had committed) or the session request sent by hand through
/// `call_leader` (so that the test sees those `Duplicate` answers).
enum Writer {
    Client(Client),
    ByHand { client: Client, session: u64 },
}

/// The fate of one write.
enum Outcome {
    /// Committed and applied; `duplicate` when a retry found its first attempt applied.
    Acknowledged { duplicate: bool },
    /// No node answered it before the client's deadline: it may or may not have committed.
    Unacknowledged(String),
    /// An answer that must never come (a refusal, a stale or unexpected response).
    Wrong(String),
}

impl Writer {
    async fn write(&mut self, write: &Write) -> Outcome {
        match self {
            Writer::Client(client) => match client.write(write.put()).await {
                Ok(written) if written.response == Response::Applied => {
                    Outcome::Acknowledged { duplicate: false }
                }
                Ok(written) => Outcome::Wrong(format!("answered {written:?}")),
                Err(ClientError::Unacknowledged(why)) => Outcome::Unacknowledged(why),
                Err(error) => Outcome::Wrong(error.to_string()),
            },
            Writer::ByHand { client, session } => {
                let request = Request::Session {
                    client: *session,
                    serial: write.serial,
                    request: Box::new(write.put()),
                };
                match client.call_leader(&Message::Write(request)).await {
                    Ok(Reply::Written { response, .. }) => match response {
                        Response::Applied => Outcome::Acknowledged { duplicate: false },
                        Response::Duplicate { serial, response }
                            if serial == write.serial && *response == Response::Applied =>
                        {
                            Outcome::Acknowledged { duplicate: true }
                        }
                        other => Outcome::Wrong(format!("answered {other:?}")),
                    },
                    Ok(other) => Outcome::Wrong(format!("answered {other:?}")),
                    Err(ClientError::Unacknowledged(why)) => Outcome::Unacknowledged(why),
                    Err(error) => Outcome::Wrong(error.to_string()),
                }
            }
        }
    }
}

/// What one writer did.
#[derive(Debug, Default)]
struct Ledger {
    writer: u64,
    session: u64,
    acknowledged: Vec<Write>,
    /// Writes that failed, and the one in flight when the writer was stopped.
    unacknowledged: Vec<Write>,
    duplicates: u64,
    wrong: Vec<String>,
}

fn session_of(writer: u64) -> u64 {
    1000 + writer
}

async fn write_until_stopped(
    cluster_client: Client,
    writer: u64,
    acks: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Ledger {
    let session = session_of(writer);
    let mut sender = if writer.is_multiple_of(2) {
        Writer::Client(cluster_client.with_session(session))
    } else {
        Writer::ByHand {
            client: cluster_client,
            session,
        }
    };
    let mut ledger = Ledger {
        writer,
        session,
        ..Ledger::default()
    };
    for serial in 1..=WRITES_PER_WRITER_MAX {
        if *stop.borrow() {
            break;
        }
        let write = Write::new(writer, serial);
        let outcome = tokio::select! {
            biased;
            _ = stop.changed() => None,
            outcome = sender.write(&write) => Some(outcome),
        };
        match outcome {
            // Stopped with this write in flight: it may yet commit.
            None => {
                ledger.unacknowledged.push(write);
                break;
            }
            Some(Outcome::Acknowledged { duplicate }) => {
                ledger.duplicates += u64::from(duplicate);
                ledger.acknowledged.push(write);
                acks.fetch_add(1, Ordering::Relaxed);
            }
            Some(Outcome::Unacknowledged(why)) => {
                eprintln!("client {writer}: write {serial} unacknowledged: {why}");
                ledger.unacknowledged.push(write);
            }
            Some(Outcome::Wrong(why)) => {
                ledger.wrong.push(format!("write {serial}: {why}"));
                ledger.unacknowledged.push(write);
            }
        }
    }
    ledger
}

async fn wait_for_acks(acks: &AtomicU64, target: u64, what: &str) {
    let started = Instant::now();
    while acks.load(Ordering::Relaxed) < target {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: {} of {target} writes acknowledged after 30 s",
            acks.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every node's own data, once all have applied the leader's log; they must be identical.
async fn identical_replicas(client: &mut Client, ids: &[NodeId]) -> Entries {
    let (leader, index) = wait_until_applied_everywhere(client, ids).await;
    let reference = local_entries(client, leader).await;
    for &id in ids {
        let entries = local_entries(client, id).await;
        assert!(
            entries == reference,
            "node {id} holds {} entries, the leader (node {leader}) {}, after both applied up to \
             {index}; the first difference: {:?}",
            entries.len(),
            reference.len(),
            entries
                .iter()
                .zip(&reference)
                .find(|(mine, theirs)| mine != theirs)
        );
    }
    reference
}

/// What happened around the leader's death.
struct KillReport {
    old_leader: NodeId,
    new_leader: NodeId,
    acks_at_kill: u64,
    acks_at_new_leader: u64,
}

/// Runs the writers, kills the leader after [`ACKS_PER_PHASE`] acknowledged writes, and stops
/// the writers [`ACKS_PER_PHASE`] more after a new leader took over; restarts the old leader.
async fn write_through_a_leader_kill(cluster: &mut Cluster) -> (Vec<Ledger>, KillReport) {
    let ids: Vec<NodeId> = cluster.addresses().into_keys().collect();
    let mut admin = cluster.client();
    let acks = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let task = write_until_stopped(cluster.client(), writer, acks.clone(), stopped.clone());
            tokio::spawn(task)
        })
        .collect();

    wait_for_acks(&acks, ACKS_PER_PHASE, "before the kill").await;
    let old_leader = admin
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("a leader");
    cluster.kill(old_leader);
    let acks_at_kill = acks.load(Ordering::Relaxed);
    let new_leader = wait_for_leader_other_than(&mut admin, &ids, old_leader).await;
    let acks_at_new_leader = acks.load(Ordering::Relaxed);
    let target = acks_at_new_leader + ACKS_PER_PHASE;
    wait_for_acks(&acks, target, "after the new leader").await;
    stop.send(true).expect("the writers listen");
    let mut ledgers = Vec::new();
    for writer in writers {
        ledgers.push(writer.await.expect("a writer task"));
    }
    cluster
        .restart(old_leader)
        .expect("the old leader restarted");
    let report = KillReport {
        old_leader,
        new_leader,
        acks_at_kill,
        acks_at_new_leader,
    };
    (ledgers, report)
}

/// Checks the replicas' data against what the writers did: every acknowledged write is there
/// with its value, and nothing is there that no writer wrote. Returns each writer's last
/// applied serial (that of its highest key present: serials apply in order, and only puts of
/// keys of their own are written) and the count of unacknowledged writes present.
fn check_against_ledgers(data: &Entries, ledgers: &[Ledger]) -> (BTreeMap<u64, u64>, u64) {
    let stored: BTreeMap<&[u8], &[u8]> = data
        .iter()
        .map(|(key, value)| (key.as_slice(), value.as_slice()))
        .collect();
    let mut issued: BTreeMap<&[u8], &[u8]> = BTreeMap::new();
    let mut last_applied = BTreeMap::new();
    let mut unacknowledged_present = 0;
    for ledger in ledgers {
        for write in &ledger.acknowledged {
            assert_eq!(
                stored.get(write.key.as_slice()),
                Some(&write.value.as_slice()),
                "client {}'s acknowledged write {} is lost",
                ledger.writer,
                write.serial
            );
        }
        unacknowledged_present += ledger
            .unacknowledged
            .iter()
            .filter(|write| stored.contains_key(write.key.as_slice()))
            .count() as u64;
        for write in ledger.acknowledged.iter().chain(&ledger.unacknowledged) {
            issued.insert(&write.key, &write.value);
            if stored.contains_key(write.key.as_slice()) {
                let last = last_applied.entry(ledger.session).or_insert(0);
                *last = write.serial.max(*last);
            }
        }
    }
    // Keys are unique per client and serial: a value is the one its key was written with.
    for (key, value) in &stored {
        assert_eq!(
            issued.get(key),
            Some(value),
            "the replicas hold {:?} = {:?}, which no client wrote",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(value)
        );
    }
    (last_applied, unacknowledged_present)
}

/// Sends again, in its session but with another value, each writer's last applied write (it
/// must be answered `Duplicate`) and its first acknowledged one when older (`Stale`, naming the
/// last applied serial). Neither may be applied: the caller checks the data did not change.
async fn resend_applied_serials(
    client: &mut Client,
    ledgers: &[Ledger],
    last_applied: &BTreeMap<u64, u64>,
) -> (u64, u64) {
    let (mut duplicates, mut stales) = (0, 0);
    for ledger in ledgers {
        let last = *last_applied
            .get(&ledger.session)
            .unwrap_or_else(|| panic!("client {} had no write applied", ledger.writer));
        let first = ledger
            .acknowledged
            .first()
            .map_or(last, |write| write.serial);
        let mut serials = vec![last];
        if first < last {
            serials.push(first);
        }
        for serial in serials {
            let request = Request::Session {
                client: ledger.session,
                serial,
                request: Box::new(Request::Put {
                    key: Write::new(ledger.writer, serial).key,
                    value: b"DIFFERENT".to_vec(),
                }),
            };
            let answer = client.call_leader(&Message::Write(request)).await;
            let response = match &answer {
                Ok(Reply::Written { response, .. }) => response,
                other => panic!(
                    "client {}'s write {serial} sent again: {other:?}",
                    ledger.writer
                ),
            };
            let expected = if serial == last {
                duplicates += 1;
                Response::Duplicate {
                    serial,
                    response: Box::new(Response::Applied),
                }
            } else {
                stales += 1;
                Response::Stale {
                    serial,
                    last_serial: last,
                }
            };
            assert_eq!(
                *response, expected,
                "client {}'s write {serial} sent again",
                ledger.writer
            );
        }
    }
    (duplicates, stales)
}

#[test]
fn killing_the_leader_while_clients_write_loses_no_acknowledged_write() {
    run(async {
        let started = Instant::now();
        let root = tempfile::tempdir().expect("a temporary directory");
        let mut cluster = start(root.path(), &[]).await;
        let ids: Vec<NodeId> = cluster.addresses().into_keys().collect();
        let mut admin = cluster.client();

        let (ledgers, kill) = write_through_a_leader_kill(&mut cluster).await;
        let wrong: Vec<String> = ledgers
            .iter()
            .flat_map(|ledger| {
                let writer = ledger.writer;
                ledger
                    .wrong
                    .iter()
                    .map(move |why| format!("client {writer}: {why}"))
            })
            .collect();
        assert!(wrong.is_empty(), "answers no write may get: {wrong:#?}");

        let data = identical_replicas(&mut admin, &ids).await;
        let (last_applied, unacknowledged_present) = check_against_ledgers(&data, &ledgers);

        // A retried write is never applied twice: resent with a serial already applied, it
        // changes nothing on any node.
        let mut resend = cluster.client();
        let (duplicates, stales) =
            resend_applied_serials(&mut resend, &ledgers, &last_applied).await;
        let after = identical_replicas(&mut admin, &ids).await;
        assert!(
            after == data,
            "writes sent again with applied serials changed the data"
        );

        let acknowledged: usize = ledgers.iter().map(|ledger| ledger.acknowledged.len()).sum();
        let unacknowledged: usize = ledgers
            .iter()
            .map(|ledger| ledger.unacknowledged.len())
            .sum();
        let retried_duplicates: u64 = ledgers.iter().map(|ledger| ledger.duplicates).sum();
        println!(
            "killed leader {} after {} acknowledged writes; node {} led after {}; \
             {acknowledged} acknowledged, all present on {} nodes; {unacknowledged} \
             unacknowledged ({unacknowledged_present} present); {retried_duplicates} retries \
             answered Duplicate (clients sending by hand); sent again: {duplicates} Duplicate, \
             {stales} Stale, none applied; {:.1?}",
            kill.old_leader,
            kill.acks_at_kill,
            kill.new_leader,
            kill.acks_at_new_leader,
            ids.len(),
            started.elapsed()
        );
        cluster.stop().await;
    });
}

// ---- A follower down past a purge --------------------------------------------------------------

const SNAPSHOT_LOGS: u64 = 200;
const KEEP_LOGS: u64 = 50;

fn numbered(index: u64) -> (Vec<u8>, Vec<u8>) {
    (
        format!("k/{index:05}").into_bytes(),
        format!("value {index}").into_bytes(),
    )
}

/// Whether the node has purged its log past `index`.
fn purged_past(status: &Status, index: u64) -> bool {
    status.purged.is_some_and(|purged| purged > index)
}

/// Writes keys `range` through `client`, into `model` as well.
async fn write_numbered(
    client: &mut Client,
    range: std::ops::Range<u64>,
    model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
) {
    for index in range {
        let (key, value) = numbered(index);
        let written = client
            .write(Request::Put {
                key: key.clone(),
                value: value.clone(),
            })
            .await
            .unwrap_or_else(|error| panic!("write {index}: {error}"));
        assert_eq!(written.response, Response::Applied, "write {index}");
        model.insert(key, value);
    }
}

#[test]
fn a_follower_down_past_a_purge_catches_up_by_snapshot() {
    run(async {
        let started = Instant::now();
        let root = tempfile::tempdir().expect("a temporary directory");
        let snapshot_logs = SNAPSHOT_LOGS.to_string();
        let keep_logs = KEEP_LOGS.to_string();
        let extra = ["--snapshot-logs", &snapshot_logs, "--keep-logs", &keep_logs];
        let mut cluster = start(root.path(), &extra).await;
        let ids: Vec<NodeId> = cluster.addresses().into_keys().collect();
        let mut admin = cluster.client();
        let mut client = cluster.client().with_session(1);
        let mut model = BTreeMap::new();

        write_numbered(&mut client, 0..100, &mut model).await;
        let (leader, _) = wait_until_applied_everywhere(&mut admin, &ids).await;
        let follower = *ids
            .iter()
            .rev()
            .find(|&&id| id != leader)
            .expect("a follower");
        let behind = admin
            .status(follower)
            .await
            .expect("the follower's status")
            .last_applied
            .expect("the follower applied entries");
        cluster.kill(follower);

        // Enough writes for several snapshots; the leader purges all but KEEP_LOGS entries
        // behind each, far past what the follower has.
        write_numbered(&mut client, 100..1200, &mut model).await;
        let leader = admin
            .wait_for_leader(Duration::from_secs(10))
            .await
            .expect("a leader");
        let mut status = admin.status(leader).await.expect("the leader's status");
        if !purged_past(&status, behind) {
            let forced = admin.call_node(leader, &Message::Snapshot).await;
            assert!(matches!(forced, Ok(Reply::Done)), "snapshot: {forced:?}");
            for _ in 0..100 {
                status = admin.status(leader).await.expect("the leader's status");
                if purged_past(&status, behind) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        assert!(
            purged_past(&status, behind),
            "the leader did not purge past the follower's index {behind}: {status:?}"
        );

        cluster.restart(follower).expect("the follower restarted");
        let data = identical_replicas(&mut admin, &ids).await;
        let follower_status = admin.status(follower).await.expect("the follower's status");
        assert!(
            follower_status.snapshots_installed >= 1,
            "the follower caught up without a snapshot: {follower_status:?}"
        );
        let expected: Entries = model.into_iter().collect();
        assert!(
            data == expected,
            "the replicas hold {} entries, {} were written",
            data.len(),
            expected.len()
        );
        println!(
            "follower {follower} killed at applied index {behind}; leader {leader} purged up to \
             {:?} (snapshot at {:?}); the follower installed {} snapshot(s) and holds all {} \
             entries; {:.1?}",
            status.purged,
            status.snapshot,
            follower_status.snapshots_installed,
            data.len(),
            started.elapsed()
        );
        cluster.stop().await;
    });
}

// ---- shale raft demo ---------------------------------------------------------------------------

/// A client's own `Request::Batch`, sent while other clients write, is applied and answered
/// request by request, and does not fail the writes the node batches beside it (inside the
/// node's batch it would be a batch in a batch, rejected with them); a batch in a batch is
/// rejected alone.
#[test]
fn a_clients_own_batch_is_proposed_alone_beside_other_writers() {
    run(async {
        let root = tempfile::tempdir().expect("a temporary directory");
        let mut cluster = start(root.path(), &[]).await;
        let ids: Vec<NodeId> = cluster.addresses().into_keys().collect();
        let leader = cluster
            .client()
            .wait_for_leader(Duration::from_secs(10))
            .await
            .expect("a leader");
        // Every call goes to the leader once, without the client's retries, so that a write
        // failed by a neighbour in the node's batch shows instead of being sent again.
        let write_once = move |mut client: Client, message: Message| async move {
            let reply = client.call_node(leader, &message).await;
            (client, reply)
        };
        let mut writers = Vec::new();
        for writer in 0..4u64 {
            let mut client = cluster.client();
            writers.push(tokio::spawn(async move {
                for i in 0..200u64 {
                    let key = format!("w{writer}/{i:04}").into_bytes();
                    let put = Message::Write(Request::Put {
                        key,
                        value: b"v".to_vec(),
                    });
                    let reply;
                    (client, reply) = write_once(client, put).await;
                    match reply {
                        Ok(Reply::Written {
                            response: Response::Applied,
                            ..
                        }) => {}
                        other => panic!("writer {writer}'s put {i} was answered {other:?}"),
                    }
                }
            }));
        }
        let mut batcher = cluster.client();
        for round in 0..40u64 {
            let batch = Request::Batch(vec![
                Request::Put {
                    key: format!("b/{round:02}/a").into_bytes(),
                    value: b"1".to_vec(),
                },
                Request::Put {
                    key: format!("b/{round:02}/b").into_bytes(),
                    value: b"2".to_vec(),
                },
            ]);
            let reply;
            (batcher, reply) = write_once(batcher, Message::Write(batch)).await;
            match reply {
                Ok(Reply::Written {
                    response: Response::Batch(answers),
                    ..
                }) => {
                    assert_eq!(answers, [Response::Applied, Response::Applied]);
                }
                other => panic!("the client's batch {round} was answered {other:?}"),
            }
        }
        let nested = Request::Batch(vec![Request::Batch(vec![])]);
        let (_, reply) = write_once(batcher, Message::Write(nested)).await;
        match reply {
            Ok(Reply::Written {
                response: Response::Rejected { .. },
                ..
            }) => {}
            other => panic!("a batch in a batch was answered {other:?}"),
        }
        for writer in writers {
            writer.await.expect("a writer task");
        }
        let mut admin = cluster.client();
        wait_until_applied_everywhere(&mut admin, &ids).await;
        let data = identical_replicas(&mut admin, &ids).await;
        assert_eq!(data.len(), 4 * 200 + 40 * 2, "every write applied once");
        cluster.stop().await;
    });
}

#[test]
fn the_demo_runs_and_finds_every_replica_the_same() {
    let _one = one_cluster_at_a_time();
    let mut command = Command::new(program());
    command
        .args(["raft", "demo"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // A group of its own, so that a demo stuck past its deadline is killed with its nodes.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().expect("shale raft demo started");
    let mut stdout = child.stdout.take().expect("the demo's standard output");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the demo's status") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            kill_group(&mut child);
            panic!("shale raft demo did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = reader.join().expect("the reading thread");
    assert!(status.success(), "the demo failed ({status}): {stdout}");
    // Two checks of three replicas: before the leader is killed, and after its restart.
    let same = stdout.matches("the same as the leader's").count();
    assert_eq!(same, 6, "the demo printed: {stdout}");
    assert!(!stdout.contains("DIFFERENT"), "the demo printed: {stdout}");
}

/// Kills `child` and, where it leads a process group of its own, the group (its nodes).
fn kill_group(child: &mut std::process::Child) {
    #[cfg(target_os = "linux")]
    if let Ok(group) = i32::try_from(child.id()) {
        // SAFETY: kill(2) takes plain integers and touches no memory of this process; the
        // group is the child's own (it is not reaped yet, so its id is not reused).
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
