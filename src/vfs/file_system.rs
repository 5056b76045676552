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
///
/// ```
/// use shaledb::vfs::{FileBytes, FileSystem, OsFileSystem};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("table");
/// std::fs::write(&path, b"finished bytes")?;
/// let bytes: FileBytes = OsFileSystem.map(&path)?; // a memory map, shared by every reader
/// let reader = std::sync::Arc::clone(&bytes);
/// assert_eq!(std::thread::spawn(move || (*reader).as_ref().len()).join().expect("reader"), 14);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type FileBytes = SharedBuffer;

/// A file open for writing at a position (the end of what was written so far, or the start
/// after [`seek`](Self::seek)). Not shared between threads; the engine serialises its writers.
///
/// ```
/// use shaledb::vfs::{FileSystem, OsFileSystem, WritableFile};
///
/// fn append_record(file: &mut dyn WritableFile, record: &[u8]) -> std::io::Result<()> {
///     file.write_all(&(record.len() as u32).to_le_bytes())?;
///     file.write_all(record)?;
///     file.sync_data() // durable when this returns
/// }
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("records");
/// let mut file = OsFileSystem.create(&path)?;
/// append_record(&mut *file, b"one")?;
/// append_record(&mut *file, b"two")?;
/// assert_eq!(OsFileSystem.file_size(&path)?, 2 * (4 + 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait WritableFile: Send + Debug {
    /// Writes all of `bytes` at the current position with one call and moves the position past
    /// them. On error an unknown prefix of `bytes` may have been written.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("file");
    /// let mut file = OsFileSystem.create(&path)?;
    /// file.write_all(b"hello, ")?;
    /// file.write_all(b"world")?; // at the position the first write left
    /// assert_eq!(OsFileSystem.read(&path)?, b"hello, world");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Moves the position to `offset` bytes from the start; later writes overwrite from there.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("preallocated");
    /// let mut file = OsFileSystem.create(&path)?;
    /// file.write_all(&[0; 8])?; // zeros first, as a preallocated log
    /// file.seek(2)?;
    /// file.write_all(b"ab")?; // overwrites in place
    /// assert_eq!(OsFileSystem.read(&path)?, [0, 0, b'a', b'b', 0, 0, 0, 0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn seek(&mut self, offset: u64) -> io::Result<()>;
    /// Makes the file's bytes durable (`fdatasync`). A failure means the bytes written since
    /// the last successful sync may be lost; it must never be retried as if it had worked.
    ///
    /// ```
    /// use shaledb::vfs::{FaultFileSystem, FileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let file_system = FaultFileSystem::new(); // tracks what a sync made durable
    /// let path = dir.path().join("data");
    /// let mut file = file_system.create(&path)?;
    /// file_system.sync_dir(dir.path())?;
    /// file.write_all(b"bytes")?;
    /// assert!(!file_system.is_durable(&path));
    /// file.sync_data()?;
    /// assert!(file_system.is_durable(&path));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn sync_data(&mut self) -> io::Result<()>;
    /// Makes the file's bytes and metadata (its length) durable (`fsync`).
    ///
    /// ```
    /// use shaledb::vfs::{FaultFileSystem, FileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let file_system = FaultFileSystem::new();
    /// let path = dir.path().join("manifest");
    /// let mut file = file_system.create(&path)?;
    /// file_system.sync_dir(dir.path())?;
    /// file.write_all(b"grows the file")?;
    /// file.sync_all()?; // the bytes and the new length
    /// file_system.power_loss();
    /// file_system.restart();
    /// assert_eq!(file_system.read(&path)?, b"grows the file");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
