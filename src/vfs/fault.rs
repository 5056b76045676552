//! [`FaultFileSystem`]: a [`FileSystem`] for tests that injects failures and simulates power
//! loss, over a real directory on disk (so that memory-mapped reads keep working).
//!
//! Every operation is applied to the real files at once. Beside them the fault file system
//! keeps a model of what would survive a power loss:
//! - per file, an undo log of every write since the file's last sync (the bytes each write
//!   overwrote and the length before it), so that reverting it restores exactly the content of
//!   the last sync — also for a preallocated write-ahead log overwritten in place;
//! - per directory, the entries (name → file) as of the directory's last sync. A file that was
//!   removed or replaced by a rename while an older synced entry still names it keeps its
//!   synced content aside until the directory is synced.
//!
//! [`FaultFileSystem::power_loss`] makes every later operation fail until
//! [`FaultFileSystem::restart`], and rewrites each known directory to its model: entries as of
//! the last directory sync, each file with its content as of its last sync (optionally plus a
//! random, seeded prefix of the writes since, with [`FaultFileSystem::set_torn_power_loss`]).
//! Files are replaced by new ones rather than truncated in place, so existing memory maps stay
//! valid. `sync_data`, `sync_all` and `sync_dir` update only the model: they do not call the
//! operating system's fsync, which keeps sweeps over hundreds of crash points fast.
//!
//! Thread-safety: one mutex guards the model and is held across each real operation, so a
//! power loss is atomic with respect to every write, sync and rename. The `LOCK` file is
//! locked through the operating system and is not part of the model.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::OsFileSystem;
use super::file_system::{FileBytes, FileLock, FileSystem, WritableFile, parent_dir};
use crate::fs::{FileKind, LOCK_FILE_NAME, parse_file_name};

/// Which files a fault applies to, by the kind their name shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileClass {
    /// Every file (and, for syncs, directories too).
    Any,
    /// `NNNNNN.wal` write-ahead logs.
    Wal,
    /// `NNNNNN.sst` tables.
    Table,
    /// `MANIFEST-NNNNNN` manifests.
    Manifest,
    /// `CURRENT`, and the `NNNNNN.tmp` files that replace it.
    Current,
    /// Exactly the file (or directory) at this path.
    Exactly(PathBuf),
}

impl FileClass {
    fn matches(&self, path: &Path) -> bool {
        if let FileClass::Exactly(exact) = self {
            return exact == path;
        }
        let kind = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(parse_file_name);
        matches!(
            (self, kind),
            (FileClass::Any, _)
                | (FileClass::Wal, Some(FileKind::Wal(_)))
                | (FileClass::Table, Some(FileKind::Table(_)))
                | (FileClass::Manifest, Some(FileKind::Manifest(_)))
                | (
                    FileClass::Current,
                    Some(FileKind::Current | FileKind::Temporary(_))
                )
        )
    }
}

/// Counters of a [`FaultFileSystem`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Mutating operations attempted: creates, writes, syncs, renames, removals, directory syncs.
    pub operations: u64,
    /// Writes that reached a file.
    pub writes: u64,
    /// File and directory syncs that succeeded.
    pub syncs: u64,
    /// Failures injected (countdowns, torn writes, disk full).
    pub injected_failures: u64,
    /// Simulated power losses.
    pub power_losses: u64,
}

/// A file system that fails on command and simulates power loss; see the module documentation.
/// Clones share the same state. Meant for tests of shaledb and of applications built on it:
/// put it in `Options::file_system`, and reopen with the same instance after
/// [`power_loss`](Self::power_loss) and [`restart`](Self::restart).
#[derive(Debug, Clone, Default)]
pub struct FaultFileSystem {
    shared: Arc<Mutex<State>>,
}

type FileId = u64;

/// One write (or truncation) since the file's last sync, enough to revert it.
#[derive(Debug)]
struct Undo {
    offset: u64,
    /// Bytes the write covered that existed before it (those before `old_length`).
    old: Vec<u8>,
    old_length: u64,
    /// Bytes the write wrote (0 for a truncation).
    written: u64,
}

