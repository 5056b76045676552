//! [`OsFileSystem`]: the [`FileSystem`] of the operating system, the default of
//! `Options::file_system`. Finished files are read through read-only memory maps.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use super::file_system::{FileBytes, FileLock, FileSync, FileSystem, WritableFile};

/// The operating system's file system.
///
/// ```
/// use std::sync::Arc;
/// use shaledb::vfs::{FileSystem, OsFileSystem};
/// use shaledb::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// // The default: Options::default().file_system is OsFileSystem.
/// let db = Db::open(dir.path(), Options { file_system: Arc::new(OsFileSystem), ..Options::default() })?;
/// db.put(b"k", b"v")?;
/// db.close()?;
/// assert!(OsFileSystem.exists(&dir.path().join("CURRENT"))?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OsFileSystem;

#[derive(Debug)]
struct OsWritableFile {
    file: File,
}

impl WritableFile for OsWritableFile {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)
    }

    fn seek(&mut self, offset: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset)).map(|_| ())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn sync_handle(&self) -> io::Result<Option<Arc<dyn FileSync>>> {
        Ok(Some(Arc::new(OsFileSync {
            file: self.file.try_clone()?,
        })))
    }

    /// Reserves the space with `fallocate` (mode 0: the file's length becomes `length`, the new
    /// blocks are allocated as unwritten extents that read as zeros), so that no zero byte is
    /// written; where the file system has no `fallocate`, writes the zeros instead.
    fn preallocate(&mut self, length: u64) -> io::Result<()> {
        match fallocate(&self.file, length) {
            Ok(()) => Ok(()),
            Err(error) if fallocate_unsupported(&error) => {
                let zeros = super::file_system::write_zeros(self, length);
                zeros.and_then(|()| self.seek(0))
            }
            Err(error) => Err(error),
        }
    }
}

/// Allocates the first `length` bytes of `file` with Linux's `fallocate(2)`, mode 0.
#[cfg(target_os = "linux")]
fn fallocate(file: &File, length: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let length = libc::off_t::try_from(length)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "preallocation too large"))?;
    loop {
        // SAFETY: `fallocate` reads no memory of ours; the descriptor is open for writing for
        // the life of `file`, which this call borrows.
        let result = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, length) };
        if result == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Elsewhere there is no `fallocate`: the caller writes the zeros.