///
/// ```
/// use std::sync::Arc;
/// use shaledb::vfs::{FaultFileSystem, FileSync, FileSystem};
///
/// let dir = tempfile::tempdir()?;
/// let file_system = FaultFileSystem::new();
/// let path = dir.path().join("000001.wal");
/// let mut file = file_system.create(&path)?;
/// file_system.sync_dir(dir.path())?;
/// let handle: Arc<dyn FileSync> = file.sync_handle()?.expect("FaultFileSystem has sync handles");
/// file.write_all(b"first")?;
/// let syncer = Arc::clone(&handle);
/// std::thread::spawn(move || syncer.sync_data()).join().expect("the sync thread")?;
/// assert!(file_system.is_durable(&path));
/// file.write_all(b"second")?; // after the sync: not covered by it
/// assert!(!file_system.is_durable(&path));
/// handle.sync_data()?;
/// assert!(file_system.is_durable(&path));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```
/// use shaledb::vfs::{FileSystem, OsFileSystem};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("LOCK");
/// let lock = OsFileSystem.lock(&path)?;
/// let again = OsFileSystem.lock(&path).unwrap_err(); // held, by this process too
/// assert_eq!(again.kind(), std::io::ErrorKind::WouldBlock);
/// drop(lock); // releases it
/// let _relocked = OsFileSystem.lock(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait FileLock: Send + Sync + Debug {}

