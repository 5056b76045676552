//! `Db::checkpoint`: a consistent, openable copy of an open database in a new directory, made
//! of hard links wherever it can be.
//!
//! What the checkpoint directory receives:
//! - every table of the current version, hard-linked ([`FileSystem::hard_link`]), or copied
//!   when linking fails (another file system, a file system that cannot link). A table never
//!   changes after it is finished, so a link is a copy that costs no bytes: a later compaction
//!   in the source removes only the source's name, and the checkpoint's name keeps the file;
//! - the write-ahead log of each frozen memtable, whole (linked, or copied): a frozen log is
//!   finished and was synced when the memtable was frozen, and is never written again;
//! - the first `end` bytes of the live write-ahead log, copied and synced: the source goes on
//!   appending to it, so it cannot be linked (a link would share the later writes);
//! - a manifest holding one snapshot of the state — the tables, the counters, and the logs it
//!   carries, the live one recorded as finished at `end` — and `CURRENT` naming it, written last.
//!
//! **One sequence number.** The point is frozen with the commit leader's `wal` lock held, and
//! `state` under it (the engine's lock order). The leader holds `wal` from its log write to its
//! memtable inserts, so with it held no group is half done: the live log's logical end is the
//! end of whole groups, and every write up to the last sequence number handed out is in that
//! log's prefix, in a frozen memtable's log, or in a table of the current version (a flush
//! swaps a frozen memtable for its table in one update under `state`). The tables, logs and
//! manifest state recorded together therefore hold exactly the writes up to that sequence
//! number, whole batches only, and recovery of the checkpoint replays them like a restart of
//! the source would. Everything acknowledged before `checkpoint` was called is in it, synced
//! or not. The locks are held for a few field reads and no I/O; writers wait for nothing else.
//!
//! Nothing may vanish while the files are copied without a lock: the recorded version is held
//! (its tables are deleted only when the last holder drops it, `version.rs`), and while a
//! checkpoint runs a flush leaves the log it made obsolete for the checkpoint to delete when it
//! ends (`EngineState::may_delete_log`), since that log may be the one being copied.
//!
//! **Durability.** Copies are synced as they are written; a linked file is as durable as the
//! source's (a table is synced before a manifest names it, a frozen log when its memtable was
//! frozen); the manifest writer syncs the manifest and the directory, and `CURRENT` is replaced
//! atomically with a last directory sync — so when `checkpoint` returns, a power loss keeps the
//! whole checkpoint. The directory's own entry is synced in its parent first (and so is each
//! missing parent the checkpoint creates).
//! `CURRENT` comes last: a checkpoint that fails or is interrupted leaves no `CURRENT`, and a
//! directory of tables without one never opens as a database (FORMAT.md 6.6). A checkpoint
//! that fails removes the files it made and leaves the directory, empty, to be used again.
//!
//! A database opened read-only has no commit leader to freeze, and its files may be changed by
//! a writer beside it: it refuses with `Error::ReadOnly`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{Engine, lock};
use crate::error::{Error, Result};
use crate::fs::{
    CURRENT_FILE_NAME, manifest_path, remove_file, sync_dir, table_path, temporary_path, wal_path,
};
use crate::key::{FileNumber, SequenceNumber};
use crate::manifest::{ManifestState, ManifestWriter, WalMetadata, write_current_on};
use crate::version::Version;
use crate::vfs::{FileSystem, copy_file, copy_file_prefix, parent_dir};

/// What [`Db::checkpoint`](crate::Db::checkpoint) made.
///
/// ```
/// use shaledb::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// db.put(b"in-a-table", b"v")?;
/// db.flush()?;
/// db.put(b"in-the-log", b"v")?;
/// let report = db.checkpoint(dir.path().join("backup"))?;
/// assert_eq!(report.tables, 1); // linked (or copied, on another file system)
/// assert_eq!(report.files_linked + report.files_copied, 2); // the table and the live log's prefix
/// assert_eq!(report.sequence, db.snapshot().sequence());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointReport {
    /// The checkpoint holds every write up to this sequence number and none after it.
    pub sequence: SequenceNumber,
    /// Tables in the checkpoint.
    pub tables: u64,
    /// Bytes of those tables.
    pub table_bytes: u64,
    /// Write-ahead logs in the checkpoint: one per frozen memtable, and the live one's prefix.
    pub logs: u64,
    /// Files that [`FileSystem::hard_link`] gave a second name (with a file system that keeps
    /// the trait's default, which copies, these are copies too).
    pub files_linked: u64,
    /// Files copied: the live log's prefix, and every file whose link failed.
    pub files_copied: u64,
    /// Bytes written by those copies.
    pub bytes_copied: u64,
}

