//! The compaction picker: which files to compact next. A pure function of the live files per
//! level, the files already being compacted and the per-level round-robin cursors; no I/O, no
//! locks. The caller (the engine) marks the chosen files busy until the compaction is installed
//! or abandoned, and stores the returned cursor.
//!
//! **Scores.** Level 0 scores its file count over `level0_compaction_trigger` (or, once it holds
//! two files, its bytes over `level0_size_percent_trigger` percent of the deeper levels' bytes,
//! if that is higher: see `level0_score`); levels 1 and 2
//! score their bytes over their target size ([`level_targets`]: by default the targets follow
//! the size of the last level, and level 0 compacts into the *base level* they name, skipping
//! the empty levels above it); a level above the base level that holds files scores at least 1,
//! so that it drains; level 3, the last, has no score and is never a source. [`level_scores`] counts every file (for stats and backpressure);
//! [`pick_compaction`] counts only files not being compacted, so that a level already being
//! emptied does not start a second compaction for the same excess. The highest score of at
//! least 1 goes first (ties: the lower level); if nothing in that level can be compacted now
//! (its files, or the files below them, are busy), the next-highest is tried.
//!
//! **Level 0.** Its output level is [`level0_output_level`]. The seed is the oldest L0 file not being compacted (old data should move down
//! first). The inputs are every L0 file overlapping the seed's user-key range, with the range
//! grown by each file taken until nothing more overlaps (a fixed point). No L0 file left behind
//! then overlaps a chosen one, so moving the chosen files into L1 can never put a newer version
//! of a key below an older one, whatever their ages; and two L0 → L1 compactions that share no
//! file write disjoint ranges of L1. If a file of that closure or an overlapping L1 file is
//! busy, the next-oldest seed is tried. L0 uses no cursor.
//!
//! **Levels 1 and 2.** Round robin: the seed is the first file whose largest internal key is
//! after the level's cursor (wrapping to the first file), skipping busy seeds. The seed grows to
//! the neighbours sharing a boundary user key with it (if one user key ever spans two files, they
//! move together, so no older version stays above a newer one). The next-level inputs are every
//! file overlapping the inputs' user-key range, grown the same way; if one is busy, the next seed
//! is tried. The new cursor is the largest key of the inputs.
//!
//! **Trivial move.** One input, nothing overlapping in the output level, at most
//! [`max_grandparent_overlap_bytes`] of overlap with the level below the output (so that the
//! moved file does not make a later compaction huge), and for L0 no other L0 file overlapping
//! it: the job moves the file by a manifest edit alone. Manual compactions ([`pick_range`])
//! never move trivially: their purpose is to rewrite data (drop deleted and overwritten
//! versions).
//!
//! Key ranges are compared by user key, inclusive at both ends. Every level must satisfy the
//! manifest's invariants: L0 newest first, L1 to L3 sorted by smallest internal key and not
//! overlapping (`crate::manifest::state`).

use std::collections::HashSet;
use std::ops::{Bound, Range};

use crate::key::{FileNumber, compare_internal_keys, user_key};
use crate::manifest::{FileMetadata, NUM_LEVELS};

/// The live files of every level, as the manifest lists them (L0 newest first, L1 to L3 sorted
/// by smallest internal key).
pub type Levels = [Vec<FileMetadata>; NUM_LEVELS];

/// The deepest level: it has no score and is never the source of a compaction.
pub const LAST_LEVEL: usize = NUM_LEVELS - 1;

/// How the picker sizes levels. Built by the engine from its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickerOptions {
    /// Number of L0 files at which L0 scores 1. Default 4.
    pub level0_compaction_trigger: usize,
    /// Target size of L1 in bytes. Default 256 MiB.
    pub level1_target_size: u64,
    /// Each level below L1 targets this many times the size of the level above. Default 10.
    pub level_size_multiplier: u64,
    /// Target size of one compaction output file in bytes. Default 64 MiB.
    pub target_file_size: u64,
    /// Level-0 bytes, in percent of the bytes in the deeper levels, at which level 0 also
    /// scores 1 once it holds at least two files (0 disables). Default 0.
    pub level0_size_percent_trigger: u64,
    /// Whether level targets follow the size of the last level ([`level_targets`]); if not,
    /// L1 targets `level1_target_size` and L2 ten times that, whatever the data. Default true.
    pub dynamic_level_sizes: bool,
}