/// The file operations the engine uses. See the module documentation for the durability
/// contract. Implementations must be safe to share between threads.
///
/// ```
/// use std::io;
/// use std::path::Path;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use shaledb::vfs::{FileBytes, FileLock, FileSystem, OsFileSystem, WritableFile};
/// use shaledb::{Db, Options};
///
/// /// The operating system's file system, counting the files the engine creates.
/// #[derive(Debug, Default)]
/// struct Counting {
///     creates: AtomicU64,
/// }
///
/// impl FileSystem for Counting {
///     fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
///         self.creates.fetch_add(1, Ordering::Relaxed);
///         OsFileSystem.create(path)
///     }
///     fn read(&self, path: &Path) -> io::Result<Vec<u8>> { OsFileSystem.read(path) }
///     fn map(&self, path: &Path) -> io::Result<FileBytes> { OsFileSystem.map(path) }
///     fn exists(&self, path: &Path) -> io::Result<bool> { OsFileSystem.exists(path) }
///     fn file_size(&self, path: &Path) -> io::Result<u64> { OsFileSystem.file_size(path) }
///     fn rename(&self, from: &Path, to: &Path) -> io::Result<()> { OsFileSystem.rename(from, to) }
///     fn remove(&self, path: &Path) -> io::Result<()> { OsFileSystem.remove(path) }
///     fn list(&self, dir: &Path) -> io::Result<Vec<String>> { OsFileSystem.list(dir) }
///     fn sync_dir(&self, dir: &Path) -> io::Result<()> { OsFileSystem.sync_dir(dir) }
///     fn create_dir_all(&self, dir: &Path) -> io::Result<()> { OsFileSystem.create_dir_all(dir) }
///     fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> { OsFileSystem.lock(path) }
///     fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> { OsFileSystem.hard_link(from, to) }
/// }
///
/// let counting = Arc::new(Counting::default());
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options { file_system: counting.clone(), ..Options::default() })?;
/// let at_open = counting.creates.load(Ordering::Relaxed); // a log, a manifest, CURRENT
/// db.put(b"k", b"v")?;
/// db.flush()?; // a table (and the next log)
/// assert!(counting.creates.load(Ordering::Relaxed) > at_open);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait FileSystem: Send + Sync + Debug {
    /// Creates the file at `path` for writing, truncating it if it exists. Its directory entry
    /// is durable only after [`sync_dir`](Self::sync_dir) on its directory.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("file");
    /// std::fs::write(&path, b"old content")?;
    /// let mut file = OsFileSystem.create(&path)?; // truncates
    /// file.write_all(b"new")?;
    /// file.sync_all()?;
    /// OsFileSystem.sync_dir(dir.path())?; // and now its name is durable too
    /// assert_eq!(std::fs::read(&path)?, b"new");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Reads the whole file at `path`.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("CURRENT"), b"MANIFEST-000001\n")?;
    /// assert_eq!(OsFileSystem.read(&dir.path().join("CURRENT"))?, b"MANIFEST-000001\n");
    /// let missing = OsFileSystem.read(&dir.path().join("missing")).unwrap_err();
    /// assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Opens the finished file at `path` for random-access reads. The caller promises that the
    /// file is never written or truncated again while the bytes are alive (SSTables are
    /// immutable once finished); removing it is allowed.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("000007.sst");
    /// std::fs::write(&path, b"table bytes")?;
    /// let bytes = OsFileSystem.map(&path)?;
    /// OsFileSystem.remove(&path)?; // allowed: the map stays valid
    /// assert_eq!((*bytes).as_ref(), b"table bytes");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn map(&self, path: &Path) -> io::Result<FileBytes>;
    /// Whether a file or directory exists at `path`.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// assert!(OsFileSystem.exists(dir.path())?); // directories too
    /// assert!(!OsFileSystem.exists(&dir.path().join("CURRENT"))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// The length in bytes of the file at `path`.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("file");
    /// OsFileSystem.create(&path)?.write_all(&[0; 100])?;
    /// assert_eq!(OsFileSystem.file_size(&path)?, 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn file_size(&self, path: &Path) -> io::Result<u64>;
    /// Renames `from` to `to`, replacing `to` if it exists.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (temporary, current) = (dir.path().join("000002.tmp"), dir.path().join("CURRENT"));
    /// std::fs::write(&current, b"MANIFEST-000001\n")?;
    /// std::fs::write(&temporary, b"MANIFEST-000002\n")?;
    /// OsFileSystem.rename(&temporary, &current)?; // replaces CURRENT at once
    /// OsFileSystem.sync_dir(dir.path())?;
    /// assert_eq!(std::fs::read(&current)?, b"MANIFEST-000002\n");
    /// assert!(!OsFileSystem.exists(&temporary)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file at `path`.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("000003.sst");
    /// std::fs::write(&path, b"obsolete")?;
    /// OsFileSystem.remove(&path)?;
    /// assert!(!OsFileSystem.exists(&path)?);
    /// assert!(OsFileSystem.remove(&path).is_err()); // it is gone
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// The names of the entries of directory `dir` (not the paths), in no particular order.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let mut names = OsFileSystem.list(dir.path())?;
    /// names.sort();
    /// assert!(names.contains(&"CURRENT".to_string()) && names.contains(&"LOCK".to_string()));
    /// assert!(names.iter().any(|name| name.ends_with(".wal")));
    /// # drop(db);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Makes the entries of `dir` (files created, renamed or removed in it) durable.
    ///
    /// ```
    /// use shaledb::vfs::{FaultFileSystem, FileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let file_system = FaultFileSystem::new();
    /// let path = dir.path().join("new-file");
    /// file_system.create(&path)?.sync_all()?; // its content is durable, its name not yet
    /// assert!(!file_system.is_durable(&path));
    /// file_system.sync_dir(dir.path())?;
    /// assert!(file_system.is_durable(&path));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Creates `dir` and its missing parents.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let nested = dir.path().join("data").join("db");
    /// OsFileSystem.create_dir_all(&nested)?;
    /// OsFileSystem.create_dir_all(&nested)?; // already there: not an error
    /// assert!(OsFileSystem.exists(&nested)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on the file at `path` (creating it if missing). Fails with
    /// `ErrorKind::WouldBlock` if another holder has it.
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?; // holds dir/LOCK
    /// let taken = OsFileSystem.lock(&dir.path().join("LOCK")).unwrap_err();
    /// assert_eq!(taken.kind(), std::io::ErrorKind::WouldBlock);
    /// db.close()?;
    /// let _lock = OsFileSystem.lock(&dir.path().join("LOCK"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// use shaledb::vfs::{FileSystem, OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (table, backup) = (dir.path().join("000005.sst"), dir.path().join("backup.sst"));
    /// std::fs::write(&table, b"immutable")?;
    /// OsFileSystem.hard_link(&table, &backup)?;
    /// OsFileSystem.remove(&table)?; // the other name keeps the content
    /// assert_eq!(OsFileSystem.read(&backup)?, b"immutable");
    /// let exists = OsFileSystem.hard_link(&backup, &backup).unwrap_err();
    /// assert_eq!(exists.kind(), std::io::ErrorKind::AlreadyExists);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
///
/// ```
/// use shaledb::vfs::{copy_file, FileSystem, OsFileSystem};
///
/// let dir = tempfile::tempdir()?;
/// let (from, to) = (dir.path().join("000009.sst"), dir.path().join("copy.sst"));
/// std::fs::write(&from, b"table")?;
/// assert_eq!(copy_file(&OsFileSystem, &from, &to)?, 5); // bytes copied, synced
/// OsFileSystem.sync_dir(dir.path())?;
/// assert_eq!(std::fs::read(&to)?, b"table");
/// assert_eq!(copy_file(&OsFileSystem, &from, &to).unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
