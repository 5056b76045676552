//! Writes acknowledged before their fsync, and the syncs that make them durable: the public
//! [`DurableTicket`], the completions behind it and behind `Db::write_durable_then`'s
//! callbacks, and [`WalSync`], which owns how far the current write-ahead log is synced and
//! lets one sync of it run at a time. `wal_sync.rs` runs the syncs on the engine; this module
//! holds no engine lock and imports none of it.
//!
//! Who syncs the log (each through [`WalSync::begin_sync`] and [`WalSync::finish_sync`]):
//! - the leader of a synced group, a memtable rotation and `close`, with the log locked, through
//!   the log writer;
//! - `Db::sync_wal` and the `shaledb-sync` thread, without the log lock, through the file's sync
//!   handle (`vfs::WritableFile::sync_handle`), so that commits go on while the fdatasync runs
//!   (when the file system has no handle, they take the log lock too).
//!
//! A sync covers the log through the end of what was written when it began; a sync asked to
//! cover a point that a completed sync covered, or that a later log has replaced (a rotation
//! syncs the old log first), returns at once (once the completions that sync made ready have
//! run, so that the caller finds the handles it covered complete); one asked while a sync runs
//! waits for it and returns if that covered its point, so no caller runs a second fsync for a
//! point one in flight covers.
//!
//! Invariants:
//! - At most one sync runs at a time (`busy`), and one begins only when the outcome of the one
//!   before is known: after a failed fdatasync the kernel may have dropped the dirty pages and
//!   reported the error once, so a sync begun meanwhile could succeed without making them
//!   durable. (RocksDB's `SyncWAL` makes a synced write wait for a running sync for the same
//!   reason.)
//! - `synced` is proven: every byte of the current log before it was written before a sync
//!   that completed began.
//! - Pending completions are kept in commit order and completed from the front only, by the
//!   holder of `busy`, which runs them one at a time: a completion runs only when every earlier
//!   write is durable too, and in commit order.
//! - After a failure (`failed`) nothing syncs again and every completion, pending or later, gets
//!   the error: a failed sync is never retried.
//!
//! Lock order: the engine's log lock, then this module's mutex (a leaf). The holder of `busy`
//! never takes the log lock while it holds it (a syncer that needs it takes it before claiming
//! `busy`), so a thread holding the log lock may wait for `busy` — which is why a callback must
//! not write. No thread waits for `busy` while it holds the engine's `state` (a rotation syncs
//! before it takes `state`), so a callback may read, and the holder may record a panic.

use std::any::Any;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::outcome_slot::OutcomeSlot;
use crate::vfs::FileSync;

/// A point in the write-ahead-log history: byte `offset` of log number `log`. Logs are numbered
/// in the order they are written, so positions order as the writes did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WalPosition {
    pub log: u64,
    pub offset: u64,
}

/// A panic caught in a completion (a caller's callback), for the engine to record.
pub(crate) type Panic = Box<dyn Any + Send>;

/// What to do when a write is durable (or cannot become so).
pub(crate) enum Completion {
    Ticket(Arc<OutcomeSlot>),
    Callback(Box<dyn FnOnce(Result<()>) + Send>),
}

impl Completion {
    /// Runs the completion with `result`, catching a panic of a callback.
    fn complete(self, result: Result<()>) -> Option<Panic> {
        match self {
            Completion::Ticket(slot) => {
                slot.resolve(result);
                None
            }
            Completion::Callback(callback) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(result))).err()
            }
        }
    }
}

/// A handle on a write that [`Db::write_durable`](crate::Db::write_durable) has made visible:
/// it completes when an fdatasync of the write-ahead log has made the write, and every write
/// committed before it, durable — or with the error that keeps it from becoming so.
///
/// Dropping it does not cancel anything; the write stays and becomes durable all the same.
///
/// ```
/// use shaledb::{Db, Options, WriteBatch};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let mut batch = WriteBatch::new();
/// batch.put(b"entry-1", b"payload")?;
/// let ticket = db.write_durable(batch)?;
/// assert!(db.contains_key(b"entry-1")?); // visible at once, durable a little later
/// db.sync_wal()?; // any sync of the log completes the tickets it covers
/// assert!(ticket.is_durable());
/// ticket.wait()?; // returns at once now
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a write's durability is known only by waiting on its ticket"]
pub struct DurableTicket {
    slot: Arc<OutcomeSlot>,
}

