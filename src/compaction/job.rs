//! One compaction: merge the input tables into new tables of the output level, keeping every
//! version a reader can still see and dropping the rest, then install the result in one
//! manifest edit.
//!
//! What is kept: of the versions of each key, the newest in each snapshot stripe (see
//! `stripes.rs`: exactly the versions some reader can see). A tombstone is dropped when it is the
//! newest version in the oldest stripe (no snapshot can see past it) and no level below the
//! output can hold an older version of its key. Iterators and point reads
//! need no stripes: they pin the version they read, whose input files stay on disk until they
//! let go.
//!
//! Range tombstones: those of every input are fragmented together. An entry that one of them
//! hides from every reader (the oldest tombstone above it is in its stripe) is dropped; of the
//! tombstones, the newest per stripe is kept, and one in the oldest stripe is dropped when no
//! level below the output may hold a key it covers. The rest go to the outputs, each cut to the
//! part of the key space its output holds (`[first key, next output's first key)`), so that
//! outputs never overlap and every tombstone stays over the files below it. A file holding range
//! tombstones is rewritten, not moved, into the last level: there they can go.
//!
//! Durability order: every output is fsynced and the directory synced before the manifest edit
//! that adds the outputs and removes the inputs is appended (and fsynced); the inputs' files are
//! deleted only after that, when the last version holding them is dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::compaction::picker::{
    Compaction, LAST_LEVEL, Levels, PickerOptions, max_grandparent_overlap_bytes,
};
use crate::compaction::stripes::{
    SnapshotStripes, hidden_by_range_tombstone, prune_range_tombstones,
};
use crate::compaction_filter::{FilterDecision, SharedCompactionFilter};
use crate::engine::{Engine, lock};
use crate::error::{Error, Result};
use crate::fs::{sync_dir, table_path};
use crate::iterator::{InternalIterator, LevelIterator, TableSource};
use crate::key::{FileNumber, KeyspaceId, ValueKind, parse_internal_key, user_key};
use crate::key::{SequenceNumber, internal_key};
use crate::manifest::{FileMetadata, VersionEdit};
use crate::merge_operator::SharedMergeOperator;
use crate::merging_iterator::MergingIterator;
use crate::range_tombstone::Fragments;
use crate::sstable::{BlockReadOptions, TableBuilder, TableOptions};
use crate::stats::CompactionReport;
use crate::version::{TableHandle, Version, open_table_handle};

/// Compactions read every block once: verify it, but do not push the working set out of the
/// block cache.
const COMPACTION_READS: BlockReadOptions = BlockReadOptions {
    verify_checksums: true,
    fill_cache: false,
};

/// How many entries a compaction merges between checks for shutdown.
const SHUTDOWN_CHECK_INTERVAL: u64 = 4096;

/// The tree a compaction works on: its keyspace and how the keyspace sizes and lays out tables.
#[derive(Clone)]
pub(crate) struct Tree {
    pub keyspace: KeyspaceId,
    pub picker: PickerOptions,
    pub table: TableOptions,
    /// How the keyspace combines merge operands (`None`: operands are kept as they are).
    pub merge_operator: Option<SharedMergeOperator>,
    /// The keyspace's compaction filter.
    pub compaction_filter: Option<SharedCompactionFilter>,
    /// Whether the keyspace's values carry an expiry (FORMAT.md 7.3): expired ones are dropped.
    pub expiring: bool,
}