impl Default for PickerOptions {
    fn default() -> Self {
        PickerOptions {
            level0_compaction_trigger: 4,
            level1_target_size: 256 << 20,
            level_size_multiplier: 10,
            target_file_size: 64 << 20,
            level0_size_percent_trigger: 0,
            dynamic_level_sizes: true,
        }
    }
}

/// One compaction chosen by the picker: merge `inputs` (from `level`) with `next_inputs` (from
/// `output_level`) into new files of `output_level`.
#[derive(Debug, Clone, PartialEq)]
pub struct Compaction {
    /// The source level.
    pub level: usize,
    /// The level the outputs go to: `level + 1`, except out of level 0, which compacts into
    /// [`level0_output_level`] (the base level of dynamic level sizes, or an occupied level
    /// above it), and a rewrite in place of the last level.
    pub output_level: usize,
    /// Input files of the source level (never empty). L0: newest first; otherwise sorted.
    pub inputs: Vec<FileMetadata>,
    /// Input files of the output level, sorted; they overlap the inputs' user-key range.
    pub next_inputs: Vec<FileMetadata>,
    /// Files of `output_level + 1` overlapping the compaction's user-key range, sorted. The job
    /// cuts an output file once its overlap with these passes [`max_grandparent_overlap_bytes`].
    pub grandparents: Vec<FileMetadata>,
    /// Whether the job moves the single input to `output_level` by a manifest edit alone.
    pub trivial_move: bool,
    /// The new round-robin cursor of `level` (the largest internal key of the inputs), for the
    /// engine to store; `None` for L0 and for manual compactions.
    pub cursor: Option<Vec<u8>>,
    /// The score of `level` (files not being compacted) when the compaction was picked.
    pub score: f64,
}

impl Compaction {
    /// The numbers of every input file, of both levels.
    pub fn input_numbers(&self) -> impl Iterator<Item = FileNumber> + '_ {
        self.all_inputs().map(|file| file.number)
    }

    /// Every input file with its level, as a version edit deletes them.
    pub fn deleted_files(&self) -> impl Iterator<Item = (usize, FileNumber)> + '_ {
        let source = self.inputs.iter().map(|file| (self.level, file.number));
        let next = self
            .next_inputs
            .iter()
            .map(|file| (self.output_level, file.number));
        source.chain(next)
    }

    /// Total size of the input files, in bytes.
    pub fn input_bytes(&self) -> u64 {
        self.all_inputs().map(|file| file.file_size).sum()
    }

    /// The smallest user key of any input.
    #[cfg(test)]
    pub fn smallest_user_key(&self) -> &[u8] {
        self.range().smallest
    }

    /// The largest user key of any input.
    #[cfg(test)]
    pub fn largest_user_key(&self) -> &[u8] {
        self.range().largest
    }

    /// Whether no level below the output level may hold `user_key`, so that the job may drop a
    /// tombstone for it (snapshots permitting). `levels` must be the file lists this compaction
    /// was picked from; see [`is_base_level_for_key`].
    pub fn is_base_level_for_key(&self, user_key: &[u8], levels: &Levels) -> bool {
        is_base_level_for_key(user_key, self.output_level, levels)
    }

    /// Whether no level below the output level may hold a key of `[start, end)`, so that the
    /// job may drop a range tombstone over it (snapshots permitting); as
    /// [`is_base_level_for_key`](Self::is_base_level_for_key) for one key.
    pub fn is_base_level_for_range(&self, start: &[u8], end: &[u8], levels: &Levels) -> bool {
        levels.iter().skip(self.output_level + 1).all(|files| {
            // Sorted and disjoint: the first file whose largest user key is at least `start`
            // is the only candidate for the lowest keys; any later one starts later still.
            let index = files.partition_point(|file| user_key(&file.largest) < start);
            files
                .get(index)
                .is_none_or(|file| user_key(&file.smallest) >= end)
        })
    }

    fn all_inputs(&self) -> impl Iterator<Item = &FileMetadata> {
        self.inputs.iter().chain(&self.next_inputs)
    }

    #[cfg(test)]
    fn range(&self) -> KeyRange<'_> {
        KeyRange::of_files(self.all_inputs()).expect("a compaction has at least one input")
    }
}

