//! The compaction threads, and the manual entry points `compact_range` and
//! `wait_for_compaction`.
//!
//! `Options::background_threads` threads each loop: pick a compaction under the state lock,
//! mark its files busy (so another thread picks disjoint files and key ranges), run it without
//! the lock, then unmark the files and wake everyone waiting on `state_changed`. Flushes run on
//! their own thread and never wait behind a compaction. A failed compaction is retried with
//! exponential backoff a few times; after that the database turns read-only, with the cause in
//! every write's error and in `stats()`. A compaction that failed because the disk is full is
//! retried until space returns (backoff capped at `RETRY_DELAY_MAX`, counted in
//! `stats().storage_full_retries`); its partial outputs are removed before each retry.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::compaction::job::{self, Tree};
use crate::compaction::picker::{
    Compaction, LAST_LEVEL, Levels, in_bounds, pick_compaction, pick_range,
};
use crate::engine::{Engine, EngineState, RETRY_DELAY_MAX, lock};
use crate::error::{Error, Result};
use crate::key::{FileNumber, KeyspaceId};
use crate::stats::CompactionReport;
use crate::version::Version;

/// Attempts per compaction before the database gives up and turns read-only.
const COMPACTION_ATTEMPTS: u32 = 4;
/// Wait before the first retry; doubled before each later one.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Starts the compaction threads of `engine`.
pub(crate) fn start(engine: &Arc<Engine>) -> Result<()> {
    for index in 0..engine.options.background_threads {
        let worker = Arc::clone(engine);
        let handle = std::thread::Builder::new()
            .name(format!("shaledb-compact-{index}"))
            .spawn(move || worker.catch_panic("a compaction thread", || compaction_loop(&worker)))
            .map_err(|error| Error::io(&engine.dir, error))?;
        engine.workers.add_compactor(handle);
    }
    Ok(())
}

/// A picked compaction with what it was picked from.
struct Picked {
    compaction: Compaction,
    tree: Tree,
    levels: Levels,
    version: Arc<Version>,
}

fn mark_busy(state: &mut EngineState, compaction: &Compaction) {
    state.compacting.extend(compaction.input_numbers());
    state.running_compactions += 1;
}

/// The tree of live keyspace `keyspace`.
fn tree(state: &EngineState, keyspace: KeyspaceId) -> Option<Tree> {
    let entry = state.keyspaces.get(&keyspace)?;
    Some(Tree {
        keyspace,
        picker: entry.picker_options(),
        table: entry.options.table.clone(),
        merge_operator: entry.options.merge_operator.clone(),
        compaction_filter: entry.options.compaction_filter.clone(),
        expiring: entry.options.time_to_live.is_some(),
    })
}

/// The files of `keyspace`'s levels, as the manifest records them.
fn levels_of(state: &EngineState, keyspace: KeyspaceId) -> &Levels {
    &state.versions.manifest_state().keyspace(keyspace).levels
}

/// The most urgent compaction due in `keyspace`, if its files are free.
fn pick_in(state: &EngineState, tree: &Tree) -> Option<Compaction> {
    let entry = state.keyspaces.get(&tree.keyspace)?;
    let levels = levels_of(state, tree.keyspace);
    pick_compaction(levels, &state.compacting, &entry.cursors, &tree.picker)
}

/// Picks the most urgent compaction of any keyspace, if any is due and its files are free.
fn pick_next(state: &mut EngineState) -> Option<Picked> {
    let keyspaces: Vec<KeyspaceId> = state.keyspaces.keys().copied().collect();
    let (tree, compaction) = keyspaces
        .into_iter()
        .filter_map(|keyspace| {
            let tree = tree(state, keyspace)?;
            let compaction = pick_in(state, &tree)?;
            Some((tree, compaction))
        })
        .max_by(|(_, a), (_, b)| a.score.total_cmp(&b.score))?;
    mark_busy(state, &compaction);
    let levels = levels_of(state, tree.keyspace).clone();
    let version = Arc::clone(state.versions.current(tree.keyspace)?);
    Some(Picked {
        compaction,
        tree,
        levels,
        version,
    })
}

