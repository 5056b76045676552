//! The file-system interface itself: [`FileSystem`], [`WritableFile`], [`FileSync`],
//! [`FileLock`] and [`FileBytes`], and [`copy_file`], the copy that [`FileSystem::hard_link`]
//! falls back to. The module documentation of `vfs` states the durability contract every
//! implementation honours; `os.rs` and `fault.rs` are the two implementations.

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// A handle that syncs this file's data from another thread while writes go on through
    /// this one (for the operating system, a duplicate of its descriptor), or `None` when the
    /// implementation offers none, which is the default. The engine syncs a write-ahead log
    /// through it without holding up the commits behind the sync (`Db::sync_wal` and the
    /// background sync of `Db::write_durable`); without one it syncs with the log's writes
    /// held.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut file = OsFileSystem.create(&dir.path().join("log"))?;
    /// file.write_all(b"first")?;
    /// let handle = file.sync_handle()?.expect("the OS file system has sync handles");
    /// let syncer = std::thread::spawn(move || handle.sync_data()); // covers "first"
    /// file.write_all(b"second")?; // while the sync runs
    /// syncer.join().expect("the sync thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn sync_handle(&self) -> io::Result<Option<Arc<dyn FileSync>>> {
        Ok(None)
    }
    /// Preallocates a file that [`FileSystem::create`] has just returned, before anything was
    /// written to it: afterwards the file is `length` bytes long, every byte reads as zero, the
    /// disk space for all of them is reserved (a later write within them does not fail for
    /// lack of space), and the position is 0. Durable, like any length, once
    /// [`sync_all`](Self::sync_all) returns. The engine preallocates each write-ahead log this
    /// way (FORMAT.md 4.4).
    ///
    /// The default writes the zeros, in chunks, and seeks back to 0: correct for any file, but
    /// each byte is written twice (once as a zero). [`OsFileSystem`](super::OsFileSystem)
    /// reserves the space with Linux's `fallocate` instead, which writes no data, and falls
    /// back to the zeros where the file system does not support it.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("000001.wal");
    /// let mut file = OsFileSystem.create(&path)?;
    /// file.preallocate(64 << 10)?;
    /// file.write_all(b"header")?; // at offset 0, over the zeros
    /// file.sync_all()?;
    /// let bytes = std::fs::read(&path)?;
    /// assert_eq!(bytes.len(), 64 << 10);
    /// assert_eq!(&bytes[..6], b"header");
    /// assert!(bytes[6..].iter().all(|&byte| byte == 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn preallocate(&mut self, length: u64) -> io::Result<()> {
        write_zeros(self, length)?;
        self.seek(0)
    }
}

/// The size of the zero-filled chunks the default [`WritableFile::preallocate`] writes.
///
/// Small on purpose: Linux caches a file in folios as large as the writes that created them, and
/// each later small write into a large folio walks all of its blocks. Measured on ext4 (kernel
/// 6.18), a 130-byte record written over 1 MiB chunks of zeros took 1.5–2.0 µs, over 16 KiB
/// chunks 0.43–0.48 µs, the same as appending to an empty file.
const PREALLOCATION_CHUNK_SIZE: usize = 16 * 1024;

/// Writes `length` zero bytes to `file` at its position, in chunks.
pub(crate) fn write_zeros(file: &mut (impl WritableFile + ?Sized), length: u64) -> io::Result<()> {
    let chunk = vec![0u8; PREALLOCATION_CHUNK_SIZE];
    let mut remaining = length;
    while remaining > 0 {
        let step = remaining.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..step])?;
        remaining -= step as u64;
    }
    Ok(())
}