/// The target sizes of the levels, and the *base level*: the level that level 0 compacts into.
///
/// **Static** (`dynamic_level_sizes` off): the base level is L1, L1 targets
/// `level1_target_size` and L2 `level_size_multiplier` times that; L3 is unbounded.
///
/// **Dynamic** (the default; RocksDB's `level_compaction_dynamic_level_bytes` is the same idea):
/// the targets are derived from the size of the last level, so that each level holds about a
/// `level_size_multiplier`-th of the one below it whatever the size of the data, and space
/// amplification stays near `1 + 1 / multiplier`. Starting at the last level, with the size of
/// the largest level (normally the last), the size is divided by the multiplier one level up
/// at a time while it exceeds `level1_target_size`; the level reached is the base level and the
/// size reached its target. While the data is small, the base level is the last level itself:
/// level 0 compacts straight into it and no data is written to L1 or L2 on the way. The levels
/// above the base level should be empty; any that hold files (from a static layout, or after
/// the data shrank) drain into the level below them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelTargets {
    /// The level that level 0 compacts into (1 to [`LAST_LEVEL`]).
    pub base_level: usize,
    /// The target of each level below L0 and above the last (`None` for L0 and the last
    /// level, which are not scored by size); levels above the base level carry the base
    /// level's target.
    sizes: [Option<u64>; NUM_LEVELS],
}

impl LevelTargets {
    /// The target size in bytes of `level`: `None` for L0 (scored by file count) and for the
    /// last level (unbounded).
    pub fn size(&self, level: usize) -> Option<u64> {
        self.sizes.get(level).copied().flatten()
    }
}

/// The targets for the current `levels`: see [`LevelTargets`].
pub fn level_targets(levels: &Levels, options: &PickerOptions) -> LevelTargets {
    let multiplier = options.level_size_multiplier.max(2);
    let mut sizes = [None; NUM_LEVELS];
    if !options.dynamic_level_sizes {
        let mut target = options.level1_target_size;
        for size in sizes.iter_mut().take(LAST_LEVEL).skip(1) {
            *size = Some(target);
            target = target.saturating_mul(multiplier);
        }
        return LevelTargets {
            base_level: 1,
            sizes,
        };
    }
    let largest = levels[1..]
        .iter()
        .map(|files| level_bytes(files))
        .max()
        .unwrap_or(0);
    let mut base_level = LAST_LEVEL;
    let mut base_target = largest;
    while base_level > 1 && base_target > options.level1_target_size {
        base_target /= multiplier;
        base_level -= 1;
    }
    let base_target = base_target.max(1);
    for (level, size) in sizes.iter_mut().enumerate().take(LAST_LEVEL).skip(1) {
        let steps = level.saturating_sub(base_level) as u32;
        *size = Some(base_target.saturating_mul(multiplier.saturating_pow(steps)));
    }
    LevelTargets { base_level, sizes }
}

fn level_bytes(files: &[FileMetadata]) -> u64 {
    files.iter().map(|file| file.file_size).sum()
}

/// The level a compaction out of level 0 writes to: the base level, or the first level above
/// it that holds any file (busy or not). Every level between L0 and the output level is then
/// empty, so the compaction never puts level-0 data (the newest) below an older version in a
/// level it skips; only level-0 compactions write into such empty levels, and their inputs
/// never share a key range (the level-0 closure).
pub fn level0_output_level(levels: &Levels, targets: &LevelTargets) -> usize {
    (1..targets.base_level)
        .find(|&level| !levels[level].is_empty())
        .unwrap_or(targets.base_level)
}

/// How many bytes of the level below its output an output file (or a trivially moved file) may
/// overlap: 10 × `target_file_size`. Past it, the job starts a new output file, so that a later
/// compaction of that file stays bounded.
pub fn max_grandparent_overlap_bytes(options: &PickerOptions) -> u64 {
    options.target_file_size.saturating_mul(10)
}

/// The score of levels 0 to 2, counting every file (busy or not): for stats and backpressure.
/// A level needs compaction when its score is at least 1.
pub fn level_scores(levels: &Levels, options: &PickerOptions) -> [f64; LAST_LEVEL] {
    scores_of(levels, options, |_| true)
}

/// The scores the picker ranks levels by: files being compacted do not count.
fn free_scores(
    levels: &Levels,
    being_compacted: &HashSet<FileNumber>,
    options: &PickerOptions,
) -> [f64; LAST_LEVEL] {
    scores_of(levels, options, |file| {
        !being_compacted.contains(&file.number)
    })
}