impl DurableTicket {
    /// A ticket and the completion that resolves it.
    pub(crate) fn new() -> (DurableTicket, Completion) {
        let slot = Arc::new(OutcomeSlot::default());
        let completion = Completion::Ticket(Arc::clone(&slot));
        (DurableTicket { slot }, completion)
    }

    /// Blocks until the write is durable, or returns why it cannot be known to be: the error of
    /// the failed log sync (or log write) after which the database refuses writes, or
    /// `Error::Closed` if the database closed without a sync covering it (which happens only
    /// after such a failure). A write whose ticket failed may still be in the log; it is not
    /// known to survive a power loss.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"k", b"v")?;
    /// let ticket = db.write_durable(batch)?;
    /// ticket.wait()?; // now the write survives a power loss
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(self) -> Result<()> {
        self.slot.wait()
    }

    /// Whether the write is durable now (never blocks). `false` both while the sync is pending
    /// and after a failure; [`is_done`](Self::is_done) tells them apart.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"k", b"v")?;
    /// let ticket = db.write_durable(batch)?;
    /// db.sync_wal()?; // every write acknowledged so far is durable when it returns
    /// assert!(ticket.is_durable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_durable(&self) -> bool {
        self.slot.is_ok()
    }

    /// Whether the ticket is complete, durable or failed: [`wait`](Self::wait) would not block.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"k", b"v")?;
    /// let ticket = db.write_durable(batch)?;
    /// db.close()?; // close syncs the log and completes every ticket
    /// assert!(ticket.is_done() && ticket.is_durable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_done(&self) -> bool {
        self.slot.is_done()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a few field updates that cannot panic half-way (callbacks
    // run outside them), so a poisoned lock leaves consistent data.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The completions of one commit group, waiting for a sync to cover the group's end.
struct Pending {
    position: WalPosition,
    completions: Vec<Completion>,
}

/// Why nothing syncs any more.
struct Failure {
    /// What the completions pending at the failure get a copy of.
    error: Error,
    /// The cause, as the engine's refusals name it.
    cause: String,
}

/// The current log's sync state; see the module documentation.
#[derive(Default)]
struct SyncState {
    /// The current log's number (0 for an engine without a log).
    log: u64,
    /// The current log's path, for errors of syncs through `handle`.
    path: PathBuf,
    /// Syncs the current log without its writer; `None` if the file system has no such handle.
    handle: Option<Arc<dyn FileSync>>,
    /// The end of what the commit leaders have written to the current log.
    written: u64,
    /// The end of what a completed sync covered in the current log.
    synced: u64,
    /// A sync, or the completions that follow one, is running.
    busy: bool,
    /// The holder of `busy` is running completions it took from `pending`.
    completing: bool,
    failed: Option<Failure>,
    /// Completions of groups not yet covered by a sync, in commit order.
    pending: VecDeque<Pending>,
    /// The database is closing: the sync thread stops, leftovers fail.
    shutting_down: bool,
    /// Threads waiting on `changed` (for `busy`, in `begin_sync` and `shut_down`).
    waiters: usize,
}

impl SyncState {
    fn covers(&self, target: WalPosition) -> bool {
        target.log < self.log || (target.log == self.log && target.offset <= self.synced)
    }

    fn written_position(&self) -> WalPosition {
        WalPosition {
            log: self.log,
            offset: self.written,
        }
    }

    /// Whether some pending completion can run now.
    fn has_ready(&self) -> bool {
        match self.pending.front() {
            None => false,
            Some(front) => {
                self.failed.is_some() || self.shutting_down || self.covers(front.position)
            }
        }
    }

    /// Takes the completions that can run now, with their results: those a sync covered, or
    /// every one after a failure or at shutdown.
    fn take_ready(&mut self) -> Vec<(Completion, Result<()>)> {
        let mut ready = Vec::new();
        while self.has_ready() {
            let Some(front) = self.pending.pop_front() else {
                break;
            };
            let outcome = || match (&self.failed, self.covers(front.position)) {
                (Some(failure), _) => Err(failure.error.duplicate()),
                (None, true) => Ok(()),
                (None, false) => Err(Error::Closed),
            };
            for completion in front.completions {
                ready.push((completion, outcome()));
            }
        }
        ready
    }
}

/// What [`WalSync::begin_sync`] tells its caller to do.
pub(crate) enum SyncStep {
    /// A completed sync covers the target, or a later log replaced its log.
    Covered,
    /// Syncing failed earlier (or the log could not be written): the error to return.
    Failed(Error),
    /// No handle to sync without the log lock: take the log lock and call again.
    NeedsLogLock,
    /// The caller now holds `busy`: sync the log (through `handle` if it was given, else
    /// through the log writer it holds), then call [`WalSync::finish_sync`] with `upto`.
    Sync {
        upto: WalPosition,
        handle: Option<(Arc<dyn FileSync>, PathBuf)>,
    },
}

/// How far the current write-ahead log is synced, the one sync that may run, and the
/// completions waiting for syncs; see the module documentation.
#[derive(Default)]
pub(crate) struct WalSync {
    state: Mutex<SyncState>,
    /// Signalled when `busy` is released while a thread waits on it (`waiters`), or shutdown
    /// begins.
    changed: Condvar,
    /// Where the sync thread waits: signalled when a completion needs a sync and none runs, or
    /// shutdown begins. Apart from `changed` so that the sync and release of every synced
    /// group does not wake the sync thread for nothing (a context switch per commit).
    work: Condvar,
}

impl WalSync {
    /// The sync state of log `log` at `path`, written through `written` and synced through
    /// `synced`.
    pub fn new(
        log: u64,
        path: PathBuf,
        handle: Option<Arc<dyn FileSync>>,
        written: u64,
        synced: u64,
    ) -> Self {
        let sync = WalSync::default();
        sync.switch_log(log, path, handle, written, synced);
        sync
    }

    fn state(&self) -> MutexGuard<'_, SyncState> {
        lock(&self.state)
    }

    fn wait<'a>(&self, mut state: MutexGuard<'a, SyncState>) -> MutexGuard<'a, SyncState> {
        state.waiters += 1;
        let mut state = self
            .changed
            .wait(state)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.waiters -= 1;
        state
    }

    /// Whether a pending completion waits for a sync that has not covered it.
    fn sync_wanted(state: &SyncState) -> bool {
        state
            .pending
            .back()
            .is_some_and(|last| !state.covers(last.position))
    }

    /// The log rotated to `log` (called with the log lock held, after the old log was synced).
    pub fn switch_log(
        &self,
        log: u64,
        path: PathBuf,
        handle: Option<Arc<dyn FileSync>>,
        written: u64,
        synced: u64,
    ) {
        let mut state = self.state();
        debug_assert!(log >= state.log, "log numbers only grow");
        state.log = log;
        state.path = path;
        state.handle = handle;
        state.written = written;
        state.synced = synced;
    }

    /// A commit leader wrote the current log through `offset`.
    pub fn logged(&self, offset: u64) {
        self.state().written = offset;
    }

    /// The end of what has been written to the log: every acknowledged write is before it.
    pub fn written(&self) -> WalPosition {
        self.state().written_position()
    }

    /// How far a completed sync covered log `log` (0 for another log).
    pub fn synced_offset(&self, log: u64) -> u64 {
        let state = self.state();
        if state.log == log { state.synced } else { 0 }
    }

    /// Whether a completed sync covers `target`.
    pub fn covers(&self, target: WalPosition) -> bool {
        self.state().covers(target)
    }

    /// Whether syncing failed (or the log could not be written): nothing syncs any more.
    pub fn has_failed(&self) -> bool {
        self.state().failed.is_some()
    }

    /// Waits until the caller may sync towards `target`, or need not; see [`SyncStep`].
    /// `log_locked`: the caller holds the log lock, and syncs through the log writer.
    pub fn begin_sync(&self, target: WalPosition, log_locked: bool) -> SyncStep {
        let mut state = self.state();
        loop {
            if let Some(failure) = &state.failed {
                return SyncStep::Failed(Error::refused_after(&failure.cause));
            }
            if state.covers(target) {
                // The sync that covered it runs the completions it made ready before it lets
                // go of `busy`: wait for those, so that whoever asked (a `sync_wal`, a
                // rotation) finds the handles up to `target` complete when it returns.
                let ready = state
                    .pending
                    .front()
                    .is_some_and(|front| front.position <= target);
                if !(state.busy && (state.completing || ready)) {
                    return SyncStep::Covered;
                }
            } else if !state.busy {
                let handle = match (&state.handle, log_locked) {
                    (_, true) => None,
                    (Some(handle), false) => Some((Arc::clone(handle), state.path.clone())),
                    (None, false) => return SyncStep::NeedsLogLock,
                };
                state.busy = true;
                return SyncStep::Sync {
                    upto: state.written_position(),
                    handle,
                };
            }
            state = self.wait(state);
        }
    }

    /// Ends the sync [`begin_sync`](Self::begin_sync) started towards `upto`: `failure` is
    /// `None` when it succeeded, else its error and cause. Runs the completions it made ready
    /// (every pending one after a failure) and releases `busy`.
    pub fn finish_sync(&self, upto: WalPosition, failure: Option<(&Error, String)>) -> Vec<Panic> {
        let mut state = self.state();
        debug_assert!(state.busy, "finish_sync without begin_sync");
        match failure {
            None if state.log == upto.log => state.synced = state.synced.max(upto.offset),
            // A rotation replaced the log meanwhile; it synced the old one first.
            None => {}
            Some((error, cause)) => {
                state.failed.get_or_insert(Failure {
                    error: error.duplicate(),
                    cause,
                });
            }
        }
        self.run_ready(state)
    }

    /// Registers the completions of a group whose write ends at `position`, in commit order
    /// (called by the commit leader with the log lock held, after the group is visible). They
    /// run at once when a sync covers them already (the group was synced) or syncing failed.
    pub fn register(&self, position: WalPosition, completions: Vec<Completion>) -> Vec<Panic> {
        if completions.is_empty() {
            return Vec::new();
        }
        let mut state = self.state();
        state.pending.push_back(Pending {
            position,
            completions,
        });
        if state.busy {
            // The holder runs them if its sync covered them, and wakes the sync thread when it
            // lets go.
            return Vec::new();
        }
        if state.has_ready() {
            state.busy = true;
            return self.run_ready(state);
        }
        // Wakes the sync thread.
        self.work.notify_one();
        Vec::new()
    }

    /// The log cannot be trusted any more (a write to it failed, with `cause`): nothing syncs
    /// again, and every pending completion gets `error`.
    pub fn fail(&self, error: &Error, cause: String) -> Vec<Panic> {
        let mut state = self.state();
        state.failed.get_or_insert(Failure {
            error: error.duplicate(),
            cause,
        });
        if !state.busy {
            state.busy = true;
            return self.run_ready(state);
        }
        Vec::new()
    }

    /// For the sync thread: waits until a pending completion needs a sync, and returns the
    /// point to sync to; `None` once the database is closing.
    pub fn next_target(&self) -> Option<WalPosition> {
        let mut state = self.state();
        loop {
            if state.shutting_down {
                return None;
            }
            if !state.busy && state.failed.is_none() && Self::sync_wanted(&state) {
                return Some(state.written_position());
            }
            state = self
                .work
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// The database is closing (after its last sync): the sync thread stops, and a completion
    /// still pending (only after a failure) fails.
    pub fn shut_down(&self) -> Vec<Panic> {
        let mut state = self.state();
        state.shutting_down = true;
        self.changed.notify_all();
        self.work.notify_all();
        loop {
            if !state.busy {
                state.busy = true;
                return self.run_ready(state);
            }
            state = self.wait(state);
        }
    }

    /// Runs every completion that is ready, one at a time and in order, then releases `busy`
    /// (which the caller holds). Returns the panics of callbacks.
    fn run_ready<'a>(&'a self, mut state: MutexGuard<'a, SyncState>) -> Vec<Panic> {
        let mut panics = Vec::new();
        loop {
            let ready = state.take_ready();
            state.completing = !ready.is_empty();
            if ready.is_empty() {
                state.busy = false;
                if state.waiters > 0 {
                    self.changed.notify_all();
                }
                if Self::sync_wanted(&state) {
                    self.work.notify_one();
                }
                return panics;
            }
            drop(state);
            for (completion, result) in ready {
                panics.extend(completion.complete(result));
            }
            state = self.state();
        }
    }
}

