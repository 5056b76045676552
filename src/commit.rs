//! Group commit: concurrent writers queue their batches and the writer at the front of the queue
//! commits a whole group of them at once — one log write, at most one fdatasync.
//!
//! Invariants (the database's commit function relies on them):
//! - **WAL order = sequence order = visibility order.** Exactly one leader runs the commit
//!   function at a time, groups are taken from the front of a FIFO queue, and a batch's group is
//!   committed (logged, inserted, published) before the next group's leader starts.
//! - Every batch gets exactly one result: the result of its group's commit. A failed commit
//!   fails every batch of the group; none of them is reported as written.
//! - A batch's completion (`Db::write_durable`) travels with it into the group, for the commit
//!   to register once the group is visible; a failed commit drops it unrun.
//! - A group holds at most `max_group_bytes` of batches, and at most the leader's own size plus
//!   128 KiB when the leader's batch is small, so a small write is never held hostage behind a
//!   huge group. The leader's own batch is always taken, whatever its size.
//!
//! Flow:
//! ```text
//! write(batch):
//!     lock queue; push batch
//!     if others were queued: unlock; sleep on own turn until Done or Lead
//!         Done(result): return it                      -- a leader committed it for us
//!         Lead: lock queue                             -- the previous leader picked us
//!     maybe wait for company (policy)                  -- on the queue's `company` condvar
//!     group = front batches up to the caps; unlock
//!     result = commit(group)                           -- sequence, WAL write, fsync, memtable, publish
//!     lock queue; pop the group; unlock
//!     hand the new front Lead, then each member Done(result)
//! ```
//! Each writer sleeps on its own turn rather than on the queue's lock: a leader releasing 60
//! members would otherwise wake 60 threads that all queue up for that one lock.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::batch::WriteBatch;
use crate::commit_policy::{AdaptiveState, CommitPolicy};
use crate::durability::Completion;
use crate::error::Result;
use crate::stats::histogram::Histogram;

/// A leader whose own batch is at most this big caps its group at its size plus this much.
const SMALL_BATCH_BYTES: usize = 128 << 10;

/// Ids of `GroupCommit` queues, so that a thread's memory of its last group names the queue.
static NEXT_QUEUE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// (queue id, group id) of the group this thread's last write belonged to: the adaptive
    /// policy counts a thread coming back from the last group as a returnee.
    static LAST_GROUP: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// What a queued writer is waiting for, and what ended the wait.
enum Turn {
    /// Queued behind a leader.
    Waiting,
    /// Its batch was committed by the leader of group `group`, with this result.
    Done { result: Result<()>, group: u64 },
    /// It is at the front of the queue: it leads the next group.
    Lead,
}

/// One queued write.
struct Waiter {
    /// When the writer joined the queue (for commit latency).
    enqueued: Instant,
    /// Taken by the leader when it forms the group.
    batch: Mutex<Option<WriteBatch>>,
    sync: bool,
    /// What to complete once the batch is durable (`Db::write_durable`); taken with the batch.
    completion: Mutex<Option<Completion>>,
    bytes: usize,
    /// Set by the leader of the batch's group (`Done`) or of the group before (`Lead`). Each
    /// writer sleeps on its own turn, not on the queue's lock, so that the members a leader
    /// releases do not all wake up to fight over that lock.
    turn: Mutex<Turn>,
    wake: Condvar,
}