fn scores_of(
    levels: &Levels,
    options: &PickerOptions,
    counts: impl Fn(&FileMetadata) -> bool,
) -> [f64; LAST_LEVEL] {
    let targets = level_targets(levels, options);
    let mut scores = [0.0; LAST_LEVEL];
    for (level, score) in scores.iter_mut().enumerate() {
        let files = levels[level].iter().filter(|file| counts(file));
        let bytes: u64 = files.map(|file| file.file_size).sum();
        *score = match targets.size(level) {
            None => level0_score(levels, options, &counts),
            // A level above the base level drains whenever it holds files (see
            // `LevelTargets`), faster the more it holds.
            Some(target) if level < targets.base_level && bytes > 0 => {
                (bytes as f64 / target.max(1) as f64).max(1.0)
            }
            Some(target) => bytes as f64 / target.max(1) as f64,
        };
    }
    scores
}

/// Level 0 scores its file count over the trigger, or — once it holds two files — its bytes
/// over `level0_size_percent_trigger` percent of the deeper levels' bytes, whichever is higher.
/// The second keeps space amplification low while the database is small: there a few level-0
/// files can hold as much as everything below them, long before their count reaches the
/// trigger. In a large database the deeper levels dwarf level 0 and the count rules.
fn level0_score(
    levels: &Levels,
    options: &PickerOptions,
    counts: &impl Fn(&FileMetadata) -> bool,
) -> f64 {
    let files: Vec<&FileMetadata> = levels[0].iter().filter(|file| counts(file)).collect();
    let by_count = files.len() as f64 / options.level0_compaction_trigger.max(1) as f64;
    if files.len() < 2 || options.level0_size_percent_trigger == 0 {
        return by_count;
    }
    let level0_bytes: u64 = files.iter().map(|file| file.file_size).sum();
    let deeper_bytes: u64 = levels[1..]
        .iter()
        .flatten()
        .map(|file| file.file_size)
        .sum();
    let allowed = deeper_bytes.saturating_mul(options.level0_size_percent_trigger) / 100;
    let by_size = level0_bytes as f64 / allowed.max(1) as f64;
    by_count.max(by_size)
}

/// The compaction to run next, or `None` if no level scores at least 1 or every level that does
/// is blocked by compactions in progress. `being_compacted` holds the input files of every
/// running compaction; `cursors[level]` is the cursor of the last compaction out of `level`.
pub fn pick_compaction(
    levels: &Levels,
    being_compacted: &HashSet<FileNumber>,
    cursors: &[Option<Vec<u8>>; NUM_LEVELS],
    options: &PickerOptions,
) -> Option<Compaction> {
    let scores = free_scores(levels, being_compacted, options);
    let level0_output = level0_output_level(levels, &level_targets(levels, options));
    let mut order: Vec<usize> = (0..LAST_LEVEL).filter(|&l| scores[l] >= 1.0).collect();
    // A stable sort: among equal scores the lower level goes first.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.into_iter().find_map(|level| {
        let (inputs, next_inputs, output_level) = if level == 0 {
            let (inputs, next_inputs) = pick_level0(levels, being_compacted, level0_output)?;
            (inputs, next_inputs, level0_output)
        } else {
            let (inputs, next_inputs) =
                pick_sorted_level(level, levels, being_compacted, cursors[level].as_deref())?;
            (inputs, next_inputs, level + 1)
        };
        let mut compaction = assemble(level, output_level, inputs, next_inputs, levels);
        compaction.score = scores[level];
        compaction.trivial_move = is_trivial_move(&compaction, levels, options);
        if level > 0 {
            compaction.cursor = compaction.inputs.last().map(|file| file.largest.clone());
        }
        Some(compaction)
    })
}

/// A manual compaction of `level` for the user keys from `start` to `end`: every file of `level`
/// overlapping them (for L0 grown to the closure described in the module documentation; for
/// deeper levels to neighbours sharing a boundary key), plus the overlapping files of the next
/// level. `None` if `level` is the last level, nothing overlaps, or any of those files is being
/// compacted. Never a trivial move, no cursor, and no limit on the size (the caller compacts
/// level by level).
pub fn pick_range(
    level: usize,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    levels: &Levels,
    being_compacted: &HashSet<FileNumber>,
    options: &PickerOptions,
) -> Option<Compaction> {
    if level >= LAST_LEVEL {
        return None;
    }
    let files = &levels[level];
    let seed = KeyRange::of_files(files.iter().filter(|file| in_bounds(file, start, end)))?;
    let inputs: Vec<&FileMetadata> = if level == 0 {
        level0_closure(files, seed)
    } else {
        files[overlapping_run(files, seed)].iter().collect()
    };
    let busy = |file: &&FileMetadata| being_compacted.contains(&file.number);
    if inputs.iter().any(busy) {
        return None;
    }
    let next_inputs = next_level_inputs(level + 1, &inputs, levels);
    if next_inputs.iter().any(busy) {
        return None;
    }
    let mut compaction = assemble(level, level + 1, inputs, next_inputs, levels);
    compaction.score = free_scores(levels, being_compacted, options)[level];
    Some(compaction)
}