#[derive(Debug, Default)]
struct FileRecord {
    /// Where the file is now; `None` once removed or replaced while a synced entry names it.
    live_path: Option<PathBuf>,
    length: u64,
    undo: Vec<Undo>,
    /// The synced content of a file that is no longer live.
    stashed: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
struct DirState {
    live: BTreeMap<String, FileId>,
    durable: BTreeMap<String, FileId>,
}

#[derive(Debug, Clone)]
struct Countdown {
    remaining: u64,
    class: FileClass,
}

impl Countdown {
    /// Counts a matching operation; true when it is the one that must fail.
    fn fires(slot: &mut Option<Countdown>, path: &Path) -> bool {
        let Some(countdown) = slot else {
            return false;
        };
        if !countdown.class.matches(path) {
            return false;
        }
        countdown.remaining = countdown.remaining.saturating_sub(1);
        if countdown.remaining == 0 {
            *slot = None;
            return true;
        }
        false
    }
}

#[derive(Debug, Default)]
struct State {
    dead: bool,
    /// The files that cannot be created or grow, while the disk is full.
    disk_full: Option<FileClass>,
    next_id: FileId,
    files: HashMap<FileId, FileRecord>,
    dirs: HashMap<PathBuf, DirState>,
    write_fault: Option<Countdown>,
    /// A write that panics instead of returning, as a bug in the caller's code would.
    panic_fault: Option<Countdown>,
    sync_fault: Option<Countdown>,
    rename_fault: Option<Countdown>,
    tear_fault: Option<(Countdown, usize)>,
    crash_countdown: Option<u64>,
    /// xorshift state for torn power losses; `None` keeps exactly the synced content.
    torn_random: Option<u64>,
    /// How long each sync takes, to simulate a slow device.
    sync_latency: std::time::Duration,
    stats: FaultStats,
}

fn power_loss_error() -> io::Error {
    io::Error::other("simulated power loss: the file system is unusable until restart()")
}

fn disk_full_error() -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, "simulated disk full")
}

fn injected_error(what: &str, path: &Path) -> io::Error {
    io::Error::other(format!("injected {what} failure on {}", path.display()))
}

fn split_path(path: &Path) -> (PathBuf, String) {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    (parent_dir(path), name)
}

/// Reverts `undo` on `bytes`, keeping the first `keep` bytes the write wrote.
fn revert(bytes: &mut Vec<u8>, undo: &Undo, keep: u64) {
    let keep = keep.min(undo.written);
    let start = (undo.offset + keep) as usize;
    let old_start = keep as usize;
    if let Some(old_rest) = undo.old.get(old_start..) {
        let end = start + old_rest.len();
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(old_rest);
    }
    let length = if keep == 0 {
        undo.old_length
    } else {
        undo.old_length.max(undo.offset + keep)
    };
    bytes.resize(length as usize, 0);
}

impl State {
    /// Counts a mutating operation: fails after a power loss, and triggers the one
    /// `crash_after_operations` asked for.
    fn begin_mutation(&mut self) -> io::Result<()> {
        if self.dead {
            return Err(power_loss_error());
        }
        match self.crash_countdown {
            Some(0) => {
                self.power_loss();
                return Err(power_loss_error());
            }
            Some(remaining) => self.crash_countdown = Some(remaining - 1),
            None => {}
        }
        self.stats.operations += 1;
        Ok(())
    }

    fn check_alive(&self) -> io::Result<()> {
        if self.dead {
            Err(power_loss_error())
        } else {
            Ok(())
        }
    }

    fn allocate_id(&mut self) -> FileId {
        self.next_id += 1;
        self.next_id
    }

