//! `BatchWriter`: gathers single puts and deletes from any number of threads into
//! `WriteBatch`es and commits each one atomically, so a program that writes one key at a time
//! gets the throughput of batches.
//!
//! Owns: the queue of gathered batches (each with the ticket slots of its operations), one
//! background committer thread (`shaledb-batch-writer`), and the batch-size policy
//! ([`BatchStrategy`]).
//!
//! Invariants:
//! - Operations are committed in the order they were queued (one committer, a FIFO queue), so a
//!   later operation on the same key wins, as in a `WriteBatch`.
//! - Every ticket is resolved exactly once: `Ok` when its batch is durable, the commit's error
//!   otherwise. A batch dropped without a commit (committer panic) resolves its tickets with
//!   `Error::Closed`; nothing is dropped silently.
//! - Bytes queued plus bytes being committed stay at or under `max_in_flight_bytes`, except for
//!   a single operation larger than the bound, which goes through alone.
//!
//! Locks: `Shared::state` (the queue and counters), then at most one ticket slot's mutex, never
//! the other way round. `Db::write` is called with no lock of this module held.
//!
//! This module writes no bytes itself: batch encoding is `batch.rs` (FORMAT.md, "Write batches").

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::batch::WriteBatch;
use crate::commit_token::{CommitStatus, CommitToken};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::key::{check_key, check_value};
use crate::keyspace::Keyspace;
use crate::options::WriteOptions;
use crate::outcome_slot::OutcomeSlot;

/// Bytes counted for each operation on top of its key and value, towards
/// [`BatchWriterOptions::max_in_flight_bytes`] and [`BatchStrategy::MemoryBound`]: the kind tag,
/// the length prefixes and the ticket.
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{BatchStrategy, BatchWriter, BatchWriterOptions, Db, Options, OPERATION_OVERHEAD_BYTES};
///
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(Db::open(dir.path(), Options::default())?);
/// let options = BatchWriterOptions { strategy: BatchStrategy::FixedSize(100), ..BatchWriterOptions::default() };
/// let writer = BatchWriter::new(db, options)?;
/// let ticket = writer.put(b"key", b"value")?; // queued until 100 have gathered, or a flush
/// assert_eq!(writer.stats().queued_bytes, 3 + 5 + OPERATION_OVERHEAD_BYTES);
/// writer.flush()?;
/// ticket.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const OPERATION_OVERHEAD_BYTES: usize = 16;

/// When the committer closes a batch and commits it.
///
/// Whatever the strategy, a batch is also committed at once when [`BatchWriter::flush`] asks for
/// it, when producers are blocked by [`BatchWriterOptions::max_in_flight_bytes`], and when the
/// last clone of the writer is dropped. [`Ticket::wait`] does not force a commit: with
/// `FixedSize` or `MemoryBound`, a lone thread that waits on its own ticket before the batch is
/// full must call `flush` (or pick `LowLatency`, `TimeWindow` or `Adaptive`, which always
/// commit within a bounded time).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use shaledb::{BatchStrategy, BatchWriter, BatchWriterOptions, Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(Db::open(dir.path(), Options::default())?);
/// // Commit at least every 2 ms, however few operations have gathered.
/// let options = BatchWriterOptions {
///     strategy: BatchStrategy::TimeWindow(Duration::from_millis(2)),
///     ..BatchWriterOptions::default()
/// };
/// let writer = BatchWriter::new(Arc::clone(&db), options)?;
/// let tickets = [writer.put(b"a", b"1")?, writer.put(b"b", b"2")?];
/// for ticket in tickets {
///     ticket.wait()?; // no flush needed: the window closes the batch
/// }
/// assert_eq!(writer.stats().operations_committed, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStrategy {
    /// Commit batches of exactly this many operations (fewer only for a flush, backpressure or
    /// the final drop).
    FixedSize(usize),
    /// Commit at least this often: a batch is committed once its oldest operation has waited
    /// this long (sooner if the committer is busy longer than that).
    TimeWindow(Duration),
    /// Commit batches of about this many bytes (operations counted with
    /// [`OPERATION_OVERHEAD_BYTES`]); a single larger operation is a batch of its own.
    MemoryBound(usize),
    /// Batch size steered by measured commit latency: it grows (by a quarter) after a commit
    /// faster than `target_latency` and shrinks (by a quarter) after a slower one, staying in
    /// `min_operations..=max_operations`. A batch that has not reached the current size is
    /// committed once its oldest operation has waited `target_latency`.
    Adaptive {
        /// Smallest batch size, in operations (also the starting size).
        min_operations: usize,
        /// Largest batch size, in operations.
        max_operations: usize,
        /// Commit latency to steer towards.
        target_latency: Duration,
    },
    /// Commit whatever is queued as soon as the previous commit returns: batches are exactly
    /// what gathered during one commit (group commit). The default.
    LowLatency,
}

