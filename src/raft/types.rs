//! The raft storage's types and encodings: the openraft type configuration, the key-value
//! requests and responses the state machine applies, the names of the keyspaces and of the
//! metadata keys (FORMAT.md 9), the value encodings, and the conversion of shaledb's errors into
//! openraft's.
//!
//! Pure: no reads or writes of the database here; `log_store.rs` and `state_machine.rs` do them.

use std::io::Cursor;

use openraft::AnyError;
use serde::{Deserialize, Serialize};

use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::key::{check_key, check_value};
use crate::keyspace::Keyspace;

openraft::declare_raft_types!(
    /// The openraft type configuration of a shaledb-backed node: [`Request`]s in, [`Response`]s
    /// out, `u64` node ids, [`openraft::BasicNode`] addresses, openraft's own [`openraft::Entry`],
    /// snapshots as in-memory blobs (`Cursor<Vec<u8>>`, FORMAT.md 9.4), and the tokio runtime.
    ///
    /// ```
    /// use shaledb::raft::{Request, TypeConfig};
    ///
    /// // Every openraft type is parameterised by it: `openraft::Raft<TypeConfig>`,
    /// // `openraft::Entry<TypeConfig>`, ...
    /// let entry = openraft::Entry::<TypeConfig> {
    ///     log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, 0), 7),
    ///     payload: openraft::EntryPayload::Normal(Request::Put { key: b"k".to_vec(), value: b"v".to_vec() }),
    /// };
    /// assert_eq!(entry.log_id.index, 7);
    /// ```
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A node id of [`TypeConfig`].
pub(crate) type NodeId = u64;
/// A log id of [`TypeConfig`].
pub(crate) type LogId = openraft::LogId<NodeId>;
/// A log entry of [`TypeConfig`].
pub(crate) type Entry = openraft::Entry<TypeConfig>;
/// A membership with the log id of the entry that held it.
pub(crate) type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
/// The metadata of a snapshot.
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
/// openraft's error of a storage operation: what every fallible call of this module returns.
pub type StorageError = openraft::StorageError<NodeId>;

/// A write to the replicated key-value store: what a client proposes with
/// `Raft::client_write`, and what every node's [`StateMachine`](super::StateMachine) applies,
/// in log order, to its state keyspace. Reads are not requests: they go to a node's
/// [`StateReader`](super::StateReader).
///
/// A client that may retry a write (it proposed it, and the leader died before answering)
/// wraps it in a [`Request::Session`], so that the retry is not applied a second time.
/// The variants are part of the log's format (FORMAT.md 9.2): new ones go at the end, and the
/// enum is `#[non_exhaustive]`, so that adding one is not a breaking change (a `match` outside
/// this crate needs a `_` arm).
///
/// ```
/// use shaledb::raft::Request;
///
/// let put = Request::Put { key: b"colour".to_vec(), value: b"red".to_vec() };
/// assert!(put.validate().is_ok());
/// let backwards = Request::DeleteRange { start: b"b".to_vec(), end: b"a".to_vec() };
/// assert!(backwards.validate().is_err()); // applied, it would be rejected on every node alike
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Request {
    /// Set `key` to `value`.
    Put {
        /// The key, at most [`MAX_KEY_SIZE`](crate::MAX_KEY_SIZE) bytes.
        key: Vec<u8>,
        /// The value, at most [`MAX_VALUE_SIZE`](crate::MAX_VALUE_SIZE) bytes.
        value: Vec<u8>,
    },
    /// Delete `key` (nothing happens if it is absent).
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// Delete every key in `[start, end)`, with one range tombstone.
    DeleteRange {
        /// The first key deleted.
        start: Vec<u8>,
        /// The key before which the deletion stops (not deleted); not before `start`.
        end: Vec<u8>,
    },
    /// `request`, applied at most once for `client` and `serial` (client sessions, as in
    /// §6.3 of the Raft dissertation): the state machine keeps, per client, the last serial
    /// it applied and its response, and answers a request of that serial again, or of an
    /// older one, without applying it (with [`Response::Duplicate`] or [`Response::Stale`]).
    ///
    /// The rules a client keeps: its `client` id is its own (no other client uses it; a
    /// random `u64` will do), it has at most one session request in flight, each new request
    /// has a greater `serial` than the one before, and a retry resends the same `client`,
    /// `serial` and `request`. A session is forgotten when the state machine holds more than
    /// its session limit ([`StateMachine::with_session_limit`](super::StateMachine::with_session_limit)),
    /// the one whose last new serial was applied longest ago first; a retry after that is
    /// applied again, so the limit must exceed the number of clients that may be retrying.
    ///
    /// A session request that fails [`validate`](Request::validate) (an inner request
    /// shaledb refuses, or a session inside a session) is answered with
    /// [`Response::Rejected`] on every node and changes nothing, not even the session.
    ///
    /// ```
    /// use shaledb::raft::Request;
    ///
    /// let put = Request::Put { key: b"balance".to_vec(), value: b"90".to_vec() };
    /// let first = Request::Session { client: 7, serial: 1, request: Box::new(put) };
    /// assert!(first.validate().is_ok());
    /// let retry = first.clone(); // no answer came: send the same client, serial and request
    /// assert_eq!(retry, first);
    /// let nested = Request::Session { client: 7, serial: 2, request: Box::new(first) };
    /// assert!(nested.validate().is_err());
    /// ```
    Session {
        /// The client's id, the same on all its requests.
        client: u64,
        /// The request's number among the client's: greater than that of the client's request
        /// before it, the same on a retry.
        serial: u64,
        /// What to apply; not a session itself. A node refuses to decode one nested more than
        /// 16 sessions deep (FORMAT.md 9.2).
        #[serde(deserialize_with = "nesting::deserialize_inner")]
        request: Box<Request>,
    },
    /// Several requests in one log entry, applied in order as if each were an entry of its
    /// own (each checked by [`validate`](Request::validate) alone, and each session request
    /// deduplicated alone) and answered with [`Response::Batch`], one answer per request, in
    /// their order: how a leader proposes the writes of many clients that arrive while its
    /// previous entry is being made durable, so that they share one log append and one fsync
    /// on every node. A batch is not inside a batch or a session.
    ///
    /// ```
    /// use shaledb::raft::Request;
    ///
    /// let a = Request::Put { key: b"a".to_vec(), value: b"1".to_vec() };
    /// let b = Request::Session { client: 9, serial: 1, request: Box::new(Request::Delete { key: b"b".to_vec() }) };
    /// let batch = Request::Batch(vec![a, b]);
    /// assert!(batch.validate().is_ok());
    /// assert!(Request::Batch(vec![batch]).validate().is_err()); // no batch in a batch
    /// ```
    Batch(#[serde(deserialize_with = "nesting::deserialize_batch")] Vec<Request>),
}

/// How many [`Request::Session`]s deep a decoded request may nest (FORMAT.md 9.2); a deeper
/// one is refused as damaged rather than decoded by ever deeper recursion. Only one level is
/// ever valid ([`Request::validate`] refuses the rest); the margin lets a node decode and reject
/// a client's mistake instead of failing on it.
pub(crate) const MAX_SESSION_NESTING: u32 = 16;

/// The decoding of a session's inner request, with the nesting bounded by a count of the
/// sessions being decoded on this thread.
mod nesting {
    use std::cell::Cell;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};

    use super::{MAX_SESSION_NESTING, Request};

    thread_local! {
        static DEPTH: Cell<u32> = const { Cell::new(0) };
    }

    /// Restores the depth when the inner request is decoded, or its decoding unwinds.
    struct Level(u32);

    impl Drop for Level {
        fn drop(&mut self) {
            DEPTH.set(self.0);
        }
    }

    pub fn deserialize_inner<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Box<Request>, D::Error> {
        one_level_deeper(deserializer).map(Box::new)
    }

    /// The requests of a `Request::Batch`, counted as one more level of nesting (a batch of
    /// batches of ... is refused as a deep session is).
    pub fn deserialize_batch<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Request>, D::Error> {
        one_level_deeper(deserializer)
    }

    /// Decodes a `T` one level of nesting deeper, or refuses past the limit.
    fn one_level_deeper<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        let depth = DEPTH.get();
        if depth >= MAX_SESSION_NESTING {
            return Err(D::Error::custom(format!(
                "a request nested more than {MAX_SESSION_NESTING} levels deep"
            )));
        }
        let _level = Level(depth);
        DEPTH.set(depth + 1);
        T::deserialize(deserializer)
    }
}

