//! Namespace deletion: a Namespace with a deletionTimestamp has every object in
//! it deleted; once none is left, its `kubernetes` finalizer is removed and the
//! Namespace goes.
//!
//! Owns only `spec.finalizers` of Namespaces being deleted.

use futures::FutureExt;
use futures::future::BoxFuture;
use regatta_api::registry::{self, RESOURCE_TYPES};
use serde_json::json;
use std::time::Duration;

use super::{Action, Controller};
use crate::apiserver::ApiServer;
use crate::apiserver::objects;
use crate::apiserver::rest::{DeleteOpts, ListOpts, Propagation, WriteOpts};

pub struct NamespaceController;

impl Controller for NamespaceController {
    fn name(&self) -> &'static str {
        "namespace"
    }
    fn prefixes(&self) -> &'static [&'static str] {
        &["core/namespaces/"]
    }
    fn reconcile<'a>(&'a self, api: &'a ApiServer) -> BoxFuture<'a, Action> {
        reconcile_all(api)
    }
}

fn reconcile_all(api: &ApiServer) -> BoxFuture<'_, Action> {
    async move {
        let ns_rt = registry::by_kind("v1", "Namespace").expect("registered");
        let Ok(list) = api.rest.list(ns_rt, None, &ListOpts::default()).await else {
            return Action::Requeue(Duration::from_secs(1));
        };
        let mut action = Action::Await;
        for ns in list.items.iter().filter(|n| objects::is_deleting(n)) {
            let name = objects::name(ns).unwrap_or("").to_string();
            if !empty_namespace(api, &name).await {
                action = Action::Requeue(Duration::from_millis(500));
                continue;
            }
            let res = api
                .rest
                .update_with(
                    ns_rt,
                    None,
                    &name,
                    None,
                    &WriteOpts::default(),
                    true,
                    |cur| {
                        let mut out = cur.clone();
                        let rest: Vec<_> = cur["spec"]["finalizers"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|f| f.as_str() != Some("kubernetes"))
                            .cloned()
                            .collect();
                        out["spec"]["finalizers"] = json!(rest);
                        Ok(out)
                    },
                )
                .await;
            if let Err(e) = res
                && e.code != 404
            {
                tracing::warn!(namespace = %name, error = %e.message, "finalizing namespace");
                action = Action::Requeue(Duration::from_secs(1));
            }
        }
        action
    }
    .boxed()
}

/// Deletes what is left in `ns`; true once nothing is.
async fn empty_namespace(api: &ApiServer, ns: &str) -> bool {
    let mut empty = true;
    let opts = DeleteOpts {
        propagation: Some(Propagation::Background),
        ..Default::default()
    };
    for rt in RESOURCE_TYPES.iter().filter(|t| t.namespaced) {
        let Ok(list) = api.rest.list(rt, Some(ns), &ListOpts::default()).await else {
            empty = false;
            continue;
        };
        for obj in &list.items {
            empty = false;
            if objects::is_deleting(obj) {
                continue;
            }
            let name = objects::name(obj).unwrap_or("");
            let _ = api.rest.delete(rt, Some(ns), name, &opts).await;
        }
    }
    empty
}
