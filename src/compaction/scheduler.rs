//! The compaction threads, and the manual entry points `compact_range` and
//! `wait_for_compaction`.
//!
//! `Options::background_threads` threads each loop: pick a compaction under the state lock,
//! mark its files busy (so another thread picks disjoint files and key ranges), run it without
//! the lock, then unmark the files and wake everyone waiting on `state_changed`. Flushes run on
//! their own thread and never wait behind a compaction. A failed compaction is retried with
//! exponential backoff a few times; after that the database turns read-only, with the cause in
//! every write's error and in `stats()`.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::compaction::job::{self, CompactionReport};
use crate::compaction::picker::{
    Compaction, Levels, PickerOptions, in_bounds, pick_compaction, pick_range,
};
use crate::db::{DbInner, EngineState, lock};
use crate::error::{Error, Result};
use crate::manifest::NUM_LEVELS;
use crate::version::Version;

/// Attempts per compaction before the database gives up and turns read-only.
const COMPACTION_ATTEMPTS: u32 = 4;
/// Wait before the first retry; doubled before each later one.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Starts the compaction threads of `inner`.
pub(crate) fn start(inner: &Arc<DbInner>) -> Result<()> {
    for index in 0..inner.options.background_threads {
        let worker = Arc::clone(inner);
        let handle = std::thread::Builder::new()
            .name(format!("shaledb-compact-{index}"))
            .spawn(move || compaction_loop(&worker))
            .map_err(|error| Error::io(&inner.dir, error))?;
        lock(&inner.background_threads).push(handle);
    }
    Ok(())
}

/// A picked compaction with what it was picked from.
struct Picked {
    compaction: Compaction,
    levels: Levels,
    version: Arc<Version>,
}

fn mark_busy(state: &mut EngineState, compaction: &Compaction) {
    state.compacting.extend(compaction.input_numbers());
    state.running_compactions += 1;
}

/// Picks the most urgent compaction, if any is due and its files are free.
fn pick_next(state: &mut EngineState, options: &PickerOptions) -> Option<Picked> {
    let levels = state.manifest.state().levels.clone();
    let compaction = pick_compaction(&levels, &state.compacting, &state.cursors, options)?;
    mark_busy(state, &compaction);
    Some(Picked {
        compaction,
        levels,
        version: Arc::clone(&state.version),
    })
}

fn compaction_loop(inner: &DbInner) {
    let options = inner.picker_options();
    loop {
        let picked = {
            let mut state = lock(&inner.state);
            loop {
                if state.shutting_down {
                    return;
                }
                if state.background_error.is_none()
                    && let Some(picked) = pick_next(&mut state, &options)
                {
                    break picked;
                }
                state = inner
                    .state_changed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        let result = run_with_retries(inner, &picked, &options);
        finish(inner, &picked.compaction, result);
    }
}

fn run_with_retries(
    inner: &DbInner,
    picked: &Picked,
    options: &PickerOptions,
) -> Result<CompactionReport> {
    let mut delay = FIRST_RETRY_DELAY;
    let mut attempt = 1;
    loop {
        match job::run(
            inner,
            &picked.compaction,
            &picked.levels,
            &picked.version,
            options,
        ) {
            Ok(report) => return Ok(report),
            Err(Error::Closed) => return Err(Error::Closed),
            Err(error) if attempt >= COMPACTION_ATTEMPTS => return Err(error),
            Err(_) => {
                std::thread::sleep(delay);
                delay *= 2;
                attempt += 1;
                if inner.closed.load(Ordering::Acquire) {
                    return Err(Error::Closed);
                }
            }
        }
    }
}

/// Unmarks the compaction's files, records its outcome, and wakes every waiter.
fn finish(inner: &DbInner, compaction: &Compaction, result: Result<CompactionReport>) {
    let mut state = lock(&inner.state);
    for number in compaction.input_numbers() {
        state.compacting.remove(&number);
    }
    state.running_compactions -= 1;
    match result {
        Ok(report) => {
            if let Some(cursor) = &compaction.cursor {
                state.cursors[compaction.level] = Some(cursor.clone());
            }
            inner.stats.record_compaction(&report);
        }
        Err(Error::Closed) => {}
        Err(error) => {
            let cause = format!("compaction failed {COMPACTION_ATTEMPTS} times: {error}");
            inner.poison(cause.clone());
            state.background_error = Some(cause);
        }
    }
    inner.state_changed.notify_all();
}

/// Compacts every file overlapping the user-key range `lower..upper`, level by level, down to
/// the last level, and returns when done. Runs on the caller's thread beside the background
/// compactions, waiting for files they hold.
pub(crate) fn compact_range(
    inner: &DbInner,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
) -> Result<()> {
    let options = inner.picker_options();
    for level in 0..NUM_LEVELS - 1 {
        let picked = {
            let mut state = lock(&inner.state);
            loop {
                inner.check_open()?;
                if let Some(cause) = &state.background_error {
                    return Err(Error::ReadOnly(cause.clone()));
                }
                let levels = state.manifest.state().levels.clone();
                let start = lower.as_ref().map(Vec::as_slice);
                let end = upper.as_ref().map(Vec::as_slice);
                let in_range = levels[level].iter().any(|file| in_bounds(file, start, end));
                match pick_range(level, start, end, &levels, &state.compacting, &options) {
                    Some(compaction) => {
                        mark_busy(&mut state, &compaction);
                        break Some(Picked {
                            compaction,
                            levels,
                            version: Arc::clone(&state.version),
                        });
                    }
                    // Files in the range exist but a background compaction holds some of them
                    // (or the files below them): wait for it.
                    None if in_range && state.running_compactions > 0 => {
                        state = inner
                            .state_changed
                            .wait(state)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                    None => break None,
                }
            }
        };
        if let Some(picked) = picked {
            let result = run_with_retries(inner, &picked, &options);
            let outcome = match &result {
                Ok(_) => Ok(()),
                Err(error) => Err(error.duplicate()),
            };
            finish(inner, &picked.compaction, result);
            outcome?;
        }
    }
    Ok(())
}

/// Waits until no flush or compaction is pending or running.
pub(crate) fn wait_for_compaction(inner: &DbInner) -> Result<()> {
    let options = inner.picker_options();
    let mut state = lock(&inner.state);
    loop {
        inner.check_open()?;
        if let Some(cause) = &state.background_error {
            return Err(Error::ReadOnly(cause.clone()));
        }
        let levels = &state.manifest.state().levels;
        let due = pick_compaction(levels, &state.compacting, &state.cursors, &options).is_some();
        if !due && state.running_compactions == 0 && state.immutables.is_empty() {
            return Ok(());
        }
        state = inner
            .state_changed
            .wait_timeout(state, Duration::from_millis(100))
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
}