impl Request {
    /// Checks the request as the state machine will: keys and values within shaledb's limits,
    /// a range not backwards. A request that fails here is still replicated if proposed, and
    /// every node then answers it with [`Response::Rejected`] without changing its state;
    /// checking before proposing saves the round trip. A [`Request::Session`] is checked by
    /// its inner request, which must not be a session.
    ///
    /// ```
    /// use shaledb::raft::Request;
    ///
    /// let huge_key = Request::Delete { key: vec![0; shaledb::MAX_KEY_SIZE + 1] };
    /// assert!(matches!(huge_key.validate(), Err(shaledb::Error::InvalidArgument(_))));
    /// let in_a_session = Request::Session { client: 1, serial: 1, request: Box::new(huge_key) };
    /// assert!(in_a_session.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        match self {
            Request::Put { key, value } => {
                check_key(key)?;
                check_value(value)
            }
            Request::Delete { key } => check_key(key),
            Request::DeleteRange { start, end } => crate::batch::check_range(start, end),
            Request::Session {
                client, request, ..
            } => match request.as_ref() {
                Request::Session { .. } => Err(Error::InvalidArgument(format!(
                    "the request of client {client}'s session is a session itself"
                ))),
                Request::Batch(_) => Err(Error::InvalidArgument(format!(
                    "the request of client {client}'s session is a batch"
                ))),
                inner => inner.validate(),
            },
            // Each request of a batch is checked, and answered, alone when it is applied.
            Request::Batch(requests) => match requests
                .iter()
                .position(|request| matches!(request, Request::Batch(_)))
            {
                Some(position) => Err(Error::InvalidArgument(format!(
                    "request {position} of a batch is a batch itself"
                ))),
                None => Ok(()),
            },
        }
    }

    /// Adds the request to `batch` as writes to `state` (a session's inner request: whether
    /// it is applied at all is the state machine's decision); fails (the batch unchanged) as
    /// [`validate`](Self::validate) does.
    pub(crate) fn add_to(&self, batch: &mut WriteBatch, state: &Keyspace) -> Result<()> {
        match self {
            Request::Put { key, value } => batch.put_in(state, key, value),
            Request::Delete { key } => batch.delete_in(state, key),
            Request::DeleteRange { start, end } => batch.delete_range_in(state, start, end),
            Request::Session { request, .. } => request.add_to(batch, state),
            // The state machine applies a batch request by request, each with its own answer.
            Request::Batch(_) => Err(Error::InvalidArgument(
                "a batch of requests is applied one request at a time".to_string(),
            )),
        }
    }
}

