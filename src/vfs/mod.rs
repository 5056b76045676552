//! The file-I/O seam: every file operation of the engine goes through a [`FileSystem`], so that
//! tests (and users) can swap the real one for [`FaultFileSystem`], which injects failures,
//! full disks, torn writes and power loss.
//!
//! The interface is small on purpose: create a file for writing, read a whole file, map a
//! finished file for random-access reads, rename, remove, list a directory, sync a directory,
//! create a directory, lock a file. Methods return [`std::io::Result`] so that the error kind
//! (`StorageFull`, `NotFound`, `WouldBlock`) survives; the engine wraps errors with the path.
//!
//! Durability contract an implementation must honour (and [`FaultFileSystem`] models): bytes
//! written to a [`WritableFile`] are durable only once its `sync_data`/`sync_all` returns `Ok`;
//! a file's existence, a rename and a removal are durable only once the directory is synced
//! with [`FileSystem::sync_dir`].

mod fault;
mod os;

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};

pub use fault::{FaultFileSystem, FaultStats, FileClass, PowerLossModel};
pub use os::OsFileSystem;

use crate::value::SharedBuffer;

/// The bytes of a whole file, read-only and shareable between threads: a memory map for the
/// operating system's file system. Blocks read from a table point into these bytes.
pub type FileBytes = SharedBuffer;

/// A file open for writing at a position (the end of what was written so far, or the start
/// after [`seek`](Self::seek)). Not shared between threads; the engine serialises its writers.
pub trait WritableFile: Send + Debug {
    /// Writes all of `bytes` at the current position with one call and moves the position past
    /// them. On error an unknown prefix of `bytes` may have been written.
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Moves the position to `offset` bytes from the start; later writes overwrite from there.
    fn seek(&mut self, offset: u64) -> io::Result<()>;
    /// Makes the file's bytes durable (`fdatasync`). A failure means the bytes written since
    /// the last successful sync may be lost; it must never be retried as if it had worked.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Makes the file's bytes and metadata (its length) durable (`fsync`).
    fn sync_all(&mut self) -> io::Result<()>;
}

/// A lock on a file, held until this value is dropped.
pub trait FileLock: Send + Sync + Debug {}

/// The file operations the engine uses. See the module documentation for the durability
/// contract. Implementations must be safe to share between threads.
pub trait FileSystem: Send + Sync + Debug {
    /// Creates the file at `path` for writing, truncating it if it exists. Its directory entry
    /// is durable only after [`sync_dir`](Self::sync_dir) on its directory.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Reads the whole file at `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Opens the finished file at `path` for random-access reads. The caller promises that the
    /// file is never written or truncated again while the bytes are alive (SSTables are
    /// immutable once finished); removing it is allowed.
    fn map(&self, path: &Path) -> io::Result<FileBytes>;
    /// Whether a file or directory exists at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// The length in bytes of the file at `path`.
    fn file_size(&self, path: &Path) -> io::Result<u64>;
    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file at `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// The names of the entries of directory `dir` (not the paths), in no particular order.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Makes the entries of `dir` (files created, renamed or removed in it) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Creates `dir` and its missing parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on the file at `path` (creating it if missing). Fails with
    /// `ErrorKind::WouldBlock` if another holder has it.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>>;
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
