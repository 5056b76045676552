//! Compaction filters and expiring values: the user's hook that keeps, removes or rewrites
//! entries as compaction rewrites them ([`CompactionFilter`], set per keyspace in
//! [`KeyspaceOptions::compaction_filter`](crate::KeyspaceOptions::compaction_filter)), and the
//! layout of the values of a keyspace with a time to live
//! ([`KeyspaceOptions::time_to_live`](crate::KeyspaceOptions::time_to_live), FORMAT.md 7.3):
//! each value carries its expiry in front of it.
//!
//! Which entries a filter sees (`compaction/job.rs`): only the newest version of a key among a
//! compaction's inputs, only a put, and only when it is newer than every snapshot, so that no
//! snapshot ever reads what a filter changed. A removed entry becomes a tombstone at the same
//! sequence number (which hides the older versions as the entry did), dropped outright where
//! nothing below can hold the key.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a [`CompactionFilter`] does with an entry.
///
/// ```
/// use shaledb::FilterDecision;
///
/// let decisions = [FilterDecision::Keep, FilterDecision::Remove, FilterDecision::ChangeValue(b"new".to_vec())];
/// assert_eq!(decisions.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterDecision {
    /// Keep the entry as it is.
    Keep,
    /// Remove the entry: reads find the key absent from then on (older versions of it too).
    Remove,
    /// Keep the key with this value instead.
    ChangeValue(Vec<u8>),
}

/// A user's rule, run by compactions of a keyspace, that keeps, removes or rewrites entries
/// (RocksDB's `CompactionFilter`): for garbage collection by content, schema migrations, or
/// expiry rules of your own. It sees only the newest version of each key a compaction reads,
/// only puts, and only entries newer than every snapshot: no snapshot ever reads a change a
/// filter made. When it runs is up to compaction (a key in a table that is never compacted is
/// never filtered), so a filter must not be needed for reads to be right; reads never call it.
///
/// The filter runs on compaction threads, for many entries: keep it quick and free of I/O on the
/// database. A filter that panics turns the database read-only, like any compaction panic.
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{CompactionFilter, Db, FilterDecision, KeyspaceOptions, Options};
///
/// /// Drops every entry whose value is "tombstoned".
/// struct DropMarked;
///
/// impl CompactionFilter for DropMarked {
///     fn name(&self) -> &str {
///         "drop-marked"
///     }
///     fn filter(&self, _level: usize, _key: &[u8], value: &[u8]) -> FilterDecision {
///         if value == b"tombstoned" { FilterDecision::Remove } else { FilterDecision::Keep }
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let options = KeyspaceOptions { compaction_filter: Some(Arc::new(DropMarked)), ..KeyspaceOptions::default() };
/// let rows = db.keyspace("rows", options)?;
/// rows.put(b"a", b"live")?;
/// rows.put(b"b", b"tombstoned")?;
/// rows.compact_range(..)?;
/// assert_eq!(rows.get(b"b")?, None);
/// assert_eq!(rows.get(b"a")?.as_deref(), Some(&b"live"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait CompactionFilter: Send + Sync + 'static {
    /// A name for the filter, shown by `Debug` and compared by `KeyspaceOptions`' equality.
    fn name(&self) -> &str;

    /// What to do with `key`, whose value is `value` (without the expiry, in a keyspace with
    /// a time to live), as a compaction into `level` rewrites it.
    fn filter(&self, level: usize, key: &[u8], value: &[u8]) -> FilterDecision;
}

impl fmt::Debug for dyn CompactionFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompactionFilter({:?})", self.name())
    }
}

impl PartialEq for dyn CompactionFilter {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for dyn CompactionFilter {}

/// A shared compaction filter, as options hold it.
pub type SharedCompactionFilter = Arc<dyn CompactionFilter>;

/// Bytes of the expiry in front of each value of a keyspace with a time to live.
pub(crate) const EXPIRY_SIZE: usize = 8;

/// An expiry that never comes: a value of a keyspace with a time to live that does not expire.
pub(crate) const NEVER: u64 = u64::MAX;

/// The current time, in microseconds since the Unix epoch.
pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

/// The expiry of a value written now to live `ttl` (`Duration::MAX`: never).
pub(crate) fn expiry_after(ttl: Duration) -> u64 {
    if ttl == Duration::MAX {
        return NEVER;
    }
    let micros = u64::try_from(ttl.as_micros()).unwrap_or(NEVER);
    now_micros().saturating_add(micros)
}

/// `value` with `expiry` in front of it (FORMAT.md 7.3).
pub(crate) fn with_expiry(expiry: u64, value: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(EXPIRY_SIZE + value.len());
    stored.extend_from_slice(&expiry.to_le_bytes());
    stored.extend_from_slice(value);
    stored
}

/// The expiry in front of a stored value, or `None` when it is shorter than one.
pub(crate) fn expiry_of(stored: &[u8]) -> Option<u64> {
    let bytes: [u8; EXPIRY_SIZE] = stored.get(..EXPIRY_SIZE)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Whether a value expiring at `expiry` has expired at `now`.
pub(crate) fn expired(expiry: u64, now: u64) -> bool {
    expiry != NEVER && expiry <= now
}

/// A stored value of a keyspace of expiring values as a reader at `now` sees it: `None` if
/// expired, else the user's value; an error (for a `Corruption`) if it is too short to carry
/// an expiry.
pub(crate) fn unwrap_expiring(
    stored: crate::value::Value,
    now: u64,
) -> std::result::Result<Option<crate::value::Value>, String> {
    let Some(expiry) = expiry_of(&stored) else {
        return Err(format!(
            "a value of a keyspace with a time to live is {} bytes, shorter than its 8-byte \
             expiry (FORMAT.md 7.3)",
            stored.len()
        ));
    };
    if expired(expiry, now) {
        return Ok(None);
    }
    Ok(Some(stored.tail(EXPIRY_SIZE)))
}