    /// Starts tracking `dir`: every file in it now counts as synced, entry and content.
    fn know_dir(&mut self, dir: &Path) -> io::Result<()> {
        if self.dirs.contains_key(dir) {
            return Ok(());
        }
        let mut state = DirState::default();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name == LOCK_FILE_NAME || !entry.file_type()?.is_file() {
                continue;
            }
            let id = self.allocate_id();
            let record = FileRecord {
                live_path: Some(entry.path()),
                length: entry.metadata()?.len(),
                ..FileRecord::default()
            };
            self.files.insert(id, record);
            state.live.insert(name.clone(), id);
            state.durable.insert(name, id);
        }
        self.dirs.insert(dir.to_path_buf(), state);
        Ok(())
    }

    fn is_durably_named(&self, id: FileId) -> bool {
        self.dirs
            .values()
            .any(|dir| dir.durable.values().any(|&named| named == id))
    }

    /// The content `id` would have after a power loss now.
    fn durable_content(&mut self, id: FileId, torn: bool) -> Vec<u8> {
        let Some(record) = self.files.get(&id) else {
            return Vec::new();
        };
        if let Some(stashed) = &record.stashed {
            return stashed.clone();
        }
        let mut bytes = match &record.live_path {
            Some(path) => std::fs::read(path).unwrap_or_default(),
            None => Vec::new(),
        };
        let count = record.undo.len();
        // Writes before `cut` survive, write `cut` keeps its first `keep` bytes.
        let (mut cut, mut keep) = (0, 0);
        if torn && count > 0 {
            cut = self.random(count as u64 + 1) as usize;
            let written = self
                .files
                .get(&id)
                .and_then(|record| record.undo.get(cut))
                .map_or(0, |undo| undo.written);
            keep = self.random(written + 1);
        }
        let Some(record) = self.files.get(&id) else {
            return bytes;
        };
        for (index, undo) in record.undo.iter().enumerate().skip(cut).rev() {
            revert(&mut bytes, undo, if index == cut { keep } else { 0 });
        }
        bytes
    }

    /// A number below `bound` from the seeded generator (0 without one).
    fn random(&mut self, bound: u64) -> u64 {
        let Some(seed) = &mut self.torn_random else {
            return 0;
        };
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed % bound.max(1)
    }

    /// `id` stops being live: keep its synced content if a synced entry still names it.
    fn retire(&mut self, id: FileId) {
        if self.is_durably_named(id) {
            let content = self.durable_content(id, false);
            if let Some(record) = self.files.get_mut(&id) {
                record.stashed = Some(content);
                record.live_path = None;
                record.undo.clear();
            }
        } else {
            self.files.remove(&id);
        }
    }

    fn power_loss(&mut self) {
        self.dead = true;
        self.stats.power_losses += 1;
        let torn = self.torn_random.is_some();
        let dirs: Vec<PathBuf> = self.dirs.keys().cloned().collect();
        let mut images = Vec::new();
        for dir in &dirs {
            let durable: Vec<(String, FileId)> = self.dirs[dir]
                .durable
                .iter()
                .map(|(name, &id)| (name.clone(), id))
                .collect();
            for (name, id) in durable {
                let content = self.durable_content(id, torn);
                images.push((dir.clone(), name, content));
            }
        }
        for (dir, state) in &self.dirs {
            for name in state.live.keys() {
                let _ = std::fs::remove_file(dir.join(name));
            }
        }
        self.files.clear();
        for state in self.dirs.values_mut() {
            state.live.clear();
            state.durable.clear();
        }
        for (dir, name, content) in images {
            let path = dir.join(&name);
            // The model is the truth from here on; a failure to rewrite the real file would
            // only make the simulation less faithful, and the next open reports what it finds.
            let _ = std::fs::write(&path, &content);
            self.next_id += 1;
            let id = self.next_id;
            let record = FileRecord {
                live_path: Some(path),
                length: content.len() as u64,
                ..FileRecord::default()
            };
            self.files.insert(id, record);
            if let Some(state) = self.dirs.get_mut(&dir) {
                state.live.insert(name.clone(), id);
                state.durable.insert(name, id);
            }
        }
    }
}

