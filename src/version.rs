//! `Version`: an immutable picture of which SSTables are live at each level, with each table
//! open and ready to read. Readers clone an `Arc<Version>` and keep reading it while flushes
//! install newer versions beside it.
//!
//! Invariants: level 0 is ordered newest first (the newest table holds the newest versions of
//! its keys); levels 1 to 3 are sorted by smallest key and do not overlap. A version never
//! changes after it is built; `apply` builds the next one.
//!
//! Files are reference-counted through their `Arc<TableHandle>`: a table that an edit removes
//! is marked obsolete, and its file is deleted when the last version, read view or iterator
//! holding it lets go — never while a reader may still use it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::cache::BlockCache;
use crate::error::Result;
use crate::fs::table_path;
use crate::key::{SequenceNumber, compare_internal_keys, user_key};
use crate::manifest::{FileMetadata, ManifestState, NUM_LEVELS, VersionEdit};
use crate::range_tombstone::Fragments;
use crate::sstable::{Block, Table};
use crate::vfs::FileSystem;

/// A live SSTable: its manifest record and the open table. Deletes its file when dropped after
/// an edit removed it (see the module documentation).
pub(crate) struct TableHandle {
    pub metadata: FileMetadata,
    pub table: Table,
    path: PathBuf,
    file_system: Arc<dyn FileSystem>,
    cache: Option<Arc<BlockCache<Block>>>,
    obsolete: AtomicBool,
}

impl Drop for TableHandle {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            // A failure leaves an unreferenced file that the next open removes.
            let _ = self.file_system.remove(&self.path);
            if let Some(cache) = &self.cache {
                cache.remove_file(self.metadata.number);
            }
        }
    }
}

impl TableHandle {
    /// A handle for `table`, the file at `path` of `file_system` described by `metadata`, whose
    /// blocks may sit in `cache`.
    pub fn new(
        metadata: FileMetadata,
        table: Table,
        path: PathBuf,
        file_system: Arc<dyn FileSystem>,
        cache: Option<Arc<BlockCache<Block>>>,
    ) -> Self {
        TableHandle {
            metadata,
            table,
            path,
            file_system,
            cache,
            obsolete: AtomicBool::new(false),
        }
    }

    /// Marks the file for deletion once the last reference to this handle is dropped.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }

    /// Whether the table's key range may hold `key` (a user key). A largest key that is a
    /// range tombstone's end ([`range_end_key`](crate::key::range_end_key)) does not include its
    /// user key.
    pub fn covers(&self, key: &[u8]) -> bool {
        user_key(&self.metadata.smallest) <= key
            && compare_internal_keys(&self.metadata.largest, &lookup_key(key)).is_ge()
    }
}

/// An internal key after a range tombstone's end bound at `key` and before every entry of
/// `key`: (key, `SequenceNumber::MAX`, tombstone).
fn lookup_key(key: &[u8]) -> Vec<u8> {
    crate::key::internal_key(key, SequenceNumber::MAX, crate::key::ValueKind::Tombstone)
}

/// Opens table `metadata.number` of `dir` through `file_system`, with the block cache.
pub(crate) fn open_table_handle(
    file_system: &Arc<dyn FileSystem>,
    dir: &Path,
    metadata: FileMetadata,
    cache: &Arc<BlockCache<Block>>,
) -> Result<TableHandle> {
    let path = table_path(dir, metadata.number);
    let cache = Some(Arc::clone(cache));
    let table = Table::open_on(&**file_system, &path, metadata.number, cache.clone())?;
    let table = match metadata.global_sequence {
        Some(sequence) => table.at_global_sequence(sequence)?,
        None => table,
    };
    Ok(TableHandle::new(
        metadata,
        table,
        path,
        Arc::clone(file_system),
        cache,
    ))
}

/// The live tables of every level. See the module documentation.
#[derive(Clone, Default)]
pub(crate) struct Version {
    pub levels: [Vec<Arc<TableHandle>>; NUM_LEVELS],
    /// The range tombstones of every table, fragmented together by the first reader that
    /// asks ([`range_tombstones`](Self::range_tombstones)); a version never changes, so
    /// neither do they.
    range_tombstones: OnceLock<Arc<Fragments>>,
}

impl Version {
    /// Opens every table of `levels` (one keyspace's, as the manifest lists them).
    pub fn open(
        file_system: &Arc<dyn FileSystem>,
        dir: &Path,
        levels: &[Vec<FileMetadata>; NUM_LEVELS],
        cache: &Arc<BlockCache<Block>>,
    ) -> Result<Version> {
        let mut version = Version::default();
        for (level, files) in levels.iter().enumerate() {
            for metadata in files {
                let handle = open_table_handle(file_system, dir, metadata.clone(), cache)?;
                version.levels[level].push(Arc::new(handle));
            }
        }
        version.sort_levels();
        Ok(version)
    }

    /// The next version: this one with `edit`'s deletions and additions (`added` holds the
    /// handles of `edit.new_files`, in the same order; a file moved between levels keeps its
    /// handle). Removed files that are not re-added are marked obsolete.
    pub fn apply(&self, edit: &VersionEdit, added: Vec<Arc<TableHandle>>) -> Version {
        let mut next = self.clone();
        next.range_tombstones = OnceLock::new();
        let mut removed = Vec::new();
        for (level, number) in &edit.deleted_files {
            next.levels[*level].retain(|handle| {
                let keep = handle.metadata.number != *number;
                if !keep {
                    removed.push(Arc::clone(handle));
                }
                keep
            });
        }
        for ((level, _), handle) in edit.new_files.iter().zip(added) {
            next.levels[*level].push(handle);
        }
        for handle in removed {
            if !edit
                .new_files
                .iter()
                .any(|(_, file)| file.number == handle.metadata.number)
            {
                handle.mark_obsolete();
            }
        }
        next.sort_levels();
        next
    }

    /// Opens the tables of every keyspace `state` lists: a version per keyspace.
    pub fn open_all(
        file_system: &Arc<dyn FileSystem>,
        dir: &Path,
        state: &ManifestState,
        cache: &Arc<BlockCache<Block>>,
    ) -> Result<std::collections::BTreeMap<crate::key::KeyspaceId, Arc<Version>>> {
        let mut versions = std::collections::BTreeMap::new();
        for (&id, keyspace) in &state.keyspaces {
            let version = Version::open(file_system, dir, &keyspace.levels, cache)?;
            versions.insert(id, Arc::new(version));
        }
        Ok(versions)
    }

    /// The range tombstones of every table of this version, fragmented together (computed
    /// once per version: iterators need them all, and a version's tables never change).
    pub fn range_tombstones(&self) -> Arc<Fragments> {
        let merged = self.range_tombstones.get_or_init(|| {
            Arc::new(Fragments::merge(
                self.all_tables()
                    .map(|(_, handle)| handle.table.range_tombstones().as_ref()),
            ))
        });
        Arc::clone(merged)
    }

    /// The handle of live file `number`, if any level holds it.
    pub fn find(&self, number: crate::key::FileNumber) -> Option<&Arc<TableHandle>> {
        self.all_tables()
            .map(|(_, handle)| handle)
            .find(|handle| handle.metadata.number == number)
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
            // key is at or after the key's first entry.
            let lookup = lookup_key(key);
            let index = level.partition_point(|handle| {
                compare_internal_keys(&handle.metadata.largest, &lookup).is_lt()
            });
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