/// Retrying a failed commit with exponential backoff.
///
/// Only errors that say nothing was changed and that a later attempt may succeed are retried:
/// today that is [`Error::Io`] of kind `Interrupted`, `WouldBlock` or `TimedOut`. Never
/// retried: `ReadOnly` (a failed log write or fsync poisons the database; the data it covered
/// may be lost, so the fsync must not be repeated), `Corruption`, `InvalidArgument`, `Closed`,
/// `Locked` and any other I/O error. In practice the engine poisons itself after a failed log
/// write, so a retry of an I/O error ends with `ReadOnly`, which is then delivered.
///
/// ```
/// use std::time::Duration;
/// use shaledb::{BatchWriterOptions, RetryPolicy};
///
/// let options = BatchWriterOptions {
///     retry: RetryPolicy {
///         max_attempts: 3, // the first attempt and two retries
///         initial_backoff: Duration::from_millis(1),
///         max_backoff: Duration::from_millis(10),
///         commit_tokens: true, // a retry never applies a batch twice
///     },
///     ..BatchWriterOptions::default()
/// };
/// options.validate()?;
/// let never = RetryPolicy { max_attempts: 0, ..RetryPolicy::default() };
/// assert!(BatchWriterOptions { retry: never, ..options }.validate().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per batch, the first included; 1 (the default) means no retry.
    pub max_attempts: u32,
    /// Pause before the second attempt; each later pause doubles. Default 1 ms.
    pub initial_backoff: Duration,
    /// Longest pause between attempts. Default 100 ms.
    pub max_backoff: Duration,
    /// Whether each batch that may be retried (`max_attempts` over 1) carries a fresh
    /// [`CommitToken`](crate::CommitToken) ([`Db::write_with_token`]): before a retry, the
    /// writer asks [`Db::was_committed`] and does not write again a batch whose attempt
    /// committed though it reported an error, and the retry itself is applied at most once.
    /// Costs each batch one 34-byte operation. Default `true`.
    pub commit_tokens: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(100),
            commit_tokens: true,
        }
    }
}

/// How a [`BatchWriter`] forms and commits batches.
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{BatchStrategy, BatchWriter, BatchWriterOptions, Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(Db::open(dir.path(), Options::default())?);
/// let options = BatchWriterOptions {
///     strategy: BatchStrategy::MemoryBound(64 << 10), // batches of about 64 KiB
///     max_in_flight_bytes: 1 << 20, // put blocks beyond 1 MiB queued or committing
///     sync: false, // a ticket then means "in the log", not "on stable storage"
///     ..BatchWriterOptions::default()
/// };
/// let writer = BatchWriter::new(Arc::clone(&db), options)?;
/// let ticket = writer.put(b"k", b"v")?;
/// writer.flush()?; // the batch is not full: commit it now
/// ticket.wait()?;
/// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchWriterOptions {
    /// When a batch is committed. Default [`BatchStrategy::LowLatency`].
    pub strategy: BatchStrategy,
    /// Bound on bytes queued plus bytes being committed (operations counted with
    /// [`OPERATION_OVERHEAD_BYTES`]); `put` and `delete` block while it would be exceeded.
    /// Default 64 MiB.
    pub max_in_flight_bytes: usize,
    /// Commit with [`WriteOptions::sync`]: a ticket then means "on stable storage". Default
    /// `true`.
    pub sync: bool,
    /// Retrying failed commits. Default: no retry.
    pub retry: RetryPolicy,
}

impl Default for BatchWriterOptions {
    fn default() -> Self {
        BatchWriterOptions {
            strategy: BatchStrategy::LowLatency,
            max_in_flight_bytes: 64 << 20,
            sync: true,
            retry: RetryPolicy::default(),
        }
    }
}

fn invalid(field: &str, problem: &str) -> Error {
    Error::InvalidArgument(format!("BatchWriterOptions::{field} {problem}"))
}

impl BatchWriterOptions {
    /// Checks every field; the error ([`Error::InvalidArgument`]) names the first bad field.
    ///
    /// ```
    /// use shaledb::{BatchStrategy, BatchWriterOptions};
    ///
    /// assert!(BatchWriterOptions::default().validate().is_ok());
    /// let empty_batches = BatchWriterOptions {
    ///     strategy: BatchStrategy::FixedSize(0),
    ///     ..BatchWriterOptions::default()
    /// };
    /// assert!(empty_batches.validate().unwrap_err().to_string().contains("strategy"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        match self.strategy {
            BatchStrategy::FixedSize(0) => {
                return Err(invalid(
                    "strategy",
                    "FixedSize must be at least 1 operation",
                ));
            }
            BatchStrategy::TimeWindow(window) if window.is_zero() => {
                return Err(invalid("strategy", "TimeWindow must be longer than zero"));
            }
            BatchStrategy::MemoryBound(0) => {
                return Err(invalid("strategy", "MemoryBound must be at least 1 byte"));
            }
            BatchStrategy::Adaptive {
                min_operations,
                max_operations,
                target_latency,
            } => {
                if min_operations == 0 {
                    return Err(invalid("strategy.min_operations", "must be at least 1"));
                }
                if max_operations < min_operations {
                    return Err(invalid(
                        "strategy.max_operations",
                        "must be at least min_operations",
                    ));
                }
                if target_latency.is_zero() {
                    return Err(invalid(
                        "strategy.target_latency",
                        "must be longer than zero",
                    ));
                }
            }
            _ => {}
        }
        if self.max_in_flight_bytes == 0 {
            return Err(invalid("max_in_flight_bytes", "must be at least 1"));
        }
        if self.retry.max_attempts == 0 {
            return Err(invalid("retry.max_attempts", "must be at least 1"));
        }
        if self.retry.max_backoff < self.retry.initial_backoff {
            return Err(invalid(
                "retry.max_backoff",
                "must be at least initial_backoff",
            ));
        }
        Ok(())
    }
}

