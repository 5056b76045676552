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
use crate::engine::{Engine, lock};
use crate::error::{Error, Result};
use crate::fs::{sync_dir, table_path};
use crate::iterator::{InternalIterator, LevelIterator, TableSource};
use crate::key::{FileNumber, KeyspaceId, ValueKind, parse_internal_key, user_key};
use crate::manifest::{FileMetadata, VersionEdit};
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
    let outputs = merge(engine, compaction, levels, version, tree)?;
    let bytes_written = outputs.iter().map(|handle| handle.metadata.file_size).sum();
    install(engine, compaction, outputs, tree.keyspace)?;
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

/// Merges the inputs into new, durable tables of the output level (not yet live).
fn merge(
    engine: &Engine,
    compaction: &Compaction,
    levels: &Levels,
    version: &Version,
    tree: &Tree,
) -> Result<Vec<Arc<TableHandle>>> {
    let mut merge = MergingIterator::new(sources(compaction, version)?);
    let snapshots = engine.snapshots.pinned();
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
        };
        merge_entries(engine, &context, &mut merge, &mut outputs)
    });
    match merged.and_then(|()| outputs.finish()) {
        Ok(handles) => {
            if !handles.is_empty() {
                sync_dir(engine.file_system(), &engine.dir)?;
            }
            Ok(handles)
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
}

/// Feeds the merged entries to `outputs`, keeping the newest version of each key in each
/// snapshot stripe, dropping those a range tombstone hides from every reader and tombstones
/// nothing below can need (see the module docs).
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
    } = *context;
    let mut stripes = SnapshotStripes::new(snapshots);
    // The user key of the entries being merged; reused, so that a new key costs a copy but no
    // allocation.
    let mut current_key: Vec<u8> = Vec::new();
    let mut has_current_key = false;
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
            outputs.before_user_key(parsed.user_key)?;
            current_key.clear();
            current_key.extend_from_slice(parsed.user_key);
            has_current_key = true;
        }
        let admission = stripes.admit(parsed.user_key, parsed.sequence);
        let obsolete_tombstone = parsed.kind == ValueKind::Tombstone
            && admission.oldest_stripe
            && compaction.is_base_level_for_key(parsed.user_key, levels);
        let hidden = admission.visible
            && !tombstones.is_empty()
            && tombstones
                .find(parsed.user_key)
                .is_some_and(|piece| hidden_by_range_tombstone(snapshots, parsed.sequence, piece));
        if admission.visible && !obsolete_tombstone && !hidden {
            outputs.add(key, &merge.value())?;
        }
        merge.advance()?;
    }
    Ok(())
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
