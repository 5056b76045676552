//! How a commit leader forms its group: `CommitPolicy` (the user's choice) and the adaptive
//! controller behind `CommitPolicy::Adaptive`.
//!
//! Without any waiting, group commit already batches under load: while one group's fsync runs,
//! the next writers queue, and the next leader takes them all. But with `n` writers that each
//! wait for their own write, this settles into two groups taking turns — the writers released
//! by one commit queue up during the next one's fsync — so each fsync covers about `n / 2`
//! writes. The adaptive policy closes that gap by waiting for the writers it has just released:
//!
//! - **It waits only for writers it knows are coming back.** After a group commits, its members
//!   are *returnees*: each thread remembers the group its last write belonged to, and when it
//!   writes again it counts itself back in. A leader waits only while members of the last group
//!   are still out. A lone writer is its own returnee, so it never waits; a queue that already
//!   holds everyone does not wait either.
//! - **It waits at most as long as a commit takes** (a moving average of the log write, fsync
//!   and memtable insert of recent groups). Waiting for the returnees turns two half-size
//!   groups into one full one; waiting longer than a commit would idle the device for longer than
//!   the commit it saves. It also ends when the group is full (`max_batches`, `max_bytes`).
//! - **The wait budget follows the latency target.** After each group whose leader waited, the
//!   oldest member's latency (queueing + wait + log write + fsync) is compared with
//!   `target_latency`: above it, the budget halves. Otherwise the budget grows by an eighth of
//!   the target, but never past the target minus the average commit time (the fsync itself
//!   must fit in the target). A late group whose leader did not wait does not shrink the
//!   budget: its lateness is queueing behind the previous group — the half-size groups taking
//!   turns — which is what waiting cures (measured on a simulated 1 ms fsync with 64 writers:
//!   blaming it kept the budget at zero and the throughput at `Immediate`'s). On a device whose
//!   fsync alone takes longer than the target the budget stays at zero, and the policy behaves
//!   like `Immediate`.
//!
//! Measured with `shale bench` on a 2-core machine whose fdatasync takes 0.1–0.3 ms: an
//! earlier version that waited for arrivals by their average gap, and never when the queue held
//! three quarters of a typical group, formed the half-size groups above and at 4 and 16 writers
//! reached only 40–60% of `Immediate`'s throughput.

use std::time::Duration;

/// How the leader of a group commit decides how many queued writes to take, and whether to
/// wait for more. Set in `Options::commit_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitPolicy {
    /// Commit what is queued now; never wait. Groups are capped at
    /// `Options::max_write_group_bytes`.
    Immediate,
    /// Wait up to `max_wait` for more writers, committing early once the group holds
    /// `max_batches` batches or `max_bytes` bytes.
    Window {
        /// Longest time the leader waits for company.
        max_wait: Duration,
        /// Most batches in one group.
        max_batches: usize,
        /// Most bytes in one group.
        max_bytes: usize,
    },
    /// Wait as long as measurements say it pays, keeping commit latency near `target_latency`
    /// (see the module documentation). The default, with a 2 ms target, 1,024 batches and
    /// 1 MiB per group.
    Adaptive {
        /// Commit latency (queueing, waiting, log write and fsync) to stay near.
        target_latency: Duration,
        /// Most batches in one group.
        max_batches: usize,
        /// Most bytes in one group.
        max_bytes: usize,
    },
}

impl Default for CommitPolicy {
    fn default() -> Self {
        CommitPolicy::Adaptive {
            target_latency: Duration::from_millis(2),
            max_batches: 1024,
            max_bytes: 1 << 20,
        }
    }
}

impl CommitPolicy {
    /// The caps on one group: (batches, bytes).
    pub(crate) fn caps(&self, immediate_max_bytes: usize) -> (usize, usize) {
        match *self {
            CommitPolicy::Immediate => (usize::MAX, immediate_max_bytes),
            CommitPolicy::Window {
                max_batches,
                max_bytes,
                ..
            }
            | CommitPolicy::Adaptive {
                max_batches,
                max_bytes,
                ..
            } => (max_batches, max_bytes),
        }
    }

    /// Checks the fields, naming the first one out of range.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        let (max_batches, max_bytes, time) = match *self {
            CommitPolicy::Immediate => return Ok(()),
            CommitPolicy::Window {
                max_wait,
                max_batches,
                max_bytes,
            } => (max_batches, max_bytes, ("max_wait", max_wait)),
            CommitPolicy::Adaptive {
                target_latency,
                max_batches,
                max_bytes,
            } => (max_batches, max_bytes, ("target_latency", target_latency)),
        };
        let invalid = |message: String| Err(crate::Error::InvalidArgument(message));
        if max_batches == 0 {
            return invalid("Options::commit_policy: max_batches must be at least 1".into());
        }
        if max_bytes < 1024 {
            return invalid(format!(
                "Options::commit_policy: max_bytes is {max_bytes}; it must be at least 1024"
            ));
        }
        if time.1 > Duration::from_secs(1) {
            return invalid(format!(
                "Options::commit_policy: {} is {:?}; it must be at most 1 s",
                time.0, time.1
            ));
        }
        Ok(())
    }
}