/// Runs `compaction`, picked from `levels` (the manifest's files of `tree` when it was picked)
/// against `version` (which holds the input tables open), and installs its result.
pub(crate) fn run(
    engine: &Engine,
    compaction: &Compaction,
    levels: &Levels,
    version: &Version,
    tree: &Tree,
) -> Result<CompactionReport> {
    #[cfg(test)]
    engine.compaction_started.call();
    if compaction.trivial_move && !drops_range_tombstones(compaction, version) {
        return move_trivially(engine, compaction, version, tree.keyspace);
    }
    let started = std::time::Instant::now();
    let merged = merge(engine, compaction, levels, version, tree)?;
    #[cfg(test)]
    engine.compaction_merged.call();
    let outputs = merged.outputs;
    let bytes_written = outputs.iter().map(|handle| handle.metadata.file_size).sum();
    if merged.filter_changed {
        // Only if no snapshot was taken since the merge read the live ones: it could have read
        // the entries the filter changed.
        let installed = engine
            .snapshots
            .unless_taken_since(merged.snapshots_taken, || {
                install(engine, compaction, outputs.clone(), tree.keyspace)
            });
        match installed {
            Some(result) => result?,
            None => {
                outputs.iter().for_each(|handle| handle.mark_obsolete());
                engine
                    .stats
                    .filtered_compactions_discarded
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    } else {
        install(engine, compaction, outputs, tree.keyspace)?;
    }
    Ok(CompactionReport {
        bytes_read: compaction.input_bytes(),
        bytes_written,
        trivial_move: false,
        elapsed: started.elapsed(),
    })
}

/// Whether a trivial move into the last level would carry range tombstones there: nothing
/// older lies below the last level, so rewriting the file instead drops them (snapshots
/// permitting), where a move would keep them for good (no compaction reads the last level).
fn drops_range_tombstones(compaction: &Compaction, version: &Version) -> bool {
    compaction.output_level == LAST_LEVEL
        && compaction.inputs.iter().any(|file| {
            version
                .find(file.number)
                .is_some_and(|handle| !handle.table.range_tombstones().is_empty())
        })
}

fn find_handles(version: &Version, files: &[FileMetadata]) -> Result<Vec<Arc<TableHandle>>> {
    files
        .iter()
        .map(|file| {
            version.find(file.number).cloned().ok_or_else(|| {
                Error::InvalidArgument(format!("compaction input {} is not live", file.number))
            })
        })
        .collect()
}

/// Moves the single input to the output level by a manifest edit alone.
fn move_trivially(
    engine: &Engine,
    compaction: &Compaction,
    version: &Version,
    keyspace: KeyspaceId,
) -> Result<CompactionReport> {
    let handles = find_handles(version, &compaction.inputs)?;
    let mut edit = VersionEdit::new();
    edit.keyspace = keyspace;
    for handle in &handles {
        edit.delete_file(compaction.level, handle.metadata.number);
        edit.add_file(compaction.output_level, handle.metadata.clone());
    }
    engine.install_edit(edit, handles)?;
    Ok(CompactionReport {
        trivial_move: true,
        ..CompactionReport::default()
    })
}

/// The merge sources: each level-0 input on its own (they overlap), a level iterator for the
/// sorted inputs of a deeper level, and one for the output level's inputs.
fn sources(compaction: &Compaction, version: &Version) -> Result<Vec<Box<dyn InternalIterator>>> {
    let inputs = find_handles(version, &compaction.inputs)?;
    let next_inputs = find_handles(version, &compaction.next_inputs)?;
    let mut sources: Vec<Box<dyn InternalIterator>> = Vec::new();
    if compaction.level == 0 {
        for handle in &inputs {
            sources.push(Box::new(TableSource::new(
                handle.table.iter_with(COMPACTION_READS),
            )));
        }
    } else {
        sources.push(Box::new(LevelIterator::new(inputs, COMPACTION_READS)));
    }
    if !next_inputs.is_empty() {
        sources.push(Box::new(LevelIterator::new(next_inputs, COMPACTION_READS)));
    }
    Ok(sources)
}

/// What [`merge`] wrote.
struct Merged {
    /// New, durable tables of the output level (not yet live).
    outputs: Vec<Arc<TableHandle>>,
    /// Whether the compaction filter removed or changed an entry.
    filter_changed: bool,
    /// How many snapshots had been taken when the merge read the live ones.
    snapshots_taken: u64,
}

/// Merges the inputs into new, durable tables of the output level (not yet live).
fn merge(
    engine: &Engine,
    compaction: &Compaction,
    levels: &Levels,
    version: &Version,
    tree: &Tree,
) -> Result<Merged> {
    let mut merge = MergingIterator::new(sources(compaction, version)?);
    let (snapshots, snapshots_taken) = engine.snapshots.pinned_and_taken();
    let filter_changed = std::cell::Cell::new(false);
    let tombstones = input_range_tombstones(compaction, version)?;
    let mut kept_tombstones = tombstones.clone();
    prune_range_tombstones(&mut kept_tombstones, &snapshots, |start, end| {
        compaction.is_base_level_for_range(start, end, levels)
    });
    let mut outputs = OutputFiles::new(engine, compaction, tree, kept_tombstones);
    let merged = merge.seek_forward(None).and_then(|()| {
        let context = MergeContext {
            compaction,
            levels,
            snapshots: &snapshots,
            tombstones: &tombstones,
            merge_operator: tree.merge_operator.as_ref(),
            filter: Filter {
                compaction_filter: tree.compaction_filter.as_ref(),
                expiry_now: tree.expiring.then(crate::compaction_filter::now_micros),
                output_level: compaction.output_level,
                changed: &filter_changed,
            },
        };
        merge_entries(engine, &context, &mut merge, &mut outputs)
    });
    match merged.and_then(|()| outputs.finish()) {
        Ok(handles) => {
            if !handles.is_empty() {
                sync_dir(engine.file_system(), &engine.dir)?;
            }
            Ok(Merged {
                outputs: handles,
                filter_changed: filter_changed.get(),
                snapshots_taken,
            })
        }
        Err(error) => {
            outputs.abandon();
            Err(error)
        }
    }
}

/// The range tombstones of every input table, fragmented together.
fn input_range_tombstones(compaction: &Compaction, version: &Version) -> Result<Fragments> {
    let inputs = find_handles(version, &compaction.inputs)?;
    let next_inputs = find_handles(version, &compaction.next_inputs)?;
    Ok(Fragments::merge(
        inputs
            .iter()
            .chain(&next_inputs)
            .map(|handle| handle.table.range_tombstones().as_ref()),
    ))
}

/// What deciding about each merged entry needs.
struct MergeContext<'a> {
    compaction: &'a Compaction,
    levels: &'a Levels,
    /// Live snapshots, ascending.
    snapshots: &'a [crate::key::SequenceNumber],
    /// Every input's range tombstones (before pruning: an entry hidden by a tombstone that
    /// pruning drops is hidden by the one it keeps, or by nothing any reader needs).
    tombstones: &'a Fragments,
    /// How the keyspace combines merge operands.
    merge_operator: Option<&'a SharedMergeOperator>,
    /// What may remove or rewrite entries no snapshot sees ([`Filter`]).
    filter: Filter<'a>,
}

/// The keyspace's compaction filter and value expiry, applied to the newest version of each key
/// when it is a put newer than every snapshot (so that no snapshot reads what they change).
#[derive(Clone, Copy)]
struct Filter<'a> {
    compaction_filter: Option<&'a SharedCompactionFilter>,
    /// The time the compaction started at, in a keyspace of expiring values.
    expiry_now: Option<u64>,
    output_level: usize,
    /// Set once the user's filter removed or changed an entry (expiry alone changes nothing
    /// a reader sees: an expired value is absent to every read already).
    changed: &'a std::cell::Cell<bool>,
}