/// What applying one log entry returned, in the order of the entries: the answer to a client's
/// `Raft::client_write` (in its `ClientWriteResponse::data`).
///
/// ```
/// use shaledb::raft::Response;
///
/// let answer = Response::Applied;
/// assert_eq!(answer, Response::Applied);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Response {
    /// The entry's [`Request`] is applied.
    Applied,
    /// The entry's [`Request`] failed [`Request::validate`] and changed nothing, on every node.
    Rejected {
        /// Why, as [`Request::validate`] said it.
        reason: String,
    },
    /// The entry carried no request: a blank entry (each new leader appends one) or a
    /// membership change.
    NoRequest,
    /// The entry's [`Request::Session`] has the serial its client's last applied request
    /// had: it is a retry of that request, already applied and not applied again. `response`
    /// is what applying it answered then, so that the client can take this for the answer it
    /// missed (the write succeeded).
    ///
    /// ```
    /// use shaledb::raft::Response;
    ///
    /// let answer = Response::Duplicate { serial: 4, response: Box::new(Response::Applied) };
    /// let succeeded = match answer {
    ///     Response::Applied => true,
    ///     Response::Duplicate { response, .. } => *response == Response::Applied,
    ///     _ => false,
    /// };
    /// assert!(succeeded);
    /// ```
    Duplicate {
        /// The serial of the request, and of its client's last applied one.
        serial: u64,
        /// The response of the request when it was applied: [`Response::Applied`].
        response: Box<Response>,
    },
    /// The entry's [`Request::Session`] has a serial below that of its client's last applied
    /// request: an old request, answered long ago (a client has one request in flight, so it
    /// had its answer before it sent a later serial), neither applied again nor answered
    /// with its old response, which is no longer kept.
    Stale {
        /// The serial of the request.
        serial: u64,
        /// The serial of the client's last applied request, greater.
        last_serial: u64,
    },
    /// The answers to the requests of a [`Request::Batch`], one per request, in order.
    Batch(Vec<Response>),
}