impl Drop for WalSync {
    /// A completion left when the engine goes away (it never is: `close` completes them all)
    /// learns that its write was not made durable.
    fn drop(&mut self) {
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for pending in state.pending.drain(..) {
            for completion in pending.completions {
                let _ = completion.complete(Err(Error::Closed));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn at(log: u64, offset: u64) -> WalPosition {
        WalPosition { log, offset }
    }

    fn ticket() -> (DurableTicket, Vec<Completion>) {
        let (ticket, completion) = DurableTicket::new();
        (ticket, vec![completion])
    }

    /// A sync state of log 1, written and synced through 10.
    fn sync_state() -> WalSync {
        WalSync::new(1, PathBuf::from("000001.wal"), None, 10, 10)
    }

    fn sync_through(sync: &WalSync, target: WalPosition) -> Vec<Panic> {
        match sync.begin_sync(target, true) {
            SyncStep::Sync { upto, .. } => sync.finish_sync(upto, None),
            _ => panic!("expected to sync"),
        }
    }

    #[test]
    fn a_completion_runs_only_when_a_sync_covers_it() {
        let sync = sync_state();
        sync.logged(20);
        let (first, completions) = ticket();
        sync.register(at(1, 20), completions);
        assert!(!first.is_done());
        sync.logged(30);
        let (second, completions) = ticket();
        sync.register(at(1, 30), completions);
        // A sync that began when the log ended at 20 would cover the first only.
        let SyncStep::Sync { .. } = sync.begin_sync(at(1, 20), true) else {
            panic!("expected to sync");
        };
        sync.finish_sync(at(1, 20), None);
        assert!(first.is_durable());
        assert!(!second.is_done());
        assert!(matches!(
            sync.begin_sync(at(1, 20), true),
            SyncStep::Covered
        ));
        sync_through(&sync, at(1, 30));
        assert!(second.is_durable());
    }

    #[test]
    fn a_rotated_log_counts_as_synced() {
        let sync = sync_state();
        sync.logged(40);
        sync.switch_log(2, PathBuf::from("000002.wal"), None, 8, 8);
        assert!(sync.covers(at(1, 40)));
        assert!(!sync.covers(at(2, 9)));
        let (ticket, completions) = ticket();
        sync.register(at(1, 40), completions);
        assert!(ticket.is_durable(), "an old log's write completes at once");
    }

    #[test]
    fn a_failure_fails_every_pending_and_later_completion_and_refuses_syncs() {
        let sync = sync_state();
        sync.logged(20);
        let (pending, completions) = ticket();
        sync.register(at(1, 20), completions);
        let SyncStep::Sync { upto, .. } = sync.begin_sync(at(1, 20), true) else {
            panic!("expected to sync");
        };
        let error = Error::Io {
            path: None,
            source: std::io::Error::other("injected"),
        };
        sync.finish_sync(upto, Some((&error, "syncing failed".into())));
        assert!(matches!(pending.wait(), Err(Error::Io { .. })));
        let (later, completions) = ticket();
        sync.register(at(1, 20), completions);
        assert!(matches!(later.wait(), Err(Error::Io { .. })));
        match sync.begin_sync(at(1, 20), true) {
            SyncStep::Failed(Error::ReadOnly(cause)) => assert!(cause.contains("syncing failed")),
            _ => panic!("a sync after a failure must be refused"),
        }
    }

    #[test]
    fn callbacks_run_once_in_commit_order_and_their_panics_are_returned() {
        let sync = sync_state();
        let calls = Arc::new(Mutex::new(Vec::new()));
        for index in 0..5u64 {
            sync.logged(20 + index);
            let calls = Arc::clone(&calls);
            let callback = Completion::Callback(Box::new(move |result: Result<()>| {
                assert!(result.is_ok());
                lock(&calls).push(index);
                if index == 3 {
                    panic!("injected callback panic");
                }
            }));
            sync.register(at(1, 20 + index), vec![callback]);
        }
        let panics = sync_through(&sync, at(1, 24));
        assert_eq!(panics.len(), 1);
        assert_eq!(*lock(&calls), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_sync_waits_for_the_one_running_and_needs_none_if_that_covered_its_point() {
        let sync = Arc::new(sync_state());
        sync.logged(50);
        let SyncStep::Sync { upto, .. } = sync.begin_sync(at(1, 50), true) else {
            panic!("expected to sync");
        };
        let steps = Arc::new(AtomicU64::new(0));
        let waiter = {
            let (sync, steps) = (Arc::clone(&sync), Arc::clone(&steps));
            std::thread::spawn(move || {
                let covered = matches!(sync.begin_sync(at(1, 40), false), SyncStep::Covered);
                steps.fetch_add(1, Ordering::SeqCst);
                covered
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            steps.load(Ordering::SeqCst),
            0,
            "it waits for the running sync"
        );
        sync.finish_sync(upto, None);
        assert!(waiter.join().unwrap(), "the running sync covered its point");
    }

    /// A caller whose point a completed sync covered returns only once the completions that
    /// sync made ready have run, so that the handles it covered are complete.
    #[test]
    fn a_covered_sync_waits_for_the_completions_still_running() {
        let sync = Arc::new(sync_state());
        sync.logged(20);
        let (release, released) = std::sync::mpsc::channel::<()>();
        let callback = Completion::Callback(Box::new(move |_| {
            released.recv().unwrap();
        }));
        sync.register(at(1, 20), vec![callback]);
        let (ticket, completions) = ticket();
        sync.register(at(1, 20), completions);
        let syncer = {
            let sync = Arc::clone(&sync);
            std::thread::spawn(move || sync_through(&sync, at(1, 20)))
        };
        // The syncer is blocked in the callback, the ticket after it not yet complete.
        while !sync.covers(at(1, 20)) {
            std::thread::yield_now();
        }
        let asker = {
            let sync = Arc::clone(&sync);
            std::thread::spawn(move || {
                matches!(sync.begin_sync(at(1, 20), false), SyncStep::Covered)
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!asker.is_finished(), "it returned while completions ran");
        release.send(()).unwrap();
        assert!(asker.join().unwrap());
        assert!(ticket.is_durable());
        assert!(syncer.join().unwrap().is_empty());
    }

    #[test]
    fn shutting_down_fails_what_no_sync_covered() {
        let sync = sync_state();
        sync.logged(20);
        let (ticket, completions) = ticket();
        sync.register(at(1, 20), completions);
        sync.shut_down();
        assert!(matches!(ticket.wait(), Err(Error::Closed)));
        assert_eq!(sync.next_target(), None);
    }
}