impl Waiter {
    /// Ends the writer's wait with `turn`.
    fn hand(&self, turn: Turn) {
        *lock(&self.turn) = turn;
        self.wake.notify_one();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a few field updates that cannot panic half-way, so a
    // poisoned lock (a panic elsewhere while it was held) leaves consistent data.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A group the leader commits.
pub(crate) struct WriteGroup {
    /// The batches in queue order.
    pub batches: Vec<WriteBatch>,
    /// Whether any member asked for its batch to be synced.
    pub sync: bool,
    /// What the members asked to complete once the group is durable, in queue order; the
    /// commit registers them once the group is visible.
    pub completions: Vec<Completion>,
}

/// Counters of the groups formed, for `Db::stats`.
#[derive(Default)]
pub(crate) struct GroupStats {
    /// Batches per group.
    pub batches: Histogram,
    /// Bytes per group.
    pub bytes: Histogram,
    /// Groups that were synced.
    pub synced_groups: AtomicU64,
    /// How long leaders waited for company before committing, in nanoseconds.
    pub leader_wait: Histogram,
    /// Each write's latency from joining the queue to its result, in nanoseconds.
    pub commit_latency: Histogram,
}

/// The writers waiting, and what the adaptive policy has measured about them.
struct Queue {
    waiters: VecDeque<Arc<Waiter>>,
    /// Whether the leader is waiting for company on `GroupCommit::company`.
    leader_waiting: bool,
    /// The id of the last group committed.
    last_group: u64,
    adaptive: AdaptiveState,
}

/// The queue of writers. See the module documentation.
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
    /// Where a leader waiting for company sleeps (with `queue`'s lock); arrivals wake it.
    company: Condvar,
    /// Tells this queue's groups apart from other databases' in `LAST_GROUP`.
    id: u64,
    policy: CommitPolicy,
    /// The byte cap of `CommitPolicy::Immediate` groups.
    immediate_max_bytes: usize,
    pub(crate) stats: GroupStats,
}

impl GroupCommit {
    /// A queue forming groups by `policy` (`Immediate` groups of at most `immediate_max_bytes`).
    pub(crate) fn new(policy: CommitPolicy, immediate_max_bytes: usize) -> Self {
        GroupCommit {
            queue: Mutex::new(Queue {
                waiters: VecDeque::new(),
                leader_waiting: false,
                last_group: 0,
                adaptive: AdaptiveState::default(),
            }),
            company: Condvar::new(),
            id: NEXT_QUEUE_ID.fetch_add(1, Ordering::Relaxed),
            policy,
            immediate_max_bytes,
            stats: GroupStats::default(),
        }
    }

    /// The adaptive policy's current wait budget (zero for the other policies).
    pub(crate) fn wait_budget(&self) -> Duration {
        match self.policy {
            CommitPolicy::Adaptive { .. } => lock(&self.queue).adaptive.wait_budget(),
            _ => Duration::ZERO,
        }
    }