/// A snapshot of a [`BatchWriter`]'s counters, from [`BatchWriter::stats`].
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{BatchStrategy, BatchWriter, BatchWriterOptions, Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(Db::open(dir.path(), Options::default())?);
/// let options = BatchWriterOptions { strategy: BatchStrategy::FixedSize(10), ..BatchWriterOptions::default() };
/// let writer = BatchWriter::new(db, options)?;
/// for index in 0..25u32 {
///     writer.put(&index.to_be_bytes(), b"value")?;
/// }
/// writer.flush()?; // commits the last five too
/// let stats = writer.stats();
/// assert_eq!((stats.commits, stats.operations_committed, stats.failed_commits), (3, 25, 0));
/// assert_eq!(stats.queued_operations, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchWriterStats {
    /// Operations queued and not yet handed to a commit.
    pub queued_operations: usize,
    /// Bytes of those operations (with [`OPERATION_OVERHEAD_BYTES`] each).
    pub queued_bytes: usize,
    /// Commits running now (0 or 1: there is one committer).
    pub commits_in_flight: usize,
    /// Successful commits so far.
    pub commits: u64,
    /// Commits that failed (after any retries); their tickets got the error.
    pub failed_commits: u64,
    /// Operations in successful commits.
    pub operations_committed: u64,
    /// `operations_committed / commits` (0 before the first commit).
    pub mean_batch_size: f64,
}

/// A claim on one queued operation: [`wait`](Ticket::wait) tells when it is durable. Dropping a
/// ticket does not cancel the operation.
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(Db::open(dir.path(), Options::default())?);
/// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
/// let tickets: Vec<_> = (0..3u8).map(|index| writer.put(&[index], b"v")).collect::<Result<_, _>>()?;
/// for ticket in tickets {
///     ticket.wait()?; // each tells how its operation's batch commit went
/// }
/// assert_eq!(db.multi_get(&[[0], [1], [2]])?.iter().flatten().count(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Ticket {
    slot: Arc<OutcomeSlot>,
}

impl Ticket {
    /// Blocks until the operation's batch is committed (with the writer's `sync`, on stable
    /// storage), or returns the error of its commit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// let ticket = writer.put(b"order-17", b"paid")?;
    /// ticket.wait()?; // durable from here on
    /// assert_eq!(db.get(b"order-17")?.as_deref(), Some(&b"paid"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(self) -> Result<()> {
        self.slot.wait()
    }

    /// Whether the operation's commit has finished (successfully or not): `wait` would not block.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// let ticket = writer.put(b"k", b"v")?;
    /// writer.flush()?;
    /// assert!(ticket.is_done());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_done(&self) -> bool {
        self.slot.is_done()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (every update is a few
    // plain assignments), so the poison flag is ignored.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Operations gathered into one batch, with their tickets.
struct Gathered {
    batch: WriteBatch,
    slots: Vec<Arc<OutcomeSlot>>,
    bytes: usize,
    /// Number (in queue order, from 1) of the first operation.
    first_operation: u64,
    started: Instant,
    /// No operation is added any more: the batch reached the strategy's size.
    full: bool,
}

impl Gathered {
    fn resolve(&mut self, outcome: &Result<()>) {
        for slot in self.slots.drain(..) {
            slot.resolve(match outcome {
                Ok(()) => Ok(()),
                Err(error) => Err(error.duplicate()),
            });
        }
    }
}

impl Drop for Gathered {
    /// A batch dropped before its commit resolved it (the committer panicked, or stopped):
    /// its tickets learn that it was not written.
    fn drop(&mut self) {
        for slot in self.slots.drain(..) {
            slot.resolve(Err(Error::Closed));
        }
    }
}

struct State {
    queue: VecDeque<Gathered>,
    queued_operations: usize,
    queued_bytes: usize,
    committing_bytes: usize,
    commits_in_flight: usize,
    /// Operations ever queued; the number of the last one.
    operations_queued: u64,
    /// Operations whose commit has finished, successfully or not.
    operations_resolved: u64,
    /// Commit every operation numbered up to this at once (a flush asked).
    flush_through: u64,
    blocked_producers: usize,
    committer_waiting: bool,
    /// Set when the last writer handle is dropped: commit everything, then stop.
    shutdown: bool,
    /// Set when the committer thread has ended; no more operations are accepted.
    stopped: bool,
    adaptive_size: usize,
    commits: u64,
    failed_commits: u64,
    operations_committed: u64,
    last_error: Option<Error>,
}

struct Shared {
    db: Arc<Db>,
    options: BatchWriterOptions,
    state: Mutex<State>,
    /// The committer sleeps on this.
    work: Condvar,
    /// Blocked producers and flushes sleep on this; notified after each commit.
    progress: Condvar,
    /// Successful attempts still to be reported as an `Interrupted` error, in unit tests (an
    /// error after the commit).
    #[cfg(test)]
    fail_after_commit: std::sync::atomic::AtomicU32,
}

/// Gathers single puts and deletes from any number of threads into [`WriteBatch`]es and commits
/// each atomically (synced by default), so a program that writes one key at a time gets the
/// throughput of batches.
///
/// `put` and `delete` queue the operation and return a [`Ticket`] at once; `Ticket::wait` blocks
/// until the operation is durable or returns its commit's error. A background thread,
/// `shaledb-batch-writer`, forms the batches by the [`BatchStrategy`] and commits them with
/// [`Db::write`], in queue order. Clones share the queue and the thread; dropping the last clone
/// commits everything queued, then stops the thread (errors then reach only the tickets).
///
/// The writer holds an `Arc<Db>`: `BatchWriter::new` takes one, so the database cannot be
/// dropped under it. Closing the database while the writer runs makes the following commits fail
/// with [`Error::Closed`], delivered to their tickets.
///
/// ```
/// use std::sync::Arc;
/// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Arc::new(Db::open(dir.path(), Options::default())?);
/// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
/// let threads: Vec<_> = (0..4)
///     .map(|thread| {
///         let writer = writer.clone();
///         std::thread::spawn(move || -> shaledb::Result<()> {
///             for i in 0..100 {
///                 let key = format!("{thread}-{i}");
///                 writer.put(key.as_bytes(), b"value")?.wait()?;
///             }
///             Ok(())
///         })
///     })
///     .collect();
/// for thread in threads {
///     thread.join().expect("writer thread panicked")?;
/// }
/// let ticket = writer.delete(b"0-0")?;
/// writer.flush()?;
/// ticket.wait()?;
/// assert_eq!(db.get(b"3-99")?.as_deref(), Some(&b"value"[..]));
/// assert_eq!(db.get(b"0-0")?, None);
/// assert_eq!(writer.stats().operations_committed, 401);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BatchWriter {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter")
            .field("options", &self.handle.shared.options)
            .finish_non_exhaustive()
    }
}

