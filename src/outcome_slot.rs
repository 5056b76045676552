//! [`OutcomeSlot`]: where a pending operation's result is delivered once and waited for — the
//! shared part of `BatchWriter`'s `Ticket` and `Db::write_durable`'s `DurableTicket`.
//!
//! Thread safety: a mutex over the outcome and a condvar; resolving makes a wake-up call only
//! when a waiter sleeps.

use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::Result;

/// A result delivered once by one thread and taken by another.
#[derive(Debug, Default)]
pub(crate) struct OutcomeSlot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    outcome: Option<Result<()>>,
    /// Set by a waiter, so that resolving only makes a wake-up call when someone sleeps.
    waiting: bool,
}

impl OutcomeSlot {
    fn state(&self) -> MutexGuard<'_, SlotState> {
        // Every critical section is a field update or two that cannot panic half-way.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Delivers `outcome` and wakes the waiter, if one sleeps.
    pub fn resolve(&self, outcome: Result<()>) {
        let mut state = self.state();
        state.outcome = Some(outcome);
        if state.waiting {
            self.ready.notify_all();
        }
    }

    /// Blocks until the outcome is delivered, and takes it.
    pub fn wait(&self) -> Result<()> {
        let mut state = self.state();
        loop {
            if let Some(outcome) = state.outcome.take() {
                return outcome;
            }
            state.waiting = true;
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Whether the outcome is delivered: `wait` would not block.
    pub fn is_done(&self) -> bool {
        self.state().outcome.is_some()
    }

    /// Whether the outcome is delivered and is `Ok`.
    pub fn is_ok(&self) -> bool {
        matches!(self.state().outcome, Some(Ok(())))
    }
}