/// Weight of a new sample in the moving averages.
const SMOOTHING: f64 = 0.125;
/// What the adaptive controller has measured. Lives under the commit queue's mutex.
#[derive(Debug, Default)]
pub(crate) struct AdaptiveState {
    /// The id of the last group committed (0 before the first).
    completed_group: u64,
    /// Members of that group that have not yet queued another write.
    outstanding_returnees: usize,
    /// Average time a group's commit (log write, fsync, memtable insert) takes, in nanoseconds.
    commit_nanos: f64,
    /// Whether `commit_nanos` holds a measurement yet.
    measured: bool,
    /// How long the next leader may wait, in nanoseconds.
    wait_budget_nanos: f64,
}

impl AdaptiveState {
    /// The id of the last group committed: a writer whose previous write was in it is a
    /// returnee.
    pub fn completed_group(&self) -> u64 {
        self.completed_group
    }

    /// A writer joined the queue; `returnee` when its previous write was in the last group.
    pub fn on_arrival(&mut self, returnee: bool) {
        if returnee {
            self.outstanding_returnees = self.outstanding_returnees.saturating_sub(1);
        }
    }

    /// Members of the last group that have not written again yet.
    pub fn outstanding_returnees(&self) -> usize {
        self.outstanding_returnees
    }

    /// How long a leader should wait for the returnees still out.
    pub fn wait_for(&self) -> Duration {
        if self.outstanding_returnees == 0 || self.wait_budget_nanos < 1.0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.wait_budget_nanos.min(self.commit_nanos) as u64)
    }

    /// Group `group` of `batches` finished: its leader waited `waited` for company, its commit
    /// took `commit`, and its oldest member waited `oldest_latency` in all since it queued.
    pub fn on_commit(
        &mut self,
        group: u64,
        batches: usize,
        waited: Duration,
        commit: Duration,
        oldest_latency: Duration,
        target: Duration,
    ) {
        self.completed_group = group;
        self.outstanding_returnees = batches;
        let commit_nanos = commit.as_nanos() as f64;
        self.commit_nanos = if self.measured {
            self.commit_nanos + SMOOTHING * (commit_nanos - self.commit_nanos)
        } else {
            commit_nanos
        };
        self.measured = true;
        let target_nanos = target.as_nanos() as f64;
        // Only a late group whose leader waited blames the wait. A late group that did not
        // wait is late from queueing behind the group before it, which waiting for the
        // returnees is what cures.
        if oldest_latency > target && !waited.is_zero() {
            self.wait_budget_nanos /= 2.0;
        } else {
            let ceiling = (target_nanos - self.commit_nanos).max(0.0);
            self.wait_budget_nanos = (self.wait_budget_nanos + target_nanos / 8.0).min(ceiling);
        }
    }

    /// The current wait budget (for statistics).
    pub fn wait_budget(&self) -> Duration {
        Duration::from_nanos(self.wait_budget_nanos as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_writer_never_waits() {
        let mut state = AdaptiveState::default();
        let target = Duration::from_millis(2);
        for group in 1..100u64 {
            // The writer of the last group comes back: it is the only returnee.
            state.on_arrival(group > 1);
            assert_eq!(state.wait_for(), Duration::ZERO, "group {group}");
            state.on_commit(
                group,
                1,
                Duration::ZERO,
                Duration::from_micros(150),
                Duration::from_micros(160),
                target,
            );
        }
    }

    #[test]
    fn leaders_wait_for_returnees_within_a_commit_and_the_target() {
        let mut state = AdaptiveState::default();
        let target = Duration::from_millis(2);
        for group in 1..=20 {
            // Late (3 ms) without having waited: queueing, not the wait, so the budget grows.
            state.on_commit(
                group,
                32,
                Duration::ZERO,
                Duration::from_micros(500),
                Duration::from_millis(3),
                target,
            );
        }
        // 31 of the 32 members are still out: wait, but no longer than a commit takes.
        state.on_arrival(true);
        assert_eq!(state.outstanding_returnees(), 31);
        let wait = state.wait_for();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_micros(500),
            "{wait:?}"
        );
        // Writers that were not in the last group do not count; once all members are back
        // there is nobody to wait for.
        state.on_arrival(false);
        assert_eq!(state.outstanding_returnees(), 31);
        for _ in 0..31 {
            state.on_arrival(true);
        }
        assert_eq!(state.wait_for(), Duration::ZERO);
        // A late group whose leader waited halves the budget.
        state.on_commit(
            21,
            32,
            Duration::from_micros(300),
            Duration::from_micros(500),
            Duration::from_millis(5),
            target,
        );
        let late = state.wait_budget();
        assert!(late <= Duration::from_micros(1_500) / 2, "{late:?}");
        // An fsync slower than the target leaves no budget at all.
        let mut slow = AdaptiveState::default();
        for group in 1..50 {
            slow.on_commit(
                group,
                16,
                Duration::ZERO,
                Duration::from_millis(4),
                Duration::from_millis(1),
                target,
            );
        }
        assert_eq!(slow.wait_for(), Duration::ZERO);
    }

    #[test]
    fn invalid_policies_name_the_field() {
        let policy = CommitPolicy::Window {
            max_wait: Duration::from_secs(5),
            max_batches: 8,
            max_bytes: 1 << 20,
        };
        assert!(
            policy
                .validate()
                .unwrap_err()
                .to_string()
                .contains("max_wait")
        );
        let policy = CommitPolicy::Adaptive {
            target_latency: Duration::from_millis(1),
            max_batches: 0,
            max_bytes: 1 << 20,
        };
        assert!(
            policy
                .validate()
                .unwrap_err()
                .to_string()
                .contains("max_batches")
        );
        CommitPolicy::default().validate().unwrap();
    }
}