/// Owned by the writer's clones; its drop stops the committer after a last commit.
struct Handle {
    shared: Arc<Shared>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        {
            let mut state = lock(&self.shared.state);
            state.shutdown = true;
            self.shared.work.notify_one();
        }
        if let Some(committer) = lock(&self.committer).take() {
            // A panicked committer already resolved its tickets (`Gathered::drop`); there is
            // nothing more to report from a destructor.
            let _ = committer.join();
        }
    }
}

impl BatchWriter {
    /// A writer committing to `db`, with its committer thread started. Fails with
    /// [`Error::InvalidArgument`] naming the field for invalid options, or with `Error::Io` if
    /// the thread cannot be started.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// // Batches of at most 1,000 operations, committed as soon as the previous one is done.
    /// let options = BatchWriterOptions {
    ///     strategy: shaledb::BatchStrategy::FixedSize(1000),
    ///     ..BatchWriterOptions::default()
    /// };
    /// let writer = BatchWriter::new(db, options)?;
    /// # drop(writer);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(db: Arc<Db>, options: BatchWriterOptions) -> Result<BatchWriter> {
        options.validate()?;
        let adaptive_size = match options.strategy {
            BatchStrategy::Adaptive { min_operations, .. } => min_operations,
            _ => 0,
        };
        let shared = Arc::new(Shared {
            db,
            options,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                queued_operations: 0,
                queued_bytes: 0,
                committing_bytes: 0,
                commits_in_flight: 0,
                operations_queued: 0,
                operations_resolved: 0,
                flush_through: 0,
                blocked_producers: 0,
                committer_waiting: false,
                shutdown: false,
                stopped: false,
                adaptive_size,
                commits: 0,
                failed_commits: 0,
                operations_committed: 0,
                last_error: None,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            #[cfg(test)]
            fail_after_commit: std::sync::atomic::AtomicU32::new(0),
        });
        let committer_shared = Arc::clone(&shared);
        let committer = std::thread::Builder::new()
            .name("shaledb-batch-writer".into())
            .spawn(move || run_committer(&committer_shared))
            .map_err(|error| Error::Io {
                path: None,
                source: error,
            })?;
        Ok(BatchWriter {
            handle: Arc::new(Handle {
                shared,
                committer: Mutex::new(Some(committer)),
            }),
        })
    }

    /// Queues "set `key` to `value`". Fails at once with [`Error::InvalidArgument`] for an
    /// oversized key or value, and with [`Error::Closed`] if the committer has stopped. Blocks
    /// while the in-flight bytes are at their bound.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// // Queue many puts, then wait for them all: they share few commits.
    /// let tickets: Vec<_> = (0..100)
    ///     .map(|index| writer.put(format!("key-{index}").as_bytes(), b"value"))
    ///     .collect::<Result<_, _>>()?;
    /// for ticket in tickets {
    ///     ticket.wait()?;
    /// }
    /// assert!(writer.stats().commits <= 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<Ticket> {
        check_key(key)?;
        check_value(value)?;
        self.enqueue(|batch| batch.put(key, value), key.len() + value.len())
    }

    /// Queues "set `key` to `value` in `keyspace`"; fails and blocks like [`put`](Self::put).
    /// Puts to several keyspaces share batches; a batch holding an operation of a keyspace
    /// dropped before it commits fails whole (each of its tickets says so).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// let events = db.keyspace("events", KeyspaceOptions::default())?;
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// writer.put_in(&events, b"e1", b"clicked")?.wait()?;
    /// assert_eq!(events.get(b"e1")?.as_deref(), Some(&b"clicked"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_in(&self, keyspace: &Keyspace, key: &[u8], value: &[u8]) -> Result<Ticket> {
        check_key(key)?;
        check_value(value)?;
        self.enqueue(
            |batch| batch.put_in(keyspace, key, value),
            key.len() + value.len(),
        )
    }

    /// Queues "merge `operand` into `key`" (of the default keyspace, [`Db::merge`]); fails and
    /// blocks like [`put`](Self::put), and at once with `Error::InvalidArgument` when the
    /// keyspace has no merge operator (so that it fails no batch it would share).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, CounterAdd, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let options = Options { merge_operator: Some(Arc::new(CounterAdd)), ..Options::default() };
    /// let db = Arc::new(Db::open(dir.path(), options)?);
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// let tickets: Vec<_> = (0..10)
    ///     .map(|_| writer.merge(b"clicks", &CounterAdd::encode(1)))
    ///     .collect::<Result<_, _>>()?;
    /// for ticket in tickets {
    ///     ticket.wait()?;
    /// }
    /// assert_eq!(CounterAdd::decode(&db.get(b"clicks")?.unwrap()), Some(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge(&self, key: &[u8], operand: &[u8]) -> Result<Ticket> {
        check_key(key)?;
        check_value(operand)?;
        self.handle
            .shared
            .db
            .default_keyspace()
            .check_takes_merges()?;
        self.enqueue(|batch| batch.merge(key, operand), key.len() + operand.len())
    }

    /// Queues "merge `operand` into `key` of `keyspace`"; fails and blocks like
    /// [`merge`](Self::merge).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, KeyspaceOptions, ListAppend, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// let lists = KeyspaceOptions { merge_operator: Some(Arc::new(ListAppend)), ..KeyspaceOptions::default() };
    /// let feed = db.keyspace("feed", lists)?;
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// writer.merge_in(&feed, b"user-1", &ListAppend::item(b"post-7"))?.wait()?;
    /// assert_eq!(ListAppend::items(&feed.get(b"user-1")?.unwrap())?, vec![&b"post-7"[..]]);
    /// assert!(writer.merge_in(&db.default_keyspace(), b"k", b"x").is_err()); // no operator
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge_in(&self, keyspace: &Keyspace, key: &[u8], operand: &[u8]) -> Result<Ticket> {
        check_key(key)?;
        check_value(operand)?;
        keyspace.check_takes_merges()?;
        self.enqueue(
            |batch| batch.merge_in(keyspace, key, operand),
            key.len() + operand.len(),
        )
    }

    /// Queues "delete `key` from `keyspace`"; fails and blocks like [`put`](Self::put).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// let events = db.keyspace("events", KeyspaceOptions::default())?;
    /// events.put(b"e1", b"clicked")?;
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// writer.delete_in(&events, b"e1")?.wait()?;
    /// assert_eq!(events.get(b"e1")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_in(&self, keyspace: &Keyspace, key: &[u8]) -> Result<Ticket> {
        check_key(key)?;
        self.enqueue(|batch| batch.delete_in(keyspace, key), key.len())
    }

    /// Queues "delete every key in `[start, end)`" (of the default keyspace); fails and blocks
    /// like [`put`](Self::put), and like
    /// [`WriteBatch::delete_range`] for a range whose start sorts after its end.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// db.put(b"log/1", b"")?;
    /// db.put(b"log/2", b"")?;
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// writer.delete_range(b"log/", b"log0")?.wait()?;
    /// assert_eq!(db.iter().count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range(&self, start: &[u8], end: &[u8]) -> Result<Ticket> {
        crate::batch::check_range(start, end)?;
        self.enqueue(
            |batch| batch.delete_range(start, end),
            start.len() + end.len(),
        )
    }

    /// Queues "delete every key of `keyspace` in `[start, end)`"; fails and blocks like
    /// [`delete_range`](Self::delete_range).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// let log = db.keyspace("log", KeyspaceOptions::default())?;
    /// log.put(b"1", b"")?;
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// writer.delete_range_in(&log, b"0", b"9")?.wait()?;
    /// assert_eq!(log.iter().count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range_in(&self, keyspace: &Keyspace, start: &[u8], end: &[u8]) -> Result<Ticket> {
        crate::batch::check_range(start, end)?;
        self.enqueue(
            |batch| batch.delete_range_in(keyspace, start, end),
            start.len() + end.len(),
        )
    }

    /// Queues "delete `key`"; fails and blocks like [`put`](Self::put).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// db.put(b"session-9", b"expired")?;
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// writer.delete(b"session-9")?.wait()?;
    /// assert_eq!(db.get(b"session-9")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete(&self, key: &[u8]) -> Result<Ticket> {
        check_key(key)?;
        self.enqueue(|batch| batch.delete(key), key.len())
    }

    /// Commits everything queued before this call and waits for it. Fails with the error of a
    /// commit that failed while it waited (the tickets of that commit have it too).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// for index in 0..10 {
    ///     writer.put(format!("key-{index}").as_bytes(), b"value")?; // tickets dropped
    /// }
    /// writer.flush()?; // all ten are committed now
    /// assert_eq!(writer.stats().operations_committed, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        let shared = &self.handle.shared;
        let mut state = lock(&shared.state);
        let target = state.operations_queued;
        let failures_before = state.failed_commits;
        state.flush_through = state.flush_through.max(target);
        shared.work.notify_one();
        while state.operations_resolved < target && !state.stopped {
            state = shared
                .progress
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        match &state.last_error {
            Some(error) if state.failed_commits > failures_before => Err(error.duplicate()),
            _ if state.operations_resolved < target => Err(Error::Closed),
            _ => Ok(()),
        }
    }

    /// The writer's counters now.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Arc::new(Db::open(dir.path(), Options::default())?);
    /// let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
    /// writer.put(b"k", b"v")?.wait()?;
    /// let stats = writer.stats();
    /// assert_eq!(stats.operations_committed, 1);
    /// assert_eq!(stats.failed_commits, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> BatchWriterStats {
        let state = lock(&self.handle.shared.state);
        let mean_batch_size = if state.commits == 0 {
            0.0
        } else {
            state.operations_committed as f64 / state.commits as f64
        };
        BatchWriterStats {
            queued_operations: state.queued_operations,
            queued_bytes: state.queued_bytes,
            commits_in_flight: state.commits_in_flight,
            commits: state.commits,
            failed_commits: state.failed_commits,
            operations_committed: state.operations_committed,
            mean_batch_size,
        }
    }

    /// Queues the operation `add` puts into a batch, of `payload` bytes of keys and values
    /// (checked by the caller, so that `add` cannot fail but for the operation count).
    fn enqueue(
        &self,
        add: impl FnOnce(&mut WriteBatch) -> Result<()>,
        payload: usize,
    ) -> Result<Ticket> {
        let shared = &self.handle.shared;
        let bytes = payload + OPERATION_OVERHEAD_BYTES;
        let mut state = lock(&shared.state);
        state = shared.wait_for_room(state, bytes)?;
        let limit = shared.batch_limit(&state);
        let operation_number = state.operations_queued + 1;
        let was_empty = state.queue.is_empty();
        if state.queue.back().is_none_or(|last| last.full) {
            state.queue.push_back(Gathered {
                batch: WriteBatch::new(),
                slots: Vec::new(),
                bytes: 0,
                first_operation: operation_number,
                started: Instant::now(),
                full: false,
            });
        }
        let Some(gathered) = state.queue.back_mut() else {
            unreachable!("a batch was just pushed");
        };
        add(&mut gathered.batch)?;
        let slot = Arc::new(OutcomeSlot::default());
        gathered.slots.push(Arc::clone(&slot));
        gathered.bytes += bytes;
        gathered.full = limit.reached(gathered.slots.len(), gathered.bytes);
        let became_full = gathered.full;
        state.operations_queued = operation_number;
        state.queued_operations += 1;
        state.queued_bytes += bytes;
        let wake = was_empty || became_full || shared.options.strategy == BatchStrategy::LowLatency;
        if wake && state.committer_waiting {
            shared.work.notify_one();
        }
        Ok(Ticket { slot })
    }
}