/// The keyspaces of one raft group, `{group}.log` and the rest (FORMAT.md 9.1).
pub(crate) struct KeyspaceNames {
    pub log: String,
    pub meta: String,
    pub state: String,
    pub snapshot: String,
}

impl KeyspaceNames {
    pub fn of(group: &str) -> KeyspaceNames {
        KeyspaceNames {
            log: format!("{group}.log"),
            meta: format!("{group}.meta"),
            state: format!("{group}.state"),
            snapshot: format!("{group}.snapshot"),
        }
    }
}

/// The keys of the metadata keyspace (FORMAT.md 9.3). Part of the format; never change.
pub(crate) mod meta_key {
    /// The vote (`Vote`), saved by the log store.
    pub const VOTE: &[u8] = b"vote";
    /// The last committed log id (`LogId`); absent while none is known.
    pub const COMMITTED: &[u8] = b"committed";
    /// The last purged log id (`LogId`): every entry at or below its index is gone.
    pub const PURGED: &[u8] = b"purged";
    /// The last applied log id (`LogId`), written with the state it produced.
    pub const APPLIED: &[u8] = b"applied";
    /// The last applied membership (`StoredMembership`).
    pub const MEMBERSHIP: &[u8] = b"membership";
    /// The metadata of the current snapshot (`SnapshotMeta`), written with its chunks.
    pub const SNAPSHOT: &[u8] = b"snapshot";
    /// The first bytes of the key of a client's session (`Session`): then the client id, a
    /// `u64` big-endian.
    pub const SESSION_PREFIX: &[u8] = b"session/";
    /// The key after every session key: the end of a range deletion of all of them.
    pub const SESSION_END: &[u8] = b"session0";
}

/// The first byte of every value of the log and metadata keyspaces: the version of the
/// encoding that follows (FORMAT.md 9.2). Part of the format; never change.
pub(crate) const VALUE_FORMAT_VERSION: u8 = 1;

/// The key of the log entry at `index`: its big-endian bytes, so that keys sort as indexes.
pub(crate) fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The log index a log key names, or `None` for a key that is not 8 bytes.
pub(crate) fn log_index(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// A key that sorts after every 8-byte log key: the end of a range deletion "to the end of the
/// log".
pub(crate) const LOG_END_KEY: [u8; 9] = [0xff; 9];

/// `value` encoded as a log or metadata value: the version byte, then postcard.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, AnyError> {
    postcard::to_extend(value, vec![VALUE_FORMAT_VERSION])
        .map_err(|error| AnyError::error(format!("cannot encode a raft value: {error}")))
}

/// Decodes a value [`encode`] wrote; `what` names it in the error.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    what: &str,
) -> Result<T, AnyError> {
    let rest = match bytes.split_first() {
        Some((&VALUE_FORMAT_VERSION, rest)) => rest,
        Some((version, _)) => {
            return Err(AnyError::error(format!(
                "raft {what} of unknown format version {version}"
            )));
        }
        None => return Err(AnyError::error(format!("empty raft {what}"))),
    };
    let (value, unread) = postcard::take_from_bytes(rest)
        .map_err(|error| AnyError::error(format!("damaged raft {what}: {error}")))?;
    if unread.is_empty() {
        Ok(value)
    } else {
        Err(AnyError::error(format!(
            "damaged raft {what}: {} bytes after the value",
            unread.len()
        )))
    }
}

/// shaledb's error as the source of an openraft error.
pub(crate) fn any(error: &Error) -> AnyError {
    AnyError::new(error)
}

/// shaledb's error as the `io::Error` of a `LogFlushed` callback.
pub(crate) fn io_error(error: Error) -> std::io::Error {
    match error {
        Error::Io { source, .. } => std::io::Error::new(source.kind(), source.to_string()),
        other => std::io::Error::other(other.to_string()),
    }
}
