//! Merge operators: how a keyspace combines the operands that [`Db::merge`](crate::Db::merge)
//! records with the value below them, and the two operators shaledb ships ([`CounterAdd`],
//! [`ListAppend`]).
//!
//! A merge records an *operand* (an internal key of kind `Merge`, FORMAT.md 3) instead of a
//! value. A read of a key whose newest versions are operands walks down the sources until it
//! finds a put, a tombstone (or a range tombstone covering the key) or nothing, and hands the
//! operator that base (`None` for the last three) and the operands, oldest first
//! ([`MergeOperator::full_merge`]). Compactions combine operands within one snapshot stripe
//! (`compaction/job.rs`); flushes write them as they are.
//!
//! An operator is identified by its [`name`](MergeOperator::name), which the manifest records
//! for a keyspace once a merge is written to it (FORMAT.md 6.1, tag 13): reopening that keyspace
//! without an operator, or with one of another name, is refused.
//!
//! Thread safety: operators are called from readers' threads and compaction threads at once,
//! through `&self`.

use std::fmt;
use std::sync::Arc;

use crate::coding::{Cursor, put_length_prefixed};

/// Why a merge operator could not combine a key's operands: a malformed operand or base value,
/// say. A read of the key fails with [`Error::Merge`](crate::Error::Merge) carrying it; a
/// compaction keeps the operands as they are.
///
/// ```
/// use shaledb::MergeError;
///
/// let error = MergeError::new("operand is 3 bytes; a counter operand is 8");
/// assert_eq!(error.to_string(), "operand is 3 bytes; a counter operand is 8");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError {
    message: String,
}

impl MergeError {
    /// An error saying `message`.
    ///
    /// ```
    /// let error = shaledb::MergeError::new("bad operand");
    /// assert_eq!(error.message(), "bad operand");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        MergeError {
            message: message.into(),
        }
    }

    /// What went wrong, in words.
    ///
    /// ```
    /// assert_eq!(shaledb::MergeError::new("x").message(), "x");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MergeError {}

/// A user-defined way to combine merge operands, set per keyspace
/// ([`KeyspaceOptions::merge_operator`](crate::KeyspaceOptions::merge_operator), and
/// [`Options::merge_operator`](crate::Options::merge_operator) for the default keyspace).
///
/// Operators must be deterministic: a compaction may combine some operands of a key early
/// ([`partial_merge`](Self::partial_merge)) and a read combine the rest, and every reader must
/// see the same value.
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{Db, MergeError, MergeOperator, Options};
///
/// /// Keeps the largest byte string ever merged.
/// struct Max;
///
/// impl MergeOperator for Max {
///     fn name(&self) -> &str {
///         "example.max"
///     }
///     fn full_merge(
///         &self,
///         _key: &[u8],
///         existing: Option<&[u8]>,
///         operands: &[&[u8]],
///     ) -> Result<Vec<u8>, MergeError> {
///         let largest = operands.iter().copied().chain(existing).max().unwrap_or_default();
///         Ok(largest.to_vec())
///     }
///     fn partial_merge(&self, _key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
///         operands.iter().max().map(|largest| largest.to_vec())
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// let options = Options { merge_operator: Some(Arc::new(Max)), ..Options::default() };
/// let db = Db::open(dir.path(), options)?;
/// db.put(b"k", b"m")?;
/// db.merge(b"k", b"z")?;
/// db.merge(b"k", b"a")?;
/// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"z"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait MergeOperator: Send + Sync + 'static {
    /// The operator's name, recorded in the manifest (1 to 255 bytes of UTF-8): a keyspace
    /// that holds operands can only be opened with an operator of the same name. Change the name
    /// when the meaning of operands changes.
    fn name(&self) -> &str;

    /// The value of `key` given its base (`existing`: the value below the operands, or `None`
    /// when the key is deleted or was never set) and its operands, oldest first (at least
    /// one). An error fails the read of `key`.
    fn full_merge(
        &self,
        key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, MergeError>;

    /// One operand standing for `operands` (oldest first, at least two), if the operator can
    /// combine operands without their base; `None` (the default) keeps them apart. Compactions
    /// call it for operands no snapshot separates.
    fn partial_merge(&self, key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
        let _ = (key, operands);
        None
    }
}

