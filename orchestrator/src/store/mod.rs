//! The object store: keys to opaque bytes, a global revision, a change log and watches.
//!
//! Owns: durability and ordering. Every acknowledged write is fsync'd first; every
//! write gets the next global revision (Kubernetes' resourceVersion); watchers see
//! changes in revision order. Knows nothing of HTTP or of Kubernetes object shape:
//! values are bytes, keys are `group/resource/namespace/name` strings (cluster-scoped
//! objects use an empty namespace segment) and prefixes of them.
//!
//! The trait is small on purpose: redb is the embedded backend; etcd is the planned
//! highly-available one (revision = etcd revision, watch = etcd watch).

pub mod redb_store;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

/// A global, strictly increasing revision. The first write is revision 1.
pub type Revision = u64;

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this key (survives updates).
    pub create_revision: Revision,
    /// Revision of the last write to this key: the object's resourceVersion.
    pub mod_revision: Revision,
}

/// A change, as delivered to watchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Created or updated. `prev` is the value before, `None` for a create.
    Put {
        kv: KeyValue,
        prev: Option<KeyValue>,
    },
    /// Deleted. `prev` is the last value; `revision` the deletion's revision.
    Delete { prev: KeyValue, revision: Revision },
}

impl Event {
    pub fn revision(&self) -> Revision {
        match self {
            Event::Put { kv, .. } => kv.mod_revision,
            Event::Delete { revision, .. } => *revision,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Event::Put { kv, .. } => &kv.key,
            Event::Delete { prev, .. } => &prev.key,
        }
    }
}

/// A page of a list, read at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    pub items: Vec<KeyValue>,
    /// The store's revision when the list was read.
    pub revision: Revision,
    /// True when `limit` cut the list short; continue after the last item's key.
    pub more: bool,
}

/// A precondition on a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No precondition.
    Any,
    /// The key's mod_revision must equal this (optimistic concurrency).
    Revision(Revision),
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    #[error("key {0} already exists")]
    AlreadyExists(String),
    #[error("key {0} not found")]
    NotFound(String),
    /// The precondition failed: the key is at `actual`.
    #[error("key {key} is at revision {actual}, not {expected}")]
    Conflict {
        key: String,
        expected: Revision,
        actual: Revision,
    },
    /// The requested revision is older than the change log window.
    #[error("revision {requested} has been compacted; oldest kept is {oldest}")]
    Compacted {
        requested: Revision,
        oldest: Revision,
    },
    /// A watcher fell too far behind the live stream; it must re-list.
    #[error("watcher fell behind")]
    Lagged,
    #[error("store is shutting down")]
    Closed,
    #[error("storage error: {0}")]
    Backend(String),
}

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event, StoreError>> + Send>>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Keys starting with `prefix`, in key order, strictly after `start_after` if given,
    /// at most `limit` of them if given.
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ListResult, StoreError>;

    /// Creates `key`; `AlreadyExists` if it exists. Returns the stored value after fsync.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError>;

    /// Replaces `key`; `NotFound` if absent, `Conflict` if `expect` fails.
    async fn update(&self, key: &str, value: Bytes, expect: Expect)
    -> Result<KeyValue, StoreError>;

    /// Deletes `key`; returns the deleted value and the deletion's revision.
    async fn delete(&self, key: &str, expect: Expect) -> Result<(KeyValue, Revision), StoreError>;

    /// Changes to keys under `prefix` with revision strictly greater than `after`,
    /// replayed from the change log then live, in revision order, without gaps or
    /// duplicates. `Compacted` (immediately, or as the stream's first item) if
    /// `after` is older than the window; the stream ends with `Lagged` if the
    /// consumer falls too far behind.
    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError>;

    /// The latest committed revision.
    fn revision(&self) -> Revision;

    /// The oldest revision a watch may start after (`after >= oldest_watchable`).
    fn oldest_watchable(&self) -> Revision;
}
