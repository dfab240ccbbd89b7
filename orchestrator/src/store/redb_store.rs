//! redb backend of [`Store`]: the embedded, single-node default.
//!
//! Owns one redb file with three tables:
//! - `objects`: key → (create_revision, mod_revision, value);
//! - `changes`: revision → (kind, key, value, create_revision, prev (create, mod, value)),
//!   the change log that watches replay;
//! - `meta`: `revision` (latest committed) and `oldest_watchable`.
//!
//! Invariants:
//! 1. Every successful write takes the next revision and adds exactly one `changes` row, in
//!    the same transaction as its `objects` change and the new `meta`. So `changes` holds
//!    exactly the revisions `(oldest_watchable, revision]`, and a reader's snapshot of `meta`
//!    describes the objects and log it sees. A failed precondition consumes no revision.
//! 2. Only the writer thread writes. It applies a batch of queued writes in one transaction
//!    (group commit: one fsync for many writers) and acknowledges and publishes them only
//!    after that transaction is durable, so nothing a client or watcher saw can be lost.
//!
//! Reads run on `spawn_blocking` threads (redb is blocking I/O). A watch subscribes to the
//! live broadcast *before* replaying the log from a read snapshot at revision `R`, then
//! skips live events `<= R`: every later commit is published after that subscription, so
//! the stream has no gaps and no duplicates. Every revision is broadcast, in order, so a
//! watcher that finds a gap in the live revisions knows it lagged and ends with `Lagged`.

use std::fmt::Display;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, Table, TableDefinition};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{Event, Expect, KeyValue, ListResult, Revision, Store, StoreError, WatchStream};

/// (create_revision, mod_revision, value).
type ObjectRow<'a> = (u64, u64, &'a [u8]);
/// (kind, key, value, create_revision, prev). A delete stores an empty value and its last
/// state in `prev`; values are kept whole so a replay needs no other table.
type ChangeRow<'a> = (u8, &'a str, &'a [u8], u64, Option<ObjectRow<'a>>);

const OBJECTS: TableDefinition<&str, ObjectRow<'static>> = TableDefinition::new("objects");
const CHANGES: TableDefinition<u64, ChangeRow<'static>> = TableDefinition::new("changes");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

const META_REVISION: &str = "revision";
const META_OLDEST: &str = "oldest_watchable";

const KIND_PUT: u8 = 0;
const KIND_DELETE: u8 = 1;