/// The state a checkpoint copies, recorded at one point (see the module documentation).
struct Point {
    /// The manifest's state then: tables per level, counters, recorded logs.
    manifest: ManifestState,
    /// The version then, held so that no table of it is deleted before it is linked.
    _versions: Vec<Arc<Version>>,
    /// The logs of the frozen memtables, oldest first.
    frozen_logs: Vec<FileNumber>,
    /// The live log and the logical end of its records then.
    live_log: FileNumber,
    live_log_end: u64,
    sequence: SequenceNumber,
}

/// Counts a checkpoint as running (see `EngineState::may_delete_log`) until dropped; then, if
/// it was the last one, deletes the logs flushes made obsolete meanwhile.
struct Running<'a> {
    engine: &'a Engine,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let kept = {
            let mut state = lock(&self.engine.state);
            state.checkpoints_running -= 1;
            if state.checkpoints_running > 0 {
                return;
            }
            std::mem::take(&mut state.logs_kept_for_checkpoints)
        };
        for number in kept {
            // A failure leaves an obsolete log, which the next open removes.
            let _ = remove_file(
                self.engine.file_system(),
                &wal_path(&self.engine.dir, number),
            );
        }
    }
}

/// See [`Db::checkpoint`](crate::Db::checkpoint).
pub(crate) fn checkpoint(engine: &Engine, destination: &Path) -> Result<CheckpointReport> {
    engine.check_open()?;
    if engine.read_only {
        return Err(Error::ReadOnly(
            "a checkpoint needs the consistent point of a database opened with Db::open; this \
             one was opened read-only (Db::open_read_only)"
                .into(),
        ));
    }
    let file_system = engine.file_system();
    prepare_destination(file_system, destination)?;
    let mut copy = Copier {
        file_system,
        destination,
        made: Vec::new(),
        report: CheckpointReport::default(),
    };
    let copied = freeze_point(engine).and_then(|(point, running)| {
        let written = copy
            .files(engine, &point)
            .and_then(|()| copy.manifest(&point));
        drop(running);
        written.map(|()| point.sequence)
    });
    match copied {
        Ok(sequence) => Ok(CheckpointReport {
            sequence,
            ..copy.report
        }),
        Err(error) => {
            // The directory stays, empty, and may be used again.
            copy.remove_made();
            Err(error)
        }
    }
}

/// Checks that `destination` is a new or empty directory, creating it and its missing parents
/// if it does not exist, and makes its entry (and each created parent's) durable.
fn prepare_destination(file_system: &dyn FileSystem, destination: &Path) -> Result<()> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |error| Error::io(path, error)
    };
    let mut missing = Vec::new();
    let mut dir = destination;
    while !file_system.exists(dir).map_err(io_error(dir))? {
        missing.push(dir);
        match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => dir = parent,
            _ => break,
        }
    }
    if missing.is_empty() {
        let entries = file_system
            .list(destination)
            .map_err(io_error(destination))?;
        if let Some(entry) = entries.first() {
            return Err(Error::InvalidArgument(format!(
                "the checkpoint directory {} is not empty (it holds {entry}, among {} entries): \
                 a checkpoint goes into a new or empty directory",
                destination.display(),
                entries.len()
            )));
        }
    } else {
        file_system
            .create_dir_all(destination)
            .map_err(io_error(destination))?;
    }
    // The directory's own entry, which an existing but new directory may not have durably yet.
    sync_dir(file_system, &parent_dir(destination))?;
    for created in missing.iter().skip(1) {
        sync_dir(file_system, &parent_dir(created))?;
    }
    Ok(())
}