/// When a gathered batch is full.
#[derive(Debug, Clone, Copy)]
enum BatchLimit {
    Operations(usize),
    Bytes(usize),
    Unbounded,
}

impl BatchLimit {
    fn reached(self, operations: usize, bytes: usize) -> bool {
        match self {
            BatchLimit::Operations(limit) => operations >= limit,
            BatchLimit::Bytes(limit) => bytes >= limit,
            // A batch's operation count is a u32; stay well clear of it.
            BatchLimit::Unbounded => operations >= u32::MAX as usize / 2,
        }
    }
}

impl Shared {
    /// An `Interrupted` error in place of a successful attempt, while the test asks for one.
    #[cfg(test)]
    fn injected_failure(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        let take = |left: u32| left.checked_sub(1);
        match self
            .fail_after_commit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, take)
        {
            Ok(_) => Err(Error::Io {
                path: None,
                source: std::io::Error::new(std::io::ErrorKind::Interrupted, "injected"),
            }),
            Err(_) => Ok(()),
        }
    }

    fn batch_limit(&self, state: &State) -> BatchLimit {
        match self.options.strategy {
            BatchStrategy::FixedSize(operations) => BatchLimit::Operations(operations),
            BatchStrategy::MemoryBound(bytes) => BatchLimit::Bytes(bytes),
            BatchStrategy::Adaptive { .. } => BatchLimit::Operations(state.adaptive_size),
            BatchStrategy::TimeWindow(_) | BatchStrategy::LowLatency => BatchLimit::Unbounded,
        }
    }

    /// Blocks while adding `bytes` would take the in-flight bytes over the bound. An operation
    /// larger than the bound waits until nothing else is in flight, then goes alone.
    fn wait_for_room<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        bytes: usize,
    ) -> Result<MutexGuard<'a, State>> {
        loop {
            if state.stopped || state.shutdown {
                return Err(Error::Closed);
            }
            let in_flight = state.queued_bytes + state.committing_bytes;
            if in_flight == 0 || in_flight + bytes <= self.options.max_in_flight_bytes {
                return Ok(state);
            }
            state.blocked_producers += 1;
            self.work.notify_one();
            state = self
                .progress
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.blocked_producers -= 1;
        }
    }

    /// Whether the front batch must be committed now; otherwise, how long the committer may
    /// sleep before asking again (`None`: until woken).
    fn front_due(&self, state: &State) -> std::result::Result<(), Option<Duration>> {
        let Some(front) = state.queue.front() else {
            return Err(None);
        };
        if front.full
            || state.shutdown
            || state.blocked_producers > 0
            || state.flush_through >= front.first_operation
        {
            return Ok(());
        }
        let linger = match self.options.strategy {
            BatchStrategy::LowLatency => return Ok(()),
            BatchStrategy::TimeWindow(window) => window,
            BatchStrategy::Adaptive { target_latency, .. } => target_latency,
            BatchStrategy::FixedSize(_) | BatchStrategy::MemoryBound(_) => return Err(None),
        };
        match linger.checked_sub(front.started.elapsed()) {
            Some(left) if !left.is_zero() => Err(Some(left)),
            _ => Ok(()),
        }
    }

    /// Waits for a batch that is due and takes it off the queue; `None` once shut down with
    /// nothing left.
    fn next_batch(&self) -> Option<Gathered> {
        let mut state = lock(&self.state);
        loop {
            match self.front_due(&state) {
                Ok(()) => break,
                Err(_) if state.shutdown && state.queue.is_empty() => return None,
                Err(sleep) => {
                    state.committer_waiting = true;
                    state = match sleep {
                        Some(duration) => {
                            self.work
                                .wait_timeout(state, duration)
                                .unwrap_or_else(|poisoned| poisoned.into_inner())
                                .0
                        }
                        None => self
                            .work
                            .wait(state)
                            .unwrap_or_else(|poisoned| poisoned.into_inner()),
                    };
                    state.committer_waiting = false;
                }
            }
        }
        let gathered = state.queue.pop_front()?;
        state.queued_operations -= gathered.slots.len();
        state.queued_bytes -= gathered.bytes;
        state.committing_bytes += gathered.bytes;
        state.commits_in_flight += 1;
        Some(gathered)
    }

    /// Commits `batch`, retrying by the retry policy; returns the outcome and how long the last
    /// attempt took. With `commit_tokens` (and a retry possible) every attempt carries one
    /// token, and a retry is made only if the token did not commit.
    fn commit(&self, batch: WriteBatch) -> (Result<()>, Duration) {
        let options = WriteOptions {
            sync: self.options.sync,
        };
        let retry = self.options.retry;
        let token = (retry.max_attempts > 1 && retry.commit_tokens).then(CommitToken::new);
        let mut backoff = retry.initial_backoff;
        let mut attempt = 1;
        let mut batch = Some(batch);
        loop {
            // Keep a copy only when another attempt is possible: `Db::write` takes the batch.
            let this_attempt = if attempt < retry.max_attempts {
                batch.clone()
            } else {
                batch.take()
            };
            let Some(this_attempt) = this_attempt else {
                unreachable!("the batch is kept until the last attempt");
            };
            let started = Instant::now();
            let outcome = match token {
                Some(token) => self
                    .db
                    .write_with_token(this_attempt, token, &options)
                    .map(|_| ()),
                None => self.db.write(this_attempt, &options),
            };
            #[cfg(test)]
            let outcome = outcome.and_then(|()| self.injected_failure());
            let latency = started.elapsed();
            match outcome {
                Err(error) if attempt < retry.max_attempts && is_retryable(&error) => {
                    if let Some(token) = token {
                        // The attempt may have committed though it reported an error.
                        if let Ok(CommitStatus::Committed { .. }) = self.db.was_committed(&token) {
                            return (Ok(()), latency);
                        }
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(retry.max_backoff);
                    attempt += 1;
                }
                outcome => return (outcome, latency),
            }
        }
    }

    /// Records a finished commit in the counters (before its tickets are resolved, so that a
    /// caller whose ticket returned sees its commit counted).
    fn record(&self, operations: usize, outcome: &Result<()>, latency: Duration) {
        let mut state = lock(&self.state);
        match outcome {
            Ok(()) => {
                state.commits += 1;
                state.operations_committed += operations as u64;
            }
            Err(error) => {
                state.failed_commits += 1;
                state.last_error = Some(error.duplicate());
            }
        }
        if let BatchStrategy::Adaptive {
            min_operations,
            max_operations,
            target_latency,
        } = self.options.strategy
        {
            state.adaptive_size = steer(state.adaptive_size, latency, target_latency)
                .clamp(min_operations, max_operations);
        }
    }

    /// Releases a resolved batch's bytes and wakes blocked producers and flushes (after its
    /// tickets are resolved, so that a flush that returns finds them resolved).
    fn release(&self, operations: usize, bytes: usize) {
        let mut state = lock(&self.state);
        state.committing_bytes -= bytes;
        state.commits_in_flight -= 1;
        state.operations_resolved += operations as u64;
        self.progress.notify_all();
    }
}