/// What [`Filter::apply`] makes of an entry.
enum Filtered {
    Keep,
    /// Removed: a tombstone in its place (it hid older versions), or nothing where none can be.
    Remove,
    Value(Vec<u8>),
}

impl Filter<'_> {
    fn is_active(&self) -> bool {
        self.compaction_filter.is_some() || self.expiry_now.is_some()
    }

    fn apply(&self, user_key: &[u8], value: &[u8]) -> std::result::Result<Filtered, String> {
        let (expiry, user_value) = match self.expiry_now {
            Some(now) => {
                let Some(expiry) = crate::compaction_filter::expiry_of(value) else {
                    return Err(format!(
                        "a value of a keyspace with a time to live is {} bytes, shorter than \
                         its expiry (FORMAT.md 7.3)",
                        value.len()
                    ));
                };
                if crate::compaction_filter::expired(expiry, now) {
                    return Ok(Filtered::Remove);
                }
                (
                    Some(expiry),
                    &value[crate::compaction_filter::EXPIRY_SIZE..],
                )
            }
            None => (None, value),
        };
        let Some(filter) = self.compaction_filter else {
            return Ok(Filtered::Keep);
        };
        let decision = filter.filter(self.output_level, user_key, user_value);
        if decision != FilterDecision::Keep {
            self.changed.set(true);
        }
        Ok(match decision {
            FilterDecision::Keep => Filtered::Keep,
            FilterDecision::Remove => Filtered::Remove,
            FilterDecision::ChangeValue(changed) => Filtered::Value(match expiry {
                Some(expiry) => crate::compaction_filter::with_expiry(expiry, &changed),
                None => changed,
            }),
        })
    }
}

