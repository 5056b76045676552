//! Compaction: merging SSTables of one level into the next, so that reads consult few files and
//! overwritten or deleted data is dropped.
//!
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

#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "the compaction job and the engine (a parallel change) call the picker"
    )
)]
pub(crate) mod picker;
