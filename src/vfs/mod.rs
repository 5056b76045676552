//! The file-I/O seam: every file operation of the engine goes through a [`FileSystem`], so that
//! tests (and users) can swap the real one for [`FaultFileSystem`], which injects failures,
//! full disks, torn writes and power loss.
//!
//! The interface is small on purpose: create a file for writing, read a whole file, map a
//! finished file for random-access reads, rename, remove, hard-link a finished file, list a
//! directory, sync a directory, create a directory, lock a file; and, optionally, a
//! [`FileSync`] handle that syncs an open file from another thread while it is written
//! ([`WritableFile::sync_handle`]). [`copy_file`] copies through it (what
//! [`FileSystem::hard_link`] does by default, and what a caller falls back to when a link
//! fails). Methods return [`std::io::Result`] so that the error kind
//! (`StorageFull`, `NotFound`, `WouldBlock`) survives; the engine wraps errors with the path.
//!
//! Durability contract an implementation must honour (and [`FaultFileSystem`] models): bytes
//! written to a [`WritableFile`] are durable only once its `sync_data`/`sync_all` returns `Ok`;
//! a file's existence, a rename, a removal and a hard link's new name are durable only once
//! the directory is synced with [`FileSystem::sync_dir`]; a hard link shares its content with
//! the file it names, durable as far as that file's is.

mod fault;
mod file_system;
mod os;

pub use fault::{FaultFileSystem, FaultStats, FileClass, PowerLossModel};
pub(crate) use file_system::copy_file_prefix;
pub(crate) use file_system::parent_dir;
pub use file_system::{FileBytes, FileLock, FileSync, FileSystem, WritableFile, copy_file};
pub use os::OsFileSystem;