impl fmt::Debug for dyn MergeOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MergeOperator").field(&self.name()).finish()
    }
}

/// Operators compare by name: the name is what the manifest records and what options compare.
impl PartialEq for dyn MergeOperator {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for dyn MergeOperator {}

/// The longest merge operator name, in bytes (FORMAT.md 6.1, tag 13).
pub(crate) const MAX_MERGE_OPERATOR_NAME: usize = 255;

/// Checks an operator's name against the rules of [`MergeOperator::name`].
pub(crate) fn check_name(operator: &dyn MergeOperator) -> crate::Result<()> {
    let name = operator.name();
    if name.is_empty() || name.len() > MAX_MERGE_OPERATOR_NAME {
        return Err(crate::Error::InvalidArgument(format!(
            "merge operator name {name:?} is {} bytes; it must be 1 to {MAX_MERGE_OPERATOR_NAME}",
            name.len()
        )));
    }
    Ok(())
}

/// Checks the merge operator keyspace `keyspace` is opened with (`configured`, set through
/// `field`) against the name the manifest records for it (`recorded`, once it holds merge
/// operands): a keyspace that holds operands opens only with an operator of that name.
pub(crate) fn check_recorded(
    keyspace: &str,
    recorded: Option<&str>,
    configured: Option<&SharedMergeOperator>,
    field: &str,
) -> crate::Result<()> {
    let Some(recorded) = recorded else {
        return Ok(());
    };
    match configured {
        Some(operator) if operator.name() == recorded => Ok(()),
        Some(operator) => Err(crate::Error::InvalidArgument(format!(
            "keyspace {keyspace:?} holds merge operands of merge operator {recorded:?}, and {field} \
             is {:?}; open it with an operator named {recorded:?}",
            operator.name()
        ))),
        None => Err(crate::Error::InvalidArgument(format!(
            "keyspace {keyspace:?} holds merge operands of merge operator {recorded:?}, and {field} \
             is None (no merge operator); open it with an operator named {recorded:?}"
        ))),
    }
}

/// A shared merge operator, as options hold it.
pub type SharedMergeOperator = Arc<dyn MergeOperator>;

/// A 64-bit signed counter: values and operands are `i64`, 8 bytes little-endian
/// ([`CounterAdd::encode`]); a merge adds its operand, wrapping around on overflow. A missing
/// base counts as 0. A value or operand that is not 8 bytes fails the read
/// ([`Error::Merge`](crate::Error::Merge)); compactions keep such operands as they are, so that
/// overwriting the key with a put repairs it.
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{CounterAdd, Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let options = Options { merge_operator: Some(Arc::new(CounterAdd)), ..Options::default() };
/// let db = Db::open(dir.path(), options)?;
/// db.merge(b"visits", &CounterAdd::encode(1))?;
/// db.merge(b"visits", &CounterAdd::encode(41))?;
/// let total = db.get(b"visits")?.and_then(|value| CounterAdd::decode(&value));
/// assert_eq!(total, Some(42));
/// db.merge(b"visits", &CounterAdd::encode(-2))?;
/// assert_eq!(CounterAdd::decode(&db.get(b"visits")?.unwrap()), Some(40));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterAdd;

impl CounterAdd {
    /// The name [`CounterAdd`] records in the manifest.
    pub const NAME: &'static str = "shaledb.counter_add.i64";

    /// The 8 bytes of `count`: a value or operand of this operator.
    ///
    /// ```
    /// assert_eq!(shaledb::CounterAdd::encode(258), [2, 1, 0, 0, 0, 0, 0, 0]);
    /// ```
    pub fn encode(count: i64) -> [u8; 8] {
        count.to_le_bytes()
    }

    /// The count in `bytes`, if they are 8 bytes long.
    ///
    /// ```
    /// use shaledb::CounterAdd;
    ///
    /// assert_eq!(CounterAdd::decode(&CounterAdd::encode(-7)), Some(-7));
    /// assert_eq!(CounterAdd::decode(b"short"), None);
    /// ```
    pub fn decode(bytes: &[u8]) -> Option<i64> {
        <[u8; 8]>::try_from(bytes).ok().map(i64::from_le_bytes)
    }

    fn decode_or_error(bytes: &[u8], what: &str) -> Result<i64, MergeError> {
        Self::decode(bytes).ok_or_else(|| {
            MergeError::new(format!(
                "{what} is {} bytes; a {} counter is 8 bytes (i64, little-endian)",
                bytes.len(),
                Self::NAME
            ))
        })
    }
}

impl MergeOperator for CounterAdd {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn full_merge(
        &self,
        _key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, MergeError> {
        let mut total = match existing {
            Some(bytes) => Self::decode_or_error(bytes, "the value below the operands")?,
            None => 0,
        };
        for operand in operands {
            total = total.wrapping_add(Self::decode_or_error(operand, "an operand")?);
        }
        Ok(Self::encode(total).to_vec())
    }

    fn partial_merge(&self, _key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
        let mut total = 0i64;
        for operand in operands {
            total = total.wrapping_add(Self::decode(operand)?);
        }
        Some(Self::encode(total).to_vec())
    }
}

/// A list of byte strings: values and operands are lists, each item a `varint32` length and
/// its bytes, back to back (no separator, so items may hold any bytes); a merge appends the
/// operand's items. Build operands with [`ListAppend::item`] (one item) or
/// [`ListAppend::encode`], split values with [`ListAppend::items`]. A missing base is the empty
/// list. A value or operand that is not a well-formed list fails the read
/// ([`Error::Merge`](crate::Error::Merge)).
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{Db, KeyspaceOptions, ListAppend, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let events = db.keyspace(
///     "events",
///     KeyspaceOptions { merge_operator: Some(Arc::new(ListAppend)), ..KeyspaceOptions::default() },
/// )?;
/// events.merge(b"user-1", &ListAppend::item(b"login"))?;
/// events.merge(b"user-1", &ListAppend::item(b"a,b"))?; // any bytes: no separator
/// let value = events.get(b"user-1")?.unwrap();
/// assert_eq!(ListAppend::items(&value)?, vec![&b"login"[..], &b"a,b"[..]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ListAppend;

impl ListAppend {
    /// The name [`ListAppend`] records in the manifest.
    pub const NAME: &'static str = "shaledb.list_append";

    /// The list holding `item` alone: an operand appending it.
    ///
    /// ```
    /// assert_eq!(shaledb::ListAppend::item(b"ab"), vec![2, b'a', b'b']);
    /// ```
    pub fn item(item: &[u8]) -> Vec<u8> {
        Self::encode([item])
    }

    /// The list holding `items`, in order: a value, or an operand appending them all.
    ///
    /// ```
    /// use shaledb::ListAppend;
    ///
    /// let list = ListAppend::encode([&b"x"[..], b""]);
    /// assert_eq!(ListAppend::items(&list)?, vec![&b"x"[..], &b""[..]]);
    /// # Ok::<(), shaledb::MergeError>(())
    /// ```
    pub fn encode<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        for item in items {
            put_length_prefixed(&mut out, item);
        }
        out
    }

    /// The items of the list `value`, or why it is not a list.
    ///
    /// ```
    /// use shaledb::ListAppend;
    ///
    /// assert!(ListAppend::items(&[5, b'a']).is_err()); // an item runs past the end
    /// assert_eq!(ListAppend::items(&[])?, Vec::<&[u8]>::new());
    /// # Ok::<(), shaledb::MergeError>(())
    /// ```
    pub fn items(value: &[u8]) -> Result<Vec<&[u8]>, MergeError> {
        let mut cursor = Cursor::new(value);
        let mut items = Vec::new();
        while !cursor.is_empty() {
            let item = cursor.length_prefixed().map_err(|error| {
                MergeError::new(format!(
                    "not a {} list: {} at byte {}",
                    Self::NAME,
                    error.reason,
                    error.offset
                ))
            })?;
            items.push(item);
        }
        Ok(items)
    }
}

impl MergeOperator for ListAppend {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn full_merge(
        &self,
        _key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, MergeError> {
        let mut out = Vec::new();
        for part in existing.into_iter().chain(operands.iter().copied()) {
            Self::items(part)?;
            out.extend_from_slice(part);
        }
        Ok(out)
    }

    fn partial_merge(&self, _key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for operand in operands {
            Self::items(operand).ok()?;
            out.extend_from_slice(operand);
        }
        Some(out)
    }
}

/// Runs `operator`'s full merge over `operands` (newest first, as the read path collects
/// them) onto `base`.
pub(crate) fn full_merge_newest_first<V: AsRef<[u8]>>(
    operator: &dyn MergeOperator,
    key: &[u8],
    base: Option<&[u8]>,
    operands_newest_first: &[V],
) -> Result<Vec<u8>, MergeError> {
    let operands: Vec<&[u8]> = operands_newest_first
        .iter()
        .rev()
        .map(AsRef::as_ref)
        .collect();
    operator.full_merge(key, base, &operands)
}

/// `operator`'s full merge of `operands` (newest first, at least one) onto `base`, as a
/// value; [`Error::Merge`](crate::Error::Merge) if it fails or there is no operator.
pub(crate) fn merge_values<V: AsRef<[u8]>>(
    operator: Option<&SharedMergeOperator>,
    key: &[u8],
    base: Option<&[u8]>,
    operands: &[V],
) -> crate::Result<crate::Value> {
    let Some(operator) = operator else {
        return Err(crate::Error::Merge {
            operator: String::new(),
            key: key.to_vec(),
            reason: "the key holds merge operands and its keyspace has no merge operator".into(),
        });
    };
    full_merge_newest_first(operator.as_ref(), key, base, operands)
        .map(crate::Value::from)
        .map_err(|error| crate::Error::Merge {
            operator: operator.name().to_string(),
            key: key.to_vec(),
            reason: error.message().to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_adds_wraps_and_refuses_malformed_operands() {
        let one = CounterAdd::encode(1);
        let max = CounterAdd::encode(i64::MAX);
        let merged = CounterAdd.full_merge(b"k", Some(&max), &[&one]).unwrap();
        assert_eq!(CounterAdd::decode(&merged), Some(i64::MIN));
        assert_eq!(
            CounterAdd::decode(&CounterAdd.full_merge(b"k", None, &[&one, &one]).unwrap()),
            Some(2)
        );
        let error = CounterAdd.full_merge(b"k", None, &[b"abc"]).unwrap_err();
        assert!(error.message().contains("3 bytes"), "{error}");
        assert!(CounterAdd.full_merge(b"k", Some(b"x"), &[&one]).is_err());
        assert_eq!(CounterAdd.partial_merge(b"k", &[&one, b"abc"]), None);
        assert_eq!(
            CounterAdd.partial_merge(b"k", &[&one, &one]),
            Some(CounterAdd::encode(2).to_vec())
        );
    }

    #[test]
    fn list_append_concatenates_and_splits() {
        let base = ListAppend::encode([&b"a"[..], b""]);
        let operand = ListAppend::item(b"\x00,\xff");
        let merged = ListAppend
            .full_merge(b"k", Some(&base), &[&operand, &ListAppend::item(b"z")])
            .unwrap();
        assert_eq!(
            ListAppend::items(&merged).unwrap(),
            vec![&b"a"[..], b"", b"\x00,\xff", b"z"]
        );
        assert!(ListAppend.full_merge(b"k", None, &[&[3, b'a']]).is_err());
        assert_eq!(
            ListAppend.partial_merge(b"k", &[&[3, b'a'], &operand]),
            None
        );
        let partial = ListAppend
            .partial_merge(b"k", &[&operand, &operand])
            .unwrap();
        assert_eq!(ListAppend::items(&partial).unwrap().len(), 2);
    }

    #[test]
    fn operators_compare_and_print_by_name() {
        let a: Option<SharedMergeOperator> = Some(Arc::new(CounterAdd));
        let b: Option<SharedMergeOperator> = Some(Arc::new(CounterAdd));
        let c: Option<SharedMergeOperator> = Some(Arc::new(ListAppend));
        assert!(a == b);
        assert!(a != c);
        assert!(format!("{a:?}").contains(CounterAdd::NAME));
    }
}
