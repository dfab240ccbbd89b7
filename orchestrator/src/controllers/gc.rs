//! Garbage collection through ownerReferences, as kube-controller-manager's:
//! - a dependent whose owners are all gone is deleted (background cascade);
//! - an owner deleted with `propagationPolicy=Foreground` (finalizer
//!   `foregroundDeletion`) has its dependents deleted first, then loses the
//!   finalizer and goes;
//! - an owner deleted with `Orphan` (finalizer `orphan`) has its reference
//!   removed from every dependent, then loses the finalizer and goes.
//!
//! Owns the `ownerReferences` of dependents and those two finalizers; nothing else.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use regatta_api::registry::{RESOURCE_TYPES, ResourceType};
use serde_json::{Value, json};

use super::{Action, Controller};
use crate::apiserver::ApiServer;
use crate::apiserver::objects;
use crate::apiserver::rest::{DeleteOpts, ListOpts, Propagation, WriteOpts};
use crate::store::Event;

struct Obj {
    rt: &'static ResourceType,
    obj: Value,
}

impl Obj {
    fn ns(&self) -> Option<&str> {
        objects::str_field(&self.obj, "namespace")
    }
    fn name(&self) -> &str {
        objects::name(&self.obj).unwrap_or("")
    }
    fn uid(&self) -> &str {
        objects::str_field(&self.obj, "uid").unwrap_or("")
    }
    fn owner_uids(&self) -> Vec<String> {
        self.obj["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["uid"].as_str().map(str::to_string))
            .collect()
    }
    fn has_finalizer(&self, f: &str) -> bool {
        objects::is_deleting(&self.obj) && objects::finalizers(&self.obj).iter().any(|x| x == f)
    }
}

/// Woken only by changes that can concern it: an object written with
/// ownerReferences or while being deleted, or the deletion of an object that
/// something names as its owner (the set the last pass saw). A create of a
/// plain object costs it one byte search, not a pass over the cluster.
#[derive(Default)]
pub struct GarbageCollector {
    owners: Mutex<HashSet<String>>,
}

fn mentions(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

impl Controller for GarbageCollector {
    fn name(&self) -> &'static str {
        "garbage-collector"
    }
    fn prefixes(&self) -> &'static [&'static str] {
        &[""]
    }
    fn wants(&self, event: &Event) -> bool {
        match event {
            Event::Put { kv, .. } => {
                mentions(&kv.value, b"\"ownerReferences\"")
                    || mentions(&kv.value, b"\"deletionTimestamp\"")
            }
            Event::Delete { prev, .. } => {
                let uid = serde_json::from_slice::<Value>(&prev.value)
                    .ok()
                    .and_then(|v| objects::str_field(&v, "uid").map(str::to_string));
                let owners = self.owners.lock().expect("not poisoned");
                uid.is_some_and(|u| owners.contains(&u))
            }
        }
    }
    fn reconcile<'a>(&'a self, api: &'a ApiServer) -> BoxFuture<'a, Action> {
        async move {
            let (action, owners) = reconcile_all(api).await;
            *self.owners.lock().expect("not poisoned") = owners;
            action
        }
        .boxed()
    }
}

