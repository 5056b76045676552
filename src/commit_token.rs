//! Commit tokens: a write may carry a caller-chosen 16-byte token, recorded in the same batch,
//! so that a writer that crashed or lost its connection after sending a batch can ask whether
//! it committed ([`Db::was_committed`](crate::Db::was_committed)) and retry exactly the
//! batches that did not; a write carrying a token that already committed is not applied again
//! ([`Db::write_with_token`](crate::Db::write_with_token)).
//!
//! How (FORMAT.md 7.2). The tokens live in a keyspace of the engine's own
//! ([`COMMIT_TOKEN_KEYSPACE`]), created at the first write that carries one:
//! - `t` + token → the sequence number of the batch's last operation, which is that very entry:
//!   the commit leader fills it in when it stamps the batch (`WriteBatch::push_sequence_record`).
//!   The record is an operation of the user's batch, so it is logged, replayed, flushed and
//!   compacted with it: all of it or none of it, before and after a crash.
//! - `w` → the *cut* (a stamp, 8 bytes big-endian): every token stamped below it has been
//!   forgotten. A token's first 8 bytes are its stamp, big-endian, so the records sort by stamp,
//!   and forgetting is one range deletion `[t, t + cut)` written with the new cut, in one batch.
//!
//! The answers. Found: committed. Not found, stamped at or above the cut: not committed (it was
//! never forgotten, so it was never written). Not found below the cut: unknown. The cut only
//! grows, and the one in memory is raised before the range deletion is written, so a reader that
//! misses a record because it was just forgotten sees the raised cut.
//!
//! Exactly once. A write with a token holds the token in `pending` from its check until its
//! batch is visible or failed: a second write with the same token meanwhile is refused, and one
//! after it finds the record. Writes with different tokens share group commits as any others.
//!
//! Thread safety: `inner` guards `pending`, the count of remembered tokens and the keyspace
//! handle; it is held for a point read, never across a commit. A prune runs in the writer that
//! made it due, one at a time (`pruning`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::batch::WriteBatch;
use crate::engine::{Engine, lock};
use crate::error::{Error, Result};
use crate::key::SequenceNumber;
use crate::keyspace::Keyspace;
use crate::keyspace_admin::COMMIT_TOKEN_KEYSPACE;
use crate::keyspace_options::KeyspaceOptions;
use crate::options::{CommitTokenRetention, Options, WriteOptions};

/// The first byte of a token's record key (FORMAT.md 7.2).
const RECORD_PREFIX: u8 = b't';
/// The key of the cut.
const CUT_KEY: &[u8] = b"w";

/// A caller-chosen name for one write, 16 bytes: a *stamp* (its first 8 bytes, big-endian:
/// when the token was made, in microseconds since the Unix epoch) and 8 bytes that tell apart
/// tokens of the same stamp. The stamp is what the retention window
/// ([`Options::commit_token_retention`](crate::Options::commit_token_retention)) measures.
///
/// [`CommitToken::new`] makes a fresh one (the current time and 8 bytes that differ from every
/// other token this process makes, and, with overwhelming likelihood, from other processes');
/// a writer that must ask about its writes after a crash records the token before it writes,
/// for example in its own journal, and rebuilds it with [`from_bytes`](Self::from_bytes).
///
/// ```
/// use shaledb::CommitToken;
///
/// let token = CommitToken::new();
/// let journaled: [u8; 16] = token.to_bytes();
/// assert_eq!(CommitToken::from_bytes(journaled), token);
/// assert_ne!(CommitToken::new(), token);
/// let made = CommitToken::from_parts(1_700_000_000_000_000, 42);
/// assert_eq!(made.stamp_micros(), 1_700_000_000_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitToken([u8; 16]);