    /// Lets the leader wait for more writers, as the policy says, until the group would be
    /// full, the wait is over, or (adaptive) every member of the last group is back.
    /// Returns the queue's lock again, and how long the leader waited.
    fn wait_for_company<'a>(
        &self,
        mut queue: MutexGuard<'a, Queue>,
    ) -> (MutexGuard<'a, Queue>, Duration) {
        let wait = match self.policy {
            CommitPolicy::Immediate => Duration::ZERO,
            CommitPolicy::Window { max_wait, .. } => max_wait,
            CommitPolicy::Adaptive { .. } => queue.adaptive.wait_for(),
        };
        if wait.is_zero() {
            return (queue, Duration::ZERO);
        }
        let (max_batches, max_bytes) = self.policy.caps(self.immediate_max_bytes);
        let started = Instant::now();
        let deadline = started + wait;
        loop {
            let bytes: usize = queue.waiters.iter().map(|waiter| waiter.bytes).sum();
            if queue.waiters.len() >= max_batches || bytes >= max_bytes {
                break;
            }
            if matches!(self.policy, CommitPolicy::Adaptive { .. })
                && queue.adaptive.outstanding_returnees() == 0
            {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            queue.leader_waiting = true;
            queue = self
                .company
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            queue.leader_waiting = false;
        }
        let waited = started.elapsed();
        self.stats.leader_wait.record_duration(waited);
        (queue, waited)
    }

    /// Commits `batch` as part of some group. If this writer becomes the leader, it calls
    /// `commit` for the whole group; otherwise another writer's `commit` covers it. A
    /// `completion` goes into the group's for the commit to register; if the commit fails it is
    /// dropped, never run.
    pub(crate) fn write(
        &self,
        batch: WriteBatch,
        sync: bool,
        completion: Option<Completion>,
        commit: impl FnOnce(&mut WriteGroup) -> Result<()>,
    ) -> Result<()> {
        let enqueued = Instant::now();
        let waiter = Arc::new(Waiter {
            enqueued,
            bytes: batch.approximate_size(),
            batch: Mutex::new(Some(batch)),
            sync,
            completion: Mutex::new(completion),
            turn: Mutex::new(Turn::Waiting),
            wake: Condvar::new(),
        });
        let mut queue = lock(&self.queue);
        let returnee = LAST_GROUP.get() == (self.id, queue.adaptive.completed_group());
        queue.adaptive.on_arrival(returnee);
        queue.waiters.push_back(Arc::clone(&waiter));
        // A writer that finds the queue empty leads at once; the others wait for their turn.
        let led_at_once = queue.waiters.len() == 1;
        if !led_at_once {
            if queue.leader_waiting {
                self.company.notify_one();
            }
            drop(queue);
            let mut turn = waiter
                .wake
                .wait_while(lock(&waiter.turn), |turn| matches!(turn, Turn::Waiting))
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Turn::Done { result, group } = std::mem::replace(&mut *turn, Turn::Waiting) {
                LAST_GROUP.set((self.id, group));
                return result;
            }
            drop(turn);
            queue = lock(&self.queue);
        }
        let (queue, waited) = self.wait_for_company(queue);
        let (mut group, member_count) = self.form_group(&queue.waiters);
        drop(queue);

        // Clock reads are a visible part of a lone unsynced put: one that led at once and did
        // not wait started its commit when it arrived.
        let commit_started = if led_at_once && waited.is_zero() {
            enqueued
        } else {
            Instant::now()
        };
        let result = commit(&mut group);
        self.finish_group(member_count, waited, commit_started, result)
    }

    /// Pops the `member_count` members of the group the calling leader committed, hands the
    /// next front its turn to lead and every other member its result, and returns the leader's
    /// own result. The queue's lock is held only to pop; waking happens after it is released.
    fn finish_group(
        &self,
        member_count: usize,
        waited: Duration,
        commit_started: Instant,
        result: Result<()>,
    ) -> Result<()> {
        let finished = Instant::now();
        let commit_time = finished.saturating_duration_since(commit_started);
        let mut queue = lock(&self.queue);
        queue.last_group += 1;
        let group_id = queue.last_group;
        let members: Vec<Arc<Waiter>> = queue.waiters.drain(..member_count).collect();
        let next_leader = queue.waiters.front().cloned();
        let oldest_latency = members.first().map_or(Duration::ZERO, |oldest| {
            finished.saturating_duration_since(oldest.enqueued)
        });
        if let CommitPolicy::Adaptive { target_latency, .. } = self.policy {
            queue.adaptive.on_commit(
                group_id,
                member_count,
                finished,
                waited,
                commit_time,
                oldest_latency,
                target_latency,
            );
        }
        drop(queue);
        LAST_GROUP.set((self.id, group_id));
        // The next group's commit starts first; the members wake while it runs.
        if let Some(next_leader) = next_leader {
            next_leader.hand(Turn::Lead);
        }
        // The leader is the first member; the others get a copy of the group's result.
        for member in members.iter().skip(1) {
            self.stats
                .commit_latency
                .record_duration(finished.saturating_duration_since(member.enqueued));
            let member_result = match &result {
                Ok(()) => Ok(()),
                Err(error) => Err(error.duplicate()),
            };
            member.hand(Turn::Done {
                result: member_result,
                group: group_id,
            });
        }
        self.stats.commit_latency.record_duration(oldest_latency);
        result
    }

    /// Takes the batches of the group led by the front of `queue`.
    fn form_group(&self, queue: &VecDeque<Arc<Waiter>>) -> (WriteGroup, usize) {
        let leader_bytes = queue.front().map_or(0, |leader| leader.bytes);
        let (max_batches, mut limit) = self.policy.caps(self.immediate_max_bytes);
        if leader_bytes <= SMALL_BATCH_BYTES {
            limit = limit.min(leader_bytes + SMALL_BATCH_BYTES);
        }
        let mut group = WriteGroup {
            batches: Vec::new(),
            sync: false,
            completions: Vec::new(),
        };
        let mut bytes = 0;
        for (index, member) in queue.iter().enumerate() {
            if index > 0 && (bytes + member.bytes > limit || index >= max_batches) {
                break;
            }
            bytes += member.bytes;
            group.sync |= member.sync;
            if let Some(batch) = lock(&member.batch).take() {
                group.batches.push(batch);
            }
            group.completions.extend(lock(&member.completion).take());
        }
        let member_count = group.batches.len();
        self.stats.batches.record(member_count as u64);
        self.stats.bytes.record(bytes as u64);
        if group.sync {
            self.stats.synced_groups.fetch_add(1, Ordering::Relaxed);
        }
        (group, member_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::sync::Barrier;

    fn batch_with(key: &[u8], value_size: usize) -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch.put(key, &vec![7; value_size]).unwrap();
        batch
    }

    #[test]
    fn every_batch_is_committed_once_in_queue_order() {
        let commit = Arc::new(GroupCommit::new(CommitPolicy::Immediate, 1 << 20));
        let log = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let (commit, log) = (commit.clone(), log.clone());
                std::thread::spawn(move || {
                    for index in 0..200 {
                        let key = format!("{thread}-{index:03}").into_bytes();
                        commit
                            .write(batch_with(&key, 10), index % 2 == 0, None, |group| {
                                let mut log = lock(&log);
                                for batch in &group.batches {
                                    for operation in batch.iter() {
                                        if let crate::batch::BatchOperation::Put { key, .. } =
                                            operation
                                        {
                                            log.push(key.to_vec());
                                        }
                                    }
                                }
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let log = lock(&log);
        assert_eq!(log.len(), 1_600);
        // Each thread's batches appear in the order that thread wrote them.
        for thread in 0..8 {
            let prefix = format!("{thread}-").into_bytes();
            let own: Vec<_> = log.iter().filter(|key| key.starts_with(&prefix)).collect();
            let mut sorted = own.clone();
            sorted.sort();
            assert_eq!(own, sorted, "thread {thread} out of order");
            assert_eq!(own.len(), 200);
        }
        assert_eq!(commit.stats.batches.sum(), 1_600);
    }

    #[test]
    fn concurrent_writers_form_groups_larger_than_one() {
        let commit = Arc::new(GroupCommit::new(CommitPolicy::Immediate, 1 << 20));
        let barrier = Arc::new(Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (commit, barrier) = (commit.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..50 {
                        // A slow "fsync" lets the queue fill behind the leader.
                        commit
                            .write(batch_with(b"k", 10), true, None, |_| {
                                std::thread::sleep(std::time::Duration::from_millis(1));
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(commit.stats.batches.sum(), 800);
        assert!(
            commit.stats.batches.max() > 1,
            "no group held more than one batch"
        );
        assert!(commit.stats.batches.count() < 800);
    }

    #[test]
    fn a_failed_commit_fails_every_member_of_the_group() {
        let commit = Arc::new(GroupCommit::new(CommitPolicy::Immediate, 1 << 20));
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (commit, barrier) = (commit.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    commit.write(batch_with(b"k", 10), true, None, |group| {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        Err(Error::ReadOnly(format!(
                            "injected failure of {} batches",
                            group.batches.len()
                        )))
                    })
                })
            })
            .collect();
        for thread in threads {
            let error = thread.join().unwrap().unwrap_err();
            assert!(error.to_string().contains("injected failure"), "{error}");
        }
    }

    /// Mean batches per group when `writers` threads each commit `rounds` batches in a closed
    /// loop through a commit that takes 2 ms (a stand-in for a slow fsync).
    fn mean_group_size(policy: CommitPolicy, writers: usize, rounds: usize) -> f64 {
        let commit = Arc::new(GroupCommit::new(policy, 1 << 20));
        let threads: Vec<_> = (0..writers)
            .map(|writer| {
                let commit = Arc::clone(&commit);
                std::thread::spawn(move || {
                    for round in 0..rounds {
                        let key = format!("{writer}-{round}").into_bytes();
                        commit
                            .write(batch_with(&key, 10), true, None, |_| {
                                std::thread::sleep(Duration::from_millis(2));
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        commit.stats.batches.mean()
    }

    /// Closed-loop writers released by one group come back while the next one commits; the
    /// adaptive policy waits for them, so groups hold nearly every writer instead of the two
    /// half-size groups taking turns that committing at once settles into.
    #[test]
    fn adaptive_groups_gather_the_writers_just_released() {
        let writers = 8;
        let adaptive = CommitPolicy::Adaptive {
            target_latency: Duration::from_millis(50),
            max_batches: 1024,
            max_bytes: 1 << 20,
        };
        let adaptive_mean = mean_group_size(adaptive, writers, 60);
        let immediate_mean = mean_group_size(CommitPolicy::Immediate, writers, 60);
        assert!(
            adaptive_mean > immediate_mean && adaptive_mean >= 0.7 * writers as f64,
            "adaptive {adaptive_mean:.2} vs immediate {immediate_mean:.2} batches per group"
        );
    }

    #[test]
    fn small_leaders_cap_their_group() {
        let commit = GroupCommit::new(CommitPolicy::Immediate, 1 << 20);
        let mut queue = VecDeque::new();
        for size in [10, 100 << 10, 100 << 10] {
            let batch = batch_with(b"k", size);
            queue.push_back(Arc::new(Waiter {
                enqueued: Instant::now(),
                bytes: batch.approximate_size(),
                batch: Mutex::new(Some(batch)),
                sync: false,
                completion: Mutex::new(None),
                turn: Mutex::new(Turn::Waiting),
                wake: Condvar::new(),
            }));
        }
        // 10 bytes + 128 KiB admits the first 100 KiB batch but not the second.
        let (group, members) = commit.form_group(&queue);
        assert_eq!(members, 2);
        assert_eq!(group.batches.len(), 2);
        assert!(!group.sync);
    }
}