#[cfg(not(target_os = "linux"))]
fn fallocate(_file: &File, _length: u64) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Most data runs [`data_end`] walks before it gives up (a file this fragmented is not one of
/// ours to skip the tail of).
#[cfg(target_os = "linux")]
const DATA_RUNS_MAX: u32 = 1 << 16;

/// The end of the last run of data of `file` (every byte after it is a hole, reading as zero),
/// or `None` where the file system does not report holes.
#[cfg(target_os = "linux")]
fn data_end(file: &File) -> io::Result<Option<u64>> {
    use std::os::fd::AsRawFd;
    let descriptor = file.as_raw_fd();
    let mut position: libc::off_t = 0;
    let mut end: libc::off_t = 0;
    for _ in 0..DATA_RUNS_MAX {
        // SAFETY: `lseek` reads no memory of ours; the descriptor is open for the life of
        // `file`, which this call borrows.
        let data = unsafe { libc::lseek(descriptor, position, libc::SEEK_DATA) };
        if data < 0 {
            let error = io::Error::last_os_error();
            return match error.raw_os_error() {
                // No data at or after `position`: the rest is a hole.
                Some(libc::ENXIO) => Ok(u64::try_from(end).ok()),
                Some(libc::EINVAL | libc::EOPNOTSUPP) => Ok(None),
                _ => Err(error),
            };
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(descriptor, data, libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(io::Error::last_os_error());
        }
        if hole <= data {
            return Ok(None);
        }
        end = hole;
        position = hole;
    }
    Ok(None)
}

/// Elsewhere holes are not asked for: readers read the whole file.
#[cfg(not(target_os = "linux"))]
fn data_end(_file: &File) -> io::Result<Option<u64>> {
    Ok(None)
}

/// Whether `fallocate` failed because the file system (or platform) does not support it, as
/// opposed to a real failure such as a full disk.
fn fallocate_unsupported(error: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if error.raw_os_error() == Some(libc::EOPNOTSUPP) {
        return true;
    }
    error.kind() == io::ErrorKind::Unsupported
}

/// A duplicate of a writable file's descriptor: `fdatasync` on it syncs the same file, and may
/// run while the writer goes on writing.
#[derive(Debug)]
struct OsFileSync {
    file: File,
}

impl FileSync for OsFileSync {
    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// An exclusive `flock`-style lock, released when the file is closed.
#[derive(Debug)]
struct OsFileLock {
    file: File,
}

impl FileLock for OsFileLock {}

impl Drop for OsFileLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it explicit.
        let _ = self.file.unlock();
    }
}

/// A read-only memory map of a whole file.
struct MappedFile(Mmap);

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl FileSystem for OsFileSystem {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(OsWritableFile { file }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn map(&self, path: &Path) -> io::Result<FileBytes> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            // An empty file cannot be mapped on every platform; it has no bytes to share.
            return Ok(Arc::new(Vec::<u8>::new()));
        }
        // SAFETY: the map is read-only, and the caller promises (see `FileSystem::map`) that the
        // file is never written or truncated while the map is alive; removing the file keeps an
        // existing mapping valid. Every read from the map is bounds-checked against its length.
        let map = unsafe { Mmap::map(&file) }?;
        Ok(Arc::new(MappedFile(map)))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn file_size(&self, path: &Path) -> io::Result<u64> {
        std::fs::metadata(path).map(|metadata| metadata.len())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            // Names that are not UTF-8 are not shaledb's files.
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::hard_link(from, to)
    }

    /// Where the file's last hole begins, by `lseek` with `SEEK_DATA` and `SEEK_HOLE`: on ext4
    /// and XFS a reserved (unwritten) extent that the page cache holds nothing of is a hole, so
    /// the unused tail of a preallocated log is found without reading it.
    fn zeros_from(&self, path: &Path) -> io::Result<Option<u64>> {
        data_end(&File::open(path)?)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(OsFileLock { file })),
            Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the file is locked by another holder",
            )),
            Err(std::fs::TryLockError::Error(error)) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::file_system::{copy_file, copy_file_prefix};
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    #[test]
    fn zeros_from_is_never_before_a_non_zero_byte_and_skips_reserved_space() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000001.wal");
        let mut file = OsFileSystem.create(&path).unwrap();
        file.preallocate(4 << 20).unwrap();
        file.write_all(&[7u8; 100]).unwrap();
        // Data after a stretch of reserved space: a hole in the middle is not the end.
        file.seek(2 << 20).unwrap();
        file.write_all(&[9u8; 10]).unwrap();
        file.sync_all().unwrap();
        drop(file);
        let bytes = std::fs::read(&path).unwrap();
        let last_non_zero = bytes.iter().rposition(|&byte| byte != 0).unwrap() + 1;
        assert_eq!(last_non_zero, (2 << 20) + 10);
        match OsFileSystem.zeros_from(&path).unwrap() {
            Some(zeros_from) => {
                assert!(zeros_from >= last_non_zero as u64, "{zeros_from}");
                assert!(zeros_from <= bytes.len() as u64, "{zeros_from}");
            }
            None => eprintln!("this file system reports no holes"),
        }
        // A file written to its end has no zeros to skip.
        let full = dir.path().join("full");
        std::fs::write(&full, vec![1u8; 10_000]).unwrap();
        if let Some(zeros_from) = OsFileSystem.zeros_from(&full).unwrap() {
            assert_eq!(zeros_from, 10_000);
        }
    }

    /// A file system written before `hard_link` existed: it keeps the trait's default.
    #[derive(Debug)]
    struct WithoutLinks;

    impl FileSystem for WithoutLinks {
        fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
            OsFileSystem.create(path)
        }
        fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
            OsFileSystem.read(path)
        }
        fn map(&self, path: &Path) -> io::Result<FileBytes> {
            OsFileSystem.map(path)
        }
        fn exists(&self, path: &Path) -> io::Result<bool> {
            OsFileSystem.exists(path)
        }
        fn file_size(&self, path: &Path) -> io::Result<u64> {
            OsFileSystem.file_size(path)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            OsFileSystem.rename(from, to)
        }
        fn remove(&self, path: &Path) -> io::Result<()> {
            OsFileSystem.remove(path)
        }
        fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
            OsFileSystem.list(dir)
        }
        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            OsFileSystem.sync_dir(dir)
        }
        fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
            OsFileSystem.create_dir_all(dir)
        }
        fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
            OsFileSystem.lock(path)
        }
    }

    #[test]
    fn the_default_hard_link_copies() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("000001.sst");
        std::fs::write(&from, b"table bytes").unwrap();
        let to = dir.path().join("000002.sst");
        WithoutLinks.hard_link(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"table bytes");
        assert_eq!(std::fs::metadata(&from).unwrap().nlink(), 1, "not a link");
        assert_ne!(
            std::fs::metadata(&from).unwrap().ino(),
            std::fs::metadata(&to).unwrap().ino()
        );
        let error = WithoutLinks.hard_link(&from, &to).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn the_operating_systems_hard_link_shares_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("000001.sst");
        std::fs::write(&from, b"table bytes").unwrap();
        let to = dir.path().join("000002.sst");
        OsFileSystem.hard_link(&from, &to).unwrap();
        assert_eq!(std::fs::metadata(&to).unwrap().nlink(), 2);
        std::fs::remove_file(&from).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"table bytes");
        let error = OsFileSystem.hard_link(&to, &to).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn a_copy_of_a_prefix_stops_at_its_length_and_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("000001.wal");
        std::fs::write(&from, b"0123456789").unwrap();
        let to = dir.path().join("copy");
        assert_eq!(copy_file_prefix(&OsFileSystem, &from, &to, 4).unwrap(), 4);
        assert_eq!(std::fs::read(&to).unwrap(), b"0123");
        let error = copy_file(&OsFileSystem, &from, &to).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&to).unwrap(), b"0123");
        let whole = dir.path().join("whole");
        assert_eq!(copy_file(&OsFileSystem, &from, &whole).unwrap(), 10);
        assert_eq!(std::fs::read(&whole).unwrap(), b"0123456789");
    }
}