/// Feeds the merged entries to `outputs`, keeping the newest version of each key in each
/// snapshot stripe, dropping those a range tombstone hides from every reader and tombstones
/// nothing below can need (see the module docs), and combining merge operands
/// ([`OperandRun`]).
fn merge_entries(
    engine: &Engine,
    context: &MergeContext<'_>,
    merge: &mut MergingIterator,
    outputs: &mut OutputFiles<'_>,
) -> Result<()> {
    let MergeContext {
        compaction,
        levels,
        snapshots,
        tombstones,
        merge_operator,
        filter,
    } = *context;
    let mut stripes = SnapshotStripes::new(snapshots);
    // Whether the entry at hand is the first (newest) of its key in the inputs.
    let mut first_of_key = false;
    // The user key of the entries being merged; reused, so that a new key costs a copy but no
    // allocation.
    let mut current_key: Vec<u8> = Vec::new();
    let mut has_current_key = false;
    // The merge operands of `current_key` waiting for their base (with an operator only).
    let mut run: Option<OperandRun> = None;
    let mut merged = 0u64;
    while merge.valid() {
        merged += 1;
        if merged.is_multiple_of(SHUTDOWN_CHECK_INTERVAL) && engine.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let key = merge.key();
        let parsed = parse_internal_key(key).map_err(|reason| {
            Error::corruption(engine.dir.join("(compaction input)"), 0, reason)
        })?;
        if !has_current_key || current_key != parsed.user_key {
            if let Some(run) = run.take() {
                // No older version of the key is in the inputs: below the last level that may
                // hold the key, the operands have no base at all.
                let bottom = compaction.is_base_level_for_key(&current_key, levels);
                run.finish(engine, &current_key, bottom.then_some(None), outputs)?;
            }
            outputs.before_user_key(parsed.user_key)?;
            current_key.clear();
            current_key.extend_from_slice(parsed.user_key);
            has_current_key = true;
            first_of_key = true;
        }
        let newest_of_key = std::mem::replace(&mut first_of_key, false);
        let admission = stripes.admit(parsed.user_key, parsed.sequence, parsed.kind);
        let obsolete_tombstone = parsed.kind == ValueKind::Tombstone
            && admission.oldest_stripe
            && compaction.is_base_level_for_key(parsed.user_key, levels);
        let hidden = admission.visible
            && !tombstones.is_empty()
            && tombstones
                .find(parsed.user_key)
                .is_some_and(|piece| hidden_by_range_tombstone(snapshots, parsed.sequence, piece));
        let kept = admission.visible && !obsolete_tombstone && !hidden;
        if let Some(pending) = run.take() {
            if !admission.below_operand || hidden {
                // Another stripe, or a version no reader sees: the operands stay operands
                // (combined if the operator can), and a range tombstone kept above the hidden
                // version still ends every read of them.
                pending.finish(engine, &current_key, None, outputs)?;
            } else if parsed.kind == ValueKind::Merge {
                let mut pending = pending;
                pending.push(parsed.sequence, &merge.value());
                run = Some(pending);
                merge.advance()?;
                continue;
            } else {
                // The base of the operands, in their stripe: a put, or a tombstone (kept or
                // obsolete: either way nothing below counts).
                let base = (parsed.kind == ValueKind::Value).then(|| merge.value());
                let base = Some(base.as_deref());
                if pending.finish(engine, &current_key, base, outputs)? {
                    merge.advance()?;
                    continue;
                }
            }
        }
        if kept {
            match merge_operator {
                Some(operator) if parsed.kind == ValueKind::Merge => {
                    let mut pending = OperandRun::new(operator);
                    pending.push(parsed.sequence, &merge.value());
                    run = Some(pending);
                }
                _ if filter.is_active()
                    && newest_of_key
                    && parsed.kind == ValueKind::Value
                    && snapshots
                        .last()
                        .is_none_or(|&newest| newest < parsed.sequence) =>
                {
                    let value = merge.value();
                    let filtered = filter.apply(parsed.user_key, &value).map_err(|reason| {
                        Error::corruption(engine.dir.join("(compaction input)"), 0, reason)
                    })?;
                    match filtered {
                        Filtered::Keep => outputs.add(key, &value)?,
                        Filtered::Value(changed) => outputs.add(key, &changed)?,
                        Filtered::Remove
                            if admission.oldest_stripe
                                && compaction.is_base_level_for_key(parsed.user_key, levels) => {}
                        Filtered::Remove => {
                            let tombstone = internal_key(
                                parsed.user_key,
                                parsed.sequence,
                                ValueKind::Tombstone,
                            );
                            outputs.add(&tombstone, &[])?;
                        }
                    }
                }
                _ => outputs.add(key, &merge.value())?,
            }
        }
        merge.advance()?;
    }
    if let Some(run) = run.take() {
        let bottom = compaction.is_base_level_for_key(&current_key, levels);
        run.finish(engine, &current_key, bottom.then_some(None), outputs)?;
    }
    Ok(())
}