/// Whether no file in a level deeper than `output_level` may hold the user key `key` (by its
/// key range).
/// A compaction into `output_level` may then drop a tombstone for the key: no older version
/// exists below. `levels` must be the file lists the compaction was picked from; compactions
/// running beside it cannot invalidate the answer, since any that moves this key's range into a
/// deeper level would share input files with it.
pub fn is_base_level_for_key(key: &[u8], output_level: usize, levels: &Levels) -> bool {
    levels.iter().skip(output_level + 1).all(|files| {
        // Levels below 0 are sorted and disjoint: only the first file whose largest user key is
        // at least the key can hold it.
        let index = files.partition_point(|file| user_key(&file.largest) < key);
        files
            .get(index)
            .is_none_or(|file| user_key(&file.smallest) > key)
    })
}

/// Builds a compaction without score, trivial-move decision or cursor (the callers set them).
fn assemble(
    level: usize,
    output_level: usize,
    inputs: Vec<&FileMetadata>,
    next_inputs: Vec<&FileMetadata>,
    levels: &Levels,
) -> Compaction {
    let range = KeyRange::of_files(inputs.iter().chain(&next_inputs).copied())
        .expect("the picker chooses at least one input");
    let grandparents = match levels.get(output_level + 1) {
        Some(files) => files
            .iter()
            .filter(|file| range.overlaps(file))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    Compaction {
        level,
        output_level,
        inputs: inputs.into_iter().cloned().collect(),
        next_inputs: next_inputs.into_iter().cloned().collect(),
        grandparents,
        trivial_move: false,
        cursor: None,
        score: 0.0,
    }
}

fn is_trivial_move(compaction: &Compaction, levels: &Levels, options: &PickerOptions) -> bool {
    let [single] = compaction.inputs.as_slice() else {
        return false;
    };
    let grandparent_bytes: u64 = compaction.grandparents.iter().map(|f| f.file_size).sum();
    // The closure already guarantees this for L0; checked again because a newer version moved
    // below an older one would be silent data loss.
    let alone_in_level0 = compaction.level != 0
        || levels[0]
            .iter()
            .all(|file| file.number == single.number || !KeyRange::of_file(single).overlaps(file));
    compaction.next_inputs.is_empty()
        && grandparent_bytes <= max_grandparent_overlap_bytes(options)
        && alone_in_level0
}

type Inputs<'a> = (Vec<&'a FileMetadata>, Vec<&'a FileMetadata>);

/// L0 inputs and their overlaps in `output_level`: the closure of the oldest seed whose files
/// are all free.
fn pick_level0<'a>(
    levels: &'a Levels,
    being_compacted: &HashSet<FileNumber>,
    output_level: usize,
) -> Option<Inputs<'a>> {
    let busy = |file: &&FileMetadata| being_compacted.contains(&file.number);
    let level0 = &levels[0];
    level0
        .iter()
        .rev()
        .filter(|file| !busy(file))
        .find_map(|seed| {
            let inputs = level0_closure(level0, KeyRange::of_file(seed));
            if inputs.iter().any(busy) {
                return None;
            }
            let next_inputs = next_level_inputs(output_level, &inputs, levels);
            if next_inputs.iter().any(busy) {
                return None;
            }
            Some((inputs, next_inputs))
        })
}

/// Every L0 file overlapping `range`, with the range grown by each file taken until no other
/// file overlaps it. In level order (newest first).
fn level0_closure<'a>(
    level0: &'a [FileMetadata],
    mut range: KeyRange<'a>,
) -> Vec<&'a FileMetadata> {
    // Each pass that changes the range adds at least one file to it, so there are at most
    // `level0.len() + 1` passes.
    for _ in 0..=level0.len() {
        let grown = level0
            .iter()
            .filter(|file| range.overlaps(file))
            .fold(range, |range, file| range.union(KeyRange::of_file(file)));
        if grown == range {
            break;
        }
        range = grown;
    }
    level0.iter().filter(|file| range.overlaps(file)).collect()
}