impl FaultFileSystem {
    /// A fault file system with no faults armed.
    pub fn new() -> Self {
        FaultFileSystem::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes every later sync take `latency` before it completes, to simulate a slow device
    /// (syncs are otherwise instant here: they only update the model of what is durable).
    pub fn set_sync_latency(&self, latency: std::time::Duration) {
        self.state().sync_latency = latency;
    }

    /// Makes the `nth` write (1 = the next) to a file of `class` from now fail, writing nothing.
    pub fn fail_write(&self, nth: u64, class: FileClass) {
        self.state().write_fault = Some(Countdown {
            remaining: nth.max(1),
            class,
        });
    }

    /// Makes the `nth` write (1 = the next) to a file of `class` from now panic, writing
    /// nothing: the engine must survive a panic in any thread that writes (a bug, or a panic in
    /// a user's `FileSystem`) by refusing writes with an error, never by hanging.
    pub fn panic_on_write(&self, nth: u64, class: FileClass) {
        self.state().panic_fault = Some(Countdown {
            remaining: nth.max(1),
            class,
        });
    }

    /// Makes the `nth` sync (1 = the next) of a file of `class` fail; with `FileClass::Any`,
    /// directory syncs count too. The bytes written since the last sync stay unsynced.
    pub fn fail_sync(&self, nth: u64, class: FileClass) {
        self.state().sync_fault = Some(Countdown {
            remaining: nth.max(1),
            class,
        });
    }

    /// Makes the `nth` rename (1 = the next) whose source or target is of `class` fail.
    pub fn fail_rename(&self, nth: u64, class: FileClass) {
        self.state().rename_fault = Some(Countdown {
            remaining: nth.max(1),
            class,
        });
    }

    /// Makes the `nth` write (1 = the next) to a file of `class` write only its first `keep`
    /// bytes and then fail: a torn write.
    pub fn tear_write(&self, nth: u64, class: FileClass, keep: usize) {
        let countdown = Countdown {
            remaining: nth.max(1),
            class,
        };
        self.state().tear_fault = Some((countdown, keep));
    }

    /// With `Some(class)` the disk is full for files of `class` (`FileClass::Any`: for every
    /// file): creating one, and any write that would make one longer, fail with
    /// `ErrorKind::StorageFull`; overwriting bytes a file already has (a preallocated log)
    /// still works, as on a real disk. `None` frees the space.
    pub fn set_disk_full(&self, class: Option<FileClass>) {
        self.state().disk_full = class;
    }

    /// Disarms every countdown and clears the disk-full flag.
    pub fn clear_faults(&self) {
        let mut state = self.state();
        state.write_fault = None;
        state.panic_fault = None;
        state.sync_fault = None;
        state.rename_fault = None;
        state.tear_fault = None;
        state.crash_countdown = None;
        state.disk_full = None;
    }

    /// Simulates power loss now: see the module documentation. Every later operation fails
    /// until [`restart`](Self::restart); drop the database before restarting.
    pub fn power_loss(&self) {
        self.state().power_loss();
    }

    /// Lets `operations` more mutating operations happen; the one after them triggers
    /// [`power_loss`](Self::power_loss) and fails. This picks a crash point deterministically
    /// for a single-threaded workload.
    pub fn crash_after_operations(&self, operations: u64) {
        self.state().crash_countdown = Some(operations);
    }

    /// With `Some(seed)`, a power loss keeps a random prefix of each file's writes since its
    /// last sync (possibly cutting a write in the middle), chosen by a generator seeded with
    /// `seed`; with `None` (the default) it keeps exactly the synced content.
    pub fn set_torn_power_loss(&self, seed: Option<u64>) {
        // xorshift needs a non-zero state.
        self.state().torn_random = seed.map(|seed| seed | 1);
    }

    /// The machine comes back after a power loss: operations work again, and every fault
    /// countdown and the disk-full flag are cleared.
    pub fn restart(&self) {
        self.clear_faults();
        self.state().dead = false;
    }

    /// Whether a power loss happened and [`restart`](Self::restart) was not called yet.
    pub fn is_dead(&self) -> bool {
        self.state().dead
    }

    /// The counters so far.
    pub fn stats(&self) -> FaultStats {
        self.state().stats
    }

    /// Whether the file at `path` would survive a power loss now with its current content: its
    /// directory entry was synced and it has no unsynced writes.
    pub fn is_durable(&self, path: &Path) -> bool {
        let state = self.state();
        let (dir, name) = split_path(path);
        let Some(dir_state) = state.dirs.get(&dir) else {
            return path.is_file();
        };
        match (dir_state.live.get(&name), dir_state.durable.get(&name)) {
            (Some(live), Some(durable)) if live == durable => state
                .files
                .get(live)
                .is_some_and(|record| record.undo.is_empty()),
            _ => false,
        }
    }
}

/// A file opened for writing through a [`FaultFileSystem`].
#[derive(Debug)]
struct FaultWritableFile {
    shared: Arc<Mutex<State>>,
    id: FileId,
    path: PathBuf,
    file: File,
    position: u64,
}

impl FaultWritableFile {
    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records what a write of `length` bytes at the position overwrites, then writes it.
    fn write_tracked(&self, state: &mut State, bytes: &[u8]) -> io::Result<()> {
        if let Some(record) = state.files.get_mut(&self.id) {
            let end = self.position + bytes.len() as u64;
            let overlap_end = end.min(record.length);
            let mut old = vec![0; overlap_end.saturating_sub(self.position) as usize];
            self.file.read_exact_at(&mut old, self.position)?;
            record.undo.push(Undo {
                offset: self.position,
                old,
                old_length: record.length,
                written: bytes.len() as u64,
            });
            record.length = record.length.max(end);
        }
        self.file.write_all_at(bytes, self.position)?;
        state.stats.writes += 1;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        // A slow device: the sync completes (and the data becomes durable) only after the
        // latency, so a power loss during it still drops the data. The lock is not held while
        // waiting, so syncs of different files overlap as they do on a real device.
        let latency = shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .sync_latency;
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        let mut state = shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.begin_mutation()?;
        if Countdown::fires(&mut state.sync_fault, &self.path) {
            state.stats.injected_failures += 1;
            return Err(injected_error("sync", &self.path));
        }
        if let Some(record) = state.files.get_mut(&self.id) {
            record.undo.clear();
        }
        state.stats.syncs += 1;
        Ok(())
    }
}

impl WritableFile for FaultWritableFile {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        let mut state = shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.begin_mutation()?;
        if Countdown::fires(&mut state.write_fault, &self.path) {
            state.stats.injected_failures += 1;
            return Err(injected_error("write", &self.path));
        }
        if Countdown::fires(&mut state.panic_fault, &self.path) {
            state.stats.injected_failures += 1;
            drop(state);
            panic!("injected panic writing {}", self.path.display());
        }
        let length = state.files.get(&self.id).map_or(0, |record| record.length);
        let full = state
            .disk_full
            .as_ref()
            .is_some_and(|class| class.matches(&self.path));
        if full && self.position + bytes.len() as u64 > length {
            state.stats.injected_failures += 1;
            return Err(disk_full_error());
        }
        let tear = match &mut state.tear_fault {
            Some((countdown, keep)) => {
                let keep = *keep;
                let mut slot = Some(countdown.clone());
                let fires = Countdown::fires(&mut slot, &self.path);
                match slot {
                    Some(left) => *countdown = left,
                    None => state.tear_fault = None,
                }
                fires.then_some(keep)
            }
            None => None,
        };
        if let Some(keep) = tear {
            let prefix = bytes.get(..keep.min(bytes.len())).unwrap_or_default();
            self.write_tracked(&mut state, prefix)?;
            state.stats.injected_failures += 1;
            return Err(io::Error::other(format!(
                "injected torn write on {}: {} of {} bytes written",
                self.path.display(),
                prefix.len(),
                bytes.len()
            )));
        }
        self.write_tracked(&mut state, bytes)?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    fn seek(&mut self, offset: u64) -> io::Result<()> {
        self.state().check_alive()?;
        self.position = offset;
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.sync()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.sync()
    }
}

impl FileSystem for FaultFileSystem {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let mut state = self.state();
        state.begin_mutation()?;
        if state
            .disk_full
            .as_ref()
            .is_some_and(|class| class.matches(path))
        {
            state.stats.injected_failures += 1;
            return Err(disk_full_error());
        }
        let (dir, name) = split_path(path);
        state.know_dir(&dir)?;
        let existing = state.dirs.get(&dir).and_then(|dir| dir.live.get(&name));
        let existing = existing.copied();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let id = match existing.filter(|id| state.files.contains_key(id)) {
            Some(id) => {
                // Truncating an existing file is a write that the next sync makes durable.
                let mut old = Vec::new();
                if let Some(record) = state.files.get(&id) {
                    old = vec![0; record.length as usize];
                    file.read_exact_at(&mut old, 0)?;
                }
                if let Some(record) = state.files.get_mut(&id) {
                    let old_length = record.length;
                    record.undo.push(Undo {
                        offset: 0,
                        old,
                        old_length,
                        written: 0,
                    });
                    record.length = 0;
                }
                id
            }
            None => {
                let id = state.allocate_id();
                let record = FileRecord {
                    live_path: Some(path.to_path_buf()),
                    ..FileRecord::default()
                };
                state.files.insert(id, record);
                if let Some(dir_state) = state.dirs.get_mut(&dir) {
                    dir_state.live.insert(name, id);
                }
                id
            }
        };
        file.set_len(0)?;
        Ok(Box::new(FaultWritableFile {
            shared: Arc::clone(&self.shared),
            id,
            path: path.to_path_buf(),
            file,
            position: 0,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.state().check_alive()?;
        std::fs::read(path)
    }

    fn map(&self, path: &Path) -> io::Result<FileBytes> {
        self.state().check_alive()?;
        OsFileSystem.map(path)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.state().check_alive()?;
        path.try_exists()
    }

    fn file_size(&self, path: &Path) -> io::Result<u64> {
        // Writes reach the real file at once, so its length is the file's current length.
        self.state().check_alive()?;
        std::fs::metadata(path).map(|metadata| metadata.len())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.begin_mutation()?;
        let fires = Countdown::fires(&mut state.rename_fault, from)
            || Countdown::fires(&mut state.rename_fault, to);
        if fires {
            state.stats.injected_failures += 1;
            return Err(injected_error("rename", to));
        }
        let (from_dir, from_name) = split_path(from);
        let (to_dir, to_name) = split_path(to);
        state.know_dir(&from_dir)?;
        state.know_dir(&to_dir)?;
        std::fs::rename(from, to)?;
        let moved = state
            .dirs
            .get_mut(&from_dir)
            .and_then(|dir| dir.live.remove(&from_name));
        let replaced = match (moved, state.dirs.get_mut(&to_dir)) {
            (Some(id), Some(dir)) => dir.live.insert(to_name, id),
            _ => None,
        };
        if let Some(record) = moved.and_then(|id| state.files.get_mut(&id)) {
            record.live_path = Some(to.to_path_buf());
        }
        if let Some(replaced) = replaced {
            state.retire(replaced);
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.begin_mutation()?;
        let (dir, name) = split_path(path);
        state.know_dir(&dir)?;
        std::fs::remove_file(path)?;
        let removed = state
            .dirs
            .get_mut(&dir)
            .and_then(|dir| dir.live.remove(&name));
        if let Some(id) = removed {
            state.retire(id);
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.state().check_alive()?;
        OsFileSystem.list(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.begin_mutation()?;
        if Countdown::fires(&mut state.sync_fault, dir) {
            state.stats.injected_failures += 1;
            return Err(injected_error("directory sync", dir));
        }
        state.know_dir(dir)?;
        let Some(dir_state) = state.dirs.get_mut(dir) else {
            return Ok(());
        };
        let dropped: Vec<FileId> = dir_state
            .durable
            .values()
            .copied()
            .filter(|id| !dir_state.live.values().any(|live| live == id))
            .collect();
        dir_state.durable = dir_state.live.clone();
        for id in dropped {
            let live = state.files.get(&id).is_some_and(|r| r.live_path.is_some());
            if !live && !state.is_durably_named(id) {
                state.files.remove(&id);
            }
        }
        state.stats.syncs += 1;
        Ok(())
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.state().check_alive()?;
        std::fs::create_dir_all(dir)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.state().check_alive()?;
        OsFileSystem.lock(path)
    }
}
