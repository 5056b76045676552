//! `Value`: a read result that shares the buffer it was found in instead of copying it.
//!
//! A value found in a memtable points into the memtable arena chunk holding the entry; one found
//! in an SSTable points into the decoded block. Either way the bytes stay alive for as long as any
//! `Value` refers to them, and cloning a `Value` never copies them.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// Bytes returned by a read. Dereferences to `[u8]`; cheap to clone.
///
/// ```
/// use shaledb::Value;
///
/// let value = Value::from(b"hello".to_vec());
/// assert_eq!(&*value, b"hello");
/// assert_eq!(value.len(), 5);
/// assert_eq!(value, b"hello"[..]);
/// ```
#[derive(Clone)]
pub struct Value {
    buffer: Buffer,
    start: usize,
    end: usize,
}

/// A shared buffer for any owner of bytes (`AsRef<[u8]>`): a decoded SSTable block, a memory
/// map.
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{SharedBuffer, Value};
///
/// let owner: SharedBuffer = Arc::new(String::from("hello, world"));
/// let word = Value::from_shared_buffer(Arc::clone(&owner), 0..5);
/// assert_eq!(&*word, b"hello");
/// ```
pub type SharedBuffer = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// What a `Value` points into.
#[derive(Clone)]
enum Buffer {
    /// A plain shared allocation (copies).
    Bytes(Arc<[u8]>),
    /// Any other shared owner of bytes (a decoded SSTable block, a memtable arena chunk).
    Shared(SharedBuffer),
}

impl Buffer {
    fn as_slice(&self) -> &[u8] {
        match self {
            Buffer::Bytes(bytes) => bytes,
            Buffer::Shared(owner) => (**owner).as_ref(),
        }
    }
}

impl Value {
    /// A value that is `range` of a shared `buffer`.
    ///
    /// # Panics
    /// If `range` is not within `buffer` (a bug in the caller, which derives ranges from
    /// already-validated lengths).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::Value;
    ///
    /// let record: Arc<[u8]> = Arc::from(&b"key=value"[..]);
    /// let value = Value::from_shared(Arc::clone(&record), 4..9); // no copy
    /// assert_eq!(&*value, b"value");
    /// ```
    pub fn from_shared(buffer: Arc<[u8]>, range: Range<usize>) -> Self {
        Self::new(Buffer::Bytes(buffer), range)
    }

    /// A value that is `range` of the bytes of a shared owner, such as a decoded SSTable
    /// block, which stays alive as long as the value does.
    ///
    /// # Panics
    /// If `range` is not within the owner's bytes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{SharedBuffer, Value};
    ///
    /// let page: SharedBuffer = Arc::new(b"header|payload".to_vec());
    /// let value = Value::from_shared_buffer(page, 7..14);
    /// assert_eq!(&*value, b"payload");
    /// ```
    pub fn from_shared_buffer(owner: SharedBuffer, range: Range<usize>) -> Self {
        Self::new(Buffer::Shared(owner), range)
    }

    fn new(buffer: Buffer, range: Range<usize>) -> Self {
        let length = buffer.as_slice().len();
        assert!(
            range.start <= range.end && range.end <= length,
            "value range {range:?} outside a buffer of {length} bytes"
        );
        Value {
            buffer,
            start: range.start,
            end: range.end,
        }
    }

    /// The bytes of this value from `offset` on, sharing its buffer (`offset` at most its
    /// length: a bug in the caller otherwise).
    pub(crate) fn tail(&self, offset: usize) -> Value {
        let start = (self.start + offset).min(self.end);
        Value {
            buffer: self.buffer.clone(),
            start,
            end: self.end,
        }
    }

    /// Copies the bytes out into a `Vec` (a `Value` itself derefs to `[u8]` without copying).
    ///
    /// ```
    /// use shaledb::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"k", b"value")?;
    /// let value = db.get(b"k")?.expect("present");
    /// assert_eq!(&value[..2], b"va"); // borrowed from the memtable or a block
    /// let owned: Vec<u8> = value.to_vec();
    /// assert_eq!(owned, b"value");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_ref().to_vec()
    }
}

impl Deref for Value {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buffer.as_slice()[self.start..self.end]
    }
}

impl AsRef<[u8]> for Value {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Self {
        let end = bytes.len();
        Value {
            buffer: Buffer::Bytes(Arc::from(bytes)),
            start: 0,
            end,
        }
    }
}

impl From<&[u8]> for Value {
    fn from(bytes: &[u8]) -> Self {
        Value {
            buffer: Buffer::Bytes(Arc::from(bytes)),
            start: 0,
            end: bytes.len(),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Value {}

impl PartialEq<[u8]> for Value {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<&[u8]> for Value {
    fn eq(&self, other: &&[u8]) -> bool {
        **self == **other
    }
}

impl PartialEq<Vec<u8>> for Value {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self) {
            Ok(text) => write!(f, "Value({text:?})"),
            Err(_) => write!(f, "Value({} bytes)", self.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_without_copying() {
        let buffer: Arc<[u8]> = Arc::from(&b"keyvalue"[..]);
        let value = Value::from_shared(buffer.clone(), 3..8);
        assert_eq!(value, b"value"[..]);
        let copy = value.clone();
        assert_eq!(copy.as_ptr(), value.as_ptr());
        assert_eq!(Arc::strong_count(&buffer), 3);
    }

    #[test]
    fn shares_any_owner_of_bytes() {
        let owner: SharedBuffer = Arc::new(b"block contents".to_vec());
        let value = Value::from_shared_buffer(owner.clone(), 6..14);
        assert_eq!(value, b"contents"[..]);
        assert_eq!(Arc::strong_count(&owner), 2);
    }

    #[test]
    #[should_panic(expected = "outside a buffer")]
    fn range_outside_buffer_is_a_bug() {
        let _ = Value::from_shared(Arc::from(&b"abc"[..]), 2..4);
    }
}
