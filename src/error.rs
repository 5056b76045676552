//! The one error type of the crate, and its `Result` alias.
//!
//! Errors are coarse and prescriptive: each variant's documentation says whether retrying can
//! help. Messages are rich: corruption names the file and the byte offset, I/O names the path.
//! Programmer errors are assertions, not variants; everything that comes from the disk or from
//! the caller is an `Error`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The result type of every fallible shaledb operation.
///
/// ```
/// use shaledb::{Db, Options};
///
/// /// Copies the value of `from` to `to`; whether there was one.
/// fn copy_value(db: &Db, from: &[u8], to: &[u8]) -> shaledb::Result<bool> {
///     let Some(value) = db.get(from)? else { return Ok(false) };
///     db.put(to, &value)?;
///     Ok(true)
/// }
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"a", b"1")?;
/// assert!(copy_value(&db, b"a", b"b")?);
/// assert!(!copy_value(&db, b"missing", b"c")?);
/// assert_eq!(db.get(b"b")?.as_deref(), Some(&b"1"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in shaledb.
///
/// ```
/// use shaledb::{Db, Error, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let error = Db::open(dir.path(), Options::default()).unwrap_err();
/// let advice = match &error {
///     Error::Locked(path) => format!("{} is open: close the other handle", path.display()),
///     Error::Corruption { file, offset, .. } => format!("restore {} (byte {offset})", file.display()),
///     error if error.is_storage_full() => "free some space, then retry".to_string(),
///     error => error.to_string(), // every message says what happened and what to do
/// };
/// assert!(advice.ends_with("close the other handle"), "{error}");
/// # drop(db);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed.
    ///
    /// Retrying may help for transient conditions (a full disk that has been cleaned up), but a
    /// failed `fsync` is never retried by shaledb itself: the data it covered may be lost.
    Io {
        /// The file or directory the call was about, when there is one.
        path: Option<PathBuf>,
        /// The underlying error.
        source: io::Error,
    },
    /// Bytes read from disk are not what shaledb wrote: a checksum mismatch, a bad length, an
    /// unknown format version, a truncated file.
    ///
    /// Retrying does not help; the named file is damaged or was not written by this version.
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset in `file` where the damage was detected.
        offset: u64,
        /// What is wrong, in words.
        reason: String,
    },
    /// The caller passed something shaledb does not accept (a key or value over the size limit,
    /// an option out of range). The message names the field. Retrying the same call does not help.
    InvalidArgument(String),
    /// The database directory is already open, by this process or another (its `LOCK` file is
    /// held). Close the other handle first; retrying while it is open does not help. To read it
    /// meanwhile, open it with [`Db::open_read_only`](crate::Db::open_read_only).
    Locked(PathBuf),
    /// The database was closed; reopen it to continue.
    Closed,
    /// The database refuses writes; the message says why and what to do. Either it was opened
    /// with [`Db::open_read_only`](crate::Db::open_read_only) (open it with
    /// [`Db::open`](crate::Db::open) to write), or an unrecoverable error happened (a failed WAL
    /// write or fsync, a flush or compaction that failed for good): reopen the database to
    /// recover from the log. Retrying on the same handle does not help.
    ReadOnly(String),
    /// A keyspace's merge operator could not combine the merge operands of a key
    /// ([`MergeOperator::full_merge`](crate::MergeOperator::full_merge) failed: a malformed
    /// operand or value, say). Only the read of that key fails; nothing is lost (compactions keep
    /// operands they cannot merge). Retrying does not help; overwriting the key with a put (or
    /// deleting it) repairs it.
    Merge {
        /// The operator's name.
        operator: String,
        /// The key whose operands did not merge.
        key: Vec<u8>,
        /// What the operator said.
        reason: String,
    },
}