impl CommitToken {
    /// A fresh token: stamped with the current time, unique in this process.
    ///
    /// ```
    /// let a = shaledb::CommitToken::new();
    /// let b = shaledb::CommitToken::new();
    /// assert_ne!(a, b);
    /// assert!(b.stamp_micros() >= a.stamp_micros());
    /// ```
    #[expect(
        clippy::new_without_default,
        reason = "a token made by default would be a fresh random one, which a Default impl should not hide"
    )]
    pub fn new() -> CommitToken {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let stamp = now_micros();
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        // The process, the moment and a counter, hashed: unique within the process (the
        // counter), and unlike another process's (its id and start differ) but for a 2^-64
        // chance per pair of tokens of the same microsecond.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64);
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
        seed[8..16].copy_from_slice(&nanos.to_le_bytes());
        seed[16..24].copy_from_slice(&count.to_le_bytes());
        seed[24..].copy_from_slice(&(process_start_nanos()).to_le_bytes());
        let unique = xxhash_rust::xxh3::xxh3_64(&seed) ^ count.rotate_left(32);
        CommitToken::from_parts(stamp, unique)
    }

    /// The token of stamp `stamp_micros` (microseconds since the Unix epoch: the window
    /// measures ages by it) and tie-breaker `unique`.
    ///
    /// ```
    /// let token = shaledb::CommitToken::from_parts(5, 7);
    /// assert_eq!(token.to_bytes()[..8], 5u64.to_be_bytes());
    /// assert_eq!(token.to_bytes()[8..], 7u64.to_be_bytes());
    /// ```
    pub fn from_parts(stamp_micros: u64, unique: u64) -> CommitToken {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&stamp_micros.to_be_bytes());
        bytes[8..].copy_from_slice(&unique.to_be_bytes());
        CommitToken(bytes)
    }

    /// The token whose bytes are `bytes` (as [`to_bytes`](Self::to_bytes) gave them).
    ///
    /// ```
    /// let token = shaledb::CommitToken::new();
    /// assert_eq!(shaledb::CommitToken::from_bytes(token.to_bytes()), token);
    /// ```
    pub fn from_bytes(bytes: [u8; 16]) -> CommitToken {
        CommitToken(bytes)
    }

    /// The token's 16 bytes: the stamp big-endian, then the tie-breaker.
    ///
    /// ```
    /// let bytes = shaledb::CommitToken::from_parts(1, 2).to_bytes();
    /// assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
    /// ```
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0
    }

    /// The token's stamp: microseconds since the Unix epoch when it was made.
    ///
    /// ```
    /// let token = shaledb::CommitToken::new();
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    /// assert!(token.stamp_micros() <= now.as_micros() as u64);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stamp_micros(&self) -> u64 {
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&self.0[..8]);
        u64::from_be_bytes(stamp)
    }

    /// The key of the token's record in the token keyspace.
    fn record_key(&self) -> [u8; 17] {
        let mut key = [0u8; 17];
        key[0] = RECORD_PREFIX;
        key[1..].copy_from_slice(&self.0);
        key
    }
}

/// What [`Db::was_committed`](crate::Db::was_committed) knows of a token.
///
/// ```
/// use shaledb::{CommitStatus, CommitToken, Db, Options, WriteBatch, WriteOptions};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let token = CommitToken::new();
/// assert_eq!(db.was_committed(&token)?, CommitStatus::NotCommitted);
/// let mut batch = WriteBatch::new();
/// batch.put(b"k", b"v")?;
/// db.write_with_token(batch, token, &WriteOptions::SYNC)?;
/// assert!(matches!(db.was_committed(&token)?, CommitStatus::Committed { .. }));
/// let ancient = CommitToken::from_parts(1, 1); // stamped in 1970: long forgotten
/// assert_eq!(db.was_committed(&ancient)?, CommitStatus::Unknown);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitStatus {
    /// A batch carrying the token committed: all of it is in the database, its last operation at
    /// `sequence` (a snapshot at or past it sees the batch).
    Committed {
        /// The sequence number of the batch's last operation.
        sequence: SequenceNumber,
    },
    /// No batch carrying the token committed, and none that has been written so far will: a
    /// write that was running when the process crashed left nothing. (A write carrying it that
    /// is still running in this process may yet commit;
    /// [`Db::write_with_token`](crate::Db::write_with_token) refuses to run two at once.)
    NotCommitted,
    /// The token is older than the retention window: whether it committed is forgotten.
    Unknown,
}

