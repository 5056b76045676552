//! Fuzz checks for the sstable format (filled in with the sstable work).
