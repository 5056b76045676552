//! Syncing the write-ahead log: [`Engine::sync_wal_through`], which every sync of the current
//! log goes through (a synced group, a rotation, close, `Db::sync_wal`, the sync thread), and
//! the `shaledb-sync` thread, which syncs whenever a write made with `Db::write_durable` waits
//! for a sync. `durability.rs` decides who syncs when (one sync at a time, none for a point
//! already covered, none after a failure); this file runs the syncs and turns their failures
//! and panics into the engine's poisoning.
//!
//! Why a thread of its own: a durable-handle write returns before any fsync, so something must
//! sync when no synced write, `sync_wal`, rotation or close comes along. The thread syncs as
//! soon as a write waits and no sync runs; writes that arrive while it syncs wait for the next
//! one, so a sync covers every write made during the one before — the group commit of fsyncs.
//! It syncs through the file's sync handle, without the log lock, so commits go on meanwhile.

use std::sync::Arc;
use std::time::Instant;

use crate::durability::{Panic, SyncStep, WalPosition};
use crate::engine::{Engine, WalState, lock};
use crate::error::{Error, Result};

impl Engine {
    /// Makes the current log durable through at least `target`, sharing a sync where one can
    /// (see `durability.rs`). `wal` is the log state when the caller holds the log lock, which
    /// it must not while it holds `state`. A failure poisons the database; a sync is never
    /// retried after one.
    pub(crate) fn sync_wal_through(
        &self,
        target: WalPosition,
        wal: Option<&mut WalState>,
    ) -> Result<()> {
        match self.durability.begin_sync(target, wal.is_some()) {
            SyncStep::Covered => Ok(()),
            SyncStep::Failed(error) => Err(error),
            SyncStep::NeedsLogLock => {
                let mut wal = lock(&self.wal);
                match wal.as_mut() {
                    Some(wal) => self.sync_wal_through(target, Some(wal)),
                    None => Err(Error::opened_read_only()),
                }
            }
            SyncStep::Sync { upto, handle } => {
                let started = Instant::now();
                let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    match (wal, handle) {
                        (Some(wal), _) => wal.writer.sync(),
                        (None, Some((handle, path))) => {
                            handle.sync_data().map_err(|error| Error::io(&path, error))
                        }
                        // `begin_sync` hands a handle to every caller without the log lock.
                        (None, None) => Err(Error::ReadOnly(
                            "a log sync had neither the log nor a sync handle (a bug)".into(),
                        )),
                    }
                }));
                self.stats.fsync_latency.record_duration(started.elapsed());
                let synced = attempt.unwrap_or_else(|payload| {
                    Err(self.record_panic("a write-ahead log sync", &*payload))
                });
                let failure = synced.as_ref().err().map(|error| {
                    let cause = format!("syncing the write-ahead log failed: {error}");
                    self.poison(cause.clone());
                    (error, cause)
                });
                let panics = self.durability.finish_sync(upto, failure);
                self.record_callback_panics(panics);
                synced
            }
        }
    }

    /// Makes everything written to the current log durable; the caller holds the log lock.
    pub(crate) fn sync_current_wal(&self, wal: &mut WalState) -> Result<()> {
        self.sync_wal_through(self.durability.written(), Some(wal))
    }

    /// Records the first panic of a `Db::write_durable_then` callback, as a panic of the
    /// engine: the database refuses writes from then on.
    pub(crate) fn record_callback_panics(&self, panics: Vec<Panic>) {
        if let Some(payload) = panics.into_iter().next() {
            self.record_panic("a write_durable_then callback", &*payload);
        }
    }
}

/// Starts the `shaledb-sync` thread (see the module documentation).
pub(crate) fn start_syncer(engine: &Arc<Engine>) -> Result<()> {
    let worker = Arc::clone(engine);
    let handle = std::thread::Builder::new()
        .name("shaledb-sync".into())
        .spawn(move || worker.catch_panic("the sync thread", || sync_loop(&worker)))
        .map_err(|error| Error::io(&engine.dir, error))?;
    engine.workers.set_syncer(handle);
    Ok(())
}

/// Syncs whenever a write waits for a sync, until the database closes.
fn sync_loop(engine: &Engine) {
    while let Some(target) = engine.durability.next_target() {
        // A failure poisons the database and fails the waiting writes; a later `next_target`
        // waits for the close.
        let _ = engine.sync_wal_through(target, None);
    }
}