/// Records the point the checkpoint copies, with the commit leader's log lock and the state
/// lock held (see the module documentation), and counts the checkpoint as running.
fn freeze_point(engine: &Engine) -> Result<(Point, Running<'_>)> {
    let wal = lock(&engine.wal);
    engine.check_writable()?;
    let Some(wal) = wal.as_ref() else {
        return Err(Error::opened_read_only());
    };
    let mut state = lock(&engine.state);
    debug_assert_eq!(wal.number, state.current_wal_number);
    let point = Point {
        manifest: state.versions.manifest_state().clone(),
        _versions: state
            .versions
            .all_current()
            .map(|(_, version)| Arc::clone(version))
            .collect(),
        frozen_logs: state
            .live_logs
            .keys()
            .copied()
            .filter(|&number| number < wal.number)
            .collect(),
        live_log: wal.number,
        live_log_end: wal.writer.offset(),
        sequence: wal.last_sequence,
    };
    state.checkpoints_running += 1;
    Ok((point, Running { engine }))
}

/// The files a checkpoint has made so far, and what it reports.
struct Copier<'a> {
    file_system: &'a dyn FileSystem,
    destination: &'a Path,
    made: Vec<PathBuf>,
    report: CheckpointReport,
}

impl Copier<'_> {
    /// Links or copies the tables and logs of `point` from `engine`'s directory.
    fn files(&mut self, engine: &Engine, point: &Point) -> Result<()> {
        for (_, table) in point.manifest.files() {
            self.link_or_copy(
                &table_path(&engine.dir, table.number),
                &table_path(self.destination, table.number),
            )?;
            self.report.tables += 1;
            self.report.table_bytes += table.file_size;
        }
        for &number in &point.frozen_logs {
            self.link_or_copy(
                &wal_path(&engine.dir, number),
                &wal_path(self.destination, number),
            )?;
            self.report.logs += 1;
        }
        let to = wal_path(self.destination, point.live_log);
        self.made.push(to.clone());
        let copied = copy_file_prefix(
            self.file_system,
            &wal_path(&engine.dir, point.live_log),
            &to,
            point.live_log_end,
        )
        .map_err(|error| Error::io(&to, error))?;
        if copied != point.live_log_end {
            return Err(Error::Io {
                path: Some(to),
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the live write-ahead log holds {copied} bytes, fewer than the {} \
                         written to it",
                        point.live_log_end
                    ),
                ),
            });
        }
        self.report.logs += 1;
        self.report.files_copied += 1;
        self.report.bytes_copied += copied;
        Ok(())
    }

    /// Gives `from` the name `to`, or copies it there when linking fails.
    fn link_or_copy(&mut self, from: &Path, to: &Path) -> Result<()> {
        let link_error = match self.file_system.hard_link(from, to) {
            Ok(()) => {
                self.made.push(to.to_path_buf());
                self.report.files_linked += 1;
                return Ok(());
            }
            Err(error) => error,
        };
        self.made.push(to.to_path_buf());
        match copy_file(self.file_system, from, to) {
            Ok(bytes) => {
                self.report.files_copied += 1;
                self.report.bytes_copied += bytes;
                Ok(())
            }
            Err(error) => Err(Error::io(
                to,
                io::Error::new(
                    error.kind(),
                    format!(
                        "linking {} failed ({link_error}), and so did copying it: {error}",
                        from.display()
                    ),
                ),
            )),
        }
    }

    /// Writes the checkpoint's manifest (a snapshot of `point`'s state naming exactly the tables
    /// and logs copied) and then `CURRENT`, each synced with the directory.
    fn manifest(&mut self, point: &Point) -> Result<()> {
        let mut state = point.manifest.clone();
        let mut wals: Vec<WalMetadata> = point
            .frozen_logs
            .iter()
            .filter_map(|&number| state.wal(number).copied())
            .collect();
        // The copy ends at the end of its records and is synced: a finished log, which never
        // was preallocated.
        wals.push(WalMetadata {
            number: point.live_log,
            preallocated_size: 0,
            synced_size: Some(point.live_log_end),
        });
        wals.sort_by_key(|wal| wal.number);
        // Above every file number in the checkpoint (a log the manifest missed included).
        let number = FileNumber(state.next_file_number.0.max(point.live_log.0 + 1));
        state.wals = wals;
        state.manifest_number = number;
        state.next_file_number = FileNumber(number.0 + 1);
        self.made.push(manifest_path(self.destination, number));
        ManifestWriter::create_on(self.file_system, self.destination, number, &state)?;
        self.made.push(temporary_path(self.destination, number));
        self.made.push(self.destination.join(CURRENT_FILE_NAME));
        write_current_on(self.file_system, self.destination, number)
    }

    /// Removes every file made so far (after a failure).
    fn remove_made(&self) {
        for path in &self.made {
            let _ = remove_file(self.file_system, path);
        }
    }
}
