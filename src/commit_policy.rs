//! How a commit leader forms its group: `CommitPolicy` (the user's choice) and the adaptive
//! controller behind `CommitPolicy::Adaptive`.
//!
//! Without any waiting, group commit already batches under load: while one group's fsync runs,
//! the next writers queue, and the next leader takes them all. Waiting helps in between: when
//! writers arrive a little apart, a short wait lets one fsync cover more of them. Waiting costs
//! every member of the group that much latency, so the adaptive policy waits only when there is
//! company to wait for, and steers how long by the commit latency it measures:
//!
//! - **A backlog is not waited on, and a lone writer never waits.** The controller keeps a moving
//!   average of group sizes; when the queue already holds three quarters of that, the leader
//!   commits at once — a backlog formed while the previous group committed is as big as the
//!   group will get (measured: at 64 writers on 2 cores, waiting anyway cut throughput by a
//!   third). A single thread's groups hold one batch, so it never waits either.
//! - **A wait ends early** when the group is full (`max_batches`, `max_bytes`) or when arrivals
//!   stop: no new writer within twice the average gap between arrivals.
//! - **The wait budget follows the latency target.** After each group, the oldest member's
//!   latency (queueing + wait + log write + fsync) is compared with `target_latency`: above it,
//!   the budget halves; below it, the budget grows by an eighth of the target, but never past
//!   the target minus the average commit time (the fsync itself must fit in the target). On a
//!   device whose fsync alone takes longer than the target the budget stays at zero, and the
//!   policy behaves like `Immediate`.

use std::time::{Duration, Instant};

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
/// A queue holding at least this fraction of the average group size is not worth waiting on.
const BACKLOG_FRACTION: f64 = 0.75;

/// What the adaptive controller has measured. Lives under the commit queue's mutex.
#[derive(Debug)]
pub(crate) struct AdaptiveState {
    last_arrival: Option<Instant>,
    /// Average gap between arrivals, in nanoseconds.
    arrival_gap_nanos: f64,
    /// Average time a synced group's log write and fsync take, in nanoseconds.
    commit_nanos: f64,
    /// Average batches per group.
    group_size: f64,
    /// How long the next leader may wait, in nanoseconds.
    wait_budget_nanos: f64,
}

impl Default for AdaptiveState {
    fn default() -> Self {
        AdaptiveState {
            last_arrival: None,
            arrival_gap_nanos: f64::MAX,
            commit_nanos: 0.0,
            group_size: 1.0,
            wait_budget_nanos: 0.0,
        }
    }
}

fn smooth(average: f64, sample: f64) -> f64 {
    if average == f64::MAX {
        sample
    } else {
        average + SMOOTHING * (sample - average)
    }
}

impl AdaptiveState {
    /// A writer joined the queue at `now`.
    pub fn on_arrival(&mut self, now: Instant) {
        if let Some(last) = self.last_arrival {
            let gap = now.saturating_duration_since(last).as_nanos() as f64;
            self.arrival_gap_nanos = smooth(self.arrival_gap_nanos, gap);
        }
        self.last_arrival = Some(now);
    }

    /// When the last writer arrived.
    pub fn last_arrival(&self) -> Option<Instant> {
        self.last_arrival
    }

    /// The average gap between arrivals.
    pub fn arrival_gap(&self) -> Duration {
        if self.arrival_gap_nanos == f64::MAX {
            Duration::MAX
        } else {
            Duration::from_nanos(self.arrival_gap_nanos as u64)
        }
    }

    /// How long a leader that sees `queued` writers (itself included) should wait for more.
    pub fn wait_for(&self, queued: usize) -> Duration {
        // The queue already holds about as many writers as recent groups had (a backlog formed
        // while the previous group committed): waiting would only add latency. This also keeps
        // a lone writer from waiting, since its groups hold one batch.
        if queued as f64 >= BACKLOG_FRACTION * self.group_size || self.wait_budget_nanos < 1.0 {
            return Duration::ZERO;
        }
        // Fewer than one arrival expected within the budget: nothing to wait for.
        if self.arrival_gap_nanos > self.wait_budget_nanos {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.wait_budget_nanos as u64)
    }

    /// A group of `batches` finished: its log write and fsync took `commit`, and its oldest
    /// member waited `oldest_latency` in all since it queued.
    pub fn on_commit(
        &mut self,
        batches: usize,
        commit: Duration,
        oldest_latency: Duration,
        target: Duration,
    ) {
        self.group_size = smooth(self.group_size, batches as f64);
        self.commit_nanos = smooth(
            self.commit_nanos.min(f64::MAX / 2.0),
            commit.as_nanos() as f64,
        );
        let target_nanos = target.as_nanos() as f64;
        if oldest_latency > target {
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
        let start = Instant::now();
        for step in 0..100u32 {
            state.on_arrival(start + Duration::from_micros(200) * step);
            state.on_commit(
                1,
                Duration::from_micros(150),
                Duration::from_micros(160),
                target,
            );
            assert_eq!(state.wait_for(1), Duration::ZERO, "step {step}");
        }
    }

    #[test]
    fn busy_queues_wait_within_the_target_and_back_off_when_late() {
        let mut state = AdaptiveState::default();
        let target = Duration::from_millis(2);
        let start = Instant::now();
        for step in 0..200u32 {
            state.on_arrival(start + Duration::from_micros(20) * step);
        }
        for _ in 0..20 {
            state.on_commit(
                32,
                Duration::from_micros(500),
                Duration::from_millis(1),
                target,
            );
        }
        let wait = state.wait_for(8);
        assert!(
            wait > Duration::ZERO && wait <= target - Duration::from_micros(400),
            "{wait:?}"
        );
        // Commits running late halve the budget.
        state.on_commit(
            32,
            Duration::from_micros(500),
            Duration::from_millis(5),
            target,
        );
        assert!(state.wait_for(8) <= wait / 2 + Duration::from_nanos(1));
        // An fsync slower than the target leaves no budget at all.
        let mut slow = AdaptiveState::default();
        for step in 0..50u32 {
            slow.on_arrival(start + Duration::from_micros(20) * step);
            slow.on_commit(
                16,
                Duration::from_millis(4),
                Duration::from_millis(1),
                target,
            );
        }
        assert_eq!(slow.wait_for(8), Duration::ZERO);
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