/// What [`Db::write_with_token`](crate::Db::write_with_token) did.
///
/// ```
/// use shaledb::{CommitToken, Db, Options, TokenWrite, WriteBatch, WriteOptions};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let token = CommitToken::new();
/// let mut batch = WriteBatch::new();
/// batch.put(b"balance", b"90")?;
/// let first = db.write_with_token(batch.clone(), token, &WriteOptions::SYNC)?;
/// let TokenWrite::Applied { sequence } = first else { panic!("{first:?}") };
/// // A retry of the same batch (its first attempt's outcome was lost) is not applied again.
/// let retry = db.write_with_token(batch, token, &WriteOptions::SYNC)?;
/// assert_eq!(retry, TokenWrite::AlreadyCommitted { sequence });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenWrite {
    /// The batch was committed now; its last operation is at `sequence`.
    Applied {
        /// The sequence number of the batch's last operation (the token's record).
        sequence: SequenceNumber,
    },
    /// A batch with this token had committed before, at `sequence`: this one was not applied.
    AlreadyCommitted {
        /// The sequence number of the earlier batch's last operation.
        sequence: SequenceNumber,
    },
}

/// A database's commit tokens: the keyspace they live in, the cut, and the writes in flight.
pub(crate) struct CommitTokens {
    retention: CommitTokenRetention,
    /// Every token stamped below this is forgotten (mirrors the `w` record; raised first).
    cut: AtomicU64,
    inner: Mutex<Inner>,
    /// Held by the one writer pruning.
    pruning: Mutex<()>,
}

#[derive(Default)]
struct Inner {
    /// The token keyspace, once opened (at the first token write, or the first question when it
    /// already exists).
    keyspace: Option<Keyspace>,
    /// Whether the cut was read from the keyspace.
    loaded: bool,
    /// Tokens of writes between their check and their outcome.
    pending: HashSet<CommitToken>,
    /// How many tokens are remembered (counted at the first write after open).
    remembered: Option<u64>,
}