/// One pass; returns what next and the uids named as owners.
async fn reconcile_all(api: &ApiServer) -> (Action, HashSet<String>) {
    {
        let mut all = Vec::new();
        for rt in RESOURCE_TYPES {
            match api.rest.list(rt, None, &ListOpts::default()).await {
                Ok(l) => all.extend(l.items.into_iter().map(|obj| Obj { rt, obj })),
                Err(_) => return (Action::Requeue(Duration::from_secs(1)), HashSet::new()),
            }
        }
        let by_uid: HashMap<&str, &Obj> = all.iter().map(|o| (o.uid(), o)).collect();
        let mut dependents: HashMap<&str, usize> = HashMap::new();
        let mut pending = false;
        for dep in all.iter() {
            let owners = dep.owner_uids();
            if owners.is_empty() {
                continue;
            }
            for o in &owners {
                if let Some(owner) = by_uid.get(o.as_str()) {
                    *dependents.entry(owner.uid()).or_default() += 1;
                }
            }
            let live: Vec<&&Obj> = owners
                .iter()
                .filter_map(|u| by_uid.get(u.as_str()))
                .collect();
            let orphaning: Vec<&str> = live
                .iter()
                .filter(|o| o.has_finalizer("orphan"))
                .map(|o| o.uid())
                .collect();
            if live.is_empty() {
                pending = true;
                // The lists above were read type by type, not at one instant: an
                // owner created after its type was listed must not cost its
                // dependents their lives. Ask again before deleting.
                if !any_owner_exists(api, dep).await {
                    delete(api, dep, Propagation::Background).await;
                }
            } else if live.iter().any(|o| o.has_finalizer("foregroundDeletion")) {
                pending = true;
                if !objects::is_deleting(&dep.obj) {
                    delete(api, dep, Propagation::Foreground).await;
                }
            } else if !orphaning.is_empty() || live.len() < owners.len() {
                // Drop references to orphaning owners and to owners that are gone.
                pending = true;
                let keep: Vec<String> = live
                    .iter()
                    .map(|o| o.uid().to_string())
                    .filter(|u| !orphaning.contains(&u.as_str()))
                    .collect();
                let _ = api
                    .rest
                    .update_with(
                        dep.rt,
                        dep.ns(),
                        dep.name(),
                        None,
                        &WriteOpts::default(),
                        true,
                        |cur| {
                            let mut out = cur.clone();
                            let refs: Vec<Value> = cur["metadata"]["ownerReferences"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter(|r| {
                                    r["uid"]
                                        .as_str()
                                        .is_some_and(|u| keep.iter().any(|k| k == u))
                                })
                                .cloned()
                                .collect();
                            if refs.is_empty() {
                                objects::meta_mut(&mut out).remove("ownerReferences");
                            } else {
                                out["metadata"]["ownerReferences"] = json!(refs);
                            }
                            Ok(out)
                        },
                    )
                    .await;
            }
        }
        for owner in all.iter() {
            for f in ["orphan", "foregroundDeletion"] {
                if owner.has_finalizer(f) && !dependents.contains_key(owner.uid()) {
                    pending = true;
                    remove_finalizer(api, owner, f).await;
                }
            }
        }
        let owners = all.iter().flat_map(|o| o.owner_uids()).collect();
        let action = if pending {
            Action::Requeue(Duration::from_millis(200))
        } else {
            Action::Await
        };
        (action, owners)
    }
}

/// Whether any owner named by `dep` exists now (same kind, name and uid).
async fn any_owner_exists(api: &ApiServer, dep: &Obj) -> bool {
    for r in dep.obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let (Some(av), Some(kind), Some(name), Some(uid)) = (
            r["apiVersion"].as_str(),
            r["kind"].as_str(),
            r["name"].as_str(),
            r["uid"].as_str(),
        ) else {
            continue;
        };
        let Some(rt) = regatta_api::registry::by_kind(av, kind) else {
            continue;
        };
        let ns = if rt.namespaced { dep.ns() } else { None };
        match api.rest.get(rt, ns, name).await {
            Ok(o) if objects::str_field(&o, "uid") == Some(uid) => return true,
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            // Unsure is not gone.
            Err(_) => return true,
        }
    }
    false
}

async fn delete(api: &ApiServer, o: &Obj, propagation: Propagation) {
    let opts = DeleteOpts {
        propagation: Some(propagation),
        precondition_uid: Some(o.uid().to_string()),
        ..Default::default()
    };
    if let Err(e) = api.rest.delete(o.rt, o.ns(), o.name(), &opts).await
        && e.code != 404
        && e.code != 409
    {
        tracing::warn!(kind = o.rt.kind, name = o.name(), error = %e.message, "garbage collecting");
    }
}

async fn remove_finalizer(api: &ApiServer, o: &Obj, f: &str) {
    let _ = api
        .rest
        .update_with(
            o.rt,
            o.ns(),
            o.name(),
            None,
            &WriteOpts::default(),
            true,
            |cur| {
                let mut out = cur.clone();
                let left: Vec<String> = objects::finalizers(cur)
                    .into_iter()
                    .filter(|x| x != f)
                    .collect();
                if left.is_empty() {
                    objects::meta_mut(&mut out).remove("finalizers");
                } else {
                    out["metadata"]["finalizers"] = json!(left);
                }
                Ok(out)
            },
        )
        .await;
}