impl Error {
    /// An I/O error about `path`.
    pub(crate) fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        Error::Io {
            path: Some(path.as_ref().to_path_buf()),
            source,
        }
    }

    /// A corruption error at `offset` in `file`.
    pub(crate) fn corruption(
        file: impl AsRef<Path>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corruption {
            file: file.as_ref().to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }

    /// The error every write of a database opened read-only gets.
    pub(crate) fn opened_read_only() -> Self {
        Error::ReadOnly(
            "it was opened read-only (Db::open_read_only); open it with Db::open to write".into(),
        )
    }

    /// The error every write gets after the unrecoverable failure `cause` (kept by the engine).
    pub(crate) fn refused_after(cause: &str) -> Self {
        Error::ReadOnly(format!(
            "an unrecoverable error happened ({cause}); reopen the database to recover from its log"
        ))
    }

    /// A copy of this error for another caller that shares its cause: every batch of a failed
    /// write group gets one. `io::Error` is not `Clone`, so an I/O error is rebuilt from its kind
    /// and message.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io { path, source } => Error::Io {
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Error::Corruption {
                file,
                offset,
                reason,
            } => Error::Corruption {
                file: file.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            Error::InvalidArgument(message) => Error::InvalidArgument(message.clone()),
            Error::Locked(dir) => Error::Locked(dir.clone()),
            Error::Closed => Error::Closed,
            Error::ReadOnly(cause) => Error::ReadOnly(cause.clone()),
            Error::Merge {
                operator,
                key,
                reason,
            } => Error::Merge {
                operator: operator.clone(),
                key: key.clone(),
                reason: reason.clone(),
            },
        }
    }

    /// Whether this error reports damaged or foreign bytes on disk.
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"v")?;
    /// db.close()?;
    /// drop(db);
    /// std::fs::write(dir.path().join("CURRENT"), b"garbage\n")?;
    /// let error = Db::open(dir.path(), Options::default()).unwrap_err();
    /// assert!(error.is_corruption(), "{error}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }

    /// Whether this error reports a full disk (`ErrorKind::StorageFull`): retrying can succeed
    /// once space is freed.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::vfs::{FaultFileSystem, FileClass};
    /// use shaledb::{Db, Options};
    ///
    /// let file_system = FaultFileSystem::new();
    /// let dir = tempfile::tempdir()?;
    /// let options = Options { file_system: Arc::new(file_system.clone()), ..Options::default() };
    /// file_system.set_disk_full(Some(FileClass::Any));
    /// let error = Db::open(dir.path(), options.clone()).unwrap_err();
    /// assert!(error.is_storage_full(), "{error}");
    /// file_system.set_disk_full(None); // space freed: the same call succeeds
    /// let db = Db::open(dir.path(), options)?;
    /// # drop(db);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_storage_full(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io {
                path: Some(path),
                source,
            } => {
                write!(
                    f,
                    "I/O error on {}: {source}; {}",
                    path.display(),
                    io_advice(source.kind())
                )
            }
            Error::Io { path: None, source } => {
                write!(f, "I/O error: {source}; {}", io_advice(source.kind()))
            }
            Error::Corruption {
                file,
                offset,
                reason,
            } => write!(
                f,
                "corruption in {} at byte offset {offset}: {reason} (retrying does not help: the file is damaged or was not written by this shaledb; `shale verify` lists what else is damaged, and a backup or checkpoint restores it)",
                file.display()
            ),
            Error::InvalidArgument(message) => write!(f, "invalid argument: {message}"),
            Error::Locked(dir) => write!(
                f,
                "the database in {} is already open (its LOCK file is held by this or another process); close that handle first",
                dir.display()
            ),
            Error::Closed => write!(f, "the database is closed; open it again to continue"),
            Error::ReadOnly(cause) => write!(f, "the database refuses writes: {cause}"),
            Error::Merge {
                operator,
                key,
                reason,
            } => write!(
                f,
                "merge operator {operator:?} failed to merge the operands of key {:?}: {reason} (retrying does not help; a put or delete of the key replaces the operands)",
                String::from_utf8_lossy(key)
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
        Error::Io { path: None, source }
    }
}

/// What to do about an I/O error of `kind`, for its message.
fn io_advice(kind: io::ErrorKind) -> &'static str {
    match kind {
        io::ErrorKind::StorageFull => {
            "the disk is full: free space (flushes and compactions wait and retry until it returns)"
        }
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            "check the permissions of the database directory and its files"
        }
        io::ErrorKind::NotFound => {
            "check the path (a database file that was there is missing: was it deleted by hand?)"
        }
        io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => {
            "check the path: the database is a directory, its files are plain files"
        }
        _ => "check the device and the path; retrying helps only if the cause was temporary",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_offset() {
        let error = Error::corruption("/db/000007.sst", 4096, "block checksum mismatch");
        assert!(
            error.to_string().starts_with(
                "corruption in /db/000007.sst at byte offset 4096: block checksum mismatch ("
            ),
            "{error}"
        );
        assert!(error.is_corruption());
    }

    #[test]
    fn io_error_keeps_its_source() {
        let error = Error::io(
            "/db/LOCK",
            io::Error::new(io::ErrorKind::PermissionDenied, "denied"),
        );
        assert!(std::error::Error::source(&error).is_some());
        assert!(error.to_string().contains("/db/LOCK"));
    }
}