impl CommitTokens {
    pub(crate) fn new(retention: CommitTokenRetention) -> CommitTokens {
        CommitTokens {
            retention,
            cut: AtomicU64::new(0),
            inner: Mutex::new(Inner::default()),
            pruning: Mutex::new(()),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// The token keyspace if it exists (or `create`: made now), with the cut loaded.
    fn keyspace(
        &self,
        engine: &Arc<Engine>,
        inner: &mut Inner,
        create: bool,
    ) -> Result<Option<Keyspace>> {
        if inner.keyspace.is_none() {
            let existing = {
                let state = lock(&engine.state);
                state
                    .keyspaces
                    .values()
                    .find(|entry| entry.shared.name == COMMIT_TOKEN_KEYSPACE)
                    .map(|entry| Arc::clone(&entry.shared))
            };
            let shared = match existing {
                Some(shared) => Some(shared),
                None if create => Some(crate::keyspace_admin::open_any_keyspace(
                    engine,
                    COMMIT_TOKEN_KEYSPACE,
                    &token_keyspace_options(&engine.options),
                )?),
                None => None,
            };
            inner.keyspace = shared.map(|shared| Keyspace::new(Arc::clone(engine), shared));
        }
        let Some(keyspace) = inner.keyspace.clone() else {
            return Ok(None);
        };
        if !inner.loaded {
            if let Some(value) = keyspace.get(CUT_KEY)? {
                let cut = decode_u64_be(&value).ok_or_else(|| corrupt_record("the cut", &value))?;
                self.cut.fetch_max(cut, Ordering::AcqRel);
            }
            inner.loaded = true;
        }
        Ok(Some(keyspace))
    }

    /// What the database knows of `token` (see [`CommitStatus`]).
    pub(crate) fn was_committed(
        &self,
        engine: &Arc<Engine>,
        token: &CommitToken,
    ) -> Result<CommitStatus> {
        let keyspace = {
            let mut inner = self.inner();
            self.keyspace(engine, &mut inner, false)?
        };
        let Some(keyspace) = keyspace else {
            // No token was ever written to this database.
            return Ok(CommitStatus::NotCommitted);
        };
        if let Some(value) = keyspace.get(&token.record_key())? {
            return Ok(CommitStatus::Committed {
                sequence: decode_sequence(&value)?,
            });
        }
        // Read after the miss: a prune raises the cut before its deletion becomes visible.
        if token.stamp_micros() < self.cut.load(Ordering::Acquire) {
            Ok(CommitStatus::Unknown)
        } else {
            Ok(CommitStatus::NotCommitted)
        }
    }

    /// Commits `batch` with `token`'s record in it, unless a batch with `token` committed before.
    pub(crate) fn write(
        &self,
        engine: &Arc<Engine>,
        mut batch: WriteBatch,
        token: CommitToken,
        options: &WriteOptions,
    ) -> Result<TokenWrite> {
        crate::keyspace::check_writable_handle(engine)?;
        let keyspace = {
            let mut inner = self.inner();
            let Some(keyspace) = self.keyspace(engine, &mut inner, true)? else {
                unreachable!("created when missing");
            };
            self.refuse_forgotten(&token)?;
            if inner.pending.contains(&token) {
                return Err(Error::InvalidArgument(format!(
                    "a write carrying commit token {} is already running; a token names one \
                     write (retry it once that write has returned)",
                    hex(&token.to_bytes())
                )));
            }
            if let Some(value) = keyspace.get(&token.record_key())? {
                return Ok(TokenWrite::AlreadyCommitted {
                    sequence: decode_sequence(&value)?,
                });
            }
            if inner.remembered.is_none() {
                inner.remembered = Some(count_records(&keyspace)?);
            }
            inner.pending.insert(token);
            keyspace
        };
        let committed = batch
            .push_sequence_record_in(&keyspace, &token.record_key())
            .and_then(|()| crate::keyspace::commit(engine, batch, options.sync, None));
        // Read while the token is still pending, which keeps a prune from forgetting it.
        let sequence = match &committed {
            Ok(()) => match keyspace.get(&token.record_key()) {
                Ok(Some(value)) => decode_sequence(&value),
                Ok(None) => Err(Error::corruption(
                    format!("keyspace {COMMIT_TOKEN_KEYSPACE}"),
                    0,
                    "a commit token's record is missing right after its batch committed",
                )),
                Err(error) => Err(error),
            },
            Err(_) => Ok(SequenceNumber(0)),
        };
        let due = {
            let mut inner = self.inner();
            inner.pending.remove(&token);
            if committed.is_ok() {
                inner.remembered = inner.remembered.map(|count| count + 1);
            }
            self.prune_due(inner.remembered.unwrap_or(0))
        };
        committed?;
        let sequence = sequence?;
        if due {
            // The write itself succeeded: a failed prune is reported by the next one, and
            // leaves the tokens remembered a while longer, which answers no question wrongly.
            let _ = self.prune(engine, &keyspace);
        }
        Ok(TokenWrite::Applied { sequence })
    }

    /// Refuses a token stamped below the cut: whether it committed is forgotten, so a write of it
    /// might apply a batch twice.
    fn refuse_forgotten(&self, token: &CommitToken) -> Result<()> {
        let cut = self.cut.load(Ordering::Acquire);
        if token.stamp_micros() < cut {
            return Err(Error::InvalidArgument(format!(
                "commit token {} is stamped {} µs since the epoch, before the retention window \
                 (tokens stamped before {cut} are forgotten): whether it committed is unknown, \
                 so a write carrying it is refused; use a fresh token",
                hex(&token.to_bytes()),
                token.stamp_micros()
            )));
        }
        Ok(())
    }

    /// Whether tokens are due to be forgotten: the age cut has moved a sixteenth of the window
    /// past the recorded cut, or the count is a sixteenth past its bound.
    fn prune_due(&self, remembered: u64) -> bool {
        let max_age = self.retention.max_age.as_micros() as u64;
        let age_cut = now_micros().saturating_sub(max_age);
        let cut = self.cut.load(Ordering::Acquire);
        let slack = (self.retention.max_count / 16).max(1);
        age_cut > cut.saturating_add(max_age / 16)
            || remembered > self.retention.max_count.saturating_add(slack)
    }

    /// Forgets the tokens past the window: raises the cut to the newer of the age cut and the
    /// stamp that leaves `max_count` tokens, then deletes the records below it and records the
    /// cut, in one batch.
    fn prune(&self, engine: &Engine, keyspace: &Keyspace) -> Result<()> {
        let Ok(_pruning) = self.pruning.try_lock() else {
            return Ok(()); // another writer prunes now
        };
        let remembered = self.inner().remembered.unwrap_or(0);
        let max_age = self.retention.max_age.as_micros() as u64;
        let mut cut = now_micros()
            .saturating_sub(max_age)
            .max(self.cut.load(Ordering::Acquire));
        let excess = remembered.saturating_sub(self.retention.max_count);
        // Walk the oldest records: those below the age cut go, and so do the `excess` oldest.
        let mut stamps: Vec<u64> = Vec::new();
        let start = [RECORD_PREFIX];
        let end = [RECORD_PREFIX + 1];
        for item in keyspace.range(&start[..]..&end[..]) {
            let (key, _) = item?;
            let stamp = key
                .get(1..9)
                .and_then(decode_u64_be)
                .ok_or_else(|| corrupt_record("a token's key", &key))?;
            if stamp >= cut {
                if stamps.len() as u64 >= excess {
                    break;
                }
                // Tokens of one stamp go together: the cut is a stamp.
                cut = stamp.saturating_add(1);
            }
            stamps.push(stamp);
        }
        {
            // Never past a write in flight: it checked its token against the cut before, and
            // reads its record back once committed. Raised before the deletion is visible (see
            // the module documentation), with `inner` held so that no write starts meanwhile.
            let inner = self.inner();
            if let Some(oldest_pending) = inner.pending.iter().map(CommitToken::stamp_micros).min()
            {
                cut = cut.min(oldest_pending);
            }
            if cut <= self.cut.load(Ordering::Acquire) {
                return Ok(());
            }
            self.cut.fetch_max(cut, Ordering::AcqRel);
        }
        let forgotten = stamps.iter().filter(|&&stamp| stamp < cut).count() as u64;
        let mut upper = [0u8; 9];
        upper[0] = RECORD_PREFIX;
        upper[1..].copy_from_slice(&cut.to_be_bytes());
        let mut batch = WriteBatch::new();
        batch.delete_range_in(keyspace, &start, &upper)?;
        batch.put_in(keyspace, CUT_KEY, &cut.to_be_bytes())?;
        crate::keyspace::commit(engine, batch, false, None)?;
        let mut inner = self.inner();
        inner.remembered = inner
            .remembered
            .map(|count| count.saturating_sub(forgotten));
        Ok(())
    }
}

/// The token keyspace's options: the database's, with memtables and tables no larger than a
/// few MiB (its records are 25 bytes).
fn token_keyspace_options(options: &Options) -> KeyspaceOptions {
    KeyspaceOptions {
        write_buffer_size: options.write_buffer_size.min(4 << 20),
        target_file_size: options.target_file_size.min(8 << 20),
        level1_target_size: options.level1_target_size.min(32 << 20),
        ..KeyspaceOptions::from_options(options)
    }
}

/// How many token records `keyspace` holds.
fn count_records(keyspace: &Keyspace) -> Result<u64> {
    let start = [RECORD_PREFIX];
    let end = [RECORD_PREFIX + 1];
    let mut count = 0;
    for item in keyspace.range(&start[..]..&end[..]) {
        item?;
        count += 1;
    }
    Ok(count)
}

fn decode_u64_be(bytes: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

fn decode_sequence(value: &[u8]) -> Result<SequenceNumber> {
    let bytes: [u8; 8] = value
        .try_into()
        .map_err(|_| corrupt_record("a token's sequence number", value))?;
    Ok(SequenceNumber(u64::from_le_bytes(bytes)))
}

fn corrupt_record(what: &str, bytes: &[u8]) -> Error {
    Error::corruption(
        format!("keyspace {COMMIT_TOKEN_KEYSPACE}"),
        0,
        format!(
            "{what} in the commit token keyspace is {} bytes ({}); FORMAT.md 7.2 says 8",
            bytes.len(),
            hex(bytes)
        ),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

/// When this process first made a token, in nanoseconds since the epoch (a per-process salt).
fn process_start_nanos() -> u64 {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64)
    })
}

#[cfg(test)]
impl CommitTokens {
    /// Marks `token` as written by a write in flight (or no longer), for tests.
    pub(crate) fn set_pending_for_test(&self, token: CommitToken, pending: bool) {
        let mut inner = self.inner();
        if pending {
            inner.pending.insert(token);
        } else {
            inner.pending.remove(&token);
        }
    }

    /// The cut, for tests.
    pub(crate) fn cut_for_test(&self) -> u64 {
        self.cut.load(Ordering::Acquire)
    }
}