/// The next adaptive batch size: a quarter more after a commit faster than the target, a
/// quarter less after a slower one.
fn steer(size: usize, latency: Duration, target: Duration) -> usize {
    if latency < target {
        size.saturating_add(size / 4 + 1)
    } else {
        size - size / 4
    }
}

/// Whether a failed commit may succeed if tried again (see [`RetryPolicy`]).
fn is_retryable(error: &Error) -> bool {
    use std::io::ErrorKind;
    match error {
        Error::Io { source, .. } => matches!(
            source.kind(),
            ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
        ),
        _ => false,
    }
}

/// The committer thread: takes due batches, commits them, resolves their tickets.
fn run_committer(shared: &Shared) {
    // Marks the writer stopped however this thread ends, so that producers and flushes never
    // wait for a committer that is gone; dropping the queue resolves its tickets.
    struct StopGuard<'a>(&'a Shared);
    impl Drop for StopGuard<'_> {
        fn drop(&mut self) {
            let abandoned = {
                let mut state = lock(&self.0.state);
                state.stopped = true;
                self.0.progress.notify_all();
                std::mem::take(&mut state.queue)
            };
            drop(abandoned);
        }
    }
    let _guard = StopGuard(shared);
    while let Some(mut gathered) = shared.next_batch() {
        let batch = std::mem::take(&mut gathered.batch);
        let operations = gathered.slots.len();
        let (outcome, latency) = shared.commit(batch);
        shared.record(operations, &outcome, latency);
        gathered.resolve(&outcome);
        shared.release(operations, gathered.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steering_grows_when_fast_and_shrinks_when_slow() {
        let target = Duration::from_millis(10);
        assert_eq!(steer(100, Duration::from_millis(1), target), 126);
        assert_eq!(steer(100, Duration::from_millis(20), target), 75);
        assert_eq!(steer(1, Duration::from_millis(1), target), 2);
        assert_eq!(steer(1, Duration::from_millis(20), target), 1);
    }

    /// An attempt that committed but reported a retryable error: with commit tokens the retry
    /// finds it committed and writes nothing more; without them the batch is applied twice.
    #[test]
    fn a_retry_after_a_commit_that_reported_an_error_applies_nothing_twice() {
        for commit_tokens in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let db = Arc::new(Db::open(dir.path(), crate::Options::default()).unwrap());
            let options = BatchWriterOptions {
                retry: RetryPolicy {
                    max_attempts: 3,
                    commit_tokens,
                    ..RetryPolicy::default()
                },
                ..BatchWriterOptions::default()
            };
            let writer = BatchWriter::new(Arc::clone(&db), options).unwrap();
            // The first token write also records the first cut (a batch of its own).
            db.write_with_token(
                WriteBatch::new(),
                CommitToken::new(),
                &WriteOptions::NO_SYNC,
            )
            .unwrap();
            writer
                .handle
                .shared
                .fail_after_commit
                .store(1, std::sync::atomic::Ordering::Release);
            let before = db.snapshot().sequence().0;
            let tickets: Vec<_> = (0..3)
                .map(|index| writer.put(format!("k{index}").as_bytes(), b"v").unwrap())
                .collect();
            writer.flush().unwrap();
            for ticket in tickets {
                ticket.wait().unwrap();
            }
            let applied = db.snapshot().sequence().0 - before;
            let batches = writer.stats().commits;
            if commit_tokens {
                // Each batch's operations once, plus its token record.
                assert_eq!(applied, 3 + batches, "commits {batches}");
            } else {
                // The batch that reported the error was written again.
                assert!(applied > 3, "applied {applied} in {batches} commits");
            }
        }
    }

    #[test]
    fn only_transient_io_errors_are_retried() {
        let io = |kind| Error::Io {
            path: None,
            source: std::io::Error::new(kind, "test"),
        };
        assert!(is_retryable(&io(std::io::ErrorKind::Interrupted)));
        assert!(!is_retryable(&io(std::io::ErrorKind::Other)));
        assert!(!is_retryable(&Error::ReadOnly("fsync failed".into())));
        assert!(!is_retryable(&Error::Closed));
        assert!(!is_retryable(&Error::InvalidArgument("x".into())));
    }
}