/// DESIGN §3: the watch window.
pub const DEFAULT_WATCH_WINDOW: u64 = 10_000;
/// Live events a watcher may fall behind before it is cut off with `Lagged`.
pub const DEFAULT_WATCH_BUFFER: usize = 8192;
/// Most writes in one transaction: bounds the latency of the first writer in a batch.
pub const DEFAULT_MAX_BATCH: usize = 1024;
/// redb's own default is 1 GiB; a control plane's objects fit well within this.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// Tuning for [`RedbStore::open_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedbOptions {
    /// Change-log events kept for watches; older `after` revisions get `Compacted`.
    pub watch_window: u64,
    /// Live events a watcher may fall behind before it gets `Lagged` (one ring, shared by
    /// all watchers, holding each event until every watcher has read it).
    pub watch_buffer: usize,
    /// Most writes applied in one transaction.
    pub max_batch: usize,
    /// Upper bound of redb's page cache.
    pub cache_bytes: usize,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions {
            watch_window: DEFAULT_WATCH_WINDOW,
            watch_buffer: DEFAULT_WATCH_BUFFER,
            max_batch: DEFAULT_MAX_BATCH,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// The redb [`Store`]. Call [`RedbStore::close`] to stop it; dropping it also stops the
/// writer, blocking until queued writes are committed.
pub struct RedbStore {
    db: Arc<Database>,
    shared: Arc<Shared>,
    /// `None` once closed. Cloned per write, so closing waits only for writes already sent.
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    /// `None` once closed, so live watches end when the writer's clone goes too.
    events: Mutex<Option<broadcast::Sender<Arc<Event>>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// What the writer publishes for lock-free reads of the store's position.
#[derive(Debug)]
struct Shared {
    revision: AtomicU64,
    oldest_watchable: AtomicU64,
    commits: AtomicU64,
}

enum Op {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        value: Bytes,
        expect: Expect,
    },
    Delete {
        key: String,
        expect: Expect,
    },
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Arc<Event>, StoreError>>,
}

fn backend(error: impl Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl RedbStore {
    /// Opens (creating if needed) the store at `path`, keeping `watch_window` change-log
    /// events, with the other options at their defaults.
    pub fn open(path: &Path, watch_window: u64) -> Result<RedbStore, StoreError> {
        RedbStore::open_with(
            path,
            RedbOptions {
                watch_window,
                ..RedbOptions::default()
            },
        )
    }

    pub fn open_with(path: &Path, options: RedbOptions) -> Result<RedbStore, StoreError> {
        let mut builder = Database::builder();
        builder.set_cache_size(options.cache_bytes);
        let warned = std::cell::Cell::new(false);
        // Only after an unclean shutdown (a crash, a kill): redb rolls back to the last
        // durable commit, which every acknowledged write reached.
        builder.set_repair_callback(move |_| {
            if !warned.replace(true) {
                tracing::warn!("store was not closed cleanly; checking and repairing it");
            }
        });
        let db = builder
            .create(path)
            .map_err(|e| backend(format_args!("opening {}: {e}", path.display())))?;
        let (revision, oldest) = init(&db).map_err(|e| match e {
            StoreError::Backend(e) => backend(format_args!("opening {}: {e}", path.display())),
            other => other,
        })?;
        let db = Arc::new(db);
        let shared = Arc::new(Shared {
            revision: AtomicU64::new(revision),
            oldest_watchable: AtomicU64::new(oldest),
            commits: AtomicU64::new(0),
        });
        let max_batch = options.max_batch.max(1);
        // A few batches of headroom: writers queue while the previous batch is fsync'd.
        let (requests, queue) = mpsc::channel(max_batch * 4);
        let (events, _) = broadcast::channel(options.watch_buffer.max(1));
        let writer = Writer {
            db: db.clone(),
            queue,
            events: events.clone(),
            shared: shared.clone(),
            revision,
            oldest,
            window: options.watch_window,
            max_batch,
        };
        let writer = std::thread::Builder::new()
            .name("regatta-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| backend(format_args!("starting the store writer: {e}")))?;
        tracing::debug!(path = %path.display(), revision, oldest, "store opened");
        Ok(RedbStore {
            db,
            shared,
            requests: Mutex::new(Some(requests)),
            events: Mutex::new(Some(events)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Stops accepting writes, waits for the queued ones to commit and ends live watches
    /// (with `Closed`). Reads keep working until the store is dropped.
    pub async fn close(&self) {
        self.requests.lock().unwrap().take();
        let writer = self.writer.lock().unwrap().take();
        if let Some(writer) = writer {
            // The writer drains the queue first; joining is blocking, so not on this thread.
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
        self.events.lock().unwrap().take();
    }

    /// Transactions committed since open: with group commit, far fewer than writes.
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    async fn submit(&self, op: Op) -> Result<Arc<Event>, StoreError> {
        let requests = self.requests.lock().unwrap().clone();
        let requests = requests.ok_or(StoreError::Closed)?;
        let (reply, replied) = oneshot::channel();
        requests
            .send(Request { op, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        // Dropped before waiting so that `close` only waits for writes already queued.
        drop(requests);
        replied.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || read(&db))
            .await
            .map_err(|e| backend(format_args!("store read task: {e}")))?
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        // Prefer `close().await`; this path blocks the dropping thread until queued writes
        // commit, so that the file is closed (and can be reopened) when drop returns.
        lock_mut(&mut self.requests).take();
        if let Some(writer) = lock_mut(&mut self.writer).take() {
            let _ = writer.join();
        }
    }
}

fn lock_mut<T>(mutex: &mut Mutex<T>) -> &mut T {
    mutex
        .get_mut()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Creates the tables if missing and reads the position, checking invariant 1 at its ends.
fn init(db: &Database) -> Result<(Revision, Revision), StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    let position = {
        txn.open_table(OBJECTS).map_err(backend)?;
        let changes = txn.open_table(CHANGES).map_err(backend)?;
        let meta = txn.open_table(META).map_err(backend)?;
        let revision = meta_value(&meta, META_REVISION)?;
        let oldest = meta_value(&meta, META_OLDEST)?;
        let last = changes.last().map_err(backend)?.map(|(k, _)| k.value());
        let first = changes.first().map_err(backend)?.map(|(k, _)| k.value());
        let consistent = match (first, last) {
            (Some(first), Some(last)) => first == oldest + 1 && last == revision,
            (None, None) => oldest == revision,
            _ => false,
        };
        if !consistent {
            return Err(backend(format_args!(
                "change log holds revisions {first:?}..={last:?}, \
                 expected {}..={revision}",
                oldest + 1
            )));
        }
        (revision, oldest)
    };
    txn.commit().map_err(backend)?;
    Ok(position)
}

fn meta_value(meta: &impl ReadableTable<&'static str, u64>, name: &str) -> Result<u64, StoreError> {
    Ok(meta
        .get(name)
        .map_err(backend)?
        .map(|v| v.value())
        .unwrap_or(0))
}

fn object(key: &str, (create_revision, mod_revision, value): ObjectRow<'_>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Bytes::copy_from_slice(value),
        create_revision,
        mod_revision,
    }
}

fn decode_change(revision: Revision, row: ChangeRow<'_>) -> Result<Event, StoreError> {
    let (kind, key, value, create_revision, prev) = row;
    let prev = prev.map(|prev| object(key, prev));
    match (kind, prev) {
        (KIND_PUT, prev) => Ok(Event::Put {
            kv: object(key, (create_revision, revision, value)),
            prev,
        }),
        (KIND_DELETE, Some(prev)) => Ok(Event::Delete { prev, revision }),
        (kind, _) => Err(backend(format_args!(
            "change {revision} of {key}: invalid kind {kind} or missing previous value"
        ))),
    }
}

/// The single writer: owns the request queue and the next revision.
struct Writer {
    db: Arc<Database>,
    queue: mpsc::Receiver<Request>,
    events: broadcast::Sender<Arc<Event>>,
    shared: Arc<Shared>,
    revision: Revision,
    oldest: Revision,
    window: u64,
    max_batch: usize,
}

impl Writer {
    fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        // Ends when every sender is gone and the queue is drained.
        while let Some(first) = self.queue.blocking_recv() {
            batch.push(first);
            // Whatever queued up during the previous commit goes into this one.
            while batch.len() < self.max_batch {
                match self.queue.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.apply(&mut batch);
        }
        tracing::debug!(revision = self.revision, "store writer stopped");
    }

    fn apply(&mut self, batch: &mut Vec<Request>) {
        match self.commit(batch) {
            Ok(outcomes) => {
                // Publish before replying: a client that saw its write acknowledged and then
                // watches can only start at or after this batch anyway.
                for event in outcomes.iter().flatten() {
                    let _ = self.events.send(event.clone());
                }
                for (request, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, writes = batch.len(), "store transaction failed");
                for request in batch.drain(..) {
                    let _ = request.reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// Applies `batch` in order in one durable transaction. The outer error fails the whole
    /// batch (storage); the inner ones are per-write preconditions.
    #[allow(clippy::type_complexity)]
    fn commit(
        &mut self,
        batch: &[Request],
    ) -> Result<Vec<Result<Arc<Event>, StoreError>>, StoreError> {
        let mut txn = self.db.begin_write().map_err(backend)?;
        txn.set_durability(Durability::Immediate).map_err(backend)?;
        let mut revision = self.revision;
        let mut oldest = self.oldest;
        let mut outcomes = Vec::with_capacity(batch.len());
        {
            let mut objects = txn.open_table(OBJECTS).map_err(backend)?;
            let mut changes = txn.open_table(CHANGES).map_err(backend)?;
            for request in batch {
                // Later writes of the batch see earlier ones: same transaction.
                let outcome = apply_op(&mut objects, &mut changes, revision + 1, &request.op)?;
                if outcome.is_ok() {
                    revision += 1;
                }
                outcomes.push(outcome.map(Arc::new));
            }
            if revision != self.revision {
                // Amortized: trim only once the log is 10% over the window.
                if revision - oldest > self.window.saturating_add(self.window / 10) {
                    let cutoff = revision - self.window;
                    changes
                        .retain_in(oldest + 1..=cutoff, |_, _| false)
                        .map_err(backend)?;
                    oldest = cutoff;
                }
                let mut meta = txn.open_table(META).map_err(backend)?;
                meta.insert(META_REVISION, revision).map_err(backend)?;
                meta.insert(META_OLDEST, oldest).map_err(backend)?;
            }
        }
        if revision == self.revision {
            // Every write failed its precondition: nothing to make durable.
            txn.abort().map_err(backend)?;
            return Ok(outcomes);
        }
        txn.commit().map_err(backend)?;
        self.revision = revision;
        self.oldest = oldest;
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        self.shared
            .oldest_watchable
            .store(oldest, Ordering::Release);
        self.shared.revision.store(revision, Ordering::Release);
        Ok(outcomes)
    }
}

/// One write at `revision`, if its precondition holds.
fn apply_op(
    objects: &mut Table<&str, ObjectRow<'static>>,
    changes: &mut Table<u64, ChangeRow<'static>>,
    revision: Revision,
    op: &Op,
) -> Result<Result<Event, StoreError>, StoreError> {
    match op {
        Op::Create { key, value } => {
            if objects.get(key.as_str()).map_err(backend)?.is_some() {
                return Ok(Err(StoreError::AlreadyExists(key.clone())));
            }
            objects
                .insert(key.as_str(), (revision, revision, &value[..]))
                .map_err(backend)?;
            changes
                .insert(
                    revision,
                    (KIND_PUT, key.as_str(), &value[..], revision, None),
                )
                .map_err(backend)?;
            Ok(Ok(Event::Put {
                kv: KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: revision,
                    mod_revision: revision,
                },
                prev: None,
            }))
        }
        Op::Update { key, value, expect } => {
            let prev = match current(objects, key, *expect)? {
                Ok(prev) => prev,
                Err(error) => return Ok(Err(error)),
            };
            let create_revision = prev.create_revision;
            objects
                .insert(key.as_str(), (create_revision, revision, &value[..]))
                .map_err(backend)?;
            let row = (prev.create_revision, prev.mod_revision, &prev.value[..]);
            changes
                .insert(
                    revision,
                    (
                        KIND_PUT,
                        key.as_str(),
                        &value[..],
                        create_revision,
                        Some(row),
                    ),
                )
                .map_err(backend)?;
            Ok(Ok(Event::Put {
                kv: KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision,
                    mod_revision: revision,
                },
                prev: Some(prev),
            }))
        }
        Op::Delete { key, expect } => {
            let prev = match current(objects, key, *expect)? {
                Ok(prev) => prev,
                Err(error) => return Ok(Err(error)),
            };
            objects.remove(key.as_str()).map_err(backend)?;
            let row = (prev.create_revision, prev.mod_revision, &prev.value[..]);
            changes
                .insert(
                    revision,
                    (
                        KIND_DELETE,
                        key.as_str(),
                        &[][..],
                        prev.create_revision,
                        Some(row),
                    ),
                )
                .map_err(backend)?;
            Ok(Ok(Event::Delete { prev, revision }))
        }
    }
}

/// The key's current value, if it exists and meets `expect`.
fn current(
    objects: &Table<&str, ObjectRow<'static>>,
    key: &str,
    expect: Expect,
) -> Result<Result<KeyValue, StoreError>, StoreError> {
    let Some(row) = objects.get(key).map_err(backend)? else {
        return Ok(Err(StoreError::NotFound(key.to_owned())));
    };
    let kv = object(key, row.value());
    if let Expect::Revision(expected) = expect
        && expected != kv.mod_revision
    {
        return Ok(Err(StoreError::Conflict {
            key: key.to_owned(),
            expected,
            actual: kv.mod_revision,
        }));
    }
    Ok(Ok(kv))
}

#[async_trait]
impl Store for RedbStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let key = key.to_owned();
        self.read(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let objects = txn.open_table(OBJECTS).map_err(backend)?;
            let row = objects.get(key.as_str()).map_err(backend)?;
            Ok(row.map(|row| object(&key, row.value())))
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ListResult, StoreError> {
        let prefix = prefix.to_owned();
        let start_after = start_after.map(str::to_owned);
        self.read(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            // The revision from the same snapshot as the objects: a watch after it sees
            // exactly the changes this list missed.
            let revision = meta_value(&txn.open_table(META).map_err(backend)?, META_REVISION)?;
            let objects = txn.open_table(OBJECTS).map_err(backend)?;
            let lower = match &start_after {
                Some(after) if after.as_str() >= prefix.as_str() => Bound::Excluded(after.as_str()),
                _ => Bound::Included(prefix.as_str()),
            };
            let mut items = Vec::new();
            let mut more = false;
            for entry in objects
                .range::<&str>((lower, Bound::Unbounded))
                .map_err(backend)?
            {
                let (key, row) = entry.map_err(backend)?;
                let key = key.value();
                if !key.starts_with(prefix.as_str()) {
                    break;
                }
                if limit.is_some_and(|limit| items.len() >= limit) {
                    more = true;
                    break;
                }
                items.push(object(key, row.value()));
            }
            Ok(ListResult {
                items,
                revision,
                more,
            })
        })
        .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError> {
        let op = Op::Create {
            key: key.to_owned(),
            value,
        };
        match &*self.submit(op).await? {
            Event::Put { kv, .. } => Ok(kv.clone()),
            Event::Delete { .. } => Err(backend("create recorded as a delete")),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expect: Expect,
    ) -> Result<KeyValue, StoreError> {
        let op = Op::Update {
            key: key.to_owned(),
            value,
            expect,
        };
        match &*self.submit(op).await? {
            Event::Put { kv, .. } => Ok(kv.clone()),
            Event::Delete { .. } => Err(backend("update recorded as a delete")),
        }
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<(KeyValue, Revision), StoreError> {
        let op = Op::Delete {
            key: key.to_owned(),
            expect,
        };
        match &*self.submit(op).await? {
            Event::Delete { prev, revision } => Ok((prev.clone(), *revision)),
            Event::Put { .. } => Err(backend("delete recorded as a put")),
        }
    }

    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        // Subscribe first: see the module header.
        let live = match &*self.events.lock().unwrap() {
            Some(events) => events.subscribe(),
            None => return Err(StoreError::Closed),
        };
        let oldest = self.oldest_watchable();
        if after < oldest {
            return Err(StoreError::Compacted {
                requested: after,
                oldest,
            });
        }
        let watch = Watch {
            prefix: prefix.to_owned(),
            after,
            db: Arc::downgrade(&self.db),
            live,
            phase: Phase::Replay,
        };
        Ok(Box::pin(futures::stream::unfold(watch, Watch::next)))
    }

    fn revision(&self) -> Revision {
        self.shared.revision.load(Ordering::Acquire)
    }

    fn oldest_watchable(&self) -> Revision {
        self.shared.oldest_watchable.load(Ordering::Acquire)
    }
}

/// One watch stream's state.
struct Watch {
    prefix: String,
    /// Every revision up to this one has been delivered, filtered out, or precedes the watch.
    after: Revision,
    /// Weak so that a forgotten watch does not keep the file open after the store is gone.
    db: Weak<Database>,
    live: broadcast::Receiver<Arc<Event>>,
    phase: Phase,
}

enum Phase {
    /// Entered at creation: the first poll reads the log after `after`.
    Replay,
    /// Yielding the replayed events; then `Live`.
    Replaying(std::vec::IntoIter<Event>),
    /// Yielding broadcast events newer than `after`; `Lagged` on a gap.
    Live,
    /// After a terminal error (`Compacted`, `Lagged`, `Closed`, storage).
    Done,
}

impl Watch {
    async fn next(mut self) -> Option<(Result<Event, StoreError>, Watch)> {
        loop {
            match &mut self.phase {
                Phase::Replay => {
                    let Some(db) = self.db.upgrade() else {
                        return self.fail(StoreError::Closed);
                    };
                    let prefix = self.prefix.clone();
                    let after = self.after;
                    let replayed = tokio::task::spawn_blocking(move || replay(&db, &prefix, after))
                        .await
                        .map_err(|e| backend(format_args!("watch replay task: {e}")))
                        .and_then(|replayed| replayed);
                    match replayed {
                        Ok((events, snapshot)) => {
                            // `after` may be in the future; then live events up to it are
                            // skipped too.
                            self.after = self.after.max(snapshot);
                            self.phase = Phase::Replaying(events.into_iter());
                        }
                        Err(error) => return self.fail(error),
                    }
                }
                Phase::Replaying(events) => match events.next() {
                    Some(event) => return Some((Ok(event), self)),
                    None => self.phase = Phase::Live,
                },
                Phase::Live => match self.live.recv().await {
                    Ok(event) => {
                        let revision = event.revision();
                        if revision <= self.after {
                            continue; // replayed already
                        }
                        // Every revision is broadcast, so a gap means the buffer overflowed
                        // past events this watch still owed its consumer.
                        if revision > self.after + 1 {
                            return self.fail(StoreError::Lagged);
                        }
                        self.after = revision;
                        if event.key().starts_with(&self.prefix) {
                            return Some((Ok(Event::clone(&event)), self));
                        }
                    }
                    // Not fatal yet: what overflowed may be events the replay covered. The
                    // receiver resumes at the oldest buffered event, and the gap check decides.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return self.fail(StoreError::Closed),
                },
                Phase::Done => return None,
            }
        }
    }

    fn fail(mut self, error: StoreError) -> Option<(Result<Event, StoreError>, Watch)> {
        self.phase = Phase::Done;
        Some((Err(error), self))
    }
}

/// Changes under `prefix` after `after`, and the revision of the snapshot they were read at.
fn replay(
    db: &Database,
    prefix: &str,
    after: Revision,
) -> Result<(Vec<Event>, Revision), StoreError> {
    let txn = db.begin_read().map_err(backend)?;
    let meta = txn.open_table(META).map_err(backend)?;
    let revision = meta_value(&meta, META_REVISION)?;
    let oldest = meta_value(&meta, META_OLDEST)?;
    // Compacted between `watch` and this first poll.
    if after < oldest {
        return Err(StoreError::Compacted {
            requested: after,
            oldest,
        });
    }
    let changes = txn.open_table(CHANGES).map_err(backend)?;
    let mut events = Vec::new();
    for entry in changes.range(after.saturating_add(1)..).map_err(backend)? {
        let (revision, row) = entry.map_err(backend)?;
        let row = row.value();
        if row.1.starts_with(prefix) {
            events.push(decode_change(revision.value(), row)?);
        }
    }
    Ok((events, revision))
}

#[cfg(test)]
mod tests;
