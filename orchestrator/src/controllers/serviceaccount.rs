//! The `default` ServiceAccount in every active Namespace (pods default to it,
//! and client test suites wait for it).

use futures::FutureExt;
use futures::future::BoxFuture;
use regatta_api::registry;
use serde_json::json;
use std::time::Duration;

use super::{Action, Controller};
use crate::apiserver::ApiServer;
use crate::apiserver::objects;
use crate::apiserver::rest::{ListOpts, WriteOpts};

pub struct ServiceAccountController;

impl Controller for ServiceAccountController {
    fn name(&self) -> &'static str {
        "serviceaccount"
    }
    fn prefixes(&self) -> &'static [&'static str] {
        &["core/namespaces/", "core/serviceaccounts/"]
    }
    fn reconcile<'a>(&'a self, api: &'a ApiServer) -> BoxFuture<'a, Action> {
        reconcile_all(api)
    }
}

fn reconcile_all(api: &ApiServer) -> BoxFuture<'_, Action> {
    async move {
        let ns_rt = registry::by_kind("v1", "Namespace").expect("registered");
        let sa_rt = registry::by_kind("v1", "ServiceAccount").expect("registered");
        let Ok(list) = api.rest.list(ns_rt, None, &ListOpts::default()).await else {
            return Action::Requeue(Duration::from_secs(1));
        };
        let mut action = Action::Await;
        for ns in list.items.iter().filter(|n| !objects::is_deleting(n)) {
            let name = objects::name(ns).unwrap_or("");
            match api.rest.get(sa_rt, Some(name), "default").await {
                Ok(_) => continue,
                Err(e) if e.code == 404 => {}
                Err(_) => {
                    action = Action::Requeue(Duration::from_secs(1));
                    continue;
                }
            }
            let sa = json!({"metadata": {"name": "default"}});
            match api.rest.create(sa_rt, Some(name), sa, &WriteOpts::default()).await {
                Ok(_) => {}
                Err(e) if e.code == 409 || e.code == 403 || e.code == 404 => {}
                Err(e) => {
                    tracing::warn!(namespace = %name, error = %e.message, "creating default ServiceAccount");
                    action = Action::Requeue(Duration::from_secs(1));
                }
            }
        }
        action
    }
    .boxed()
}