fn compaction_loop(engine: &Engine) {
    loop {
        let picked = {
            let mut state = lock(&engine.state);
            loop {
                if state.shutting_down {
                    return;
                }
                if state.background_error.is_none()
                    && let Some(picked) = pick_next(&mut state)
                {
                    break picked;
                }
                state = engine
                    .state_changed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        let keyspace = picked.tree.keyspace;
        let (compaction, result) = run_picked(engine, picked);
        finish(engine, keyspace, &compaction, result);
    }
}

/// Runs a picked compaction, then lets go of the version it read before returning, so that
/// when `finish` reports the compaction done, no reference of ours keeps its input files.
fn run_picked(engine: &Engine, picked: Picked) -> (Compaction, Result<CompactionReport>) {
    let result = run_with_retries(engine, &picked);
    (picked.compaction, result)
}

fn run_with_retries(engine: &Engine, picked: &Picked) -> Result<CompactionReport> {
    let mut delay = FIRST_RETRY_DELAY;
    let mut attempt = 1;
    loop {
        match job::run(
            engine,
            &picked.compaction,
            &picked.levels,
            &picked.version,
            &picked.tree,
        ) {
            Ok(report) => return Ok(report),
            Err(Error::Closed) => return Err(Error::Closed),
            Err(error) if error.is_storage_full() => {
                engine
                    .stats
                    .storage_full_retries
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(error) if attempt >= COMPACTION_ATTEMPTS => return Err(error),
            Err(_) => attempt += 1,
        }
        if !engine.wait_before_retry(delay) {
            return Err(Error::Closed);
        }
        delay = (delay * 2).min(RETRY_DELAY_MAX);
    }
}

/// Unmarks the compaction's files, records its outcome, and wakes every waiter.
fn finish(
    engine: &Engine,
    keyspace: KeyspaceId,
    compaction: &Compaction,
    result: Result<CompactionReport>,
) {
    let mut state = lock(&engine.state);
    for number in compaction.input_numbers() {
        state.compacting.remove(&number);
    }
    state.running_compactions -= 1;
    match result {
        Ok(report) => {
            if let Some(cursor) = &compaction.cursor
                && let Some(entry) = state.keyspaces.get_mut(&keyspace)
            {
                entry.cursors[compaction.level] = Some(cursor.clone());
            }
            engine.stats.record_compaction(&report);
        }
        Err(Error::Closed) => {}
        Err(error) => {
            let cause = format!("compaction failed {COMPACTION_ATTEMPTS} times: {error}");
            engine.poison(cause.clone());
            state.background_error = Some(cause);
        }
    }
    engine.state_changed.notify_all();
}

/// Compacts every file overlapping the user-key range `lower..upper`, level by level, down to
/// the last level, then rewrites the last level's files in the range that may hold versions or
/// tombstones no reader needs any more; returns when done. Runs on the caller's thread beside
/// the background compactions, waiting for files they hold.
pub(crate) fn compact_range(
    engine: &Engine,
    keyspace: KeyspaceId,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
) -> Result<()> {
    let Some(tree) = tree(&lock(&engine.state), keyspace) else {
        return Err(dropped(keyspace));
    };
    let options = &tree.picker;
    let start = lower.as_ref().map(Vec::as_slice);
    let end = upper.as_ref().map(Vec::as_slice);
    for level in 0..LAST_LEVEL {
        run_manual(
            engine,
            &tree,
            |levels, busy| pick_range(level, start, end, levels, busy, options),
            |levels| levels[level].iter().any(|file| in_bounds(file, start, end)),
        )?;
    }
    // The last level is never the source of a background compaction (it has no size bound),
    // so versions that a dropped snapshot kept, and tombstones that reached it under a
    // snapshot, go only here. One file at a time: its outputs stay inside its own key range, so
    // a concurrent compaction into the last level cannot overlap them.
    // A compaction filter or an expiry may change any entry: every file goes through them.
    let every_file = tree.compaction_filter.is_some() || tree.expiring;
    for number in reclaimable_last_level_files(engine, keyspace, start, end, every_file) {
        run_manual(
            engine,
            &tree,
            |levels, busy| rewrite_in_place(LAST_LEVEL, number, levels, busy),
            |levels| levels[LAST_LEVEL].iter().any(|file| file.number == number),
        )?;
    }
    Ok(())
}

/// Files of the last level in the range whose properties show more entries than keys, or
/// tombstones: rewriting them can drop something (`every_file`: all of them).
fn reclaimable_last_level_files(
    engine: &Engine,
    keyspace: KeyspaceId,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    every_file: bool,
) -> Vec<FileNumber> {
    let state = lock(&engine.state);
    let Some(version) = state.versions.current(keyspace) else {
        return Vec::new();
    };
    version.levels[LAST_LEVEL]
        .iter()
        .filter(|handle| in_bounds(&handle.metadata, start, end))
        .filter(|handle| {
            let properties = handle.table.properties();
            every_file
                || properties.entry_count > properties.user_key_count
                || properties.tombstone_count > 0
                || properties.range_deletion_count > 0
        })
        .map(|handle| handle.metadata.number)
        .collect()
}

/// A compaction of file `number` of `level` into the same level (a rewrite), unless it is
/// busy or gone.
fn rewrite_in_place(
    level: usize,
    number: FileNumber,
    levels: &Levels,
    busy: &HashSet<FileNumber>,
) -> Option<Compaction> {
    if busy.contains(&number) {
        return None;
    }
    let file = levels[level].iter().find(|file| file.number == number)?;
    Some(Compaction {
        level,
        output_level: level,
        inputs: vec![file.clone()],
        next_inputs: Vec::new(),
        grandparents: Vec::new(),
        trivial_move: false,
        cursor: None,
        score: 0.0,
    })
}

/// Runs one manual compaction chosen by `pick`, waiting while `pick` finds nothing because
/// background compactions hold the files and `wanted` says there is work in the range.
fn run_manual(
    engine: &Engine,
    tree: &Tree,
    pick: impl Fn(&Levels, &HashSet<FileNumber>) -> Option<Compaction>,
    wanted: impl Fn(&Levels) -> bool,
) -> Result<()> {
    let picked = {
        let mut state = lock(&engine.state);
        loop {
            engine.check_open()?;
            if let Some(cause) = &state.background_error {
                return Err(Error::refused_after(cause));
            }
            let Some(version) = state.versions.current(tree.keyspace).cloned() else {
                return Err(dropped(tree.keyspace));
            };
            let levels = levels_of(&state, tree.keyspace).clone();
            match pick(&levels, &state.compacting) {
                Some(compaction) => {
                    mark_busy(&mut state, &compaction);
                    break Picked {
                        compaction,
                        tree: tree.clone(),
                        levels,
                        version,
                    };
                }
                None if wanted(&levels) && state.running_compactions > 0 => {
                    state = engine
                        .state_changed
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                None => return Ok(()),
            }
        }
    };
    // On the caller's thread: a panic must not leave the compaction's files marked busy and
    // the database writable with an unknown outcome.
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_picked(engine, picked)));
    let result = match ran {
        Ok(result) => result,
        Err(payload) => return Err(engine.record_panic("a manual compaction", &*payload)),
    };
    let outcome = match &result.1 {
        Ok(_) => Ok(()),
        Err(error) => Err(error.duplicate()),
    };
    finish(engine, tree.keyspace, &result.0, result.1);
    outcome
}

/// The error of an operation on a keyspace dropped meanwhile.
fn dropped(keyspace: KeyspaceId) -> Error {
    Error::InvalidArgument(format!("keyspace {keyspace} was dropped"))
}

/// Waits until no flush or compaction is pending or running.
pub(crate) fn wait_for_compaction(engine: &Engine) -> Result<()> {
    let mut state = lock(&engine.state);
    loop {
        engine.check_open()?;
        if let Some(cause) = &state.background_error {
            return Err(Error::refused_after(cause));
        }
        let due = state.keyspaces.keys().any(|&keyspace| {
            tree(&state, keyspace).is_some_and(|tree| pick_in(&state, &tree).is_some())
        });
        if !due && state.running_compactions == 0 && state.immutables.is_empty() {
            return Ok(());
        }
        state = engine
            .state_changed
            .wait_timeout(state, Duration::from_millis(100))
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
}
