//! Compaction: merging SSTables of one level into the next, so that reads consult few files and
//! overwritten or deleted data is dropped.
//!
//! - [`scheduler`]: the compaction threads, `compact_range` and `wait_for_compaction`.
//! - [`job`]: one compaction — merge, cut outputs, install them in one manifest edit.
//! - [`picker`]: which files to compact next (a pure function of the file lists, the files
//!   already being compacted and the per-level round-robin cursors); also the level scores that
//!   stats and write backpressure read.
//!
//! Invariants every compaction keeps (the picker chooses inputs so that they hold):
//! - a file is input to at most one running compaction;
//! - two running compactions never write overlapping user-key ranges into the same level, and
//!   never write into a range of a level that another running compaction is emptying;
//! - after a compaction no file left in the source level (or, for level 0, an older file) holds a
//!   version of a key in the compaction's range, so newer versions never end up below older
//!   ones.

pub(crate) mod job;
pub(crate) mod picker;
pub(crate) mod scheduler;
pub(crate) mod stripes;