/// Consecutive merge operands of one key in one snapshot stripe (no snapshot between them, so
/// no reader sees some of them without the others), newest first, waiting for what comes
/// below them: their base in the same stripe (a put or a tombstone), which a full merge turns
/// them into a put with; or the end of the stripe, where a partial merge combines them into
/// one operand if the operator can; or, below every level that may hold the key, nothing,
/// which a full merge also turns them into a put with.
struct OperandRun<'a> {
    operator: &'a SharedMergeOperator,
    /// (sequence number, operand), newest first.
    operands: Vec<(SequenceNumber, Vec<u8>)>,
}

impl<'a> OperandRun<'a> {
    fn new(operator: &'a SharedMergeOperator) -> Self {
        OperandRun {
            operator,
            operands: Vec::new(),
        }
    }

    fn push(&mut self, sequence: SequenceNumber, operand: &[u8]) {
        self.operands.push((sequence, operand.to_vec()));
    }

    /// Writes the run to `outputs`: with `base` known (`Some(base)`: the put's value, or
    /// `None` for a tombstone or nothing) a full merge into a put at the newest operand's
    /// sequence number; else a partial merge into one operand at it, or the operands as they
    /// are. Returns whether the base was consumed (a full merge succeeded). A merge the
    /// operator refuses keeps the operands as they are (and the base, which the caller then
    /// writes), counted in the stats: nothing is lost, and a read of the key reports the error.
    fn finish(
        self,
        engine: &Engine,
        user_key: &[u8],
        base: Option<Option<&[u8]>>,
        outputs: &mut OutputFiles<'_>,
    ) -> Result<bool> {
        let stats = &engine.stats;
        let newest = self.operands[0].0;
        let oldest_first: Vec<&[u8]> = self
            .operands
            .iter()
            .rev()
            .map(|(_, operand)| operand.as_slice())
            .collect();
        if let Some(base) = base {
            match self.operator.full_merge(user_key, base, &oldest_first) {
                Ok(value) => {
                    stats.compaction_merges.fetch_add(1, Ordering::Relaxed);
                    outputs.add(&internal_key(user_key, newest, ValueKind::Value), &value)?;
                    return Ok(true);
                }
                Err(_) => {
                    stats
                        .compaction_merge_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        } else if self.operands.len() > 1
            && let Some(operand) = self.operator.partial_merge(user_key, &oldest_first)
        {
            stats.compaction_merges.fetch_add(1, Ordering::Relaxed);
            outputs.add(&internal_key(user_key, newest, ValueKind::Merge), &operand)?;
            return Ok(false);
        }
        for (sequence, operand) in &self.operands {
            outputs.add(
                &internal_key(user_key, *sequence, ValueKind::Merge),
                operand,
            )?;
        }
        Ok(false)
    }
}

/// The output tables of one compaction, cut at the target file size and where their overlap
/// with the level below the output grows too large — always between two user keys, so that the
/// versions of one key stay in one file.
struct OutputFiles<'a> {
    engine: &'a Engine,
    /// How the keyspace lays out its tables.
    table: TableOptions,
    compaction: &'a Compaction,
    target_file_size: u64,
    max_grandparent_overlap: u64,
    grandparent_index: usize,
    grandparent_overlap: u64,
    started: bool,
    current: Option<(FileNumber, TableBuilder)>,
    finished: Vec<Arc<TableHandle>>,
    /// The range tombstones the outputs hold, each output the part from its lower bound to
    /// the next output's first key.
    tombstones: Fragments,
    /// The first user key of the current output (`None` for the first: it starts at the
    /// beginning of the key space).
    lower: Option<Vec<u8>>,
}

impl<'a> OutputFiles<'a> {
    fn new(
        engine: &'a Engine,
        compaction: &'a Compaction,
        tree: &Tree,
        tombstones: Fragments,
    ) -> Self {
        let options = &tree.picker;
        OutputFiles {
            table: tree.table.clone(),
            tombstones,
            lower: None,
            engine,
            compaction,
            target_file_size: options.target_file_size,
            max_grandparent_overlap: max_grandparent_overlap_bytes(options),
            grandparent_index: 0,
            grandparent_overlap: 0,
            started: false,
            current: None,
            finished: Vec::new(),
        }
    }