/// Round robin over a sorted level: the first seed after `cursor` (wrapping) whose inputs and
/// next-level overlaps are all free.
fn pick_sorted_level<'a>(
    level: usize,
    levels: &'a Levels,
    being_compacted: &HashSet<FileNumber>,
    cursor: Option<&[u8]>,
) -> Option<Inputs<'a>> {
    let busy = |file: &&FileMetadata| being_compacted.contains(&file.number);
    let files = &levels[level];
    let start = cursor.map_or(0, |cursor| {
        files.partition_point(|file| compare_internal_keys(&file.largest, cursor).is_le())
    });
    (0..files.len()).find_map(|offset| {
        let index = (start + offset) % files.len();
        if busy(&&files[index]) {
            return None;
        }
        let inputs: Vec<&FileMetadata> = files[touching_run(files, index..index + 1)]
            .iter()
            .collect();
        if inputs.iter().any(busy) {
            return None;
        }
        let next_inputs = next_level_inputs(level + 1, &inputs, levels);
        if next_inputs.iter().any(busy) {
            return None;
        }
        Some((inputs, next_inputs))
    })
}

/// The files of `output_level` overlapping the user-key range of `inputs`.
fn next_level_inputs<'a>(
    output_level: usize,
    inputs: &[&FileMetadata],
    levels: &'a Levels,
) -> Vec<&'a FileMetadata> {
    let next = &levels[output_level];
    match KeyRange::of_files(inputs.iter().copied()) {
        Some(range) => next[overlapping_run(next, range)].iter().collect(),
        None => Vec::new(),
    }
}

/// The indexes of the files of a sorted level overlapping `range`, grown to neighbours sharing
/// a boundary user key.
fn overlapping_run(files: &[FileMetadata], range: KeyRange<'_>) -> Range<usize> {
    let start = files.partition_point(|file| user_key(&file.largest) < range.smallest);
    let end = files.partition_point(|file| user_key(&file.smallest) <= range.largest);
    touching_run(files, start..end.max(start))
}

/// `run` grown while a neighbour's user-key range touches its first or last file.
fn touching_run(files: &[FileMetadata], mut run: Range<usize>) -> Range<usize> {
    if run.is_empty() {
        return run;
    }
    while run.start > 0
        && user_key(&files[run.start - 1].largest) >= user_key(&files[run.start].smallest)
    {
        run.start -= 1;
    }
    while run.end < files.len()
        && user_key(&files[run.end].smallest) <= user_key(&files[run.end - 1].largest)
    {
        run.end += 1;
    }
    run
}

/// Whether the user-key range of `file` intersects the range from `start` to `end`.
pub(crate) fn in_bounds(file: &FileMetadata, start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    let smallest = user_key(&file.smallest);
    let largest = user_key(&file.largest);
    let after_start = match start {
        Bound::Included(start) => largest >= start,
        Bound::Excluded(start) => largest > start,
        Bound::Unbounded => true,
    };
    let before_end = match end {
        Bound::Included(end) => smallest <= end,
        Bound::Excluded(end) => smallest < end,
        Bound::Unbounded => true,
    };
    after_start && before_end
}

/// An inclusive range of user keys, borrowed from file metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyRange<'a> {
    smallest: &'a [u8],
    largest: &'a [u8],
}

impl<'a> KeyRange<'a> {
    fn of_file(file: &'a FileMetadata) -> Self {
        KeyRange {
            smallest: user_key(&file.smallest),
            largest: user_key(&file.largest),
        }
    }

    /// The smallest range holding every file, or `None` for no files.
    fn of_files(files: impl IntoIterator<Item = &'a FileMetadata>) -> Option<Self> {
        files
            .into_iter()
            .map(KeyRange::of_file)
            .reduce(KeyRange::union)
    }

    fn union(self, other: KeyRange<'a>) -> Self {
        KeyRange {
            smallest: self.smallest.min(other.smallest),
            largest: self.largest.max(other.largest),
        }
    }

    fn overlaps(&self, file: &FileMetadata) -> bool {
        user_key(&file.smallest) <= self.largest && self.smallest <= user_key(&file.largest)
    }
}

#[cfg(test)]
mod tests;