/// Syncs a file from any thread while its [`WritableFile`] goes on writing; see
/// [`WritableFile::sync_handle`].
pub trait FileSync: Send + Sync + Debug {
    /// Makes durable (`fdatasync`) at least every byte written to the file before this call
    /// began; bytes written while it runs may or may not be. A failure has the meaning it has
    /// for [`WritableFile::sync_data`]: never retry it as if it had worked.
    ///
    /// ```
    /// use shaledb::vfs::{FaultFileSystem, FileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let file_system = FaultFileSystem::new();
    /// let path = dir.path().join("000001.wal");
    /// let mut file = file_system.create(&path)?;
    /// file_system.sync_dir(dir.path())?;
    /// file.write_all(b"record")?;
    /// let handle = file.sync_handle()?.expect("FaultFileSystem has sync handles");
    /// std::thread::spawn(move || handle.sync_data()).join().expect("the sync thread")?;
    /// assert!(file_system.is_durable(&path));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn sync_data(&self) -> io::Result<()>;
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

    /// Gives the file at `from` a second name, `to` (a hard link): both names then share one
    /// content, and removing either leaves the other. Fails with `ErrorKind::AlreadyExists` if
    /// `to` exists, and with the system's error where the two names cannot share a file
    /// (`ErrorKind::CrossesDevices` when they are on different file systems); a caller that
    /// only needs the bytes then falls back to [`copy_file`]. Like a created file, the new name
    /// is durable only after [`sync_dir`](Self::sync_dir) on `to`'s directory; the content is
    /// exactly as durable as the file's. The engine links only finished files (tables and
    /// finished write-ahead logs), which are never written again.
    ///
    /// **The default implementation copies instead of linking** ([`copy_file`]: read `from`
    /// whole, create `to`, write, `sync_all`), so that a `FileSystem` written before this
    /// method existed keeps working, at the cost of the copy: the two names then hold two
    /// contents, and `to`'s is already synced. Implementations that can link should.
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        copy_file(self, from, to).map(|_| ())
    }

    /// An offset from which the file at `path` is known to read as zeros **without reading
    /// it** (for example, where its last run of holes or unwritten preallocated space begins),
    /// or `None` when the file system cannot tell cheaply, which is the default. Never less
    /// than the end of a byte that may be non-zero: a reader skips the bytes from there on as
    /// zeros. Opening uses it to find the end of a preallocated write-ahead log without faulting
    /// in its unused, reserved tail (FORMAT.md 4.4); the caller promises that nobody writes the
    /// file meanwhile, as for [`map`](Self::map).
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("000001.wal");
    /// let mut file = OsFileSystem.create(&path)?;
    /// file.preallocate(1 << 20)?;
    /// file.write_all(&[7u8; 100])?;
    /// file.sync_all()?;
    /// if let Some(zeros_from) = OsFileSystem.zeros_from(&path)? {
    ///     // At or past the data, at most the file's length (the file system's granularity).
    ///     assert!((100..=1 << 20).contains(&zeros_from));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn zeros_from(&self, path: &Path) -> io::Result<Option<u64>> {
        let _ = path;
        Ok(None)
    }
}

/// Copies the file at `from` to a new file at `to` through `file_system`: reads `from` whole
/// (so the copy holds the file in memory once), creates `to`, writes the bytes with one call
/// and syncs them (`sync_all`); returns the bytes copied. Refuses with
/// `ErrorKind::AlreadyExists` if `to` exists. As for any created file, `to`'s directory entry
/// is durable only after [`FileSystem::sync_dir`] on its directory.
pub fn copy_file<F: FileSystem + ?Sized>(
    file_system: &F,
    from: &Path,
    to: &Path,
) -> io::Result<u64> {
    copy_file_prefix(file_system, from, to, u64::MAX)
}

/// [`copy_file`] of the first `length` bytes of `from` only (all of it if it is shorter): what
/// a checkpoint copies of a write-ahead log that is still being appended to past `length`.
pub(crate) fn copy_file_prefix<F: FileSystem + ?Sized>(
    file_system: &F,
    from: &Path,
    to: &Path,
    length: u64,
) -> io::Result<u64> {
    if file_system.exists(to)? {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists: a copy never replaces a file", to.display()),
        ));
    }
    let mut bytes = file_system.read(from)?;
    bytes.truncate(usize::try_from(length).unwrap_or(usize::MAX));
    let mut file = file_system.create(to)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    Ok(bytes.len() as u64)
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
