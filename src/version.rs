//! `Version`: an immutable picture of which SSTables are live at each level, with each table
//! open and ready to read. Readers clone an `Arc<Version>` and keep reading it while flushes
//! install newer versions beside it.
//!
//! Invariants: level 0 is ordered newest first (the newest table holds the newest versions of
//! its keys); levels 1 to 3 are sorted by smallest key and do not overlap. A version never
//! changes after it is built; `apply` builds the next one.

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::fs::table_path;
use crate::key::{SequenceNumber, compare_internal_keys, user_key};
use crate::manifest::{FileMetadata, ManifestState, NUM_LEVELS, VersionEdit};
use crate::sstable::Table;

/// A live SSTable: its manifest record and the open table.
#[derive(Clone)]
pub(crate) struct TableHandle {
    pub metadata: FileMetadata,
    pub table: Table,
}

impl TableHandle {
    /// Whether the table's key range may hold `key` (a user key).
    pub fn covers(&self, key: &[u8]) -> bool {
        user_key(&self.metadata.smallest) <= key && key <= user_key(&self.metadata.largest)
    }
}

/// The live tables of every level. See the module documentation.
#[derive(Clone, Default)]
pub(crate) struct Version {
    pub levels: [Vec<Arc<TableHandle>>; NUM_LEVELS],
}

impl Version {
    /// Opens every table the manifest state lists.
    pub fn open(
        dir: &Path,
        state: &ManifestState,
        open_table: impl Fn(&Path, &FileMetadata) -> Result<Table>,
    ) -> Result<Version> {
        let mut version = Version::default();
        for (level, files) in state.levels.iter().enumerate() {
            for metadata in files {
                let table = open_table(&table_path(dir, metadata.number), metadata)?;
                version.levels[level].push(Arc::new(TableHandle {
                    metadata: metadata.clone(),
                    table,
                }));
            }
        }
        version.sort_levels();
        Ok(version)
    }

    /// The next version: this one with `edit`'s deletions and additions (`added` holds the
    /// opened tables of `edit.new_files`, in the same order).
    pub fn apply(&self, edit: &VersionEdit, added: Vec<TableHandle>) -> Version {
        let mut next = self.clone();
        for (level, number) in &edit.deleted_files {
            next.levels[*level].retain(|handle| handle.metadata.number != *number);
        }
        for ((level, _), handle) in edit.new_files.iter().zip(added) {
            next.levels[*level].push(Arc::new(handle));
        }
        next.sort_levels();
        next
    }

    fn sort_levels(&mut self) {
        let (level0, deeper) = self.levels.split_at_mut(1);
        level0[0].sort_by(|a, b| {
            b.metadata
                .largest_sequence
                .cmp(&a.metadata.largest_sequence)
                .then(b.metadata.number.cmp(&a.metadata.number))
        });
        for level in deeper {
            level.sort_by(|a, b| compare_internal_keys(&a.metadata.smallest, &b.metadata.smallest));
        }
    }

    /// The tables that may hold `key`, in the order a point read must consult them: level 0
    /// newest first, then at most one table per deeper level.
    pub fn tables_for_key<'a>(
        &'a self,
        key: &'a [u8],
    ) -> impl Iterator<Item = &'a Arc<TableHandle>> + 'a {
        let level0 = self.levels[0]
            .iter()
            .filter(move |handle| handle.covers(key));
        let deeper = self.levels[1..].iter().filter_map(move |level| {
            // Tables in a deeper level are disjoint and sorted: find the first whose largest
            // user key is >= key.
            let index = level.partition_point(|handle| user_key(&handle.metadata.largest) < key);
            level.get(index).filter(|handle| handle.covers(key))
        });
        level0.chain(deeper)
    }

    /// Every table, level by level.
    pub fn all_tables(&self) -> impl Iterator<Item = (usize, &Arc<TableHandle>)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(level, tables)| tables.iter().map(move |handle| (level, handle)))
    }

    /// Number of files and bytes per level.
    pub fn level_summary(&self) -> [(usize, u64); NUM_LEVELS] {
        let mut summary = [(0, 0); NUM_LEVELS];
        for (level, tables) in self.levels.iter().enumerate() {
            summary[level] = (
                tables.len(),
                tables.iter().map(|handle| handle.metadata.file_size).sum(),
            );
        }
        summary
    }

    /// The largest sequence number in any table.
    #[allow(dead_code)]
    pub fn largest_sequence(&self) -> SequenceNumber {
        self.all_tables()
            .map(|(_, handle)| handle.metadata.largest_sequence)
            .max()
            .unwrap_or_default()
    }
}
