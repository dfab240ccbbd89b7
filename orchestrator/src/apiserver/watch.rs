//! Watch: store changes turned into Kubernetes watch events for one collection.
//!
//! Owns selector transitions (an object that stops matching a label selector is
//! a DELETED event for that watcher, one that starts matching is ADDED),
//! bookmarks, timeouts and the 410 for a resourceVersion older than the window.

use std::collections::HashMap;
use std::time::Duration;

use futures::{Stream, StreamExt};
use regatta_api::registry::ResourceType;
use serde_json::{Value, json};

use super::objects::{self, from_kv};
use super::rest::{ListOpts, Rest};
use super::status::{ApiError, ApiResult};
use crate::store::{Event, StoreError};

/// One event as it goes on the wire.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub kind: &'static str,
    pub object: Value,
}

impl WatchEvent {
    fn error(e: ApiError) -> Self {
        WatchEvent {
            kind: "ERROR",
            object: e.status(),
        }
    }
}

pub struct WatchParams {
    pub resource_version: Option<String>,
    pub timeout: Option<Duration>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub list: ListOpts,
    /// `metadata.name` of a single-object watch (`fieldSelector=metadata.name=x`
    /// is folded into `list.field_selector` by the caller).
    pub bookmark_interval: Duration,
}

/// Starts a watch of `rt` in `ns` (all namespaces when `None`).
pub async fn watch(
    rest: &Rest,
    rt: &'static ResourceType,
    ns: Option<String>,
    params: WatchParams,
) -> ApiResult<impl Stream<Item = WatchEvent> + Send + 'static> {
    params
        .list
        .field_selector
        .check_supported(rt.kind)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let rv = params.resource_version.as_deref().unwrap_or("");
    let mut initial = Vec::new();
    let after: u64;
    let replay = rv.is_empty() || rv == "0" || params.send_initial_events;
    if replay {
        // A consistent snapshot: list everything at revision R, then follow from R.
        let mut opts = params.list.clone();
        opts.limit = None;
        opts.continue_token = None;
        let out = rest.list(rt, ns.as_deref(), &opts).await?;
        after = out.resource_version;
        initial = out
            .items
            .into_iter()
            .map(|o| WatchEvent {
                kind: "ADDED",
                object: o,
            })
            .collect();
        if params.send_initial_events {
            initial.push(bookmark(rt, after, true));
        }
    } else {
        after = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
    }
    let prefix = objects::prefix(rt, ns.as_deref());
    let first: Vec<WatchEvent> = match rest.store.watch(&prefix, after) {
        Ok(s) => {
            let live = live_events(rt, s, params.list.clone());
            let deadline = params.timeout.map(|t| tokio::time::Instant::now() + t);
            let events = merge_live(
                initial,
                live,
                deadline,
                params.bookmarks,
                params.bookmark_interval,
                rt,
                after,
            );
            return Ok(events.boxed());
        }
        Err(StoreError::Compacted { requested, oldest }) => vec![WatchEvent::error(
            ApiError::gone(format!("too old resource version: {requested} ({oldest})")),
        )],
        Err(e) => return Err(ApiError::from_store(e, rt, "")),
    };
    Ok(futures::stream::iter(first).boxed())
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> WatchEvent {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    WatchEvent {
        kind: "BOOKMARK",
        object: json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta}),
    }
}

/// Store events → watch events, applying selectors with the transition rules.
fn live_events(
    rt: &'static ResourceType,
    s: crate::store::WatchStream,
    opts: ListOpts,
) -> impl Stream<Item = (u64, Option<WatchEvent>)> + Send {
    let matches = move |o: &Value| {
        opts.label_selector.matches(&objects::labels(o)) && opts.field_selector.matches(rt.kind, o)
    };
    s.map(move |ev| match ev {
        Err(StoreError::Compacted { requested, oldest }) => (
            0,
            Some(WatchEvent::error(ApiError::gone(format!(
                "too old resource version: {requested} ({oldest})"
            )))),
        ),
        Err(e) => (0, Some(WatchEvent::error(ApiError::from_store(e, rt, "")))),
        Ok(ev) => {
            let rev = ev.revision();
            let out = match ev {
                Event::Put { kv, prev } => {
                    let Ok(obj) = from_kv(&kv) else {
                        return (rev, None);
                    };
                    let was = prev
                        .as_ref()
                        .and_then(|p| from_kv(p).ok())
                        .is_some_and(|p| matches(&p));
                    match (was, matches(&obj)) {
                        (false, true) => Some("ADDED"),
                        (true, true) => Some("MODIFIED"),
                        (true, false) => Some("DELETED"),
                        (false, false) => None,
                    }
                    .map(|kind| WatchEvent { kind, object: obj })
                }
                Event::Delete { prev, revision } => {
                    from_kv(&prev).ok().filter(&matches).map(|mut o| {
                        objects::set_resource_version(&mut o, revision);
                        WatchEvent {
                            kind: "DELETED",
                            object: o,
                        }
                    })
                }
            };
            (rev, out)
        }
    })
}

/// Initial events, then live events interleaved with bookmarks, ending at the
/// deadline or after an ERROR.
fn merge_live(
    initial: Vec<WatchEvent>,
    live: impl Stream<Item = (u64, Option<WatchEvent>)> + Send + 'static,
    deadline: Option<tokio::time::Instant>,
    bookmarks: bool,
    interval: Duration,
    rt: &'static ResourceType,
    after: u64,
) -> impl Stream<Item = WatchEvent> + Send + 'static {
    struct St<L> {
        initial: std::vec::IntoIter<WatchEvent>,
        live: std::pin::Pin<Box<L>>,
        last_rv: u64,
        ticker: tokio::time::Interval,
        done: bool,
    }
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let st = St {
        initial: initial.into_iter(),
        live: Box::pin(live),
        last_rv: after,
        ticker,
        done: false,
    };
    futures::stream::unfold(st, move |mut st| async move {
        if st.done {
            return None;
        }
        if let Some(ev) = st.initial.next() {
            return Some((ev, st));
        }
        loop {
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => futures::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => return None,
                _ = st.ticker.tick(), if bookmarks => {
                    let rv = st.last_rv;
                    return Some((bookmark(rt, rv, false), st));
                }
                next = st.live.next() => match next {
                    None => return None,
                    Some((rev, ev)) => {
                        if rev > 0 {
                            st.last_rv = rev;
                        }
                        if let Some(ev) = ev {
                            if ev.kind == "ERROR" {
                                st.done = true;
                            }
                            return Some((ev, st));
                        }
                    }
                }
            }
        }
    })
}

/// Watch parameters from query parameters (shared by the HTTP layer).
pub fn timeout_from(query: &HashMap<String, String>) -> Option<Duration> {
    query
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
}