    /// Called before the first entry of each user key: cuts the current file if it is full.
    fn before_user_key(&mut self, key: &[u8]) -> Result<()> {
        let grandparents = &self.compaction.grandparents;
        while let Some(file) = grandparents.get(self.grandparent_index)
            && user_key(&file.largest) < key
        {
            if self.started {
                self.grandparent_overlap += file.file_size;
            }
            self.grandparent_index += 1;
        }
        self.started = true;
        let full = self.current.as_ref().is_some_and(|(_, builder)| {
            builder.approximate_size() >= self.target_file_size
                || self.grandparent_overlap > self.max_grandparent_overlap
        });
        if full {
            self.finish_current(Some(key))?;
            self.lower = Some(key.to_vec());
            self.grandparent_overlap = 0;
        }
        Ok(())
    }

    fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.builder()?.add(key, value)
    }

    /// The current output, created if there is none.
    fn builder(&mut self) -> Result<&mut TableBuilder> {
        if self.current.is_none() {
            let number = lock(&self.engine.state).versions.allocate_file_number();
            let builder = TableBuilder::create_on(
                Arc::clone(&self.engine.options.file_system),
                &table_path(&self.engine.dir, number),
                self.table.clone(),
            )?;
            self.current = Some((number, builder));
        }
        match &mut self.current {
            Some((_, builder)) => Ok(builder),
            None => unreachable!("a builder was just created"),
        }
    }

    /// Finishes the current output (if any) with the range tombstones from its lower bound up
    /// to `upper` (the next output's first key; `None`: the end of the key space). Tombstones
    /// in that part with no entry beside them get an output of their own.
    fn finish_current(&mut self, upper: Option<&[u8]>) -> Result<()> {
        let tombstones = if self.tombstones.is_empty() {
            Fragments::empty()
        } else {
            self.tombstones.clipped(self.lower.as_deref(), upper)
        };
        if !tombstones.is_empty() {
            self.builder()?.set_range_tombstones(tombstones);
        }
        let Some((number, builder)) = self.current.take() else {
            return Ok(());
        };
        let summary = builder.finish()?;
        let properties = summary.properties;
        let metadata = FileMetadata {
            number,
            file_size: summary.file_size,
            smallest: summary.smallest,
            largest: summary.largest,
            smallest_sequence: properties.smallest_sequence,
            largest_sequence: properties.largest_sequence,
            global_sequence: None,
        };
        let handle = open_table_handle(
            &self.engine.options.file_system,
            &self.engine.dir,
            metadata,
            &self.engine.cache,
        )?;
        self.finished.push(Arc::new(handle));
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<Arc<TableHandle>>> {
        self.finish_current(None)?;
        Ok(std::mem::take(&mut self.finished))
    }

    /// Removes every output written so far.
    fn abandon(&mut self) {
        if let Some((_, builder)) = self.current.take() {
            let _ = builder.abandon();
        }
        // The outputs never became live: dropping their handles deletes their files.
        for handle in self.finished.drain(..) {
            handle.mark_obsolete();
        }
    }
}

/// Installs a merge's outputs: one edit removing the inputs and adding the outputs. Outputs
/// for a keyspace dropped meanwhile are deleted.
fn install(
    engine: &Engine,
    compaction: &Compaction,
    outputs: Vec<Arc<TableHandle>>,
    keyspace: KeyspaceId,
) -> Result<()> {
    let mut edit = VersionEdit::new();
    edit.keyspace = keyspace;
    for (level, number) in compaction.deleted_files() {
        edit.delete_file(level, number);
    }
    for handle in &outputs {
        edit.add_file(compaction.output_level, handle.metadata.clone());
    }
    let installed = engine.install_edit(edit, outputs.clone());
    // Unless a failed manifest write may still have reached the disk naming them (then the
    // next open sorts them out), the outputs never became live: their files go when the
    // handles are dropped.
    let live = match &installed {
        Ok(live) => *live,
        Err(_) => lock(&engine.state).versions.is_manifest_poisoned(),
    };
    if !live {
        outputs.iter().for_each(|handle| handle.mark_obsolete());
    }
    installed.map(|_| ())
}
